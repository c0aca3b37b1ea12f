//! The real server (in process, on 127.0.0.1:0, SQLite) with phone replicas syncing over HTTP;
//! the server and the phones come from the test kit.

use gridsync_core::case::{Location, NewCase};
use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::replica::{CaseFilter, SyncState};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, Identity, Replica, Role};
use gridsync_server::auth::{self, Claims};

pub(crate) use gridsync_testkit::server::{
    KEY, PASSWORD, Phone, Server, agent, error_code, login, path, phone, post_sync,
};

/// `/metrics` as Prometheus text.
pub(crate) fn metrics_text(server: &Server) -> String {
    agent()
        .get(format!("{}/metrics", server.url))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// A phone's clock in the tests: 2026-09-21, in ms (document times must be plausible ms).
pub(crate) const T0: i64 = 1_790_000_000_000;

pub(crate) fn report(title: &str, grid: &str) -> NewCase {
    NewCase {
        kind: CaseKind::Incident,
        jurisdiction: path(grid),
        category: "safety_hazard".into(),
        title: title.into(),
        description: "危房墙体开裂".into(),
        location: Location {
            address: "东街村".into(),
            ..Default::default()
        },
        people: vec![],
    }
}

#[test]
fn three_phones_capture_offline_and_converge_through_the_server() {
    let server = Server::start();
    let mut wang = server.enrol("wang", Role::GridWorker, "130322/101/201/01");
    let mut liu = server.enrol("liu", Role::GridWorker, "130322/101/201/01");
    let mut zhao = server.enrol("zhao", Role::Mediator, "130322/101/201");
    let mut sun = server.enrol("sun", Role::GridWorker, "130322/101/202/01");

    // A shared case first, then everyone offline.
    let shared = wang
        .replica
        .capture(&report("东街危房", "130322/101/201/01"), T0 + 1)
        .unwrap();
    wang.sync(&server);
    liu.sync(&server);
    zhao.sync(&server);
    for (i, p) in [&mut wang, &mut liu, &mut zhao].into_iter().enumerate() {
        p.replica
            .capture(
                &report(&format!("离线上报 {i}"), "130322/101/201/01"),
                T0 + 10,
            )
            .unwrap();
    }
    wang.replica
        .edit(&shared, T0 + 20, |e| e.set_title("东街三号危房"))
        .unwrap();
    liu.replica
        .edit(&shared, T0 + 21, |e| e.set_title("东街危房（已设警示）"))
        .unwrap();
    zhao.replica
        .edit(&shared, T0 + 22, |e| {
            e.set_description("危房墙体开裂，已通知户主")
        })
        .unwrap();

    // Reconnect in an order unlike the capture order, then once more each.
    for _ in 0..2 {
        for p in [&mut zhao, &mut liu, &mut wang] {
            p.sync(&server);
        }
    }
    sun.sync(&server);

    let ids = wang.replica.case_ids().unwrap();
    assert_eq!(ids.len(), 4);
    for id in &ids {
        let on_server = server
            .store(server.state.store.case_doc(id))
            .unwrap()
            .unwrap();
        for p in [&wang, &liu, &zhao] {
            let mine = p.replica.case(id).unwrap();
            assert_eq!(
                mine.read().unwrap(),
                on_server.read().unwrap(),
                "{} holds the server's case",
                p.device
            );
            assert_eq!(mine.conflicts(), on_server.conflicts());
        }
    }
    let conflicts = server
        .store(server.state.store.case_doc(&shared))
        .unwrap()
        .unwrap()
        .conflicts();
    assert_eq!(conflicts.len(), 1, "the two titles conflict, visibly");
    assert_eq!(conflicts[0].field, "title");
    assert_eq!(
        zhao.replica
            .case(&shared)
            .unwrap()
            .read()
            .unwrap()
            .description,
        "危房墙体开裂，已通知户主"
    );
    assert!(
        sun.replica.case_ids().unwrap().is_empty(),
        "village B sees nothing of village A"
    );
}

#[test]
fn writes_outside_scope_and_forged_actors_are_quarantined_and_retries_change_nothing() {
    let server = Server::start();
    let mut wang = server.enrol("wang", Role::GridWorker, "130322/101/201/01");
    // sun's phone claims grid 201/01 locally; the server knows better.
    let mut sun = server.enrol("sun", Role::GridWorker, "130322/101/202/01");
    sun.replica
        .sign_in(
            Identity::new(
                "sun",
                Role::GridWorker,
                path("130322/101/201/01"),
                None,
                "phone-sun",
            )
            .unwrap(),
        )
        .unwrap();
    let foreign = sun
        .replica
        .capture(&report("越界上报", "130322/101/201/01"), T0 + 1)
        .unwrap();
    let resp = sun.sync_once(&server);
    assert_eq!(resp.rejected.len(), 1);
    assert_eq!(resp.rejected[0].code.as_str(), "out_of_scope");
    assert_eq!(
        sun.replica.list(&CaseFilter::default()).unwrap()[0].sync_state,
        Some(SyncState::Rejected)
    );
    assert!(
        server
            .store(server.state.store.case_doc(&foreign))
            .unwrap()
            .is_none()
    );

    // sun replays wang's change under its own token: forged actor.
    wang.replica
        .capture(&report("东街危房", "130322/101/201/01"), T0 + 2)
        .unwrap();
    let mut req = wang.replica.next_sync_request().unwrap();
    req.device = "phone-sun".into();
    let (status, body) = post_sync(&server, &sun.token, &encode_request(&req).unwrap());
    assert_eq!(status, 200);
    let resp = decode_response(&body).unwrap();
    assert_eq!(resp.rejected[0].code.as_str(), "forged_actor");
    let quarantine = server.store(server.state.store.quarantine()).unwrap();
    assert_eq!(
        quarantine.iter().map(|q| q.2.as_str()).collect::<Vec<_>>(),
        ["out_of_scope", "forged_actor"]
    );

    // A request whose response is lost, sent again: nothing changes the second time.
    let bytes = encode_request(&wang.replica.next_sync_request().unwrap()).unwrap();
    let (first, _) = post_sync(&server, &wang.token, &bytes);
    let count = server.store(server.state.store.change_count()).unwrap();
    let (second, body) = post_sync(&server, &wang.token, &bytes);
    assert_eq!((first, second), (200, 200));
    assert_eq!(
        server.store(server.state.store.change_count()).unwrap(),
        count
    );
    wang.replica
        .apply_sync_response(&decode_response(&body).unwrap(), 0)
        .unwrap();
    assert_eq!(wang.replica.pending_count().unwrap(), 0);
}

#[test]
fn bad_tokens_are_refused_with_401_and_a_code() {
    let server = Server::start();
    let wang = server.enrol("wang", Role::GridWorker, "130322/101/201/01");
    let body = encode_request(&wang.replica.next_sync_request().unwrap()).unwrap();
    let now = gridsync_server::now_ms() / 1000;
    let claims = Claims {
        sub: "wang".into(),
        dev: "phone-wang".into(),
        role: "grid_worker".into(),
        scope: "130322/101/201/01".into(),
        dept: None,
        iss: auth::ISSUER.into(),
        aud: auth::AUDIENCE.into(),
        iat: now - 3600,
        exp: now - 1800,
    };
    let keys = &server.state.keys;
    let expired = keys.sign_claims(&claims).unwrap();
    let wrong_audience = keys
        .sign_claims(&Claims {
            aud: "console".into(),
            exp: now + 600,
            ..claims.clone()
        })
        .unwrap();
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &Claims {
            exp: now + 600,
            ..claims.clone()
        },
        &jsonwebtoken::EncodingKey::from_secret(b"guessed"),
    )
    .unwrap();
    let unsigned = {
        let good = keys
            .sign_claims(&Claims {
                exp: now + 600,
                ..claims.clone()
            })
            .unwrap();
        let payload = good.split('.').nth(1).unwrap().to_owned();
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
    };
    for (token, code) in [
        (expired.as_str(), "token_expired"),
        (wrong_audience.as_str(), "invalid_token"),
        (hs256.as_str(), "invalid_token"),
        (unsigned.as_str(), "invalid_token"),
        ("garbage", "invalid_token"),
    ] {
        let (status, resp) = post_sync(&server, token, &body);
        assert_eq!(
            (status, error_code(&resp).as_str()),
            (401, code),
            "token {token:.20}…"
        );
    }
    let (status, _) = post_sync(&server, &wang.token, &body);
    assert_eq!(status, 200, "the real token works");

    // A revoked phone is refused on its very next request.
    assert!(
        server
            .store(server.state.store.revoke_device("phone-wang"))
            .unwrap()
    );
    let (status, resp) = post_sync(&server, &wang.token, &body);
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "device_revoked")
    );
}

#[test]
fn refresh_tokens_rotate_and_a_replayed_one_revokes_the_family() {
    let server = Server::start();
    server.add_user("wang", Role::GridWorker, "130322/101/201/01");
    let replica = Replica::open_in_memory(&KEY).unwrap();
    let mut resp = login(&server, "wang", "phone-wang", &replica);
    let first: serde_json::Value = resp.body_mut().read_json().unwrap();
    let refresh = |token: &str| {
        let mut r = agent()
            .post(format!("{}/v1/auth/refresh", server.url))
            .send_json(serde_json::json!({ "refresh_token": token }))
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            r.body_mut().read_json::<serde_json::Value>().unwrap(),
        )
    };
    let (status, second) = refresh(first["refresh_token"].as_str().unwrap());
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    // The spent token comes back: a thief or a replay. The whole family dies.
    let (status, body) = refresh(first["refresh_token"].as_str().unwrap());
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (401, "token_reused")
    );
    let (status, body) = refresh(second["refresh_token"].as_str().unwrap());
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (401, "invalid_token")
    );
    // Wrong password and malformed bodies get codes too.
    let mut r = agent()
        .post(format!("{}/v1/auth/login", server.url))
        .send_json(
            serde_json::json!({"user": "wang", "password": "nope", "device": "d", "actor": "00"}),
        )
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.body_mut().read_json::<serde_json::Value>().unwrap()["code"],
        "invalid_credentials"
    );
    let mut r = agent()
        .post(format!("{}/v1/auth/login", server.url))
        .content_type("application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.body_mut().read_json::<serde_json::Value>().unwrap()["code"],
        "bad_request"
    );
}

#[test]
fn the_demo_seeds_a_working_county_through_the_sync_path() {
    let server = Server::start();
    let store = &server.state.store;
    let summary = server
        .store(gridsync_server::demo::seed(
            store,
            Taxonomy::builtin(),
            gridsync_server::now_ms(),
        ))
        .unwrap()
        .expect("an empty database gets the demo");
    assert!(
        summary.cases >= 200,
        "a few hundred cases: {}",
        summary.cases
    );
    assert!(summary.conflicts >= 3);
    assert!(
        server.store(store.quarantine()).unwrap().is_empty(),
        "every demo change passed admission"
    );
    for role in [
        Role::GridWorker,
        Role::Mediator,
        Role::TownshipStaff,
        Role::CountyAdmin,
        Role::DepartmentHandler,
    ] {
        assert!(
            summary.accounts.iter().any(|a| a.role == role),
            "an account for {role}"
        );
    }
    // A second start seeds nothing.
    assert!(
        server
            .store(gridsync_server::demo::seed(store, Taxonomy::builtin(), 0))
            .unwrap()
            .is_none()
    );

    // The printed password works, and a fresh phone of that grid gets its cases.
    let worker = summary
        .accounts
        .iter()
        .find(|a| a.role == Role::GridWorker)
        .unwrap();
    let mut replica = Replica::open_in_memory(&KEY).unwrap();
    let body = serde_json::json!({
        "user": worker.user, "password": worker.password, "device": "new-phone",
        "actor": replica.actor_id().to_hex_string()
    });
    let mut resp = agent()
        .post(format!("{}/v1/auth/login", server.url))
        .send_json(&body)
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token: serde_json::Value = resp.body_mut().read_json().unwrap();
    replica
        .sign_in(
            Identity::new(
                &worker.user,
                Role::GridWorker,
                path(&worker.scope),
                None,
                "new-phone",
            )
            .unwrap(),
        )
        .unwrap();
    let mut phone = Phone {
        replica,
        token: token["access_token"].as_str().unwrap().into(),
        device: "new-phone".into(),
        secret: token["device_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    phone.sync(&server);
    let listed = phone.replica.list(&CaseFilter::default()).unwrap();
    assert!(
        listed.len() >= 10,
        "the worker's grid has its cases: {}",
        listed.len()
    );
    assert!(
        listed
            .iter()
            .all(|c| c.jurisdiction.is_within(&path(&worker.scope)))
    );
}

pub(crate) fn get_json(server: &Server, token: &str, path: &str) -> (u16, serde_json::Value) {
    let mut req = agent().get(format!("{}{path}", server.url));
    if !token.is_empty() {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    let mut resp = req.call().unwrap();
    (resp.status().as_u16(), resp.body_mut().read_json().unwrap())
}

#[test]
fn reviewers_read_cases_in_their_jurisdiction_only_with_history_and_conflicts() {
    let server = Server::start();
    server.add_user("li", Role::TownshipStaff, "130322/101");
    server.add_user("he", Role::TownshipStaff, "130322/102");
    let mut wang = server.enrol("wang", Role::GridWorker, "130322/101/201/01");
    let mut zhao = server.enrol("zhao", Role::Mediator, "130322/101/201");
    let li = phone(&server, "li", Role::TownshipStaff, "130322/101", "pc-li");
    let he = phone(&server, "he", Role::TownshipStaff, "130322/102", "pc-he");

    let hazard = wang
        .replica
        .capture(&report("东街危房", "130322/101/201/01"), T0 + 1_000)
        .unwrap();
    let mut visit = report("重点人员走访记录", "130322/101/201/01");
    visit.kind = CaseKind::KeyPersonVisit;
    visit.category = "key_person_visit".into();
    let visit = wang.replica.capture(&visit, T0 + 2_000).unwrap();
    wang.sync(&server);
    zhao.sync(&server);
    wang.replica
        .edit(&hazard, T0 + 3_000, |e| e.set_title("东街三号危房"))
        .unwrap();
    zhao.replica
        .edit(&hazard, T0 + 4_000, |e| e.set_title("东街危房（已设警示）"))
        .unwrap();
    wang.sync(&server);
    zhao.sync(&server);

    let (status, page) = get_json(&server, &li.token, "/v1/cases");
    assert_eq!(status, 200);
    assert_eq!(
        page["total"], 2,
        "township staff see both cases of their township"
    );
    let (_, page) = get_json(&server, &zhao.token, "/v1/cases");
    assert_eq!(page["total"], 1, "mediators never see key-person visits");
    assert_eq!(page["items"][0]["id"], hazard.as_str());
    let (_, page) = get_json(&server, &he.token, "/v1/cases");
    assert_eq!(page["total"], 0, "another township sees nothing");
    let (_, page) = get_json(&server, &li.token, "/v1/cases?conflict=true");
    assert_eq!(page["total"], 1);
    let (_, page) = get_json(
        &server,
        &li.token,
        "/v1/cases?q=%E9%87%8D%E7%82%B9&kind=key_person_visit",
    );
    assert_eq!(page["items"][0]["id"], visit.as_str());
    let (status, body) = get_json(&server, &li.token, "/v1/cases?per_page=abc");
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "bad_request")
    );

    let (status, detail) = get_json(&server, &li.token, &format!("/v1/cases/{hazard}"));
    assert_eq!(status, 200);
    assert_eq!(detail["conflicts"][0]["field"], "title");
    assert_eq!(detail["workflow"]["status"], "reported");
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 3, "capture and two edits");
    assert_eq!(history[0]["device"], "phone-wang");
    assert_eq!(
        history[0]["device_time"],
        T0 + 1_000,
        "the phone's clock at capture"
    );
    assert!(
        history[0]["received_at"].as_i64().unwrap() > 1_000_000,
        "and the server's at receipt"
    );
    assert_eq!(history[2]["user"], "zhao");

    // Outside the caller's jurisdiction a case does not exist; so does a malformed id.
    for (token, path) in [
        (&he.token, format!("/v1/cases/{hazard}")),
        (&zhao.token, format!("/v1/cases/{visit}")),
        (&li.token, "/v1/cases/..%2F..%2Fetc".to_owned()),
    ] {
        let (status, body) = get_json(&server, token, &path);
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (404, "not_found"),
            "{path}"
        );
    }
}

#[test]
fn a_device_id_is_proven_by_its_secret_and_logout_ends_the_session_at_once() {
    let server = Server::start();
    server.add_user("wang", Role::GridWorker, "130322/101/201/01");
    server.add_user("liu", Role::GridWorker, "130322/101/201/01");
    let replica = Replica::open_in_memory(&KEY).unwrap();
    let mut first = login(&server, "wang", "phone-wang", &replica);
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.body_mut().read_json().unwrap();
    let secret = first["device_secret"]
        .as_str()
        .expect("the first sign-in hands out the device secret")
        .to_owned();

    // The ids the server writes its own events from are nobody's phone.
    for reserved in ["server", "console-li"] {
        let mut resp = login(&server, "wang", reserved, &replica);
        assert_eq!(resp.status(), 400, "{reserved}");
        assert_eq!(
            resp.body_mut().read_json::<serde_json::Value>().unwrap()["code"],
            "invalid_input"
        );
    }

    // A colleague who knows the device id (it is in every case wang wrote) cannot take it over.
    let thief = Replica::open_in_memory(&KEY).unwrap();
    let mut resp = login(&server, "liu", "phone-wang", &thief);
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.body_mut().read_json::<serde_json::Value>().unwrap()["code"],
        "device_taken"
    );
    // The same phone, shared, with its secret: fine, and no new secret is handed out.
    let body = serde_json::json!({
        "user": "liu", "password": PASSWORD, "device": "phone-wang",
        "actor": replica.actor_id().to_hex_string(), "device_secret": secret,
    });
    let mut resp = agent()
        .post(format!("{}/v1/auth/login", server.url))
        .send_json(&body)
        .unwrap();
    assert_eq!(resp.status(), 200);
    let liu: serde_json::Value = resp.body_mut().read_json().unwrap();
    assert!(liu["device_secret"].is_null());

    // Logout: the refresh token is dead and the access token stops working at once.
    let token = liu["access_token"].as_str().unwrap();
    let (status, _) = get_json(&server, token, "/v1/cases");
    assert_eq!(status, 200);
    let resp = agent()
        .post(format!("{}/v1/auth/logout", server.url))
        .send_json(serde_json::json!({ "refresh_token": liu["refresh_token"] }))
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (status, body) = get_json(&server, token, "/v1/cases");
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (401, "invalid_token")
    );
    let (status, _) = get_json(
        &server,
        first["access_token"].as_str().unwrap(),
        "/v1/cases",
    );
    assert_eq!(
        status, 200,
        "wang, still signed in on the phone, is unaffected"
    );
}

#[test]
fn metrics_count_syncs_and_refusals_and_a_retry_storm_is_rate_limited() {
    let server = Server::start();
    let mut wang = server.enrol("wang", Role::GridWorker, "130322/101/201/01");
    wang.replica
        .capture(&report("东街危房", "130322/101/201/01"), T0 + 1)
        .unwrap();
    wang.sync(&server);
    let text = metrics_text(&server);
    assert!(text.contains("gridsync_changes_accepted_total 1"), "{text}");
    assert!(text.contains("gridsync_logins_total 1"));
    assert!(!text.contains("wang"), "no personal data in metrics");

    // A phone stuck in a loop: after its burst it gets 429 with a code, and the others do not.
    let body = encode_request(&wang.replica.next_sync_request().unwrap()).unwrap();
    // The burst is 120 with 10 a second refilled: a tight loop outruns it unless each request
    // took over 100 ms.
    let mut first_refusal = None;
    for i in 0..2_000 {
        let (status, resp) = post_sync(&server, &wang.token, &body);
        if status == 429 {
            assert_eq!(error_code(&resp), "rate_limited");
            first_refusal = Some(i);
            break;
        }
        assert_eq!(status, 200);
    }
    let first_refusal = first_refusal.expect("a retry storm is limited");
    // (the sync above spent a few tokens of the burst)
    assert!(
        first_refusal >= 100,
        "the burst is allowed: refused at {first_refusal}"
    );
    let text = metrics_text(&server);
    assert!(!text.contains("gridsync_rate_limited_total 0"), "{text}");
}

#[test]
fn the_openapi_document_describes_every_route() {
    let server = Server::start();
    let doc: serde_json::Value = agent()
        .get(format!("{}/openapi.json", server.url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/sync", "post"),
        ("/v1/cases", "get"),
        ("/v1/cases/{id}", "get"),
        ("/v1/stats", "get"),
        ("/v1/patrols/coverage", "get"),
        ("/v1/blobs/{sha256}", "head"),
        ("/v1/blobs/{sha256}", "put"),
        ("/v1/blobs/{sha256}", "get"),
        ("/v1/intake", "post"),
        ("/v1/intake/{order_ref}", "get"),
        ("/v1/sms/inbound", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    assert_eq!(
        paths.len(),
        15,
        "every documented path is a route: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(
        doc["components"]["schemas"]["TokenResponse"]["properties"]["device_secret"].is_object()
    );
}
