//! The quarantine page of the console (`/console/quarantine`, county admins only), end to end
//! over HTTP: a phone's change refused and kept, the admin sees it, fixes the reason (the
//! account's grid), releases it; the case is on the server and the phone that wrote it counts it
//! as acknowledged. And the devices page flags a device past its budget.

use gridsync_core::Role;
use gridsync_core::protocol::{DocChanges, encode_request};
use gridsync_core::replica::{CaseFilter, SyncState};
use gridsync_server::store::DEVICE_BUDGET_BYTES;
use serde_bytes::ByteBuf;

use crate::access_matrix::{browser, console_session};
use crate::rules_console::{answer, get};
use crate::server::{Server, T0, phone, post_sync, report};

fn release(server: &Server, session: &str, id: &str) -> (u16, String, String) {
    answer(
        browser()
            .post(format!("{}/console/quarantine/{id}/release", server.url))
            .header("Cookie", &format!("gs_session={session}"))
            .header("Origin", &server.url)
            .content_type("application/x-www-form-urlencoded")
            .send(""),
    )
}

/// A case id of its own for each refused push.
fn case_id(i: u32) -> String {
    format!("0190a0a0-0000-7000-8000-{i:012x}")
}

#[test]
fn a_refused_change_is_released_from_the_console_and_reaches_its_author() {
    let server = Server::start();
    server.add_user("admin", Role::CountyAdmin, "130322");
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    // The office typed grid 02 for wang, whose phone covers grid 01.
    server.add_user("wang", Role::GridWorker, "130322/101/201/02");
    let mut wang = phone(
        &server,
        "wang",
        Role::GridWorker,
        "130322/101/201/01",
        "phone-wang",
    );
    let id = wang
        .replica
        .capture(&report("东街危房", "130322/101/201/01"), T0)
        .unwrap();
    let resp = wang.sync_once(&server);
    assert_eq!(resp.rejected.len(), 1);
    assert_eq!(resp.rejected[0].code.as_str(), "out_of_scope");

    // Township staff may not see the quarantine; the county admin does.
    let ts = console_session(&server, "ts");
    let (status, _, body) = get(&server, &ts, "/console/quarantine");
    assert_eq!(status, 403, "{body}");
    let admin = console_session(&server, "admin");
    let (status, _, page) = get(&server, &admin, "/console/quarantine");
    assert_eq!(status, 200);
    assert!(
        page.contains("隔离区") && page.contains("out_of_scope"),
        "{page}"
    );
    let entry = server
        .store(server.state.store.quarantine_entries(1))
        .unwrap()
        .remove(0);
    assert!(page.contains(&format!("/console/quarantine/{}/release", entry.id)));
    // Township staff cannot release either.
    let (status, _, _) = release(&server, &ts, &entry.id);
    assert_eq!(status, 403);

    // Released before the fix: still refused, said on the page, nothing written.
    let (status, to, _) = release(&server, &admin, &entry.id);
    assert_eq!(status, 303, "{to}");
    assert!(to.contains("again=out_of_scope"), "{to}");
    let (_, _, page) = get(&server, &admin, &to);
    assert!(page.contains("quarantine-refused"), "{page}");
    assert!(
        server
            .store(server.state.store.case_doc(&id))
            .unwrap()
            .is_none()
    );

    // The office fixes the grid; the admin releases.
    let mut account = server
        .store(server.state.store.user("wang"))
        .unwrap()
        .unwrap();
    account.scope = crate::server::path("130322/101/201/01");
    server
        .store(server.state.store.update_user(&account))
        .unwrap();
    let (status, to, _) = release(&server, &admin, &entry.id);
    assert_eq!(
        (status, to.as_str()),
        (
            303,
            format!("/console/quarantine?released={}", entry.id).as_str()
        )
    );
    let case = server
        .store(server.state.store.case_doc(&id))
        .unwrap()
        .unwrap();
    assert_eq!(case.read().unwrap().title, "东街危房");
    let audit = server.store(server.state.store.audit_log()).unwrap();
    assert!(audit.iter().any(|(who, what, target)| who == "admin"
        && what == "quarantine_release"
        && *target == entry.id));
    let (_, _, page) = get(&server, &admin, "/console/quarantine");
    assert!(
        !page.contains(&format!("/console/quarantine/{}/release", entry.id)),
        "released once"
    );

    // The phone that wrote it gets it back as acknowledged.
    wang.sync(&server);
    let listed = wang.replica.list(&CaseFilter::default()).unwrap();
    assert_eq!(listed[0].sync_state, Some(SyncState::Synced));
}

#[test]
fn a_device_past_its_budget_is_slowed_and_flagged() {
    let server = Server::start();
    server.add_user("admin", Role::CountyAdmin, "130322");
    server.add_user("wang", Role::GridWorker, "130322/101/201/01");
    let mut wang = phone(
        &server,
        "wang",
        Role::GridWorker,
        "130322/101/201/01",
        "phone-wang",
    );
    wang.sync_once(&server);
    // Refused bytes (not a change) until the device's budget is spent: the phone is slowed
    // (429) before it can send much more than its budget.
    let mut sent = 0i64;
    let mut slowed = false;
    for i in 0..200u32 {
        let mut req = wang.replica.next_sync_request().unwrap();
        req.push = vec![DocChanges {
            doc: case_id(i),
            changes: vec![ByteBuf::from(vec![(i % 251) as u8; 100 * 1024])],
            sigs: Vec::new(),
            by: Vec::new(),
        }];
        let (status, _) = post_sync(&server, &wang.token, &encode_request(&req).unwrap());
        if status == 429 {
            slowed = true;
            break;
        }
        assert_eq!(status, 200);
        sent += 100 * 1024;
    }
    assert!(slowed, "a device sending refused bytes is slowed");
    assert!(sent < 2 * DEVICE_BUDGET_BYTES, "slowed after {sent} bytes");
    let shares = server
        .store(server.state.store.quarantine_devices())
        .unwrap();
    assert!(shares[0].kept_bytes <= DEVICE_BUDGET_BYTES);

    // Past the budget, refusals are counted and the device is flagged on the devices page.
    let ctx = server
        .store(server.state.store.device_context("phone-wang"))
        .unwrap()
        .unwrap();
    for i in 0..60u8 {
        let mut req = wang.replica.next_sync_request().unwrap();
        req.push = vec![DocChanges {
            doc: case_id(1000 + u32::from(i)),
            changes: vec![ByteBuf::from(vec![i; 100 * 1024])],
            sigs: Vec::new(),
            by: Vec::new(),
        }];
        server
            .store(server.state.store.sync(&ctx, &ctx.users[0], &req, T0))
            .unwrap();
    }
    let shares = server
        .store(server.state.store.quarantine_devices())
        .unwrap();
    assert!(shares[0].dropped > 0 && shares[0].kept_bytes <= DEVICE_BUDGET_BYTES);
    let admin = console_session(&server, "admin");
    let (_, _, page) = get(&server, &admin, "/console/devices");
    assert!(page.contains("异常设备"), "{page}");
    let metrics = answer(browser().get(format!("{}/metrics", server.url)).call()).2;
    assert!(
        metrics.contains(&format!(
            "gridsync_quarantine_dropped_total {}",
            shares[0].dropped
        )),
        "{metrics}"
    );
}
