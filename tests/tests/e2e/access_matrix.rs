//! Walks every cell of the role × resource × scope matrix in `docs/SECURITY.md` against the
//! real server. The table is the specification: a cell changed there changes what is tested.

use std::collections::BTreeMap;

use gridsync_core::case::CaseDoc;
use gridsync_core::protocol::{DocChanges, SyncRequest, decode_response, encode_request};
use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_core::{Identity, Replica, Role};
use serde_bytes::ByteBuf;

use crate::server::{Phone, Server, get_json, phone, post_sync, report};

const COLUMNS: [&str; 4] = ["own", "same village", "other village", "other township"];

/// (actor, resource) → expected outcome per column, parsed from docs/SECURITY.md.
fn matrix() -> BTreeMap<(String, String), Vec<String>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SECURITY.md"))
        .unwrap();
    let table = doc
        .split("<!-- matrix:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- matrix:end -->").next())
        .expect("docs/SECURITY.md holds the access matrix between its markers");
    let mut out = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with('|')).skip(2) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace('`', ""))
            .collect();
        assert_eq!(cells.len(), 2 + COLUMNS.len(), "row {line}");
        out.insert((cells[0].clone(), cells[1].clone()), cells[2..].to_vec());
    }
    out
}

#[test]
fn every_cell_of_the_access_matrix_holds() {
    let matrix = matrix();
    let actors = [
        "grid_worker",
        "mediator",
        "township_staff",
        "county_admin",
        "department_handler",
        "revoked device",
        "no token",
    ];
    let resources = [
        "case read",
        "case list",
        "case write via sync",
        "stats",
        "patrol coverage",
    ];
    for a in actors {
        for r in resources {
            assert!(
                matrix.contains_key(&(a.to_owned(), r.to_owned())),
                "the matrix has no row for {a} × {r}"
            );
        }
    }

    let server = Server::start();
    // The places, as seen from a grid worker of grid 130322/101/201/01.
    let places = [
        "130322/101/201/01",
        "130322/101/201/02",
        "130322/101/202/01",
        "130322/102/201/01",
    ];
    server.add_user("admin", Role::CountyAdmin, "130322");
    let mut desk = phone(&server, "admin", Role::CountyAdmin, "130322", "pc-admin");
    let cases: Vec<String> = places
        .iter()
        .map(|p| desk.replica.capture(&report("测试案件", p), 1).unwrap())
        .collect();
    // The first case is assigned to the department: "own" for its handler.
    desk.replica
        .append_event(&cases[0], EventDraft::new(EventType::Accepted), 2)
        .unwrap();
    desk.replica
        .append_event(&cases[0], EventDraft::assign_to("urban_management"), 3)
        .unwrap();
    desk.sync(&server);

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
    assert!(
        server
            .store(server.state.store.revoke_device("dev-revoked_device"))
            .unwrap()
    );

    let mut checked = 0;
    for ((actor, resource), expected) in &matrix {
        for (col, want) in expected.iter().enumerate() {
            let case = &cases[col];
            let token = people
                .get(actor.as_str())
                .map(|p| p.token.clone())
                .unwrap_or_default();
            let got = match resource.as_str() {
                "case read" => {
                    let (status, _) = get_json(&server, &token, &format!("/v1/cases/{case}"));
                    status.to_string()
                }
                "case list" => {
                    let (status, page) = get_json(&server, &token, "/v1/cases?per_page=200");
                    if status != 200 {
                        status.to_string()
                    } else {
                        let listed = page["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|c| c["id"] == case.as_str());
                        if listed { "listed" } else { "absent" }.to_owned()
                    }
                }
                "case write via sync" => write(&server, &people, actor, &token, case),
                // The statistics of the case's own place: counted when it is in the figures.
                "stats" => {
                    let (status, stats) = get_json(
                        &server,
                        &token,
                        &format!("/v1/stats?from=0&scope={}", places[col]),
                    );
                    match (status, stats["received"].as_u64()) {
                        (200, Some(1)) => "counted".to_owned(),
                        (200, n) => format!("200 with received {n:?}"),
                        (s, _) => s.to_string(),
                    }
                }
                "patrol coverage" => {
                    let url = format!("/v1/patrols/coverage?scope={}", places[col]);
                    get_json(&server, &token, &url).0.to_string()
                }
                other => panic!("unknown resource {other}"),
            };
            assert_eq!(&got, want, "{actor} × {resource} × {}", COLUMNS[col]);
            checked += 1;
        }
    }
    assert_eq!(checked, actors.len() * resources.len() * COLUMNS.len());
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
                device: "nobody".into(),
                request_id: "r".into(),
                cursor: 0,
                page_bytes: 0,
                push: vec![],
                want: vec![],
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
        .edit(&who, 10, |e| e.set_title(&title))
        .unwrap()
        .expect("a real edit");
    let change = fork.change(&hash).unwrap();
    let req = SyncRequest {
        device: who.device.clone(),
        request_id: "matrix".into(),
        cursor: 0,
        page_bytes: 1,
        push: vec![DocChanges {
            doc: case.into(),
            changes: vec![ByteBuf::from(change.raw_bytes().to_vec())],
        }],
        want: vec![],
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
