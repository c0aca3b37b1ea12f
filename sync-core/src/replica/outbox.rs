//! The outbox: each change made here, sealed, until the server acknowledges it — what the next
//! push sends, without opening documents (ADR 0018).

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::seal::{Sealer, aad};
use super::storage;
use crate::case::{CaseDoc, ChangeAuthor};
use crate::{Error, Result};

/// A change in the outbox: made on this phone, not yet acknowledged. Sealed as one value.
#[derive(Serialize, Deserialize)]
struct OutboxEntry {
    /// The account that made it (only that account's token may push it).
    author: Option<String>,
    change: ByteBuf,
    /// A colleague's change received from their phone, carried to the server for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relayed: Option<RelayedBy>,
}

/// The colleague's device that made a carried change, and its signature (ADR 0030).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RelayedBy {
    pub(super) device: String,
    pub(super) sig: ByteBuf,
}

/// A change the server has not acknowledged, ready to push.
pub(super) struct Queued {
    pub(super) hash: ChangeHash,
    pub(super) author: Option<String>,
    pub(super) bytes: Vec<u8>,
    pub(super) relayed: Option<RelayedBy>,
}

impl Queued {
    pub(super) fn of(change: &automerge::Change) -> Queued {
        Queued {
            hash: change.hash(),
            author: ChangeAuthor::of_change(change).map(|a| a.user),
            bytes: change.raw_bytes().to_vec(),
            relayed: None,
        }
    }
}

/// Puts the change just made (`hash`) into the outbox.
pub(super) fn queue_new(
    conn: &Connection,
    seal: &Sealer,
    id: &str,
    doc: &mut CaseDoc,
    hash: ChangeHash,
    user: &str,
) -> Result<()> {
    let change = doc
        .change(&hash)
        .ok_or_else(|| Error::Storage(format!("change {hash} vanished from case {id}")))?;
    let mut queued = Queued::of(&change);
    queued.author = Some(user.to_owned());
    queue_change(conn, seal, id, queued)
}

pub(super) fn queue_change(
    conn: &Connection,
    seal: &Sealer,
    id: &str,
    change: Queued,
) -> Result<()> {
    if let Some(r) = &change.relayed {
        keep_sig(conn, &change.hash, &r.sig)?;
    }
    let hash = change.hash.to_string();
    let mut plain = Vec::new();
    ciborium::into_writer(
        &OutboxEntry {
            author: change.author,
            change: ByteBuf::from(change.bytes),
            relayed: change.relayed,
        },
        &mut plain,
    )
    .map_err(|e| Error::Storage(format!("outbox: {e}")))?;
    let sealed = seal.seal(&plain, &aad(id, &format!("outbox:{hash}")));
    conn.prepare_cached("INSERT INTO outbox (case_id, hash, entry) VALUES (?1, ?2, ?3)")
        .and_then(|mut stmt| stmt.execute(params![id, hash, sealed]))
        .map_err(storage)?;
    Ok(())
}

/// The outbox of case `id`, in the order the changes were made (a causal order).
pub(super) fn queued_changes(conn: &Connection, seal: &Sealer, id: &str) -> Result<Vec<Queued>> {
    let mut stmt = conn
        .prepare_cached("SELECT hash, entry FROM outbox WHERE case_id = ?1 ORDER BY id")
        .map_err(storage)?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(storage)?;
    let mut out = Vec::new();
    for row in rows {
        let (hash, sealed) = row.map_err(storage)?;
        let plain = seal.open(&sealed, &aad(id, &format!("outbox:{hash}")))?;
        let entry: OutboxEntry = ciborium::from_reader(plain.as_slice())
            .map_err(|e| Error::Storage(format!("outbox: {e}")))?;
        out.push(Queued {
            hash: hash
                .parse()
                .map_err(|_| Error::Storage(format!("outbox hash {hash:?}")))?,
            author: entry.author,
            bytes: entry.change.into_vec(),
            relayed: entry.relayed,
        });
    }
    Ok(out)
}

/// Drops from the outbox of case `id` every change not in `unacked` (the server has it).
pub(super) fn prune_outbox(conn: &Connection, id: &str, unacked: &[ChangeHash]) -> Result<()> {
    if unacked.is_empty() {
        conn.prepare_cached("DELETE FROM outbox WHERE case_id = ?1")
            .and_then(|mut stmt| stmt.execute([id]))
            .map_err(storage)?;
        return Ok(());
    }
    let held: Vec<(i64, String)> = conn
        .prepare_cached("SELECT id, hash FROM outbox WHERE case_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(storage)?;
    let unacked: std::collections::HashSet<String> =
        unacked.iter().map(ChangeHash::to_string).collect();
    for (row, hash) in held {
        if !unacked.contains(&hash) {
            conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute([row]))
                .map_err(storage)?;
        }
    }
    Ok(())
}

/// Keeps the author's signature of a colleague's change this phone received.
pub(super) fn keep_sig(conn: &Connection, hash: &ChangeHash, sig: &[u8]) -> Result<()> {
    if sig.is_empty() {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO change_sigs (hash, sig) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
    )
    .and_then(|mut stmt| stmt.execute(params![hash.to_string(), sig]))
    .map(|_| ())
    .map_err(storage)
}

pub(super) fn kept_sig(conn: &Connection, hash: &ChangeHash) -> Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT sig FROM change_sigs WHERE hash = ?1")
        .and_then(|mut stmt| stmt.query_row([hash.to_string()], |r| r.get(0)).optional())
        .map_err(storage)
}
