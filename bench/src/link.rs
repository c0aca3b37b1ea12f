//! One phone over an emulated 2G link.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gridsync_server::store::Store;
use gridsync_testkit::process::{ServerProcess, server_bin};
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
    /// The `gridsync` binary (default: the one next to this program).
    #[arg(long, env = "GRIDSYNC_BIN")]
    pub server_bin: Option<PathBuf>,
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

/// A TCP relay that delays each byte by half the round trip and lets through `bytes_per_s`
/// each way, counting what it carries.
struct WeakLink {
    url: String,
    carried: Arc<std::sync::atomic::AtomicUsize>,
}

impl WeakLink {
    fn start(upstream: &str, bytes_per_s: f64, one_way: Duration) -> anyhow::Result<WeakLink> {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let carried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = carried.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                // The connection itself takes a round trip to set up.
                std::thread::sleep(one_way * 2);
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(from), Ok(to)) = (from, to) else {
                        continue;
                    };
                    let count = count.clone();
                    std::thread::spawn(move || carry(from, to, bytes_per_s, one_way, &count));
                }
            }
        });
        Ok(WeakLink { url, carried })
    }
}

/// One direction: bytes leave at the link's pace (serialisation) and arrive `one_way` later.
fn carry(
    mut from: std::net::TcpStream,
    to: std::net::TcpStream,
    bytes_per_s: f64,
    one_way: Duration,
    count: &std::sync::atomic::AtomicUsize,
) {
    use std::io::{Read, Write};
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let mut to_writer = to;
    let writer = std::thread::spawn(move || {
        for (due, bytes) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to_writer.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to_writer.shutdown(std::net::Shutdown::Write);
    });
    let mut free_at = Instant::now();
    let mut buf = [0u8; 1460];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                let start = free_at.max(Instant::now());
                free_at = start + Duration::from_secs_f64(n as f64 / bytes_per_s);
                if tx.send((free_at + one_way, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}

/// One phone syncs its offline cases over an emulated 2G link.
pub fn link(opts: &LinkOptions) -> anyhow::Result<LinkReport> {
    let w = Workload {
        devices: 1,
        reports: opts.reports,
        edits: opts.edits,
        database: Database::Sqlite,
        postgres: String::new(),
        concurrency: 1,
    };
    let bin = server_bin(opts.server_bin.as_ref())?;
    let rt = runtime()?;
    let db = rt.block_on(bench_db(&w))?;
    let blobs = tempfile::tempdir()?;
    let store = rt.block_on(async {
        let store = Store::connect(&db.url).await?;
        store.migrate().await?;
        anyhow::Ok(store)
    })?;
    let mut devices = rt.block_on(prepare(&w, &store))?;
    let server = ServerProcess::start(&bin, &db.url, blobs.path(), "warn")?;
    let bytes_per_s = opts.kbps as f64 * 1000.0 / 8.0;
    let one_way = Duration::from_millis(opts.rtt_ms / 2);
    let weak = WeakLink::start(&server.url, bytes_per_s, one_way)?;
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
    let link_bytes = weak.carried.load(std::sync::atomic::Ordering::Relaxed);
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
