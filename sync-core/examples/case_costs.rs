//! What one case costs in the operations of a push: reading it, looking for conflicts, loading,
//! saving (compressed and not), reading changes back, applying them, hydrating. A case like the
//! storm's (captured, then its description edited twice: three changes), each operation timed
//! over N calls (default 2,000). The figures of ADR 0017 come from here.
//!
//! `cargo run --release -p gridsync-core --features replica --example case_costs -- 2000`

use std::hint::black_box;
use std::time::{Duration, Instant};

use automerge::{ActorId, ReadDoc};
use gridsync_core::case::{Location, NewCase, Party};
use gridsync_core::{CaseDoc, CaseKind, Identity, JurisdictionPath, Replica, Role};

fn per_call(n: u32, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2_000);
    let grid = JurisdictionPath::parse("130322/101/201/01")?;
    let mut phone = Replica::open_in_memory(&[7; 32])?;
    phone.sign_in(Identity::new(
        "gw000001",
        Role::GridWorker,
        grid.clone(),
        None,
        "phone-1",
    )?)?;
    let id = phone.capture(
        &NewCase {
            kind: CaseKind::Incident,
            jurisdiction: grid,
            category: "road_damage".into(),
            title: "村道路面破损 第1处（1号网格员）".into(),
            description: "路面塌陷约一米见方，已设置临时警示标志，请尽快安排修复。".into(),
            location: Location::default(),
            people: vec![Party {
                id: String::new(),
                name: "张三".into(),
                role: "requester".into(),
                phone: "13800000000".into(),
            }],
        },
        1,
    )?;
    for e in 0..2 {
        phone.edit(&id, 2 + e, |ed| {
            ed.set_description(&format!("补充情况（第{}次）：群众反映已影响通行。", e + 1))
        })?;
    }
    let mut doc = phone.case(&id)?;
    let packed = doc.save();
    let plain = doc.save_uncompressed();
    let changes = doc.changes_since(&[]);
    let raw = automerge::AutoCommit::load(&plain)?;
    println!(
        "a case of {} changes: saved {} bytes compressed, {} not",
        changes.len(),
        packed.len(),
        plain.len()
    );
    let rows = [
        ("CaseDoc::read", per_call(n, || drop(black_box(doc.read())))),
        (
            "hydrate (Automerge)",
            per_call(n, || drop(black_box(raw.hydrate(automerge::ROOT, None)))),
        ),
        (
            "CaseDoc::conflicts",
            per_call(n, || drop(black_box(doc.conflicts()))),
        ),
        (
            "CaseDoc::load, uncompressed",
            per_call(n, || drop(black_box(CaseDoc::load(&plain)))),
        ),
        (
            "CaseDoc::load, compressed",
            per_call(n, || drop(black_box(CaseDoc::load(&packed)))),
        ),
        (
            "CaseDoc::save (compressed)",
            per_call(n, || drop(black_box(doc.save()))),
        ),
        (
            "CaseDoc::save_uncompressed",
            per_call(n, || drop(black_box(doc.save_uncompressed()))),
        ),
        (
            "change(hash), one change",
            per_call(n, || drop(black_box(doc.change(&changes[0].hash())))),
        ),
        (
            "read_back_since([]), all changes",
            per_call(n, || drop(black_box(doc.read_back_since(&[])))),
        ),
        (
            "apply all changes to an empty document",
            per_call(n, || {
                let mut empty = CaseDoc::empty(ActorId::random());
                drop(black_box(empty.apply(changes.clone())));
            }),
        ),
    ];
    for (what, took) in rows {
        println!("{what:<42} {:>8.1} µs", took.as_secs_f64() * 1e6);
    }
    Ok(())
}
