//! One phone over an emulated 2G link.

use std::time::{Duration, Instant};

use gridsync_testkit::link::Link;
use gridsync_testkit::process::ServerProcess;
use serde::Serialize;

use crate::measure::*;
use crate::storm::sync_device;
use crate::workload::*;

/// One phone on a weak link.
#[derive(Debug, Clone, clap::Args)]
pub struct LinkOptions {
    /// Cases the phone captured offline.
    #[arg(long, default_value_t = 20)]
    pub reports: usize,
    /// Edits of each case after capture.
    #[arg(long, default_value_t = 2)]
    pub edits: usize,
    /// Link speed each way, kbit/s (2G EDGE in a village: 40).
    #[arg(long, default_value_t = 40)]
    pub kbps: u64,
    /// Round-trip time, ms.
    #[arg(long, default_value_t = 500)]
    pub rtt_ms: u64,
    #[command(flatten)]
    pub server: ServerBin,
}

/// The link's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkReport {
    pub mode: &'static str,
    pub reports: usize,
    pub changes: usize,
    pub kbps: u64,
    pub rtt_ms: u64,
    /// Raw Automerge change bytes pushed.
    pub change_bytes: usize,
    /// Bytes that crossed the link, both ways, HTTP and TCP payload (headers included).
    pub link_bytes: usize,
    pub bytes_per_report: f64,
    pub round_trips_per_session: f64,
    /// From the first byte sent to the phone holding the last answer.
    pub link_seconds: f64,
    /// The change bytes at the link's speed plus one round trip.
    pub link_min_seconds: f64,
    pub lost: usize,
}

/// One phone syncs its offline cases over an emulated 2G link.
pub fn link(opts: &LinkOptions) -> anyhow::Result<LinkReport> {
    let w = Workload::on_sqlite(Phones {
        devices: 1,
        reports: opts.reports,
        edits: opts.edits,
        concurrency: 1,
    });
    let bin = opts.server.path()?;
    let rt = runtime()?;
    let db = rt.block_on(bench_db(&w))?;
    let blobs = tempfile::tempdir()?;
    let store = db.store.clone();
    let mut devices = rt.block_on(prepare(&w, &store))?;
    let server = ServerProcess::start(&bin, &db.url, blobs.path(), "warn")?;
    let bytes_per_s = opts.kbps as f64 * 1000.0 / 8.0;
    let one_way = Duration::from_millis(opts.rtt_ms / 2);
    let weak = Link::with_delay(&server.url, bytes_per_s, one_way);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut tally = Tally::default();
    let started = Instant::now();
    sync_device(&agent, &weak.url, &mut devices[0], &mut tally)?;
    let link_seconds = started.elapsed().as_secs_f64();
    let (lost, _) = rt.block_on(check(&store, &tally, &devices))?;
    drop(server);
    let link_bytes = weak.carried();
    let changes = opts.reports * (1 + opts.edits);
    Ok(LinkReport {
        mode: "link",
        reports: opts.reports,
        changes,
        kbps: opts.kbps,
        rtt_ms: opts.rtt_ms,
        change_bytes: tally.change_bytes,
        link_bytes,
        bytes_per_report: link_bytes as f64 / opts.reports.max(1) as f64,
        round_trips_per_session: tally.round_trips as f64,
        link_seconds,
        link_min_seconds: tally.change_bytes as f64 / bytes_per_s + opts.rtt_ms as f64 / 1000.0,
        lost,
    })
}
