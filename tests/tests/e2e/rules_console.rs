//! The rules page of the console (`/console/rules`, county admins only) and the calendar
//! warning: the banner on every console page of a county admin, and `/readyz`'s `warnings`.

use gridsync_core::Role;

use crate::access_matrix::{browser, console_session, urlencode};
use crate::server::{Server, get_json};

/// 2026-12-01 10:00 in China (UTC+8): next year's calendar is due.
const DECEMBER_1: i64 = 1_796_090_400_000;
/// 2026-11-15 10:00 in China: not yet.
const NOVEMBER_15: i64 = 1_794_708_000_000;

const CALENDAR_2027: &str = r#"version = 1
utc_offset_minutes = 480
years = [2027]

[[holiday]]
name = "春节"
days = ["2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]
workdays = ["2027-02-20"]
"#;

/// Status, `Location` and body (as text) of a response.
pub(crate) fn answer(
    resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> (u16, String, String) {
    let mut resp = resp.unwrap();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (resp.status().as_u16(), location, body)
}

pub(crate) fn get(server: &Server, session: &str, path: &str) -> (u16, String, String) {
    answer(
        browser()
            .get(format!("{}{path}", server.url))
            .header("Cookie", &format!("gs_session={session}"))
            .call(),
    )
}

/// A form post as a signed-in browser: status, `Location`, body.
pub(crate) fn post(
    server: &Server,
    session: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String, String) {
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    answer(
        browser()
            .post(format!("{}{path}", server.url))
            .header("Cookie", &format!("gs_session={session}"))
            .content_type("application/x-www-form-urlencoded")
            .send(body.join("&")),
    )
}

/// A county admin (`admin`) and a township's staff (`ts`), signed in to the console.
fn county() -> (Server, String, String) {
    let server = Server::start();
    server.add_user("admin", Role::CountyAdmin, "130322");
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let admin = console_session(&server, "admin");
    let ts = console_session(&server, "ts");
    (server, admin, ts)
}

fn version(server: &Server) -> u64 {
    server
        .store(server.state.store.rules())
        .unwrap()
        .rules
        .version()
}

#[test]
fn the_calendar_warning_shows_to_county_admins_from_december_until_next_year_is_imported() {
    let (server, admin, ts) = county();

    server.state.set_clock_for_tests(NOVEMBER_15);
    let (status, _, page) = get(&server, &admin, "/console/cases");
    assert_eq!(status, 200);
    assert!(
        !page.contains("calendar-warning"),
        "no banner on 15 November"
    );
    let (_, ready) = get_json(&server, "", "/readyz");
    assert_eq!(ready["warnings"], serde_json::json!([]), "{ready}");

    server.state.set_clock_for_tests(DECEMBER_1);
    for path in ["/console/cases", "/console/supervision", "/console/rules"] {
        let (status, _, page) = get(&server, &admin, path);
        assert_eq!(status, 200, "{path}");
        assert!(page.contains(r#"id="calendar-warning""#), "{path}: {page}");
        assert!(page.contains("2027"), "{path} names the missing year");
        assert!(
            page.contains("工作日历缺少 2027 年"),
            "{path}: the warning's message"
        );
    }
    let (status, _, page) = get(&server, &ts, "/console/cases");
    assert_eq!(status, 200);
    assert!(
        !page.contains("calendar-warning"),
        "township staff do not manage the rules: no banner"
    );
    let (status, ready) = get_json(&server, "", "/readyz");
    assert_eq!(status, 200);
    assert_eq!(
        ready["warnings"][0]["code"], "calendar_missing_year",
        "{ready}"
    );
    assert_eq!(ready["warnings"][0]["year"], 2027, "{ready}");

    server
        .store(
            server
                .state
                .store
                .import_rules(CALENDAR_2027, "admin", DECEMBER_1),
        )
        .unwrap();
    let (_, _, page) = get(&server, &admin, "/console/cases");
    assert!(
        !page.contains("calendar-warning"),
        "2027 is imported: no banner"
    );
    let (_, ready) = get_json(&server, "", "/readyz");
    assert_eq!(ready["warnings"], serde_json::json!([]), "{ready}");
}

#[test]
fn only_county_admins_see_or_change_the_rules() {
    let (server, admin, ts) = county();
    let before = version(&server);

    let (status, _, page) = get(&server, &ts, "/console/rules");
    assert_eq!(status, 403);
    assert!(page.contains(r#"id="forbidden""#), "{page}");
    assert!(
        !page.contains("/console/rules/category"),
        "no forms for them"
    );
    let (_, _, cases) = get(&server, &ts, "/console/cases");
    assert!(
        !cases.contains(r#"href="/console/rules""#),
        "no nav link for them"
    );

    let v = before.to_string();
    let posts: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "/console/rules/category",
            vec![
                ("version", &v),
                ("code", "elevator_repair"),
                ("limit", "5wd"),
                ("department", "housing"),
            ],
        ),
        (
            "/console/rules/department",
            vec![
                ("version", &v),
                ("code", "fire"),
                ("name_zh", "消防救援大队"),
                ("name_en", "Fire brigade"),
                ("sign_within", "2h"),
            ],
        ),
        (
            "/console/rules/calendar",
            vec![("version", &v), ("toml", CALENDAR_2027)],
        ),
    ];
    for (path, form) in &posts {
        let (status, _, _) = post(&server, &ts, path, form);
        assert_eq!(status, 403, "township staff POST {path}");
    }
    assert_eq!(version(&server), before, "nothing changed");

    // The admin sees the page, its nav link and the rules in force.
    let (status, _, page) = get(&server, &admin, "/console/rules");
    assert_eq!(status, 200);
    assert!(page.contains(r#"href="/console/rules""#), "nav link");
    assert!(page.contains("elevator_repair") && page.contains("网格自办"));
    // A POST from another site is refused too.
    let resp = browser()
        .post(format!("{}/console/rules/category", server.url))
        .header("Cookie", &format!("gs_session={admin}"))
        .header("Origin", "http://evil.example")
        .content_type("application/x-www-form-urlencoded")
        .send(format!(
            "version={v}&code=elevator_repair&limit=5wd&department=housing"
        ))
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(version(&server), before);
}

#[test]
fn a_county_admin_changes_limits_and_departments_and_bad_input_changes_nothing() {
    let (server, admin, _) = county();
    let before = version(&server);
    let v = before.to_string();

    // A bad limit: the page again with the reason, the rules unchanged.
    let (status, _, page) = post(
        &server,
        &admin,
        "/console/rules/category",
        &[
            ("version", &v),
            ("code", "elevator_repair"),
            ("limit", "-3wd"),
            ("department", "housing"),
        ],
    );
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="rules-error""#), "{page}");
    assert!(page.contains("-3wd"), "the error names the input");
    assert_eq!(version(&server), before);
    // An unknown department.
    let (status, _, page) = post(
        &server,
        &admin,
        "/console/rules/category",
        &[
            ("version", &v),
            ("code", "elevator_repair"),
            ("limit", "1wd"),
            ("department", "no_such_department"),
        ],
    );
    assert_eq!(status, 422);
    assert!(page.contains("no_such_department"), "{page}");
    assert_eq!(version(&server), before);
    // A calendar with a mistake: the error names the line.
    let bad = CALENDAR_2027.replace("2027-02-20", "2027-02-30");
    let (status, _, page) = post(
        &server,
        &admin,
        "/console/rules/calendar",
        &[("version", &v), ("toml", &bad)],
    );
    assert_eq!(status, 422);
    assert!(page.contains("line "), "the error names the line: {page}");
    assert_eq!(version(&server), before);

    // A good change: saved as the next version, named in the history and the audit log.
    let (status, location, _) = post(
        &server,
        &admin,
        "/console/rules/category",
        &[
            ("version", &v),
            ("code", "elevator_repair"),
            ("limit", "3wd"),
            ("department", ""),
        ],
    );
    assert_eq!(status, 303);
    let after = version(&server);
    assert_eq!(after, before + 1);
    assert_eq!(location, format!("/console/rules?saved={after}"));
    let live = server.store(server.state.store.rules()).unwrap();
    let elevator = live.rules.taxonomy().category("elevator_repair").unwrap();
    assert_eq!(elevator.limit.to_string(), "3wd");
    assert_eq!(elevator.department, None);
    let history = server.store(server.state.store.rules_history()).unwrap();
    assert_eq!(history[0].version, after);
    assert_eq!(history[0].changed_by, "admin");
    assert!(
        history[0]
            .summary
            .contains("电梯维修 (elevator_repair) 时限 1wd → 3wd"),
        "{:?}",
        history[0].summary
    );
    let (_, _, page) = get(&server, &admin, &location);
    assert!(page.contains(r#"id="rules-saved""#));
    assert!(
        page.contains(&history[0].summary),
        "the history shows the change"
    );

    // A form from the page before that change is refused rather than undoing it unseen.
    let (status, _, _) = post(
        &server,
        &admin,
        "/console/rules/category",
        &[
            ("version", &v),
            ("code", "elevator_repair"),
            ("limit", "1wd"),
            ("department", "housing"),
        ],
    );
    assert_eq!(status, 422);
    assert_eq!(version(&server), after);

    // A department added, then the calendar imported.
    let a = after.to_string();
    let (status, _, _) = post(
        &server,
        &admin,
        "/console/rules/department",
        &[
            ("version", &a),
            ("code", "fire"),
            ("name_zh", "消防救援大队"),
            ("name_en", "Fire brigade"),
            ("sign_within", "2h"),
        ],
    );
    assert_eq!(status, 303);
    let live = server.store(server.state.store.rules()).unwrap();
    assert_eq!(live.rules.version(), after + 1);
    assert!(live.rules.taxonomy().department("fire").is_some());
    let a = (after + 1).to_string();
    let (status, _, _) = post(
        &server,
        &admin,
        "/console/rules/calendar",
        &[("version", &a), ("toml", CALENDAR_2027)],
    );
    assert_eq!(status, 303);
    let live = server.store(server.state.store.rules()).unwrap();
    assert!(live.rules.calendar().years().any(|y| y == 2027));
    let audit = server.store(server.state.store.audit_log()).unwrap();
    let changes: Vec<&str> = audit
        .iter()
        .filter(|(actor, action, _)| actor == "admin" && action == "rules_change")
        .map(|(_, _, target)| target.as_str())
        .collect();
    let expected: Vec<String> = (after..after + 3).map(|v| format!("rules v{v}")).collect();
    assert_eq!(changes, expected, "{audit:?}");
}
