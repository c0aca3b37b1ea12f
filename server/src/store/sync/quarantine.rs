//! The quarantine with limits (issue 18; docs/SECURITY.md, "Quarantine"): what is kept of a
//! refused change, each device's share, and reading both back.
//!
//! The author's words are never only here: the phone keeps every change it made, refused ones
//! included (its case shows as refused). What the server keeps is the record of the refusal and,
//! for a change a person could have written, its bytes, so it can be released once the reason is
//! fixed.

use gridsync_core::admission::Refused;
use gridsync_core::attachment::sha256_hex;
use sqlx::{Any, Row, Transaction};

use crate::store::{Result, Store};

/// A refused change up to this size is kept whole and can be released. A person's edit is far
/// smaller (a description is at most 20,000 characters, ~60 KB); larger ones come from a broken
/// or hostile app.
pub const KEEP_WHOLE_BYTES: usize = 128 * 1024;
/// Of a larger change, its first bytes are kept (with its length and SHA-256): enough to see
/// what it was.
pub const KEEP_HEAD_BYTES: usize = 1024;
/// Bytes one device may hold in the quarantine (not yet released); past it, refusals from that
/// device are counted, not stored.
pub const DEVICE_BUDGET_BYTES: i64 = 4 * 1024 * 1024;
/// Bytes the whole quarantine may hold; past it, every refusal is counted, not stored.
pub const TOTAL_BUDGET_BYTES: i64 = 256 * 1024 * 1024;
/// What a kept row costs the budget beyond its bytes (ids, code, reason): many tiny refusals
/// fill a budget too.
const ROW_COST: i64 = 512;
/// A device with this many refusals past its budget is flagged on the devices page.
pub const FLAG_AFTER_DROPPED: i64 = 1;

/// One refused change as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    pub id: String,
    pub doc: String,
    /// The change hash, empty for bytes that did not decode as a change.
    pub hash: String,
    pub device: String,
    pub user: String,
    pub code: String,
    pub reason: String,
    pub received_at: i64,
    /// The length of the refused bytes as sent.
    pub size: i64,
    /// Whether `bytes` is the whole change (else its first [`KEEP_HEAD_BYTES`]).
    pub whole: bool,
    /// SHA-256 of the bytes as sent, hex.
    pub sha256: String,
    pub released_at: Option<i64>,
    pub released_by: Option<String>,
}

/// One device's share of the quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceQuarantine {
    pub device: String,
    /// Rows kept and not released, and the budget they use.
    pub kept: i64,
    pub kept_bytes: i64,
    /// Refusals past the budget: counted, not stored.
    pub dropped: i64,
    pub dropped_bytes: i64,
    pub last_at: i64,
}

impl DeviceQuarantine {
    /// Flagged on the devices page: it sent refused bytes past its budget.
    pub fn flagged(&self) -> bool {
        self.dropped >= FLAG_AFTER_DROPPED
    }
}

/// The quarantine as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuarantineTotals {
    pub kept: i64,
    pub kept_bytes: i64,
    pub dropped: i64,
    pub released: i64,
}

/// What a kept row holds of `len` refused bytes, and what it costs the budget.
fn kept_len(len: usize) -> usize {
    if len <= KEEP_WHOLE_BYTES {
        len
    } else {
        KEEP_HEAD_BYTES
    }
}

fn cost(kept: usize) -> i64 {
    i64::try_from(kept)
        .unwrap_or(i64::MAX)
        .saturating_add(ROW_COST)
}

/// Keeps what the limits allow of one refused change, in the push's transaction: a row within
/// the device's and the total budget, else a count. Returns whether a row was written.
pub(super) async fn keep(
    tx: &mut Transaction<'static, Any>,
    doc: &str,
    device: &str,
    user: &str,
    refused: &Refused,
    now: i64,
) -> Result<bool> {
    let len = refused.bytes.len();
    let size = i64::try_from(len).unwrap_or(i64::MAX);
    let kept = kept_len(len);
    let cost = cost(kept);
    let device_bytes: i64 =
        sqlx::query("SELECT kept_bytes FROM quarantine_devices WHERE device_id = $1")
            .bind(device)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
    let total: i64 = sqlx::query("SELECT value FROM counters WHERE name = 'quarantine_bytes'")
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    let within = device_bytes + cost <= DEVICE_BUDGET_BYTES && total + cost <= TOTAL_BUDGET_BYTES;
    let (kept_rows, kept_bytes, dropped, dropped_bytes) = match within {
        true => (1, cost, 0, 0),
        false => (0, 0, 1, size),
    };
    sqlx::query(
        "INSERT INTO quarantine_devices (device_id, kept, kept_bytes, dropped, dropped_bytes, last_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (device_id) DO UPDATE SET kept = quarantine_devices.kept + excluded.kept,
           kept_bytes = quarantine_devices.kept_bytes + excluded.kept_bytes,
           dropped = quarantine_devices.dropped + excluded.dropped,
           dropped_bytes = quarantine_devices.dropped_bytes + excluded.dropped_bytes,
           last_at = excluded.last_at",
    )
    .bind(device)
    .bind(kept_rows)
    .bind(kept_bytes)
    .bind(dropped)
    .bind(dropped_bytes)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if !within {
        tracing::warn!(
            doc,
            device,
            code = refused.code.as_str(),
            size,
            "refused change past the quarantine budget: counted, not kept"
        );
        return Ok(false);
    }
    sqlx::query("UPDATE counters SET value = value + $1 WHERE name = 'quarantine_bytes'")
        .bind(cost)
        .execute(&mut **tx)
        .await?;
    let hash = refused.hash.map(|h| h.to_string()).unwrap_or_default();
    sqlx::query(
        "INSERT INTO quarantine (id, doc, hash, device_id, user_id, code, reason, received_at, bytes, size, whole, sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(doc)
    .bind(&hash)
    .bind(device)
    .bind(user)
    .bind(refused.code.as_str())
    .bind(&refused.reason)
    .bind(now)
    .bind(&refused.bytes[..kept])
    .bind(size)
    .bind(i64::from(kept == len))
    .bind(sha256_hex(&refused.bytes))
    .execute(&mut **tx)
    .await?;
    tracing::info!(
        doc,
        device,
        code = refused.code.as_str(),
        size,
        "change quarantined"
    );
    Ok(true)
}

/// Gives a released row's budget back to its device and the total.
pub(super) async fn unkeep(
    tx: &mut Transaction<'static, Any>,
    entry: &QuarantineEntry,
    kept: usize,
) -> Result<()> {
    let cost = cost(kept);
    sqlx::query(
        "UPDATE quarantine_devices SET kept = kept - 1, kept_bytes = kept_bytes - $1 WHERE device_id = $2",
    )
    .bind(cost)
    .bind(&entry.device)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE counters SET value = value - $1 WHERE name = 'quarantine_bytes'")
        .bind(cost)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Rows read for a listing: the newest, the budgets keep the table small anyway.
const SCAN_ROWS: i64 = 5_000;

pub(super) const ENTRY_COLUMNS: &str = "id, doc, hash, device_id, user_id, code, reason, received_at, size, whole, sha256, released_at, released_by";

pub(super) fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<QuarantineEntry> {
    let whole: i64 = r.try_get(9)?;
    Ok(QuarantineEntry {
        id: r.try_get(0)?,
        doc: r.try_get(1)?,
        hash: r.try_get(2)?,
        device: r.try_get(3)?,
        user: r.try_get(4)?,
        code: r.try_get(5)?,
        reason: r.try_get(6)?,
        received_at: r.try_get(7)?,
        size: r.try_get(8)?,
        whole: whole != 0,
        sha256: r.try_get(10)?,
        released_at: r.try_get(11)?,
        released_by: r.try_get(12)?,
    })
}

impl Store {
    /// Refused changes kept in quarantine: (doc, hash, code, reason).
    pub async fn quarantine(&self) -> Result<Vec<(String, String, String, String)>> {
        let rows =
            sqlx::query("SELECT doc, hash, code, reason FROM quarantine ORDER BY received_at, id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    /// The latest kept refusals, newest first, at most `limit` (and 5,000).
    pub async fn quarantine_entries(&self, limit: i64) -> Result<Vec<QuarantineEntry>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM quarantine ORDER BY received_at DESC, id LIMIT $1"
        )))
        .bind(limit.clamp(0, SCAN_ROWS))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    /// One kept refusal.
    pub async fn quarantine_entry(&self, id: &str) -> Result<Option<QuarantineEntry>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM quarantine WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(entry_from_row)
        .transpose()
    }

    /// Each device's share of the quarantine, most refusals past the budget first.
    pub async fn quarantine_devices(&self) -> Result<Vec<DeviceQuarantine>> {
        let rows = sqlx::query(
            "SELECT device_id, kept, kept_bytes, dropped, dropped_bytes, last_at FROM quarantine_devices
             ORDER BY dropped DESC, kept_bytes DESC, device_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeviceQuarantine {
                    device: r.try_get(0)?,
                    kept: r.try_get(1)?,
                    kept_bytes: r.try_get(2)?,
                    dropped: r.try_get(3)?,
                    dropped_bytes: r.try_get(4)?,
                    last_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The quarantine as a whole (for `/metrics` and the console).
    pub async fn quarantine_totals(&self) -> Result<QuarantineTotals> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(sum(kept), 0) AS BIGINT), CAST(COALESCE(sum(dropped), 0) AS BIGINT)
             FROM quarantine_devices",
        )
        .fetch_one(&self.pool)
        .await?;
        let kept_bytes: i64 =
            sqlx::query("SELECT value FROM counters WHERE name = 'quarantine_bytes'")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        let released: i64 =
            sqlx::query("SELECT count(*) FROM quarantine WHERE released_at IS NOT NULL")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        Ok(QuarantineTotals {
            kept: row.try_get(0)?,
            kept_bytes,
            dropped: row.try_get(1)?,
            released,
        })
    }
}
