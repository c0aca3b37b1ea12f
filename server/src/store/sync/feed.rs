//! The feed's write transaction: accepted changes into the log with consecutive feed numbers,
//! snapshots and projection rows, refused changes into quarantine (within its limits).

use gridsync_core::Identity;
use gridsync_core::case::{CaseDoc, ChangeAuthor};
use gridsync_core::protocol::{DocAck, Rejection, hash_bytes};
use serde_bytes::ByteBuf;
use sqlx::{Any, Row, Transaction};

use super::judge::{CaseVerdict, Written};
use super::projection::Projection;
use super::push::Beside;
use super::quarantine;
use super::{CHANGE_ROWS_PER_STATEMENT, DOC_ROWS_PER_STATEMENT, placeholders, placeholders_after};
use crate::store::evidence::ChangeEvidence;
use crate::store::notices::write_notices;
use crate::store::{Backend, DeviceContext, Raised, Result, SmsWriting, Store};

impl Store {
    /// Number of accepted changes in the log.
    pub async fn change_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT count(*) FROM changes")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}

/// One write transaction holding the feed lock: changes get consecutive feed numbers, documents
/// are cached only after the commit made them true.
///
/// The log, snapshot and projection rows are gathered and written at the commit, a few rows per
/// statement: one push of 20 cases is a handful of statements, not a hundred and more.
pub(super) struct FeedTx {
    pub(super) tx: Transaction<'static, Any>,
    head: i64,
    changes: Vec<ChangeRow>,
    /// Document, snapshot and projection per case, the last version written in this
    /// transaction; the documents go into the cache after the commit.
    docs: Vec<DocRow>,
    doc_index: std::collections::HashMap<String, usize>,
    /// The rules in force as this server last read them (no query): the projection raises the
    /// accountability records their triggers find.
    rules: std::sync::Arc<crate::store::LiveRules>,
    /// The notices the written steps raise, written at the commit (ADR 0027).
    notices: Vec<Raised>,
    /// What the pushes' syncs record beside them (case keys, rules versions), written at the
    /// commit before the notices (a receipt's SMS opens the requester's number with its case's
    /// key).
    beside: Vec<Beside>,
    sms: Option<SmsWriting>,
    /// Opens a requester's sealed phone number for their SMS (ADR 0029).
    data_key: Option<std::sync::Arc<[u8; 32]>>,
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
    /// When the server took it: its push's time (a group commit holds several).
    received_at: i64,
    bytes: Vec<u8>,
    /// The key the device had bound, and the signature the change came with.
    device_key: Option<[u8; 32]>,
    /// The device and account that carried it, when a colleague's phone relayed it (ADR 0030).
    relayed: Option<(String, String)>,
    sig: Option<serde_bytes::ByteBuf>,
    change_hash: automerge::ChangeHash,
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
    pub(super) async fn begin(store: &Store) -> Result<FeedTx> {
        let mut tx = store.begin_write().await?;
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
            rules: store.rules_now(),
            notices: Vec::new(),
            beside: Vec::new(),
            sms: store.sms_writing(),
            data_key: store.data_key_loaded(),
        })
    }

    /// The document of case `id` as this transaction wrote it, if it did.
    pub(super) fn written(&self, id: &str) -> Option<CaseDoc> {
        self.doc_index.get(id).map(|&i| self.docs[i].doc.clone())
    }

    /// The feed position this transaction gave case `id`'s snapshot, if it wrote one.
    pub(super) fn written_at(&self, id: &str) -> Option<i64> {
        self.doc_index.get(id).map(|&i| self.docs[i].seq)
    }

    /// Stores one judged case (log, snapshot, projection, quarantine) in this transaction.
    pub(super) async fn store(
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
        let device_key = ctx.sign_key.map(|k| k.to_bytes());
        let mut sigs = verdict.signatures.iter();
        let mut relayed = verdict.relayed.iter();
        // Whose photos the accepted changes may reference: the writer's, and the authors' of
        // the colleagues' changes it carried (they upload their own photos).
        let mut referrers = vec![writer.user.clone()];
        for change in &verdict.accepted {
            self.head += 1;
            let author = ChangeAuthor::of_change(change);
            // A carried change is its author device's, under that device's key: the author's
            // pulls skip it, and its receipt names the key its signature verifies under.
            let (device, device_key, relayed) = match relayed.next().cloned().flatten() {
                Some(r) => (
                    r.device,
                    r.key.map(|k| k.to_bytes()),
                    Some((ctx.device.clone(), writer.user.clone())),
                ),
                None => (ctx.device.clone(), device_key, None),
            };
            let user = author
                .map(|a| a.user)
                .unwrap_or_else(|| writer.user.clone());
            if relayed.is_some() && !referrers.contains(&user) {
                referrers.push(user.clone());
            }
            self.changes.push(ChangeRow {
                seq: self.head,
                doc: doc_id.clone(),
                hash: change.hash().to_string(),
                actor: change.actor_id().to_hex_string(),
                device,
                user,
                device_time: gridsync_core::case::change_time_ms(change.timestamp()),
                received_at: now,
                bytes: change.raw_bytes().to_vec(),
                device_key,
                relayed,
                sig: sigs.next().cloned().flatten(),
                change_hash: change.hash(),
            });
            hashes.push(hash_bytes(&change.hash()));
        }
        if let Some(Written {
            doc,
            snapshot,
            projection,
            notices,
        }) = written
        {
            let (case, _) = projection.case_and_workflow();
            self.notices
                .extend(notices.into_iter().map(|d| Raised::of(case, d)));
            // Who added each reference decides whether it lets the case's readers see the blob.
            for sha256 in &verdict.added_attachments {
                for user in &referrers {
                    sqlx::query(
                        "INSERT INTO blob_refs (case_id, sha256, user_id) VALUES ($1, $2, $3)
                         ON CONFLICT (case_id, sha256, user_id) DO NOTHING",
                    )
                    .bind(&doc_id)
                    .bind(sha256)
                    .bind(user)
                    .execute(&mut *self.tx)
                    .await?;
                }
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
            quarantine::keep(
                &mut self.tx,
                &doc_id,
                &ctx.device,
                &writer.user,
                &refused,
                now,
            )
            .await?;
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

    /// What a push's sync records beside it, to write with this transaction.
    pub(super) fn write_beside(&mut self, beside: &Beside) {
        self.beside.push(beside.clone());
    }

    /// Writes the gathered keys, log, snapshot and projection rows, several per statement.
    async fn flush(&mut self, now: i64) -> Result<()> {
        Beside::write_all(&mut self.tx, &self.beside, now).await?;
        for rows in self.changes.chunks(CHANGE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO changes (seq, doc, hash, actor, device_id, user_id, device_time, received_at, bytes, relayed_by, relayed_user)
                 VALUES {}",
                placeholders(Backend::of(&self.tx), rows.len(), 11)
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
                    .bind(r.received_at)
                    .bind(r.bytes.as_slice())
                    .bind(r.relayed.as_ref().map(|(d, _)| d.as_str()))
                    .bind(r.relayed.as_ref().map(|(_, u)| u.as_str()));
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
            let records = Projection::write_all(
                &mut self.tx,
                rows.iter().map(|r| (r.id.as_str(), r.seq, &r.projection)),
                now,
                &self.rules.rules,
            )
            .await?;
            self.notices.extend(records);
        }
        write_notices(
            &mut self.tx,
            &self.notices,
            self.sms.as_ref(),
            self.data_key.as_deref(),
            now,
        )
        .await?;
        let evidence: Vec<ChangeEvidence> = self
            .changes
            .iter_mut()
            .map(|c| ChangeEvidence {
                seq: c.seq,
                hash: c.change_hash,
                device: c.device.clone(),
                device_key: c.device_key,
                sig: c.sig.take(),
            })
            .collect();
        crate::store::evidence::append(&mut self.tx, &evidence, now).await?;
        Ok(())
    }

    /// A notice to write with this transaction.
    pub(super) fn raise(&mut self, raised: Raised) {
        self.notices.push(raised);
    }

    /// The settings SMS rows are written with, if a gateway is configured.
    pub(super) fn sms(&self) -> Option<&SmsWriting> {
        self.sms.as_ref()
    }

    /// Writes the gathered rows and commits; `devices` (the writers) synced at `now`.
    pub(super) async fn commit(mut self, store: &Store, devices: &[&str], now: i64) -> Result<()> {
        self.flush(now).await?;
        sqlx::query("UPDATE counters SET value = $1 WHERE name = 'feed'")
            .bind(self.head)
            .execute(&mut *self.tx)
            .await?;
        // One statement for the group's devices, not one each: every statement is a hand-off
        // to the database's thread while the feed lock is held.
        for chunk in devices.chunks(DOC_ROWS_PER_STATEMENT) {
            // `(?)` on SQLite, not `$1`: sqlx binds a `$1` by its name without counting it, so
            // the `?` after it would take the first value again.
            let backend = Backend::of(&self.tx);
            let sql = format!(
                "UPDATE devices SET last_sync_at = {} WHERE id IN {}",
                placeholders(backend, 1, 1),
                placeholders_after(backend, 1, 1, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
            for device in chunk {
                query = query.bind(*device);
            }
            query.execute(&mut *self.tx).await?;
        }
        self.tx.commit().await?;
        for DocRow { id, seq, doc, .. } in self.docs {
            store.cache.put(&id, seq, doc);
        }
        Ok(())
    }
}
