//! The account's notices on the phone (ADR 0027): received with the sync response, sealed, read
//! here; which of them the user has read goes back with the next sync.

use rusqlite::params;

use super::{Replica, storage};
use crate::notice::Notice;
use crate::{Error, Result};

/// A notice and whether the user has read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldNotice {
    pub notice: Notice,
    pub read: bool,
}

impl Replica {
    /// The notices held, newest first.
    pub fn notices(&self) -> Result<Vec<HeldNotice>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, entry, read FROM notices ORDER BY id DESC")
            .map_err(storage)?;
        let rows: Vec<(i64, Vec<u8>, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(storage)?
            .collect::<rusqlite::Result<_>>()
            .map_err(storage)?;
        rows.into_iter()
            .map(|(id, sealed, read)| {
                let plain = self.seal.open(&sealed, &aad(id))?;
                let notice: Notice = ciborium::from_reader(plain.as_slice())
                    .map_err(|e| Error::Storage(format!("notice {id}: {e}")))?;
                Ok(HeldNotice {
                    notice,
                    read: read != 0,
                })
            })
            .collect()
    }

    /// How many notices the user has not read.
    pub fn unread_notices(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT count(*) FROM notices WHERE read = 0", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(storage)
    }

    /// Marks a notice read; the server hears of it at the next sync. Unknown ids are an error.
    pub fn mark_notice_read(&mut self, id: u64) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE notices SET read = 1 WHERE id = ?1 AND read = 0",
                params![id as i64],
            )
            .map_err(storage)?;
        if n == 0 && !self.holds_notice(id)? {
            return Err(Error::InvalidInput {
                field: "notice".into(),
                reason: format!("no notice {id}"),
            });
        }
        Ok(())
    }

    fn holds_notice(&self, id: u64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM notices WHERE id = ?1",
                params![id as i64],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(storage)
    }

    /// What the next request says of notices: the highest held, and those read since the
    /// server last heard.
    pub(super) fn notice_state(&self) -> Result<(u64, Vec<u64>)> {
        let after: i64 = self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM notices", [], |r| r.get(0))
            .map_err(storage)?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM notices WHERE read = 1 AND reported = 0 ORDER BY id")
            .map_err(storage)?;
        let read: Vec<u64> = stmt
            .query_map([], |r| r.get::<_, i64>(0))
            .map_err(storage)?
            .map(|r| r.map(|id| id as u64))
            .collect::<rusqlite::Result<_>>()
            .map_err(storage)?;
        Ok((after as u64, read))
    }
}

/// Stores the notices of a response and records that the read marks `sent` reached the server,
/// inside the response's transaction.
pub(super) fn take_notices(
    tx: &rusqlite::Transaction<'_>,
    seal: &super::seal::Sealer,
    notices: &[Notice],
    sent: &[u64],
) -> Result<()> {
    for n in notices {
        let mut plain = Vec::new();
        ciborium::into_writer(n, &mut plain).map_err(|e| Error::Storage(e.to_string()))?;
        let id = n.id as i64;
        tx.prepare_cached(
            "INSERT INTO notices (id, entry, read, reported) VALUES (?1, ?2, 0, 0)
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![id, seal.seal(&plain, &aad(id))]))
        .map_err(storage)?;
    }
    for id in sent {
        tx.prepare_cached("UPDATE notices SET reported = 1 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![*id as i64]))
            .map_err(storage)?;
    }
    Ok(())
}

fn aad(id: i64) -> Vec<u8> {
    format!("notice:{id}").into_bytes()
}
