//! The standalone verifier against a real export: a case captured and signed on a phone,
//! synced, supervised from the server, exported; `gridsync-verify` prints who wrote what and
//! passes it, and fails it when any one byte is altered.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::process::Command;

use gridsync_core::case::{Location, NewCase};
use gridsync_core::{CaseKind, Role};
use gridsync_testkit::server::{Server, path};

fn verify(file: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync-verify"))
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_export_verifies_offline_and_one_altered_byte_fails_it() {
    let server = Server::start();
    let mut phone = server.enrol("wang", Role::GridWorker, "130322/101/201/01");
    let id = phone
        .replica
        .capture(
            &NewCase {
                kind: CaseKind::Incident,
                jurisdiction: path("130322/101/201/01"),
                category: "safety_hazard".into(),
                title: "河堤渗水".into(),
                description: "巡查发现".into(),
                location: Location::default(),
                people: vec![],
            },
            gridsync_server::now_ms(),
        )
        .unwrap();
    phone.sync(&server);
    phone
        .replica
        .edit(&id, gridsync_server::now_ms(), |e| {
            e.set_description("渗水点扩大，已设警示")
        })
        .unwrap();
    phone.sync(&server);
    let bytes = server
        .store(
            server
                .state
                .store
                .case_export(&id, "county-clerk", gridsync_server::now_ms()),
        )
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("case.gridsync-case");
    std::fs::write(&file, &bytes).unwrap();
    let (code, out, err) = verify(&file);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("案件 case {id}")), "{out}");
    assert!(out.contains("by county-clerk"), "{out}");
    assert_eq!(out.matches("wang (grid_worker)").count(), 2, "{out}");
    assert_eq!(
        out.matches("已验签 signed by phone-wang (").count(),
        2,
        "{out}"
    );
    assert!(out.contains("校验通过 (all 2 changes hold)"), "{out}");
    // One altered byte, wherever it is, fails the file: a sample across its whole length.
    let step = bytes.len() / 40 + 1;
    for at in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
        let mut bad = bytes.clone();
        bad[at] = bad[at].wrapping_add(1);
        std::fs::write(&file, &bad).unwrap();
        let (code, out, err) = verify(&file);
        assert_eq!(code, 1, "byte {at} altered: {out}");
        assert!(err.contains("校验失败"), "{err}");
    }
    // Not a file at all.
    let (code, _, err) = verify(&dir.path().join("missing"));
    assert_eq!(code, 2, "{err}");
}
