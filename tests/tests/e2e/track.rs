//! The requester's progress page, `/track` (issue 22): a receipt and its code open where the
//! matter stands and nothing else — no name, phone number, internal note or account — the
//! requester's own rating is written in their name and 不满意 reopens the case, and guessing
//! codes is cut off with `429`.

use gridsync_core::workflow::{EventDraft, WorkflowState};
use gridsync_core::{CaseKind, Identity, Level, Role, Source, Status};
use gridsync_server::console::console_device;
use gridsync_server::residents::{Matter, Receipt};
use gridsync_server::store::FrontDoorRows;

use crate::access_matrix::{browser, read_body, urlencode};
use crate::server::{Phone, Server, path};

const GRID: &str = "130322/101/201/01";
const NAME: &str = "王秀英";
const PHONE: &str = "13812345678";
/// Internal notes on the case's steps: never on the page.
const NOTES: [&str; 3] = ["内部备注分派给老王", "内部备注户主脾气急", "内部备注已核实"];
const REPLY: &str = "已联系供电所更换灯泡，路灯恢复照明。";

/// A matter registered at the counter by the township clerk, routed to the grid, and its
/// receipt.
struct Filed {
    id: String,
    receipt: Receipt,
}

fn file(server: &Server) -> Filed {
    let clerk = Identity::new(
        "clerk",
        Role::TownshipStaff,
        path("130322/101"),
        None,
        "console-clerk",
    )
    .unwrap();
    let state = server.state.clone();
    server.store(async move {
        let ctx = console_device(&state, &clerk).await.unwrap();
        let live = state.store.rules().await.unwrap();
        let deadlines = live.rules.deadlines();
        let now = gridsync_server::now_ms() - 60_000;
        let matter = Matter {
            source: Source::WalkIn,
            kind: CaseKind::Request,
            place: path(GRID),
            category: "street_light".into(),
            title: "村口路灯不亮".into(),
            description: format!("{NAME}来访反映，电话{PHONE}"),
            address: "东街村委会东侧".into(),
            requester_name: NAME.into(),
            requester_phone: PHONE.into(),
        };
        let (id, mut doc, key) = matter
            .build(&clerk, ctx.actors[0].clone(), now, &deadlines)
            .unwrap();
        state.store.keep_case_key(&key, now).await.unwrap();
        doc.edit(&clerk, now + 1_000, |e| {
            e.append_event_with(EventDraft::route_to(Level::Grid).note(NOTES[0]), &deadlines)
                .map(|_| ())
        })
        .unwrap();
        let receipt = Receipt::issue(now);
        let rows = FrontDoorRows {
            receipt: Some((receipt.number.clone(), receipt.code_hash())),
            order: None,
            lookup_code: None,
        };
        state
            .store
            .open_case(&ctx, &clerk, &id, &mut doc, &rows, &live.admission, now)
            .await
            .unwrap();
        Filed { id, receipt }
    })
}

/// The grid worker takes the routed case on the spot and resolves it with a reply.
fn resolve(server: &Server, wang: &mut Phone, id: &str) {
    wang.sync(server);
    let at = gridsync_server::now_ms() - 30_000;
    wang.replica
        .append_event(
            id,
            EventDraft::new(gridsync_core::workflow::EventType::Accepted).note(NOTES[1]),
            at,
        )
        .unwrap();
    wang.replica
        .append_event(
            id,
            EventDraft::resolve_with_reply(REPLY).note(NOTES[2]),
            at + 1_000,
        )
        .unwrap();
    wang.sync(server);
    assert_eq!(workflow(server, id).status, Status::Resolved);
}

fn workflow(server: &Server, id: &str) -> WorkflowState {
    server
        .store(server.state.store.case_doc(id))
        .unwrap()
        .unwrap()
        .workflow()
        .unwrap()
}

fn post(server: &Server, route: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut resp = browser()
        .post(format!("{}{route}", server.url))
        .content_type("application/x-www-form-urlencoded")
        .send(&body)
        .unwrap();
    let status = resp.status().as_u16();
    (status, String::from_utf8(read_body(&mut resp)).unwrap())
}

fn look(server: &Server, receipt: &str, code: &str) -> (u16, String) {
    post(server, "/track", &[("receipt", receipt), ("code", code)])
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// The page shows nothing that names the requester or the staff, and no internal note.
fn assert_nothing_personal(html: &str) {
    for secret in [
        NAME,
        PHONE,
        "138****5678",
        "王**",
        "clerk",
        "wang",
        "phone-wang",
    ]
    .into_iter()
    .chain(NOTES)
    .chain(["urban_management", "130322/101"])
    {
        assert!(!html.contains(secret), "the page shows {secret:?}:\n{html}");
    }
}

#[test]
fn the_form_asks_for_the_receipt_and_code_without_a_sign_in() {
    let server = Server::start();
    let mut resp = browser()
        .get(format!("{}/track", server.url))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let html = String::from_utf8(read_body(&mut resp)).unwrap();
    for id in [
        r#"id="track-form""#,
        r#"id="track-receipt""#,
        r#"id="track-code""#,
        r#"id="track-submit""#,
        r#"action="/track""#,
        r#"href="/track/app.css""#,
    ] {
        assert!(html.contains(id), "{id} in {html}");
    }
    assert!(html.contains("回执号") && html.contains("查询码"));
    assert!(!html.contains("<script"), "no JavaScript");
    let resp = browser()
        .get(format!("{}/track/app.css", server.url))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn the_right_code_shows_the_stage_and_nothing_personal_and_wrong_ones_are_one_answer() {
    let server = Server::start();
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    server.add_user("clerk", Role::TownshipStaff, "130322/101");
    let filed = file(&server);
    let no = &filed.receipt.number;

    let (status, html) = look(&server, no, &filed.receipt.code);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"id="track-stage""#), "{html}");
    assert!(html.contains("已转网格员上门核实"), "{html}");
    assert!(html.contains("村口路灯不亮"), "the title");
    assert!(html.contains(r#"id="track-steps""#) && html.contains("诉求已登记"));
    assert!(
        !html.contains(r#"id="track-reply""#),
        "no reply before it is resolved"
    );
    assert!(
        !html.contains(r#"id="rate-form""#),
        "no rating before it is resolved"
    );
    assert_nothing_personal(&html);

    // A wrong code and an unknown receipt: the same answer.
    let (s1, wrong_code) = look(&server, no, &wrong(&filed.receipt.code));
    let unknown = format!("{}", no.parse::<u64>().unwrap() + 1);
    let (s2, no_receipt) = look(&server, &unknown, &filed.receipt.code);
    assert_eq!((s1, s2), (404, 404));
    let error = |html: &str| {
        let at = html.find(r#"id="track-error""#).expect("an error");
        html[at..at + html[at..].find("</p>").unwrap()].to_owned()
    };
    assert!(error(&wrong_code).contains(r#"data-code="not_found""#));
    assert_eq!(error(&wrong_code), error(&no_receipt));
    assert_eq!(
        wrong_code.replace(no.as_str(), "N"),
        no_receipt.replace(&unknown, "N"),
        "the whole page is alike but for the number typed"
    );
    assert!(wrong_code.contains(r#"id="track-form""#), "the form again");
    assert!(!wrong_code.contains(r#"id="track-stage""#));

    // Resolved: the reply and the rating form, still nothing personal.
    resolve(&server, &mut wang, &filed.id);
    let (status, html) = look(&server, no, &filed.receipt.code);
    assert_eq!(status, 200);
    assert!(html.contains("已办结，请您评价"), "{html}");
    assert!(html.contains(r#"id="track-reply""#) && html.contains(REPLY));
    for id in [
        r#"id="rate-form""#,
        r#"id="rate-satisfied""#,
        r#"id="rate-basically_satisfied""#,
        r#"id="rate-unsatisfied""#,
        r#"id="rate-comment""#,
        r#"id="rate-submit""#,
        "满意",
        "基本满意",
        "不满意",
    ] {
        assert!(html.contains(id), "{id} in {html}");
    }
    assert_nothing_personal(&html);
}

#[test]
fn an_unsatisfied_rating_is_the_requesters_and_reopens_the_case() {
    let server = Server::start();
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    server.add_user("clerk", Role::TownshipStaff, "130322/101");
    let filed = file(&server);
    let (no, code) = (&filed.receipt.number, &filed.receipt.code);

    // Not resolved yet: refused in words, nothing written.
    let rate = |rating: &str, comment: &str| {
        post(
            &server,
            "/track/rate",
            &[
                ("receipt", no),
                ("code", code),
                ("rating", rating),
                ("comment", comment),
            ],
        )
    };
    let (status, html) = rate("satisfied", "");
    assert_eq!(status, 409, "{html}");
    assert!(html.contains(r#"data-code="not_ratable""#), "{html}");

    resolve(&server, &mut wang, &filed.id);
    let (status, html) = rate("", "");
    assert_eq!(status, 400);
    assert!(html.contains(r#"data-code="bad_rating""#));
    let (status, html) = rate("unsatisfied", &"慢".repeat(501));
    assert_eq!(status, 400);
    assert!(html.contains(r#"data-code="comment_too_long""#));
    assert_eq!(workflow(&server, &filed.id).status, Status::Resolved);
    // The code is checked on the rating too.
    let (status, html) = post(
        &server,
        "/track/rate",
        &[
            ("receipt", no),
            ("code", &wrong(code)),
            ("rating", "satisfied"),
        ],
    );
    assert_eq!(status, 404);
    assert!(html.contains(r#"data-code="not_found""#));

    let (status, html) = rate("unsatisfied", "路灯修好两天又坏了");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"id="track-rated""#), "{html}");
    assert!(html.contains("感谢") && html.contains("重新办理"), "{html}");
    assert!(html.contains("正在办理"), "the stage now: {html}");
    assert!(!html.contains(r#"id="rate-form""#));
    assert_nothing_personal(&html);

    let wf = workflow(&server, &filed.id);
    assert_eq!(wf.status, Status::InProgress, "reopened");
    assert!(wf.rating_by_requester, "the requester's own rating");
    assert_eq!(wf.owner.as_deref(), Some("wang"), "back to its handler");
    let case = server
        .store(server.state.store.case_doc(&filed.id))
        .unwrap()
        .unwrap()
        .read()
        .unwrap();
    let rated = case.events.last().unwrap();
    assert_eq!(rated.by, "requester");
    assert_eq!(rated.note, "路灯修好两天又坏了");
    let audit = server.store(server.state.store.audit_log()).unwrap();
    assert!(
        audit.contains(&(
            "requester".to_owned(),
            "track_rate".to_owned(),
            filed.id.clone()
        )),
        "{audit:?}"
    );

    // Reopened: no second rating until it is resolved again.
    let (status, html) = rate("satisfied", "");
    assert_eq!(status, 409);
    assert!(html.contains(r#"data-code="not_ratable""#));
}

#[test]
fn too_many_wrong_codes_for_a_receipt_are_refused_with_429() {
    let server = Server::start();
    server.add_user("clerk", Role::TownshipStaff, "130322/101");
    let filed = file(&server);
    let other = file(&server);
    let (no, code) = (&filed.receipt.number, &filed.receipt.code);
    for _ in 0..5 {
        let (status, html) = look(&server, no, &wrong(code));
        assert_eq!(status, 404);
        assert!(html.contains(r#"data-code="not_found""#));
    }
    let (status, html) = look(&server, no, &wrong(code));
    assert_eq!(status, 429, "{html}");
    assert!(html.contains(r#"data-code="rate_limited""#), "{html}");
    assert!(html.contains("请10分钟后再试"));
    // Even the right code waits now: guessing it on the sixth try proves nothing.
    let (status, html) = look(&server, no, code);
    assert_eq!(status, 429);
    assert!(!html.contains(r#"id="track-stage""#));
    let (status, _) = post(
        &server,
        "/track/rate",
        &[("receipt", no), ("code", code), ("rating", "satisfied")],
    );
    assert_eq!(status, 429);
    // Another receipt is not held up.
    let (status, html) = look(&server, &other.receipt.number, &other.receipt.code);
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="track-stage""#));
}
