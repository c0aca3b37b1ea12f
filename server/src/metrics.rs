//! `GET /metrics`: the `metrics` facade recorded into this server's own Prometheus recorder
//! (`metrics-exporter-prometheus`, text format 0.0.4). Aggregates only: no ids, no personal
//! data; routes are labelled by their template (`/v1/cases/{id}`), never by the path asked.
//!
//! Each [`Metrics`] owns its recorder and records through it with `metrics::with_local_recorder`,
//! never through a process-global one: tests and the benchmark run several servers in one
//! process, and each server's figures must be its own (ADR 0035).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gridsync_core::protocol::RejectCode;
use metrics::{Counter, Histogram, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Histogram buckets of every `_seconds` metric: a quick read on a LAN to a photo over 2G.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Recordings between two drains of the histograms' samples into their buckets (a scrape drains
/// too): memory stays bounded when nobody scrapes.
const UPKEEP_EVERY: u64 = 4096;

/// The phases of a sync round trip timed apart (`gridsync_sync_phase_seconds{phase}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Admission of the pushed changes, before the feed lock (`Store::judge_push`).
    Judge,
    /// Storing the judged push under the feed lock, in one transaction (`Store::store_push`).
    Commit,
    /// Reading the page of the change feed the device may see (`Store::pull`).
    Pull,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Judge => "judge",
            Phase::Commit => "commit",
            Phase::Pull => "pull",
        }
    }
}

/// This server's counters and histograms.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pub sync_requests: Counter,
    pub changes_accepted: Counter,
    pub changes_pulled: Counter,
    pub logins_ok: Counter,
    pub logins_refused: Counter,
    pub rate_limited: Counter,
    sync_seconds: Histogram,
    recorded: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            // A fixed, non-empty list: cannot fail.
            .unwrap_or_default()
            .build_recorder();
        let handle = recorder.handle();
        let (counters, sync_seconds) = metrics::with_local_recorder(&recorder, || {
            describe();
            (
                [
                    metrics::counter!("gridsync_sync_requests_total"),
                    metrics::counter!("gridsync_changes_accepted_total"),
                    metrics::counter!("gridsync_changes_pulled_total"),
                    metrics::counter!("gridsync_logins_total"),
                    metrics::counter!("gridsync_logins_refused_total"),
                    metrics::counter!("gridsync_rate_limited_total"),
                ],
                metrics::histogram!("gridsync_sync_seconds"),
            )
        });
        let [
            sync_requests,
            changes_accepted,
            changes_pulled,
            logins_ok,
            logins_refused,
            rate_limited,
        ] = counters;
        Metrics {
            recorder,
            handle,
            sync_requests,
            changes_accepted,
            changes_pulled,
            logins_ok,
            logins_refused,
            rate_limited,
            sync_seconds,
            recorded: AtomicU64::new(0),
        }
    }
}

/// The help lines.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "gridsync_sync_requests_total",
        "Sync round trips answered by the store."
    );
    describe_counter!(
        "gridsync_changes_accepted_total",
        "Pushed changes acknowledged."
    );
    describe_counter!("gridsync_changes_pulled_total", "Changes sent to devices.");
    describe_counter!(
        "gridsync_changes_rejected_total",
        "Pushed changes refused and quarantined, by code."
    );
    describe_counter!("gridsync_logins_total", "Successful sign-ins.");
    describe_counter!("gridsync_logins_refused_total", "Refused sign-ins.");
    describe_counter!("gridsync_rate_limited_total", "Requests refused with 429.");
    describe_histogram!(
        "gridsync_sync_seconds",
        Unit::Seconds,
        "Sync round trips answered, from after the rate limit to the encoded answer."
    );
    describe_histogram!(
        "gridsync_sync_phase_seconds",
        Unit::Seconds,
        "Phases of the sync round trips: judge and commit when something was pushed, pull always."
    );
    describe_histogram!(
        "gridsync_http_request_seconds",
        Unit::Seconds,
        "HTTP requests by method, route template and status."
    );
    describe_gauge!(
        "gridsync_quarantine_kept",
        "Refused changes kept in quarantine, not released (from the database)."
    );
    describe_gauge!(
        "gridsync_quarantine_kept_bytes",
        "Budget bytes the kept refusals use (from the database)."
    );
    describe_counter!(
        "gridsync_quarantine_dropped_total",
        "Refusals past a device's or the total budget: counted, not stored (from the database)."
    );
    describe_counter!(
        "gridsync_quarantine_released_total",
        "Quarantined changes released into their case (from the database)."
    );
}

impl Metrics {
    /// Runs `f` with this server's recorder behind the `metrics` macros.
    fn local<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// Counts a histogram sample; every [`UPKEEP_EVERY`], drains the samples into buckets.
    fn sampled(&self) {
        if self.recorded.fetch_add(1, Ordering::Relaxed) % UPKEEP_EVERY == UPKEEP_EVERY - 1 {
            self.handle.run_upkeep();
        }
    }

    pub fn rejected(&self, code: RejectCode) {
        self.local(
            || metrics::counter!("gridsync_changes_rejected_total", "code" => code.as_str()),
        )
        .increment(1);
    }

    /// A sync round trip answered, in `took`.
    pub fn sync(&self, took: Duration) {
        self.sync_seconds.record(took);
        self.sampled();
    }

    /// One phase of a sync round trip.
    pub fn phase(&self, phase: Phase, took: Duration) {
        self.local(
            || metrics::histogram!("gridsync_sync_phase_seconds", "phase" => phase.as_str()),
        )
        .record(took);
        self.sampled();
    }

    /// An HTTP request answered: `route` is the matched template (`unmatched` for none).
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        self.local(|| metrics::histogram!("gridsync_http_request_seconds", &labels))
            .record(took);
        self.sampled();
    }

    /// The quarantine's figures, read from the database at each scrape: the same on every
    /// server on it.
    pub fn quarantine(&self, q: &crate::store::QuarantineTotals) {
        self.local(|| {
            metrics::gauge!("gridsync_quarantine_kept").set(q.kept as f64);
            metrics::gauge!("gridsync_quarantine_kept_bytes").set(q.kept_bytes as f64);
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            metrics::counter!("gridsync_quarantine_dropped_total").absolute(count(q.dropped));
            metrics::counter!("gridsync_quarantine_released_total").absolute(count(q.released));
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}
