//! Personal data sealed per case (ADR 0029) on the server: the case keys it holds, wrapped under
//! the deployment's data key; the keys phones push (sealed to the server's key) and the ones
//! they receive (sealed to theirs); and erasure — the keys destroyed, the erasure logged for
//! the phones, the plain copies kept outside documents scrubbed.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use gridsync_core::Identity;
use gridsync_core::case::sealed::{self, CaseKey, CaseKeys};
use gridsync_core::protocol::{Erasure, KeyId, SealedKey};
use sqlx::Row;

use super::direct::{Arg, Cols};
use super::sync::{placeholders, projected, visible_row};
use super::{Backend, Result, Store, StoreError};

/// The environment variable a deployment gives its data key in (base64url, 32 bytes).
pub const DATA_KEY_ENV: &str = "GRIDSYNC_DATA_KEY";
/// Who erasures decided by the retention rules are recorded as.
pub const RETENTION_USER: &str = "retention";
/// Erasures sent per response at most; the rest come with the next sync.
const ERASURES_PER_SYNC: i64 = 500;

/// The erasures after `$1`, a sync's worth. The limit is in the text: SQLite prepares a statement
/// again each time a bound LIMIT is bound (ADR 0044).
pub(in crate::store) static ERASURES_AFTER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        format!(
            "SELECT e.seq, e.case_id, e.key_ids, e.case_id, c.kind, c.path, c.departments
             FROM erasures e JOIN cases c ON c.id = e.case_id
             WHERE e.seq > $1 ORDER BY e.seq LIMIT {ERASURES_PER_SYNC}"
        )
    });
/// Case ids per key query.
const CASES_PER_QUERY: usize = 200;
/// Key rows per INSERT.
const KEY_ROWS_PER_STATEMENT: usize = 200;

/// What one erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    pub seq: u64,
    pub case: String,
    pub keys: Vec<String>,
}

impl Store {
    /// The key case keys are wrapped under: `GRIDSYNC_DATA_KEY`, or one kept in the database
    /// (made once, shared by every server on it) with a warning that a copy of the database
    /// then opens what it holds until an erasure.
    /// A key that does not open the keys already stored (another deployment's, a typo) is an
    /// error here, when the store is opened, not at every sync that would need it.
    pub(in crate::store) async fn data_key(&self) -> Result<Arc<[u8; 32]>> {
        self.data_key
            .get_or_try_init(|| async {
                let key = match std::env::var(DATA_KEY_ENV) {
                    Ok(text) => data_key_from_text(&text)?,
                    Err(_) => self.data_key_in_database().await?,
                };
                let sample = sqlx::query("SELECT case_id, key_id, wrapped FROM case_keys LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?;
                if let Some(row) = sample {
                    let (case, id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                    sealed::unwrap_key(&key, &case, &id, &row.try_get::<Vec<u8>, _>(2)?).map_err(
                        |_| {
                            StoreError::Corrupt(format!(
                                "the data key ({DATA_KEY_ENV} or the database's) does not open the stored case keys: it is not this deployment's"
                            ))
                        },
                    )?;
                }
                Ok(Arc::new(key))
            })
            .await
            .cloned()
    }

    /// The data key kept in the database when the deployment gives none: made once, shared by
    /// every server on it (the first insert wins). `serve` warns; admin commands need not.
    async fn data_key_in_database(&self) -> Result<[u8; 32]> {
        sqlx::query(
            "INSERT INTO data_keys (id, secret, created_at) VALUES ('data', $1, $2)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(rand::random::<[u8; 32]>().to_vec())
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        let secret: Vec<u8> = sqlx::query("SELECT secret FROM data_keys WHERE id = 'data'")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        secret
            .try_into()
            .map_err(|_| StoreError::Corrupt("the data key in the database is damaged".into()))
    }

    /// The data key if it was loaded (it is, once the store is migrated).
    pub(in crate::store) fn data_key_loaded(&self) -> Option<Arc<[u8; 32]>> {
        self.data_key.get().cloned()
    }

    /// Keeps a case key made here (a case the server creates, or writes personal data into).
    pub async fn keep_case_key(&self, key: &CaseKey, now: i64) -> Result<()> {
        let wrapped = sealed::wrap_key(&*self.data_key().await?, key);
        sqlx::query(
            "INSERT INTO case_keys (case_id, key_id, wrapped, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (case_id, key_id) DO NOTHING",
        )
        .bind(key.case())
        .bind(key.id())
        .bind(wrapped)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The key personal values the server writes into `case` now are sealed under: the newest
    /// held, or a new one made and kept.
    pub async fn write_key(&self, case: &str, now: i64) -> Result<CaseKey> {
        if let Some(key) = self.case_keys(case).await?.for_writing() {
            return Ok(key.clone());
        }
        let key = CaseKey::generate(case);
        self.keep_case_key(&key, now).await?;
        Ok(key)
    }

    /// The keys of `case` the server holds, oldest first, and the ids of its erased ones.
    pub async fn case_keys(&self, case: &str) -> Result<CaseKeys> {
        let data = self.data_key().await?;
        let rows = sqlx::query(
            "SELECT key_id, wrapped FROM case_keys WHERE case_id = $1 ORDER BY created_at, key_id",
        )
        .bind(case)
        .fetch_all(&self.pool)
        .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get(0)?;
            let wrapped: Vec<u8> = r.try_get(1)?;
            keys.push(sealed::unwrap_key(&data, case, &id, &wrapped)?);
        }
        let erased: Vec<String> = sqlx::query("SELECT key_id FROM erased_keys WHERE case_id = $1")
            .bind(case)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        Ok(CaseKeys::new(keys, erased))
    }

    /// Keys a device pushed (before its push is judged, so a new case's requester can be sent
    /// its receipt): each opened with the server's key and kept when its case is new or
    /// `reader` may see it. Returns those the device need not send again: kept, held already,
    /// erased, refused, or not a key at all.
    pub async fn take_case_keys(
        &self,
        reader: &Identity,
        keys: &[SealedKey],
        now: i64,
    ) -> Result<Vec<KeyId>> {
        let sorted = self.sort_case_keys(reader, keys).await?;
        if !sorted.rows.is_empty() {
            let mut conn = self.pool.acquire().await?;
            write_key_rows(&mut conn, &sorted.rows, now).await?;
        }
        Ok(sorted.taken)
    }

    /// [`Store::take_case_keys`] without the write: the keys to answer and the rows to keep,
    /// for a sync that writes them in its push's transaction (one write, not two).
    pub(super) async fn sort_case_keys(
        &self,
        reader: &Identity,
        keys: &[SealedKey],
    ) -> Result<PushedKeys> {
        if keys.is_empty() {
            return Ok(PushedKeys::default());
        }
        let server = self.change_key().await?;
        let data = self.data_key().await?;
        let mut taken = Vec::with_capacity(keys.len());
        let mut opened = Vec::with_capacity(keys.len());
        let mut opener = sealed::KeyOpener::new(server.signing());
        for k in keys {
            taken.push(KeyId {
                doc: k.doc.clone(),
                id: k.id.clone(),
            });
            // One that does not open is answered too: sending it again would not help.
            if let Ok(key) = opener.open(&k.doc, &k.id, &k.envelope) {
                opened.push(key);
            }
        }
        let mut cases: Vec<&str> = opened.iter().map(|k| k.case()).collect();
        cases.sort_unstable();
        cases.dedup();
        // Per case: stored and readable by `reader`, or not stored yet.
        let mut refused: HashSet<String> = HashSet::new();
        let mut erased: HashSet<(String, String)> = HashSet::new();
        for chunk in cases.chunks(CASES_PER_QUERY) {
            let list = placeholders(self.backend, 1, chunk.len());
            let sql = format!(
                "SELECT id, id, id, id, kind, path, departments FROM cases WHERE id IN {list}"
            );
            let args: Vec<Arg> = chunk.iter().map(|c| Arg::from(*c)).collect();
            for row in self.read_rows(&sql, &args).await? {
                // The first key of a case not here yet is its creator's (the id is a random
                // UUID nobody else knows); a stored case takes keys only from its readers.
                if !visible_row(reader, &row)? {
                    refused.insert(row.col(0)?);
                }
            }
            let sql = format!("SELECT case_id, key_id FROM erased_keys WHERE case_id IN {list}");
            for row in self.read_rows(&sql, &args).await? {
                erased.insert((row.col(0)?, row.col(1)?));
            }
        }
        let rows = opened
            .iter()
            .filter(|k| !refused.contains(k.case()))
            .filter(|k| !erased.contains(&(k.case().to_owned(), k.id().to_owned())))
            .map(|k| KeyRow {
                case: k.case().to_owned(),
                id: k.id().to_owned(),
                wrapped: sealed::wrap_key(&data, k),
            })
            .collect();
        Ok(PushedKeys { taken, rows })
    }

    /// The keys of `cases` whose personal data `reader` reads, sealed to `device_key`.
    pub async fn keys_for_reader(
        &self,
        reader: &Identity,
        device_key: &gridsync_core::evidence::VerifyingKey,
        cases: &[&str],
    ) -> Result<Vec<SealedKey>> {
        let data = self.data_key().await?;
        let mut out = Vec::new();
        let sealer = sealed::KeySealer::to(device_key);
        for chunk in cases.chunks(CASES_PER_QUERY) {
            let list = placeholders(self.backend, 1, chunk.len());
            let sql = format!(
                "SELECT k.case_id, k.key_id, k.wrapped, k.case_id, c.kind, c.path, c.departments
                 FROM case_keys k JOIN cases c ON c.id = k.case_id
                 WHERE k.case_id IN {list} ORDER BY k.case_id, k.created_at"
            );
            let args: Vec<Arg> = chunk.iter().map(|c| Arg::from(*c)).collect();
            for row in self.read_rows(&sql, &args).await? {
                if !reads_personal_row(reader, &row)? {
                    continue;
                }
                let case: String = row.col(0)?;
                let id: String = row.col(1)?;
                let wrapped: Vec<u8> = row.col(2)?;
                let key = sealed::unwrap_key(&data, &case, &id, &wrapped)?;
                out.push(SealedKey {
                    envelope: sealer.seal(&key).into(),
                    doc: case,
                    id,
                });
            }
        }
        Ok(out)
    }

    /// Erasures after `after` of cases `reader` may see, and the position read up to.
    pub async fn erasures_after(
        &self,
        reader: &Identity,
        after: u64,
    ) -> Result<(Vec<Erasure>, u64)> {
        let rows = self
            .read_rows(
                &ERASURES_AFTER,
                &[i64::try_from(after).unwrap_or(i64::MAX).into()],
            )
            .await?;
        let mut upto = after;
        let mut out = Vec::new();
        for row in &rows {
            let seq: i64 = row.col(0)?;
            upto = upto.max(u64::try_from(seq).unwrap_or(0));
            if !visible_row(reader, row)? {
                continue;
            }
            let keys: String = row.col(2)?;
            out.push(Erasure {
                seq: u64::try_from(seq).unwrap_or(0),
                doc: row.col(1)?,
                keys: keys.split_whitespace().map(str::to_owned).collect(),
            });
        }
        Ok((out, upto))
    }

    /// Erases the personal data of `case`: its keys destroyed (zeroed, deleted, the freed pages
    /// and the write-ahead log scrubbed), their ids kept as erased, the erasure logged for the
    /// phones and audited with `reason`, and the requester's number and texts in the SMS outbox
    /// blanked. The history, workflow, statistics and signatures stay. `None`: no such case.
    /// Refused when the case holds personal values written before sealing (they cannot be
    /// destroyed this way).
    pub async fn erase_case(
        &self,
        case: &str,
        by: &str,
        reason: &str,
        now: i64,
    ) -> Result<Option<Erased>> {
        let Some(doc) = self.case_doc(case).await? else {
            return Ok(None);
        };
        let plain = doc
            .people()?
            .iter()
            .flat_map(|p| [&p.name, &p.phone])
            .filter(|v| !v.is_empty() && sealed::sealed_key_id(v).is_none())
            .count();
        if plain > 0 {
            return Err(StoreError::Refused {
                code: "not_sealed",
                reason: format!(
                    "case {case} holds {} personal value(s) written before sealing; they cannot be erased by destroying a key",
                    plain
                ),
            });
        }
        let mut tx = self.begin_write().await?;
        let keys: Vec<String> =
            sqlx::query("SELECT key_id FROM case_keys WHERE case_id = $1 ORDER BY key_id")
                .bind(case)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
        let seq: i64 = sqlx::query(
            "UPDATE counters SET value = value + 1 WHERE name = 'erasures' RETURNING value",
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query(
            "INSERT INTO erasures (seq, case_id, key_ids, erased_at, erased_by, reason)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(seq)
        .bind(case)
        .bind(keys.join(" "))
        .bind(now)
        .bind(by)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        for id in &keys {
            sqlx::query(
                "INSERT INTO erased_keys (case_id, key_id, erasure) VALUES ($1, $2, $3)
                 ON CONFLICT (case_id, key_id) DO NOTHING",
            )
            .bind(case)
            .bind(id)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        // Overwritten before the delete: a page a backend does not zero holds zeros, not a key.
        let zeros = vec![0u8; sealed::WRAPPED_BYTES];
        sqlx::query("UPDATE case_keys SET wrapped = $1 WHERE case_id = $2")
            .bind(&zeros)
            .bind(case)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM case_keys WHERE case_id = $1")
            .bind(case)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE sms_outbox SET to_number = '', body = $1, state = CASE WHEN state = $2 THEN $3 ELSE state END
             WHERE case_id = $4",
        )
        .bind(sealed::ERASED_TEXT)
        .bind(crate::store::SMS_PENDING)
        .bind(crate::store::SMS_SKIPPED)
        .bind(case)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.scrub_freed_space().await?;
        self.audit(by, "case_erased", case, reason, now).await?;
        Ok(Some(Erased {
            seq: u64::try_from(seq).unwrap_or(0),
            case: case.to_owned(),
            keys,
        }))
    }

    /// Erases the personal data of every archived case past its kind's retention period
    /// (`[retention]` of `rules`, counted from the case's last change), as `gridsync erase`
    /// does, logged with the rules version that decided it. Returns how many were erased.
    pub async fn erase_expired(
        &self,
        rules: &gridsync_core::rules::Rules,
        now: i64,
    ) -> Result<usize> {
        let mut erased = 0;
        for kind in gridsync_core::CaseKind::ALL {
            let (Some(cutoff), Some(years)) = (
                rules.retention().cutoff(kind, now),
                rules.retention().years(kind),
            ) else {
                continue;
            };
            let ids: Vec<String> = sqlx::query(
                "SELECT c.id FROM cases c
                 WHERE c.kind = $1 AND c.status = $2 AND c.updated_at < $3
                   AND EXISTS (SELECT 1 FROM case_keys k WHERE k.case_id = c.id)
                 ORDER BY c.updated_at LIMIT 500",
            )
            .bind(kind.as_str())
            .bind(gridsync_core::Status::Archived.as_str())
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            for id in ids {
                let reason = format!(
                    "保存期限已满 (retention: {} {years} years, rules version {})",
                    kind.as_str(),
                    rules.version()
                );
                match self.erase_case(&id, RETENTION_USER, &reason, now).await {
                    Ok(Some(_)) => erased += 1,
                    Ok(None) => {}
                    Err(StoreError::Refused { code, .. }) => {
                        tracing::warn!(case = %id, code, "retention could not erase");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(erased)
    }

    /// The cases whose people include one named `who` or with phone number `who`, read with
    /// the keys the server holds (sealed names are found only by opening them).
    pub async fn cases_of_person(&self, who: &str) -> Result<Vec<String>> {
        let ids: Vec<String> =
            sqlx::query("SELECT DISTINCT case_id FROM case_keys ORDER BY case_id")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
        let mut found = Vec::new();
        for id in ids {
            let Some(doc) = self.case_doc(&id).await? else {
                continue;
            };
            let keys = self.case_keys(&id).await?;
            if doc
                .people()?
                .iter()
                .map(|p| p.unsealed(&keys))
                .any(|p| p.name == who || p.phone == who)
            {
                found.push(id);
            }
        }
        Ok(found)
    }

    /// After keys were deleted: SQLite's freed pages are zeroed already (`secure_delete`), and
    /// the write-ahead log is checkpointed and truncated so no old page survives in it;
    /// PostgreSQL's table is rewritten (`VACUUM FULL`) so no dead row holds a key.
    async fn scrub_freed_space(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                for _ in 0..50 {
                    let busy: i64 = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&self.pool)
                        .await?
                        .try_get(0)?;
                    if busy == 0 {
                        return Ok(());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(StoreError::Conflict(
                    "the write-ahead log stayed busy; run the erasure again".into(),
                ))
            }
            Backend::Postgres => {
                sqlx::query("VACUUM FULL case_keys")
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    }
}

/// `GRIDSYNC_DATA_KEY`'s value: 32 bytes in base64url.
fn data_key_from_text(text: &str) -> Result<[u8; 32]> {
    let bytes = B64
        .decode(text.trim())
        .map_err(|_| StoreError::Corrupt(format!("{DATA_KEY_ENV} is not base64url")))?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{DATA_KEY_ENV} must hold 32 bytes")))
}

/// Keys a device pushed, sorted: the ids to answer, and the rows (wrapped) to keep.
#[derive(Debug, Default)]
pub(super) struct PushedKeys {
    pub(super) taken: Vec<KeyId>,
    pub(super) rows: Vec<KeyRow>,
}

/// One case key to keep, wrapped under the data key.
#[derive(Debug, Clone)]
pub(super) struct KeyRow {
    case: String,
    id: String,
    wrapped: Vec<u8>,
}

/// Keeps `rows` (a key held already stays as it was).
pub(super) async fn write_key_rows<K: std::borrow::Borrow<KeyRow>>(
    conn: &mut sqlx::AnyConnection,
    rows: &[K],
    now: i64,
) -> Result<()> {
    let backend = Backend::of(conn);
    for chunk in rows.chunks(KEY_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO case_keys (case_id, key_id, wrapped, created_at) VALUES {}
             ON CONFLICT (case_id, key_id) DO NOTHING",
            placeholders(backend, chunk.len(), 4)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            let k = k.borrow();
            query = query
                .bind(k.case.as_str())
                .bind(k.id.as_str())
                .bind(k.wrapped.as_slice())
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `value` of `field` of `case` opened with the keys read inside `tx` (a writer holding the
/// feed lock); `None` when it is sealed under a key not held (erased, or not yet pushed) or
/// the data key is not loaded.
pub(in crate::store) async fn opened_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    data_key: Option<&[u8; 32]>,
    case: &str,
    field: &str,
    value: &str,
) -> Result<Option<String>> {
    let Some(id) = sealed::sealed_key_id(value) else {
        return Ok(Some(value.to_owned()));
    };
    let Some(data_key) = data_key else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT wrapped FROM case_keys WHERE case_id = $1 AND key_id = $2")
        .bind(case)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let key = sealed::unwrap_key(data_key, case, id, &row.try_get::<Vec<u8>, _>(0)?)?;
    let opened = CaseKeys::new(vec![key], []).open(field, value);
    Ok((!sealed::is_withheld(&opened)).then_some(opened))
}

/// Whether `reader` reads the personal data of the case of a projection row (as
/// [`visible_row`] reads it).
fn reads_personal_row(reader: &Identity, row: &impl Cols) -> Result<bool> {
    let (kind, path, departments) = projected(row)?;
    let departments: Vec<&str> = departments.iter().map(String::as_str).collect();
    Ok(reader.reads_personal_data(kind, &path, &departments))
}
