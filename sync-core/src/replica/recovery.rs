//! When the server was restored from a backup (a new store generation, ADR 0032): this phone
//! names the heads of every case it holds, a page at a time, and puts back into its outbox every
//! change the server lacks — its own, and colleagues' it pulled or was carried, under their
//! signatures — and marks its photos for upload again. The ordinary push then brings them back.

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, params};
use serde_bytes::ByteBuf;

use super::cases::{SyncState, decode_hashes, encode_hashes, load_doc};
use super::outbox::{Queued, RelayedBy, kept_sig, queue_change};
use super::seal::Sealer;
use super::{Replica, storage};
use crate::case::ChangeAuthor;
use crate::protocol::{DocHeads, Generation, Recovered, hash_bytes, to_hash};
use crate::{Error, Result};

/// Cases named per request while recovering (about 70 bytes each).
pub const RECOVER_PAGE: usize = 500;

/// The next page of cases to name, its limit in the text (see `keys::UNPUSHED_KEYS`).
static CASES_AFTER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT id, heads FROM cases WHERE id > ?1 ORDER BY id LIMIT {RECOVER_PAGE}")
});

/// Where a phone stands with the server's store generations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Nothing to do: the generation it knows is the server's.
    Steady,
    /// A restored server: cases after this id are still to be named (`""`: from the first).
    Naming { after: String },
}

impl Replica {
    /// Whether this phone is bringing a restored server up to date (ADR 0032).
    pub fn recovery(&self) -> Result<Recovery> {
        Ok(match self.meta("recover_after")? {
            None => Recovery::Steady,
            Some(after) => Recovery::Naming {
                after: String::from_utf8(after)
                    .map_err(|_| Error::Storage("recover_after is not text".into()))?,
            },
        })
    }

    /// The server generation this phone last synced with.
    pub(super) fn generation(&self) -> Result<Option<String>> {
        self.meta("generation")?
            .map(|g| String::from_utf8(g).map_err(|_| Error::Storage("generation".into())))
            .transpose()
    }

    /// The next page of heads to name to a restored server; empty when not recovering.
    pub(super) fn recover_page(&self) -> Result<Vec<DocHeads>> {
        let Recovery::Naming { after } = self.recovery()? else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached(&CASES_AFTER)
            .and_then(|mut stmt| {
                stmt.query_map(params![after], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(storage)?;
        rows.into_iter()
            .map(|(id, heads)| {
                let heads = match heads {
                    Some(h) => decode_hashes(&h)?,
                    None => load_doc(&self.conn, &self.seal, &id)?.0.heads(),
                };
                Ok(DocHeads {
                    doc: id,
                    heads: heads.iter().map(hash_bytes).collect(),
                })
            })
            .collect()
    }
}

/// Takes the server's generation from a response. A first one is kept; another one than the
/// phone knew starts recovery: the cursor goes back to where the backup ended, every case is to
/// be named, every photo held whole and every case key to be offered again. Returns whether recovery started.
pub(super) fn take_generation(
    conn: &Connection,
    known: Option<&str>,
    cursor: u64,
    generation: Option<&Generation>,
) -> Result<bool> {
    let Some(g) = generation else {
        return Ok(false);
    };
    if known == Some(g.id.as_str()) {
        return Ok(false);
    }
    put_meta(conn, "generation", g.id.as_bytes())?;
    let Some(_) = known else {
        return Ok(false);
    };
    // Feed positions up to the base are the same changes in both generations; after it the
    // restored server numbers new ones this phone has not seen.
    put_meta(conn, "cursor", &cursor.min(g.base).to_be_bytes())?;
    put_meta(conn, "recover_after", b"")?;
    // Photos and case keys the backup may lack go up again; the server keeps what it holds
    // once (a probe says so before any byte is sent; a key it holds is taken again).
    conn.execute_batch(
        "UPDATE blobs SET uploaded = 0;
         UPDATE case_keys SET pushed = 0 WHERE secret IS NOT NULL;",
    )
    .map_err(storage)?;
    Ok(true)
}

/// Takes a restored server's answer to a page of heads: each case it lacks part of gets an
/// outbox of exactly what it lacks.
pub(super) fn take_recovered(
    conn: &Connection,
    seal: &Sealer,
    own: &automerge::ActorId,
    r: &Recovered,
) -> Result<()> {
    for lacking in &r.lacking {
        requeue(conn, seal, own, &lacking.doc, &lacking.heads)?;
    }
    let rest: Option<String> = conn
        .query_row(
            "SELECT id FROM cases WHERE id > ?1 ORDER BY id LIMIT 1",
            [&r.upto],
            |row| row.get(0),
        )
        .optional()
        .map_err(storage)?;
    match rest {
        Some(_) => put_meta(conn, "recover_after", r.upto.as_bytes())?,
        None => {
            conn.execute("DELETE FROM meta WHERE key = 'recover_after'", [])
                .map_err(storage)?;
        }
    }
    Ok(())
}

/// Rebuilds the outbox of case `id` as what a server holding `server_heads` lacks, in causal
/// order: this phone's changes as its own, a colleague's as carried for them (`RelayedBy`, under
/// the signature kept when it arrived; an empty one when none was, which the server quarantines).
fn requeue(
    conn: &Connection,
    seal: &Sealer,
    own: &automerge::ActorId,
    id: &str,
    server_heads: &[ByteBuf],
) -> Result<()> {
    let (mut doc, _) = match load_doc(conn, seal, id) {
        Ok(found) => found,
        // Named by the server but not held here (never by a conforming server): nothing to give.
        Err(Error::UnknownCase(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut known: Vec<ChangeHash> = Vec::new();
    for h in server_heads {
        let h = to_hash(h)?;
        if doc.has_change(&h) {
            known.push(h);
        }
    }
    let lacking = doc.changes_since(&known);
    conn.execute("DELETE FROM outbox WHERE case_id = ?1", [id])
        .map_err(storage)?;
    for change in &lacking {
        let mut queued = Queued::of(change);
        if change.actor_id() != own {
            let device = ChangeAuthor::of_change(change)
                .map(|a| a.device)
                .unwrap_or_default();
            queued.relayed = Some(RelayedBy {
                device,
                sig: ByteBuf::from(kept_sig(conn, &queued.hash)?.unwrap_or_default()),
            });
        }
        queue_change(conn, seal, id, queued)?;
    }
    if !lacking.is_empty() {
        let state: String = conn
            .query_row("SELECT sync_state FROM cases WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(storage)?;
        let state = match SyncState::parse(&state)? {
            SyncState::Incomplete => SyncState::Incomplete,
            _ => SyncState::Pending,
        };
        conn.execute(
            "UPDATE cases SET acked = ?2, sync_state = ?3 WHERE id = ?1",
            params![id, encode_hashes(&known), state.as_str()],
        )
        .map_err(storage)?;
    }
    Ok(())
}

fn put_meta(conn: &Connection, key: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )
    .map(|_| ())
    .map_err(storage)
}
