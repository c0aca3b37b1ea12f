//! Pushes in groups (ADR 0038): pushes judged while another push holds the feed lock wait
//! together, and the next writer stores all of them in one transaction (`store::group`). A
//! transaction that fails is retried push by push, so one push's error never becomes another's.

use gridsync_core::protocol::{DocAck, Rejection};
use tokio::sync::oneshot;

use super::feed::FeedTx;
use super::push::{JudgedPush, stored_seqs};
use crate::store::group::{Group, GroupCounts, answer_each};
use crate::store::{Result, Store};

type Stored = (Vec<DocAck>, Vec<Rejection>);

/// The pushes waiting for the feed lock.
pub(crate) type GroupCommit = Group<Waiting>;

#[derive(Debug)]
pub(crate) struct Waiting {
    judged: JudgedPush,
    now: i64,
    reply: oneshot::Sender<Result<Stored>>,
}

impl Store {
    /// Stores a judged push with whichever others wait beside it, in one transaction; returns
    /// its acknowledgements once that transaction committed.
    pub(super) async fn store_in_group(&self, judged: JudgedPush, now: i64) -> Result<Stored> {
        let (reply, answer) = oneshot::channel();
        let store = self.clone();
        self.group
            .join(Waiting { judged, now, reply }, answer, |batch| async move {
                store.store_batch(batch).await
            })
            .await
    }

    async fn store_batch(&self, batch: Vec<Waiting>) {
        let mut writers = Vec::with_capacity(batch.len());
        let mut judged = Vec::with_capacity(batch.len());
        for w in batch {
            writers.push((w.reply, (w.judged.pushed.clone(), w.now)));
            judged.push((w.judged, w.now));
        }
        let written = self.store_pushes(judged).await;
        answer_each(writers, written, "pushes", |(pushed, now)| async move {
            let judged = self.judge_again(&pushed).await?;
            self.store_push(judged, now).await
        })
        .await;
    }

    /// Stores judged pushes (each with its time) in one transaction, in order: what a group
    /// commit writes. Returns each push's acknowledgements and refusals.
    pub async fn store_pushes(&self, judged: Vec<(JudgedPush, i64)>) -> Result<Vec<Stored>> {
        let mut feed = FeedTx::begin(self).await?;
        // One `last_sync_at` update per device, however many of its pushes the group holds.
        let mut devices: Vec<String> = judged
            .iter()
            .map(|(j, _)| j.pushed.ctx.device.clone())
            .collect();
        devices.sort();
        devices.dedup();
        let latest = judged.iter().map(|(_, now)| *now).max().unwrap_or_default();
        // The group's stored positions in one read: the `docs` rows change only at the commit
        // (what the group writes before then, `FeedTx::written_at` knows).
        let mut ids: Vec<&str> = judged.iter().flat_map(|(j, _)| j.case_ids()).collect();
        ids.sort_unstable();
        ids.dedup();
        let positions = stored_seqs(&mut feed.tx, &ids).await?;
        let mut stored = Vec::with_capacity(judged.len());
        for (j, now) in judged {
            stored.push(Box::pin(self.store_judged(&mut feed, j, &positions, now)).await?);
        }
        let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
        feed.commit(self, &devices, latest).await?;
        Ok(stored)
    }

    /// How this server grouped pushes into transactions since it started.
    pub fn group_counts(&self) -> GroupCounts {
        self.group.counts()
    }
}
