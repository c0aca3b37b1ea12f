//! # gridsync-server
//!
//! The township's authoritative case store and the sync endpoint phones talk to. This crate is
//! being built in issue #3: so far the [`store`] (SQLite or PostgreSQL, one set of migrations and
//! queries) with the sync transaction — admission of pushed changes, the change feed, quarantine
//! and the case projection. HTTP, accounts and tokens follow.

pub mod store;

/// Milliseconds since the Unix epoch on the server's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
