//! The push: each pushed case judged against its stored document outside the feed lock, then
//! stored under it; and the server's own writes through the same admission.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gridsync_core::Identity;
use gridsync_core::case::CaseDoc;
use gridsync_core::notice::{self, Audience, NoticeDraft, NoticeKind};
use gridsync_core::protocol::{DocAck, DocChanges, Rejection};
use gridsync_core::taxonomy::Taxonomy;
use serde_bytes::ByteBuf;
use sqlx::AnyConnection;

use super::feed::FeedTx;
use super::judge::{CaseVerdict, judge_case, name_wrong_devices};
use super::{DOC_ROWS_PER_STATEMENT, load_doc, placeholders};
use crate::store::direct::{Arg, Cols as _};
use crate::store::erasure::{KeyRow, write_key_rows};
use crate::store::front_door::FrontDoorRows;
use crate::store::rules::RulesHeld;
use crate::store::{Backend, DeviceContext, Raised, Result, Store, StoreError};

impl Store {
    /// Judges every case `writer` pushed with [`admit`] and stores the outcome in one transaction:
    /// accepted changes into the log (with feed sequence numbers), the document snapshot and the
    /// case projection; refused ones into quarantine. Returns the acknowledgements, which are true
    /// only once this returns (the commit happened).
    ///
    /// [`admit`]: gridsync_core::admission::admit
    pub async fn commit_push(
        &self,
        ctx: &DeviceContext,
        writer: &Identity,
        push: &[DocChanges],
        taxonomy: &Taxonomy,
        now: i64,
    ) -> Result<(Vec<DocAck>, Vec<Rejection>)> {
        let (acks, _) = self
            .commit_push_timed(ctx, writer, push, Beside::default(), taxonomy, now)
            .await?;
        Ok(acks)
    }

    /// [`Store::commit_push`], and how long judging and storing took (`None` for an empty
    /// push). What a sync records beside its push (`beside`: the case keys it carried, the rules
    /// version it holds) is written in the push's transaction.
    pub(super) async fn commit_push_timed(
        &self,
        ctx: &DeviceContext,
        writer: &Identity,
        push: &[DocChanges],
        beside: Beside,
        taxonomy: &Taxonomy,
        now: i64,
    ) -> Result<((Vec<DocAck>, Vec<Rejection>), Option<(Duration, Duration)>)> {
        // A pull-only sync writes no change: it neither queues behind pushes nor takes the
        // feed lock, and only notes that the device was here.
        if push.is_empty() {
            self.note_synced(ctx, &beside, now).await?;
            return Ok(((Vec::new(), Vec::new()), None));
        }
        let _turn = self
            .pushes
            .acquire()
            .await
            .map_err(|_| StoreError::Conflict("the push queue is closed".into()))?;
        // Boxed: the judged documents live on the heap, not in every caller's future (a deep
        // caller, the demo's seeding, overflowed a test thread's stack).
        let started = Instant::now();
        let judged = Box::pin(self.judge_push_keeping(ctx, writer, push, beside, taxonomy)).await?;
        let judging = started.elapsed();
        let stored = self.store_in_group(judged, now).await?;
        Ok((stored, Some((judging, started.elapsed() - judging))))
    }

    /// Records that the device of `ctx` synced at `now`, for a sync that pushed nothing, with
    /// what it records beside (`beside`), in one write. The time is written only when the last
    /// record (read with the context) is older than [`SYNC_NOTED_WITHIN_MS`]: a write takes
    /// SQLite's write lock and a sync to disk, which a phone polling every minute would pay on
    /// every poll. (A push records it in its own transaction.)
    async fn note_synced(&self, ctx: &DeviceContext, beside: &Beside, now: i64) -> Result<()> {
        let device = ctx.device.as_str();
        let stale = ctx
            .synced
            .last_sync_at
            .is_none_or(|t| now - t >= SYNC_NOTED_WITHIN_MS);
        if !stale && beside.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        Beside::write_all(&mut tx, std::slice::from_ref(beside), now).await?;
        if stale {
            sqlx::query("UPDATE devices SET last_sync_at = $1 WHERE id = $2")
                .bind(now)
                .bind(device)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The first half of [`Store::commit_push`]: each case judged against its document as
    /// stored now, before the feed lock, so the Automerge work (parse, apply, read, validate,
    /// save) of concurrent pushes runs on every core and the lock covers only the writes.
    pub async fn judge_push(
        &self,
        ctx: &DeviceContext,
        writer: &Identity,
        push: &[DocChanges],
        taxonomy: &Taxonomy,
    ) -> Result<JudgedPush> {
        self.judge_push_keeping(ctx, writer, push, Beside::default(), taxonomy)
            .await
    }

    /// [`Store::judge_push`], with what to write beside it when it is stored.
    async fn judge_push_keeping(
        &self,
        ctx: &DeviceContext,
        writer: &Identity,
        push: &[DocChanges],
        beside: Beside,
        taxonomy: &Taxonomy,
    ) -> Result<JudgedPush> {
        let ids: Vec<&str> = push.iter().map(|c| c.doc.as_str()).collect();
        let mut stored = Vec::with_capacity(push.len());
        let positions = self.stored_positions(&ids).await?;
        for id in &ids {
            // Most pushes in a morning are new cases: nothing stored, nothing more to read.
            stored.push(match positions.contains_key(*id) {
                false => None,
                true => match self.stored_doc(id).await? {
                    (Some(seq), Some(doc)) => Some((seq, doc)),
                    _ => None,
                },
            });
        }
        let relays = self.relay_devices(&ctx.device, push).await?;
        // A keyed device's signatures, the whole push in one batch verification.
        let checked = ctx.sign_key.as_ref().map(|key| {
            let cases: Vec<(&[ByteBuf], &[ByteBuf])> = push
                .iter()
                .map(|c| (c.changes.as_slice(), c.sigs.as_slice()))
                .collect();
            gridsync_core::evidence::check_push(key, &cases)
        });
        let mut cases = Vec::with_capacity(push.len());
        for (i, (case, stored)) in push.iter().zip(stored).enumerate() {
            let (base, current) = match stored {
                Some((seq, doc)) => (Some(seq), Some(doc)),
                None => (None, None),
            };
            let mut judged = judge_case(
                ctx,
                writer,
                &relays,
                current,
                base,
                case,
                checked.as_ref().map(|c| c[i].as_slice()),
                taxonomy,
            )?;
            name_wrong_devices(self, &ctx.device, &mut judged, case).await?;
            cases.push(judged);
        }
        Ok(JudgedPush {
            pushed: std::sync::Arc::new(Pushed {
                ctx: ctx.clone(),
                writer: writer.clone(),
                push: push.to_vec(),
                beside,
                taxonomy: taxonomy.clone(),
                relays,
            }),
            cases,
        })
    }

    /// The second half of [`Store::commit_push`]: stores what [`Store::judge_push`] decided, in
    /// one transaction under the feed lock. A case that moved since it was judged (another push,
    /// another server) is judged again here, against what is stored.
    pub async fn store_push(
        &self,
        judged: JudgedPush,
        now: i64,
    ) -> Result<(Vec<DocAck>, Vec<Rejection>)> {
        let mut stored = self.store_pushes(vec![(judged, now)]).await?;
        Ok(stored.pop().unwrap_or_default())
    }

    /// Stores one judged push in `feed`'s transaction (not yet committed): what earlier pushes
    /// of the same transaction wrote counts as stored; `positions` are the stored snapshots'
    /// feed positions read in it before the first (see [`JudgedPush::case_ids`]).
    pub(super) async fn store_judged(
        &self,
        feed: &mut FeedTx,
        judged: JudgedPush,
        positions: &HashMap<String, i64>,
        now: i64,
    ) -> Result<(Vec<DocAck>, Vec<Rejection>)> {
        let JudgedPush { pushed, cases } = judged;
        let Pushed {
            ctx,
            writer,
            push,
            beside,
            taxonomy,
            relays,
        } = &*pushed;
        feed.write_beside(beside);
        let mut acks = Vec::new();
        let mut rejections = Vec::new();
        let mut early = cases.into_iter();
        for case in push {
            // Written earlier in this transaction (this push or another of its group): not yet
            // in the table, which the rows reach only at the commit.
            let stored = feed
                .written_at(&case.doc)
                .or_else(|| positions.get(&case.doc).copied());
            let verdict = match early.next() {
                Some(v) if v.base == stored => v,
                _ => {
                    // Moved since it was judged, or named twice in this push (then its first
                    // entry, not yet written, is what it is judged against).
                    let current = match feed.written(&case.doc) {
                        Some(doc) => Some(doc),
                        None => load_doc(&self.cache, &mut feed.tx, &case.doc).await?,
                    };
                    let mut judged =
                        judge_case(ctx, writer, relays, current, stored, case, None, taxonomy)?;
                    name_wrong_devices(self, &ctx.device, &mut judged, case).await?;
                    judged
                }
            };
            let (ack, refused) = feed.store(ctx, writer, verdict, now).await?;
            acks.extend(ack);
            rejections.extend(refused);
        }
        Ok((acks, rejections))
    }

    /// Writes one change on the server's behalf (supervision, a reviewer's console action) through
    /// the same admission as a phone's push. `decide` runs inside the feed lock on the stored
    /// document as it is then, so two servers never take the same decision twice; it edits the
    /// document (its actor already set to `ctx`'s) and returns the new change, or `None` when
    /// there is nothing to do. Returns whether a change was stored; a refusal is quarantined and
    /// returned as an error.
    /// Opens a case the server built whole in `writer`'s name (a clerk's 登记, an intake
    /// channel's order): its changes judged like a phone's push, stored with `rows` (receipt,
    /// work order) in one transaction, so nothing is half-stored. A refusal is quarantined and
    /// returned as [`StoreError::Refused`].
    #[allow(clippy::too_many_arguments)]
    pub async fn open_case(
        &self,
        ctx: &DeviceContext,
        writer: &Identity,
        id: &str,
        doc: &mut CaseDoc,
        rows: &FrontDoorRows,
        taxonomy: &Taxonomy,
        now: i64,
    ) -> Result<()> {
        let all = doc.changes_since(&[]);
        let raw: Vec<ByteBuf> = all
            .iter()
            .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
            .collect();
        let hashes: Vec<_> = all.iter().map(|c| c.hash()).collect();
        let (ctx, sigs) = self.own_signatures(ctx, &hashes).await?;
        let mut feed = FeedTx::begin(self).await?;
        if stored_seqs(&mut feed.tx, &[id]).await?.contains_key(id) {
            return Err(StoreError::Conflict(format!("case {id} exists")));
        }
        let pushed = DocChanges {
            doc: id.to_owned(),
            changes: raw,
            sigs,
            by: Vec::new(),
        };
        let verdict = judge_case(&ctx, writer, &[], None, None, &pushed, None, taxonomy)?;
        let (_, refused) = feed.store(&ctx, writer, verdict, now).await?;
        if let Some(r) = refused.into_iter().next() {
            feed.commit(self, &[ctx.device.as_str()], now).await?;
            return Err(StoreError::Refused {
                code: r.code.as_str(),
                reason: r.reason,
            });
        }
        rows.write(&mut feed.tx, id, now).await?;
        if let (Some((no, _)), Some(code), Some(sms)) =
            (&rows.receipt, &rows.lookup_code, feed.sms())
        {
            let case = doc.read()?;
            let text = notice::requester_text(NoticeKind::Received, no, code, &sms.track_url);
            let draft = NoticeDraft::new(&case, NoticeKind::Received, no, Audience::Requester);
            let mut raised = Raised::of(&case, draft);
            raised.requester_text = Some(text);
            feed.raise(raised);
        }
        feed.commit(self, &[ctx.device.as_str()], now).await?;
        Ok(())
    }

    pub async fn write_case<F>(
        &self,
        ctx: &DeviceContext,
        writer: &Identity,
        id: &str,
        taxonomy: &Taxonomy,
        now: i64,
        decide: F,
    ) -> Result<bool>
    where
        F: FnOnce(&mut CaseDoc) -> gridsync_core::Result<Option<automerge::ChangeHash>>,
    {
        let mut feed = FeedTx::begin(self).await?;
        let Some(current) = load_doc(&self.cache, &mut feed.tx, id).await? else {
            return Err(StoreError::NotFound(format!("case {id}")));
        };
        let actor = ctx
            .actors
            .first()
            .ok_or_else(|| StoreError::Corrupt(format!("device {} has no actor", ctx.device)))?;
        let mut draft = current.clone();
        draft.set_actor(actor.clone());
        let Some(hash) = decide(&mut draft)? else {
            return Ok(false);
        };
        let change = draft
            .change(&hash)
            .ok_or_else(|| StoreError::Corrupt("the new change vanished".into()))?;
        let raw = [ByteBuf::from(change.raw_bytes().to_vec())];
        let (ctx, sigs) = self.own_signatures(ctx, &[hash]).await?;
        let base = stored_seqs(&mut feed.tx, &[id]).await?.get(id).copied();
        let pushed = DocChanges {
            doc: id.to_owned(),
            changes: raw.to_vec(),
            sigs,
            by: Vec::new(),
        };
        let verdict = judge_case(
            &ctx,
            writer,
            &[],
            Some(current),
            base,
            &pushed,
            None,
            taxonomy,
        )?;
        let (_, refused) = feed.store(&ctx, writer, verdict, now).await?;
        feed.commit(self, &[ctx.device.as_str()], now).await?;
        match refused.into_iter().next() {
            None => Ok(true),
            Some(r) => Err(StoreError::Refused {
                code: r.code.as_str(),
                reason: r.reason,
            }),
        }
    }
}

impl Store {
    /// The server's signatures over its own changes `hashes`, when `ctx` is one of its own
    /// devices (it carries the server's key). Any other device's changes the server builds (an
    /// urgent SMS report's first change, authenticated by its MAC) cannot carry the device's
    /// signature: they are judged as a keyless device's, and their receipt names no key.
    async fn own_signatures(
        &self,
        ctx: &DeviceContext,
        hashes: &[automerge::ChangeHash],
    ) -> Result<(DeviceContext, Vec<ByteBuf>)> {
        let key = self.change_key().await?;
        let mut ctx = ctx.clone();
        if ctx.sign_key != Some(key.public()) {
            ctx.sign_key = None;
            return Ok((ctx, Vec::new()));
        }
        let sigs = hashes
            .iter()
            .map(|h| ByteBuf::from(gridsync_core::evidence::sign_change(key.signing(), h).to_vec()))
            .collect();
        Ok((ctx, sigs))
    }
}

/// What a sync records beside its push, in the push's transaction (ADR 0040): one write, not
/// one per record.
#[derive(Debug, Clone, Default)]
pub(super) struct Beside {
    /// The case keys it carried (sorted: those to keep).
    pub(super) keys: Vec<KeyRow>,
    /// The rules version the device holds, when it moved.
    pub(super) rules: Option<RulesHeld>,
}

impl Beside {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.rules.is_none()
    }

    /// Writes what the syncs of `besides` record: a statement for all their keys and one for
    /// all their rules versions, however many pushes a group holds.
    pub(super) async fn write_all(
        conn: &mut AnyConnection,
        besides: &[Beside],
        now: i64,
    ) -> Result<()> {
        // A key two pushes carried is kept as the first brought it: `DO NOTHING` skips a row
        // an earlier one of the same statement inserted, on both backends.
        let keys: Vec<&KeyRow> = besides.iter().flat_map(|b| &b.keys).collect();
        write_key_rows(conn, &keys, now).await?;
        let rules: Vec<&RulesHeld> = besides.iter().filter_map(|b| b.rules.as_ref()).collect();
        RulesHeld::write_all(conn, &rules).await
    }
}

/// How fresh a device's `last_sync_at` is kept by syncs that push nothing (the console shows it
/// to the minute).
const SYNC_NOTED_WITHIN_MS: i64 = 60_000;

/// A push judged by [`Store::judge_push`], to be stored by [`Store::store_push`] or with others
/// in one group commit. It owns what it was judged from, so another push's task may store it.
#[derive(Debug)]
pub struct JudgedPush {
    pub(super) pushed: std::sync::Arc<Pushed>,
    /// One per case of the push, in order.
    cases: Vec<CaseVerdict>,
}

/// What a push was judged from: enough to judge it again.
#[derive(Debug)]
pub(super) struct Pushed {
    pub(super) ctx: DeviceContext,
    pub(super) writer: Identity,
    pub(super) push: Vec<DocChanges>,
    /// What the sync records beside the push, in the same transaction.
    beside: Beside,
    pub(super) taxonomy: Taxonomy,
    /// The author devices of the colleagues' changes `push` carries.
    relays: Vec<DeviceContext>,
}

impl JudgedPush {
    /// The cases this push names.
    pub(super) fn case_ids(&self) -> impl Iterator<Item = &str> {
        self.pushed.push.iter().map(|c| c.doc.as_str())
    }
}

impl Store {
    /// Judges `pushed` again from the start (after its group's transaction failed).
    pub(super) async fn judge_again(&self, pushed: &Pushed) -> Result<JudgedPush> {
        self.judge_push_keeping(
            &pushed.ctx,
            &pushed.writer,
            &pushed.push,
            pushed.beside.clone(),
            &pushed.taxonomy,
        )
        .await
    }
}

impl Store {
    /// The feed positions of the stored snapshots of cases `ids` (those the server has), as
    /// stored now: one read.
    async fn stored_positions(&self, ids: &[&str]) -> Result<HashMap<String, i64>> {
        let mut found = HashMap::new();
        for ids in ids.chunks(DOC_ROWS_PER_STATEMENT) {
            let args: Vec<Arg> = ids.iter().map(|id| Arg::from(*id)).collect();
            for row in self
                .read_rows(&stored_seqs_sql(self.backend, ids.len()), &args)
                .await?
            {
                found.insert(row.col(0)?, row.col(1)?);
            }
        }
        Ok(found)
    }
}

/// The feed positions of the stored snapshots of cases `ids` (those the server has), as this
/// transaction sees them: one query.
pub(super) async fn stored_seqs(
    conn: &mut AnyConnection,
    ids: &[&str],
) -> Result<HashMap<String, i64>> {
    let mut found = HashMap::new();
    for ids in ids.chunks(DOC_ROWS_PER_STATEMENT) {
        let sql = stored_seqs_sql(Backend::of(conn), ids.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            found.insert(row.col(0)?, row.col(1)?);
        }
    }
    Ok(found)
}

fn stored_seqs_sql(backend: Backend, ids: usize) -> String {
    format!(
        "SELECT id, upto_seq FROM docs WHERE id IN {}",
        placeholders(backend, 1, ids)
    )
}
