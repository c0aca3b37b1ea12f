//! The SMS outbox against a fake county gateway that fails or times out 30% of the time (issue
//! 24), with the real `gridsync serve` killed twice while it delivers:
//!
//! - phase 1, quiet hours around now: only urgent notices go out;
//! - kill 1 at a random moment; more notices are written while the server is down;
//! - phase 2, the server back with the same quiet hours, then kill 2 once the urgent ones are out;
//! - phase 3, restarted without quiet hours: everything goes out.
//!
//! The gateway's log is the oracle: every notice to an account with a number that did not opt
//! out is delivered exactly once (a repeated id is the gateway's idempotency at work and is
//! counted, never delivered twice), nothing non-urgent before phase 3, nothing to the account
//! that opted out.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridsync_core::JurisdictionPath;
use gridsync_core::notice::{Audience, NoticeDraft, NoticeKind};
use gridsync_core::testing::SeededRng as Rng;
use gridsync_server::store::{Raised, SmsWriting, Store};
use gridsync_testkit::db::{self, TestDb};
use gridsync_testkit::link::read_request;
use gridsync_testkit::process::ServerProcess;

use super::{BIN, add_user, now_ms, runtime, seeded};

/// One SMS the gateway delivered.
#[derive(Debug, Clone)]
struct Delivered {
    id: String,
    to: String,
    text: String,
    /// The phase the test was in when it arrived.
    phase: u8,
}

#[derive(Debug, Default)]
struct GatewayLog {
    delivered: Vec<Delivered>,
    /// Requests with an id delivered before (a retry after a timeout or a kill).
    repeats: usize,
    failed: usize,
    timed_out: usize,
    phase: u8,
}

/// A county SMS gateway on loopback: 15% answer 500, 10% accept and answer too late (past the
/// server's timeout), 5% answer too late without accepting; it honours the id as an
/// idempotency key, as real gateways do.
struct FakeGateway {
    url: String,
    log: Arc<Mutex<GatewayLog>>,
}

impl FakeGateway {
    fn start(rng: Rng) -> FakeGateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/send", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(GatewayLog {
            phase: 1,
            ..GatewayLog::default()
        }));
        let shared = log.clone();
        let rng = Arc::new(Mutex::new(rng));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, rng) = (shared.clone(), rng.clone());
                std::thread::spawn(move || answer(stream, &log, &rng));
            }
        });
        FakeGateway { url, log }
    }
}

fn answer(mut stream: TcpStream, log: &Mutex<GatewayLog>, rng: &Mutex<Rng>) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    if request.header("authorization") != Some("Bearer gw-secret") {
        let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
        return;
    }
    let sms: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let roll = rng.lock().unwrap().below(100);
    let late = || std::thread::sleep(Duration::from_millis(900));
    let accept = || {
        let mut log = log.lock().unwrap();
        let id = sms["id"].as_str().unwrap().to_owned();
        if log.delivered.iter().any(|d| d.id == id) {
            log.repeats += 1;
            return;
        }
        let phase = log.phase;
        log.delivered.push(Delivered {
            id,
            to: sms["to"].as_str().unwrap().to_owned(),
            text: sms["text"].as_str().unwrap().to_owned(),
            phase,
        });
    };
    match roll {
        0..15 => {
            log.lock().unwrap().failed += 1;
            let _ = stream
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n");
            return;
        }
        15..25 => {
            accept();
            log.lock().unwrap().timed_out += 1;
            late();
        }
        25..30 => {
            log.lock().unwrap().timed_out += 1;
            late();
            return;
        }
        _ => accept(),
    }
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}");
}

/// The settings file: quiet hours around now (China time) when `quiet`.
fn sms_config(dir: &Path, gateway: &str, quiet: bool) -> std::path::PathBuf {
    let minute = ((now_ms() / 60_000 + 8 * 60) % 1440) as u32;
    let (start, end) = ((minute + 1440 - 120) % 1440, (minute + 180) % 1440);
    let quiet = match quiet {
        true => format!(
            "{:02}:{:02}-{:02}:{:02}",
            start / 60,
            start % 60,
            end / 60,
            end % 60
        ),
        false => String::new(),
    };
    let path = dir.join(format!(
        "sms-{}.toml",
        if quiet.is_empty() { "day" } else { "night" }
    ));
    std::fs::write(
        &path,
        format!(
            r#"[gateway]
url = "{gateway}"
body = '{{"to": "{{to}}", "text": "{{text}}", "id": "{{id}}"}}'
token = "gw-secret"
timeout_ms = 300
[delivery]
quiet_hours = "{quiet}"
daily_cap = 1000
retry_base_ms = 100
retry_max_ms = 800
poll_ms = 100
"#
        ),
    )
    .unwrap();
    path
}

fn serve(db: &TestDb, blobs: &Path, config: &Path) -> ServerProcess {
    ServerProcess::start_with(
        Path::new(BIN),
        &db.url,
        blobs,
        "error",
        &["--sms-config".as_ref(), config.as_os_str()],
    )
    .unwrap()
}

/// `count` notices to the accounts `users` in turn, every `urgent_every`th urgent.
fn notices(batch: &str, users: &[String], count: usize, urgent_every: usize) -> Vec<Raised> {
    (0..count)
        .map(|i| {
            let kind = if i % urgent_every == 0 {
                NoticeKind::UrgentReport
            } else {
                NoticeKind::ALL[i % 4]
            };
            let case_id = format!("case-{batch}-{i}");
            Raised {
                case_id: case_id.clone(),
                title: format!("{batch} 第{i}件 危房墙体开裂"),
                place: JurisdictionPath::parse("130322/101/201/01").unwrap(),
                requester_phone: None,
                requester_text: None,
                draft: NoticeDraft {
                    key: format!("{case_id}:{}:e{i}", kind.as_str()),
                    kind,
                    audience: Audience::User(users[i % users.len()].clone()),
                    detail: String::new(),
                },
            }
        })
        .collect()
}

/// Waits until `done` holds of the gateway's log, for at most `limit`.
fn wait_for(
    gateway: &FakeGateway,
    limit: Duration,
    what: &str,
    done: impl Fn(&GatewayLog) -> bool,
) {
    let started = Instant::now();
    while !done(&gateway.log.lock().unwrap()) {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn urgent_count(raised: &[Raised], reachable: &BTreeSet<String>) -> usize {
    raised
        .iter()
        .filter(|r| r.draft.kind.is_urgent())
        .filter(|r| matches!(&r.draft.audience, Audience::User(u) if reachable.contains(u)))
        .count()
}

fn notices_delivered_once(rt: &tokio::runtime::Runtime, db: TestDb, what: &str) {
    let mut rng = seeded(what);
    let store: Store = db.store.clone();
    store.set_sms_writing(Some(SmsWriting {
        track_url: String::new(),
    }));
    let users: Vec<String> = (0..6).map(|i| format!("worker{i}")).collect();
    let mut numbers = BTreeMap::new();
    for (i, u) in users.iter().enumerate() {
        add_user(rt, &store, u, "130322/101/201/01");
        let number = format!("1380000000{i}");
        rt.block_on(store.set_user_phone(u, Some(&number))).unwrap();
        numbers.insert(number, u.clone());
    }
    // worker5 opted out; worker4 has no number.
    rt.block_on(store.set_sms_opt_out("worker5", true)).unwrap();
    rt.block_on(store.set_user_phone("worker4", None)).unwrap();
    let reachable: BTreeSet<String> = users[..4].iter().cloned().collect();

    let gateway = FakeGateway::start(rng.fork());
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs");
    let (night, day) = (
        sms_config(dir.path(), &gateway.url, true),
        sms_config(dir.path(), &gateway.url, false),
    );
    let first = notices("a", &users, 60, 5);
    assert_eq!(
        rt.block_on(store.raise_notices(&first, now_ms())).unwrap(),
        60
    );

    // Phase 1: quiet hours; killed at a random moment while the urgent ones go out.
    let server = serve(&db, &blobs, &night);
    std::thread::sleep(Duration::from_millis(200 + rng.below(600)));
    server.kill();
    let urgent_early = gateway.log.lock().unwrap().delivered.len();

    // More notices while the server is down; written twice, they are still one notice each.
    let second = notices("b", &users, 30, 3);
    rt.block_on(store.raise_notices(&second, now_ms())).unwrap();
    assert_eq!(
        rt.block_on(store.raise_notices(&second, now_ms())).unwrap(),
        0
    );
    let urgent = urgent_count(&first, &reachable) + urgent_count(&second, &reachable);

    // Phase 2: back, still quiet; killed once the urgent ones are out.
    let server = serve(&db, &blobs, &night);
    wait_for(
        &gateway,
        Duration::from_secs(60),
        "urgent notices in quiet hours",
        |l| l.delivered.len() >= urgent,
    );
    std::thread::sleep(Duration::from_millis(rng.below(300)));
    server.kill();
    {
        let log = gateway.log.lock().unwrap();
        let early: Vec<_> = log
            .delivered
            .iter()
            .filter(|d| !d.text.starts_with("【紧急上报】"))
            .collect();
        assert!(early.is_empty(), "non-urgent SMS in quiet hours: {early:?}");
        assert_eq!(
            log.delivered.len(),
            urgent,
            "only the urgent ones in quiet hours"
        );
    }

    // Phase 3: the day; everything else goes out.
    gateway.log.lock().unwrap().phase = 3;
    let total: usize = first
        .iter()
        .chain(&second)
        .filter(|r| matches!(&r.draft.audience, Audience::User(u) if reachable.contains(u)))
        .count();
    let server = serve(&db, &blobs, &day);
    wait_for(
        &gateway,
        Duration::from_secs(120),
        "every notice delivered",
        |l| l.delivered.len() >= total,
    );
    // The outbox finishes too: a row the gateway took but answered late is retried (and its
    // repeat absorbed) before it counts as sent.
    let started = Instant::now();
    while rt.block_on(store.sms_counts()).unwrap() != vec![("sent".to_owned(), total as i64)] {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the outbox did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A moment more: anything sent twice would arrive now.
    std::thread::sleep(Duration::from_millis(500));
    server.kill();

    let log = gateway.log.lock().unwrap();
    assert_eq!(
        log.delivered.len(),
        total,
        "every notice delivered exactly once"
    );
    let mut seen = BTreeSet::new();
    for d in &log.delivered {
        let user = &numbers[&d.to];
        assert!(
            reachable.contains(user),
            "SMS to {user}, who must get none: {d:?}"
        );
        assert!(
            seen.insert((d.to.clone(), d.text.clone())),
            "delivered twice under two ids: {d:?}"
        );
        if d.phase == 1 {
            assert!(
                d.text.starts_with("【紧急上报】"),
                "non-urgent in quiet hours: {d:?}"
            );
        }
    }
    let expected: BTreeSet<(String, String)> = first
        .iter()
        .chain(&second)
        .filter_map(|r| match &r.draft.audience {
            Audience::User(u) if reachable.contains(u) => {
                let number = numbers
                    .iter()
                    .find(|(_, v)| *v == u)
                    .map(|(k, _)| k.clone())?;
                Some((
                    number,
                    gridsync_core::notice::text_zh(r.draft.kind, &r.title, ""),
                ))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        seen, expected,
        "the gateway's log is the outbox, no more, no less"
    );
    assert!(
        log.failed + log.timed_out > 0,
        "the gateway never failed: the run proves nothing"
    );
    let counts = rt.block_on(store.sms_counts()).unwrap();
    assert_eq!(
        counts,
        vec![("sent".to_owned(), total as i64)],
        "the outbox agrees: all sent, none for the opted-out account"
    );
    eprintln!(
        "{what}: {total} SMS delivered once each through 2 kills ({urgent_early} urgent before the first); gateway failed {}, timed out {}, repeats absorbed {}",
        log.failed, log.timed_out, log.repeats
    );
}

#[test]
fn every_notice_reaches_the_gateway_once_through_kills_quiet_hours_and_failures_on_sqlite() {
    let rt = runtime();
    let db = rt.block_on(db::sqlite());
    notices_delivered_once(&rt, db, "SMS outbox, SQLite");
}

#[test]
fn every_notice_reaches_the_gateway_once_through_kills_quiet_hours_and_failures_on_postgres() {
    let rt = runtime();
    let Some(db) = rt.block_on(db::postgres()) else {
        return;
    };
    notices_delivered_once(&rt, db, "SMS outbox, PostgreSQL");
}
