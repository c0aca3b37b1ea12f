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
use super::{Backend, DeviceContext, Result, Store, StoreError};

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
        let ids: Vec<&str> = push.iter().map(|c| c.doc.as_str()).collect();
        let mut stored = Vec::with_capacity(push.len());
        {
            let mut conn = self.pool.acquire().await?;
            let positions = stored_seqs(&mut conn, &ids).await?;
            for id in &ids {
                // Most pushes in a morning are new cases: nothing stored, nothing more to read.
                stored.push(match positions.get(*id) {
                    None => None,
                    Some(_) => load_doc_at(&self.cache, &mut conn, id).await?,
                });
            }
        }
        let mut cases = Vec::with_capacity(push.len());
        for (case, stored) in push.iter().zip(stored) {
            let (base, current) = match stored {
                Some((seq, doc)) => (Some(seq), Some(doc)),
                None => (None, None),
            };
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
        let ids: Vec<&str> = push.iter().map(|c| c.doc.as_str()).collect();
        let mut positions = stored_seqs(&mut feed.tx, &ids).await?;
        for case in push {
            let stored = positions.get(&case.doc).copied();
            let verdict = match early.next() {
                Some(v) if v.base == stored => v,
                _ => {
                    // Moved since it was judged, or named twice in this push (then its first
                    // entry, not yet written, is what it is judged against).
                    let current = match feed.written(&case.doc) {
                        Some(doc) => Some(doc),
                        None => load_doc(&self.cache, &mut feed.tx, &case.doc).await?,
                    };
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
            if let Some(seq) = feed.written_at(&case.doc) {
                positions.insert(case.doc.clone(), seq);
            }
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
        let base = stored_seqs(&mut feed.tx, &[id]).await?.get(id).copied();
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
        // The feed positions are bound after the text arguments, not written into the text: the
        // same text every time, so each connection prepares it once (statement cache).
        let (after, upto) = (sql.args.len() + 1, sql.args.len() + 2);
        let scan = format!(
            "SELECT ch.seq, ch.doc, ch.device_id, ch.bytes, c.kind, c.path, c.department
             FROM {from}
             WHERE c.id = ch.doc AND ch.seq > ${after} AND ch.seq <= ${upto}
               AND ch.device_id <> {own} AND {scope}
             ORDER BY ch.seq LIMIT {SCAN_BATCH}"
        );
        'scan: while position < head {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(scan.as_str()));
            for a in &sql.args {
                query = query.bind(a.clone());
            }
            let query = query.bind(position).bind(head);
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
///
/// The log, snapshot and projection rows are gathered and written at the commit, a few rows per
/// statement: one push of 20 cases is a handful of statements, not a hundred and more.
struct FeedTx {
    tx: Transaction<'static, Any>,
    head: i64,
    changes: Vec<ChangeRow>,
    /// Document, snapshot and projection per case, the last version written in this
    /// transaction; the documents go into the cache after the commit.
    docs: Vec<DocRow>,
    doc_index: std::collections::HashMap<String, usize>,
}

/// One accepted change, as `changes` stores it.
struct ChangeRow {
    seq: i64,
    doc: String,
    hash: String,
    actor: String,
    device: String,
    user: String,
    device_time: i64,
    bytes: Vec<u8>,
}

/// One case as this transaction wrote it.
struct DocRow {
    id: String,
    doc: CaseDoc,
    snapshot: Vec<u8>,
    seq: i64,
    projection: Projection,
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
            changes: Vec::new(),
            docs: Vec::new(),
            doc_index: std::collections::HashMap::new(),
        })
    }

    /// The document of case `id` as this transaction wrote it, if it did.
    fn written(&self, id: &str) -> Option<CaseDoc> {
        self.doc_index.get(id).map(|&i| self.docs[i].doc.clone())
    }

    /// The feed position this transaction gave case `id`'s snapshot, if it wrote one.
    fn written_at(&self, id: &str) -> Option<i64> {
        self.doc_index.get(id).map(|&i| self.docs[i].seq)
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
            self.changes.push(ChangeRow {
                seq: self.head,
                doc: doc_id.clone(),
                hash: change.hash().to_string(),
                actor: change.actor_id().to_hex_string(),
                device: ctx.device.clone(),
                user: author
                    .map(|a| a.user)
                    .unwrap_or_else(|| writer.user.clone()),
                device_time: change.timestamp(),
                bytes: change.raw_bytes().to_vec(),
            });
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
            projection.write_blobs(&mut self.tx, &doc_id).await?;
            let row = DocRow {
                id: doc_id.clone(),
                doc,
                snapshot,
                seq: self.head,
                projection,
            };
            // A case named twice in one push is written once, as it ended up.
            match self.doc_index.get(&doc_id) {
                Some(&i) => self.docs[i] = row,
                None => {
                    self.doc_index.insert(doc_id.clone(), self.docs.len());
                    self.docs.push(row);
                }
            }
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

    /// Writes the gathered log, snapshot and projection rows, several per statement.
    async fn flush(&mut self, now: i64) -> Result<()> {
        for rows in self.changes.chunks(CHANGE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO changes (seq, doc, hash, actor, device_id, user_id, device_time, received_at, bytes)
                 VALUES {}",
                placeholders(Backend::of(&self.tx), rows.len(), 9)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in rows {
                query = query
                    .bind(r.seq)
                    .bind(r.doc.as_str())
                    .bind(r.hash.as_str())
                    .bind(r.actor.as_str())
                    .bind(r.device.as_str())
                    .bind(r.user.as_str())
                    .bind(r.device_time)
                    .bind(now)
                    .bind(r.bytes.as_slice());
            }
            query.execute(&mut *self.tx).await?;
        }
        for rows in self.docs.chunks(DOC_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO docs (id, snapshot, upto_seq) VALUES {}
                 ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, upto_seq = excluded.upto_seq",
                placeholders(Backend::of(&self.tx), rows.len(), 3)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in rows {
                query = query
                    .bind(r.id.as_str())
                    .bind(r.snapshot.as_slice())
                    .bind(r.seq);
            }
            query.execute(&mut *self.tx).await?;
            Projection::write_all(
                &mut self.tx,
                rows.iter().map(|r| (r.id.as_str(), r.seq, &r.projection)),
                now,
            )
            .await?;
        }
        Ok(())
    }

    async fn commit(mut self, store: &Store, device: &str, now: i64) -> Result<()> {
        self.flush(now).await?;
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
        for DocRow { id, seq, doc, .. } in self.docs {
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
            snapshot: verdict
                .snapshot
                .take()
                .unwrap_or_else(|| doc.save_uncompressed()),
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

/// The feed positions of the stored snapshots of cases `ids` (those the server has), as this
/// transaction sees them: one query.
async fn stored_seqs(
    conn: &mut AnyConnection,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, i64>> {
    let mut found = std::collections::HashMap::new();
    for ids in ids.chunks(DOC_ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT id, upto_seq FROM docs WHERE id IN {}",
            placeholders(Backend::of(conn), 1, ids.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            found.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
        }
    }
    Ok(found)
}

/// Rows per multi-row statement: within SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const CHANGE_ROWS_PER_STATEMENT: usize = 500;
const DOC_ROWS_PER_STATEMENT: usize = 200;

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` values; `(?, ?), (?, ?)` on SQLite, where
/// binding a numbered parameter looks its name up in a list of all of them (sqlx asks for every
/// parameter's name), which made a 200-row statement quadratic in its 6,200 parameters.
fn placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => out.push_str(&format!("${}", r * columns + c + 1)),
            }
        }
        out.push(')');
    }
    out
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
        self.write_blobs(tx, id).await?;
        Projection::write_all(tx, [(id, seq, self)], updated_at).await
    }

    /// The projection rows of several cases, one statement (at most [`DOC_ROWS_PER_STATEMENT`]).
    async fn write_all<'p>(
        tx: &mut Transaction<'static, Any>,
        rows: impl IntoIterator<Item = (&'p str, i64, &'p Projection)>,
        updated_at: i64,
    ) -> Result<()> {
        let rows: Vec<(&str, i64, &Projection)> = rows.into_iter().collect();
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO cases (id, kind, category, title, status, level, path, county, township, village, grid,
                 department, reporter, created_at, updated_at, field_conflicts, workflow_conflicts, reopen_count,
                 accountability, supervision_count, rating, last_seq, due_at, clock_started_at, supervised_level,
                 accepted_at, resolved_at, resolved_on_time, resolved_level, mediation_result, referral)
             VALUES {}
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
            placeholders(Backend::of(tx), rows.len(), 31)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, seq, p) in rows {
            let (case, wf, field_conflicts) = (&p.case, &p.workflow, p.field_conflicts);
            let j = &case.jurisdiction;
            let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            query = query
                .bind(id.to_owned())
                .bind(case.kind.as_str())
                .bind(case.category.clone())
                .bind(case.title.clone())
                .bind(wf.status.as_str())
                .bind(wf.level.as_str())
                .bind(j.to_string())
                .bind(j.county().to_owned())
                .bind(j.township().map(str::to_owned))
                .bind(j.village().map(str::to_owned))
                .bind(j.grid().map(str::to_owned))
                .bind(wf.department.clone())
                .bind(case.reporter.user.clone())
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
                .bind(nonempty(&case.mediation.referral));
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }

    /// The case's attachment references.
    async fn write_blobs(&self, tx: &mut Transaction<'static, Any>, id: &str) -> Result<()> {
        let case = &self.case;
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
