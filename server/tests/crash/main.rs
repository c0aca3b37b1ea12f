//! Crash harness (issue 9). The real `gridsync serve` binary is killed with SIGKILL at random
//! moments while phones sync through it, on SQLite and on PostgreSQL; and a phone replica (this
//! test binary, run again as a child process) is killed at random moments while it captures and
//! syncs. After every kill the harness checks what the server and the phone promise:
//!
//! - every change the server ever acknowledged is in the feed (`changes`) once and in its case's
//!   stored document;
//! - no feed change is missing from its document's snapshot, every document has its projection
//!   row, and the projection equals what the documents say (rebuilding it changes nothing);
//! - SQLite's `PRAGMA integrity_check` says `ok`;
//! - a killed phone's store opens again and holds every case it said it had captured.
//!
//! At the end everything converges: each phone's cases on the server have the phone's heads.
//!
//! `GRIDSYNC_CRASH_KILLS` sets the number of kills per test (default 50; the long run in
//! `docs/SECURITY.md` used more), `GRIDSYNC_CRASH_SEED` replays the random moments of a run
//! (each test prints its seed).
#![allow(clippy::unwrap_used)] // test harness: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gridsync_core::case::{Location, NewCase};
use gridsync_core::protocol::{SyncRequest, SyncResponse, decode_response, encode_request};
use gridsync_core::session::{SessionOutcome, sync_cases};
use gridsync_core::testing::SeededRng as Rng;
use gridsync_core::{CaseKind, Identity, JurisdictionPath, Replica, Role};
use gridsync_server::auth;
use gridsync_server::store::{Backend, Store, UserRecord};
use gridsync_testkit::db::{self, TestDb};
use gridsync_testkit::process::ServerProcess;
use sqlx::Row;
use tokio::runtime::Runtime;

mod sms;

const BIN: &str = env!("CARGO_BIN_EXE_gridsync");
const KEY: [u8; 32] = [9; 32];
const PASSWORD: &str = "崩溃-2026-secret";
const VILLAGE: &str = "130322/101/201";
/// Set in the child process that plays a phone; holds `url \t store path \t token`.
const PHONE_CHILD: &str = "GRIDSYNC_CRASH_PHONE";

fn kills() -> usize {
    std::env::var("GRIDSYNC_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// The kill moments, replayable from the printed seed (`GRIDSYNC_CRASH_SEED`).
fn seeded(what: &str) -> Rng {
    let seed = std::env::var("GRIDSYNC_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    eprintln!("{what}: GRIDSYNC_CRASH_SEED={seed}");
    Rng::new(seed)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The real binary, killed with SIGKILL (`ServerProcess::kill`, or when dropped).
fn serve(db_url: &str, blobs: &Path) -> ServerProcess {
    ServerProcess::start(Path::new(BIN), db_url, blobs, "error").unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn add_user(rt: &Runtime, store: &Store, user: &str, scope: &str) {
    let hash = auth::hash_password(PASSWORD).unwrap();
    rt.block_on(store.add_user(
        &UserRecord {
            id: user.into(),
            display_name: user.into(),
            role: Role::GridWorker,
            scope: JurisdictionPath::parse(scope).unwrap(),
            department: None,
            password_hash: hash,
            disabled: false,
        },
        0,
    ))
    .unwrap();
}

/// Signs `replica` in over HTTP; returns the access token.
fn login(url: &str, replica: &mut Replica, user: &str, device: &str, scope: &str) -> String {
    let secret = replica
        .secret("device_secret")
        .unwrap()
        .map(|s| String::from_utf8(s).unwrap());
    let body = serde_json::json!({
        "user": user, "password": PASSWORD, "device": device,
        "actor": replica.actor_id().to_hex_string(), "device_secret": secret,
        "device_key": replica.device_key().map(|k| gridsync_core::evidence::key_text(&k)),
    });
    let mut resp = agent()
        .post(format!("{url}/v1/auth/login"))
        .send_json(&body)
        .unwrap();
    assert_eq!(resp.status(), 200, "login of {user}");
    let body: serde_json::Value = resp.body_mut().read_json().unwrap();
    if let Some(s) = body["device_secret"].as_str() {
        replica.set_secret("device_secret", s.as_bytes()).unwrap();
    }
    let who = Identity::new(
        user,
        Role::GridWorker,
        JurisdictionPath::parse(scope).unwrap(),
        None,
        device,
    )
    .unwrap();
    replica.sign_in(who).unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// One sync exchange. `Err` when the server is gone (or answered anything but 200): the caller
/// stops and tries again after the restart.
fn sync_once(url: &str, token: &str, req: &SyncRequest) -> Result<SyncResponse, String> {
    let req = encode_request(req).unwrap();
    let mut resp = agent()
        .post(format!("{url}/v1/sync"))
        .content_type("application/x-gridsync")
        .header("Authorization", &format!("Bearer {token}"))
        .send(&req[..])
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    let resp = decode_response(&body).map_err(|e| e.to_string())?;
    Ok(resp)
}

/// Syncs through the session driver until it is done, waiting out `429`, noting what the
/// server acknowledged.
fn settle(url: &str, token: &str, replica: &mut Replica, acked: &mut Acked) -> SessionOutcome {
    sync_cases(replica, now_ms(), |req| {
        let resp = sync_patiently(url, token, req);
        record(acked, &resp);
        Ok::<_, gridsync_core::Error>(resp)
    })
    .unwrap()
}

/// One sync exchange with a live server, waiting out `429 rate_limited` as the app does.
fn sync_patiently(url: &str, token: &str, req: &SyncRequest) -> SyncResponse {
    for _ in 0..30 {
        match sync_once(url, token, req) {
            Err(e) if e.starts_with("429") => std::thread::sleep(Duration::from_secs(1)),
            other => return other.unwrap(),
        }
    }
    panic!("rate limited for 30 s");
}

fn report(grid: &str, n: u64) -> NewCase {
    NewCase {
        kind: CaseKind::Incident,
        jurisdiction: JurisdictionPath::parse(grid).unwrap(),
        category: "safety_hazard".into(),
        title: format!("危房墙体开裂 {n}"),
        description: "村东头老屋后墙裂缝变宽".into(),
        location: Location {
            address: "东街村".into(),
            ..Default::default()
        },
        people: vec![],
    }
}

/// Captures a case or edits one of its own, at random.
fn work(replica: &mut Replica, grid: &str, captured: &mut Vec<String>, rng: &mut Rng) {
    if captured.is_empty() || rng.below(10) < 6 {
        let id = replica
            .capture(&report(grid, rng.below(1000)), now_ms())
            .unwrap();
        captured.push(id);
    } else {
        let id = captured[rng.below(captured.len() as u64) as usize].clone();
        let title = format!("复查 {}", rng.below(1000));
        replica
            .edit(&id, now_ms(), |e| e.set_title(&title))
            .unwrap();
    }
}

/// Acknowledged changes: case id → change hashes (hex).
type Acked = BTreeMap<String, BTreeSet<String>>;

fn record(acked: &mut Acked, resp: &SyncResponse) {
    for ack in &resp.accepted {
        let hashes = acked.entry(ack.doc.clone()).or_default();
        hashes.extend(ack.hashes.iter().map(|h| hex(h)));
    }
}

/// The projection, one line per case with every column as text, in id order.
async fn projection(store: &Store) -> Vec<String> {
    let columns_sql = match store.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info('cases') ORDER BY cid",
        Backend::Postgres => {
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_name = 'cases' AND table_schema = current_schema() ORDER BY ordinal_position"
        }
    };
    let columns: Vec<String> = sqlx::query(columns_sql)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert!(columns.len() > 5, "cases has columns: {columns:?}");
    let line = columns
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), '-')"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {line} FROM cases ORDER BY id"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect()
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// Waits for the killed server's last statements to finish on PostgreSQL: its backends run a
/// statement already received (a group's `COMMIT`) to its end before they notice the closed
/// socket, so a check started at once could see that commit land halfway through.
async fn killed_servers_statements_done(store: &Store) {
    if store.backend() != Backend::Postgres {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let busy: i64 = sqlx::query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
        if busy == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the killed server's statements still run after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything the server promised still holds (run while no server is up).
async fn check_server(store: &Store, acked: &Acked, after: &str) {
    killed_servers_statements_done(store).await;
    if store.backend() == Backend::Sqlite {
        let ok: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(ok, "ok", "integrity_check {after}");
    }
    let feed: BTreeMap<String, String> = sqlx::query("SELECT hash, doc FROM changes")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect();
    for (doc, hashes) in acked {
        let mut stored = store
            .case_doc(doc)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged case {doc} has no document {after}"));
        for h in hashes {
            assert_eq!(
                feed.get(h),
                Some(doc),
                "acknowledged change {h} of {doc} is not in the feed {after}"
            );
            let hash = automerge::ChangeHash::from_str(h).unwrap();
            assert!(
                stored.change(&hash).is_some(),
                "acknowledged change {h} is not in {doc}'s document {after}"
            );
        }
    }
    assert_eq!(
        count(
            store,
            "SELECT count(*) FROM docs d WHERE d.upto_seq < (SELECT max(seq) FROM changes ch WHERE ch.doc = d.id)"
        )
        .await,
        0,
        "a document's snapshot is behind its feed {after}"
    );
    assert_eq!(
        count(
            store,
            "SELECT count(*) FROM docs d LEFT JOIN cases c ON c.id = d.id WHERE c.id IS NULL"
        )
        .await,
        0,
        "a document has no projection row {after}"
    );
    assert_eq!(
        count(store, "SELECT count(DISTINCT doc) FROM changes").await,
        count(store, "SELECT count(*) FROM docs").await,
        "a case in the feed has no document {after}"
    );
    // The receipt chain: no gap, no fork, every change named once and its signature whole
    // (ADR 0028); and it covers everything acknowledged, all of it signed by the phones.
    let audit = store.audit_verify().await.unwrap();
    assert_eq!(
        audit.faults,
        Vec::<String>::new(),
        "the receipt chain {after}"
    );
    assert_eq!(
        audit.changes as i64,
        count(store, "SELECT count(*) FROM changes").await,
        "receipts name every change {after}"
    );
    let acked_changes: usize = acked.values().map(|h| h.len()).sum();
    assert!(
        audit.signed as usize >= acked_changes,
        "every acknowledged change is signed: {} of {acked_changes} {after}",
        audit.signed
    );
    let before = projection(store).await;
    store.reproject_all().await.unwrap();
    assert_eq!(
        projection(store).await,
        before,
        "the projection differs from the documents {after}"
    );
}

struct FieldPhone {
    replica: Replica,
    user: String,
    device: String,
    grid: String,
    token: String,
    captured: Vec<String>,
    acked: Acked,
    rng: Rng,
}

impl FieldPhone {
    /// Works and syncs until the server is gone (or `rounds` exchanges went by).
    fn run_until_gone(&mut self, url: &str, rounds: usize) {
        for _ in 0..rounds {
            work(
                &mut self.replica,
                &self.grid,
                &mut self.captured,
                &mut self.rng,
            );
            let req = self.replica.next_sync_request().unwrap();
            match sync_once(url, &self.token, &req) {
                Ok(resp) => {
                    record(&mut self.acked, &resp);
                    self.replica.apply_sync_response(&resp, now_ms()).unwrap();
                }
                Err(e) if e.starts_with("401") => {
                    self.token = login(url, &mut self.replica, &self.user, &self.device, &self.grid)
                }
                Err(e) if e.starts_with("429") => std::thread::sleep(Duration::from_millis(200)),
                Err(e) if e.starts_with('5') || e.starts_with('4') => {
                    panic!("{} got {e}", self.device)
                }
                // The connection failed: the server was killed.
                Err(_) => return,
            }
            std::thread::sleep(Duration::from_millis(self.rng.below(30)));
        }
    }

    /// Syncs until nothing is pending and nothing more comes.
    fn settle(&mut self, url: &str) {
        let out = settle(url, &self.token, &mut self.replica, &mut self.acked);
        assert!(!out.more, "{} did not settle", self.device);
        assert_eq!(
            self.replica.pending_count().unwrap(),
            0,
            "{} settled",
            self.device
        );
    }
}

/// The phone's cases are on the server with the same heads.
async fn check_converged(store: &Store, replica: &Replica, captured: &[String]) {
    for id in captured {
        let mut on_phone = replica.case(id).unwrap();
        let mut on_server = store
            .case_doc(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("captured case {id} never reached the server"));
        let mut phone_heads = on_phone.heads();
        let mut server_heads = on_server.heads();
        phone_heads.sort();
        server_heads.sort();
        assert_eq!(phone_heads, server_heads, "case {id} did not converge");
    }
}

fn kill_the_server_at_random_moments(rt: &Runtime, db: TestDb, what: &str) {
    let store = db.store.clone();
    let blobs = tempfile::tempdir().unwrap();
    let mut rng = seeded(what);
    let grids = ["01", "02", "03"];
    for (i, g) in grids.iter().enumerate() {
        add_user(rt, &store, &format!("worker{i}"), &format!("{VILLAGE}/{g}"));
    }
    let server = serve(&db.url, blobs.path());
    let mut phones: Vec<FieldPhone> = grids
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut replica = Replica::open_in_memory(&KEY).unwrap();
            let (user, device, grid) = (
                format!("worker{i}"),
                format!("phone-{i}"),
                format!("{VILLAGE}/{g}"),
            );
            let token = login(&server.url, &mut replica, &user, &device, &grid);
            FieldPhone {
                replica,
                user,
                device,
                grid,
                token,
                captured: vec![],
                acked: Acked::new(),
                rng: rng.fork(),
            }
        })
        .collect();
    let started = Instant::now();
    let mut server = Some(server);
    let kills = kills();
    for kill in 1..=kills {
        let serve = server
            .take()
            .unwrap_or_else(|| serve(&db.url, blobs.path()));
        let url = serve.url.clone();
        let wait = Duration::from_millis(20 + rng.below(400));
        std::thread::scope(|s| {
            for phone in phones.iter_mut() {
                let url = url.clone();
                s.spawn(move || phone.run_until_gone(&url, 10_000));
            }
            std::thread::sleep(wait);
            serve.kill();
        });
        let mut acked = Acked::new();
        for p in &phones {
            for (doc, hashes) in &p.acked {
                acked
                    .entry(doc.clone())
                    .or_default()
                    .extend(hashes.iter().cloned());
            }
        }
        let after = format!("after kill {kill} of {kills} ({what})");
        rt.block_on(check_server(&store, &acked, &after));
    }
    // Quiet at last: every phone hands over what it still holds and pulls the rest.
    let serve = serve(&db.url, blobs.path());
    for phone in phones.iter_mut() {
        phone.settle(&serve.url);
    }
    serve.kill();
    let mut acked = Acked::new();
    for phone in &phones {
        rt.block_on(check_converged(&store, &phone.replica, &phone.captured));
        for (doc, hashes) in &phone.acked {
            acked
                .entry(doc.clone())
                .or_default()
                .extend(hashes.iter().cloned());
        }
    }
    rt.block_on(check_server(&store, &acked, what));
    let acknowledged: usize = acked.values().map(BTreeSet::len).sum();
    let captured: usize = phones.iter().map(|p| p.captured.len()).sum();
    assert!(
        acknowledged > kills,
        "the phones got too little acknowledged ({acknowledged}) for the kills to mean much"
    );
    eprintln!(
        "{what}: {kills} kills survived in {:.0} s; {captured} cases captured, {acknowledged} changes acknowledged, lost 0",
        started.elapsed().as_secs_f64()
    );
}

/// The harness runs blocking work (HTTP, processes) on the test thread, with a runtime only for
/// the store's queries.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_server_killed_at_random_moments_on_sqlite_loses_no_acknowledged_change() {
    let rt = runtime();
    let db = rt.block_on(db::sqlite());
    kill_the_server_at_random_moments(&rt, db, "server kills, SQLite");
}

#[test]
fn the_server_killed_at_random_moments_on_postgres_loses_no_acknowledged_change() {
    let rt = runtime();
    let Some(db) = rt.block_on(db::postgres()) else {
        return;
    };
    kill_the_server_at_random_moments(&rt, db, "server kills, PostgreSQL");
}

/// The child: a phone that captures and syncs until it is killed. It prints what it has done
/// only once it is done (the case committed to its store, the server's acknowledgement read).
fn phone_child(spec: &str) {
    let mut parts = spec.split('\t');
    let (url, path, token) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut replica = Replica::open(Path::new(path), &KEY).unwrap();
    let grid = replica.identity().unwrap().scope.to_string();
    let mut rng = Rng::new(now_ms() as u64);
    let mut captured = replica.case_ids().unwrap();
    let out = std::io::stdout();
    loop {
        let before = captured.len();
        work(&mut replica, &grid, &mut captured, &mut rng);
        if captured.len() > before {
            let mut out = out.lock();
            writeln!(out, "captured {}", captured[before]).unwrap();
            out.flush().unwrap();
        }
        let req = replica.next_sync_request().unwrap();
        if let Ok(resp) = sync_once(url, token, &req) {
            replica.apply_sync_response(&resp, now_ms()).unwrap();
            let mut out = out.lock();
            for ack in &resp.accepted {
                for h in &ack.hashes {
                    writeln!(out, "acked {} {}", ack.doc, hex(h)).unwrap();
                }
            }
            out.flush().unwrap();
        }
        // A phone syncs a few times a second at most (the server allows 10 a second).
        std::thread::sleep(Duration::from_millis(50 + rng.below(100)));
    }
}

#[test]
fn a_phone_killed_mid_sync_keeps_every_case_it_captured() {
    if let Ok(spec) = std::env::var(PHONE_CHILD) {
        return phone_child(&spec);
    }
    let rt = runtime();
    let db = rt.block_on(db::sqlite());
    let blobs = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("phone.db");
    let grid = format!("{VILLAGE}/01");
    add_user(&rt, &db.store, "worker", &grid);
    let serve = serve(&db.url, blobs.path());
    let mut token = {
        let mut replica = Replica::open(&store_path, &KEY).unwrap();
        login(&serve.url, &mut replica, "worker", "phone-k", &grid)
    };
    let mut token_at = Instant::now();
    let mut rng = seeded("phone kills");
    let captured = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let acked = Arc::new(Mutex::new(Acked::new()));
    let started = Instant::now();
    let kills = kills();
    let me = std::env::current_exe().unwrap();
    // Kills that found changes the server had not acknowledged yet on the phone.
    let mut with_pending = 0;
    for kill in 1..=kills {
        if token_at.elapsed() > Duration::from_secs(600) {
            let mut replica = Replica::open(&store_path, &KEY).unwrap();
            token = login(&serve.url, &mut replica, "worker", "phone-k", &grid);
            token_at = Instant::now();
        }
        let mut child = Command::new(&me)
            .args([
                "a_phone_killed_mid_sync_keeps_every_case_it_captured",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                PHONE_CHILD,
                format!("{}\t{}\t{token}", serve.url, store_path.display()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (c, a) = (captured.clone(), acked.clone());
        let (working, has_worked) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let words: Vec<&str> = line.split(' ').collect();
                match words[..] {
                    ["captured", id] => {
                        c.lock().unwrap().insert(id.to_owned());
                        let _ = working.send(());
                    }
                    ["acked", doc, hash] => {
                        let mut a = a.lock().unwrap();
                        a.entry(doc.to_owned()).or_default().insert(hash.to_owned());
                    }
                    _ => {}
                }
            }
        });
        // The moment is counted from the phone's first capture, not from the process start, so
        // that kills land while it captures, syncs and applies.
        has_worked
            .recv_timeout(Duration::from_secs(30))
            .expect("the phone captured nothing within 30 s");
        std::thread::sleep(Duration::from_millis(rng.below(500)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let after = format!("after phone kill {kill} of {kills}");
        let replica = Replica::open(&store_path, &KEY)
            .unwrap_or_else(|e| panic!("the phone store does not open {after}: {e}"));
        if replica.pending_count().unwrap() > 0 {
            with_pending += 1;
        }
        let on_phone: BTreeSet<String> = replica.case_ids().unwrap().into_iter().collect();
        for id in captured.lock().unwrap().iter() {
            assert!(on_phone.contains(id), "captured case {id} is gone {after}");
            replica
                .case(id)
                .unwrap_or_else(|e| panic!("case {id} does not load {after}: {e}"));
        }
    }
    // Quiet at last: the phone hands over what it still holds.
    let mut replica = Replica::open(&store_path, &KEY).unwrap();
    let mut phone_acked = Acked::new();
    settle(&serve.url, &token, &mut replica, &mut phone_acked);
    assert_eq!(replica.pending_count().unwrap(), 0, "the phone settled");
    drop(serve);
    let captured = captured.lock().unwrap().clone();
    let mut acked = acked.lock().unwrap().clone();
    for (doc, hashes) in phone_acked {
        acked.entry(doc).or_default().extend(hashes);
    }
    assert!(
        captured.len() >= kills / 2,
        "the phone captured too little ({}) for the kills to mean much",
        captured.len()
    );
    rt.block_on(check_server(&db.store, &acked, "after the phone kills"));
    let ids: Vec<String> = replica.case_ids().unwrap();
    rt.block_on(check_converged(&db.store, &replica, &ids));
    eprintln!(
        "phone kills: {kills} kills survived in {:.0} s ({with_pending} with unacknowledged changes); {} cases captured, all kept and on the server",
        started.elapsed().as_secs_f64(),
        captured.len()
    );
}
