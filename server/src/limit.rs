//! Every limit the server enforces, named here (docs/PROTOCOL.md, "Limits"; ADR 0015), and the
//! per-key token buckets behind `429 rate_limited`: a phone stuck in a retry loop, someone
//! guessing passwords or filling the database with uploads gets refused instead of the
//! database's time.
//!
//! Sizes the phone must know too live in the core and are re-exported here:
//! [`MAX_ENVELOPE_BYTES`] and [`MAX_BODY_BYTES`] (the sync envelope, before and after inflating),
//! [`MAX_CHANGE_BYTES`] and [`MAX_DOC_BYTES`] (admission), [`MAX_ATTACHMENT_BYTES`] (a blob).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use gridsync_core::admission::{MAX_CHANGE_BYTES, MAX_DOC_BYTES};
pub use gridsync_core::attachment::MAX_ATTACHMENT_BYTES;
pub use gridsync_core::protocol::{MAX_BODY_BYTES, MAX_ENVELOPE_BYTES};

/// A request body on every route but the blob routes: a sync envelope at most.
pub const MAX_REQUEST_BYTES: usize = MAX_ENVELOPE_BYTES;
/// A request body on `/v1/blobs/{sha256}`: a whole blob, plus room for framing.
pub const MAX_BLOB_REQUEST_BYTES: usize = MAX_ATTACHMENT_BYTES as usize + 64 * 1024;
/// The most pulled change bytes one sync response carries, whatever `page_bytes` asks for: the
/// response must stay within the phone's [`MAX_ENVELOPE_BYTES`].
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// `POST /v1/sync` per device: a burst of 120, then 10 a second (paging after a long offline
/// spell stays well inside).
pub const SYNC_BURST: u32 = 120;
pub const SYNC_PER_MINUTE: u32 = 600;
/// A sync whose push had refusals costs the device more of its sync budget: this many requests
/// worth per refused change, and one more per [`REFUSED_BYTES_PER_TOKEN`] pushed to its case. A
/// phone that keeps sending refused bytes is slowed to the refill rate; an honest phone with one
/// refused change barely notices.
pub const REFUSED_CHANGE_COST: u64 = 10;
pub const REFUSED_BYTES_PER_TOKEN: u64 = 4096;
/// Sign-ins per account name, refreshes per device: 10, then 10 a minute.
pub const LOGIN_BURST: u32 = 10;
pub const LOGIN_PER_MINUTE: u32 = 10;
/// Requests to the blob routes per device: 600 (a phone's first sync fetches a thumbnail per
/// photographed case it pulls, and uploads a day's photos with a `HEAD` and a `PUT` each),
/// then 2 a second.
pub const BLOB_BURST: u32 = 600;
pub const BLOB_PER_MINUTE: u32 = 120;
/// Bytes a device may announce in blob uploads: 512 MiB at once (a day's photos), then
/// `serve --upload-mib-per-hour` (default [`UPLOAD_MIB_PER_HOUR`]).
pub const UPLOAD_BURST_BYTES: u32 = 512 * 1024 * 1024;
pub const UPLOAD_MIB_PER_HOUR: u32 = 120;
/// Requests to `/v1/intake` per channel key (a hotline platform catching up after an outage,
/// a retry loop): 120, then 2 a second.
pub const INTAKE_BURST: u32 = 120;
pub const INTAKE_PER_MINUTE: u32 = 120;
/// A work order's body on `POST /v1/intake`: room for the longest description (20,000
/// characters) even with every character escaped as `\uXXXX`.
pub const MAX_INTAKE_BYTES: usize = 256 * 1024;

/// How long a request may take end to end, by kind of route (tower-http's timeouts; past it,
/// `503 timeout`), and how long an upload's body may stall. Phones sync and upload photos over
/// 2G: a deadline must never cut off a slow but moving transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Every route but sync and the uploads ([`REQUEST_DEADLINE`]).
    pub request: Duration,
    /// `POST /v1/sync` ([`SYNC_DEADLINE`]).
    pub sync: Duration,
    /// The uploads (the blob routes, the counter's 登记 form) have no end-to-end deadline; their
    /// body is cut when it stalls this long ([`BODY_IDLE`]).
    pub body_idle: Duration,
}

/// Small bodies and answers the server computes: a minute is far past any honest one.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(60);
/// A whole [`MAX_ENVELOPE_BYTES`] envelope at about 9 KB/s (GPRS), with the round trip's work.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(900);
/// A moving upload sends something every few seconds even over 2G.
pub const BODY_IDLE: Duration = Duration::from_secs(60);

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            request: REQUEST_DEADLINE,
            sync: SYNC_DEADLINE,
            body_idle: BODY_IDLE,
        }
    }
}

/// The progress page (`/track`): wrong receipt-and-code pairs. Only failures are counted, so a
/// requester who looks often is never refused. Per receipt number: 5, then 5 per
/// [`TRACK_WINDOW`] (a 6-digit code then takes years to guess).
pub const TRACK_WRONG_PER_RECEIPT: u32 = 5;
/// Per client address (spraying many receipt numbers): 20, then 20 per [`TRACK_WINDOW`].
pub const TRACK_WRONG_PER_CLIENT: u32 = 20;
/// When the client's address is unknown (the server not served with `ConnectInfo`), every
/// client shares one bucket: 200, then 200 per [`TRACK_WINDOW`].
pub const TRACK_WRONG_ALL_CLIENTS: u32 = 200;
pub const TRACK_WINDOW: Duration = Duration::from_secs(600);

/// The progress page's wrong receipt-and-code pairs: per receipt number, per client address,
/// and one bucket all clients share when their address is unknown.
#[derive(Debug)]
pub struct GuessLimit {
    pub receipt: FailureBudget,
    pub client: FailureBudget,
    pub all: FailureBudget,
}

impl Default for GuessLimit {
    fn default() -> Self {
        GuessLimit {
            receipt: FailureBudget::per_window(TRACK_WRONG_PER_RECEIPT, TRACK_WINDOW),
            client: FailureBudget::per_window(TRACK_WRONG_PER_CLIENT, TRACK_WINDOW),
            all: FailureBudget::per_window(TRACK_WRONG_ALL_CLIENTS, TRACK_WINDOW),
        }
    }
}

/// Keys kept before idle ones are dropped (bounded memory).
const MAX_KEYS: usize = 100_000;

/// A token bucket per key (device id, user name), `burst` deep, refilled at `per_minute`:
/// `governor`'s keyed GCRA limiter (ADR 0035).
#[derive(Debug)]
pub struct RateLimiter {
    inner: governor::DefaultKeyedRateLimiter<String>,
    burst: u32,
    /// The time one token takes to come back.
    period: Duration,
}

impl RateLimiter {
    /// A zero rate (`--upload-mib-per-hour 0`) refills a token a day: governor has no "never".
    pub fn new(burst: u32, per_minute: u32) -> Self {
        let period = match per_minute {
            0 => Duration::from_secs(86_400),
            n => (Duration::from_secs(60) / n).max(Duration::from_nanos(1)),
        };
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = governor::Quota::with_period(period)
            .unwrap_or(governor::Quota::per_second(burst))
            .allow_burst(burst);
        RateLimiter {
            inner: governor::RateLimiter::dashmap(quota),
            burst: burst.get(),
            period,
        }
    }

    /// The upload budget: [`UPLOAD_BURST_BYTES`] deep, refilled at `mib_per_hour`.
    pub fn upload_bytes(mib_per_hour: u32) -> Self {
        RateLimiter::new(
            UPLOAD_BURST_BYTES,
            mib_per_hour.saturating_mul(1024 * 1024) / 60,
        )
    }

    /// Takes one token for `key`; false when the bucket is empty.
    pub fn allow(&self, key: &str) -> bool {
        self.take(key, 1).is_ok()
    }

    /// Takes up to `cost` tokens from `key`'s bucket, emptying it if it holds fewer: a charge for
    /// work already done, never refused.
    pub fn charge(&self, key: &str, cost: u64) {
        if let Err(wait) = self.take(key, cost) {
            // What the bucket holds now: the cost less the tokens still to come in `wait`.
            let cost = self.capped(cost);
            let period = self.period.as_nanos().max(1);
            let missing = wait.as_nanos().div_ceil(period);
            let held = u128::from(cost).saturating_sub(missing);
            if held > 0 {
                let _ = self.take(key, held as u64);
            }
        }
    }

    /// Takes `cost` tokens for `key` (at most the burst: a cost larger than the bucket empties
    /// it); when the bucket holds fewer, takes none and says how long until it will.
    pub fn take(&self, key: &str, cost: u64) -> Result<(), Duration> {
        use governor::clock::Clock as _;
        let Some(cost) = NonZeroU32::new(self.capped(cost)) else {
            return Ok(());
        };
        if self.inner.len() >= MAX_KEYS {
            self.inner.retain_recent();
        }
        match self.inner.check_key_n(&key.to_owned(), cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until
                .wait_time_from(self.inner.clock().now())
                .min(Duration::from_secs(86_400))),
            // Not reached: the cost is capped at the burst.
            Err(_) => Err(Duration::from_secs(86_400)),
        }
    }

    fn capped(&self, cost: u64) -> u32 {
        u32::try_from(cost).unwrap_or(u32::MAX).min(self.burst)
    }
}

/// A bucket per key charged only when a request fails, and asked before it is tried (the
/// progress page's wrong codes): a requester who looks often is never refused. `governor` cannot
/// ask a bucket without taking from it (ADR 0035), so this one is kept here.
#[derive(Debug)]
pub struct FailureBudget {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl FailureBudget {
    /// A bucket `burst` deep, refilled whole over `window`.
    pub fn per_window(burst: u32, window: Duration) -> Self {
        FailureBudget {
            burst: f64::from(burst),
            per_second: f64::from(burst) / window.as_secs_f64().max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key`'s bucket holds a token now, taking none.
    pub fn has_token(&self, key: &str) -> bool {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .get(key)
            .is_none_or(|(tokens, at)| tokens + at.elapsed().as_secs_f64() * self.per_second >= 1.0)
    }

    /// Takes one token from `key`'s bucket (none left: stays empty).
    pub fn charge(&self, key: &str) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        *tokens = (*tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_per_key() {
        let limiter = RateLimiter::new(3, 1);
        assert!((0..3).all(|_| limiter.allow("phone-a")));
        assert!(!limiter.allow("phone-a"));
        assert!(limiter.allow("phone-b"), "keys do not share a bucket");
    }

    #[test]
    fn a_bucket_charged_only_on_failure_is_asked_without_taking() {
        let limiter = FailureBudget::per_window(2, Duration::from_secs(600));
        assert!(limiter.has_token("receipt"));
        assert!(limiter.has_token("receipt"), "asking takes nothing");
        limiter.charge("receipt");
        assert!(limiter.has_token("receipt"));
        limiter.charge("receipt");
        assert!(!limiter.has_token("receipt"), "two failures empty it");
        assert!(limiter.has_token("other"));
    }

    #[test]
    fn a_charge_past_the_bucket_empties_it() {
        let limiter = RateLimiter::new(100, 60);
        limiter.charge("phone", 30);
        assert!(limiter.take("phone", 70).is_ok(), "30 charged, 70 left");
        assert!(limiter.take("phone", 5).is_err());
        let limiter = RateLimiter::new(100, 60);
        limiter.charge("phone", 10_000);
        assert!(
            !limiter.allow("phone"),
            "a charge larger than the bucket empties it"
        );
        assert!(limiter.allow("other"));
    }

    #[test]
    fn a_cost_takes_that_many_tokens_and_says_when_to_retry() {
        let limiter = RateLimiter::new(100, 60);
        assert!(limiter.take("phone", 70).is_ok());
        let wait = limiter.take("phone", 50).expect_err("30 left");
        assert!(
            (19.0..=21.0).contains(&wait.as_secs_f64()),
            "20 tokens at 1 a second: {wait:?}"
        );
        assert!(limiter.take("phone", 30).is_ok(), "a refusal takes nothing");
        assert!(
            limiter.take("other", 1_000).is_ok(),
            "a cost over the burst empties a full bucket"
        );
        assert!(limiter.take("other", 1).is_err());
    }
}
