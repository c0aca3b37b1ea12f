//! Walks every cell of the role × resource × scope matrix in `docs/SECURITY.md` against the
//! real server, and checks that every route the server registers is named in the route table
//! beside it. The tables are the specification: a cell changed there changes what is tested.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use gridsync_core::attachment::sha256_hex;
use gridsync_core::case::{CaseDoc, Party};
use gridsync_core::protocol::{DocChanges, DocHeads, SyncRequest, decode_response, encode_request};
use gridsync_core::replica::AttachmentMeta;
use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_core::{Identity, Replica, Role};
use gridsync_server::reads;
use gridsync_server::store::{ReadAuditFilter, ReadRow};
use serde_bytes::ByteBuf;

use crate::server::{PASSWORD, Phone, Server, T0, get_json, phone, post_sync, report};

const COLUMNS: [&str; 4] = ["own", "same village", "other village", "other township"];

const ACTORS: [&str; 7] = [
    "grid_worker",
    "mediator",
    "township_staff",
    "county_admin",
    "department_handler",
    "revoked device",
    "no token",
];

/// Every resource row of the matrix; each actor has exactly one row per resource.
const RESOURCES: [&str; 25] = [
    "case read",
    "case list",
    "case write via sync",
    "case pull via sync",
    "stats",
    "patrol coverage",
    "blob read",
    "blob upload offset",
    "blob upload",
    "console case list",
    "console case page",
    "console evidence",
    "console photo",
    "console export",
    "console action",
    "console settle",
    "console supervision",
    "console dashboard",
    "console register",
    "console assessment",
    "console assessment cases",
    "console ratings",
    "console accountability",
    "device list",
    "device revoke",
];

/// The month the matrix's cases are reported in: the assessment cells ask for it.
const MONTH: &str = "2026-01";

/// The places, as seen from a grid worker of grid 130322/101/201/01 (one per column).
const PLACES: [&str; 4] = [
    "130322/101/201/01",
    "130322/101/201/02",
    "130322/101/202/01",
    "130322/102/201/01",
];

const DAY: i64 = 86_400_000;
/// 2026-01-05 (ms), the matrix's cases are reported on the days after it: long before the tests
/// run, and a plausible document time.
const FIRST_DAY: i64 = 1_767_571_200_000;

/// The rows of the table between `<!-- {name}:start -->` and `<!-- {name}:end -->` in
/// docs/SECURITY.md, header and separator skipped, cells trimmed and without backticks.
pub(crate) fn table(name: &str) -> Vec<Vec<String>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SECURITY.md"))
        .unwrap();
    let table = doc
        .split(&format!("<!-- {name}:start -->"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("<!-- {name}:end -->")).next())
        .unwrap_or_else(|| panic!("docs/SECURITY.md holds the {name} table between its markers"));
    table
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace('`', ""))
                .collect()
        })
        .collect()
}

/// (actor, resource) → expected outcome per column, parsed from docs/SECURITY.md.
fn matrix() -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    for cells in table("matrix") {
        assert_eq!(cells.len(), 2 + COLUMNS.len(), "matrix row {cells:?}");
        let key = (cells[0].clone(), cells[1].clone());
        assert!(
            out.insert(key, cells[2..].to_vec()).is_none(),
            "a second row for {} × {}",
            cells[0],
            cells[1]
        );
    }
    out
}

/// An HTTP client that shows redirects instead of following them: the console answers a
/// missing session, and every form it accepts, with `303 See Other`.
pub(crate) fn browser() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// Status, `Location` and body of a response.
fn answer(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String, Vec<u8>) {
    let mut resp = resp.unwrap();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = read_body(&mut resp);
    (resp.status().as_u16(), location, body)
}

/// A response's whole body (up to 64 MiB; empty if it cannot be read).
pub(crate) fn read_body(resp: &mut ureq::http::Response<ureq::Body>) -> Vec<u8> {
    resp.body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn cookie(session: &str) -> String {
    format!("gs_session={session}")
}

/// A console page or file, with the session cookie (none when `session` is empty).
fn console_get(server: &Server, session: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut req = browser().get(format!("{}{path}", server.url));
    if !session.is_empty() {
        req = req.header("Cookie", &cookie(session));
    }
    answer(req.call())
}

/// A console form post (no `Origin`: allowed, see "Cross-site requests").
fn console_post(server: &Server, session: &str, path: &str, form: &str) -> (u16, String, Vec<u8>) {
    let mut req = browser()
        .post(format!("{}{path}", server.url))
        .content_type("application/x-www-form-urlencoded");
    if !session.is_empty() {
        req = req.header("Cookie", &cookie(session));
    }
    answer(req.send(form))
}

/// Signs `user` in at `POST /console/login` and returns the `gs_session` cookie's value.
pub(crate) fn console_session(server: &Server, user: &str) -> String {
    let form = format!("user={user}&password={}", urlencode(PASSWORD));
    let resp = browser()
        .post(format!("{}/console/login", server.url))
        .content_type("application/x-www-form-urlencoded")
        .send(&form)
        .unwrap();
    assert_eq!(resp.status(), 303, "{user} signs in to the console");
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("gs_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A small PNG, different for each seed (a photo per case: one shared photo would be readable
/// through whichever case a reader reaches).
fn photo(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8, y as u8, seed]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn put_blob(server: &Server, token: &str, bytes: &[u8]) -> u16 {
    let mut req = browser().put(format!("{}/v1/blobs/{}", server.url, sha256_hex(bytes)));
    if !token.is_empty() {
        req = req.header("Authorization", &bearer(token));
    }
    answer(req.send(bytes)).0
}

/// Everything the cells are asked of: one case per place, each with a photo its author
/// uploaded, the actors' phones and console sessions, and a device used at each place.
struct World {
    server: Server,
    cases: Vec<String>,
    photos: Vec<Vec<u8>>,
    people: BTreeMap<&'static str, Phone>,
    sessions: BTreeMap<&'static str, String>,
    /// A grid worker's phone at each place: what the devices page lists and revokes.
    place_devices: Vec<String>,
}

fn world() -> World {
    let server = Server::start();
    server.add_user("admin", Role::CountyAdmin, "130322");
    let mut desk = phone(&server, "admin", Role::CountyAdmin, "130322", "pc-admin");
    // Each case on a day of its own (long ago, so they are overdue now): the dashboard's
    // window can then pick out one place's case.
    let at = |col: usize| FIRST_DAY + (col as i64 + 2) * DAY;
    let mut cases = Vec::new();
    let mut photos = Vec::new();
    for (col, place) in PLACES.iter().enumerate() {
        // Each case holds personal data (a requester), so reading it in clear is audited.
        let mut new = report("测试案件", place);
        new.people = vec![Party {
            id: format!("requester-{col}"),
            name: "钱大伯".into(),
            role: "requester".into(),
            phone: "13912345678".into(),
        }];
        let id = desk.replica.capture(&new, at(col)).unwrap();
        let bytes = photo(col as u8);
        let meta = AttachmentMeta {
            caption: "现场照片".into(),
            ..Default::default()
        };
        desk.replica
            .attach(&id, &bytes, &meta, at(col) + 1)
            .unwrap();
        cases.push(id);
        photos.push(bytes);
    }
    // The first case is assigned to the department: "own" for its handler.
    desk.replica
        .append_event(&cases[0], EventDraft::new(EventType::Accepted), at(0) + 2)
        .unwrap();
    desk.replica
        .append_event(
            &cases[0],
            EventDraft::assign_to("urban_management"),
            at(0) + 3,
        )
        .unwrap();
    desk.sync(&server);
    for bytes in &photos {
        assert_eq!(
            put_blob(&server, &desk.token, bytes),
            201,
            "the author uploads"
        );
    }

    let mut people: BTreeMap<&str, Phone> = BTreeMap::new();
    for (name, role, scope) in [
        ("grid_worker", Role::GridWorker, "130322/101/201/01"),
        ("mediator", Role::Mediator, "130322/101/201"),
        ("township_staff", Role::TownshipStaff, "130322/101"),
        ("county_admin", Role::CountyAdmin, "130322"),
        ("revoked device", Role::GridWorker, "130322/101/201/01"),
    ] {
        let user = name.replace(' ', "_");
        server.add_user(&user, role, scope);
        people.insert(
            name,
            phone(&server, &user, role, scope, &format!("dev-{user}")),
        );
    }
    server.add_department_handler("department_handler", "urban_management");
    people.insert(
        "department_handler",
        server.department_phone("department_handler", "urban_management"),
    );
    let mut sessions = BTreeMap::new();
    for actor in ACTORS.iter().filter(|a| people.contains_key(**a)) {
        sessions.insert(*actor, console_session(&server, &actor.replace(' ', "_")));
    }
    // The revoked device's phone, and its console device too (a session that was valid).
    for device in ["dev-revoked_device", "console-revoked_device"] {
        assert!(
            server
                .store(server.state.store.revoke_device(device))
                .unwrap()
        );
    }

    let place_devices = PLACES
        .iter()
        .enumerate()
        .map(|(col, place)| {
            let user = format!("worker_{col}");
            server.add_user(&user, Role::GridWorker, place);
            phone(
                &server,
                &user,
                Role::GridWorker,
                place,
                &format!("phone-place-{col}"),
            )
            .device
        })
        .collect();
    World {
        server,
        cases,
        photos,
        people,
        sessions,
        place_devices,
    }
}

#[test]
fn every_cell_of_the_access_matrix_holds() {
    let started = Instant::now();
    let matrix = matrix();
    let expected: BTreeSet<(String, String)> = ACTORS
        .iter()
        .flat_map(|a| {
            RESOURCES
                .iter()
                .map(move |r| (a.to_string(), r.to_string()))
        })
        .collect();
    let rows: BTreeSet<(String, String)> = matrix.keys().cloned().collect();
    assert_eq!(
        rows.symmetric_difference(&expected).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "the matrix has one row per actor × resource, no more"
    );

    let w = world();
    let mut checked = 0;
    // Every cell is asked even after a wrong one: the failure lists them all.
    let mut wrong = Vec::new();
    for ((actor, resource), expected) in &matrix {
        for (col, want) in expected.iter().enumerate() {
            let before = audit_head(&w.server);
            let got = outcome(&w, actor, resource, col);
            if &got != want {
                wrong.push(format!(
                    "{actor} × {resource} × {}: the table says {want}, the server {got}",
                    COLUMNS[col]
                ));
            }
            if let Err(e) = audited_as_expected(&w, actor, resource, col, &got, before) {
                wrong.push(format!(
                    "{actor} × {resource} × {}: read audit: {e}",
                    COLUMNS[col]
                ));
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that do not hold:\n{}",
        wrong.join("\n")
    );
    assert_eq!(checked, ACTORS.len() * RESOURCES.len() * COLUMNS.len());
    let keyed = |k: bool| KEYED_PULLS[usize::from(k)].load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        keyed(true) > 0 && keyed(false) > 0,
        "pulls with a case key {} and without {}: the matrix must hold both",
        keyed(true),
        keyed(false)
    );
    beyond_the_county(&w);
    read_audit_is_for_county_admins_only(&w);
    println!(
        "{checked} cells of the access matrix hold ({:.1?})",
        started.elapsed()
    );
}

/// What the server does when `actor` asks `resource` of the place in column `col`.
fn outcome(w: &World, actor: &str, resource: &str, col: usize) -> String {
    let server = &w.server;
    let case = &w.cases[col];
    let place = PLACES[col];
    let sha = sha256_hex(&w.photos[col]);
    let token = w
        .people
        .get(actor)
        .map(|p| p.token.clone())
        .unwrap_or_default();
    let session = w.sessions.get(actor).cloned().unwrap_or_default();
    let api_get = |path: &str| {
        let mut req = browser().get(format!("{}{path}", server.url));
        if !token.is_empty() {
            req = req.header("Authorization", &bearer(&token));
        }
        answer(req.call())
    };
    // A console answer: `login` when sent to the sign-in page, else what `ok` makes of a 200.
    let console = |(status, location, body): (u16, String, Vec<u8>),
                   ok: &dyn Fn(&str) -> String| {
        match status {
            303 if location == "/console/login" => "login".to_owned(),
            200 => ok(&String::from_utf8_lossy(&body)),
            s => s.to_string(),
        }
    };
    let shown = |body: &str, what: &str, yes: &str, no: &str| {
        if body.contains(&format!("data-id=\"{what}\"")) {
            yes.to_owned()
        } else {
            no.to_owned()
        }
    };
    // A console form's outcome: back on the case page with `done` or `error`.
    let written = |(status, location, _): (u16, String, Vec<u8>)| {
        let back = format!("/console/cases/{case}?");
        match status {
            303 if location == "/console/login" => "login".to_owned(),
            303 if location == format!("{back}done=1") => "done".to_owned(),
            303 if location.starts_with(&format!("{back}error=")) => "refused".to_owned(),
            303 => format!("303 to {location}"),
            s => s.to_string(),
        }
    };
    match resource {
        "case read" => api_get(&format!("/v1/cases/{case}")).0.to_string(),
        "case list" => {
            let (status, page) = get_json(server, &token, "/v1/cases?per_page=200");
            if status != 200 {
                return status.to_string();
            }
            let listed = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == case.as_str());
            if listed { "listed" } else { "absent" }.to_owned()
        }
        "case write via sync" => write(server, &w.people, actor, &token, case),
        "case pull via sync" => {
            // A pull carries the case's key (ADR 0029) exactly when the account reads its
            // personal data in clear; any other pull is no pull of this cell.
            let (got, keyed) = pull(server, w.people.get(actor), case);
            let in_clear = got == "pulled" && reads_in_clear(w, actor, col);
            KEYED_PULLS[usize::from(keyed)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match keyed == in_clear {
                true => got,
                false => format!(
                    "{got}, its case key {}",
                    if keyed { "sent" } else { "withheld" }
                ),
            }
        }
        // The statistics of the case's own place: counted when it is in the figures.
        "stats" => {
            let (status, stats) =
                get_json(server, &token, &format!("/v1/stats?from=0&scope={place}"));
            match (status, stats["received"].as_u64()) {
                (200, Some(1)) => "counted".to_owned(),
                (200, n) => format!("200 with received {n:?}"),
                (s, _) => s.to_string(),
            }
        }
        "patrol coverage" => {
            let url = format!("/v1/patrols/coverage?scope={place}");
            get_json(server, &token, &url).0.to_string()
        }
        "blob read" => api_get(&format!("/v1/blobs/{sha}")).0.to_string(),
        "blob upload offset" => {
            let mut req = browser().head(format!("{}/v1/blobs/{sha}", server.url));
            if !token.is_empty() {
                req = req.header("Authorization", &bearer(&token));
            }
            answer(req.call()).0.to_string()
        }
        // The right bytes: allowed, this makes the caller a holder (201 again for a holder).
        "blob upload" => put_blob(server, &token, &w.photos[col]).to_string(),
        "console case list" => console(console_get(server, &session, "/console/cases"), &|b| {
            shown(b, case, "listed", "absent")
        }),
        "console case page" => {
            let page = console(
                console_get(server, &session, &format!("/console/cases/{case}")),
                &|_| "200".to_owned(),
            );
            // The print view (A4) opens to exactly those who may open the page.
            let print = console(
                console_get(server, &session, &format!("/console/cases/{case}/print")),
                &|_| "200".to_owned(),
            );
            assert_eq!(page, print, "the print view of {case} answers as its page");
            page
        }
        // The file is bytes: a 200 counts only when it verifies as this case's export.
        "console evidence" => {
            match console_get(server, &session, &format!("/console/cases/{case}/evidence")) {
                (200, _, file) => match gridsync_core::evidence::export::verify(&file) {
                    Ok(v) if v.case == *case => "200".to_owned(),
                    other => format!("a file that does not verify: {other:?}"),
                },
                answer => console(answer, &|_| "200".to_owned()),
            }
        }
        "console photo" => console(
            console_get(server, &session, &format!("/console/blobs/{sha}")),
            &|_| "200".to_owned(),
        ),
        "console export" => {
            let csv = console(console_get(server, &session, "/console/export.csv"), &|b| {
                if b.contains(case.as_str()) {
                    "included"
                } else {
                    "absent"
                }
                .to_owned()
            });
            // The XLSX runs the same query (`exported`); its cells are zipped, so only its
            // answer is compared here.
            let xlsx = console(
                console_get(server, &session, "/console/export.xlsx"),
                &|_| "included".to_owned(),
            );
            assert_eq!(
                xlsx == "included",
                csv == "included" || csv == "absent",
                "XLSX {xlsx}, CSV {csv}"
            );
            csv
        }
        // 督办: a step that moves no status, so the cells do not depend on their order.
        "console action" => written(console_post(
            server,
            &session,
            &format!("/console/cases/{case}/action"),
            "kind=supervised&note=matrix",
        )),
        "console settle" => written(console_post(
            server,
            &session,
            &format!("/console/cases/{case}/settle"),
            &format!("field=title&value={}", urlencode(&format!("{actor} 设定"))),
        )),
        "console supervision" => console(
            console_get(server, &session, "/console/supervision"),
            &|b| shown(b, case, "listed", "absent"),
        ),
        // The dashboard's own scope over the day this place's case was reported.
        "console dashboard" => {
            let day = server
                .state
                .store
                .rules_now()
                .rules
                .calendar()
                .local_date(FIRST_DAY + (col as i64 + 2) * DAY);
            let path = format!("/console/dashboard?from={day}&to={day}");
            console(
                console_get(server, &session, &path),
                &|b| match received(b) {
                    1 => "counted".to_owned(),
                    0 => "absent".to_owned(),
                    n => format!("received {n}"),
                },
            )
        }
        // 登记 of a walk-in at the village of the place, accepted at the township: the place's
        // own figures keep their one case.
        "console register" => {
            let village = place.rsplit_once('/').map_or(place, |(v, _)| v);
            let form = [
                ("source", "walk_in"),
                ("requester_name", "赵大妈"),
                ("requester_phone", "13812345678"),
                ("area", village),
                ("kind", "request"),
                ("category", "street_light"),
                ("title", "矩阵登记"),
                ("triage", "township"),
            ]
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .join("&");
            let (status, location, body) =
                console_post(server, &session, "/console/register", &form);
            let body = String::from_utf8_lossy(&body);
            match (status, location.as_str()) {
                (303, "/console/login") => "login".to_owned(),
                (200, _) if body.contains("id=\"receipt-no\"") => "registered".to_owned(),
                (422, _) => body
                    .split("data-code=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("422")
                    .to_owned(),
                (s, _) => s.to_string(),
            }
        }
        // 考核 of villages over the cases' month: the place's village in the ranking (its print
        // view and XLSX answer as the page does), and the cases behind its figure.
        "console assessment" => {
            let village = village_of(place);
            let query = format!("kind=village&month={MONTH}");
            let listed = |b: &str| {
                match b.contains(&format!("data-unit=\"{village}\"")) {
                    true => "listed",
                    false => "absent",
                }
                .to_owned()
            };
            let ranking = console(
                console_get(server, &session, &format!("/console/assessment?{query}")),
                &listed,
            );
            let print = console(
                console_get(
                    server,
                    &session,
                    &format!("/console/assessment/print?{query}"),
                ),
                &listed,
            );
            assert_eq!(ranking, print, "the print view answers as the ranking");
            let xlsx = console(
                console_get(
                    server,
                    &session,
                    &format!("/console/assessment.xlsx?{query}"),
                ),
                &|_| "200".to_owned(),
            );
            assert_eq!(
                xlsx == "200",
                ranking == "listed" || ranking == "absent",
                "XLSX {xlsx}, ranking {ranking}"
            );
            ranking
        }
        "console assessment cases" => {
            let path = format!(
                "/console/assessment/cases?kind=village&unit={}&figure=received&month={MONTH}",
                urlencode(village_of(place))
            );
            console(console_get(server, &session, &path), &|b| {
                shown(b, case, "listed", "absent")
            })
        }
        // 基层评议 of the department for the month: township centres only (the place does not
        // matter: a township scores for itself); the page answers as the form does.
        "console ratings" => {
            let form = format!("month={MONTH}&department=urban_management&score=4&comment=matrix");
            let (status, location, _) =
                console_post(server, &session, "/console/assessment/ratings", &form);
            let rated = match (status, location.as_str()) {
                (303, "/console/login") => "login".to_owned(),
                (303, "/console/assessment/ratings?saved=1") => "saved".to_owned(),
                (303, l) => format!("303 to {l}"),
                (s, _) => s.to_string(),
            };
            let page = console(
                console_get(server, &session, "/console/assessment/ratings"),
                &|b| match b.contains("data-department=\"urban_management\"") {
                    true => "saved".to_owned(),
                    false => "200 without the score".to_owned(),
                },
            );
            assert_eq!(page, rated, "the ratings page answers as its form");
            rated
        }
        // 问责: the county's alone; a decision on a record that does not exist is `404` for it
        // and `403` for everyone else, before anything is looked up.
        "console accountability" => {
            let listed = console(
                console_get(server, &session, "/console/accountability"),
                &|_| "200".to_owned(),
            );
            let (status, location, _) = console_post(
                server,
                &session,
                "/console/accountability/no-such-record/decide",
                "decision=talk&note=matrix",
            );
            let decided = match (status, location.as_str()) {
                (303, "/console/login") => "login".to_owned(),
                (s, _) => s.to_string(),
            };
            let want = match listed.as_str() {
                "200" => "404",
                other => other,
            };
            assert_eq!(decided, want, "{actor}: deciding answers as the list");
            listed
        }
        "device list" => console(console_get(server, &session, "/console/devices"), &|b| {
            shown(b, &w.place_devices[col], "listed", "absent")
        }),
        "device revoke" => {
            let device = &w.place_devices[col];
            let (status, location, _) = console_post(
                server,
                &session,
                &format!("/console/devices/{device}/revoke"),
                "",
            );
            match (status, location.as_str()) {
                (303, "/console/login") => "login".to_owned(),
                (303, "/console/devices") => {
                    let ctx = server
                        .store(server.state.store.device_context(device))
                        .unwrap()
                        .unwrap();
                    assert!(ctx.revoked, "{device} is revoked");
                    "revoked".to_owned()
                }
                (303, l) => format!("303 to {l}"),
                (s, _) => s.to_string(),
            }
        }
        other => panic!("unknown resource {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The read audit (ADR 0028).

/// The read routes that show a case's personal data, and the route names their entries carry.
fn audited_routes(resource: &str) -> &'static [&'static str] {
    match resource {
        "case read" => &[reads::API_CASE],
        // The page and its print view.
        "console case page" => &[reads::CONSOLE_CASE, reads::CONSOLE_PRINT],
        // The verifiable export: the case's whole history.
        "console evidence" => &[reads::CONSOLE_EVIDENCE],
        // A sync pulls whatever is new in scope, a push's response too.
        "case pull via sync" | "case write via sync" => &[reads::SYNC],
        _ => &[],
    }
}

/// The read audit's last entry number now.
fn audit_head(server: &Server) -> u64 {
    let page = server
        .store(
            server
                .state
                .store
                .read_audit_page(&ReadAuditFilter::default(), 1, 0),
        )
        .unwrap();
    page.rows.first().map_or(0, |r| r.seq)
}

/// The read audit's entries after number `after`, oldest first.
fn audit_since(server: &Server, after: u64) -> Vec<ReadRow> {
    let mut rows = server
        .store(
            server
                .state
                .store
                .read_audit_page(&ReadAuditFilter::default(), 10_000, 0),
        )
        .unwrap()
        .rows;
    rows.retain(|r| r.seq > after);
    rows.reverse();
    rows
}

/// Whether `actor`'s account reads the personal data of the case in column `col` in clear (the
/// case holds some: a requester).
fn reads_in_clear(w: &World, actor: &str, col: usize) -> bool {
    let Some(who) = w.people.get(actor).and_then(|p| p.replica.identity()) else {
        return false;
    };
    let doc = w
        .server
        .store(w.server.state.store.case_doc(&w.cases[col]))
        .unwrap()
        .unwrap();
    let case = doc.read().unwrap();
    let workflow = doc.workflow().unwrap();
    let departments = workflow.departments();
    assert!(
        case.holds_personal_data(),
        "the matrix's cases hold a requester"
    );
    case.read_is_audited(who, &departments)
}

/// A permitted read of personal data in clear adds exactly one entry per route naming the
/// account, the case and the route; a refused read, and a read that shows it masked, none. A
/// sync pulls every case in scope, each recorded: its entries all name the account and the
/// sync, and this column's case once exactly when it was pulled in clear.
fn audited_as_expected(
    w: &World,
    actor: &str,
    resource: &str,
    col: usize,
    got: &str,
    before: u64,
) -> Result<(), String> {
    let added = audit_since(&w.server, before);
    let routes = audited_routes(resource);
    if routes.is_empty() {
        return match added.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "a route that shows no personal data added {added:?}"
            )),
        };
    }
    let user = actor.replace(' ', "_");
    let case = &w.cases[col];
    let permitted = matches!(got, "200" | "pulled");
    let in_clear = permitted && reads_in_clear(w, actor, col);
    if routes == [reads::SYNC] {
        if let Some(e) = added
            .iter()
            .find(|e| e.user != user || e.route != reads::SYNC)
        {
            return Err(format!("an entry of someone or something else: {e:?}"));
        }
        if resource == "case write via sync" {
            // What a push's response pulls is not this cell's question.
            return Ok(());
        }
        let of_case = added.iter().filter(|e| &e.case == case).count();
        return match of_case == usize::from(in_clear) {
            true => Ok(()),
            false => Err(format!(
                "{of_case} entries for the case, in clear: {in_clear}"
            )),
        };
    }
    let got: Vec<(&str, &str, &str)> = added
        .iter()
        .map(|e| (e.user.as_str(), e.case.as_str(), e.route.as_str()))
        .collect();
    let want: Vec<(&str, &str, &str)> = match in_clear {
        true => routes
            .iter()
            .map(|r| (user.as_str(), case.as_str(), *r))
            .collect(),
        false => Vec::new(),
    };
    match got == want {
        true => Ok(()),
        false => Err(format!("entries {got:?}, expected {want:?}")),
    }
}

/// `/console/audit` and its CSV answer county admins only (`Role::reads_audit`): `403` for every
/// other account, the sign-in page without a valid session. The admin's page lists the reads the
/// cells made, and the CSV holds them.
fn read_audit_is_for_county_admins_only(w: &World) {
    let server = &w.server;
    for actor in ACTORS {
        let session = w.sessions.get(actor).cloned().unwrap_or_default();
        for path in ["/console/audit", "/console/audit.csv"] {
            let (status, location, body) = console_get(server, &session, path);
            let got = match (status, location.as_str()) {
                (303, "/console/login") => "login".to_owned(),
                (s, _) => s.to_string(),
            };
            let want = match actor {
                "county_admin" => "200",
                "revoked device" | "no token" => "login",
                _ => "403",
            };
            assert_eq!(got, want, "{actor} asks {path}");
            let body = String::from_utf8_lossy(&body);
            if got == "200" && path.ends_with(".csv") {
                assert!(body.starts_with("\u{feff}\"序号\""), "{body}");
                assert!(body.contains(&w.cases[0]) && body.contains("grid_worker"));
            } else if got == "200" {
                assert!(body.contains("data-user=\"grid_worker\""), "{body}");
            } else {
                assert!(!body.contains("data-user="), "{actor} sees no entry");
            }
        }
    }
    // A mediator reads an incident's people masked: nothing recorded.
    let rows = server
        .store(server.state.store.read_audit_page(
            &ReadAuditFilter {
                user: Some("mediator".into()),
                ..Default::default()
            },
            10,
            0,
        ))
        .unwrap();
    assert_eq!(rows.total, 0, "{:?}", rows.rows);
    let report = server
        .store(server.state.store.verify_read_audit())
        .unwrap();
    assert_eq!(report.fault, None);
    assert!(report.entries > 0);
}

/// The village of a place (a grid's path).
fn village_of(place: &str) -> &str {
    place.rsplit_once('/').map_or(place, |(v, _)| v)
}

/// The dashboard's "received" figure.
fn received(page: &str) -> u64 {
    let after = page
        .split("id=\"fig-received\"")
        .nth(1)
        .and_then(|rest| rest.split("class=\"value\">").nth(1))
        .expect("the dashboard shows the received figure");
    after.split('<').next().unwrap().trim().parse().unwrap()
}

/// Outside the matrix's columns: the county admin's devices page and revocation stop at the
/// county's edge, and an unknown device answers as an out-of-county one does.
fn beyond_the_county(w: &World) {
    let server = &w.server;
    server.add_user("outsider", Role::GridWorker, "130323/101/201/01");
    phone(
        server,
        "outsider",
        Role::GridWorker,
        "130323/101/201/01",
        "phone-outsider",
    );
    let admin = &w.sessions["county_admin"];
    let (status, _, page) = console_get(server, admin, "/console/devices");
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("data-id=\"phone-place-0\""));
    assert!(!page.contains("phone-outsider"), "another county's device");
    for device in ["phone-outsider", "no-such-device"] {
        let path = format!("/console/devices/{device}/revoke");
        assert_eq!(console_post(server, admin, &path, "").0, 404, "{device}");
    }
    let ctx = server
        .store(server.state.store.device_context("phone-outsider"))
        .unwrap()
        .unwrap();
    assert!(!ctx.revoked);
}

/// Pulls from cursor 0 as `who`'s device, asking for the case as a repair (`want`) too: is
/// any of it sent?
/// Pulls without and with the case's key, counted: both kinds must occur.
static KEYED_PULLS: [std::sync::atomic::AtomicUsize; 2] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

/// Whether `case` was pulled, and whether its key came with it (sealed to the phone).
fn pull(server: &Server, who: Option<&Phone>, case: &str) -> (String, bool) {
    let (token, device) = who
        .map(|p| (p.token.as_str(), p.device.as_str()))
        .unwrap_or(("", "nobody"));
    let mut cursor = 0;
    let mut want = vec![DocHeads {
        doc: case.into(),
        heads: vec![],
    }];
    let mut pulled = false;
    let mut keyed = false;
    for _ in 0..100 {
        let req = SyncRequest {
            generation: None,
            recover: Vec::new(),
            device: device.into(),
            request_id: "matrix-pull".into(),
            cursor,
            page_bytes: 0,
            push: vec![],
            want: std::mem::take(&mut want),
            rules: None,
            notices_after: None,
            notices_read: vec![],
            erased_after: None,
            keys: Vec::new(),
            certificate_until: None,
        };
        let (status, body) = post_sync(server, token, &encode_request(&req).unwrap());
        if status != 200 {
            return (status.to_string(), false);
        }
        let resp = decode_response(&body).unwrap();
        pulled |= resp
            .pull
            .iter()
            .any(|d| d.doc == case && !d.changes.is_empty());
        keyed |= resp.case_keys.iter().any(|k| k.doc == case);
        if !resp.more {
            return (if pulled { "pulled" } else { "absent" }.to_owned(), keyed);
        }
        cursor = resp.cursor;
    }
    panic!("the pull did not end")
}

/// Edits the case's title as `actor` from the server's copy (as if the phone had it) and pushes.
fn write(
    server: &Server,
    people: &BTreeMap<&str, Phone>,
    actor: &str,
    token: &str,
    case: &str,
) -> String {
    let mut doc: CaseDoc = server
        .store(server.state.store.case_doc(case))
        .unwrap()
        .unwrap();
    let (who, replica): (Identity, &Replica) = match people.get(actor) {
        Some(p) => (p.replica.identity().unwrap().clone(), &p.replica),
        None => {
            // No token at all: any well-formed request must be refused before it is read.
            let req = SyncRequest {
                generation: None,
                recover: Vec::new(),
                device: "nobody".into(),
                request_id: "r".into(),
                cursor: 0,
                page_bytes: 0,
                push: vec![],
                want: vec![],
                rules: None,
                notices_after: None,
                notices_read: vec![],
                erased_after: None,
                keys: Vec::new(),
                certificate_until: None,
            };
            let (status, _) = post_sync(server, token, &encode_request(&req).unwrap());
            return status.to_string();
        }
    };
    let mut fork = doc.fork();
    fork.set_actor(replica.actor_id().clone());
    let title = format!(
        "{actor} 修改 {}",
        fork.heads().len() + fork.changes_since(&[]).len()
    );
    let hash = fork
        .edit(&who, T0 + 10, |e| e.set_title(&title))
        .unwrap()
        .expect("a real edit");
    let change = fork.change(&hash).unwrap();
    let req = SyncRequest {
        generation: None,
        recover: Vec::new(),
        device: who.device.clone(),
        request_id: "matrix".into(),
        cursor: 0,
        page_bytes: 1,
        push: vec![DocChanges {
            doc: case.into(),
            changes: vec![ByteBuf::from(change.raw_bytes().to_vec())],
            sigs: replica.signatures(&[ByteBuf::from(change.raw_bytes().to_vec())]),
            by: Vec::new(),
        }],
        want: vec![],
        rules: None,
        notices_after: None,
        notices_read: vec![],
        erased_after: None,
        keys: Vec::new(),
        certificate_until: None,
    };
    let (status, body) = post_sync(server, token, &encode_request(&req).unwrap());
    if status != 200 {
        return status.to_string();
    }
    let resp = decode_response(&body).unwrap();
    match (resp.accepted.is_empty(), resp.rejected.first()) {
        (false, None) => "accepted".into(),
        (true, Some(r)) => r.code.as_str().into(),
        other => panic!("unexpected outcome {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Route coverage.
//
// Where the route list comes from: axum's `Router` cannot list its routes, and building the
// routers from a shared table would mean rewriting `http::app`, which other work edits. So the
// test reads the routes where they are written, the `.route("…", …)` calls in `server/src`
// (each method of a `get(..).post(..)` chain), refuses any other way of adding routes it cannot
// read (`nest`, `route_service`, `fallback`), and asks the running server that each route it
// found is one the router really answers. A new `.route(` without a line in the route table of
// docs/SECURITY.md fails the test.

/// HTTP methods as `MethodRouter` names them.
const METHODS: [&str; 9] = [
    "get", "post", "put", "head", "delete", "patch", "options", "trace", "connect",
];

/// (METHOD, path) of every route registered in the server's source.
fn registered_routes() -> BTreeSet<(String, String)> {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../server/src"));
    let mut files = vec![root.to_path_buf()];
    let mut out = BTreeSet::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                files.push(entry.unwrap().path());
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let src = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = scan_routes(&src, &mut out) {
                panic!("{}: {e}", path.display());
            }
        }
    }
    out
}

/// Adds the routes `src` registers to `out`; an error for anything the scan cannot read.
fn scan_routes(src: &str, out: &mut BTreeSet<(String, String)>) -> Result<(), String> {
    // Comments mention routes in prose; only code counts.
    let code: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for unread in [
        ".nest(",
        ".nest_service(",
        ".route_service(",
        ".fallback(",
        ".fallback_service(",
    ] {
        if code.contains(unread) {
            return Err(format!(
                "`{unread}` adds routes this scan does not read; teach it"
            ));
        }
    }
    let mut rest = code.as_str();
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let args = balanced(rest).ok_or("unbalanced `.route(` arguments")?;
        let (path, after) = args
            .trim_start()
            .strip_prefix('"')
            .and_then(|a| a.split_once('"'))
            .ok_or_else(|| format!("a route's path is not a string literal: {args}"))?;
        let handler = after
            .trim_start()
            .strip_prefix(',')
            .ok_or_else(|| format!("route {path} has no handler"))?;
        let mut found = false;
        for m in top_level_calls(handler) {
            if METHODS.contains(&m.as_str()) {
                out.insert((m.to_uppercase(), path.to_owned()));
                found = true;
            } else if m != "layer" && m != "route_layer" {
                return Err(format!(
                    "route {path}: `{m}(` is not understood; teach the scan"
                ));
            }
        }
        if !found {
            return Err(format!("route {path} has no method"));
        }
    }
    Ok(())
}

/// The characters of Rust source outside string literals, with their byte offsets; the quotes
/// themselves are kept, what stands between them is not.
fn outside_strings(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let (mut in_str, mut escaped) = (false, false);
    s.char_indices().filter(move |&(_, c)| {
        if !in_str {
            in_str = c == '"';
            return true;
        }
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => {
                in_str = false;
                return true;
            }
            _ => {}
        }
        false
    })
}

/// The text up to the `)` closing an argument list that starts at `s`.
fn balanced(s: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (i, c) in outside_strings(s) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => return Some(&s[..i]),
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The names called at the top level of an expression: `axum::routing::put(a).head(b)` →
/// `put`, `head`.
fn top_level_calls(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut name = String::new();
    for (_, c) in outside_strings(expr) {
        match c {
            '(' => {
                if depth == 0 && !name.is_empty() {
                    out.push(name.rsplit("::").next().unwrap_or_default().to_owned());
                }
                depth += 1;
            }
            '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && (c.is_alphanumeric() || c == '_' || c == ':') {
            name.push(c);
        } else {
            name.clear();
        }
    }
    out
}

/// The route table of docs/SECURITY.md: (METHOD, path) → what covers it.
fn route_table() -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for cells in table("routes") {
        assert_eq!(cells.len(), 3, "route row {cells:?}");
        let key = (cells[0].clone(), cells[1].clone());
        assert!(
            out.insert(key, cells[2].clone()).is_none(),
            "{} {} twice in the route table",
            cells[0],
            cells[1]
        );
    }
    out
}

/// Whether the router has the route (a handler answered), asked without any credentials: axum
/// answers an unknown path `404` and an unknown method `405`, both with an empty body.
fn routed(server: &Server, method: &str, path: &str) -> bool {
    let concrete: String = path
        .split('/')
        .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
        .collect::<Vec<_>>()
        .join("/");
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{concrete}", server.url))
        .body(())
        .unwrap();
    let (status, _, body) = answer(browser().run(req));
    status != 405 && !(status == 404 && body.is_empty())
}

#[test]
fn every_route_the_server_registers_has_a_row_in_the_access_matrix() {
    let registered = registered_routes();
    assert!(
        registered.len() >= 34,
        "the scan finds the routes: {registered:?}"
    );
    let table = route_table();
    let named: BTreeSet<(String, String)> = table.keys().cloned().collect();
    let missing: Vec<_> = registered.difference(&named).collect();
    assert!(
        missing.is_empty(),
        "routes without a line in the route table of docs/SECURITY.md (and rows in the access \
         matrix): {missing:?}"
    );
    let stale: Vec<_> = named.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "the route table names routes that no longer exist: {stale:?}"
    );

    let rows: BTreeSet<String> = matrix().into_keys().map(|(_, r)| r).collect();
    let mut covered = BTreeSet::new();
    for ((method, path), by) in &table {
        let reason = ["public:", "not jurisdictional:"]
            .iter()
            .find_map(|p| by.strip_prefix(p));
        if let Some(reason) = reason {
            assert!(!reason.trim().is_empty(), "{method} {path}: say why");
            continue;
        }
        for resource in by.split(',').map(str::trim) {
            assert!(
                rows.contains(resource),
                "{method} {path} is covered by {resource:?}, which has no rows in the matrix"
            );
            covered.insert(resource);
        }
    }
    let idle: Vec<_> = rows
        .iter()
        .filter(|r| !covered.contains(r.as_str()))
        .collect();
    assert!(
        idle.is_empty(),
        "matrix resources that cover no route: {idle:?}"
    );

    // The scan found real routes, and the probe can tell one from a path the router lacks.
    let server = Server::start();
    for (method, path) in &registered {
        assert!(
            routed(&server, method, path),
            "{method} {path} is not routed"
        );
    }
    assert!(!routed(&server, "GET", "/console/no-such-page"));
    assert!(!routed(&server, "DELETE", "/v1/cases"));
}

#[test]
fn the_access_matrix_route_scan_reads_chains_closures_and_skips_comments() {
    let src = r#"
        Router::new()
            .route("/a", get(|| async { Redirect::to("/not-a-route") }))
            // .route("/commented", get(gone))
            .route("/b", get(page).post(submit))
            .route(
                "/c/{sha256}",
                axum::routing::put(put_blob)
                    .head(head_blob)
                    .get(get_blob)
                    .layer(DefaultBodyLimit::max(LIMIT)),
            )
            .route_layer(something())
    "#;
    let mut found = BTreeSet::new();
    scan_routes(src, &mut found).unwrap();
    let want: BTreeSet<(String, String)> = [
        ("GET", "/a"),
        ("GET", "/b"),
        ("POST", "/b"),
        ("PUT", "/c/{sha256}"),
        ("HEAD", "/c/{sha256}"),
        ("GET", "/c/{sha256}"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(found, want);
    for unread in [
        ".nest(\"/x\", other())",
        ".route(\"/y\", any(h))",
        ".route(PATH, get(h))",
    ] {
        assert!(
            scan_routes(unread, &mut BTreeSet::new()).is_err(),
            "{unread} is refused, not skipped"
        );
    }
}
