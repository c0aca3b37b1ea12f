//! The phone's own store, full of cases: how fast it lists, opens and syncs.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use gridsync_core::{Identity, JurisdictionPath, Replica, Role};
use serde::Serialize;

use crate::measure::*;
use crate::workload::*;

/// The phone's own store, full of cases.
#[derive(Debug, Clone, clap::Args)]
pub struct PhoneOptions {
    /// Cases already in the store, captured over months and never synced: the largest store
    /// (each change is in its document and in the outbox until acknowledged).
    #[arg(long, default_value_t = 10_000)]
    pub cases: usize,
    /// Times the full store is opened through the FFI.
    #[arg(long, default_value_t = 5)]
    pub opens: usize,
    /// Cases then captured through the FFI, each timed.
    #[arg(long, default_value_t = 300)]
    pub captures: usize,
}

/// How the phone's store behaves when full.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhoneReport {
    pub mode: &'static str,
    pub cases: usize,
    /// The encrypted store on disk (database and WAL), MB.
    pub store_mb: f64,
    /// `FieldStore::open` (what the app calls at start), first and slowest of `opens`, ms.
    pub open_first_ms: f64,
    pub open_max_ms: f64,
    /// `FieldStore::capture`, ms.
    pub capture_p50_ms: f64,
    pub capture_p99_ms: f64,
    /// `FieldStore::list_cases` of everything (the app's case list), ms.
    pub list_all_ms: f64,
}

/// Fills an encrypted on-disk store with `cases` (through the core, untimed), then times what
/// the app does through the FFI: opening it, capturing cases, listing them.
pub fn phone(opts: &PhoneOptions) -> anyhow::Result<PhoneReport> {
    use gridsync_ffi::{CaseFilterRecord, FieldStore, NewCaseRecord};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("field.db");
    let grid = grid_of(0);
    let scope = JurisdictionPath::parse(&grid)?;
    {
        let mut replica = Replica::open(&path, &KEY)?;
        replica.sign_in(Identity::new(
            "gw000000",
            Role::GridWorker,
            scope.clone(),
            None,
            "bench-phone",
        )?)?;
        let pb = bar(opts.cases, "phone store fills");
        let start = gridsync_server::now_ms() - 180 * 86_400_000;
        for n in 0..opts.cases {
            replica.capture(&new_case(&scope, 0, n), start + (n as i64) * 60_000)?;
            pb.inc(1);
        }
        pb.finish();
    }
    let store_mb = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1e6;
    let path_s = path.to_string_lossy().into_owned();
    let mut opens = Vec::with_capacity(opts.opens.max(1));
    let mut store = None;
    for _ in 0..opts.opens.max(1) {
        drop(store.take());
        let t = Instant::now();
        store = Some(FieldStore::open(path_s.clone(), KEY.to_vec())?);
        opens.push(t.elapsed());
    }
    let store = store.ok_or_else(|| anyhow!("the store did not open"))?;
    let mut captures = Vec::with_capacity(opts.captures);
    let pb = bar(opts.captures, "captures through the FFI");
    for n in 0..opts.captures {
        let c = new_case(&scope, 0, opts.cases + n);
        let record = NewCaseRecord::from(c);
        let t = Instant::now();
        store.capture(record)?;
        captures.push(t.elapsed());
        pb.inc(1);
    }
    pb.finish();
    let t = Instant::now();
    let listed = store.list_cases(CaseFilterRecord::default())?.len();
    let list_all = t.elapsed();
    if listed != opts.cases + opts.captures {
        bail!(
            "the store lists {listed} cases, not {}",
            opts.cases + opts.captures
        );
    }
    captures.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(PhoneReport {
        mode: "phone",
        cases: opts.cases,
        store_mb,
        open_first_ms: ms(opens[0]),
        open_max_ms: opens.iter().copied().map(ms).fold(0.0, f64::max),
        capture_p50_ms: percentile(&captures, 0.5),
        capture_p99_ms: percentile(&captures, 0.99),
        list_all_ms: ms(list_all),
    })
}
