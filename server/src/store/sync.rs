//! The sync transaction: pushed changes judged, stored, projected and fed on; and the pull.

use gridsync_core::admission::{DeviceAuthority, Verdict, admit};
use gridsync_core::case::Case;
use gridsync_core::case::{CaseDoc, ChangeAuthor};
use gridsync_core::protocol::{
    DocAck, DocChanges, DocHeads, Rejection, SyncRequest, SyncResponse, hash_bytes, to_hash,
};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::workflow::{self, WorkflowState};
use gridsync_core::{CaseKind, Identity, JurisdictionPath};
use serde_bytes::ByteBuf;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::cache::DocCache;
use super::{DeviceContext, Result, Store, StoreError};

/// Feed rows read per query while filling a page.
const SCAN_BATCH: i64 = 500;
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
    /// One round trip: the push committed, then the pull read, as one response. `reader` is the
    /// signed-in account the request speaks for; it decides what comes back.
    pub async fn sync(
        &self,
        ctx: &DeviceContext,
        reader: &Identity,
        req: &SyncRequest,
        taxonomy: &Taxonomy,
        now: i64,
    ) -> Result<SyncResponse> {
        let (accepted, rejected) = self
            .commit_push(ctx, reader, &req.push, taxonomy, now)
            .await?;
        let page = self
            .pull(reader, &ctx.device, req.cursor, &req.want, req.page_bytes)
            .await?;
        Ok(SyncResponse {
            accepted,
            rejected,
            pull: page.pull,
            cursor: page.cursor,
            more: page.more,
            server_time: now,
        })
    }

    /// Judges every case `writer` pushed with [`admit`] and stores the outcome in one transaction:
    /// accepted changes into the log (with feed sequence numbers), the document snapshot and the
    /// case projection; refused ones into quarantine. Returns the acknowledgements, which are true
    /// only once this returns (the commit happened).
    pub async fn commit_push(
        &self,
        ctx: &DeviceContext,
        writer: &Identity,
        push: &[DocChanges],
        taxonomy: &Taxonomy,
        now: i64,
    ) -> Result<(Vec<DocAck>, Vec<Rejection>)> {
        // A pull-only sync holds no judged documents: it does not queue behind pushes.
        let _turn = match push.is_empty() {
            true => None,
            false => Some(
                self.pushes
                    .acquire()
                    .await
                    .map_err(|_| StoreError::Conflict("the push queue is closed".into()))?,
            ),
        };
        let judged = self.judge_push(ctx, writer, push, taxonomy).await?;
        self.store_push(judged, now).await
    }

    /// The first half of [`Store::commit_push`]: each case judged against its document as
    /// stored now, before the feed lock, so the Automerge work (parse, apply, read, validate,
    /// save) of concurrent pushes runs on every core and the lock covers only the writes.
    pub async fn judge_push<'a>(
        &self,
        ctx: &'a DeviceContext,
        writer: &'a Identity,
        push: &'a [DocChanges],
        taxonomy: &'a Taxonomy,
    ) -> Result<JudgedPush<'a>> {
        let mut cases = Vec::with_capacity(push.len());
        for case in push {
            let (base, current) = self.stored_doc(&case.doc).await?;
            cases.push(judge_case(
                ctx,
                writer,
                current,
                base,
                &case.doc,
                &case.changes,
                taxonomy,
            )?);
        }
        Ok(JudgedPush {
            ctx,
            writer,
            push,
            taxonomy,
            cases,
        })
    }

    /// The second half of [`Store::commit_push`]: stores what [`Store::judge_push`] decided, in
    /// one transaction under the feed lock. A case that moved since it was judged (another push,
    /// another server) is judged again here, against what is stored.
    pub async fn store_push(
        &self,
        judged: JudgedPush<'_>,
        now: i64,
    ) -> Result<(Vec<DocAck>, Vec<Rejection>)> {
        let JudgedPush {
            ctx,
            writer,
            push,
            taxonomy,
            cases,
        } = judged;
        let mut feed = FeedTx::begin(self).await?;
        let mut acks = Vec::new();
        let mut rejections = Vec::new();
        let mut early = cases.into_iter();
        for case in push {
            let stored = stored_seq(&mut feed.tx, &case.doc).await?;
            let verdict = match early.next() {
                Some(v) if v.base == stored => v,
                _ => {
                    let current = load_doc(&self.cache, &mut feed.tx, &case.doc).await?;
                    judge_case(
                        ctx,
                        writer,
                        current,
                        stored,
                        &case.doc,
                        &case.changes,
                        taxonomy,
                    )?
                }
            };
            let (ack, refused) = feed.store(ctx, writer, verdict, now).await?;
            acks.extend(ack);
            rejections.extend(refused);
        }
        feed.commit(self, &ctx.device, now).await?;
        Ok((acks, rejections))
    }

    /// Writes one change on the server's behalf (supervision, a reviewer's console action) through
    /// the same admission as a phone's push. `decide` runs inside the feed lock on the stored
    /// document as it is then, so two servers never take the same decision twice; it edits the
    /// document (its actor already set to `ctx`'s) and returns the new change, or `None` when
    /// there is nothing to do. Returns whether a change was stored; a refusal is quarantined and
    /// returned as an error.
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
        let base = stored_seq(&mut feed.tx, id).await?;
        let verdict = judge_case(ctx, writer, Some(current), base, id, &raw, taxonomy)?;
        let (_, refused) = feed.store(ctx, writer, verdict, now).await?;
        feed.commit(self, &ctx.device, now).await?;
        match refused.into_iter().next() {
            None => Ok(true),
            Some(r) => Err(StoreError::Refused {
                code: r.code.as_str(),
                reason: r.reason,
            }),
        }
    }

    /// The server's own device, with a fresh actor id for this process: every server on a
    /// database writes with its own actor, so their changes never collide.
    pub async fn server_device(&self, now: i64) -> Result<DeviceContext> {
        let actor = automerge::ActorId::random();
        let mut tx = self.pool.begin().await?;
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
        })
    }

    /// The page of the change feed after `cursor` that `reader` may see, without the device's
    /// own changes, plus the repairs it asked for (`want`).
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
                let changes: Vec<ByteBuf> = doc
                    .changes_since(&heads)
                    .iter()
                    .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                    .collect();
                size += changes.iter().map(|c| c.len()).sum::<usize>();
                pull.push(DocChanges {
                    doc: w.doc.clone(),
                    changes,
                });
            }
        }
        let head: i64 = sqlx::query("SELECT value FROM counters WHERE name = 'feed'")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
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
        let mut sql = super::cases::Sql::new();
        let scope = super::cases::scoped(&reader.read_filter(), &mut sql);
        // Two ways to the same rows, whichever reads fewer: from the scope's cases (index
        // `cases_scope`, then `changes_doc` after the cursor) when the scope holds fewer cases
        // than the feed has new changes — a phone after a morning storm — or along the feed
        // from the cursor when the scope is wide and the phone nearly up to date. SQLite keeps
        // the join order of a CROSS JOIN; PostgreSQL plans either itself.
        let mut count = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM cases WHERE {scope}"
        )));
        for a in &sql.args {
            count = count.bind(a.clone());
        }
        let in_scope: i64 = count.fetch_one(&self.pool).await?.try_get(0)?;
        let own = sql.arg(device);
        let from = if in_scope < head - position {
            "cases c CROSS JOIN changes ch"
        } else {
            "changes ch CROSS JOIN cases c"
        };
        'scan: while position < head {
            // Numbers inline (i64s, not user text); the text arguments are bound.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT ch.seq, ch.doc, ch.device_id, ch.bytes, c.kind, c.path, c.department
                 FROM {from}
                 WHERE c.id = ch.doc AND ch.seq > {position} AND ch.seq <= {head}
                   AND ch.device_id <> {own} AND {scope}
                 ORDER BY ch.seq LIMIT {SCAN_BATCH}"
            )));
            for a in &sql.args {
                query = query.bind(a.clone());
            }
            let rows = query.fetch_all(&self.pool).await?;
            let exhausted = (rows.len() as i64) < SCAN_BATCH;
            for row in &rows {
                if size >= budget {
                    more = true;
                    break 'scan;
                }
                let seq: i64 = row.try_get(0)?;
                let doc: String = row.try_get(1)?;
                let from: String = row.try_get(2)?;
                let visible = from != device && visible_row(reader, row)?;
                if visible {
                    let bytes: Vec<u8> = row.try_get(3)?;
                    size += bytes.len();
                    match index.get(&doc) {
                        Some(&i) => pull[i].changes.push(ByteBuf::from(bytes)),
                        None => {
                            index.insert(doc.clone(), pull.len());
                            pull.push(DocChanges {
                                doc,
                                changes: vec![ByteBuf::from(bytes)],
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
        Ok(PullPage {
            pull,
            cursor: u64::try_from(position).unwrap_or(0),
            more,
        })
    }

    /// Whether `reader` may see case `id`, judged on the projection.
    pub async fn may_read(&self, reader: &Identity, id: &str) -> Result<bool> {
        let row =
            sqlx::query("SELECT id, id, id, id, kind, path, department FROM cases WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(r) => visible_row(reader, &r),
            None => Ok(false),
        }
    }

    /// The stored document of a case.
    pub async fn case_doc(&self, id: &str) -> Result<Option<CaseDoc>> {
        Ok(self.stored_doc(id).await?.1)
    }

    /// A case's document as stored now and the feed position of its snapshot (`None`, `None`
    /// when the server does not have it). Read outside the feed lock: it may move right after.
    async fn stored_doc(&self, id: &str) -> Result<(Option<i64>, Option<CaseDoc>)> {
        let mut conn = self.pool.acquire().await?;
        Ok(match load_doc_at(&self.cache, &mut conn, id).await? {
            Some((seq, doc)) => (Some(seq), Some(doc)),
            None => (None, None),
        })
    }

    /// Number of accepted changes in the log.
    pub async fn change_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT count(*) FROM changes")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

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

/// One write transaction holding the feed lock: changes get consecutive feed numbers, documents
/// are cached only after the commit made them true.
struct FeedTx {
    tx: Transaction<'static, Any>,
    head: i64,
    saved: Vec<(String, i64, CaseDoc)>,
}

impl FeedTx {
    async fn begin(store: &Store) -> Result<FeedTx> {
        let mut tx = store.pool.begin().await?;
        // Taking the feed counter first serialises writers: sequence numbers commit in order, so
        // a device's cursor never skips a change that commits late.
        let head: i64 =
            sqlx::query("UPDATE counters SET value = value WHERE name = 'feed' RETURNING value")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        Ok(FeedTx {
            tx,
            head,
            saved: Vec::new(),
        })
    }

    /// Stores one judged case (log, snapshot, projection, quarantine) in this transaction.
    async fn store(
        &mut self,
        ctx: &DeviceContext,
        writer: &Identity,
        judged: CaseVerdict,
        now: i64,
    ) -> Result<(Option<DocAck>, Vec<Rejection>)> {
        let CaseVerdict {
            doc_id,
            verdict,
            written,
            ..
        } = judged;
        let mut hashes: Vec<ByteBuf> = verdict.duplicates.iter().map(hash_bytes).collect();
        for change in &verdict.accepted {
            self.head += 1;
            let author = ChangeAuthor::of_change(change);
            sqlx::query(
                "INSERT INTO changes (seq, doc, hash, actor, device_id, user_id, device_time, received_at, bytes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(self.head)
            .bind(&doc_id)
            .bind(change.hash().to_string())
            .bind(change.actor_id().to_hex_string())
            .bind(&ctx.device)
            .bind(author.map(|a| a.user).unwrap_or_else(|| writer.user.clone()))
            .bind(change.timestamp())
            .bind(now)
            .bind(change.raw_bytes().to_vec())
            .execute(&mut *self.tx)
            .await?;
            hashes.push(hash_bytes(&change.hash()));
        }
        if let Some(Written {
            doc,
            snapshot,
            projection,
        }) = written
        {
            // Who added each reference decides whether it lets the case's readers see the blob.
            for sha256 in &verdict.added_attachments {
                sqlx::query(
                    "INSERT INTO blob_refs (case_id, sha256, user_id) VALUES ($1, $2, $3)
                     ON CONFLICT (case_id, sha256, user_id) DO NOTHING",
                )
                .bind(&doc_id)
                .bind(sha256)
                .bind(&writer.user)
                .execute(&mut *self.tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO docs (id, snapshot, upto_seq) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, upto_seq = excluded.upto_seq",
            )
            .bind(&doc_id)
            .bind(snapshot)
            .bind(self.head)
            .execute(&mut *self.tx)
            .await?;
            projection
                .write(&mut self.tx, &doc_id, self.head, now)
                .await?;
            self.saved.push((doc_id.clone(), self.head, doc));
        }
        let mut rejections = Vec::new();
        for refused in verdict.refused {
            let hash = refused.hash.map(|h| h.to_string()).unwrap_or_default();
            sqlx::query(
                "INSERT INTO quarantine (id, doc, hash, device_id, user_id, code, reason, received_at, bytes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&doc_id)
            .bind(&hash)
            .bind(&ctx.device)
            .bind(&writer.user)
            .bind(refused.code.as_str())
            .bind(&refused.reason)
            .bind(now)
            .bind(refused.bytes)
            .execute(&mut *self.tx)
            .await?;
            tracing::info!(doc = %doc_id, device = %ctx.device, code = refused.code.as_str(), "change quarantined");
            rejections.push(Rejection {
                doc: doc_id.clone(),
                hash: refused.hash.as_ref().map(hash_bytes).unwrap_or_default(),
                code: refused.code,
                reason: refused.reason,
            });
        }
        let ack = (!hashes.is_empty()).then_some(DocAck {
            doc: doc_id,
            hashes,
        });
        Ok((ack, rejections))
    }

    async fn commit(mut self, store: &Store, device: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE counters SET value = $1 WHERE name = 'feed'")
            .bind(self.head)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("UPDATE devices SET last_sync_at = $1 WHERE id = $2")
            .bind(now)
            .bind(device)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        for (id, seq, doc) in self.saved {
            store.cache.put(&id, seq, doc);
        }
        Ok(())
    }
}

/// Reads kind (4), path (5) and department (6) of a projection row and asks the core's rule.
pub(super) fn visible_row(reader: &Identity, row: &sqlx::any::AnyRow) -> Result<bool> {
    let kind: String = row.try_get(4)?;
    let path: String = row.try_get(5)?;
    let department: Option<String> = row.try_get(6)?;
    let kind =
        CaseKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("kind {kind:?}")))?;
    let path = JurisdictionPath::parse(&path)?;
    Ok(reader.may_read(kind, &path, department.as_deref()))
}

/// The stored document of a case and the feed position of its snapshot: from the cache when it
/// holds this very version, else parsed from its snapshot. The snapshot is written in the same
/// transaction as the changes it holds, so it is always complete.
async fn load_doc_at(
    cache: &DocCache,
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<(i64, CaseDoc)>> {
    let Some(row) = sqlx::query("SELECT upto_seq FROM docs WHERE id = $1")
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
    let row = sqlx::query("SELECT upto_seq, snapshot FROM docs WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = row.try_get(0)?;
    let bytes: Vec<u8> = row.try_get(1)?;
    let doc = CaseDoc::load(&bytes)?;
    cache.put(id, seq, doc.clone());
    Ok(Some((seq, doc)))
}

async fn load_doc(cache: &DocCache, conn: &mut AnyConnection, id: &str) -> Result<Option<CaseDoc>> {
    Ok(load_doc_at(cache, conn, id).await?.map(|(_, doc)| doc))
}

/// A push judged by [`Store::judge_push`], to be stored by [`Store::store_push`].
#[derive(Debug)]
pub struct JudgedPush<'a> {
    ctx: &'a DeviceContext,
    writer: &'a Identity,
    push: &'a [DocChanges],
    taxonomy: &'a Taxonomy,
    /// One per case of `push`, in order.
    cases: Vec<CaseVerdict>,
}

/// One case of a push, judged: what `admit` said, against the stored version `base` (the feed
/// position of its snapshot; `None` for a case the server does not have).
#[derive(Debug)]
struct CaseVerdict {
    doc_id: String,
    base: Option<i64>,
    verdict: Verdict,
    written: Option<Written>,
}

/// What an accepted case writes, computed before the feed lock.
#[derive(Debug)]
struct Written {
    doc: CaseDoc,
    snapshot: Vec<u8>,
    projection: Projection,
}

/// Runs admission for one case of a push and prepares what it writes (CPU only, no database).
fn judge_case(
    ctx: &DeviceContext,
    writer: &Identity,
    mut current: Option<CaseDoc>,
    base: Option<i64>,
    doc_id: &str,
    changes: &[ByteBuf],
    taxonomy: &Taxonomy,
) -> Result<CaseVerdict> {
    // Only the account whose token this is may write: a phone holding another user's offline
    // changes pushes them when that user signs in again.
    let authority = DeviceAuthority {
        actors: &ctx.actors,
        users: std::slice::from_ref(writer),
    };
    let mut verdict = admit(current.as_mut(), doc_id, changes, &authority, taxonomy);
    let written = match (verdict.doc.take(), verdict.case.take()) {
        (Some(mut doc), Some(case)) => Some(Written {
            snapshot: verdict.snapshot.take().unwrap_or_else(|| doc.save()),
            projection: Projection::of(&doc, case)?,
            doc,
        }),
        _ => None,
    };
    Ok(CaseVerdict {
        doc_id: doc_id.to_owned(),
        base,
        verdict,
        written,
    })
}

/// The feed position of a case's stored snapshot, as this transaction sees it.
async fn stored_seq(tx: &mut Transaction<'static, Any>, id: &str) -> Result<Option<i64>> {
    Ok(sqlx::query("SELECT upto_seq FROM docs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
}

/// Writes the case's row of the projection, derived from its document only.
pub(super) async fn project(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    doc: &CaseDoc,
    seq: i64,
    updated_at: i64,
) -> Result<()> {
    Projection::of(doc, doc.read()?)?
        .write(tx, id, seq, updated_at)
        .await
}

/// A case's row of the projection (and its attachment references), computed from its document.
#[derive(Debug)]
struct Projection {
    case: Case,
    workflow: WorkflowState,
    field_conflicts: i64,
}

impl Projection {
    fn of(doc: &CaseDoc, case: Case) -> Result<Projection> {
        Ok(Projection {
            workflow: workflow::fold(&case.events),
            field_conflicts: doc.conflicts().len() as i64,
            case,
        })
    }

    async fn write(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
        seq: i64,
        updated_at: i64,
    ) -> Result<()> {
        let (case, wf, field_conflicts) = (&self.case, &self.workflow, self.field_conflicts);
        let j = &case.jurisdiction;
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        sqlx::query(
            "INSERT INTO cases (id, kind, category, title, status, level, path, county, township, village, grid,
                 department, reporter, created_at, updated_at, field_conflicts, workflow_conflicts, reopen_count,
                 accountability, supervision_count, rating, last_seq, due_at, clock_started_at, supervised_level,
                 accepted_at, resolved_at, resolved_on_time, resolved_level, mediation_result, referral)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
                 $23, $24, $25, $26, $27, $28, $29, $30, $31)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, category = excluded.category, title = excluded.title,
                 status = excluded.status, level = excluded.level, path = excluded.path, county = excluded.county,
                 township = excluded.township, village = excluded.village, grid = excluded.grid,
                 department = excluded.department, updated_at = excluded.updated_at,
                 field_conflicts = excluded.field_conflicts, workflow_conflicts = excluded.workflow_conflicts,
                 reopen_count = excluded.reopen_count, accountability = excluded.accountability,
                 supervision_count = excluded.supervision_count, rating = excluded.rating, last_seq = excluded.last_seq,
                 due_at = excluded.due_at, clock_started_at = excluded.clock_started_at,
                 supervised_level = excluded.supervised_level, accepted_at = excluded.accepted_at,
                 resolved_at = excluded.resolved_at, resolved_on_time = excluded.resolved_on_time,
                 resolved_level = excluded.resolved_level, mediation_result = excluded.mediation_result,
                 referral = excluded.referral",
        )
        .bind(id)
        .bind(case.kind.as_str())
        .bind(&case.category)
        .bind(&case.title)
        .bind(wf.status.as_str())
        .bind(wf.level.as_str())
        .bind(j.to_string())
        .bind(j.county().to_owned())
        .bind(j.township().map(str::to_owned))
        .bind(j.village().map(str::to_owned))
        .bind(j.grid().map(str::to_owned))
        .bind(wf.department.clone())
        .bind(&case.reporter.user)
        .bind(case.created_at)
        .bind(updated_at)
        .bind(field_conflicts)
        .bind(i64::try_from(wf.conflicts.len()).unwrap_or(i64::MAX))
        .bind(i64::from(wf.reopen_count))
        .bind(i64::from(wf.accountability))
        .bind(i64::from(wf.supervision_count))
        .bind(wf.rating.map(|r| r.as_str().to_owned()))
        .bind(seq)
        .bind(wf.due)
        .bind(wf.clock_started)
        .bind(wf.supervised_level.map(|l| l.as_str().to_owned()))
        .bind(wf.accepted_at)
        .bind(wf.resolved_at)
        .bind(wf.resolved_on_time.map(i64::from))
        .bind(wf.resolved_level.map(|l| l.as_str().to_owned()))
        .bind(nonempty(&case.mediation.result))
        .bind(nonempty(&case.mediation.referral))
        .execute(&mut **tx)
        .await?;
        // Attachments only grow (a list in the document): the references are added, never removed.
        for a in &case.attachments {
            sqlx::query(
                "INSERT INTO case_blobs (case_id, sha256) VALUES ($1, $2) ON CONFLICT (case_id, sha256) DO NOTHING",
            )
            .bind(id)
            .bind(&a.sha256)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
