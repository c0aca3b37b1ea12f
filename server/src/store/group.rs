//! Group commit (ADR 0038): writers that arrive while another holds the turn wait together, and
//! the next to take the turn writes all of them in one transaction — one write lock and one
//! sync to disk for the group instead of one each. Each writer is answered only after the
//! transaction that holds its rows committed. Pushes (the feed) and read-audit appends
//! (ADR 0041) each have a group of their own.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{Result, StoreError};

/// The writers waiting for the turn, and the turn among this server's writers of one kind
/// (other servers queue on the table's lock row).
pub(crate) struct Group<T> {
    waiting: Mutex<Vec<T>>,
    turn: Arc<tokio::sync::Mutex<()>>,
    transactions: AtomicU64,
    items: AtomicU64,
}

/// How writes were grouped since the server started: transactions written, writes they held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub transactions: u64,
    pub writes: u64,
}

impl<T> Default for Group<T> {
    fn default() -> Self {
        Group {
            waiting: Mutex::new(Vec::new()),
            turn: Default::default(),
            transactions: AtomicU64::new(0),
            items: AtomicU64::new(0),
        }
    }
}

impl<T> Group<T> {
    /// Transactions written and writes they held, since the server started.
    pub(crate) fn counts(&self) -> GroupCounts {
        GroupCounts {
            transactions: self.transactions.load(Ordering::Relaxed),
            writes: self.items.load(Ordering::Relaxed),
        }
    }
}

impl<T> std::fmt::Debug for Group<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Group<T> {
    /// Queues `item` (which carries the sender of `answer`) and returns its answer: sent by a
    /// writer before it that took it along, or by `write`, which this caller runs on the
    /// items waiting once it has the turn. `write` runs on a task of its own: a caller that
    /// goes away (a phone's connection dropped) must not cancel a transaction that carries
    /// other writers' rows.
    pub(crate) async fn join<R, F, Fut>(
        &self,
        item: T,
        mut answer: oneshot::Receiver<Result<R>>,
        write: F,
    ) -> Result<R>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match self.waiting.lock() {
            Ok(mut w) => w.push(item),
            Err(poisoned) => poisoned.into_inner().push(item),
        }
        // Answered while waiting (a writer before us took our item): no turn needed.
        let turn = tokio::select! {
            biased;
            written = &mut answer => return written.map_err(|_| stopped())?,
            turn = self.turn.clone().lock_owned() => turn,
        };
        // A writer before us took our item and answered before giving up its turn; otherwise
        // it still waits, and we write it with everyone behind it.
        match answer.try_recv() {
            Ok(written) => return written,
            Err(oneshot::error::TryRecvError::Closed) => return Err(stopped()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let batch = match self.waiting.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let writing = write(batch);
        tokio::spawn(async move {
            let _turn = turn;
            writing.await;
        });
        answer.await.map_err(|_| stopped())?
    }
}

/// Sends each writer of a group (its reply and what it wrote) its answer from the group's
/// transaction (`written`, one per writer, in order). When that transaction failed and held more
/// than one writer, each is written again alone with `alone`, so one writer's error never
/// becomes another's.
pub(crate) async fn answer_each<W, R, Fut>(
    writers: Vec<(oneshot::Sender<Result<R>>, W)>,
    written: Result<Vec<R>>,
    what: &str,
    alone: impl Fn(W) -> Fut,
) where
    Fut: Future<Output = Result<R>>,
{
    match written {
        Ok(answers) => {
            for ((reply, _), answer) in writers.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(e) if writers.len() == 1 => {
            if let Some((reply, _)) = writers.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, writers = writers.len(), what, "a group commit failed; writing its writers one by one");
            for (reply, w) in writers {
                let _ = reply.send(alone(w).await);
            }
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Conflict("a group commit stopped before it answered".into())
}
