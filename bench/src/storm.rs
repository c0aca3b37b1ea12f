//! The morning reconnect storm: every phone syncs at once through real `gridsync serve`
//! processes, each through the core's sync session.

use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, bail};
use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::session::{Step, SyncSession};
use gridsync_testkit::process::{ServerProcess, cpu_seconds_of};

use crate::measure::*;
use crate::workload::*;

#[derive(Debug, Clone, clap::Args)]
pub struct StormOptions {
    #[command(flatten)]
    pub workload: Workload,
    /// `gridsync serve` processes on the one database (more than one needs PostgreSQL).
    #[arg(long, default_value_t = 1)]
    pub servers: usize,
    #[command(flatten)]
    pub server: ServerBin,
}

/// Syncs one phone through the core's sync session until the server has everything it pushed
/// and it has everything the server sent; one exchange when nothing was paged.
pub(crate) fn sync_device(
    agent: &ureq::Agent,
    url: &str,
    d: &mut Device,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let mut session = SyncSession::cases_only();
    while let Step::Sync(req) = session.next(&d.replica)? {
        let body = encode_request(&req)?;
        let started = Instant::now();
        let mut resp = agent
            .post(format!("{url}/v1/sync"))
            .header("Authorization", &format!("Bearer {}", d.token))
            .content_type("application/x-gridsync")
            .send(&body[..])?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()?;
        tally.latencies.push(started.elapsed());
        if status != 200 {
            bail!(
                "{}: HTTP {status}: {}",
                d.identity.device,
                String::from_utf8_lossy(&bytes)
            );
        }
        tally.wire_bytes += body.len() + bytes.len();
        let resp = decode_response(&bytes)?;
        tally.exchange(&req, &resp)?;
        d.answer(&mut session, resp)?;
    }
    settled(&session, d)
}

/// A phone the server kept telling "more" past the session's round cap is a failure, not a slow
/// link.
pub(crate) fn settled(session: &SyncSession, d: &Device) -> anyhow::Result<()> {
    if session.outcome().more {
        bail!(
            "{} did not settle in {} rounds",
            d.identity.device,
            session.outcome().rounds
        );
    }
    Ok(())
}

/// What a phone's app has done before coverage returns, done by each phone thread before the
/// clock starts: saved a document (Automerge sets up DEFLATE per column). A fresh thread's
/// first set-up pays first-touch page faults a running app does not; 200 of them at once took
/// the server's cores in the timed phase.
fn warm_up() {
    let mut doc = automerge::AutoCommit::new();
    for i in 0..64 {
        let _ = automerge::transaction::Transactable::put(
            &mut doc,
            automerge::ROOT,
            format!("field-{i}"),
            format!("一段现场记录 {i}"),
        );
    }
    std::hint::black_box(doc.save());
}

/// Syncs every phone, `concurrency` at a time, phone `i` through `urls[i % urls.len()]`. The
/// threads start and warm up first; then `start` runs (the caller's clock and readings) and
/// they sync.
pub(crate) fn sync_all(
    devices: &mut [Device],
    urls: &[String],
    concurrency: usize,
    what: &str,
    start: impl FnOnce(),
) -> anyhow::Result<Tally> {
    let queue: Mutex<Vec<(usize, &mut Device)>> =
        Mutex::new(devices.iter_mut().enumerate().rev().collect());
    let total = Mutex::new(Tally::default());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let pb = bar(queue.lock().map(|q| q.len()).unwrap_or(0), what);
    let threads = concurrency.max(1);
    let ready = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                warm_up();
                ready.wait();
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut mine = Tally::default();
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some((i, d)) = next else { break };
                    if let Err(e) = sync_device(&agent, &urls[i % urls.len()], d, &mut mine) {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                        break;
                    }
                    pb.inc(1);
                }
                if let Ok(mut t) = total.lock() {
                    t.merge(mine);
                }
            });
        }
        ready.wait();
        start();
    });
    pb.finish();
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    total
        .into_inner()
        .map_err(|_| anyhow!("a sync thread panicked"))
}

/// The reconnect storm through `gridsync serve` processes.
pub fn storm(opts: &StormOptions) -> anyhow::Result<Report> {
    let w = &opts.workload;
    if opts.servers > 1 && w.database != Database::Postgres {
        bail!("several servers share one PostgreSQL: pass --database postgres");
    }
    let bin = opts.server.path()?;
    let rt = runtime()?;
    let db = rt.block_on(bench_db(w))?;
    let blobs = tempfile::tempdir()?;
    let result = (|| {
        let store = db.store.clone();
        let mut devices = rt.block_on(prepare(w, &store))?;
        let servers = (0..opts.servers)
            .map(|_| ServerProcess::start(&bin, &db.url, blobs.path(), "warn"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
        rt.block_on(refresh_tokens(&store, &mut devices))?;
        let mut before = None;
        let tally = sync_all(
            &mut devices,
            &urls,
            w.phones.concurrency,
            "reconnect storm",
            || {
                before = Some((
                    servers.iter().map(ServerProcess::cpu_seconds).sum::<f64>(),
                    cpu_seconds_of(std::process::id()),
                    postgres_cpu(),
                    Instant::now(),
                ))
            },
        )?;
        let (cpu_before, phones_before, database_before, started) =
            before.ok_or_else(|| anyhow!("the storm never started"))?;
        let seconds = started.elapsed().as_secs_f64();
        let cpu: f64 = servers.iter().map(ServerProcess::cpu_seconds).sum::<f64>() - cpu_before;
        let phones = cpu_seconds_of(std::process::id()) - phones_before;
        let database = cpu_spent(&database_before, &postgres_cpu());
        // Untimed: each phone once more, to pull what its grid partner pushed meanwhile.
        rt.block_on(refresh_tokens(&store, &mut devices))?;
        let catch_up = sync_all(
            &mut devices,
            &urls,
            w.phones.concurrency,
            "catch-up sync",
            || (),
        )?;
        let mut r = report("storm", w, opts.servers, seconds, &tally);
        let rss: Vec<f64> = servers.iter().map(ServerProcess::peak_rss_mb).collect();
        r.server_rss_mb = rss.iter().sum();
        r.server_rss_mb_max = rss.iter().copied().fold(0.0, f64::max);
        let per_report = |seconds: f64| seconds * 1000.0 / r.reports.max(1) as f64;
        r.server_cpu_ms_per_report = per_report(cpu);
        r.phones_cpu_ms_per_report = Some(per_report(phones));
        r.database_cpu_ms_per_report =
            (w.database == Database::Postgres).then(|| per_report(database));
        drop(servers);
        let mut all = tally;
        all.merge(catch_up);
        let (lost, converged) = rt.block_on(check(&store, &all, &devices))?;
        r.lost = lost;
        r.converged = converged;
        rt.block_on(store.pool().close());
        Ok(r)
    })();
    drop(db);
    result
}
