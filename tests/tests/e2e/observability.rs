//! What operators see and what bounds a request (ADR 0035): `/metrics` histograms per sync,
//! per sync phase and per route template, one server's figures apart from another's in the same
//! process, the `x-request-id` echoed, and the deadlines: a coded `503 timeout` past one, while
//! a slow but moving upload is never cut and a stalled one keeps what came.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use gridsync_core::Role;
use gridsync_core::attachment::sha256_hex;
use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::replica::AttachmentMeta;
use gridsync_server::limit::Deadlines;

use crate::blobs::photo;
use crate::server::{Phone, Server, T0, agent, metrics_text, post_sync, report};

/// The value of the one sample of `name` whose labels include every one of `labels`
/// (`key="value"`); `None` when no line matches.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let rest = series.strip_prefix(name)?;
        let matches = match rest.strip_prefix('{') {
            Some(inner) => labels.iter().all(|l| inner.contains(l)),
            None => rest.is_empty() && labels.is_empty(),
        };
        matches.then(|| value.parse().ok())?
    })
}

/// One round trip of `phone`; whether its request pushed anything.
fn sync_round(server: &Server, phone: &mut Phone) -> bool {
    let req = phone.replica.next_sync_request().unwrap();
    let pushed = !req.push.is_empty();
    let (status, body) = post_sync(server, &phone.token, &encode_request(&req).unwrap());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    phone
        .replica
        .apply_sync_response(&decode_response(&body).unwrap(), 0)
        .unwrap();
    pushed
}

#[test]
fn the_sync_histograms_count_every_sync_by_phase_and_the_routes_by_template() {
    let server = Server::start();
    // Another server in the same process: its figures must stay its own.
    let other = Server::start();
    let grid = "130322/101/201/01";
    let mut phones = [
        server.enrol("wang", Role::GridWorker, grid),
        server.enrol("liu", Role::GridWorker, grid),
        server.enrol("zhao", Role::Mediator, "130322/101/201"),
    ];
    // Seven syncs from three devices: four pushing a new case, three only pulling.
    const SYNCS: usize = 7;
    let mut pushes = 0;
    let mut case = None;
    for i in 0..SYNCS {
        let phone = &mut phones[i % 3];
        if i % 2 == 0 {
            let id = phone
                .replica
                .capture(&report(&format!("危房 {i}"), grid), T0 + i as i64)
                .unwrap();
            case.get_or_insert(id);
        }
        pushes += usize::from(sync_round(&server, phone));
    }
    assert_eq!(pushes, 4, "the test pushes on every other sync");
    // A read with an id in its path: counted under the template, the id nowhere.
    let case = case.unwrap();
    let status = agent()
        .get(format!("{}/v1/cases/{case}", server.url))
        .header("Authorization", &format!("Bearer {}", phones[0].token))
        .call()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 200);

    let text = metrics_text(&server);
    let count = |name: &str, labels: &[&str]| sample(&text, name, labels).unwrap_or(-1.0);
    let n = SYNCS as f64;
    assert_eq!(count("gridsync_sync_seconds_count", &[]), n, "{text}");
    assert!(count("gridsync_sync_seconds_sum", &[]) > 0.0);
    assert_eq!(count("gridsync_sync_seconds_bucket", &[r#"le="+Inf""#],), n);
    assert_eq!(count("gridsync_sync_requests_total", &[]), n);
    let phase = |p: &str| {
        count(
            "gridsync_sync_phase_seconds_count",
            &[&format!(r#"phase="{p}""#)],
        )
    };
    assert_eq!(phase("pull"), n, "every sync pulls: {text}");
    assert_eq!(
        phase("judge"),
        pushes as f64,
        "judged: the syncs that pushed"
    );
    assert_eq!(
        phase("commit"),
        pushes as f64,
        "committed: the syncs that pushed"
    );
    assert_eq!(
        count(
            "gridsync_http_request_seconds_count",
            &[r#"method="POST""#, r#"route="/v1/sync""#, r#"status="200""#],
        ),
        n,
        "{text}"
    );
    assert_eq!(
        count(
            "gridsync_http_request_seconds_count",
            &[
                r#"method="GET""#,
                r#"route="/v1/cases/{id}""#,
                r#"status="200""#
            ],
        ),
        1.0,
        "{text}"
    );
    assert!(!text.contains(&case), "no ids in metrics");
    assert!(!text.contains("wang"), "no personal data in metrics");

    // The other server counted none of it.
    let theirs = metrics_text(&other);
    assert_eq!(
        sample(&theirs, "gridsync_sync_seconds_count", &[]),
        Some(0.0),
        "{theirs}"
    );
    assert_eq!(
        sample(&theirs, "gridsync_sync_requests_total", &[]),
        Some(0.0)
    );
}

/// `GET path` with `x-request-id: sent` (if any): the status and the echoed id.
fn request_id(server: &Server, path: &str, sent: Option<&str>) -> (u16, Option<String>) {
    let mut req = agent().get(format!("{}{path}", server.url));
    if let Some(id) = sent {
        req = req.header("x-request-id", id);
    }
    let resp = req.call().unwrap();
    let id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (resp.status().as_u16(), id)
}

#[test]
fn every_answer_carries_a_request_id_made_when_missing_and_echoed_when_sent() {
    let server = Server::start();
    let (status, made) = request_id(&server, "/healthz", None);
    assert_eq!(status, 200);
    let made = made.expect("an id is made");
    assert_eq!(made.len(), 36, "a UUID: {made}");
    let (_, again) = request_id(&server, "/healthz", None);
    assert_ne!(again.unwrap(), made, "one id per request");

    assert_eq!(
        request_id(&server, "/healthz", Some("phone-7f3a.42")),
        (200, Some("phone-7f3a.42".into()))
    );
    // Error answers too, on the API and off it.
    assert_eq!(
        request_id(&server, "/v1/cases", Some("abc-1")),
        (401, Some("abc-1".into()))
    );
    assert_eq!(
        request_id(&server, "/no/such/route", Some("abc-2")),
        (404, Some("abc-2".into()))
    );
    // An id that would put anything into the logs is replaced.
    let long = "x".repeat(65);
    for odd in [long.as_str(), "王 小明", "a\"b"] {
        let (_, echoed) = request_id(&server, "/healthz", Some(odd));
        let echoed = echoed.unwrap();
        assert_ne!(echoed, odd);
        assert_eq!(echoed.len(), 36, "{echoed}");
    }
}

/// A request over a bare connection: `head`, then each piece of the body after its pause. The
/// status, the headers (lower case) and the body of the answer.
fn slow_request(server: &Server, head: String, pieces: Vec<(Duration, Vec<u8>)>) -> Answer {
    let addr = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        for (pause, piece) in pieces {
            std::thread::sleep(pause);
            if writer.write_all(&piece).is_err() {
                break;
            }
        }
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let answer = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let length: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                break Answer {
                    status: text
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0),
                    head: text,
                    body: String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned(),
                };
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => panic!("no answer: {}", String::from_utf8_lossy(&buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    answer
}

#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn code(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap();
        v["code"].as_str().unwrap_or_default().to_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(str::trim)
    }
}

/// The deadline of the quick routes in the test: past any sign-in's Argon2 on a busy machine.
const QUICK: Duration = Duration::from_secs(3);

#[test]
fn a_request_past_its_deadline_is_a_coded_timeout_but_a_moving_upload_is_not_cut() {
    let server = Server::start_with_deadlines(Deadlines {
        request: QUICK,
        sync: Duration::from_secs(60),
        body_idle: Duration::from_secs(1),
    });
    // A sign-in whose body never finishes: cut at the deadline, as JSON with a code.
    let body = br#"{"user":"wang","password":"x"}"#;
    let head = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nx-request-id: slow-1\r\n\r\n",
        body.len()
    );
    let answer = slow_request(
        &server,
        head,
        vec![
            (Duration::ZERO, body[..5].to_vec()),
            (QUICK * 2, body[5..].to_vec()),
        ],
    );
    assert_eq!(
        (answer.status, answer.code()),
        (503, "timeout".into()),
        "{answer:?}"
    );
    assert_eq!(answer.header("x-request-id"), Some("slow-1"));
    let text = metrics_text(&server);
    assert_eq!(
        sample(
            &text,
            "gridsync_http_request_seconds_count",
            &[r#"route="/v1/auth/login""#, r#"status="503""#],
        ),
        Some(1.0),
        "{text}"
    );

    // A photo sent slowly: uploads have no end-to-end deadline, only an idle one.
    let mut wang = server.enrol("wang", Role::GridWorker, "130322/101/201/01");
    let id = wang
        .replica
        .capture(&report("危房", "130322/101/201/01"), T0 + 1)
        .unwrap();
    let bytes = photo(3);
    wang.replica
        .attach(&id, &bytes, &AttachmentMeta::default(), T0 + 2)
        .unwrap();
    wang.sync(&server);
    let name = sha256_hex(&bytes);
    let put_head = |range: &str, len: usize| {
        format!(
            "PUT /v1/blobs/{name} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Range: {range}\r\nContent-Length: {len}\r\n\r\n",
            wang.token
        )
    };
    let total = bytes.len();
    let half = total / 2;
    // The first half: a stalled link, cut after the idle time, keeps what came.
    let answer = slow_request(
        &server,
        put_head(&format!("bytes 0-{}/{total}", total - 1), total),
        vec![
            (Duration::ZERO, bytes[..half].to_vec()),
            (Duration::from_secs(3), bytes[half..].to_vec()),
        ],
    );
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(
        answer.header("upload-offset"),
        Some(half.to_string().as_str())
    );
    // The rest, slowly but moving.
    let rest = &bytes[half..];
    let pieces: Vec<(Duration, Vec<u8>)> = rest
        .chunks(rest.len().div_ceil(8))
        .map(|c| (Duration::from_millis(500), c.to_vec()))
        .collect();
    let answer = slow_request(
        &server,
        put_head(&format!("bytes {half}-{}/{total}", total - 1), rest.len()),
        pieces,
    );
    assert_eq!(answer.status, 201, "{answer:?}");
}
