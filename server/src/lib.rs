//! # gridsync-server
//!
//! The township's authoritative case store and the two entrances to it: the [`store`] (SQLite or
//! PostgreSQL, one set of migrations and queries) with the sync transaction — admission of pushed
//! changes, the change feed, quarantine and the case projection; [`auth`] (the sign-in policy,
//! passwords and tokens); [`http`], the API phones and tools talk to; and [`console`], the
//! reviewers' pages; [`sms`], the county's SMS gateway both ways; [`backup`], backup and restore. [`app`] puts both entrances behind one router;
//! [`tls`] serves it over HTTPS. The `gridsync` binary
//! (`src/bin/gridsync/`) only wires these together.

pub mod assessment;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod console;
#[cfg(feature = "demo")]
pub mod demo;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod limit;
pub mod metrics;
pub mod org;
pub mod patrol;
pub mod reads;
pub mod residents;
pub mod sms;
pub mod stats;
pub mod store;
pub mod supervision;
pub mod tls;

pub use http::AppState;

/// The whole router: the API and the console, behind the same body limits, JSON errors, request
/// ids and metrics.
pub fn app(state: std::sync::Arc<AppState>) -> http::Router {
    let deadlines = state.deadlines;
    http::guarded(
        http::router(&deadlines).merge(console::routes(&deadlines)),
        state,
    )
}

/// Milliseconds since the Unix epoch on the server's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
