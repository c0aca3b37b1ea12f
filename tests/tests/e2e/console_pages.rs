//! Console pages that stay usable with real data (issue 21): a long title is shortened in the
//! case list, and a case with many changes pages its timeline.

use gridsync_core::Role;

use crate::access_matrix::{browser, console_session};
use crate::server::{Server, T0, report};

const GRID: &str = "130322/101/201/01";

fn get(server: &Server, session: &str, path: &str) -> String {
    let mut resp = browser()
        .get(format!("{}{path}", server.url))
        .header("Cookie", &format!("gs_session={session}"))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap()
}

#[test]
fn a_long_title_is_shortened_in_the_case_list() {
    let server = Server::start();
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let id = wang.replica.capture(&report("短标题", GRID), T0).unwrap();
    // The longest title the editor lets through when settling a field: 20,000 characters.
    let long = "危".repeat(20_000);
    wang.replica
        .edit(&id, T0 + 1, |e| e.resolve_conflict("title", &long))
        .unwrap();
    wang.sync(&server);
    let ts = console_session(&server, "ts");
    let list = get(&server, &ts, "/console/cases");
    assert!(
        list.contains(&format!("{}…", "危".repeat(60))),
        "shortened with …"
    );
    assert!(
        !list.contains(&"危".repeat(501)),
        "no more than the hover text of the title in the list"
    );
    assert!(list.len() < 40 * 1024, "the list is {} bytes", list.len());
    // The case page shows it whole.
    assert!(get(&server, &ts, &format!("/console/cases/{id}")).contains(&long));
}

#[test]
fn a_case_with_many_changes_pages_its_timeline() {
    let server = Server::start();
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let id = wang.replica.capture(&report("路灯", GRID), T0).unwrap();
    // 1,149 edits after the capture: 1,150 changes, 12 pages of 100.
    for i in 1..1_150i64 {
        wang.replica
            .edit(&id, T0 + i, |e| {
                e.set_extra("门牌", &format!("东街 {i} 号"))
            })
            .unwrap();
    }
    wang.sync(&server);
    let ts = console_session(&server, "ts");
    let first = get(&server, &ts, &format!("/console/cases/{id}"));
    assert_eq!(first.matches("<tr data-hash=").count(), 100);
    assert!(
        first.contains("第 1 / 12 页，共 1150 次修改"),
        "the pager says where"
    );
    assert!(first.contains(&format!("/console/cases/{id}?history=2#timeline")));
    assert!(
        first.len() < 300 * 1024,
        "the page is {} bytes",
        first.len()
    );
    let last = get(&server, &ts, &format!("/console/cases/{id}?history=12"));
    assert_eq!(last.matches("<tr data-hash=").count(), 50);
    assert!(last.contains("第 12 / 12 页"));
    // Past the end shows the last page, not an empty one.
    let past = get(&server, &ts, &format!("/console/cases/{id}?history=99"));
    assert_eq!(past.matches("<tr data-hash=").count(), 50);
}

#[test]
fn revoking_a_device_asks_first_and_is_not_offered_on_the_admins_own_session() {
    let server = Server::start();
    server.add_user("admin", Role::CountyAdmin, "130322");
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    wang.sync(&server);
    let admin = console_session(&server, "admin");
    let devices = get(&server, &admin, "/console/devices");
    // A link to a question, not a button that acts at once.
    assert!(
        devices.contains(r#"<a class="revoke" href="/console/devices/phone-wang/revoke">"#),
        "{devices}"
    );
    assert!(!devices.contains(r#"action="/console/devices/phone-wang/revoke""#));
    assert!(
        !devices.contains("/console/devices/console-admin/revoke"),
        "the admin's own console session is not offered"
    );
    let question = get(&server, &admin, "/console/devices/phone-wang/revoke");
    assert!(
        question.contains("确定停用设备 phone-wang（使用人：wang）"),
        "{question}"
    );
    let still = server
        .store(server.state.store.device_context("phone-wang"))
        .unwrap()
        .unwrap();
    assert!(!still.revoked, "asking revokes nothing");
    let resp = browser()
        .post(format!("{}/console/devices/phone-wang/revoke", server.url))
        .header("Cookie", &format!("gs_session={admin}"))
        .send("")
        .unwrap();
    assert_eq!(resp.status(), 303);
    let after = server
        .store(server.state.store.device_context("phone-wang"))
        .unwrap()
        .unwrap();
    assert!(after.revoked);
}

#[test]
fn a_clerk_records_the_requesters_rating_of_a_resolved_case() {
    use gridsync_core::workflow::{EventDraft, EventType};
    let server = Server::start();
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let id = wang.replica.capture(&report("路灯不亮", GRID), T0).unwrap();
    wang.replica
        .append_event(&id, EventDraft::new(EventType::Accepted), T0 + 1)
        .unwrap();
    wang.replica
        .append_event(&id, EventDraft::new(EventType::Resolved), T0 + 2)
        .unwrap();
    wang.sync(&server);
    let ts = console_session(&server, "ts");
    let page = get(&server, &ts, &format!("/console/cases/{id}"));
    assert!(
        page.contains(r#"id="do-evaluated""#),
        "评价 is offered on a resolved case"
    );
    assert!(page.contains(r#"<option value="basically_satisfied">基本满意</option>"#));
    assert!(
        !page.contains(r#"id="do-supervised""#),
        "a resolved case is not supervised"
    );

    let post = |form: &str| {
        let resp = browser()
            .post(format!("{}/console/cases/{id}/action", server.url))
            .header("Cookie", &format!("gs_session={ts}"))
            .content_type("application/x-www-form-urlencoded")
            .send(form)
            .unwrap();
        assert_eq!(resp.status(), 303);
        resp.headers()["location"].to_str().unwrap().to_owned()
    };
    // Without a rating: back to the case, saying so; nothing written.
    let back = post("kind=evaluated&note=&rating=");
    assert!(back.contains("error="), "{back}");
    // With one: written, the case is evaluated.
    let back = post("kind=evaluated&note=%E5%9B%9E%E8%AE%BF&rating=basically_satisfied");
    assert!(back.ends_with("done=1"), "{back}");
    let doc = server
        .store(server.state.store.case_doc(&id))
        .unwrap()
        .unwrap();
    let wf = doc.workflow().unwrap();
    assert_eq!(wf.status.as_str(), "evaluated");
    let rated = doc
        .read()
        .unwrap()
        .events
        .into_iter()
        .find(|e| e.kind == EventType::Evaluated);
    assert_eq!(
        rated.and_then(|e| e.rating).map(|r| r.as_str()),
        Some("basically_satisfied")
    );
}
