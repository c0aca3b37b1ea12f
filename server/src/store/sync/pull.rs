//! The pull: the page of the change feed a reader may see after its cursor, plus the repairs
//! it asked for; and the read rule on the projection.

use gridsync_core::protocol::{DocChanges, DocHeads, to_hash};
use gridsync_core::{CaseKind, Identity, JurisdictionPath};
use serde_bytes::ByteBuf;
use sqlx::Row;

use crate::store::direct::{Arg, Cols};
use crate::store::{Result, Store, StoreError};

/// Feed rows read per query while filling a page.
const SCAN_BATCH: i64 = 500;

/// Past this many changes ahead of the cursor the reader's scope is counted to choose the way
/// to its rows: the count is one indexed query, the walk along the feed a lookup of the case
/// per change ahead (a fresh phone in a storm of 200 walked ~300).
const COUNT_SCOPE_PAST: i64 = 32;

/// Page size when the phone does not say.
const DEFAULT_PAGE_BYTES: usize = 256 * 1024;

/// What a device gets back from the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullPage {
    pub pull: Vec<DocChanges>,
    pub cursor: u64,
    pub more: bool,
}

impl Store {
    /// The page of the change feed after `cursor` that `reader` may see, without the device's
    /// own changes nor those it carried for colleagues, plus the repairs it asked for (`want`).
    pub async fn pull(
        &self,
        reader: &Identity,
        device: &str,
        cursor: u64,
        want: &[DocHeads],
        page_bytes: u32,
    ) -> Result<PullPage> {
        // Whatever the phone asks for, a response stays within what it can decode.
        let budget = match page_bytes {
            0 => DEFAULT_PAGE_BYTES,
            n => (n as usize).min(crate::limit::MAX_PAGE_BYTES),
        };
        let mut pull: Vec<DocChanges> = Vec::new();
        let mut size = 0usize;
        let mut wants_left = false;
        for w in want {
            // The rest of the repairs next round (the phone asks again while it lacks history).
            if size >= budget {
                wants_left = true;
                break;
            }
            if !self.may_read(reader, &w.doc).await? {
                continue;
            }
            let heads = w
                .heads
                .iter()
                .map(|h| to_hash(h))
                .collect::<gridsync_core::Result<Vec<_>>>()?;
            if let (_, Some(mut doc)) = self.stored_doc(&w.doc).await? {
                let kept = self.case_sigs(&w.doc).await?;
                let since = doc.changes_since(&heads);
                let sigs = since
                    .iter()
                    .map(|c| kept.get(&c.hash().to_string()).cloned().unwrap_or_default())
                    .collect();
                let changes: Vec<ByteBuf> = since
                    .iter()
                    .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                    .collect();
                size += changes.iter().map(|c| c.len()).sum::<usize>();
                pull.push(DocChanges {
                    doc: w.doc.clone(),
                    changes,
                    sigs,
                    by: Vec::new(),
                });
            }
        }
        let head: i64 = self
            .read_row("SELECT value FROM counters WHERE name = 'feed'", &[])
            .await?
            .ok_or_else(|| StoreError::Corrupt("no feed counter".into()))?
            .col(0)?;
        let mut position = i64::try_from(cursor).unwrap_or(i64::MAX).min(head);
        let mut more = wants_left;
        // The reader's filter goes into the query: a phone scans only its own scope's changes,
        // not the whole feed since its cursor (which made a morning of fresh phones quadratic).
        // `visible_row` below still judges every row by the core's rule.
        // Where each document's changes are in `pull` (a county-wide pull has thousands).
        let mut index: std::collections::HashMap<String, usize> = pull
            .iter()
            .enumerate()
            .map(|(i, p)| (p.doc.clone(), i))
            .collect();
        let mut sql = crate::store::cases::Sql::new();
        let scope = crate::store::cases::scoped(&reader.read_filter(), &mut sql);
        // Two ways to the same rows, whichever reads fewer: from the scope's cases (index
        // `cases_scope`, then `changes_doc` after the cursor) when the scope holds fewer cases
        // than the feed has new changes — a phone after a morning storm — or along the feed
        // from the cursor when the scope is wide and the phone nearly up to date. SQLite keeps
        // the join order of a CROSS JOIN; PostgreSQL plans either itself.
        // The scope is counted only when the feed ahead is long: a phone near the head (most
        // syncs of a day) scans the few rows ahead of it whatever its scope holds.
        let ahead = head - position;
        let from_scope = ahead > COUNT_SCOPE_PAST && {
            let count = self
                .read_row(
                    &format!("SELECT count(*) FROM cases WHERE {scope}"),
                    &sql.read_args(),
                )
                .await?;
            count.map_or(Ok(0), |r| r.col::<i64>(0))? < ahead
        };
        let own = sql.arg(device);
        let from = if from_scope {
            "cases c CROSS JOIN changes ch"
        } else {
            "changes ch CROSS JOIN cases c"
        };
        // The feed positions are bound after the text arguments, not written into the text: the
        // same text every time, so each connection prepares it once (statement cache).
        let (after, upto) = (sql.args.len() + 1, sql.args.len() + 2);
        let scan = format!(
            "SELECT ch.seq, ch.doc, ch.device_id, ch.bytes, c.kind, c.path, c.departments, s.sig
             FROM {from} LEFT JOIN change_sigs s ON s.seq = ch.seq
             WHERE c.id = ch.doc AND ch.seq > ${after} AND ch.seq <= ${upto}
               AND ch.device_id <> {own} AND (ch.relayed_by IS NULL OR ch.relayed_by <> {own})
               AND {scope}
             ORDER BY ch.seq LIMIT {SCAN_BATCH}"
        );
        'scan: while position < head {
            let mut bound = sql.read_args();
            bound.extend([Arg::Int(position), Arg::Int(head)]);
            let rows = self.read_rows(&scan, &bound).await?;
            let exhausted = (rows.len() as i64) < SCAN_BATCH;
            for row in &rows {
                if size >= budget {
                    more = true;
                    break 'scan;
                }
                let seq: i64 = row.col(0)?;
                let doc: String = row.col(1)?;
                let from: String = row.col(2)?;
                let visible = from != device && visible_row(reader, row)?;
                if visible {
                    let bytes: Vec<u8> = row.col(3)?;
                    // The author's signature rides along: a phone gives the change back to a
                    // restored server under it (ADR 0032).
                    let sig = ByteBuf::from(row.col::<Option<Vec<u8>>>(7)?.unwrap_or_default());
                    size += bytes.len() + sig.len();
                    match index.get(&doc) {
                        Some(&i) => {
                            pull[i].changes.push(ByteBuf::from(bytes));
                            pull[i].sigs.push(sig);
                        }
                        None => {
                            index.insert(doc.clone(), pull.len());
                            pull.push(DocChanges {
                                doc,
                                changes: vec![ByteBuf::from(bytes)],
                                sigs: vec![sig],
                                by: Vec::new(),
                            });
                        }
                    }
                }
                position = seq;
            }
            if exhausted {
                position = head;
            }
        }
        // Signatures only where a change has one (changes from before signing have none).
        for p in &mut pull {
            if p.sigs.iter().all(|s| s.is_empty()) {
                p.sigs.clear();
            }
        }
        Ok(PullPage {
            pull,
            cursor: u64::try_from(position).unwrap_or(0),
            more,
        })
    }

    /// The kept signature of each change of case `doc`, by change hash.
    async fn case_sigs(&self, doc: &str) -> Result<std::collections::HashMap<String, ByteBuf>> {
        let rows = sqlx::query(
            "SELECT ch.hash, s.sig FROM changes ch JOIN change_sigs s ON s.seq = ch.seq WHERE ch.doc = $1",
        )
        .bind(doc)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, ByteBuf::from(r.try_get::<Vec<u8>, _>(1)?))))
            .collect()
    }

    /// Whether `reader` may see case `id`, judged on the projection.
    pub async fn may_read(&self, reader: &Identity, id: &str) -> Result<bool> {
        let row = self
            .read_row(
                "SELECT id, id, id, id, kind, path, departments FROM cases WHERE id = $1",
                &[id.into()],
            )
            .await?;
        match row {
            Some(r) => visible_row(reader, &r),
            None => Ok(false),
        }
    }
}

/// Reads kind (4), path (5) and departments (6: " lead a b ", every department the case is with)
/// of a projection row and asks the core's rule.
pub(in crate::store) fn visible_row(reader: &Identity, row: &impl Cols) -> Result<bool> {
    let (kind, path, departments) = projected(row)?;
    let departments: Vec<&str> = departments.iter().map(String::as_str).collect();
    Ok(reader.may_read(kind, &path, &departments))
}

/// Kind (4), path (5) and departments (6) of a projection row.
pub(in crate::store) fn projected(
    row: &impl Cols,
) -> Result<(CaseKind, JurisdictionPath, Vec<String>)> {
    let kind: String = row.col(4)?;
    let path: String = row.col(5)?;
    let departments: Option<String> = row.col(6)?;
    let kind =
        CaseKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("kind {kind:?}")))?;
    let path = JurisdictionPath::parse(&path)?;
    let departments = departments
        .as_deref()
        .map(|d| d.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok((kind, path, departments))
}
