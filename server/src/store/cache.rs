//! A bounded cache of parsed case documents. A loaded document costs far more memory than its
//! saved bytes, and parsing is the cost of every push to a busy case, so recently used ones are
//! kept, up to a count.
//!
//! Entries are keyed by the feed position their snapshot reflects (`docs.upto_seq`), which every
//! write moves: a reader that finds a different position in the database simply misses, so
//! several servers on one database never serve each other stale documents. Writers insert only
//! after their transaction committed.

use std::collections::HashMap;
use std::sync::Mutex;

use gridsync_core::CaseDoc;

/// Cached documents per server by default.
pub const DEFAULT_CAPACITY: usize = 2048;

#[derive(Debug)]
pub(crate) struct DocCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    tick: u64,
    docs: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    seq: i64,
    used: u64,
    doc: CaseDoc,
}

impl DocCache {
    pub(crate) fn new(capacity: usize) -> Self {
        DocCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// A copy of the document if the cached one reflects exactly `seq`.
    pub(crate) fn get(&self, id: &str, seq: i64) -> Option<CaseDoc> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.docs.get_mut(id).filter(|e| e.seq == seq)?;
        entry.used = tick;
        Some(entry.doc.clone())
    }

    pub(crate) fn put(&self, id: &str, seq: i64, doc: CaseDoc) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tick += 1;
        let used = inner.tick;
        if inner.docs.len() >= self.capacity && !inner.docs.contains_key(id) {
            // Drop the least recently used tenth in one pass, not one entry per insert.
            let mut ages: Vec<u64> = inner.docs.values().map(|e| e.used).collect();
            let cut = (self.capacity / 10).max(1).min(ages.len() - 1);
            let (_, threshold, _) = ages.select_nth_unstable(cut);
            let threshold = *threshold;
            inner.docs.retain(|_, e| e.used > threshold);
        }
        inner.docs.insert(id.to_owned(), Entry { seq, used, doc });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .docs
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ActorId;

    #[test]
    fn stays_within_capacity_keeps_recent_entries_and_misses_stale_positions() {
        let cache = DocCache::new(10);
        for i in 0..25 {
            cache.put(&format!("doc-{i}"), i, CaseDoc::empty(ActorId::random()));
            // doc-0 is used all the time: it must survive every eviction.
            assert!(cache.get("doc-0", 0).is_some(), "after {i}");
        }
        assert!(cache.len() <= 10);
        assert!(cache.get("doc-24", 24).is_some());
        assert!(
            cache.get("doc-24", 25).is_none(),
            "another position is a miss"
        );
        assert!(cache.get("doc-1", 1).is_none(), "old entries were dropped");
    }
}
