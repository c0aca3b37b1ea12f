//! Counters for Prometheus (`GET /metrics`, text format 0.0.4). Aggregates only: no ids, no
//! personal data.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use gridsync_core::protocol::RejectCode;

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub sync_requests: AtomicU64,
    pub changes_accepted: AtomicU64,
    pub changes_pulled: AtomicU64,
    pub logins_ok: AtomicU64,
    pub logins_refused: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Microseconds spent in sync handling, for the mean.
    pub sync_micros: AtomicU64,
    rejected: Mutex<Vec<(RejectCode, u64)>>,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn rejected(&self, code: RejectCode) {
        let mut rows = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        match rows.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => rows.push((code, 1)),
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "gridsync_sync_requests_total",
            "Sync round trips handled.",
            get(&self.sync_requests),
        );
        counter(
            "gridsync_changes_accepted_total",
            "Pushed changes acknowledged.",
            get(&self.changes_accepted),
        );
        counter(
            "gridsync_changes_pulled_total",
            "Changes sent to devices.",
            get(&self.changes_pulled),
        );
        counter(
            "gridsync_logins_total",
            "Successful sign-ins.",
            get(&self.logins_ok),
        );
        counter(
            "gridsync_logins_refused_total",
            "Refused sign-ins.",
            get(&self.logins_refused),
        );
        counter(
            "gridsync_rate_limited_total",
            "Requests refused with 429.",
            get(&self.rate_limited),
        );
        counter(
            "gridsync_sync_seconds_sum_micros",
            "Time spent handling sync, in microseconds.",
            get(&self.sync_micros),
        );
        let _ = writeln!(
            out,
            "# HELP gridsync_changes_rejected_total Pushed changes refused and quarantined, by code.\n# TYPE gridsync_changes_rejected_total counter"
        );
        let rows = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        for (code, n) in rows.iter() {
            let _ = writeln!(
                out,
                "gridsync_changes_rejected_total{{code=\"{}\"}} {n}",
                code.as_str()
            );
        }
        out
    }
}

/// The quarantine's gauges and counter (`Store::quarantine_totals`).
pub fn quarantine(q: &crate::store::QuarantineTotals) -> String {
    let mut out = String::new();
    for (name, kind, help, value) in [
        (
            "gridsync_quarantine_kept",
            "gauge",
            "Refused changes kept in quarantine, not released.",
            q.kept,
        ),
        (
            "gridsync_quarantine_kept_bytes",
            "gauge",
            "Budget bytes the kept refusals use.",
            q.kept_bytes,
        ),
        (
            "gridsync_quarantine_dropped_total",
            "counter",
            "Refusals past a device's or the total budget: counted, not stored.",
            q.dropped,
        ),
        (
            "gridsync_quarantine_released_total",
            "counter",
            "Quarantined changes released into their case.",
            q.released,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out
}
