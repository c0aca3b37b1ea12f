//! Releasing a quarantined change once the reason for its refusal is fixed (a department added
//! to the catalogue, an account's scope corrected): the kept bytes judged again, as their author
//! wrote them, by the same admission as a push.

use gridsync_core::Identity;
use gridsync_core::protocol::DocChanges;
use serde_bytes::ByteBuf;
use sqlx::Row;

use super::feed::FeedTx;
use super::judge::judge_case;
use super::quarantine::{self, ENTRY_COLUMNS, entry_from_row};
use super::{console_device_id, load_doc};
use crate::store::{DeviceContext, Result, Store, StoreError};

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The change is now in the case and the feed.
    Stored,
    /// The server already had it (the phone sent it again after the fix).
    AlreadyStored,
}

impl Store {
    /// Releases quarantined change `id` on `by`'s word: judged again under the rules in force,
    /// with its author's account as it is now and its device's actors; accepted, it enters the
    /// feed like a push from the console of `by` (so every phone that may read the case gets it,
    /// the author's included, which then counts it as acknowledged). Refused again, nothing is
    /// written and the new reason comes back as [`StoreError::Refused`]. Only a change kept whole
    /// can be released.
    pub async fn release_quarantined(&self, id: &str, by: &str, now: i64) -> Result<Released> {
        let live = self.rules().await?;
        let mut feed = FeedTx::begin(self).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS}, bytes FROM quarantine WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *feed.tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("quarantined change {id}")))?;
        let entry = entry_from_row(&row)?;
        let bytes: Vec<u8> = row.try_get(13)?;
        if entry.released_at.is_some() {
            return Err(StoreError::Conflict(
                "this change was already released".into(),
            ));
        }
        if !entry.whole {
            return Err(StoreError::Conflict(format!(
                "only the first {} bytes of this {}-byte change were kept: it cannot be released",
                bytes.len(),
                entry.size
            )));
        }
        let author = self
            .user(&entry.user)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| {
                StoreError::Conflict(format!("the author's account {} is disabled", entry.user))
            })?;
        let writer = Identity::new(
            author.id,
            author.role,
            author.scope,
            author.department,
            &entry.device,
        )?;
        let actors = self
            .device_context(&entry.device)
            .await?
            .map(|d| d.actors)
            .unwrap_or_default();
        let ctx = DeviceContext {
            device: console_device_id(by),
            actors,
            users: vec![writer.clone()],
            revoked: false,
            // A released change is the reviewer's decision, not the device's signed word: it
            // is stored as it was kept, unsigned, under the reviewer's console device.
            sign_key: None,
            synced: Default::default(),
        };
        let current = load_doc(&self.cache, &mut feed.tx, &entry.doc).await?;
        let base = sqlx::query("SELECT upto_seq FROM docs WHERE id = $1")
            .bind(&entry.doc)
            .fetch_optional(&mut *feed.tx)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?;
        let verdict = judge_case(
            &ctx,
            &writer,
            &[],
            current,
            base,
            &DocChanges {
                doc: entry.doc.clone(),
                changes: vec![ByteBuf::from(bytes.clone())],
                sigs: Vec::new(),
                by: Vec::new(),
            },
            None,
            &live.admission,
        )?;
        if let Some(again) = verdict.verdict.refused.first() {
            // Dropping the transaction writes nothing: the row stays as it was.
            return Err(StoreError::Refused {
                code: again.code.as_str(),
                reason: again.reason.clone(),
            });
        }
        let released = match verdict.verdict.accepted.is_empty() {
            true => Released::AlreadyStored,
            false => Released::Stored,
        };
        feed.store(&ctx, &writer, verdict, now).await?;
        // The bytes now live in the log; the row stays as the record of the refusal.
        sqlx::query(
            "UPDATE quarantine SET released_at = $1, released_by = $2, bytes = $3 WHERE id = $4",
        )
        .bind(now)
        .bind(by)
        .bind(Vec::<u8>::new())
        .bind(id)
        .execute(&mut *feed.tx)
        .await?;
        quarantine::unkeep(&mut feed.tx, &entry, bytes.len()).await?;
        feed.commit(self, &[ctx.device.as_str()], now).await?;
        Ok(released)
    }
}
