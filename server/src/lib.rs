//! # gridsync-server
//!
//! The township's authoritative case store and the sync endpoint phones talk to (issue #3, in
//! progress): the [`store`] (SQLite or PostgreSQL, one set of migrations and queries) with the
//! sync transaction — admission of pushed changes, the change feed, quarantine and the case
//! projection; [`auth`] (Argon2 passwords, EdDSA access tokens, rotating refresh tokens); and
//! [`http`], the axum routes. The `gridsync` binary in `main.rs` only wires these together.

pub mod auth;
pub mod blobs;
pub mod console;
pub mod demo;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod limit;
pub mod metrics;
pub mod org;
pub mod patrol;
pub mod stats;
pub mod store;
pub mod supervision;

pub use http::{AppState, app};

/// Milliseconds since the Unix epoch on the server's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
