//! The counter's 登记 (issue 22): a township clerk registers a walk-in and gets a receipt; the
//! case is the clerk's, its source walk-in, routed to the grid, where the grid worker's phone
//! holds it; the requester's phone number is masked for a reader who does not handle the case;
//! the case page answers, routes down and records return visits.

use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_core::{Level, Role, Source, Status};

use crate::access_matrix::console_session;
use crate::rules_console::post;
use crate::server::{Server, T0, get_json, path};

const GRID: &str = "130322/101/201/01";
const PHONE: &str = "13812345678";

/// The jurisdiction tree the area picker lists.
fn tree(server: &Server) {
    let units: Vec<_> = [
        ("130322", "测试县"),
        ("130322/101", "城关镇"),
        ("130322/101/201", "东街村"),
        ("130322/101/201/01", "东街村第1网格"),
        ("130322/101/202", "西街村"),
        ("130322/102", "河口镇"),
    ]
    .into_iter()
    .map(|(p, n)| (path(p), n.to_owned()))
    .collect();
    server
        .store(server.state.store.import_org_units(&units))
        .unwrap();
}

fn get(server: &Server, session: &str, path: &str) -> (u16, String) {
    let (status, _, body) = crate::rules_console::get(server, session, path);
    (status, body)
}

/// A walk-in for the grid, with `changes` over the defaults.
fn walk_in<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("source", "walk_in"),
        ("requester_name", "赵大妈"),
        ("requester_phone", PHONE),
        ("area", GRID),
        ("address", "东街 12 号"),
        ("kind", "request"),
        ("category", "street_light"),
        ("title", "路灯不亮"),
        ("description", "东街口的路灯坏了一周"),
        ("triage", "grid"),
        ("department", ""),
    ];
    for (k, v) in changes {
        match form.iter_mut().find(|(key, _)| key == k) {
            Some(field) => field.1 = v,
            None => form.push((k, v)),
        }
    }
    form
}

/// The text of the element with `id` (its first text node).
fn text_of(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} in {page}"));
    let rest = &page[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    rest[start..start + end].to_owned()
}

/// The case id of a receipt page (its link to the case).
fn case_of(receipt: &str) -> String {
    receipt
        .split("id=\"receipt-case\" href=\"/console/cases/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a link to the case in {receipt}"))
        .to_owned()
}

#[test]
fn a_township_clerk_registers_a_walk_in_routed_to_the_grid_worker_with_a_receipt() {
    let server = Server::start();
    tree(&server);
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let ts = console_session(&server, "ts");

    let (status, form) = get(&server, &ts, "/console/register");
    assert_eq!(status, 200);
    for id in [
        "register-form",
        "r-source",
        "r-name",
        "r-phone",
        "r-area",
        "r-address",
        "r-kind",
        "r-category",
        "r-description",
        "r-title",
        "r-department",
        "r-submit",
    ] {
        assert!(form.contains(&format!("id=\"{id}\"")), "#{id}");
    }
    assert!(
        form.contains("id=\"nav-register\""),
        "登记 in the navigation"
    );
    // Areas by name within the clerk's township only; the category shows its department.
    assert!(form.contains("城关镇 东街村 第1网格"), "{form}");
    assert!(!form.contains("河口镇"), "another township is not offered");
    assert!(form.contains("来访登记"));
    assert!(form.contains("路灯故障 — 城市管理综合行政执法局"), "{form}");

    let (status, location, receipt) = post(&server, &ts, "/console/register", &walk_in(&[]));
    assert_eq!(status, 200, "{receipt}");
    assert!(
        location.is_empty(),
        "answered in place, the code in no address"
    );
    let no = text_of(&receipt, "receipt-no");
    let code = text_of(&receipt, "receipt-code");
    assert_eq!((no.len(), code.len()), (14, 6), "{no} {code}");
    assert!(receipt.contains("/track"), "the requester's address");
    let id = case_of(&receipt);

    // The receipt is stored with the case, its code only as a hash.
    let row = server
        .store(server.state.store.receipt(&no))
        .unwrap()
        .unwrap();
    assert_eq!(row.case_id, id);
    assert_ne!(row.code_hash, code);
    assert!(gridsync_server::residents::Receipt::code_matches(
        &row.code_hash,
        &code
    ));

    // The clerk's case: walk-in, the requester, reported and routed down to the grid (待核实).
    let doc = server
        .store(server.state.store.case_doc(&id))
        .unwrap()
        .unwrap();
    let keys = server.store(server.state.store.case_keys(&id)).unwrap();
    let case = doc.read().unwrap().unsealed(&keys);
    let wf = doc.workflow().unwrap();
    assert_eq!(case.source, Source::WalkIn);
    assert_eq!(case.reporter.user, "ts");
    assert_eq!(case.requester().unwrap().phone, PHONE);
    assert_eq!(
        case.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventType::Reported, EventType::Routed]
    );
    assert_eq!(
        (wf.status, wf.level, wf.owner),
        (Status::Reported, Level::Grid, None)
    );

    // The grid worker's phone holds it on its next sync, and may verify it.
    wang.sync(&server);
    let on_phone = wang.replica.case(&id).unwrap();
    assert_eq!(on_phone.read().unwrap().source, Source::WalkIn);
    wang.replica
        .append_event(&id, EventDraft::new(EventType::Accepted), T0)
        .unwrap();
    wang.sync(&server);

    // The case page: source, receipt, the requester in clear for the clerk.
    let (status, page) = get(&server, &ts, &format!("/console/cases/{id}"));
    assert_eq!(status, 200);
    assert_eq!(text_of(&page, "case-source"), "来访登记");
    assert_eq!(text_of(&page, "case-receipt"), no);
    assert!(page.contains(PHONE));
    assert!(!page.contains(&code), "the code is never shown again");

    // The audit log names the clerk.
    let audit = server.store(server.state.store.audit_log()).unwrap();
    assert!(
        audit
            .iter()
            .any(|(who, what, target)| who == "ts" && what == "console_register" && *target == id)
    );
}

#[test]
fn the_requesters_phone_is_masked_for_a_mediator_and_whole_for_the_clerk() {
    let server = Server::start();
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    server.add_user("med", Role::Mediator, "130322/101/201");
    let med_phone = server.enrol("med2", Role::Mediator, "130322/101/201");
    let ts = console_session(&server, "ts");
    let med = console_session(&server, "med");
    let (status, _, receipt) = post(&server, &ts, "/console/register", &walk_in(&[]));
    assert_eq!(status, 200, "{receipt}");
    let id = case_of(&receipt);

    // The console: the mediator reads the request, masked; the clerk in clear.
    let (status, page) = get(&server, &med, &format!("/console/cases/{id}"));
    assert_eq!(status, 200);
    assert!(page.contains("138****5678"), "{page}");
    assert!(!page.contains(PHONE), "no full number for the mediator");
    assert!(page.contains("赵**"));
    let (_, print) = get(&server, &med, &format!("/console/cases/{id}/print"));
    assert!(print.contains("138****5678") && !print.contains(PHONE));
    let (_, page) = get(&server, &ts, &format!("/console/cases/{id}"));
    assert!(page.contains(PHONE));
    assert!(page.contains("赵大妈"));

    // The API alike.
    let (status, json) = get_json(&server, &med_phone.token, &format!("/v1/cases/{id}"));
    assert_eq!(status, 200);
    let text = json.to_string();
    assert!(
        text.contains("138****5678") && !text.contains(PHONE),
        "{text}"
    );
}

#[test]
fn a_refused_registration_is_shown_again_with_its_reason_and_nothing_stored() {
    let server = Server::start();
    tree(&server);
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    server.add_user("gw", Role::GridWorker, GRID);
    let ts = console_session(&server, "ts");
    let cases_before = server.store(server.state.store.audit_log()).unwrap().len();
    for (changes, code) in [
        (vec![("requester_phone", "138-abc")], "bad_phone"),
        (vec![("requester_name", " ")], "missing_field"),
        (vec![("area", "130322/101/201")], "grid_required"),
        (vec![("area", "130322/102/201/01")], "out_of_scope"),
        (vec![("area", "130323/101/201/01")], "area_outside_county"),
        (vec![("category", "no_such")], "unknown_category"),
        (vec![("source", "grid_worker")], "bad_source"),
        (vec![("kind", "patrol")], "unsupported_kind"),
        (vec![("triage", "")], "triage_required"),
        (
            vec![("triage", "department"), ("department", "nowhere")],
            "unknown_department",
        ),
    ] {
        let (status, _, page) = post(&server, &ts, "/console/register", &walk_in(&changes));
        assert_eq!(status, 422, "{changes:?}: {page}");
        assert!(
            page.contains(&format!(
                "id=\"register-error\" role=\"alert\" data-code=\"{code}\""
            )),
            "{changes:?} → {code}: {page}"
        );
        // The form again, as filled in.
        assert!(page.contains("id=\"register-form\""));
        assert!(page.contains("value=\"东街 12 号\""));
    }
    assert_eq!(
        server.store(server.state.store.audit_log()).unwrap().len(),
        cases_before,
        "nothing registered"
    );
    // Only the township and county centres register.
    let gw = console_session(&server, "gw");
    let (status, page) = get(&server, &gw, "/console/register");
    assert_eq!(status, 403);
    assert!(!page.contains("id=\"register-form\""));
    assert!(!page.contains("id=\"nav-register\""));
    let (status, _, _) = post(&server, &gw, "/console/register", &walk_in(&[]));
    assert_eq!(status, 403);
}

#[test]
fn the_case_page_dispatches_routes_down_answers_and_records_the_return_visit() {
    let server = Server::start();
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let ts = console_session(&server, "ts");

    // Straight to the category's department.
    let form = walk_in(&[("triage", "department"), ("source", "hotline_12345")]);
    let (status, _, receipt) = post(&server, &ts, "/console/register", &form);
    assert_eq!(status, 200, "{receipt}");
    let dispatched = case_of(&receipt);
    let wf = server
        .store(server.state.store.case_doc(&dispatched))
        .unwrap()
        .unwrap()
        .workflow()
        .unwrap();
    assert_eq!(wf.status, Status::Assigned);
    assert_eq!(wf.department.as_deref(), Some("urban_management"));

    // Accepted at the township, then routed down to the grid from the case page.
    let (_, _, receipt) = post(
        &server,
        &ts,
        "/console/register",
        &walk_in(&[("triage", "township")]),
    );
    let id = case_of(&receipt);
    let (_, page) = get(&server, &ts, &format!("/console/cases/{id}"));
    assert!(page.contains("id=\"route-form\""), "{page}");
    assert!(
        !page.contains("id=\"return-visit-form\""),
        "not resolved yet"
    );
    let action = format!("/console/cases/{id}/action");
    let (status, location, _) = post(
        &server,
        &ts,
        &action,
        &[
            ("kind", "routed"),
            ("level", "grid"),
            ("note", "请上门核实"),
        ],
    );
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/console/cases/{id}?done=1").as_str())
    );

    // The grid worker verifies and answers; the clerk reads the reply and calls back.
    wang.sync(&server);
    wang.replica
        .append_event(&id, EventDraft::new(EventType::Accepted), T0)
        .unwrap();
    wang.replica
        .append_event(&id, EventDraft::resolve_with_reply("路灯已修复"), T0 + 1)
        .unwrap();
    wang.sync(&server);
    let (_, page) = get(&server, &ts, &format!("/console/cases/{id}"));
    assert_eq!(text_of(&page, "case-reply"), "路灯已修复");
    assert!(page.contains("id=\"return-visit-form\""), "{page}");
    assert!(page.contains("id=\"rv-rating\""));
    // A return visit needs what the requester said.
    let (_, location, _) = post(
        &server,
        &ts,
        &action,
        &[("kind", "return_visit"), ("via", "phone"), ("note", "")],
    );
    assert!(location.contains("error="), "{location}");
    let (_, location, _) = post(
        &server,
        &ts,
        &action,
        &[
            ("kind", "return_visit"),
            ("via", "phone"),
            ("note", "群众说灯亮了"),
            ("rating", "satisfied"),
        ],
    );
    assert!(location.ends_with("done=1"), "{location}");
    let doc = server
        .store(server.state.store.case_doc(&id))
        .unwrap()
        .unwrap();
    let wf = doc.workflow().unwrap();
    assert_eq!(wf.status, Status::Evaluated);
    assert_eq!(wf.return_visits, 1);
    assert!(!wf.rating_by_requester);
    let (_, page) = get(&server, &ts, &format!("/console/cases/{id}"));
    assert!(page.contains("电话回访"), "the way in the timeline");
    assert!(page.contains("群众说灯亮了"));
    assert!(page.contains("工作人员代评"), "{page}");
    assert!(page.contains("data-by=\"staff\""));

    // A resolution from the console takes its reply.
    let (_, _, receipt) = post(
        &server,
        &ts,
        "/console/register",
        &walk_in(&[("triage", "township")]),
    );
    let own = case_of(&receipt);
    let (_, location, _) = post(
        &server,
        &ts,
        &format!("/console/cases/{own}/action"),
        &[("kind", "resolved"), ("note", ""), ("reply", "已协调修复")],
    );
    assert!(location.ends_with("done=1"), "{location}");
    let wf = server
        .store(server.state.store.case_doc(&own))
        .unwrap()
        .unwrap()
        .workflow()
        .unwrap();
    assert_eq!(wf.reply.as_deref(), Some("已协调修复"));
}

#[test]
fn the_dashboard_and_the_export_count_the_counter_by_its_source() {
    let server = Server::start();
    tree(&server);
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let ts = console_session(&server, "ts");
    for source in ["walk_in", "walk_in", "letter"] {
        let (status, _, page) = post(
            &server,
            &ts,
            "/console/register",
            &walk_in(&[("source", source)]),
        );
        assert_eq!(status, 200, "{page}");
    }
    let (status, dashboard) = get(&server, &ts, "/console/dashboard");
    assert_eq!(status, 200);
    // Received by source: two walk-ins and a letter, nothing answered yet.
    let row = |source: &str| {
        let at = dashboard
            .find(&format!("data-source=\"{source}\""))
            .unwrap_or_else(|| panic!("no row for {source}: {dashboard}"));
        dashboard[at..dashboard[at..].find("</tr>").unwrap() + at].to_owned()
    };
    assert!(row("walk_in").contains("来访登记"), "{}", row("walk_in"));
    assert!(row("walk_in").contains(">2<"), "{}", row("walk_in"));
    assert!(row("letter").contains(">1<"), "{}", row("letter"));
    assert!(
        !dashboard.contains("data-source=\"wechat\""),
        "no row for a source with nothing"
    );
    let at = dashboard.find("id=\"fig-reply\"").expect("the reply rate");
    let reply: String = dashboard[at..].chars().take(80).collect();
    assert!(
        reply.contains(">0.0%<"),
        "no resident answered yet: {reply}"
    );
    // The export names the source of each case.
    let (status, csv) = get(&server, &ts, "/console/export.csv");
    assert_eq!(status, 200);
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains("\"来源\"") && header.contains("\"是否答复\""),
        "{header}"
    );
    assert_eq!(csv.matches("\"来访登记\"").count(), 2, "{csv}");
    assert_eq!(csv.matches("\"来信/信访\"").count(), 1, "{csv}");
}

/// A `multipart/form-data` post of `form` with `photos` (file name, bytes) as `photo` parts.
fn post_with_photos(
    server: &Server,
    session: &str,
    form: &[(&str, &str)],
    photos: &[(&str, Vec<u8>)],
) -> (u16, String) {
    const B: &str = "gridsync-test-boundary";
    let mut body = Vec::new();
    for (k, v) in form {
        body.extend(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in photos {
        body.extend(format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).as_bytes());
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{B}--\r\n").as_bytes());
    let (status, _, page) = crate::rules_console::answer(
        crate::access_matrix::browser()
            .post(format!("{}/console/register", server.url))
            .header("Cookie", &format!("gs_session={session}"))
            .content_type(&format!("multipart/form-data; boundary={B}"))
            .send(&body[..]),
    );
    (status, page)
}

#[test]
fn photos_taken_at_the_counter_go_with_the_case_and_reach_the_grid_workers_phone() {
    let server = Server::start();
    tree(&server);
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let ts = console_session(&server, "ts");
    let form = get(&server, &ts, "/console/register").1;
    assert!(form.contains("enctype=\"multipart/form-data\""), "{form}");
    assert!(form.contains("id=\"r-photos\""));

    let photo = crate::blobs::photo(7);
    let (status, receipt) =
        post_with_photos(&server, &ts, &walk_in(&[]), &[("门口.png", photo.clone())]);
    assert_eq!(status, 200, "{receipt}");
    let id = case_of(&receipt);
    let sha = gridsync_core::attachment::sha256_hex(&photo);
    // The case lists the photo, in the clerk's name; the server holds its bytes.
    let case = server
        .store(server.state.store.case_doc(&id))
        .unwrap()
        .unwrap()
        .read()
        .unwrap();
    assert_eq!(case.attachments.len(), 1);
    assert_eq!(case.attachments[0].sha256, sha);
    assert_eq!(case.attachments[0].mime, "image/png");
    assert_eq!(case.attachments[0].caption, "门口.png");
    assert_eq!(
        server.store(server.state.blobs.get(&sha)).unwrap(),
        photo,
        "the bytes are stored"
    );
    // The grid worker's phone gets the case with the photo listed, and may fetch it.
    wang.sync(&server);
    let held = wang.replica.case(&id).unwrap().read().unwrap();
    assert_eq!(held.attachments[0].sha256, sha);
    let (status, bytes) = crate::blobs::get(&server, &wang.token, &format!("/v1/blobs/{sha}"));
    assert_eq!(status, 200);
    assert_eq!(bytes, photo);

    // Not a photo: refused with its reason, and nothing stored.
    let before = server.store(server.state.store.change_count()).unwrap();
    let (status, page) = post_with_photos(
        &server,
        &ts,
        &walk_in(&[("title", "另一件事")]),
        &[("notes.txt", b"just text".to_vec())],
    );
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("data-code=\"photo_invalid_input\""), "{page}");
    assert_eq!(
        server.store(server.state.store.change_count()).unwrap(),
        before,
        "no case, no change"
    );
}
