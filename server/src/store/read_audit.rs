//! The read audit (ADR 0028): every read of a case's personal data — who, which case, when, from
//! where, by which route — appended as a hash chain under its own lock row (`counters`
//! `read_audit`, not the feed's: a read never waits for a push), paged for the console, and
//! walked whole by `gridsync audit verify`.

use gridsync_core::evidence::{ChainEntry, ChainWalk, GENESIS, ReadEntry};
use gridsync_core::{CaseKind, Identity, JurisdictionPath};
use serde_bytes::ByteBuf;
use sqlx::Row;
use tokio::sync::oneshot;

use super::direct::{Arg, Cols as _};
use super::group::{Group, answer_each};
use super::{Result, Store, StoreError};

/// Reads per INSERT: 8 values each, within both backends' parameter limits.
const READS_PER_STATEMENT: usize = 200;

/// One read to record: `user` read `case`'s personal data through `route` from `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseRead<'a> {
    pub user: &'a str,
    pub case: &'a str,
    /// Human-readable and stable: `GET /v1/cases/{id}`, `console case page`, …
    pub route: &'a str,
    /// The client's IP address, `-` when unknown.
    pub addr: &'a str,
}

/// One stored entry, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRow {
    pub seq: u64,
    pub hash: Vec<u8>,
    pub at: i64,
    pub user: String,
    pub case: String,
    pub route: String,
    pub addr: String,
}

/// Which entries a page shows; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadAuditFilter {
    pub case: Option<String>,
    pub user: Option<String>,
    /// From this time on (ms, inclusive).
    pub from: Option<i64>,
    /// Before this time (ms, exclusive).
    pub to: Option<i64>,
    /// Only reads of cases at or below this place (the admin's county).
    pub within: Option<JurisdictionPath>,
}

/// A page of the audit, newest first, and how many entries the filter matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAuditPage {
    pub rows: Vec<ReadRow>,
    pub total: u64,
}

/// What a walk of the whole chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries walked before the first fault (all of them when there is none).
    pub entries: u64,
    /// The last good entry's number and hash.
    pub head: Option<(u64, [u8; 32])>,
    /// The first problem, naming its entry.
    pub fault: Option<String>,
}

/// Appends waiting for the read audit's lock row, written together.
pub(crate) type ReadGroup = Group<WaitingReads>;

#[derive(Debug)]
pub(crate) struct WaitingReads {
    reads: Vec<OwnedRead>,
    now: i64,
    reply: oneshot::Sender<Result<()>>,
}

/// A [`CaseRead`] that outlives its caller's borrow while it waits for its group.
#[derive(Debug)]
struct OwnedRead {
    user: String,
    case: String,
    route: String,
    addr: String,
}

impl OwnedRead {
    fn of(read: &CaseRead<'_>) -> OwnedRead {
        OwnedRead {
            user: read.user.to_owned(),
            case: read.case.to_owned(),
            route: read.route.to_owned(),
            addr: read.addr.to_owned(),
        }
    }
}

/// Rows read per query while walking the chain.
const VERIFY_BATCH: i64 = 1000;

impl Store {
    /// Appends one entry per read; nothing at all for none. Returns once the entries are
    /// committed. Appends that arrive while another is written wait together and go in one
    /// transaction (ADR 0041): in a morning storm every sync that pulls a case appends, and
    /// one transaction each would queue them all on the write lock.
    pub async fn record_reads(&self, reads: &[CaseRead<'_>], now: i64) -> Result<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let reads = reads.iter().map(OwnedRead::of).collect();
        let (reply, answer) = oneshot::channel();
        let store = self.clone();
        self.reads
            .join(
                WaitingReads { reads, now, reply },
                answer,
                |batch| async move { store.append_batch(batch).await },
            )
            .await
    }

    /// How this server grouped read-audit appends into transactions since it started.
    pub fn read_audit_group_counts(&self) -> super::GroupCounts {
        self.reads.counts()
    }

    /// Writes a group of appends; a transaction that fails is retried append by append, so one
    /// append's error never becomes another's.
    async fn append_batch(&self, batch: Vec<WaitingReads>) {
        let written = {
            let all: Vec<(&[OwnedRead], i64)> =
                batch.iter().map(|w| (&w.reads[..], w.now)).collect();
            self.append_reads(&all).await.map(|()| vec![(); all.len()])
        };
        let writers = batch
            .into_iter()
            .map(|w| (w.reply, (w.reads, w.now)))
            .collect();
        answer_each(
            writers,
            written,
            "read-audit appends",
            |(reads, now)| async move { self.append_reads(&[(&reads, now)]).await },
        )
        .await;
    }

    /// Appends the entries of `groups` (each read with its time) in one transaction, in order.
    /// The lock row is taken first, so appends are one at a time (also across servers on one
    /// PostgreSQL).
    async fn append_reads(&self, groups: &[(&[OwnedRead], i64)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE counters SET value = value WHERE name = 'read_audit' RETURNING value")
            .fetch_one(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM read_audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (mut seq, mut prev) = match head {
            None => (0u64, GENESIS),
            Some(r) => {
                let seq: i64 = r.try_get(0)?;
                let hash: Vec<u8> = r.try_get(1)?;
                let hash: [u8; 32] = hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("read audit entry {seq}: hash")))?;
                (seq_of(seq)?, hash)
            }
        };
        // Chained one by one, written several to a statement: a sync that pulls twenty cases
        // is one INSERT, not twenty round trips to the database.
        let mut rows = Vec::with_capacity(groups.iter().map(|(r, _)| r.len()).sum());
        for (reads, now) in groups {
            for read in *reads {
                seq += 1;
                let entry = ReadEntry {
                    seq,
                    prev: ByteBuf::from(prev.to_vec()),
                    at: *now,
                    user: read.user.clone(),
                    case: read.case.clone(),
                    route: read.route.clone(),
                    addr: read.addr.clone(),
                };
                let bytes = entry.encode();
                let hash = ReadEntry::hash_of(&bytes);
                rows.push((seq, hash, read, *now, bytes));
                prev = hash;
            }
        }
        for chunk in rows.chunks(READS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO read_audit (seq, hash, at, user_id, case_id, route, addr, entry) VALUES {}",
                super::sync::placeholders(self.backend, chunk.len(), 8)
            );
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (seq, hash, read, at, bytes) in chunk {
                insert = insert
                    .bind(i64::try_from(*seq).unwrap_or(i64::MAX))
                    .bind(hash.to_vec())
                    .bind(*at)
                    .bind(read.user.as_str())
                    .bind(read.case.as_str())
                    .bind(read.route.as_str())
                    .bind(read.addr.as_str())
                    .bind(bytes.as_slice());
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A page of the audit for the console, newest first.
    pub async fn read_audit_page(
        &self,
        filter: &ReadAuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<ReadAuditPage> {
        let (clause, args) = where_clause(filter);
        let mut count = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM read_audit a WHERE {clause}"
        )));
        for a in &args {
            count = a.bind(count);
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get(0)?;
        let n = args.len();
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT a.seq, a.hash, a.at, a.user_id, a.case_id, a.route, a.addr FROM read_audit a
             WHERE {clause} ORDER BY a.seq DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        )));
        for a in &args {
            rows = a.bind(rows);
        }
        let rows = rows
            .bind(limit.max(0))
            .bind(offset.max(0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(ReadRow {
                    seq: seq_of(r.try_get(0)?)?,
                    hash: r.try_get(1)?,
                    at: r.try_get(2)?,
                    user: r.try_get(3)?,
                    case: r.try_get(4)?,
                    route: r.try_get(5)?,
                    addr: r.try_get(6)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ReadAuditPage {
            rows,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// The read audit's newest entry (number and hash), for `gridsync audit head`: one row read,
    /// not a walk.
    pub async fn read_audit_head(&self) -> Result<Option<(u64, [u8; 32])>> {
        let Some(row) = sqlx::query("SELECT seq, hash FROM read_audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let seq: i64 = row.try_get(0)?;
        let hash: Vec<u8> = row.try_get(1)?;
        let hash = <[u8; 32]>::try_from(hash.as_slice())
            .map_err(|_| StoreError::Corrupt(format!("the hash of read audit entry {seq}")))?;
        Ok(Some((seq_of(seq)?, hash)))
    }

    /// Walks the whole chain in order: each entry must decode, hash to its stored hash, follow
    /// the one before, and say what its plain columns say. The first fault names its entry.
    pub async fn verify_read_audit(&self) -> Result<ChainReport> {
        let mut walk = ChainWalk::default();
        let mut report = ChainReport {
            entries: 0,
            head: None,
            fault: None,
        };
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, hash, at, user_id, case_id, route, addr, entry FROM read_audit
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(VERIFY_BATCH)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                let seq: i64 = r.try_get(0)?;
                after = seq;
                let hash: Vec<u8> = r.try_get(1)?;
                let bytes: Vec<u8> = r.try_get(7)?;
                let Ok(row_seq) = u64::try_from(seq) else {
                    report.fault = Some(format!("entry {seq} has a negative number"));
                    return Ok(report);
                };
                let entry = match walk.step::<ReadEntry>(row_seq, &hash, &bytes) {
                    Ok(entry) => entry,
                    Err(fault) => {
                        report.fault = Some(fault);
                        return Ok(report);
                    }
                };
                let columns = (
                    r.try_get::<i64, _>(2)?,
                    r.try_get::<String, _>(3)?,
                    r.try_get::<String, _>(4)?,
                    r.try_get::<String, _>(5)?,
                    r.try_get::<String, _>(6)?,
                );
                let signed = (
                    entry.at,
                    entry.user.clone(),
                    entry.case.clone(),
                    entry.route.clone(),
                    entry.addr.clone(),
                );
                if columns != signed {
                    report.fault = Some(format!(
                        "entry {row_seq}: its columns (time, user, case, route or address) differ from the entry"
                    ));
                    return Ok(report);
                }
                report.entries += 1;
                report.head = Some((row_seq, walk.head()));
            }
            if (rows.len() as i64) < VERIFY_BATCH {
                return Ok(report);
            }
        }
    }

    /// Of the cases `ids` a sync delivers to `reader`, those whose personal data it reads in
    /// clear: judged on the projection (kind, place, departments) first, then on the stored
    /// document's people. One query, and a document read only for the cases left.
    pub async fn cases_read_in_clear(
        &self,
        reader: &Identity,
        ids: &[&str],
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            // `?` on SQLite: numbered parameters there are looked up by name, quadratic in
            // their number (see `placeholders`).
            let sql = format!(
                "SELECT id, kind, path, departments FROM cases WHERE id IN {}",
                super::sync::placeholders(self.backend, 1, chunk.len())
            );
            let args: Vec<Arg> = chunk.iter().map(|id| Arg::from(*id)).collect();
            for r in self.read_rows(&sql, &args).await? {
                let id: String = r.col(0)?;
                let kind: String = r.col(1)?;
                let path: String = r.col(2)?;
                let departments: Option<String> = r.col(3)?;
                let kind = CaseKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("kind {kind:?}")))?;
                let departments: Vec<&str> = departments
                    .as_deref()
                    .map(|d| d.split_whitespace().collect())
                    .unwrap_or_default();
                if !reader.reads_personal_data(kind, &JurisdictionPath::parse(&path)?, &departments)
                {
                    continue;
                }
                if let Some(doc) = self.case_doc(&id).await?
                    && doc.holds_personal_data()?
                {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }
}

fn seq_of(seq: i64) -> Result<u64> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("read audit entry {seq}")))
}

/// The filter as a WHERE clause over `read_audit a`, with its arguments `$1…`.
fn where_clause(f: &ReadAuditFilter) -> (String, Vec<Arg>) {
    let mut parts = vec!["1 = 1".to_owned()];
    let mut args = Vec::new();
    let mut arg = |a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    if let Some(case) = &f.case {
        parts.push(format!("a.case_id = {}", arg(Arg::Text(case.clone()))));
    }
    if let Some(user) = &f.user {
        parts.push(format!("a.user_id = {}", arg(Arg::Text(user.clone()))));
    }
    if let Some(from) = f.from {
        parts.push(format!("a.at >= {}", arg(Arg::Int(from))));
    }
    if let Some(to) = f.to {
        parts.push(format!("a.at < {}", arg(Arg::Int(to))));
    }
    if let Some(place) = &f.within {
        // The case's place by the projection's code columns (index `cases_scope`).
        let codes = [
            ("county", Some(place.county())),
            ("township", place.township()),
            ("village", place.village()),
            ("grid", place.grid()),
        ];
        let mut inner = Vec::new();
        for (column, code) in codes {
            if let Some(code) = code {
                inner.push(format!("c.{column} = {}", arg(Arg::Text(code.to_owned()))));
            }
        }
        parts.push(format!(
            "EXISTS (SELECT 1 FROM cases c WHERE c.id = a.case_id AND {})",
            inner.join(" AND ")
        ));
    }
    (parts.join(" AND "), args)
}
