//! Signed evidence end to end (issue 25, ADR 0028): a keyed phone's bad signatures are each
//! quarantined with their own code and lose nothing; a device's key is bound once; the console
//! shows each change 已验签 or not and exports the case for those allowed, and the export
//! verifies offline; `gridsync audit verify` names a tampered change, signature or receipt.

use gridsync_core::case::{Location, NewCase, parse_change};
use gridsync_core::evidence::{self, sign_change};
use gridsync_core::protocol::{RejectCode, decode_response, encode_request};
use gridsync_core::{CaseKind, Role};
use serde_bytes::ByteBuf;
use sqlx::Row;

use crate::access_matrix::console_session;
use crate::rules_console::{get, post};
use crate::server::{Server, agent, login, path, post_sync};

const GRID: &str = "130322/101/201/01";

fn incident(title: &str) -> NewCase {
    NewCase {
        kind: CaseKind::Incident,
        jurisdiction: path(GRID),
        category: "safety_hazard".into(),
        title: title.into(),
        description: "危房墙体开裂".into(),
        location: Location::default(),
        people: vec![],
    }
}

#[test]
fn a_keyed_phone_s_bad_signatures_are_quarantined_each_with_its_own_code() {
    let server = Server::start();
    let mut a = server.enrol("wang", Role::GridWorker, GRID);
    let b = server.enrol("li", Role::GridWorker, GRID);
    let now = gridsync_server::now_ms();
    for i in 0..3 {
        a.replica
            .capture(&incident(&format!("险情 {i}")), now + i)
            .unwrap();
    }
    let honest = a.replica.next_sync_request().unwrap();
    assert_eq!(honest.push.len(), 3);
    for case in &honest.push {
        assert_eq!(
            case.sigs.len(),
            case.changes.len(),
            "the phone signs every change"
        );
    }
    // Tampered on the way: the first case signed with colleague B's key, the second without
    // signatures, the third carrying the first case's valid signature (replayed onto other bytes).
    let b_seed: [u8; 32] = b
        .replica
        .secret("sign_key")
        .unwrap()
        .unwrap()
        .try_into()
        .unwrap();
    let b_key = evidence::signing_key(b_seed);
    let mut req = honest.clone();
    req.push[0].sigs = req.push[0]
        .changes
        .iter()
        .map(|c| ByteBuf::from(sign_change(&b_key, &parse_change(c).unwrap().hash()).to_vec()))
        .collect();
    req.push[1].sigs.clear();
    req.push[2].sigs = honest.push[0].sigs.clone();
    let expected = [
        (req.push[0].doc.clone(), RejectCode::SignatureWrongDevice),
        (req.push[1].doc.clone(), RejectCode::SignatureMissing),
        (req.push[2].doc.clone(), RejectCode::SignatureInvalid),
    ];
    let (status, body) = post_sync(&server, &a.token, &encode_request(&req).unwrap());
    assert_eq!(status, 200);
    let resp = decode_response(&body).unwrap();
    assert!(resp.accepted.is_empty(), "{:?}", resp.accepted);
    for (doc, code) in &expected {
        let codes: Vec<RejectCode> = resp
            .rejected
            .iter()
            .filter(|r| &r.doc == doc)
            .map(|r| r.code)
            .collect();
        assert_eq!(codes, vec![*code], "case {doc}");
    }
    let kept = server
        .store(server.state.store.quarantine_entries(10))
        .unwrap();
    for (doc, code) in &expected {
        assert!(
            kept.iter()
                .any(|q| &q.doc == doc && q.code == code.as_str() && q.device == a.device),
            "{code:?} of {doc} is in quarantine: {kept:?}"
        );
    }
    // Nothing is lost: the phone never saw the tampered push; its own sync lands all three,
    // each change kept with a signature that verifies under its key.
    a.sync(&server);
    for (doc, _) in &expected {
        let history = server.store(server.state.store.case_history(doc)).unwrap();
        assert!(!history.is_empty());
        for h in history {
            assert_eq!(h.signed_by.as_deref(), Some(a.device.as_str()), "{doc}");
        }
    }
}

#[test]
fn a_device_s_key_is_bound_once() {
    let server = Server::start();
    let phone = server.enrol("zhao", Role::GridWorker, GRID);
    // The same device id, proved by its secret, presenting another store's key.
    let other = gridsync_core::Replica::open_in_memory(&[3; 32]).unwrap();
    let sign_in = |key: &str| {
        agent()
            .post(format!("{}/v1/auth/login", server.url))
            .send_json(serde_json::json!({
                "user": "zhao", "password": gridsync_testkit::server::PASSWORD,
                "device": phone.device, "actor": phone.replica.actor_id().to_hex_string(),
                "device_secret": phone.secret, "device_key": key,
            }))
            .unwrap()
    };
    let mut resp = sign_in(&evidence::key_text(&other.device_key().unwrap()));
    assert_eq!(resp.status(), 409);
    let body: serde_json::Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["code"], "device_key_taken");
    let mut resp = sign_in("not a key");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["code"], "invalid_input");
    // Its own key again is fine; after an admin's reset, the new store's key binds.
    let resp = sign_in(&evidence::key_text(&phone.replica.device_key().unwrap()));
    assert_eq!(resp.status(), 200);
    assert!(
        server
            .store(server.state.store.reset_device_key(&phone.device))
            .unwrap()
    );
    let resp = sign_in(&evidence::key_text(&other.device_key().unwrap()));
    assert_eq!(resp.status(), 200);
    // A fresh device id binds the key its first sign-in brings.
    let fresh = gridsync_core::Replica::open_in_memory(&[4; 32]).unwrap();
    assert_eq!(login(&server, "zhao", "phone-zhao-2", &fresh).status(), 200);
}

#[test]
fn the_console_marks_signed_changes_and_exports_a_record_that_verifies_offline() {
    let server = Server::start();
    let mut phone = server.enrol("wang", Role::GridWorker, GRID);
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    server.add_user("admin", Role::CountyAdmin, "130322");
    let id = phone
        .replica
        .capture(&incident("桥梁护栏缺失"), gridsync_server::now_ms())
        .unwrap();
    phone.sync(&server);
    let admin = console_session(&server, "admin");
    let (status, _, _) = post(
        &server,
        &admin,
        &format!("/console/cases/{id}/action"),
        &[("kind", "supervised"), ("note", "请尽快处理")],
    );
    assert_eq!(status, 303);
    let history = server.store(server.state.store.case_history(&id)).unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].signed_by.as_deref(), Some("phone-wang"));
    assert_eq!(
        history[1].signed_by.as_deref(),
        Some(gridsync_server::store::console_device_id("admin").as_str()),
        "the console's change carries the server's signature"
    );
    let ts = console_session(&server, "ts");
    let (_, _, page) = get(&server, &ts, &format!("/console/cases/{id}"));
    assert_eq!(page.matches("class=\"verified\"").count(), 2, "{page}");
    assert!(page.contains("已验签"));
    assert!(page.contains("id=\"evidence-link\""));
    let (status, _, file) = get_bytes(&server, &ts, &format!("/console/cases/{id}/evidence"));
    assert_eq!(status, 200);
    let verified = evidence::export::verify(&file).unwrap();
    assert_eq!(verified.case, id);
    assert_eq!(verified.exported_by, "ts");
    assert_eq!(verified.changes.len(), 2);
    assert_eq!(
        verified.changes[0].author.as_ref().map(|a| a.user.as_str()),
        Some("wang")
    );
    assert!(
        verified.changes[0]
            .signed_by
            .as_deref()
            .unwrap()
            .starts_with("phone-wang (")
    );
    assert!(verified.changes.iter().all(|c| c.received_at.is_some()));
    let server_key = server
        .store(server.state.store.change_key())
        .unwrap()
        .public();
    assert_eq!(verified.server_key, evidence::fingerprint(&server_key));
    // A byte changed anywhere fails: in a change, a signature, a receipt, the case id.
    for at in (0..file.len()).step_by(file.len() / 97 + 1) {
        let mut bad = file.clone();
        bad[at] ^= 0x01;
        assert!(
            evidence::export::verify(&bad).is_err(),
            "byte {at} altered passed"
        );
    }
    // A grid worker sees no button and gets no file.
    let grid = console_session(&server, "wang");
    let (_, _, page) = get(&server, &grid, &format!("/console/cases/{id}"));
    assert!(!page.contains("evidence-link"));
    let (status, _, _) = get_bytes(&server, &grid, &format!("/console/cases/{id}/evidence"));
    assert_eq!(status, 403);
}

/// A console GET whose body is bytes.
fn get_bytes(server: &Server, session: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut resp = agent()
        .get(format!("{}{path}", server.url))
        .header("Cookie", &format!("gs_session={session}"))
        .call()
        .unwrap();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        resp.status().as_u16(),
        kind,
        resp.body_mut().read_to_vec().unwrap(),
    )
}

/// `gridsync audit WHAT` against the server's database: (success, standard output).
fn audit(url: &str, what: &str) -> (bool, String) {
    let (ok, out, _) = gridsync_testkit::process::admin(url, &["audit", what]);
    (ok, out)
}

#[test]
fn audit_verify_names_a_tampered_change_signature_or_receipt() {
    let server = Server::start();
    let mut phone = server.enrol("wang", Role::GridWorker, GRID);
    for i in 0..3 {
        phone
            .replica
            .capture(&incident(&format!("第 {i} 处")), gridsync_server::now_ms())
            .unwrap();
        phone.sync(&server);
    }
    let url = server.database_url().to_owned();
    let (ok, out) = audit(&url, "verify");
    assert!(ok, "{out}");
    assert!(out.contains("校验通过"), "{out}");
    assert!(
        out.contains("receipts 3, changes 3 (3 signatures verified)"),
        "{out}"
    );
    let (ok, head) = audit(&url, "head");
    assert!(ok);
    let report = server.store(server.state.store.audit_verify()).unwrap();
    let hash = evidence::hex(&report.head.as_ref().unwrap().hash);
    assert!(head.contains(&hash), "{head}");
    let pool = server.state.store.pool().clone();
    let read = |sql: &'static str| -> Vec<u8> {
        server
            .store(sqlx::query(sql).fetch_one(&pool))
            .unwrap()
            .get::<Vec<u8>, _>(0)
    };
    let write = |sql: &'static str, bytes: Vec<u8>| {
        server
            .store(sqlx::query(sql).bind(bytes).execute(&pool))
            .unwrap();
    };
    let flipped = |mut b: Vec<u8>| {
        let at = b.len() / 2;
        b[at] ^= 0x01;
        b
    };
    let tampers: [(&str, &str, &str, &str); 3] = [
        (
            "SELECT bytes FROM changes WHERE seq = 2",
            "UPDATE changes SET bytes = $1 WHERE seq = 2",
            "change at feed 2",
            "a stored change",
        ),
        (
            "SELECT sig FROM change_sigs WHERE seq = 2",
            "UPDATE change_sigs SET sig = $1 WHERE seq = 2",
            "change at feed 2 (receipt 2): its signature does not verify",
            "a signature",
        ),
        (
            "SELECT entry FROM receipt_log WHERE seq = 2",
            "UPDATE receipt_log SET entry = $1 WHERE seq = 2",
            "receipt entry 2: its bytes do not hash",
            "a receipt entry",
        ),
    ];
    for (select, update, named, what) in tampers {
        let original = read(select);
        write(update, flipped(original.clone()));
        let (ok, out) = audit(&url, "verify");
        assert!(!ok, "{what} altered passed: {out}");
        assert!(out.contains(named), "{what}: {out}");
        write(update, original);
        assert!(audit(&url, "verify").0, "{what} restored");
    }
    // A dropped entry.
    server
        .store(sqlx::query("DELETE FROM receipt_log WHERE seq = 2").execute(&pool))
        .unwrap();
    let (ok, out) = audit(&url, "verify");
    assert!(!ok);
    assert!(out.contains("receipt entry 2 is missing"), "{out}");
}
