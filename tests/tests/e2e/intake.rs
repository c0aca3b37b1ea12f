//! The intake API for other platforms (`POST /v1/intake`, `GET /v1/intake/{order_ref}`) against
//! the real server: a work order sent again is the same case; every row of the intake table in
//! `docs/SECURITY.md` ("The intake API") gets its status and code and stores nothing; the
//! channel reads the status and, once resolved, the reply, never the requester's name or phone;
//! `gridsync channel add|list|revoke` as an operator runs it.

use std::collections::BTreeSet;

use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_core::{Identity, Role, Source};
use gridsync_server::residents::Receipt;
use gridsync_server::store::{Store, console_device_id};
// `gridsync …` on the database `url`: (success, standard output, standard error).
use gridsync_testkit::process::admin as gridsync;
use serde_json::{Value, json};
use sqlx::Row;

use crate::access_matrix::read_body;
use crate::server::{Server, agent, path};

const GRID: &str = "130322/101/201/01";
const JSON: &str = "application/json";
const REQUESTER_NAME: &str = "赵秀兰";
const REQUESTER_PHONE: &str = "13812345678";

/// A good order numbered `order_ref`: a water supply request of grid [`GRID`].
fn order(order_ref: &str) -> Value {
    json!({
        "order_ref": order_ref,
        "kind": "request",
        "category": "water_supply",
        "title": "东街自来水停水三天",
        "description": "东街12号起整条街停水，老人取水困难。",
        "area": GRID,
        "address": "东街12号",
        "requester": { "name": REQUESTER_NAME, "phone": REQUESTER_PHONE },
    })
}

/// What came back: status, body, and the error's code (`—` for a success).
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Vec<u8>,
    code: String,
    retry_after: bool,
}

impl Reply {
    fn of(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut resp = match resp {
            Ok(r) => r,
            Err(e) => {
                return Reply {
                    status: 0,
                    body: Vec::new(),
                    code: format!("no answer: {e}"),
                    retry_after: false,
                };
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        let body = read_body(&mut resp);
        let code = match (status, serde_json::from_slice::<Value>(&body)) {
            (s, _) if s < 400 => "—".into(),
            (_, Ok(v)) => v["code"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("JSON without a code: {v}")),
            (_, Err(_)) => format!("not JSON: {:?}", String::from_utf8_lossy(&body)),
        };
        Reply {
            status,
            body,
            code,
            retry_after,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// `POST /v1/intake` with `key` (none when `None`), `content_type` and `body`.
fn post_raw(server: &Server, key: Option<&str>, content_type: &str, body: &[u8]) -> Reply {
    let mut req = agent()
        .post(format!("{}/v1/intake", server.url))
        .content_type(content_type);
    if let Some(key) = key {
        req = req.header("Authorization", &format!("Bearer {key}"));
    }
    Reply::of(req.send(body))
}

/// `POST /v1/intake` announcing `length` bytes and sending none: the answer must come before
/// the body (a client still sending would see its pipe broken).
fn declared_only(server: &Server, key: &str, length: usize) -> Reply {
    use std::io::{Read, Write};
    let addr = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /v1/intake HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let status: u16 = text
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let want: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + want {
                let body = buf[end + 4..end + 4 + want].to_vec();
                let code = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["code"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("not JSON: {}", String::from_utf8_lossy(&body)));
                return Reply {
                    status,
                    body,
                    code,
                    retry_after: text.contains("retry-after:"),
                };
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => panic!("no whole answer: {}", String::from_utf8_lossy(&buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn post(server: &Server, key: &str, body: &Value) -> Reply {
    post_raw(server, Some(key), JSON, body.to_string().as_bytes())
}

/// `GET /v1/intake/{order_ref}` with `key` (none when `None`).
fn get(server: &Server, key: Option<&str>, order_ref: &str) -> Reply {
    let mut req = agent().get(format!("{}/v1/intake/{order_ref}", server.url));
    if let Some(key) = key {
        req = req.header("Authorization", &format!("Bearer {key}"));
    }
    Reply::of(req.call())
}

/// Rows of cases, receipts, intake orders and quarantined changes.
fn counts(server: &Server) -> [i64; 4] {
    let store = &server.state.store;
    let count = |table: &'static str| {
        server.store(async move {
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(store.pool())
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap()
        })
    };
    [
        count("cases"),
        count("receipts"),
        count("intake_orders"),
        count("quarantine"),
    ]
}

/// The server with county 130322's tree (one grid), a county admin, and channels.
struct World {
    server: Server,
    /// The 12345 hotline's key.
    hotline: String,
    /// The WeChat mini-program's key.
    wechat: String,
    /// A revoked channel's key.
    revoked: String,
}

fn world(server: Server) -> World {
    let store = server.state.store.clone();
    let units: Vec<_> = [
        ("130322", "示范县"),
        ("130322/101", "城关镇"),
        ("130322/101/201", "东街村"),
        (GRID, "东街村第一网格"),
    ]
    .into_iter()
    .map(|(p, n)| (path(p), n.to_owned()))
    .collect();
    server.store(store.import_org_units(&units)).unwrap();
    server.add_user("admin", Role::CountyAdmin, "130322");
    server.add_user("wang", Role::GridWorker, GRID);
    let now = gridsync_server::now_ms();
    let (hotline, wechat, revoked) = server.store(async {
        let hotline = store
            .add_channel("hotline", "12345热线", Source::Hotline12345, now)
            .await
            .unwrap();
        let wechat = store
            .add_channel("wechat", "码上办小程序", Source::Wechat, now)
            .await
            .unwrap();
        let revoked = store
            .add_channel("old-qr", "旧民情码", Source::QrCode, now)
            .await
            .unwrap();
        assert!(store.revoke_channel("old-qr", now).await.unwrap());
        (hotline, wechat, revoked)
    });
    World {
        server,
        hotline,
        wechat,
        revoked,
    }
}

/// A county admin's step on the case, written as the console writes it.
fn admin_step(server: &Server, case_id: &str, draft: EventDraft) {
    let state = &server.state;
    let who = Identity::new(
        "admin",
        Role::CountyAdmin,
        path("130322"),
        None,
        console_device_id("admin"),
    )
    .unwrap();
    server.store(async {
        let ctx = gridsync_server::console::console_device(state, &who)
            .await
            .unwrap();
        let live = state.store.rules().await.unwrap();
        let deadlines = live.rules.deadlines();
        let now = gridsync_server::now_ms();
        let wrote = state
            .store
            .write_case(&ctx, &who, case_id, &live.admission, now, |doc| {
                doc.edit(&who, now, |e| {
                    e.append_event_with(draft, &deadlines).map(|_| ())
                })
            })
            .await
            .unwrap();
        assert!(wrote);
    });
}

fn the_same_order_is_one_case(server: Server) {
    let w = world(server);
    let first = post(&w.server, &w.hotline, &order("12345-2026-000001"));
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let answer = first.json();
    for key in ["case_id", "receipt_no", "lookup_code", "status", "stage"] {
        assert!(answer[key].is_string(), "{key} in {answer}");
    }
    assert_eq!(answer["status"], "reported");
    // The retries, the last with its keys in another order and extra fields: the same order.
    let again = post(&w.server, &w.hotline, &order("12345-2026-000001"));
    assert_eq!((again.status, again.json()), (200, answer.clone()));
    let mut shuffled = serde_json::Map::new();
    let body = order("12345-2026-000001");
    for (k, v) in body.as_object().unwrap().iter().rev() {
        shuffled.insert(k.clone(), v.clone());
    }
    shuffled.insert("hotline_operator".into(), json!("工号 0815"));
    let third = post(&w.server, &w.hotline, &Value::Object(shuffled));
    assert_eq!((third.status, third.json()), (200, answer.clone()));
    assert_eq!(
        counts(&w.server),
        [1, 1, 1, 0],
        "cases, receipts, orders, quarantine"
    );

    // The case: the channel's source, the requester, the receipt whose code is the one given.
    let case_id = answer["case_id"].as_str().unwrap();
    let store = &w.server.state.store;
    let keys = w.server.store(store.case_keys(case_id)).unwrap();
    let case = w
        .server
        .store(store.case_doc(case_id))
        .unwrap()
        .unwrap()
        .read()
        .unwrap()
        .unsealed(&keys);
    assert_eq!(case.source, Source::Hotline12345);
    assert_eq!(case.jurisdiction, path(GRID));
    assert_eq!(
        case.requester().map(|p| p.phone.as_str()),
        Some(REQUESTER_PHONE)
    );
    let receipt = w
        .server
        .store(store.receipt(answer["receipt_no"].as_str().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(receipt.case_id, case_id);
    assert!(Receipt::code_matches(
        &receipt.code_hash,
        answer["lookup_code"].as_str().unwrap()
    ));

    // Another channel's order with the same number is its own case.
    let wechat = post(&w.server, &w.wechat, &order("12345-2026-000001"));
    assert_eq!(wechat.status, 201);
    assert_ne!(wechat.json()["case_id"], answer["case_id"]);
    assert_eq!(counts(&w.server), [2, 2, 2, 0]);

    // Four copies of a new order at once: one case, one answer for all.
    let url = w.server.url.clone();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (url, key) = (url.clone(), w.hotline.clone());
            std::thread::spawn(move || {
                let mut resp = agent()
                    .post(format!("{url}/v1/intake"))
                    .header("Authorization", &format!("Bearer {key}"))
                    .content_type(JSON)
                    .send(order("12345-2026-000002").to_string())
                    .unwrap();
                let status = resp.status().as_u16();
                (status, read_body(&mut resp))
            })
        })
        .collect();
    let answers: Vec<(u16, Vec<u8>)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "one of four is taken, the others are retries: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 200),
        "{statuses:?}"
    );
    let bodies: BTreeSet<String> = answers
        .iter()
        .map(|(_, b)| serde_json::from_slice::<Value>(b).unwrap().to_string())
        .collect();
    assert_eq!(bodies.len(), 1, "one answer: {bodies:?}");
    assert_eq!(counts(&w.server), [3, 3, 3, 0]);
}

#[test]
fn the_same_work_order_sent_three_times_is_one_case() {
    the_same_order_is_one_case(Server::start());
}

#[test]
fn the_same_work_order_sent_three_times_is_one_case_on_postgresql() {
    // `db::postgres` fails under CI=true without PostgreSQL and says "skip" elsewhere.
    if let Some(server) = Server::start_on(gridsync_testkit::db::postgres()) {
        the_same_order_is_one_case(server);
    }
}

/// The rows of the intake table: (row, status, code).
fn table() -> Vec<(String, u16, String)> {
    crate::access_matrix::table("intake-bad-inputs")
        .into_iter()
        .map(|cells| {
            assert_eq!(cells.len(), 5, "row {cells:?}");
            let status = cells[3]
                .parse()
                .unwrap_or_else(|_| panic!("status of {cells:?}"));
            (cells[0].clone(), status, cells[4].clone())
        })
        .collect()
}

impl World {
    /// A good order of the hotline's, changed by `change`.
    fn changed(&self, change: impl FnOnce(&mut Value)) -> Reply {
        let mut body = order("12345-2026-000100");
        change(&mut body);
        post(&self.server, &self.hotline, &body)
    }

    /// Sends the row's input and returns the answer.
    fn send(&self, row: &str, taken: &str, wechat_order: &str) -> Reply {
        let s = &self.server;
        let good = order("12345-2026-000100").to_string();
        match row {
            "intake-no-key" => post_raw(s, None, JSON, good.as_bytes()),
            "intake-wrong-key" => post_raw(
                s,
                Some("gsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                JSON,
                good.as_bytes(),
            ),
            "intake-access-token" => {
                let phone = crate::server::phone(s, "wang", Role::GridWorker, GRID, "phone-wang");
                post_raw(s, Some(&phone.token), JSON, good.as_bytes())
            }
            "intake-revoked" => post_raw(s, Some(&self.revoked), JSON, good.as_bytes()),
            "intake-content-type" => {
                post_raw(s, Some(&self.hotline), "text/plain", good.as_bytes())
            }
            "intake-malformed-json" => post_raw(s, Some(&self.hotline), JSON, b"{not json"),
            "intake-not-object" => post_raw(s, Some(&self.hotline), JSON, br#"["order", 1]"#),
            "intake-bad-utf8" => {
                let body = good.replace("东街自来水停水三天", "B\u{1}D").into_bytes();
                // The control byte becomes an invalid UTF-8 byte inside the title string.
                let bytes: Vec<u8> = body
                    .into_iter()
                    .map(|b| if b == 1 { 0xFF } else { b })
                    .collect();
                post_raw(s, Some(&self.hotline), JSON, &bytes)
            }
            "intake-oversized" => declared_only(s, &self.hotline, 300 * 1024),
            "intake-no-order-ref" => self.changed(|o| {
                o.as_object_mut().unwrap().remove("order_ref");
            }),
            "intake-no-kind" => self.changed(|o| {
                o.as_object_mut().unwrap().remove("kind");
            }),
            "intake-no-category" => self.changed(|o| {
                o.as_object_mut().unwrap().remove("category");
            }),
            "intake-blank-title" => self.changed(|o| o["title"] = json!("   ")),
            "intake-no-area" => self.changed(|o| o["area"] = Value::Null),
            "intake-no-requester" => self.changed(|o| {
                o.as_object_mut().unwrap().remove("requester");
            }),
            "intake-no-name" => self.changed(|o| {
                o["requester"].as_object_mut().unwrap().remove("name");
            }),
            "intake-no-phone" => self.changed(|o| {
                o["requester"].as_object_mut().unwrap().remove("phone");
            }),
            "intake-title-number" => self.changed(|o| o["title"] = json!(42)),
            "intake-bad-order-ref" => self.changed(|o| o["order_ref"] = json!("../12345")),
            "intake-unknown-kind" => self.changed(|o| o["kind"] = json!("complaint")),
            "intake-patrol" => self.changed(|o| o["kind"] = json!("patrol")),
            "intake-unknown-category" => {
                self.changed(|o| o["category"] = json!("no_such_category"))
            }
            "intake-category-for-kind" => {
                self.changed(|o| o["category"] = json!("dispute_neighbours"))
            }
            "intake-area-outside" => self.changed(|o| o["area"] = json!("130323/101/201/01")),
            "intake-area-unknown" => self.changed(|o| o["area"] = json!("130322/109/201/01")),
            "intake-area-garbage" => self.changed(|o| o["area"] = json!("../..")),
            "intake-long-title" => self.changed(|o| o["title"] = json!("水".repeat(201))),
            "intake-long-description" => {
                self.changed(|o| o["description"] = json!("水".repeat(20_001)))
            }
            "intake-bad-phone" => {
                self.changed(|o| o["requester"]["phone"] = json!("138-abcd-5678"))
            }
            "intake-order-changed" => {
                let mut body = order(taken);
                body["title"] = json!("另一件事：路灯不亮");
                post(s, &self.hotline, &body)
            }
            "intake-other-channel" => get(s, Some(&self.hotline), wechat_order),
            "intake-unknown-order" => get(s, Some(&self.hotline), "12345-2026-999999"),
            "intake-get-no-key" => get(s, None, taken),
            "intake-get-revoked" => get(s, Some(&self.revoked), taken),
            "intake-rate-limited" => {
                // A channel of its own, so the rows before have not spent its bucket.
                let key = s
                    .store(s.state.store.add_channel(
                        "burst",
                        "压测渠道",
                        Source::Other,
                        gridsync_server::now_ms(),
                    ))
                    .unwrap();
                let mut last = get(s, Some(&key), "nothing");
                for _ in 0..1_000 {
                    if last.status != 404 {
                        break;
                    }
                    last = get(s, Some(&key), "nothing");
                }
                last
            }
            other => {
                panic!("docs/SECURITY.md names intake row {other}, which this test does not know")
            }
        }
    }
}

#[test]
fn every_bad_intake_input_gets_its_code_and_stores_nothing() {
    let w = world(Server::start());
    // An order of each channel's, taken.
    let taken = "12345-2026-000050";
    assert_eq!(post(&w.server, &w.hotline, &order(taken)).status, 201);
    let wechat_order = "wx-2026-000007";
    assert_eq!(post(&w.server, &w.wechat, &order(wechat_order)).status, 201);
    let before = counts(&w.server);
    assert_eq!(before, [2, 2, 2, 0]);

    let rows = table();
    assert!(rows.len() >= 15, "at least 15 bad inputs: {}", rows.len());
    let mut failures = Vec::new();
    for (row, status, code) in &rows {
        let got = w.send(row, taken, wechat_order);
        if (got.status, got.code.as_str()) != (*status, code.as_str()) {
            failures.push(format!(
                "{row}: expected {status} {code}, got {} {} ({})",
                got.status,
                got.code,
                String::from_utf8_lossy(&got.body[..got.body.len().min(300)])
            ));
        }
        if got.status == 429 && !got.retry_after {
            failures.push(format!("{row}: a 429 without Retry-After"));
        }
        let after = counts(&w.server);
        if after != before {
            failures.push(format!("{row}: stored something: {before:?} → {after:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The good order the rows changed is still taken afterwards.
    let good = post(&w.server, &w.hotline, &order("12345-2026-000100"));
    assert_eq!(good.status, 201, "{}", String::from_utf8_lossy(&good.body));
}

#[test]
fn a_rate_limited_channel_is_told_when_to_retry() {
    let w = world(Server::start());
    let mut retry_after = None;
    for _ in 0..1_000 {
        let resp = agent()
            .get(format!("{}/v1/intake/nothing", w.server.url))
            .header("Authorization", &format!("Bearer {}", w.wechat))
            .call()
            .unwrap();
        if resp.status() == 429 {
            retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            break;
        }
        assert_eq!(resp.status(), 404);
    }
    let secs: u64 = retry_after
        .expect("a 429 with Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&secs), "{secs}");
    // Another channel's bucket is its own.
    assert_eq!(get(&w.server, Some(&w.hotline), "nothing").status, 404);
}

#[test]
fn a_channel_reads_the_status_then_the_reply_and_never_names_or_phones() {
    let w = world(Server::start());
    let order_ref = "12345-2026-000300";
    let taken = post(&w.server, &w.hotline, &order(order_ref));
    assert_eq!(taken.status, 201);
    let answer = taken.json();
    let case_id = answer["case_id"].as_str().unwrap().to_owned();

    let read = |w: &World| {
        let r = get(&w.server, Some(&w.hotline), order_ref);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let text = String::from_utf8(r.body.clone()).unwrap();
        for secret in [
            REQUESTER_NAME,
            REQUESTER_PHONE,
            "5678",
            "内部备注",
            "东街12号",
        ] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
        r.json()
    };
    let first = read(&w);
    assert_eq!(first["case_id"], json!(case_id));
    assert_eq!(first["receipt_no"], answer["receipt_no"]);
    assert_eq!(first["status"], "reported");
    assert!(first["stage"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(first["reply"], Value::Null);
    assert_eq!(first["resolved_at"], Value::Null);
    let steps: Vec<&str> = first["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["what"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["诉求已登记"]);

    // The county centre takes it (with an internal note) and resolves it with a reply.
    admin_step(
        &w.server,
        &case_id,
        EventDraft::new(EventType::Accepted).note("内部备注：申请人情绪激动"),
    );
    assert_eq!(read(&w)["status"], "accepted");
    let reply = "已联系自来水公司抢修，今日下午恢复供水。";
    admin_step(&w.server, &case_id, EventDraft::resolve_with_reply(reply));
    let done = read(&w);
    assert_eq!(done["status"], "resolved");
    assert_eq!(done["reply"], json!(reply));
    assert!(done["resolved_at"].as_i64().is_some());
    assert_eq!(done["rating"], Value::Null);
    let steps: Vec<&str> = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["what"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["诉求已登记", "已受理", "已办结并答复"]);

    // Another channel does not see it, a retry of the order still gets the first answer.
    assert_eq!(get(&w.server, Some(&w.wechat), order_ref).code, "not_found");
    let again = post(&w.server, &w.hotline, &order(order_ref));
    assert_eq!((again.status, again.json()), (200, answer));
}

#[test]
fn the_openapi_document_describes_the_intake_routes() {
    let server = Server::start();
    let doc: Value = agent()
        .get(format!("{}/openapi.json", server.url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let post = &doc["paths"]["/v1/intake"]["post"];
    for status in [
        "200", "201", "400", "401", "409", "413", "415", "422", "429",
    ] {
        assert!(post["responses"][status].is_object(), "POST {status}");
    }
    assert!(doc["paths"]["/v1/intake/{order_ref}"]["get"]["responses"]["404"].is_object());
    assert!(doc["components"]["schemas"]["IntakeRequest"]["properties"]["requester"].is_object());
    assert!(doc["components"]["securitySchemes"]["channel_key"].is_object());
}

#[test]
fn an_operator_adds_lists_and_revokes_channels_and_the_key_is_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gridsync.db").display());
    let (ok, out, err) = gridsync(
        &url,
        &[
            "channel",
            "add",
            "--name",
            "12345热线",
            "--source",
            "hotline_12345",
        ],
    );
    assert!(ok, "{out}{err}");
    let key = out
        .split_whitespace()
        .find(|w| w.starts_with("gsk_"))
        .unwrap_or_else(|| panic!("a key in {out}"))
        .to_owned();
    assert_eq!(key.len(), 36, "{key}");
    let id = out
        .strip_prefix("added channel ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(id.starts_with("hotline-12345-"), "{id}");

    let (ok, listed, _) = gridsync(&url, &["channel", "list"]);
    assert!(ok);
    assert!(listed.contains(&id) && listed.contains("12345热线") && listed.contains("active"));
    assert!(
        !listed.contains(&key) && !listed.contains("gsk_"),
        "{listed}"
    );

    for (args, why) in [
        (
            vec!["channel", "add", "--name", "x", "--source", "grid_worker"],
            "a staff source",
        ),
        (
            vec!["channel", "add", "--name", "x", "--source", "fax"],
            "an unknown source",
        ),
        (
            vec![
                "channel", "add", "--name", "x", "--source", "wechat", "--id", "Bad Id",
            ],
            "a bad id",
        ),
        (vec!["channel", "revoke", "nobody"], "an unknown channel"),
    ] {
        assert!(!gridsync(&url, &args).0, "{why} is refused");
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = rt.block_on(Store::connect(&url)).unwrap();
    let found = rt.block_on(store.channel_by_key(&key)).unwrap().unwrap();
    assert_eq!(
        (found.id.as_str(), found.source),
        (id.as_str(), Source::Hotline12345)
    );
    assert!(!found.revoked());
    let stored: String = rt
        .block_on(
            sqlx::query("SELECT key_hash FROM intake_channels WHERE id = $1")
                .bind(&id)
                .fetch_one(store.pool()),
        )
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_ne!(stored, key, "only the key's hash is stored");

    let (ok, out, err) = gridsync(&url, &["channel", "revoke", &id]);
    assert!(ok, "{out}{err}");
    assert!(
        rt.block_on(store.channel_by_key(&key))
            .unwrap()
            .unwrap()
            .revoked()
    );
    let (_, listed, _) = gridsync(&url, &["channel", "list"]);
    assert!(listed.contains("revoked"), "{listed}");
    let audit = rt.block_on(store.audit_log()).unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|(_, action, target)| (action.as_str(), target.as_str()))
        .collect();
    assert!(
        actions.contains(&("channel_added", id.as_str())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("channel_revoked", id.as_str())),
        "{actions:?}"
    );
}

#[test]
fn without_a_jurisdiction_tree_the_county_is_the_accounts_one() {
    let server = Server::start();
    let none = server
        .store(server.state.store.add_channel(
            "hotline",
            "12345热线",
            Source::Hotline12345,
            gridsync_server::now_ms(),
        ))
        .unwrap();
    // No tree and no accounts: no county to take matters for.
    let refused = post(&server, &none, &order("no-county-1"));
    assert_eq!(
        (refused.status, refused.code.as_str()),
        (422, "area_outside_county")
    );
    server.add_user("wang", Role::GridWorker, GRID);
    let mut elsewhere = order("no-tree-1");
    elsewhere["area"] = json!("130322/109/201/01");
    assert_eq!(
        post(&server, &none, &elsewhere).status,
        201,
        "any place in the county"
    );
    elsewhere["order_ref"] = json!("no-tree-2");
    elsewhere["area"] = json!("130323/101/201/01");
    let outside = post(&server, &none, &elsewhere);
    assert_eq!(
        (outside.status, outside.code.as_str()),
        (422, "area_outside_county")
    );
    assert_eq!(counts(&server), [1, 1, 1, 0]);
}
