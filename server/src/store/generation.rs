//! Store generations (ADR 0032). One begins when the store is first opened and another with
//! every restore from a backup. A phone that synced with an older generation may be ahead of the
//! restored feed: it names the heads of its cases, hears which the server lacks, and pushes those
//! changes back, its own and colleagues' (docs/PROTOCOL.md, "After a restore").

use gridsync_core::Identity;
use gridsync_core::protocol::{
    DocHeads, Generation, Recovered, SyncRequest, SyncResponse, hash_bytes, to_hash,
};
use gridsync_core::vocab::validate_case_id;
use sqlx::Row;

use super::{Result, Store, StoreError};

/// How far the phones have brought a restored store back, for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryProgress {
    pub generation: String,
    /// When the restore was made, and from which backup file.
    pub restored_at: i64,
    pub restored_from: String,
    /// The feed position the backup ended at.
    pub base: u64,
    /// Phones that had synced before the backup was taken (not revoked).
    pub expected: u64,
    /// Phones that came back since, and of those, the ones that had nothing left to give.
    pub returned: u64,
    pub finished: u64,
    /// Cases the server lacked part of, as the phones named them; changes received from them.
    pub lacking_cases: u64,
    pub changes: u64,
    /// Per phone that came back: device, changes received, finished.
    pub devices: Vec<(String, u64, bool)>,
}

impl Store {
    /// The generation in force, read once per process (a restore happens with servers stopped).
    pub async fn generation(&self) -> Result<Generation> {
        Ok(self.generation_in_force().await?.0)
    }

    /// The generation in force, and whether it began with a restore.
    async fn generation_in_force(&self) -> Result<(Generation, bool)> {
        self.generation
            .get_or_try_init(|| async {
                if let Some(g) = self.current_generation().await? {
                    return Ok(g);
                }
                // Several servers starting on one new database: one row wins.
                sqlx::query(
                    "INSERT INTO generations (seq, id, base, started_at) VALUES (1, $1, 0, $2)
                     ON CONFLICT (seq) DO NOTHING",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(crate::now_ms())
                .execute(&self.pool)
                .await?;
                self.current_generation()
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("no store generation".into()))
            })
            .await
            .cloned()
    }

    async fn current_generation(&self) -> Result<Option<(Generation, bool)>> {
        let row = sqlx::query(
            "SELECT id, base, restored_from FROM generations ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let generation = Generation {
                id: r.try_get(0)?,
                base: u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
            };
            Ok((generation, r.try_get::<Option<String>, _>(2)?.is_some()))
        })
        .transpose()
    }

    /// Begins a new generation on a store just restored from `from` (a backup file's name): its
    /// feed ends where the backup did, and every phone that synced since gives back the rest.
    pub async fn begin_restored_generation(&self, from: &str, now: i64) -> Result<Generation> {
        let mut tx = self.begin_write().await?;
        let base: i64 = sqlx::query("SELECT value FROM counters WHERE name = 'feed'")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM generations")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO generations (seq, id, base, started_at, restored_from) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(&id)
        .bind(base)
        .bind(now)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Generation {
            id,
            base: u64::try_from(base).unwrap_or(0),
        })
    }

    /// The answer to a request from a phone that synced with another generation: nothing of it
    /// is judged (a change built on what the backup lost would be refused for good as
    /// `missing_dependency`); the phone learns the generation and names its cases next.
    pub(super) async fn stale_generation(
        &self,
        device: &str,
        req: &SyncRequest,
        now: i64,
    ) -> Result<Option<SyncResponse>> {
        let current = self.generation().await?;
        match &req.generation {
            Some(theirs) if *theirs != current.id => {}
            _ => return Ok(None),
        }
        sqlx::query(
            "INSERT INTO recovery_devices (generation, device_id, started_at) VALUES ($1, $2, $3)
             ON CONFLICT (generation, device_id) DO NOTHING",
        )
        .bind(&current.id)
        .bind(device)
        .bind(now)
        .execute(&self.pool)
        .await?;
        tracing::info!(device, generation = %current.id, "a phone met a restored store");
        Ok(Some(SyncResponse {
            cursor: req.cursor.min(current.base),
            more: true,
            server_time: now,
            generation: Some(current),
            ..SyncResponse::default()
        }))
    }

    /// Which of the cases a phone named (`recover`) this store lacks part of, with its heads of
    /// each (none: it does not hold the case). A case held whole, or one the account may not
    /// read, is not named back.
    pub(super) async fn recovered(
        &self,
        reader: &Identity,
        device: &str,
        recover: &[DocHeads],
    ) -> Result<Option<Recovered>> {
        let Some(last) = recover.last() else {
            return Ok(None);
        };
        let mut lacking = Vec::new();
        for named in recover {
            validate_case_id(&named.doc)?;
            if self.holds_all(&named.doc, &named.heads).await? {
                continue;
            }
            match self.stored_doc(&named.doc).await? {
                (_, None) => lacking.push(DocHeads {
                    doc: named.doc.clone(),
                    heads: Vec::new(),
                }),
                (_, Some(mut doc)) => {
                    if self.may_read(reader, &named.doc).await? {
                        lacking.push(DocHeads {
                            doc: named.doc.clone(),
                            heads: doc.heads().iter().map(hash_bytes).collect(),
                        });
                    }
                }
            }
        }
        let current = self.generation().await?;
        sqlx::query(
            "UPDATE recovery_devices SET named = named + $3, lacking = lacking + $4
             WHERE generation = $1 AND device_id = $2",
        )
        .bind(&current.id)
        .bind(device)
        .bind(recover.len() as i64)
        .bind(lacking.len() as i64)
        .execute(&self.pool)
        .await?;
        Ok(Some(Recovered {
            lacking,
            upto: last.doc.clone(),
        }))
    }

    /// Whether every one of `heads` is a stored change of case `doc` (then so is all before it:
    /// nothing is stored without its dependencies).
    async fn holds_all(&self, doc: &str, heads: &[serde_bytes::ByteBuf]) -> Result<bool> {
        for h in heads {
            let hash = to_hash(h)?.to_string();
            let found = sqlx::query("SELECT 1 FROM changes WHERE hash = $1 AND doc = $2")
                .bind(hash)
                .bind(doc)
                .fetch_optional(&self.pool)
                .await?;
            if found.is_none() {
                return Ok(false);
            }
        }
        Ok(!heads.is_empty())
    }

    /// Counts what a phone that came back after a restore gave; one that sent nothing to push
    /// nor name has given everything it held.
    pub(super) async fn note_recovery(
        &self,
        device: &str,
        req: &SyncRequest,
        accepted: usize,
        now: i64,
    ) -> Result<()> {
        let (current, restored) = self.generation_in_force().await?;
        if !restored {
            return Ok(());
        }
        // A read first: most syncs after a restore are from phones that finished (or never
        // came), and an UPDATE would take SQLite's write lock on every one of them.
        let coming_back = sqlx::query(
            "SELECT 1 FROM recovery_devices WHERE generation = $1 AND device_id = $2 AND finished_at IS NULL",
        )
        .bind(&current.id)
        .bind(device)
        .fetch_optional(&self.pool)
        .await?;
        if coming_back.is_none() {
            return Ok(());
        }
        let done = req.push.is_empty() && req.recover.is_empty();
        sqlx::query(
            "UPDATE recovery_devices SET returned = returned + $3,
                 finished_at = CASE WHEN $4 = 1 THEN $5 ELSE finished_at END
             WHERE generation = $1 AND device_id = $2 AND finished_at IS NULL",
        )
        .bind(&current.id)
        .bind(device)
        .bind(accepted as i64)
        .bind(i64::from(done))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The progress of the last restore, when the generation in force began with one.
    pub async fn recovery_progress(&self) -> Result<Option<RecoveryProgress>> {
        let row = sqlx::query(
            "SELECT id, base, started_at, restored_from FROM generations ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let Some(from): Option<String> = row.try_get(3)? else {
            return Ok(None);
        };
        let id: String = row.try_get(0)?;
        let base: i64 = row.try_get(1)?;
        let restored_at: i64 = row.try_get(2)?;
        // Phones the backup knew had synced: the ones that can bring something back.
        let expected: i64 = sqlx::query(
            "SELECT count(*) FROM devices WHERE id <> $1 AND id NOT LIKE 'console%' AND revoked = 0
               AND last_sync_at IS NOT NULL AND created_at < $2",
        )
        .bind(super::sync::SERVER_DEVICE)
        .bind(restored_at)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        let rows = sqlx::query(
            "SELECT device_id, returned, finished_at, lacking FROM recovery_devices
             WHERE generation = $1 ORDER BY device_id",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let mut progress = RecoveryProgress {
            generation: id,
            restored_at,
            restored_from: from,
            base: u64::try_from(base).unwrap_or(0),
            expected: u64::try_from(expected).unwrap_or(0),
            returned: rows.len() as u64,
            finished: 0,
            lacking_cases: 0,
            changes: 0,
            devices: Vec::new(),
        };
        for r in rows {
            let returned = u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0);
            let finished = r.try_get::<Option<i64>, _>(2)?.is_some();
            progress.finished += u64::from(finished);
            progress.lacking_cases += u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0);
            progress.changes += returned;
            progress.devices.push((r.try_get(0)?, returned, finished));
        }
        Ok(Some(progress))
    }
}
