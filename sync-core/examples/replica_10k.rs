//! How a phone store with many cases behaves: fills a replica with N cases (default 10,000),
//! then times opening it, listing every case, counting pending ones and building a sync request.
//!
//! `cargo run --release -p gridsync-core --features replica --example replica_10k -- 10000`
//!
//! Prints one JSON object as its last line.

use std::time::Instant;

use gridsync_core::case::{Location, NewCase};
use gridsync_core::replica::CaseFilter;
use gridsync_core::{CaseKind, Identity, JurisdictionPath, Replica, Role};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("phone.db");
    let key = [9u8; 32];
    let grid = JurisdictionPath::parse("130322/101/201/01")?;
    let who = Identity::new("wang", Role::GridWorker, grid.clone(), None, "phone-wang")?;

    let started = Instant::now();
    {
        let mut r = Replica::open(&file, &key)?;
        r.sign_in(who)?;
        for i in 0..n {
            let new = NewCase {
                kind: CaseKind::Request,
                jurisdiction: grid.clone(),
                category: "street_light".into(),
                title: format!("东街村路灯不亮 第{i}号"),
                description: "村口路灯不亮，晚上出行不便，群众多次反映。".into(),
                location: Location {
                    address: "东街村村口".into(),
                    ..Default::default()
                },
                people: vec![],
            };
            r.capture(&new, 1_790_000_000_000 + i as i64)?;
            if (i + 1) % 1000 == 0 {
                eprintln!("captured {}/{n}", i + 1);
            }
        }
    }
    let fill_s = started.elapsed().as_secs_f64();
    let file_mb = std::fs::metadata(&file)?.len() as f64 / 1e6;

    let t = Instant::now();
    let r = Replica::open(&file, &key)?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let listed = r.list(&CaseFilter::default())?.len();
    let list_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let pending = r.pending_count()?;
    let pending_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let req = r.next_sync_request()?;
    let request_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(listed, n);
    assert_eq!(pending, n);
    println!(
        "{{\"cases\":{n},\"fill_s\":{fill_s:.1},\"file_mb\":{file_mb:.1},\"open_ms\":{open_ms:.1},\"list_all_ms\":{list_ms:.1},\"pending_count_ms\":{pending_ms:.2},\"next_sync_request_ms\":{request_ms:.1},\"request_cases\":{}}}",
        req.push.len()
    );
    Ok(())
}
