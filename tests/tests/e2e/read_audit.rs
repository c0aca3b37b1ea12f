//! The read audit end to end (ADR 0028): a mediator opens a dispute's console page and the county
//! admin finds the view on the audit page (查阅审计) by the mediator's name, with the case and the
//! route; the same reads in the CSV; the chain verified on request; a phone's pull and an API read
//! recorded too.

use gridsync_core::case::Party;
use gridsync_core::{CaseKind, Role};
use gridsync_server::store::ReadAuditFilter;

use crate::access_matrix::{browser, console_session};
use crate::server::{Server, T0, get_json, post_sync, report};

const GRID: &str = "130322/101/201/01";
const VILLAGE: &str = "130322/101/201";

/// A console page or file as `session` sees it: status and body.
fn get(server: &Server, session: &str, path: &str) -> (u16, String) {
    let mut resp = browser()
        .get(format!("{}{path}", server.url))
        .header("Cookie", &format!("gs_session={session}"))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    (status, body)
}

/// Gives an account a display name of its own (the kit names accounts by their id).
fn rename(server: &Server, user: &str, name: &str) {
    let store = &server.state.store;
    let mut record = server.store(store.user(user)).unwrap().unwrap();
    record.display_name = name.into();
    server.store(store.update_user(&record)).unwrap();
}

#[test]
fn a_mediators_page_view_appears_in_the_county_admins_read_audit() {
    let server = Server::start();
    server.add_user("admin", Role::CountyAdmin, "130322");
    server.add_user("zhao_m", Role::Mediator, VILLAGE);
    rename(&server, "zhao_m", "赵调解员");
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let mut dispute = report("宅基地纠纷", GRID);
    dispute.kind = CaseKind::Dispute;
    dispute.category = "dispute_neighbours".into();
    dispute.people = vec![Party {
        id: "p1".into(),
        name: "孙大娘".into(),
        role: "party".into(),
        phone: "13712345678".into(),
    }];
    let id = wang.replica.capture(&dispute, T0).unwrap();
    // A case without people: its reads are not personal, and not recorded.
    let plain = wang.replica.capture(&report("路灯不亮", GRID), T0).unwrap();
    // The grid worker's own sync pulls nothing of others: no entry.
    wang.sync(&server);
    let audit = |f: ReadAuditFilter| {
        server
            .store(server.state.store.read_audit_page(&f, 100, 0))
            .unwrap()
    };
    assert_eq!(audit(ReadAuditFilter::default()).total, 0);

    let mediator = console_session(&server, "zhao_m");
    let (status, page) = get(&server, &mediator, &format!("/console/cases/{id}"));
    assert_eq!(status, 200);
    assert!(
        page.contains("孙大娘"),
        "the mediator of a dispute reads its people"
    );
    assert_eq!(
        get(&server, &mediator, &format!("/console/cases/{plain}")).0,
        200
    );
    // The audit page is not the mediator's.
    assert_eq!(get(&server, &mediator, "/console/audit").0, 403);

    let admin = console_session(&server, "admin");
    let (status, page) = get(&server, &admin, "/console/audit");
    assert_eq!(status, 200);
    assert!(page.contains("查阅审计") && page.contains("id=\"nav-audit\""));
    let row = page
        .split("<tr class=\"read\"")
        .nth(1)
        .expect("one read listed")
        .split("</tr>")
        .next()
        .unwrap();
    assert!(row.contains(&format!("data-case=\"{id}\"")), "{row}");
    assert!(row.contains("data-user=\"zhao_m\""), "{row}");
    assert!(row.contains("赵调解员"), "the mediator by name: {row}");
    assert!(
        row.contains("title=\"zhao_m\""),
        "the account on hover: {row}"
    );
    assert!(row.contains("控制台案件页"), "the route in words: {row}");
    assert!(row.contains("127.0.0.1"), "the client's address: {row}");
    assert_eq!(
        page.matches("<tr class=\"read\"").count(),
        1,
        "the plain case is not recorded"
    );

    // Filtered by case and by account; the chain verified on request.
    let (_, by_case) = get(&server, &admin, &format!("/console/audit?case={id}"));
    assert_eq!(by_case.matches("<tr class=\"read\"").count(), 1);
    let (_, by_other) = get(&server, &admin, "/console/audit?user=wang");
    assert!(by_other.contains("id=\"audit-none\""));
    assert!(
        !page.contains("id=\"chain-ok\""),
        "verified only on request"
    );
    let (_, verified) = get(&server, &admin, "/console/audit?verify=1");
    assert!(verified.contains("id=\"chain-ok\""), "{verified}");

    // The CSV: byte-order mark, Chinese headers, the same read.
    let (status, csv) = get(&server, &admin, "/console/audit.csv");
    assert_eq!(status, 200);
    assert!(
        csv.starts_with("\u{feff}\"序号\",\"时间\",\"查阅人\""),
        "{csv}"
    );
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("\"赵调解员\",\"zhao_m\"") && lines[1].contains(&id));
    assert_eq!(get(&server, &mediator, "/console/audit.csv").0, 403);

    // The API read and a phone's pull, both in clear for a township's staff.
    let mut ts = server.enrol("ts", Role::TownshipStaff, "130322/101");
    let (status, _) = get_json(&server, &ts.token, &format!("/v1/cases/{id}"));
    assert_eq!(status, 200);
    let (status, _) = get_json(&server, &ts.token, &format!("/v1/cases/{plain}"));
    assert_eq!(status, 200);
    ts.sync(&server);
    let of_ts = audit(ReadAuditFilter {
        user: Some("ts".into()),
        ..Default::default()
    });
    let mut routes: Vec<(&str, &str)> = of_ts
        .rows
        .iter()
        .map(|r| (r.route.as_str(), r.case.as_str()))
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            ("GET /v1/cases/{id}", id.as_str()),
            ("POST /v1/sync", id.as_str())
        ]
    );
    let report = server
        .store(server.state.store.verify_read_audit())
        .unwrap();
    assert_eq!((report.entries, report.fault), (3, None));

    // A read that cannot be recorded is not shown: the audit's lock row gone, every audited
    // route fails, and a read that shows no personal data still answers.
    server
        .store(
            sqlx::query("DELETE FROM counters WHERE name = 'read_audit'")
                .execute(server.state.store.pool()),
        )
        .unwrap();
    assert_eq!(
        get(&server, &mediator, &format!("/console/cases/{id}")).0,
        500
    );
    assert_eq!(
        get(&server, &mediator, &format!("/console/cases/{id}/print")).0,
        500
    );
    let (status, body) = get_json(&server, &ts.token, &format!("/v1/cases/{id}"));
    assert_eq!((status, body["code"].as_str()), (500, Some("internal")));
    assert_eq!(
        get_json(&server, &ts.token, &format!("/v1/cases/{plain}")).0,
        200
    );
    let fresh = server.enrol("ts2", Role::TownshipStaff, "130322/101");
    let req = gridsync_core::protocol::encode_request(&fresh.replica.next_sync_request().unwrap())
        .unwrap();
    let (status, body) = post_sync(&server, &fresh.token, &req);
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
    assert!(!String::from_utf8_lossy(&body).contains("孙大娘"));
    assert_eq!(
        server
            .store(server.state.store.verify_read_audit())
            .unwrap()
            .entries,
        3,
        "nothing half-written"
    );
}
