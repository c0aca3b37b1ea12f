//! Notices reach the phones in the sync after they happen (issue 24): a dispatch to a
//! department, then the supervision clock's 督办 of the same case, each in the department phone's
//! next sync and only there; a notice read on the phone is read on the server after the next sync.

use gridsync_core::Role;
use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_server::supervision::Supervisor;

use crate::server::{Server, T0, report};

const GRID: &str = "130322/101/201/01";

fn kinds_for(phone: &crate::server::Phone, case: &str) -> Vec<String> {
    let mut kinds: Vec<String> = phone
        .replica
        .notices()
        .unwrap()
        .into_iter()
        .filter(|n| n.notice.case == case)
        .map(|n| n.notice.kind)
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn a_department_phone_hears_of_its_dispatch_and_its_supervision_at_the_next_sync() {
    let server = Server::start();
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let mut chen = server.enrol("chen", Role::TownshipStaff, "130322/101");
    server.add_department_handler("dept.fire", "fire");
    server.add_department_handler("dept.water", "water");
    let mut fire = server.department_phone("dept.fire", "fire");
    let mut water = server.department_phone("dept.water", "water");

    let id = wang
        .replica
        .capture(&report("加油站旁违规堆放易燃杂物", GRID), T0)
        .unwrap();
    wang.sync(&server);
    chen.sync(&server);
    chen.replica
        .append_event(&id, EventDraft::new(EventType::Accepted), T0 + 1)
        .unwrap();
    chen.replica
        .append_event(&id, EventDraft::assign_to("fire"), T0 + 2)
        .unwrap();
    // Before the dispatch reaches the server, nothing.
    fire.sync(&server);
    assert!(kinds_for(&fire, &id).is_empty());
    chen.sync(&server);

    fire.sync(&server);
    assert_eq!(kinds_for(&fire, &id), ["dispatched"]);
    water.sync(&server);
    assert!(kinds_for(&water, &id).is_empty(), "another department");

    // The clock finds the department late to sign for it (the phones' clock is in September):
    // 督办, and the department hears of it at its next sync.
    let store = server.state.store.clone();
    let now = gridsync_server::now_ms();
    let pass = server.store(async {
        Supervisor::new(store.clone(), now)
            .await
            .unwrap()
            .run_once(now)
            .await
            .unwrap()
    });
    assert_eq!(pass.supervised, 1);
    fire.sync(&server);
    let kinds = kinds_for(&fire, &id);
    assert_eq!(
        kinds.iter().filter(|k| *k == "supervised").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"dispatched".to_owned()));
    water.sync(&server);
    assert!(kinds_for(&water, &id).is_empty());

    // Read on the phone; the server hears at the next sync, and nothing comes twice.
    let before = fire.replica.notices().unwrap().len();
    let unread = server.store(store.unread_notices("dept.fire")).unwrap();
    assert_eq!(unread as usize, before);
    for n in fire.replica.notices().unwrap() {
        fire.replica.mark_notice_read(n.notice.id).unwrap();
    }
    assert_eq!(fire.replica.unread_notices().unwrap(), 0);
    fire.sync(&server);
    assert_eq!(server.store(store.unread_notices("dept.fire")).unwrap(), 0);
    assert_eq!(fire.replica.notices().unwrap().len(), before);
}
