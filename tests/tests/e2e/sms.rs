//! Urgent reports by SMS (`POST /v1/sms/inbound`) against the real server: every row of the
//! SMS table in `docs/SECURITY.md` ("Urgent reports by SMS") gets its status and code, opens no
//! case, and quarantines a change only where the row says so; a good report opens its case once,
//! a replay is refused, and the phone's later sync merges into the case instead of opening a twin.

use gridsync_core::case::{Location, NewCase};
use gridsync_core::rules::Rules;
use gridsync_core::sms::{self, SmsPart, UrgentReport};
use gridsync_core::{CaseKind, EventType, Identity, Role};
use serde_json::{Value, json};
use sqlx::Row;

use crate::access_matrix::read_body;
use crate::server::{Phone, Server, agent, path};

const GRID: &str = "130322/101/201/01";
/// A grid of another village of the same township.
const OTHER_VILLAGE: &str = "130322/101/202/01";
/// The inbound token of the server's SMS settings.
const INBOUND_TOKEN: &str = "sms-gateway-token-5f2c9e";
const FROM: &str = "+8613800000001";
const JSON: &str = "application/json";
/// The category the phones report under, and another incident category of the catalogue.
const CATEGORY: &str = "safety_hazard";
const OTHER_CATEGORY: &str = "fire_hazard";

/// What came back: status, body, and the error's code (`—` for a success).
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Vec<u8>,
    code: String,
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
                };
            }
        };
        let status = resp.status().as_u16();
        let body = read_body(&mut resp);
        let code = match (status, serde_json::from_slice::<Value>(&body)) {
            (s, _) if s < 400 => "—".into(),
            (_, Ok(v)) => v["code"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("JSON without a code: {v}")),
            (_, Err(_)) => format!("not JSON: {:?}", String::from_utf8_lossy(&body)),
        };
        Reply { status, body, code }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned()
    }
}

/// `POST /v1/sms/inbound` with the bearer `token` (none when `None`) and the raw `body`.
fn post_raw(server: &Server, token: Option<&str>, body: &[u8]) -> Reply {
    let mut req = agent()
        .post(format!("{}/v1/sms/inbound", server.url))
        .content_type(JSON);
    if let Some(token) = token {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    Reply::of(req.send(body))
}

/// The gateway's envelope around one SMS `text`.
fn envelope(text: &str) -> String {
    json!({ "from": FROM, "text": text }).to_string()
}

/// The gateway hands over `text` with the inbound token.
fn post(server: &Server, text: &str) -> Reply {
    post_raw(server, Some(INBOUND_TOKEN), envelope(text).as_bytes())
}

/// Cases and quarantined changes on the server.
fn counts(server: &Server) -> (i64, usize) {
    let store = &server.state.store;
    let cases = server.store(async {
        sqlx::query("SELECT count(*) FROM cases")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap()
    });
    let quarantined = server.store(store.quarantine()).unwrap().len();
    (cases, quarantined)
}

/// An incident of grid [`GRID`] with a plain ASCII title: its report is one `GS …` SMS.
fn incident(title: &str) -> NewCase {
    NewCase {
        kind: CaseKind::Incident,
        jurisdiction: path(GRID),
        category: CATEGORY.into(),
        title: title.into(),
        description: "危房墙体开裂，有倒塌风险".into(),
        location: Location {
            address: "东街村".into(),
            ..Default::default()
        },
        people: vec![],
    }
}

/// A fresh case captured on `phone` and the one SMS text of its urgent report, with its id.
fn report_of(phone: &mut Phone, title: &str) -> (String, String) {
    let now = gridsync_server::now_ms();
    let id = phone.replica.capture(&incident(title), now).unwrap();
    let texts = phone.replica.urgent_sms(&id, &phone.secret, now).unwrap();
    assert_eq!(texts.len(), 1, "an ASCII title is one SMS: {texts:?}");
    assert!(texts[0].starts_with("GS "), "{texts:?}");
    (id, texts[0].clone())
}

/// `text` with its space-separated token `i` (0 is `GS`, 11 the title) replaced by `token`.
fn with_token(text: &str, i: usize, token: &str) -> String {
    let mut tokens: Vec<&str> = text.splitn(12, ' ').collect();
    assert_eq!(tokens.len(), 12, "a whole report: {text}");
    tokens[i] = token;
    tokens.join(" ")
}

/// The token `i` of `text` (0 is `GS`, 11 the title).
fn token(text: &str, i: usize) -> String {
    text.splitn(12, ' ').nth(i).unwrap().to_owned()
}

/// The signed report of a one-SMS `text`.
fn signed(text: &str) -> sms::SignedReport {
    match sms::parse(text).unwrap() {
        SmsPart::Whole(signed) => signed,
        other => panic!("a whole report: {other:?}"),
    }
}

/// The server with an inbound token and grid [`GRID`]'s workers `wang` (who reports) and `sun`.
struct World {
    server: Server,
    wang: Phone,
    sun: Phone,
    /// The text of a report whose case the server opened.
    opened: String,
}

fn world() -> World {
    let server = Server::start_with_sms_inbound(INBOUND_TOKEN);
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let sun = server.enrol("sun", Role::GridWorker, GRID);
    assert!(!wang.secret.is_empty(), "the first sign-in issues a secret");
    let (_, opened) = report_of(&mut wang, "Wall about to fall on East St");
    let first = post(&server, &opened);
    assert_eq!(first.status, 201, "{}", first.shown());
    World {
        server,
        wang,
        sun,
        opened,
    }
}

/// The rows of the SMS table: (row, status, code, quarantined).
fn table() -> Vec<(String, u16, String, bool)> {
    crate::access_matrix::table("sms-bad-inputs")
        .into_iter()
        .map(|cells| {
            assert_eq!(cells.len(), 6, "row {cells:?}");
            let status = cells[3]
                .parse()
                .unwrap_or_else(|_| panic!("status of {cells:?}"));
            let quarantined = match cells[5].as_str() {
                "yes" => true,
                "no" => false,
                other => panic!("quarantined is yes or no, not {other:?}: {cells:?}"),
            };
            (cells[0].clone(), status, cells[4].clone(), quarantined)
        })
        .collect()
}

impl World {
    /// A good report of a fresh case of wang's.
    fn good(&mut self) -> String {
        report_of(&mut self.wang, "Cracked wall east street no 12").1
    }

    /// Wang's good report re-signed with wang's key after `change`.
    fn resigned(&mut self, change: impl FnOnce(&mut UrgentReport)) -> String {
        let mut signed = signed(&self.good());
        change(&mut signed.report);
        let texts = signed.report.texts(&sms::sms_key(&self.wang.secret));
        assert_eq!(texts.len(), 1, "{texts:?}");
        texts[0].clone()
    }

    /// Sends the row's input and returns the answer.
    fn send(&mut self, row: &str) -> Reply {
        match row {
            "sms-no-token" => {
                let good = self.good();
                post_raw(&self.server, None, envelope(&good).as_bytes())
            }
            "sms-wrong-token" => {
                let good = self.good();
                post_raw(
                    &self.server,
                    Some("sms-gateway-token-000000"),
                    envelope(&good).as_bytes(),
                )
            }
            "sms-access-token" => {
                let good = self.good();
                post_raw(
                    &self.server,
                    Some(&self.wang.token),
                    envelope(&good).as_bytes(),
                )
            }
            "sms-malformed-json" => post_raw(&self.server, Some(INBOUND_TOKEN), b"{not json"),
            "sms-no-text" => post_raw(
                &self.server,
                Some(INBOUND_TOKEN),
                format!(r#"{{"from": "{FROM}"}}"#).as_bytes(),
            ),
            "sms-bad-utf8" => {
                let mut body = envelope(&self.good()).into_bytes();
                // The `S` of `GS`, inside the text string, becomes a byte UTF-8 never has.
                let at = body.windows(8).position(|w| w == br#""text":""#).unwrap() + 9;
                assert_eq!(body[at], b'S');
                body[at] = 0xFF;
                post_raw(&self.server, Some(INBOUND_TOKEN), &body)
            }
            "sms-oversized" => post(&self.server, &"x".repeat(9 * 1024)),
            "sms-not-a-report" => post(&self.server, "你好，请问几点开会"),
            "sms-cut-short" => {
                let good = self.good();
                post(
                    &self.server,
                    &good.split(' ').take(5).collect::<Vec<_>>().join(" "),
                )
            }
            "sms-bad-field" => {
                let good = self.good();
                post(&self.server, &with_token(&good, 3, "9"))
            }
            "sms-altered-title" => {
                let good = self.good();
                let title = token(&good, 11);
                let first = title.chars().next().unwrap();
                let other = if first == 'X' { 'Y' } else { 'X' };
                let altered = format!("{other}{}", &title[first.len_utf8()..]);
                post(&self.server, &with_token(&good, 11, &altered))
            }
            "sms-altered-category" => {
                let good = self.good();
                assert_eq!(token(&good, 4), CATEGORY);
                post(&self.server, &with_token(&good, 4, OTHER_CATEGORY))
            }
            "sms-other-device" => {
                let good = self.good();
                let tag = sms::device_tag(&self.sun.device);
                post(&self.server, &with_token(&good, 1, &tag))
            }
            "sms-unknown-device" => {
                let good = self.good();
                let tag = sms::device_tag("phone-never-bound");
                post(&self.server, &with_token(&good, 1, &tag))
            }
            "sms-forged-mac" => {
                let good = self.good();
                let mac = token(&good, 10);
                assert_eq!(mac.len(), 11);
                let forged = if mac == "AAAAAAAAAAA" {
                    "BBBBBBBBBBB"
                } else {
                    "AAAAAAAAAAA"
                };
                post(&self.server, &with_token(&good, 10, forged))
            }
            "sms-revoked-device" => {
                let mut li = self.server.enrol("li", Role::GridWorker, GRID);
                let (_, text) = report_of(&mut li, "Fallen pole by the school");
                let store = &self.server.state.store;
                assert!(self.server.store(store.revoke_device(&li.device)).unwrap());
                post(&self.server, &text)
            }
            "sms-stub-mismatch" => {
                let text = self.resigned(|r| {
                    r.stub = if r.stub == "AAAAAA" {
                        "BBBBBB"
                    } else {
                        "AAAAAA"
                    }
                    .into();
                });
                post(&self.server, &text)
            }
            "sms-out-of-scope" => {
                // The first change wang's phone would build for a case there. The core builds no
                // change its reporter may not report, so the identity here has the other
                // village as its scope: the scope is not written into the change (only the
                // user, role and device are), so the change is byte for byte the one the server
                // builds for wang if it gets as far as admission.
                let actor = self.wang.replica.actor_id().clone();
                let who = Identity::new(
                    "wang",
                    Role::GridWorker,
                    path(OTHER_VILLAGE),
                    None,
                    &self.wang.device,
                )
                .unwrap();
                let text = self.resigned(|r| {
                    let rules = Rules::builtin();
                    assert_eq!(
                        r.rules,
                        rules.version(),
                        "the phone holds the build's rules"
                    );
                    r.place = path(OTHER_VILLAGE);
                    let (_, first) = r.stub(actor, &who, &rules.deadlines()).unwrap();
                    r.stub = UrgentReport::stub_mark(&first);
                });
                post(&self.server, &text)
            }
            "sms-replayed" => post(&self.server, &self.opened.clone()),
            other => {
                panic!("docs/SECURITY.md names SMS row {other}, which this test does not know")
            }
        }
    }
}

#[test]
fn every_bad_sms_input_gets_its_code_and_opens_nothing() {
    let mut w = world();
    let rows = table();
    assert!(rows.len() >= 15, "at least 15 bad inputs: {}", rows.len());
    let mut failures = Vec::new();
    for (row, status, code, quarantined) in &rows {
        let (cases, held) = counts(&w.server);
        let got = w.send(row);
        if (got.status, got.code.as_str()) != (*status, code.as_str()) {
            failures.push(format!(
                "{row}: expected {status} {code}, got {} {} ({})",
                got.status,
                got.code,
                got.shown()
            ));
        }
        let (cases_after, held_after) = counts(&w.server);
        if cases_after != cases {
            failures.push(format!("{row}: cases {cases} → {cases_after}"));
        }
        let expected = held + usize::from(*quarantined);
        if held_after != expected {
            failures.push(format!(
                "{row}: the quarantine went {held} → {held_after}, expected {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The phone's good reports still open their cases afterwards.
    let good = w.good();
    let opened = post(&w.server, &good);
    assert_eq!(opened.status, 201, "{}", opened.shown());
}

#[test]
fn a_good_report_opens_its_case_once_and_the_phone_merges_into_it() {
    let server = Server::start_with_sms_inbound(INBOUND_TOKEN);
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let (id, text) = report_of(&mut wang, "Power line down by the well");

    let opened = post(&server, &text);
    assert_eq!(opened.status, 201, "{}", opened.shown());
    assert_eq!(opened.json(), json!({ "status": "opened", "case_id": id }));
    let store = &server.state.store;
    let case = server
        .store(store.case_doc(&id))
        .unwrap()
        .expect("the server holds the case")
        .read()
        .unwrap();
    assert_eq!(
        case.extra.get(sms::MARK_KEY).map(String::as_str),
        Some(sms::MARK_VALUE)
    );
    assert_eq!(case.reporter.user, "wang");
    assert_eq!(counts(&server), (1, 0));

    let again = post(&server, &text);
    assert_eq!(
        (again.status, again.code.as_str()),
        (409, "sms_replayed"),
        "{}",
        again.shown()
    );

    // The phone comes back into coverage: its full case merges into the one the SMS opened.
    wang.sync(&server);
    assert_eq!(counts(&server), (1, 0), "one case, nothing quarantined");
    let case = server
        .store(store.case_doc(&id))
        .unwrap()
        .unwrap()
        .read()
        .unwrap();
    let reported = case
        .events
        .iter()
        .filter(|e| e.kind == EventType::Reported)
        .count();
    assert_eq!(reported, 1, "{:?}", case.events);
    assert_eq!(case.title, "Power line down by the well");
    assert_eq!(case.description, "危房墙体开裂，有倒塌风险");
}
