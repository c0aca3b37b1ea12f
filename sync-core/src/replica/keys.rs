//! The case keys this phone holds (ADR 0029): made here for the cases it captures and pushed
//! sealed to the server, or received sealed to this store's key with the cases its account may
//! read the personal data of; kept sealed under the store key; destroyed when the server says a
//! case's personal data was erased, the row kept as a tombstone (`secret` NULL) so a later copy
//! of the key is never taken again.

use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, params};

use super::seal::{Sealer, aad};
use super::{Replica, storage};
use crate::case::Case;
use crate::case::sealed::{self, CaseKey, CaseKeys};
use crate::protocol::{Erasure, KeyId, SealedKey};
use crate::{Error, Result};

fn key_aad(case: &str, id: &str) -> Vec<u8> {
    aad(case, &format!("key:{id}"))
}

/// The keys of `case` held here, oldest first, and the ids of its erased ones.
pub(super) fn case_keys_in(conn: &Connection, seal: &Sealer, case: &str) -> Result<CaseKeys> {
    let mut stmt = conn
        .prepare_cached("SELECT key_id, secret FROM case_keys WHERE case_id = ?1 ORDER BY rowid")
        .map_err(storage)?;
    let rows = stmt
        .query_map([case], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
        })
        .map_err(storage)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(storage)?;
    let mut keys = Vec::new();
    let mut erased = Vec::new();
    for (id, secret) in rows {
        match secret {
            None => erased.push(id),
            Some(sealed) => keys.push(open_key(seal, case, &id, &sealed)?),
        }
    }
    Ok(CaseKeys::new(keys, erased))
}

/// Keeps `key` unless this store already has a row for it (held, or erased: a tombstone wins).
/// `pushed`: the server holds it already (it came from there, or was acknowledged).
fn keep_key(conn: &Connection, seal: &Sealer, key: &CaseKey, pushed: bool) -> Result<()> {
    let sealed = seal.seal(key.secret(), &key_aad(key.case(), key.id()));
    conn.prepare_cached(
        "INSERT INTO case_keys (case_id, key_id, secret, pushed) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (case_id, key_id) DO NOTHING",
    )
    .and_then(|mut stmt| stmt.execute(params![key.case(), key.id(), sealed, pushed]))
    .map(|_| ())
    .map_err(storage)
}

/// The key personal values written to `case` now are sealed under: the newest held, or a new
/// one made and kept (to be pushed) when none is. `None` when sealing is off.
pub(super) fn write_key(
    conn: &Connection,
    seal: &Sealer,
    case: &str,
    sealing: bool,
) -> Result<Option<CaseKey>> {
    if !sealing {
        return Ok(None);
    }
    if let Some(key) = case_keys_in(conn, seal, case)?.for_writing() {
        return Ok(Some(key.clone()));
    }
    let key = CaseKey::generate(case);
    keep_key(conn, seal, &key, false)?;
    Ok(Some(key))
}

/// Keys sent per request at most; the rest go next round.
const KEYS_PER_REQUEST: usize = 500;

/// The keys to send: the limit is in the text, as SQLite prepares a statement again every time
/// a value its LIMIT reads is bound (ADR 0044) — a tenth of a phone's sync.
static UNPUSHED_KEYS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT case_id, key_id, secret FROM case_keys WHERE pushed = 0 AND secret IS NOT NULL
         ORDER BY rowid LIMIT {KEYS_PER_REQUEST}"
    )
});

/// The keys the server has not confirmed, sealed to `server`, oldest first.
pub(super) fn unpushed_keys(
    conn: &Connection,
    seal: &Sealer,
    server: &VerifyingKey,
) -> Result<Vec<SealedKey>> {
    let mut stmt = conn.prepare_cached(&UNPUSHED_KEYS).map_err(storage)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(storage)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(storage)?;
    let mut out = Vec::with_capacity(rows.len());
    let sealer = sealed::KeySealer::to(server);
    for (case, id, sealed) in rows {
        let key = open_key(seal, &case, &id, &sealed)?;
        out.push(SealedKey {
            envelope: sealer.seal(&key).into(),
            doc: case,
            id,
        });
    }
    Ok(out)
}

fn open_key(seal: &Sealer, case: &str, id: &str, sealed: &[u8]) -> Result<CaseKey> {
    let plain = zeroize::Zeroizing::new(seal.open(sealed, &key_aad(case, id))?);
    let secret: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| Error::Storage("a case key is damaged".into()))?;
    CaseKey::from_parts(case, id, secret)
}

/// The server confirmed these keys: not sent again.
pub(super) fn mark_pushed(conn: &Connection, taken: &[KeyId]) -> Result<()> {
    for k in taken {
        conn.prepare_cached("UPDATE case_keys SET pushed = 1 WHERE case_id = ?1 AND key_id = ?2")
            .and_then(|mut stmt| stmt.execute(params![k.doc, k.id]))
            .map_err(storage)?;
    }
    Ok(())
}

/// Keys received with pulled cases, opened with this store's signing key. One that does not
/// open (not sealed to this store) is skipped: the values it seals read as locked.
pub(super) fn take_keys(
    conn: &Connection,
    seal: &Sealer,
    me: Option<&ed25519_dalek::SigningKey>,
    keys: &[SealedKey],
) -> Result<usize> {
    let Some(me) = me else { return Ok(0) };
    let mut taken = 0;
    let mut opener = sealed::KeyOpener::new(me);
    for k in keys {
        if let Ok(key) = opener.open(&k.doc, &k.id, &k.envelope) {
            keep_key(conn, seal, &key, true)?;
            taken += 1;
        }
    }
    Ok(taken)
}

/// Erasures the server announced: each key destroyed (a tombstone in its place, for cases held
/// here). Says whether any key held here was destroyed.
pub(super) fn take_erasures(conn: &Connection, erasures: &[Erasure]) -> Result<bool> {
    let mut destroyed = false;
    for e in erasures {
        for id in &e.keys {
            sealed::check_key_id(id)?;
            let n = conn
                .prepare_cached(
                    "UPDATE case_keys SET secret = NULL, pushed = 1 WHERE case_id = ?1 AND key_id = ?2 AND secret IS NOT NULL",
                )
                .and_then(|mut stmt| stmt.execute(params![e.doc, id]))
                .map_err(storage)?;
            destroyed |= n > 0;
            conn.prepare_cached(
                "INSERT INTO case_keys (case_id, key_id, secret, pushed)
                 SELECT ?1, ?2, NULL, 1 WHERE EXISTS (SELECT 1 FROM cases WHERE id = ?1)
                 ON CONFLICT (case_id, key_id) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![e.doc, id]))
            .map_err(storage)?;
        }
    }
    Ok(destroyed)
}

impl Replica {
    /// Turns sealing of personal values off (`false`) or back on: a store that writes them
    /// plain, as an app older than sealing. For benchmarks and tests of that case.
    pub fn set_sealing(&mut self, on: bool) {
        self.sealing = on;
    }

    /// Whether personal values written now are sealed: unless turned off, once the server's
    /// key is known (a server older than sealing gives none: values stay plain for it).
    pub(super) fn sealing_on(&self) -> Result<bool> {
        Ok(self.sealing && self.server_key()?.is_some())
    }

    /// The keys of `case` held here and the ids of its erased ones.
    pub fn case_keys(&self, case: &str) -> Result<CaseKeys> {
        case_keys_in(&self.conn, &self.seal, case)
    }

    /// A case as this phone's user reads it: its sealed values opened with the keys held here,
    /// `个人信息已删除` where they were erased (not yet masked for the reader:
    /// [`Case::for_reader`]).
    pub fn read_case(&self, id: &str) -> Result<Case> {
        Ok(self.case(id)?.read()?.unsealed(&self.case_keys(id)?))
    }

    /// Keeps the server's public key (from the sign-in response): the keys of the cases
    /// captured here are sealed to it.
    pub fn set_server_key(&self, key: &VerifyingKey) -> Result<()> {
        self.set_meta("server_key", key.as_bytes())
    }

    /// The server's public key, from the sign-in or a sync response.
    pub(super) fn server_key(&self) -> Result<Option<VerifyingKey>> {
        Ok(self
            .meta("server_key")?
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok()))
    }

    pub(super) fn has_unpushed_keys(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM case_keys WHERE pushed = 0 AND secret IS NOT NULL)",
                [],
                |r| r.get(0),
            )
            .map_err(storage)
    }

    /// The last erasure applied here.
    pub(super) fn erased_cursor(&self) -> Result<u64> {
        self.meta_u64("erased_cursor")
    }

    /// After keys were destroyed: the freed pages are already zeroed (`secure_delete`); the
    /// write-ahead log still holds the old pages until it is checkpointed and truncated.
    pub(super) fn scrub_log(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(storage)
    }

    /// What the store holds of its cases, opened with its key: the documents' texts (every value
    /// in every change of their histories, sealed personal values opened with the keys held
    /// here), summaries, queued changes and refusals. What someone holding the phone and its
    /// key could read of them; the erasure tests search it.
    pub fn readable_texts(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let ids = self.case_ids()?;
        for id in &ids {
            let keys = self.case_keys(id)?;
            let mut doc = self.case(id)?;
            for text in doc.texts() {
                let opened = sealed::sealed_key_id(&text)
                    .map(|_| {
                        [sealed::PERSON_NAME, sealed::PERSON_PHONE]
                            .iter()
                            .map(|f| keys.open(f, &text))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                out.push(text);
                out.push(opened);
            }
            if let Ok(case) = self.read_case(id) {
                out.extend(case.people.into_iter().flat_map(|p| [p.name, p.phone]));
            }
        }
        let sealed_rows = self.rows(
            "SELECT id, 'summary', summary FROM cases
             UNION ALL SELECT case_id, 'outbox:' || hash, entry FROM outbox",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            },
        )?;
        for (id, column, sealed) in sealed_rows {
            let plain = self.seal.open(&sealed, &aad(&id, &column))?;
            out.push(String::from_utf8_lossy(&plain).into_owned());
        }
        for id in &ids {
            out.extend(self.rejections(id)?.into_iter().map(|r| r.reason));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// How often SQLite prepared `sql` again over three runs binding `args`.
    fn prepared_again(conn: &Connection, sql: &str, args: &[i64]) -> i32 {
        for _ in 0..3 {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            let mut rows = stmt.query(rusqlite::params_from_iter(args)).unwrap();
            while rows.next().unwrap().is_some() {}
        }
        let stmt = conn.prepare_cached(sql).unwrap();
        stmt.get_status(StatementStatus::RePrepare)
    }

    #[test]
    fn the_keys_to_send_are_read_without_preparing_again() {
        let r = Replica::open_in_memory(&[7; 32]).unwrap();
        let server = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
        assert!(unpushed_keys(&r.conn, &r.seal, &server).unwrap().is_empty());
        // What the text avoids: a bound LIMIT prepares it again on every run.
        let bound = "SELECT case_id FROM case_keys WHERE pushed = 0 ORDER BY rowid LIMIT ?1";
        assert_eq!(prepared_again(&r.conn, bound, &[500]), 3);
        assert_eq!(prepared_again(&r.conn, &UNPUSHED_KEYS, &[]), 0);
    }
}
