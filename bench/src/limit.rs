//! The store's own ceiling: the workload straight into `Store::sync`, in process.

use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use gridsync_core::session::{Step, SyncSession};
use gridsync_testkit::process::cpu_seconds_of;

use crate::measure::*;
use crate::storm::settled;
use crate::workload::*;

/// The same workload applied in-process straight into the store: no HTTP, no encoding, and no
/// phone work in the timed part (every first request is built before the clock starts and the
/// answers applied after it stops), so it is the store's own ceiling.
pub fn limit(w: &Workload) -> anyhow::Result<Report> {
    let rt = runtime()?;
    let db = rt.block_on(bench_db(w))?;
    let result = rt.block_on(async {
        let store = db.store.clone();
        let mut devices = prepare(w, &store).await?;
        let mut work = Vec::with_capacity(devices.len());
        for d in &devices {
            let ctx = store
                .device_context(&d.identity.device)
                .await?
                .ok_or_else(|| anyhow!("device not bound"))?;
            work.push((ctx, d.identity.clone(), d.replica.next_sync_request()?));
        }
        let permits = Arc::new(tokio::sync::Semaphore::new(w.phones.concurrency.max(1)));
        let pb = bar(devices.len(), "in-process pushes");
        let cpu_before = cpu_seconds_of(std::process::id());
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (ctx, who, req)) in work.into_iter().enumerate() {
            let (store, permits, pb) = (store.clone(), permits.clone(), pb.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await?;
                let t = Instant::now();
                let resp = store
                    .sync(&ctx, &who, &req, gridsync_server::now_ms())
                    .await?;
                let took = t.elapsed();
                pb.inc(1);
                anyhow::Ok((i, req, resp, took))
            });
        }
        let mut answers = Vec::with_capacity(devices.len());
        while let Some(done) = tasks.join_next().await {
            answers.push(done??);
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds_of(std::process::id()) - cpu_before;
        pb.finish();
        // Untimed: the phones apply the answers (and sync on, should anything have been paged).
        let mut tally = Tally::default();
        for (i, req, resp, took) in answers {
            tally.latencies.push(took);
            tally.exchange(&req, &resp)?;
            let d = &mut devices[i];
            let ctx = store
                .device_context(&d.identity.device)
                .await?
                .ok_or_else(|| anyhow!("device not bound"))?;
            let mut session = SyncSession::cases_only();
            d.answer(&mut session, resp)?;
            while let Step::Sync(req) = session.next(&d.replica)? {
                let resp = store
                    .sync(&ctx, &d.identity, &req, gridsync_server::now_ms())
                    .await?;
                tally.exchange(&req, &resp)?;
                d.answer(&mut session, resp)?;
            }
            settled(&session, d)?;
        }
        let mut r = report("limit", w, 0, seconds, &tally);
        // The store's CPU: the phones' requests were built before the clock started.
        r.server_cpu_ms_per_report = cpu * 1000.0 / r.reports.max(1) as f64;
        let (lost, _) = check(&store, &tally, &devices).await?;
        r.lost = lost;
        r.converged = devices
            .iter()
            .all(|d| d.replica.pending_count().is_ok_and(|n| n == 0));
        store.pool().close().await;
        anyhow::Ok(r)
    });
    drop(db);
    result
}
