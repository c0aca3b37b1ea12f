//! What every handler shares: the store, the keys, the rules, the blob store, metrics and the
//! rate limits.

use gridsync_core::{Identity, JurisdictionPath};

use super::error::ApiError;
use crate::auth::Keys;
use crate::limit::{self, RateLimiter};
use crate::metrics::Metrics;
use crate::stats::Stats;
use crate::store::{Store, StoreError};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub keys: Keys,
    /// Photos and documents.
    pub blobs: crate::blobs::BlobStore,
    /// This process's own device and actor: set by `serve` at start (shared with supervision),
    /// else registered on the first console write.
    pub server_device: tokio::sync::OnceCell<crate::store::DeviceContext>,
    pub metrics: Metrics,
    /// Sync requests per device (`limit::SYNC_BURST`, `SYNC_PER_MINUTE`).
    pub sync_limit: RateLimiter,
    /// Sign-ins per account name and refreshes per device (`limit::LOGIN_BURST`, …).
    pub login_limit: RateLimiter,
    /// Requests to the blob routes per device (`limit::BLOB_BURST`, `BLOB_PER_MINUTE`).
    pub blob_limit: RateLimiter,
    /// Bytes announced by blob uploads per device (`limit::UPLOAD_BURST_BYTES`, then
    /// `serve --upload-mib-per-hour`).
    pub upload_limit: RateLimiter,
    /// Work orders per intake channel (`limit::INTAKE_BURST`, `INTAKE_PER_MINUTE`).
    pub intake_limit: RateLimiter,
    /// Wrong lookups on the progress page (`limit::TRACK_WRONG_PER_RECEIPT`, …).
    pub track_guesses: limit::GuessLimit,
    /// How long requests may take, by kind of route (`limit::Deadlines`).
    pub deadlines: limit::Deadlines,
    /// The token the SMS gateway presents on `/v1/sms/inbound` (`--sms-config`); without one
    /// the route is off.
    pub sms_inbound_token: Option<String>,
    /// Added to the system clock where the server judges dates (the calendar warning), so
    /// tests can stand on 1 December; 0 in service.
    clock_offset_ms: std::sync::atomic::AtomicI64,
}

impl AppState {
    /// The server's own device, registered already (else registered on first console write).
    pub fn with_server_device(self, device: crate::store::DeviceContext) -> Self {
        // A fresh cell: setting it cannot fail.
        let _ = self.server_device.set(device);
        self
    }

    /// Takes urgent SMS reports from a gateway presenting `token`.
    pub fn with_sms_inbound(mut self, token: Option<String>) -> Self {
        self.sms_inbound_token = token;
        self
    }

    /// Other deadlines than `limit::Deadlines::default()` (tests).
    pub fn with_deadlines(mut self, deadlines: limit::Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// Where blob bytes are kept (in memory unless set: tests).
    pub fn with_blobs(mut self, blobs: crate::blobs::BlobStore) -> Self {
        self.blobs = blobs;
        self
    }

    /// Refills each device's upload budget at `mib_per_hour` (`serve --upload-mib-per-hour`).
    pub fn with_upload_mib_per_hour(mut self, mib_per_hour: u32) -> Self {
        self.upload_limit = RateLimiter::upload_bytes(mib_per_hour);
        self
    }

    /// The county's rules live in the store (`Store::rules`), so every server on one database
    /// uses the same.
    pub fn new(store: Store, keys: Keys) -> Self {
        AppState {
            store,
            keys,
            server_device: tokio::sync::OnceCell::new(),
            blobs: crate::blobs::BlobStore::in_memory(),
            metrics: Metrics::default(),
            sync_limit: RateLimiter::new(limit::SYNC_BURST, limit::SYNC_PER_MINUTE),
            login_limit: RateLimiter::new(limit::LOGIN_BURST, limit::LOGIN_PER_MINUTE),
            blob_limit: RateLimiter::new(limit::BLOB_BURST, limit::BLOB_PER_MINUTE),
            upload_limit: RateLimiter::upload_bytes(limit::UPLOAD_MIB_PER_HOUR),
            intake_limit: RateLimiter::new(limit::INTAKE_BURST, limit::INTAKE_PER_MINUTE),
            track_guesses: limit::GuessLimit::default(),
            deadlines: limit::Deadlines::default(),
            sms_inbound_token: None,
            clock_offset_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The loop's figures for `scope` over `from..to`, as the API and the dashboard show them.
    pub async fn stats(
        &self,
        who: &Identity,
        scope: &JurisdictionPath,
        from: i64,
        to: i64,
    ) -> Result<Stats, StoreError> {
        let now = crate::now_ms();
        let (cohort, overdue) = self.store.stats_rows(who, scope, from, to, now).await?;
        let live = self.store.rules().await?;
        Ok(crate::stats::compute(
            &scope.to_string(),
            from,
            to,
            &cohort,
            overdue,
            live.rules.taxonomy(),
            live.rules.calendar(),
        ))
    }

    /// The server's time for judging dates: the system clock, unless a test moved it.
    pub fn now(&self) -> i64 {
        crate::now_ms()
            + self
                .clock_offset_ms
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves [`AppState::now`] to `at` (tests only: a server in service never calls it).
    pub fn set_clock_for_tests(&self, at: i64) {
        self.clock_offset_ms
            .store(at - crate::now_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// The calendar warning due now (see `Rules::calendar_warning`), if any.
    pub fn calendar_warning(&self) -> Option<gridsync_core::rules::CalendarWarning> {
        self.store.rules_now().rules.calendar_warning(self.now())
    }

    /// `limiter`'s verdict for `key`, as `429 rate_limited` (with `Retry-After`) when it refuses.
    pub fn check_limit(&self, limiter: &RateLimiter, key: &str, cost: u64) -> Result<(), ApiError> {
        limiter.take(key, cost).map_err(|wait| {
            self.metrics.rate_limited.increment(1);
            ApiError::rate_limited(wait)
        })
    }
}
