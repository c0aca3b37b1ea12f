//! What a benchmark measured: the tally of the exchanges, the report it prints, and the check
//! that nothing acknowledged was lost.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use gridsync_core::protocol::{SyncRequest, SyncResponse, to_hash};
use gridsync_core::replica::CaseFilter;
use gridsync_server::store::Store;
use serde::Serialize;
use sqlx::Row;

use crate::workload::*;

/// One run's figures: the JSON line the binary prints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub database: &'static str,
    pub servers: usize,
    pub devices: usize,
    pub reports: usize,
    /// Automerge changes pushed (a capture and each edit).
    pub changes: usize,
    pub seconds: f64,
    pub reports_per_s: f64,
    pub changes_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Request and response bytes per report (HTTP bodies).
    pub bytes_per_report: f64,
    /// Body bytes on the wire per raw Automerge change byte pushed.
    pub wire_per_change_byte: f64,
    pub round_trips_per_session: f64,
    /// Peak resident memory of the server processes (MB, summed).
    pub server_rss_mb: f64,
    /// Peak resident memory of the largest server process (MB).
    pub server_rss_mb_max: f64,
    /// The server processes' CPU time (user + system, summed) over the timed phase per report,
    /// ms: what the server spent, apart from what the simulated phones limit; in process (the
    /// limit), this whole process over the timed pushes, whose requests were built before.
    pub server_cpu_ms_per_report: f64,
    /// This process's CPU time over the timed phase per report, ms: the simulated phones
    /// (requests, answers, HTTP), which share the machine's cores with the server (`None` in
    /// process, where this process is the store).
    pub phones_cpu_ms_per_report: Option<f64>,
    /// The PostgreSQL processes' CPU time over the timed phase per report, ms (`None` on
    /// SQLite, whose work is the server's).
    pub database_cpu_ms_per_report: Option<f64>,
    /// Changes the server acknowledged that it does not hold afterwards.
    pub lost: usize,
    /// Every phone holds every case of its grid, and has nothing left to send.
    pub converged: bool,
}

/// What syncing the phones measured.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) wire_bytes: usize,
    pub(crate) change_bytes: usize,
    pub(crate) round_trips: usize,
    pub(crate) acked: HashSet<String>,
}

impl Tally {
    pub(crate) fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.wire_bytes += other.wire_bytes;
        self.change_bytes += other.change_bytes;
        self.round_trips += other.round_trips;
        self.acked.extend(other.acked);
    }

    /// Counts what one exchange carried and acknowledged.
    pub(crate) fn exchange(
        &mut self,
        req: &SyncRequest,
        resp: &SyncResponse,
    ) -> anyhow::Result<()> {
        self.change_bytes += req
            .push
            .iter()
            .flat_map(|d| &d.changes)
            .map(|c| c.len())
            .sum::<usize>();
        self.round_trips += 1;
        for ack in &resp.accepted {
            for h in &ack.hashes {
                self.acked.insert(to_hash(h)?.to_string());
            }
        }
        Ok(())
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Acknowledged changes missing from the server, and whether every phone holds its grid.
pub(crate) async fn check(
    store: &Store,
    tally: &Tally,
    devices: &[Device],
) -> anyhow::Result<(usize, bool)> {
    let stored: HashSet<String> = sqlx::query("SELECT hash FROM changes")
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    let lost = tally.acked.difference(&stored).count();
    let mut per_grid: HashMap<String, usize> = HashMap::new();
    for row in sqlx::query("SELECT path, COUNT(*) FROM cases GROUP BY path")
        .fetch_all(store.pool())
        .await?
    {
        per_grid.insert(row.try_get(0)?, row.try_get::<i64, _>(1)? as usize);
    }
    let mut converged = true;
    for d in devices {
        let held = d.replica.list(&CaseFilter::default())?.len();
        let expected = per_grid.get(&d.grid).copied().unwrap_or(0);
        converged &= held == expected && d.replica.pending_count()? == 0;
    }
    Ok((lost, converged))
}

pub(crate) fn report(
    mode: &'static str,
    w: &Workload,
    servers: usize,
    seconds: f64,
    tally: &Tally,
) -> Report {
    let reports = w.phones.devices * w.phones.reports;
    let changes = reports * (1 + w.phones.edits);
    let mut lat = tally.latencies.clone();
    lat.sort();
    Report {
        mode,
        database: w.database.as_str(),
        servers,
        devices: w.phones.devices,
        reports,
        changes,
        seconds,
        reports_per_s: reports as f64 / seconds,
        changes_per_s: changes as f64 / seconds,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        bytes_per_report: tally.wire_bytes as f64 / reports.max(1) as f64,
        wire_per_change_byte: tally.wire_bytes as f64 / tally.change_bytes.max(1) as f64,
        round_trips_per_session: tally.round_trips as f64 / w.phones.devices.max(1) as f64,
        ..Report::default()
    }
}

/// The CPU seconds of this machine's PostgreSQL processes (its backends and helpers), by pid.
pub(crate) fn postgres_cpu() -> HashMap<u32, f64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| (pid, gridsync_testkit::process::cpu_seconds_of(pid)))
        .collect()
}

/// CPU seconds spent between two [`postgres_cpu`] readings (a process started since counts
/// from zero; one that ended since is not counted).
pub(crate) fn cpu_spent(before: &HashMap<u32, f64>, after: &HashMap<u32, f64>) -> f64 {
    after
        .iter()
        .map(|(pid, t)| t - before.get(pid).copied().unwrap_or(0.0))
        .sum()
}
