//! Group commit (ADR 0038): pushes judged while another push holds the feed lock wait together,
//! and the next writer stores all of them in one transaction. Each push is acknowledged only
//! after that commit; a transaction that fails is retried push by push, so one push's error
//! never becomes another's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gridsync_core::protocol::{DocAck, Rejection};
use tokio::sync::oneshot;

use super::feed::FeedTx;
use super::push::JudgedPush;
use crate::store::{Result, Store, StoreError};

type Stored = (Vec<DocAck>, Vec<Rejection>);

/// The pushes waiting for the feed lock, and the lock's turn among this server's writers of
/// pushes (other servers and the server's own writes queue on the feed counter's row lock).
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    waiting: Mutex<Vec<Waiting>>,
    turn: Arc<tokio::sync::Mutex<()>>,
    transactions: AtomicU64,
    pushes: AtomicU64,
}

#[derive(Debug)]
struct Waiting {
    judged: JudgedPush,
    now: i64,
    reply: oneshot::Sender<Result<Stored>>,
}

/// How pushes were grouped since the server started: transactions written, pushes they held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub transactions: u64,
    pub pushes: u64,
}

impl GroupCommit {
    fn take_waiting(&self) -> Vec<Waiting> {
        match self.waiting.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl Store {
    /// Stores a judged push with whichever others wait beside it, in one transaction; returns
    /// its acknowledgements once that transaction committed.
    pub(super) async fn store_in_group(&self, judged: JudgedPush, now: i64) -> Result<Stored> {
        let group = &self.group;
        let (reply, mut answer) = oneshot::channel();
        match group.waiting.lock() {
            Ok(mut w) => w.push(Waiting { judged, now, reply }),
            Err(poisoned) => poisoned.into_inner().push(Waiting { judged, now, reply }),
        }
        // Answered while waiting (a writer before us took our push): no turn needed.
        let turn = tokio::select! {
            biased;
            stored = &mut answer => return stored.map_err(|_| stopped())?,
            turn = group.turn.clone().lock_owned() => turn,
        };
        // A writer before us took our push with its group and answered before giving up its
        // turn; otherwise our push still waits, and we write it with everyone behind it.
        match answer.try_recv() {
            Ok(stored) => return stored,
            Err(oneshot::error::TryRecvError::Closed) => return Err(stopped()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let batch = group.take_waiting();
        let store = self.clone();
        // Its own task: a caller that goes away (a phone's connection dropped) must not cancel
        // a transaction that carries other phones' pushes.
        tokio::spawn(async move {
            let _turn = turn;
            store.store_batch(batch).await;
        });
        answer.await.map_err(|_| stopped())?
    }

    async fn store_batch(&self, batch: Vec<Waiting>) {
        self.group.transactions.fetch_add(1, Ordering::Relaxed);
        self.group
            .pushes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let mut replies = Vec::with_capacity(batch.len());
        let mut judged = Vec::with_capacity(batch.len());
        for w in batch {
            replies.push((w.reply, w.judged.pushed.clone(), w.now));
            judged.push((w.judged, w.now));
        }
        let alone = judged.len() == 1;
        match self.store_pushes(judged).await {
            Ok(stored) => {
                for ((reply, _, _), stored) in replies.into_iter().zip(stored) {
                    let _ = reply.send(Ok(stored));
                }
            }
            Err(e) if alone => {
                if let Some((reply, _, _)) = replies.pop() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, pushes = replies.len(), "a group commit failed; storing its pushes one by one");
                for (reply, pushed, now) in replies {
                    let stored = match self.judge_again(&pushed).await {
                        Ok(judged) => self.store_push(judged, now).await,
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(stored);
                }
            }
        }
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
        let mut stored = Vec::with_capacity(judged.len());
        for (j, now) in judged {
            stored.push(Box::pin(self.store_judged(&mut feed, j, now)).await?);
        }
        let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
        feed.commit(self, &devices, latest).await?;
        Ok(stored)
    }

    /// How this server grouped pushes into transactions since it started.
    pub fn group_counts(&self) -> GroupCounts {
        GroupCounts {
            transactions: self.group.transactions.load(Ordering::Relaxed),
            pushes: self.group.pushes.load(Ordering::Relaxed),
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Conflict("the push's group commit stopped before it answered".into())
}
