//! The sync transaction: pushed changes judged, stored, projected and fed on; and the pull.
//! This file holds the round trip's entry, the server's own devices, reading a stored document
//! and the multi-row statement helpers the parts share.

mod feed;
mod group;
mod judge;
mod projection;
mod pull;
mod push;
mod quarantine;
mod release;

use std::time::{Duration, Instant};

use gridsync_core::Identity;
use gridsync_core::case::CaseDoc;
use gridsync_core::protocol::{SyncRequest, SyncResponse};
use sqlx::{AnyConnection, Row};

use super::cache::DocCache;
use super::direct::{Arg, Cols};
use super::notices::NOTICES_PER_SYNC;
use super::{Backend, DeviceContext, Result, Store};

pub(super) use group::GroupCommit;
pub(super) use projection::project;
pub use pull::PullPage;
pub(super) use pull::{projected, visible_row};
pub use push::JudgedPush;
pub use quarantine::{
    DEVICE_BUDGET_BYTES, DeviceQuarantine, KEEP_HEAD_BYTES, KEEP_WHOLE_BYTES, QuarantineEntry,
    QuarantineTotals, TOTAL_BUDGET_BYTES,
};
pub use release::Released;

/// How long the timed phases of one round trip took (the server's `/metrics`): judging and
/// storing the push (`None` when nothing was pushed), and reading the pull.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    pub judge: Option<Duration>,
    pub commit: Option<Duration>,
    pub pull: Duration,
}

impl Store {
    /// One round trip: the push committed, then the pull read, as one response. `reader` is the
    /// signed-in account the request speaks for; it decides what comes back. Pushes are judged
    /// under the rules in force (with earlier versions' categories), and the rules ride the
    /// response only when the device holds an older version (ADR 0020).
    pub async fn sync(
        &self,
        ctx: &DeviceContext,
        reader: &Identity,
        req: &SyncRequest,
        now: i64,
    ) -> Result<SyncResponse> {
        Ok(self.sync_timed(ctx, reader, req, now).await?.0)
    }

    /// [`Store::sync`], and how long its phases took.
    pub async fn sync_timed(
        &self,
        ctx: &DeviceContext,
        reader: &Identity,
        req: &SyncRequest,
        now: i64,
    ) -> Result<(SyncResponse, PhaseTimes)> {
        if let Some(stale) = self.stale_generation(&ctx.device, req, now).await? {
            return Ok((stale, PhaseTimes::default()));
        }
        let live = self.rules().await?;
        // Keys before the push: a new case's key comes with its first change.
        let keys = self.sort_case_keys(reader, &req.keys).await?;
        let keys_taken = keys.taken;
        let (rules_held, rules_version) =
            Store::device_rules(&ctx.device, ctx.synced.rules_held, req.rules);
        let beside = push::Beside {
            keys: keys.rows,
            rules: rules_held,
        };
        let ((accepted, rejected), pushed) = self
            .commit_push_timed(ctx, reader, &req.push, beside, &live.admission, now)
            .await?;
        let pulling = Instant::now();
        let page = self
            .pull(reader, &ctx.device, req.cursor, &req.want, req.page_bytes)
            .await?;
        let times = PhaseTimes {
            judge: pushed.map(|(judge, _)| judge),
            commit: pushed.map(|(_, commit)| commit),
            pull: pulling.elapsed(),
        };
        // Notices ride the same round trip; an app that does not ask (an older one) gets none.
        let notices = match req.notices_after {
            None => Vec::new(),
            Some(after) => {
                if !req.notices_read.is_empty() {
                    let read = &req.notices_read[..req.notices_read.len().min(NOTICES_PER_SYNC)];
                    self.mark_notices_read(&reader.user, Some(read), now)
                        .await?;
                }
                self.notices_after(&reader.user, after).await?
            }
        };
        // The keys of the pulled cases, and the erasures this device has not applied.
        let case_keys = match &ctx.sign_key {
            Some(device_key) if !page.pull.is_empty() => {
                let cases: Vec<&str> = page.pull.iter().map(|p| p.doc.as_str()).collect();
                self.keys_for_reader(reader, device_key, &cases).await?
            }
            _ => Vec::new(),
        };
        let (certificate, revoked) = self
            .certificate_for(ctx, reader, req.certificate_until, now)
            .await?;
        let (erased, erased_upto) = match req.erased_after {
            Some(after) => self.erasures_after(reader, after).await?,
            None => (Vec::new(), 0),
        };
        let recovered = self.recovered(reader, &ctx.device, &req.recover).await?;
        let returned = accepted.iter().map(|a| a.hashes.len()).sum();
        self.note_recovery(&ctx.device, req, returned, now).await?;
        let generation = self.generation().await?;
        let resp = SyncResponse {
            generation: (req.generation.as_deref() != Some(generation.id.as_str()))
                .then_some(generation),
            recovered,
            accepted,
            rejected,
            pull: page.pull,
            cursor: page.cursor,
            more: page.more,
            server_time: now,
            rules: crate::store::rules::rules_update(rules_version, &live.rules),
            notices,
            case_keys,
            erased,
            erased_upto: req.erased_after.map(|_| erased_upto),
            server_key: Some(self.change_key().await?.public().to_bytes().to_vec().into()),
            keys_taken,
            certificate,
            revoked,
        };
        Ok((resp, times))
    }

    /// The server's own device, with a fresh actor id for this process: every server on a
    /// database writes with its own actor, so their changes never collide.
    pub async fn server_device(&self, now: i64) -> Result<DeviceContext> {
        let actor = automerge::ActorId::random();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO devices (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(SERVER_DEVICE)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO device_actors (actor, device_id) VALUES ($1, $2)")
            .bind(actor.to_hex_string())
            .bind(SERVER_DEVICE)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeviceContext {
            device: SERVER_DEVICE.to_owned(),
            actors: vec![actor],
            users: Vec::new(),
            revoked: false,
            sign_key: Some(self.change_key().await?.public()),
            synced: Default::default(),
        })
    }

    /// The stored document of a case.
    pub async fn case_doc(&self, id: &str) -> Result<Option<CaseDoc>> {
        Ok(self.stored_doc(id).await?.1)
    }

    /// A case's document as stored now and the feed position of its snapshot (`None`, `None`
    /// when the server does not have it). Read outside the feed lock: it may move right after.
    pub(super) async fn stored_doc(&self, id: &str) -> Result<(Option<i64>, Option<CaseDoc>)> {
        let arg = [Arg::from(id)];
        let Some(row) = self.read_row(DOC_POSITION, &arg).await? else {
            return Ok((None, None));
        };
        let seq: i64 = row.col(0)?;
        if let Some(doc) = self.cache.get(id, seq) {
            return Ok((Some(seq), Some(doc)));
        }
        let Some(row) = self.read_row(DOC_SNAPSHOT, &arg).await? else {
            return Ok((None, None));
        };
        let (seq, doc) = parsed(&self.cache, id, &row)?;
        Ok((Some(seq), Some(doc)))
    }
}

/// The device id of the server's own changes (supervision); console actions carry the
/// reviewer's `console-<user>` device. Both use actors registered to this device.
pub const SERVER_DEVICE: &str = "server";

/// The device a reviewer's console writes from.
pub fn console_device_id(user: &str) -> String {
    format!("console-{user}")
}

/// Ids of the server's own devices (its actor, consoles): no phone may sign in as one.
pub fn is_server_device(device: &str) -> bool {
    device == SERVER_DEVICE || device.starts_with("console")
}

/// The stored document of a case and the feed position of its snapshot: from the cache when it
/// holds this very version, else parsed from its snapshot. The snapshot is written in the same
/// transaction as the changes it holds, so it is always complete.
async fn load_doc_at(
    cache: &DocCache,
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<(i64, CaseDoc)>> {
    let Some(row) = sqlx::query(DOC_POSITION)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let seq: i64 = row.try_get(0)?;
    if let Some(doc) = cache.get(id, seq) {
        return Ok(Some((seq, doc)));
    }
    // Position and snapshot read together: outside the feed lock another server may have moved
    // the case since the first query.
    let row = sqlx::query(DOC_SNAPSHOT)
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Some(parsed(cache, id, &row)?))
}

const DOC_POSITION: &str = "SELECT upto_seq FROM docs WHERE id = $1";
const DOC_SNAPSHOT: &str = "SELECT upto_seq, snapshot FROM docs WHERE id = $1";

/// A case's document from a [`DOC_SNAPSHOT`] row, kept in the cache.
fn parsed(cache: &DocCache, id: &str, row: &impl Cols) -> Result<(i64, CaseDoc)> {
    let seq: i64 = row.col(0)?;
    let bytes: Vec<u8> = row.col(1)?;
    let doc = CaseDoc::load(&bytes)?;
    cache.put(id, seq, doc.clone());
    Ok((seq, doc))
}

async fn load_doc(cache: &DocCache, conn: &mut AnyConnection, id: &str) -> Result<Option<CaseDoc>> {
    Ok(load_doc_at(cache, conn, id).await?.map(|(_, doc)| doc))
}

/// Rows per multi-row statement: within SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const CHANGE_ROWS_PER_STATEMENT: usize = 500;
const DOC_ROWS_PER_STATEMENT: usize = 200;

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` values; `(?, ?), (?, ?)` on SQLite, where
/// binding a numbered parameter looks its name up in a list of all of them (sqlx asks for every
/// parameter's name), which made a 200-row statement quadratic in its 6,200 parameters.
pub(in crate::store) fn placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    placeholders_after(backend, 0, rows, columns)
}

/// [`placeholders`] for values bound after `before` others (`$3, $4` after two on PostgreSQL;
/// SQLite's `?` counts by place, so the earlier ones must come first in the text too).
pub(in crate::store) fn placeholders_after(
    backend: Backend,
    before: usize,
    rows: usize,
    columns: usize,
) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => out.push_str(&format!("${}", before + r * columns + c + 1)),
            }
        }
        out.push(')');
    }
    out
}
