//! `gridsync audit verify`: the receipt chain walked from its first entry, every change it names
//! checked against its stored bytes and signature; and the chain's head for filing.

use gridsync_core::case::parse_change;
use gridsync_core::evidence::{self, ChainEntry, ChainWalk, Receipt};
use sqlx::Row;

use crate::store::{Result, Store, StoreError};

/// Receipt entries read per query.
const PAGE: i64 = 500;
/// Faults reported before the walk stops listing them.
const MAX_FAULTS: usize = 20;

/// The newest receipt entry: what a county prints or files with another office each day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptHead {
    pub seq: u64,
    pub hash: [u8; 32],
    pub at: i64,
}

/// What `audit verify` found: counts, and every fault (the first [`MAX_FAULTS`]); empty
/// `faults` means the chain and every signature hold.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    pub receipts: u64,
    /// Changes named by receipts, each checked against its bytes.
    pub changes: u64,
    /// Of those, signatures verified.
    pub signed: u64,
    /// Changes from before the receipt log began (not in any entry).
    pub before_chain: u64,
    pub head: Option<ReceiptHead>,
    pub faults: Vec<String>,
}

impl AuditReport {
    fn fault(&mut self, fault: String) {
        if self.faults.len() < MAX_FAULTS {
            self.faults.push(fault);
        }
    }
}

/// One stored change with its kept signature.
struct StoredChange {
    seq: i64,
    hash: String,
    device: String,
    bytes: Vec<u8>,
    public_key: Option<Vec<u8>>,
    sig: Option<Vec<u8>>,
}

impl Store {
    /// The receipt log's newest entry, if any.
    pub async fn receipt_head(&self) -> Result<Option<ReceiptHead>> {
        let Some(row) =
            sqlx::query("SELECT seq, hash, entry FROM receipt_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let seq: i64 = row.try_get(0)?;
        let hash: Vec<u8> = row.try_get(1)?;
        let entry: Vec<u8> = row.try_get(2)?;
        // A damaged head is said, not printed as zeros: `audit verify` names what is wrong.
        let corrupt = |what: &str| StoreError::Corrupt(format!("receipt {seq}: {what}"));
        let at = Receipt::decode(&entry).map_err(|e| corrupt(&e))?.at;
        Ok(Some(ReceiptHead {
            seq: u64::try_from(seq).map_err(|_| corrupt("its number"))?,
            hash: hash.try_into().map_err(|_| corrupt("its hash"))?,
            at,
        }))
    }

    /// Walks the receipt chain from its first entry: each entry hashes to its stored hash and
    /// names the one before; together they cover every change after the chain began, once and
    /// in order; each change's bytes hash to the hash its entry names, and each kept signature
    /// verifies (a change whose device had a key must have one, made with that key).
    pub async fn audit_verify(&self) -> Result<AuditReport> {
        let mut report = AuditReport::default();
        let from: i64 = sqlx::query("SELECT value FROM counters WHERE name = 'receipts_from'")
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
        report.before_chain = from.max(0) as u64;
        let mut walk = ChainWalk::default();
        let mut next_feed = from + 1;
        let mut last_at = 0;
        'pages: loop {
            let rows = sqlx::query(
                "SELECT seq, hash, first_feed, last_feed, entry FROM receipt_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
            )
            .bind(walk.next_seq() as i64)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            let lo: i64 = rows[0].try_get(2)?;
            let hi: i64 = rows[rows.len() - 1].try_get(3)?;
            let mut stored = self.stored_changes(lo, hi).await?.into_iter().peekable();
            for row in &rows {
                let seq: i64 = row.try_get(0)?;
                let hash: Vec<u8> = row.try_get(1)?;
                let (first, last): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
                let entry: Vec<u8> = row.try_get(4)?;
                let receipt = match walk.step::<Receipt>(seq as u64, &hash, &entry) {
                    Ok(r) => r,
                    Err(fault) => {
                        report.fault(format!("receipt {fault}"));
                        break 'pages;
                    }
                };
                report.receipts += 1;
                last_at = receipt.at;
                if receipt.first_feed as i64 != first
                    || first + receipt.changes.len() as i64 - 1 != last
                {
                    report.fault(format!(
                        "receipt {seq}: its feed columns differ from its entry"
                    ));
                }
                if receipt.first_feed as i64 != next_feed {
                    report.fault(format!(
                        "receipt {seq} starts at feed {}, the one before ended at {}: changes named by no receipt, or by two",
                        receipt.first_feed,
                        next_feed - 1
                    ));
                }
                next_feed = receipt.first_feed as i64 + receipt.changes.len() as i64;
                for (i, named) in receipt.changes.iter().enumerate() {
                    let feed = receipt.first_feed as i64 + i as i64;
                    while stored.peek().is_some_and(|c| c.seq < feed) {
                        stored.next();
                    }
                    match stored.next_if(|c| c.seq == feed) {
                        None => report
                            .fault(format!("change at feed {feed} (receipt {seq}) is missing")),
                        Some(c) => check_change(&mut report, &receipt, named, &c),
                    }
                }
            }
        }
        let newest: Option<i64> = sqlx::query("SELECT max(seq) FROM changes")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        if report.faults.is_empty()
            && let Some(newest) = newest
            && newest >= next_feed
        {
            report.fault(format!(
                "changes at feed {next_feed} to {newest} are named by no receipt"
            ));
        }
        if walk.next_seq() > 1 {
            report.head = Some(ReceiptHead {
                seq: walk.next_seq() - 1,
                hash: walk.head(),
                at: last_at,
            });
        }
        Ok(report)
    }

    async fn stored_changes(&self, lo: i64, hi: i64) -> Result<Vec<StoredChange>> {
        let rows = sqlx::query(
            "SELECT c.seq, c.hash, c.device_id, c.bytes, s.public_key, s.sig
             FROM changes c LEFT JOIN change_sigs s ON s.seq = c.seq
             WHERE c.seq >= $1 AND c.seq <= $2 ORDER BY c.seq",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredChange {
                    seq: r.try_get(0)?,
                    hash: r.try_get(1)?,
                    device: r.try_get(2)?,
                    bytes: r.try_get(3)?,
                    public_key: r.try_get(4)?,
                    sig: r.try_get(5)?,
                })
            })
            .collect()
    }
}

/// One change against the receipt that names it: its bytes, its device, its signature.
fn check_change(report: &mut AuditReport, receipt: &Receipt, named: &[u8], c: &StoredChange) {
    report.changes += 1;
    let at = format!("change at feed {} (receipt {})", c.seq, receipt.seq);
    if c.hash != evidence::hex(named) {
        report.fault(format!(
            "{at}: stored as {}, the receipt names {}",
            c.hash,
            evidence::hex(named)
        ));
        return;
    }
    let hash = match parse_change(&c.bytes) {
        Ok(change) => change.hash(),
        Err(e) => return report.fault(format!("{at}: its stored bytes are not a change ({e})")),
    };
    if hash.0.as_slice() != named {
        return report.fault(format!(
            "{at}: its stored bytes hash to {hash}, not to {}",
            c.hash
        ));
    }
    if c.device != receipt.device {
        report.fault(format!(
            "{at}: stored from device {}, the receipt says {}",
            c.device, receipt.device
        ));
    }
    match (&c.public_key, &c.sig) {
        (Some(key), Some(sig)) => {
            if receipt
                .device_key
                .as_ref()
                .is_some_and(|k| k.as_slice() != key.as_slice())
            {
                report.fault(format!(
                    "{at}: signed with a key other than the one its receipt names"
                ));
            } else if evidence::public_key(key).is_some_and(|k| evidence::verifies(&k, &hash, sig))
            {
                report.signed += 1;
            } else {
                report.fault(format!("{at}: its signature does not verify"));
            }
        }
        _ if receipt.device_key.is_some() => {
            report.fault(format!(
                "{at}: its device had a key, but no signature is kept"
            ));
        }
        _ => {}
    }
}
