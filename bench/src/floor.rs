//! Automerge's own floor: the storm's exact changes applied with Automerge alone in this process
//! (per case: apply, then save as the server saves a snapshot), with no SQL, no network and no
//! judging; then, unless `--alone`, the in-process limit and the storm on the same workload,
//! back to back, with their ratios to the floor.

use std::time::Instant;

use anyhow::{Context, bail};
use gridsync_testkit::process::cpu_seconds_of;
use serde::Serialize;

use crate::measure::Report;
use crate::storm::StormOptions;
use crate::workload::*;

#[derive(Debug, Clone, clap::Args)]
pub struct FloorOptions {
    #[command(flatten)]
    pub workload: Workload,
    /// Threads applying cases (default: the machine's cores, as the server uses them).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The floor alone: no limit and no storm after it.
    #[arg(long)]
    pub alone: bool,
    #[command(flatten)]
    pub server: ServerBin,
}

/// The floor's own figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FloorFigures {
    pub mode: &'static str,
    pub devices: usize,
    pub reports: usize,
    pub changes: usize,
    pub threads: usize,
    pub seconds: f64,
    pub reports_per_s: f64,
    pub changes_per_s: f64,
    /// This process's CPU time (user + system, every thread) over the timed phase, per report.
    pub cpu_ms_per_report: f64,
    /// Snapshot bytes saved, per report.
    pub saved_bytes_per_report: f64,
}

/// The floor, and the limit and storm measured right after it with their ratios to it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FloorReport {
    pub floor: FloorFigures,
    pub limit: Option<Report>,
    pub storm: Option<Report>,
    /// Reports per second of the limit over the floor's.
    pub limit_over_floor: Option<f64>,
    /// Reports per second of the storm over the limit's.
    pub storm_over_limit: Option<f64>,
    /// Reports per second of the storm over the floor's.
    pub storm_over_floor: Option<f64>,
    /// The storm's server CPU per report over the floor's CPU per report.
    pub storm_cpu_over_floor_cpu: Option<f64>,
}

/// One case's changes as the phone pushes them.
type CaseChanges = Vec<Vec<u8>>;

/// The changes every phone pushes first, per case, exactly as the storm sends them.
fn pushed_cases(devices: &[Device]) -> anyhow::Result<Vec<CaseChanges>> {
    let mut cases = Vec::new();
    for d in devices {
        let req = d.replica.next_sync_request()?;
        for case in req.push {
            cases.push(case.changes.into_iter().map(|c| c.into_vec()).collect());
        }
    }
    Ok(cases)
}

/// Applies and saves each case (its bytes moved into the parser, not copied); returns the bytes
/// saved.
fn apply_and_save(cases: &mut [CaseChanges]) -> anyhow::Result<usize> {
    let mut saved = 0;
    for changes in cases {
        let changes = std::mem::take(changes)
            .into_iter()
            .map(automerge::Change::from_bytes)
            .collect::<Result<Vec<_>, _>>()
            .context("a pushed change does not parse")?;
        let mut doc = automerge::Automerge::new();
        doc.apply_changes(changes)?;
        saved += doc.save_nocompress().len();
    }
    Ok(saved)
}

fn measure_floor(w: &Workload, threads: usize) -> anyhow::Result<FloorFigures> {
    let rt = runtime()?;
    let db = rt.block_on(bench_db(w))?;
    let devices = rt.block_on(prepare(w, &db.store))?;
    let mut cases = pushed_cases(&devices)?;
    let expected = w.phones.devices * w.phones.reports;
    if cases.len() != expected {
        bail!("the phones push {} cases, not {expected}", cases.len());
    }
    let changes = cases.iter().map(Vec::len).sum();
    rt.block_on(db.store.pool().close());
    drop(db);
    let threads = threads.max(1);
    let share = cases.len().div_ceil(threads).max(1);
    let cpu_before = cpu_seconds_of(std::process::id());
    let started = Instant::now();
    let saved = std::thread::scope(|s| {
        let parts: Vec<_> = cases
            .chunks_mut(share)
            .map(|part| s.spawn(move || apply_and_save(part)))
            .collect();
        parts.into_iter().try_fold(0, |sum, part| {
            let saved = part
                .join()
                .map_err(|_| anyhow::anyhow!("a floor thread panicked"))??;
            anyhow::Ok(sum + saved)
        })
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds_of(std::process::id()) - cpu_before;
    Ok(FloorFigures {
        mode: "floor",
        devices: w.phones.devices,
        reports: expected,
        changes,
        threads,
        seconds,
        reports_per_s: expected as f64 / seconds,
        changes_per_s: changes as f64 / seconds,
        cpu_ms_per_report: cpu * 1000.0 / expected.max(1) as f64,
        saved_bytes_per_report: saved as f64 / expected.max(1) as f64,
    })
}

/// The floor, then (unless `alone`) the limit and the storm on the same workload.
pub fn floor(opts: &FloorOptions) -> anyhow::Result<FloorReport> {
    let threads = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let floor = measure_floor(&opts.workload, threads)?;
    if opts.alone {
        return Ok(FloorReport {
            floor,
            ..FloorReport::default()
        });
    }
    let limit = crate::limit(&opts.workload)?;
    let storm = crate::storm(&StormOptions {
        workload: opts.workload.clone(),
        servers: 1,
        server: opts.server.clone(),
    })?;
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    Ok(FloorReport {
        limit_over_floor: ratio(limit.reports_per_s, floor.reports_per_s),
        storm_over_limit: ratio(storm.reports_per_s, limit.reports_per_s),
        storm_over_floor: ratio(storm.reports_per_s, floor.reports_per_s),
        storm_cpu_over_floor_cpu: ratio(storm.server_cpu_ms_per_report, floor.cpu_ms_per_report),
        floor,
        limit: Some(limit),
        storm: Some(storm),
    })
}
