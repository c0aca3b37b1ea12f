//! Two servers on one PostgreSQL handing a grid's cases back and forth.

use std::time::Instant;

use gridsync_core::JurisdictionPath;
use gridsync_testkit::process::ServerProcess;
use serde::Serialize;

use crate::measure::*;
use crate::storm::sync_device;
use crate::workload::*;

/// Two servers on one PostgreSQL, one phone on each, both of one grid.
#[derive(Debug, Clone, clap::Args)]
pub struct HandoffOptions {
    /// Cases phone A reports through server 1, each pulled by phone B through server 2.
    #[arg(long, default_value_t = 50)]
    pub rounds: usize,
    /// PostgreSQL to create the benchmark's own database in (dropped afterwards).
    #[arg(
        long,
        env = "GRIDSYNC_TEST_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres: String,
    #[command(flatten)]
    pub server: ServerBin,
}

/// How soon a change accepted by one server reaches a phone syncing through another.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HandoffReport {
    pub mode: &'static str,
    pub rounds: usize,
    /// Rounds in which phone B's first sync after phone A's acknowledgement brought the case.
    pub seen_in_first_pull: usize,
    /// From phone A holding the acknowledgement to phone B holding the case, ms.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Scale-out consistency: each round phone A reports a case through server 1 and, as soon as
/// it is acknowledged, phone B (same grid) syncs once through server 2. Servers keep no state
/// of their own between requests (the document cache is keyed by the stored version), so the
/// first pull must already carry it: no notification between servers is needed.
pub fn handoff(opts: &HandoffOptions) -> anyhow::Result<HandoffReport> {
    let bin = opts.server.path()?;
    let w = Workload {
        phones: Phones {
            devices: 2,
            reports: 0,
            edits: 0,
            concurrency: 1,
        },
        database: Database::Postgres,
        postgres: opts.postgres.clone(),
        unsigned: false,
        unsealed: false,
    };
    let rt = runtime()?;
    let db = rt.block_on(bench_db(&w))?;
    let blobs = tempfile::tempdir()?;
    let result = (|| {
        let mut devices = rt.block_on(async {
            let store = db.store.clone();
            let devices = prepare(&w, &store).await?;
            store.pool().close().await;
            anyhow::Ok(devices)
        })?;
        let servers = (0..2)
            .map(|_| ServerProcess::start(&bin, &db.url, blobs.path(), "warn"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut tally = Tally::default();
        let (a, b) = devices.split_at_mut(1);
        let (a, b) = (&mut a[0], &mut b[0]);
        let grid = JurisdictionPath::parse(&a.grid)?;
        let mut waits = Vec::with_capacity(opts.rounds);
        let mut seen = 0;
        let pb = bar(opts.rounds, "handoff between servers");
        for n in 0..opts.rounds {
            let id = a
                .replica
                .capture(&new_case(&grid, 0, n), gridsync_server::now_ms())?;
            sync_device(&agent, &servers[0].url, a, &mut tally)?;
            let acked = Instant::now();
            sync_device(&agent, &servers[1].url, b, &mut tally)?;
            if b.replica.case(&id).is_ok() {
                seen += 1;
                waits.push(acked.elapsed());
            }
            pb.inc(1);
        }
        pb.finish();
        waits.sort();
        Ok(HandoffReport {
            mode: "handoff",
            rounds: opts.rounds,
            seen_in_first_pull: seen,
            p50_ms: percentile(&waits, 0.5),
            p99_ms: percentile(&waits, 0.99),
            max_ms: percentile(&waits, 1.0),
        })
    })();
    drop(db);
    result
}
