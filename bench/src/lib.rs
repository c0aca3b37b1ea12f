//! The benchmark workloads, shared by the `gridsync-bench` binary and its smoke test.
//!
//! Every device is a real `Replica` (the phones' own store, in memory) that captured cases
//! offline; accounts and device bindings are written straight into the database and access
//! tokens signed with the servers' own key, so setting up thousands of phones costs no password
//! hashing and nothing of it is timed.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use gridsync_core::case::{Location, NewCase, Party};
use gridsync_core::protocol::{
    SyncRequest, SyncResponse, decode_response, encode_request, to_hash,
};
use gridsync_core::replica::CaseFilter;
use gridsync_core::session::{Answer, Step, SyncSession};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, Identity, JurisdictionPath, Replica, Role};
use gridsync_server::auth::{self, Keys};
use gridsync_server::store::{Store, UserRecord};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sqlx::Row;

const KEY: [u8; 32] = [9; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Database {
    Sqlite,
    Postgres,
}

impl Database {
    fn as_str(self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres => "postgres",
        }
    }
}

/// What the phones captured offline, and how many sync at the same moment.
#[derive(Debug, Clone, clap::Args)]
pub struct Workload {
    /// Phones (grid workers; two share each grid, so each pulls the other's cases).
    #[arg(long, default_value_t = 200)]
    pub devices: usize,
    /// Cases each phone captured offline.
    #[arg(long, default_value_t = 20)]
    pub reports: usize,
    /// Edits of each case after capture.
    #[arg(long, default_value_t = 2)]
    pub edits: usize,
    #[arg(long, value_enum, default_value_t = Database::Sqlite)]
    pub database: Database,
    /// PostgreSQL to create the benchmark's own database in (dropped afterwards).
    #[arg(
        long,
        env = "GRIDSYNC_TEST_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres: String,
    /// Phones syncing at the same moment.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StormOptions {
    #[command(flatten)]
    pub workload: Workload,
    /// `gridsync serve` processes on the one database (more than one needs PostgreSQL).
    #[arg(long, default_value_t = 1)]
    pub servers: usize,
    /// The `gridsync` binary (default: the one next to this program).
    #[arg(long, env = "GRIDSYNC_BIN")]
    pub server_bin: Option<PathBuf>,
}

/// One run's figures: the JSON line the binary prints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub database: &'static str,
    pub servers: usize,
    pub devices: usize,
    pub reports: usize,
    /// Automerge changes pushed (a capture and each edit).
    pub changes: usize,
    pub seconds: f64,
    pub reports_per_s: f64,
    pub changes_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Request and response bytes per report (HTTP bodies).
    pub bytes_per_report: f64,
    /// Body bytes on the wire per raw Automerge change byte pushed.
    pub wire_per_change_byte: f64,
    pub round_trips_per_session: f64,
    /// Peak resident memory of the server processes (MB, summed).
    pub server_rss_mb: f64,
    /// Changes the server acknowledged that it does not hold afterwards.
    pub lost: usize,
    /// Every phone holds every case of its grid, and has nothing left to send.
    pub converged: bool,
}

/// A phone: its store, who signed in, and its access token.
struct Device {
    identity: Identity,
    replica: Replica,
    token: String,
    grid: String,
}

/// What syncing the phones measured.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    wire_bytes: usize,
    change_bytes: usize,
    round_trips: usize,
    acked: HashSet<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.wire_bytes += other.wire_bytes;
        self.change_bytes += other.change_bytes;
        self.round_trips += other.round_trips;
        self.acked.extend(other.acked);
    }

    /// Counts what one exchange carried and acknowledged.
    fn exchange(&mut self, req: &SyncRequest, resp: &SyncResponse) -> anyhow::Result<()> {
        self.change_bytes += req
            .push
            .iter()
            .flat_map(|d| &d.changes)
            .map(|c| c.len())
            .sum::<usize>();
        self.round_trips += 1;
        for ack in &resp.accepted {
            for h in &ack.hashes {
                self.acked.insert(to_hash(h)?.to_string());
            }
        }
        Ok(())
    }
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64).with_message(what.to_owned());
    pb.set_style(
        ProgressStyle::with_template("{msg:28} {bar:40} {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// The benchmark's own database: a file under a temporary directory, or a fresh PostgreSQL
/// database dropped at the end.
struct BenchDb {
    url: String,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl BenchDb {
    async fn create(w: &Workload) -> anyhow::Result<BenchDb> {
        let dir = tempfile::tempdir()?;
        match w.database {
            Database::Sqlite => Ok(BenchDb {
                url: format!("sqlite://{}", dir.path().join("bench.db").display()),
                _dir: dir,
                postgres: None,
            }),
            Database::Postgres => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&w.postgres)
                    .await
                    .with_context(|| format!("PostgreSQL at {}", w.postgres))?;
                let name = format!("gs_bench_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                let (base, _) = w
                    .postgres
                    .rsplit_once('/')
                    .ok_or_else(|| anyhow!("no database name in {}", w.postgres))?;
                Ok(BenchDb {
                    url: format!("{base}/{name}"),
                    _dir: dir,
                    postgres: Some((w.postgres.clone(), name)),
                })
            }
        }
    }

    async fn drop_database(&self) -> anyhow::Result<()> {
        if let Some((admin, name)) = &self.postgres {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await?;
        }
        Ok(())
    }
}

/// Device `i`'s grid: two phones per grid, grids spread over villages and townships.
fn grid_of(i: usize) -> String {
    let g = i / 2;
    format!(
        "130322/{:03}/{:03}/{:02}",
        100 + (g / 400) % 900,
        200 + (g / 20) % 20,
        1 + g % 20
    )
}

fn new_case(grid: &JurisdictionPath, device: usize, n: usize) -> NewCase {
    const CATEGORIES: [&str; 4] = ["road_damage", "street_light", "sanitation", "water_supply"];
    NewCase {
        kind: CaseKind::Incident,
        jurisdiction: grid.clone(),
        category: CATEGORIES[n % CATEGORIES.len()].into(),
        title: format!("村道路面破损 第{n}处（{device}号网格员）"),
        description: "路面塌陷约一米见方，已设置临时警示标志，请尽快安排修复。".into(),
        location: Location {
            lat: Some(39.9 + (n as f64) * 1e-4),
            lon: Some(116.4 + (device as f64) * 1e-4),
            accuracy_m: Some(8.0),
            address: format!("{device}组村东头"),
        },
        people: vec![Party {
            id: String::new(),
            name: "张三".into(),
            role: "requester".into(),
            phone: "13800000000".into(),
        }],
    }
}

/// Accounts, device bindings and tokens in the database; each phone's offline captures.
async fn prepare(w: &Workload, store: &Store) -> anyhow::Result<Vec<Device>> {
    let keys = Keys::load_or_create(store).await?;
    let hash = auth::hash_password("bench-only").map_err(|e| anyhow!("{e}"))?;
    let now = gridsync_server::now_ms();
    let pb = bar(w.devices, "phones capture offline");
    let mut devices = Vec::with_capacity(w.devices);
    for i in 0..w.devices {
        let grid = grid_of(i);
        let scope = JurisdictionPath::parse(&grid)?;
        let user = format!("gw{i:06}");
        store
            .add_user(
                &UserRecord {
                    id: user.clone(),
                    display_name: user.clone(),
                    role: Role::GridWorker,
                    scope: scope.clone(),
                    department: None,
                    password_hash: hash.clone(),
                    disabled: false,
                },
                now,
            )
            .await?;
        let device = format!("bench-{i:06}");
        let mut replica = Replica::open_in_memory(&KEY)?;
        store
            .bind_device(&device, &user, replica.actor_id(), now)
            .await?;
        let identity = Identity::new(&user, Role::GridWorker, scope.clone(), None, &device)?;
        let token = keys.access_token(&identity, now / 1000)?;
        replica.sign_in(identity.clone())?;
        let start = now - 8 * 3_600_000;
        for n in 0..w.reports {
            let at = start + (n as i64) * 60_000;
            let id = replica.capture(&new_case(&scope, i, n), at)?;
            for e in 0..w.edits {
                replica.edit(&id, at + 1 + e as i64, |ed| {
                    ed.set_description(&format!("补充情况（第{}次）：群众反映已影响通行。", e + 1))
                })?;
            }
        }
        devices.push(Device {
            identity,
            replica,
            token,
            grid,
        });
        pb.inc(1);
    }
    pb.finish();
    Ok(devices)
}

/// A `gridsync serve` process on the benchmark's database.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(bin: &PathBuf, db_url: &str, blobs: &std::path::Path) -> anyhow::Result<Self> {
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--supervise-every", "0"])
            .arg("--blob-store")
            .arg(blobs)
            .env("DATABASE_URL", db_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        let mut reader = std::io::BufReader::new(stdout);
        reader.read_line(&mut line)?;
        // Keep reading what the server prints after its address (warnings under load), so its
        // writes never meet a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = line
            .trim()
            .strip_prefix("gridsync listening on ")
            .ok_or_else(|| anyhow!("gridsync serve did not start: {line:?}"))?
            .to_owned();
        Ok(ServerProcess { child, url })
    }

    /// Peak resident memory (VmHWM), MB.
    fn peak_rss_mb(&self) -> f64 {
        Self::peak_rss_mb_of(self.child.id())
    }

    /// Peak resident memory (VmHWM) of process `pid`, MB; 0 when unknown.
    fn peak_rss_mb_of(pid: u32) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `gridsync` binary: `explicit`, or the one next to this program.
fn server_bin(explicit: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(bin) = explicit {
        return Ok(bin.clone());
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    // Test binaries live in target/<profile>/deps.
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("gridsync");
    if !bin.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p gridsync-server --bin gridsync` (the profile of this program), or pass --server-bin",
            bin.display()
        );
    }
    Ok(bin)
}

/// Syncs one phone through the core's sync session until the server has everything it pushed
/// and it has everything the server sent; one exchange when nothing was paged.
fn sync_device(
    agent: &ureq::Agent,
    url: &str,
    d: &mut Device,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let mut session = SyncSession::cases_only();
    while let Step::Sync(req) = session.next(&d.replica)? {
        let body = encode_request(&req)?;
        let started = Instant::now();
        let mut resp = agent
            .post(format!("{url}/v1/sync"))
            .header("Authorization", &format!("Bearer {}", d.token))
            .content_type("application/x-gridsync")
            .send(&body[..])?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()?;
        tally.latencies.push(started.elapsed());
        if status != 200 {
            bail!(
                "{}: HTTP {status}: {}",
                d.identity.device,
                String::from_utf8_lossy(&bytes)
            );
        }
        tally.wire_bytes += body.len() + bytes.len();
        let resp = decode_response(&bytes)?;
        tally.exchange(&req, &resp)?;
        session.answer(
            &mut d.replica,
            Answer::Synced(resp),
            gridsync_server::now_ms(),
        )?;
    }
    settled(&session, d)
}

/// A phone the server kept telling "more" past the session's round cap is a failure, not a slow
/// link.
fn settled(session: &SyncSession, d: &Device) -> anyhow::Result<()> {
    if session.outcome().more {
        bail!(
            "{} did not settle in {} rounds",
            d.identity.device,
            session.outcome().rounds
        );
    }
    Ok(())
}

/// Syncs every phone, `concurrency` at a time, phone `i` through `urls[i % urls.len()]`.
fn sync_all(
    devices: &mut [Device],
    urls: &[String],
    concurrency: usize,
    what: &str,
) -> anyhow::Result<Tally> {
    let queue: Mutex<Vec<(usize, &mut Device)>> =
        Mutex::new(devices.iter_mut().enumerate().rev().collect());
    let total = Mutex::new(Tally::default());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let pb = bar(queue.lock().map(|q| q.len()).unwrap_or(0), what);
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut mine = Tally::default();
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some((i, d)) = next else { break };
                    if let Err(e) = sync_device(&agent, &urls[i % urls.len()], d, &mut mine) {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                        break;
                    }
                    pb.inc(1);
                }
                if let Ok(mut t) = total.lock() {
                    t.merge(mine);
                }
            });
        }
    });
    pb.finish();
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    total
        .into_inner()
        .map_err(|_| anyhow!("a sync thread panicked"))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Acknowledged changes missing from the server, and whether every phone holds its grid.
async fn check(store: &Store, tally: &Tally, devices: &[Device]) -> anyhow::Result<(usize, bool)> {
    let stored: HashSet<String> = sqlx::query("SELECT hash FROM changes")
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    let lost = tally.acked.difference(&stored).count();
    let mut per_grid: HashMap<String, usize> = HashMap::new();
    for row in sqlx::query("SELECT path, COUNT(*) FROM cases GROUP BY path")
        .fetch_all(store.pool())
        .await?
    {
        per_grid.insert(row.try_get(0)?, row.try_get::<i64, _>(1)? as usize);
    }
    let mut converged = true;
    for d in devices {
        let held = d.replica.list(&CaseFilter::default())?.len();
        let expected = per_grid.get(&d.grid).copied().unwrap_or(0);
        converged &= held == expected && d.replica.pending_count()? == 0;
    }
    Ok((lost, converged))
}

fn report(mode: &'static str, w: &Workload, servers: usize, seconds: f64, tally: &Tally) -> Report {
    let reports = w.devices * w.reports;
    let changes = reports * (1 + w.edits);
    let mut lat = tally.latencies.clone();
    lat.sort();
    Report {
        mode,
        database: w.database.as_str(),
        servers,
        devices: w.devices,
        reports,
        changes,
        seconds,
        reports_per_s: reports as f64 / seconds,
        changes_per_s: changes as f64 / seconds,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        bytes_per_report: tally.wire_bytes as f64 / reports.max(1) as f64,
        wire_per_change_byte: tally.wire_bytes as f64 / tally.change_bytes.max(1) as f64,
        round_trips_per_session: tally.round_trips as f64 / w.devices.max(1) as f64,
        ..Report::default()
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The reconnect storm through `gridsync serve` processes.
pub fn storm(opts: &StormOptions) -> anyhow::Result<Report> {
    let w = &opts.workload;
    if opts.servers > 1 && w.database != Database::Postgres {
        bail!("several servers share one PostgreSQL: pass --database postgres");
    }
    let bin = server_bin(opts.server_bin.as_ref())?;
    let rt = runtime()?;
    let db = rt.block_on(BenchDb::create(w))?;
    let result = (|| {
        let store = rt.block_on(async {
            let store = Store::connect(&db.url).await?;
            store.migrate().await?;
            anyhow::Ok(store)
        })?;
        let mut devices = rt.block_on(prepare(w, &store))?;
        let servers = (0..opts.servers)
            .map(|_| ServerProcess::start(&bin, &db.url, db._dir.path()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
        let started = Instant::now();
        let tally = sync_all(&mut devices, &urls, w.concurrency, "reconnect storm")?;
        let seconds = started.elapsed().as_secs_f64();
        // Untimed: each phone once more, to pull what its grid partner pushed meanwhile.
        let catch_up = sync_all(&mut devices, &urls, w.concurrency, "catch-up sync")?;
        let mut r = report("storm", w, opts.servers, seconds, &tally);
        r.server_rss_mb = servers.iter().map(ServerProcess::peak_rss_mb).sum();
        drop(servers);
        let mut all = tally;
        all.merge(catch_up);
        let (lost, converged) = rt.block_on(check(&store, &all, &devices))?;
        r.lost = lost;
        r.converged = converged;
        rt.block_on(store.pool().close());
        Ok(r)
    })();
    rt.block_on(db.drop_database())?;
    result
}

/// The phone's own store, full of cases.
#[derive(Debug, Clone, clap::Args)]
pub struct PhoneOptions {
    /// Cases already in the store, captured over months and never synced: the largest store
    /// (each change is in its document and in the outbox until acknowledged).
    #[arg(long, default_value_t = 10_000)]
    pub cases: usize,
    /// Times the full store is opened through the FFI.
    #[arg(long, default_value_t = 5)]
    pub opens: usize,
    /// Cases then captured through the FFI, each timed.
    #[arg(long, default_value_t = 300)]
    pub captures: usize,
}

/// How the phone's store behaves when full.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhoneReport {
    pub mode: &'static str,
    pub cases: usize,
    /// The encrypted store on disk (database and WAL), MB.
    pub store_mb: f64,
    /// `FieldStore::open` (what the app calls at start), first and slowest of `opens`, ms.
    pub open_first_ms: f64,
    pub open_max_ms: f64,
    /// `FieldStore::capture`, ms.
    pub capture_p50_ms: f64,
    pub capture_p99_ms: f64,
    /// `FieldStore::list_cases` of everything (the app's case list), ms.
    pub list_all_ms: f64,
}

/// Fills an encrypted on-disk store with `cases` (through the core, untimed), then times what
/// the app does through the FFI: opening it, capturing cases, listing them.
pub fn phone(opts: &PhoneOptions) -> anyhow::Result<PhoneReport> {
    use gridsync_ffi::{CaseFilterRecord, FieldStore, NewCaseRecord, PartyRecord};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("field.db");
    let grid = grid_of(0);
    let scope = JurisdictionPath::parse(&grid)?;
    {
        let mut replica = Replica::open(&path, &KEY)?;
        replica.sign_in(Identity::new(
            "gw000000",
            Role::GridWorker,
            scope.clone(),
            None,
            "bench-phone",
        )?)?;
        let pb = bar(opts.cases, "phone store fills");
        let start = gridsync_server::now_ms() - 180 * 86_400_000;
        for n in 0..opts.cases {
            replica.capture(&new_case(&scope, 0, n), start + (n as i64) * 60_000)?;
            pb.inc(1);
        }
        pb.finish();
    }
    let store_mb = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1e6;
    let path_s = path.to_string_lossy().into_owned();
    let mut opens = Vec::with_capacity(opts.opens.max(1));
    let mut store = None;
    for _ in 0..opts.opens.max(1) {
        drop(store.take());
        let t = Instant::now();
        store = Some(FieldStore::open(path_s.clone(), KEY.to_vec())?);
        opens.push(t.elapsed());
    }
    let store = store.ok_or_else(|| anyhow!("the store did not open"))?;
    let mut captures = Vec::with_capacity(opts.captures);
    let pb = bar(opts.captures, "captures through the FFI");
    for n in 0..opts.captures {
        let c = new_case(&scope, 0, opts.cases + n);
        let record = NewCaseRecord {
            kind: c.kind.as_str().into(),
            jurisdiction: grid.clone(),
            category: c.category,
            title: c.title,
            description: c.description,
            address: c.location.address,
            lat: c.location.lat,
            lon: c.location.lon,
            people: c
                .people
                .into_iter()
                .map(|p| PartyRecord {
                    id: String::new(),
                    name: p.name,
                    role: p.role,
                    phone: p.phone,
                })
                .collect(),
        };
        let t = Instant::now();
        store.capture(record)?;
        captures.push(t.elapsed());
        pb.inc(1);
    }
    pb.finish();
    let t = Instant::now();
    let listed = store.list_cases(CaseFilterRecord::default())?.len();
    let list_all = t.elapsed();
    if listed != opts.cases + opts.captures {
        bail!(
            "the store lists {listed} cases, not {}",
            opts.cases + opts.captures
        );
    }
    captures.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(PhoneReport {
        mode: "phone",
        cases: opts.cases,
        store_mb,
        open_first_ms: ms(opens[0]),
        open_max_ms: opens.iter().copied().map(ms).fold(0.0, f64::max),
        capture_p50_ms: percentile(&captures, 0.5),
        capture_p99_ms: percentile(&captures, 0.99),
        list_all_ms: ms(list_all),
    })
}

/// Two servers on one PostgreSQL, one phone on each, both of one grid.
#[derive(Debug, Clone, clap::Args)]
pub struct HandoffOptions {
    /// Cases phone A reports through server 1, each pulled by phone B through server 2.
    #[arg(long, default_value_t = 50)]
    pub rounds: usize,
    /// PostgreSQL to create the benchmark's own database in (dropped afterwards).
    #[arg(
        long,
        env = "GRIDSYNC_TEST_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres: String,
    /// The `gridsync` binary (default: the one next to this program).
    #[arg(long, env = "GRIDSYNC_BIN")]
    pub server_bin: Option<PathBuf>,
}

/// How soon a change accepted by one server reaches a phone syncing through another.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HandoffReport {
    pub mode: &'static str,
    pub rounds: usize,
    /// Rounds in which phone B's first sync after phone A's acknowledgement brought the case.
    pub seen_in_first_pull: usize,
    /// From phone A holding the acknowledgement to phone B holding the case, ms.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Scale-out consistency: each round phone A reports a case through server 1 and, as soon as
/// it is acknowledged, phone B (same grid) syncs once through server 2. Servers keep no state
/// of their own between requests (the document cache is keyed by the stored version), so the
/// first pull must already carry it: no notification between servers is needed.
pub fn handoff(opts: &HandoffOptions) -> anyhow::Result<HandoffReport> {
    let bin = server_bin(opts.server_bin.as_ref())?;
    let w = Workload {
        devices: 2,
        reports: 0,
        edits: 0,
        database: Database::Postgres,
        postgres: opts.postgres.clone(),
        concurrency: 1,
    };
    let rt = runtime()?;
    let db = rt.block_on(BenchDb::create(&w))?;
    let result = (|| {
        let mut devices = rt.block_on(async {
            let store = Store::connect(&db.url).await?;
            store.migrate().await?;
            let devices = prepare(&w, &store).await?;
            store.pool().close().await;
            anyhow::Ok(devices)
        })?;
        let servers = (0..2)
            .map(|_| ServerProcess::start(&bin, &db.url, db._dir.path()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut tally = Tally::default();
        let (a, b) = devices.split_at_mut(1);
        let (a, b) = (&mut a[0], &mut b[0]);
        let grid = JurisdictionPath::parse(&a.grid)?;
        let mut waits = Vec::with_capacity(opts.rounds);
        let mut seen = 0;
        let pb = bar(opts.rounds, "handoff between servers");
        for n in 0..opts.rounds {
            let id = a
                .replica
                .capture(&new_case(&grid, 0, n), gridsync_server::now_ms())?;
            sync_device(&agent, &servers[0].url, a, &mut tally)?;
            let acked = Instant::now();
            sync_device(&agent, &servers[1].url, b, &mut tally)?;
            if b.replica.case(&id).is_ok() {
                seen += 1;
                waits.push(acked.elapsed());
            }
            pb.inc(1);
        }
        pb.finish();
        waits.sort();
        Ok(HandoffReport {
            mode: "handoff",
            rounds: opts.rounds,
            seen_in_first_pull: seen,
            p50_ms: percentile(&waits, 0.5),
            p99_ms: percentile(&waits, 0.99),
            max_ms: percentile(&waits, 1.0),
        })
    })();
    rt.block_on(db.drop_database())?;
    result
}

/// The same workload applied in-process straight into the store: no HTTP, no encoding, and no
/// phone work in the timed part (every first request is built before the clock starts and the
/// answers applied after it stops), so it is the store's own ceiling.
pub fn limit(w: &Workload) -> anyhow::Result<Report> {
    let rt = runtime()?;
    let db = rt.block_on(BenchDb::create(w))?;
    let result = rt.block_on(async {
        let store = Store::connect(&db.url).await?;
        store.migrate().await?;
        let mut devices = prepare(w, &store).await?;
        let taxonomy = Arc::new(Taxonomy::builtin().clone());
        let mut work = Vec::with_capacity(devices.len());
        for d in &devices {
            let ctx = store
                .device_context(&d.identity.device)
                .await?
                .ok_or_else(|| anyhow!("device not bound"))?;
            work.push((ctx, d.identity.clone(), d.replica.next_sync_request()?));
        }
        let permits = Arc::new(tokio::sync::Semaphore::new(w.concurrency.max(1)));
        let pb = bar(devices.len(), "in-process pushes");
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (ctx, who, req)) in work.into_iter().enumerate() {
            let (store, taxonomy, permits, pb) =
                (store.clone(), taxonomy.clone(), permits.clone(), pb.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await?;
                let t = Instant::now();
                let resp = store
                    .sync(&ctx, &who, &req, &taxonomy, gridsync_server::now_ms())
                    .await?;
                let took = t.elapsed();
                pb.inc(1);
                anyhow::Ok((i, req, resp, took))
            });
        }
        let mut answers = Vec::with_capacity(devices.len());
        while let Some(done) = tasks.join_next().await {
            answers.push(done??);
        }
        let seconds = started.elapsed().as_secs_f64();
        pb.finish();
        // Untimed: the phones apply the answers (and sync on, should anything have been paged).
        let mut tally = Tally::default();
        for (i, req, resp, took) in answers {
            tally.latencies.push(took);
            tally.exchange(&req, &resp)?;
            let d = &mut devices[i];
            let ctx = store
                .device_context(&d.identity.device)
                .await?
                .ok_or_else(|| anyhow!("device not bound"))?;
            let mut session = SyncSession::cases_only();
            session.answer(
                &mut d.replica,
                Answer::Synced(resp),
                gridsync_server::now_ms(),
            )?;
            while let Step::Sync(req) = session.next(&d.replica)? {
                let resp = store
                    .sync(
                        &ctx,
                        &d.identity,
                        &req,
                        &taxonomy,
                        gridsync_server::now_ms(),
                    )
                    .await?;
                tally.exchange(&req, &resp)?;
                session.answer(
                    &mut d.replica,
                    Answer::Synced(resp),
                    gridsync_server::now_ms(),
                )?;
            }
            settled(&session, d)?;
        }
        let mut r = report("limit", w, 0, seconds, &tally);
        let (lost, _) = check(&store, &tally, &devices).await?;
        r.lost = lost;
        r.converged = devices
            .iter()
            .all(|d| d.replica.pending_count().is_ok_and(|n| n == 0));
        store.pool().close().await;
        anyhow::Ok(r)
    });
    rt.block_on(db.drop_database())?;
    result
}

/// One phone on a weak link.
#[derive(Debug, Clone, clap::Args)]
pub struct LinkOptions {
    /// Cases the phone captured offline.
    #[arg(long, default_value_t = 20)]
    pub reports: usize,
    /// Edits of each case after capture.
    #[arg(long, default_value_t = 2)]
    pub edits: usize,
    /// Link speed each way, kbit/s (2G EDGE in a village: 40).
    #[arg(long, default_value_t = 40)]
    pub kbps: u64,
    /// Round-trip time, ms.
    #[arg(long, default_value_t = 500)]
    pub rtt_ms: u64,
    /// The `gridsync` binary (default: the one next to this program).
    #[arg(long, env = "GRIDSYNC_BIN")]
    pub server_bin: Option<PathBuf>,
}

/// The link's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkReport {
    pub mode: &'static str,
    pub reports: usize,
    pub changes: usize,
    pub kbps: u64,
    pub rtt_ms: u64,
    /// Raw Automerge change bytes pushed.
    pub change_bytes: usize,
    /// Bytes that crossed the link, both ways, HTTP and TCP payload (headers included).
    pub link_bytes: usize,
    pub bytes_per_report: f64,
    pub round_trips_per_session: f64,
    /// From the first byte sent to the phone holding the last answer.
    pub link_seconds: f64,
    /// The change bytes at the link's speed plus one round trip.
    pub link_min_seconds: f64,
    pub lost: usize,
}

/// A TCP relay that delays each byte by half the round trip and lets through `bytes_per_s`
/// each way, counting what it carries.
struct WeakLink {
    url: String,
    carried: Arc<std::sync::atomic::AtomicUsize>,
}

impl WeakLink {
    fn start(upstream: &str, bytes_per_s: f64, one_way: Duration) -> anyhow::Result<WeakLink> {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let carried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = carried.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                // The connection itself takes a round trip to set up.
                std::thread::sleep(one_way * 2);
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(from), Ok(to)) = (from, to) else {
                        continue;
                    };
                    let count = count.clone();
                    std::thread::spawn(move || carry(from, to, bytes_per_s, one_way, &count));
                }
            }
        });
        Ok(WeakLink { url, carried })
    }
}

/// One direction: bytes leave at the link's pace (serialisation) and arrive `one_way` later.
fn carry(
    mut from: std::net::TcpStream,
    to: std::net::TcpStream,
    bytes_per_s: f64,
    one_way: Duration,
    count: &std::sync::atomic::AtomicUsize,
) {
    use std::io::{Read, Write};
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let mut to_writer = to;
    let writer = std::thread::spawn(move || {
        for (due, bytes) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to_writer.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to_writer.shutdown(std::net::Shutdown::Write);
    });
    let mut free_at = Instant::now();
    let mut buf = [0u8; 1460];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                let start = free_at.max(Instant::now());
                free_at = start + Duration::from_secs_f64(n as f64 / bytes_per_s);
                if tx.send((free_at + one_way, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}

/// One phone syncs its offline cases over an emulated 2G link.
pub fn link(opts: &LinkOptions) -> anyhow::Result<LinkReport> {
    let w = Workload {
        devices: 1,
        reports: opts.reports,
        edits: opts.edits,
        database: Database::Sqlite,
        postgres: String::new(),
        concurrency: 1,
    };
    let bin = server_bin(opts.server_bin.as_ref())?;
    let rt = runtime()?;
    let db = rt.block_on(BenchDb::create(&w))?;
    let store = rt.block_on(async {
        let store = Store::connect(&db.url).await?;
        store.migrate().await?;
        anyhow::Ok(store)
    })?;
    let mut devices = rt.block_on(prepare(&w, &store))?;
    let server = ServerProcess::start(&bin, &db.url, db._dir.path())?;
    let bytes_per_s = opts.kbps as f64 * 1000.0 / 8.0;
    let one_way = Duration::from_millis(opts.rtt_ms / 2);
    let weak = WeakLink::start(&server.url, bytes_per_s, one_way)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut tally = Tally::default();
    let started = Instant::now();
    sync_device(&agent, &weak.url, &mut devices[0], &mut tally)?;
    let link_seconds = started.elapsed().as_secs_f64();
    let (lost, _) = rt.block_on(check(&store, &tally, &devices))?;
    drop(server);
    let link_bytes = weak.carried.load(std::sync::atomic::Ordering::Relaxed);
    let changes = opts.reports * (1 + opts.edits);
    Ok(LinkReport {
        mode: "link",
        reports: opts.reports,
        changes,
        kbps: opts.kbps,
        rtt_ms: opts.rtt_ms,
        change_bytes: tally.change_bytes,
        link_bytes,
        bytes_per_report: link_bytes as f64 / opts.reports.max(1) as f64,
        round_trips_per_session: tally.round_trips as f64,
        link_seconds,
        link_min_seconds: tally.change_bytes as f64 / bytes_per_s + opts.rtt_ms as f64 / 1000.0,
        lost,
    })
}

/// The same documents through the automerge-repo sync server.
#[derive(Debug, Clone, clap::Args)]
pub struct PeerOptions {
    /// Phones.
    #[arg(long, default_value_t = 200)]
    pub devices: usize,
    /// Cases each phone captured offline.
    #[arg(long, default_value_t = 20)]
    pub reports: usize,
    /// Edits of each case after capture.
    #[arg(long, default_value_t = 2)]
    pub edits: usize,
    /// Phones pushing at the same moment.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Scratch directory for the npm packages (installed on first use, never committed).
    #[arg(long, default_value = "target/peer-bench")]
    pub scratch: PathBuf,
}

/// The peer's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerReport {
    pub mode: &'static str,
    pub peer: &'static str,
    pub devices: usize,
    pub reports: usize,
    pub seconds: f64,
    pub peer_reports_per_s: f64,
    pub server_rss_mb: f64,
}

/// The sync server's version measured (its automerge-repo is 1.x; the client uses the same).
const PEER_PACKAGE: &str = "@automerge/automerge-repo-sync-server@0.2.8";

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .chars()
                .take(2000)
                .collect::<String>()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs the sync server (and with it automerge-repo 1.x) into the scratch directory.
fn install_peer(scratch: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(scratch)?;
    std::fs::write(
        scratch.join("client.mjs"),
        include_str!("../peer/client.mjs"),
    )?;
    if scratch
        .join("node_modules/@automerge/automerge-repo-sync-server/src/index.js")
        .exists()
    {
        return Ok(());
    }
    eprintln!(
        "installing {PEER_PACKAGE} into {} with npm",
        scratch.display()
    );
    std::fs::write(
        scratch.join("package.json"),
        r#"{"name":"gridsync-peer-bench","private":true,"type":"module"}"#,
    )?;
    run(Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            PEER_PACKAGE,
        ])
        .current_dir(scratch))?;
    Ok(())
}

/// The phones' offline documents, as the peer's client reads them: per phone, base64 saves.
fn export_documents(devices: &[Device]) -> anyhow::Result<Vec<Vec<String>>> {
    use base64::Engine as _;
    devices
        .iter()
        .map(|d| {
            d.replica
                .list(&CaseFilter::default())?
                .iter()
                .map(|s| {
                    let mut doc = d.replica.case(&s.id)?;
                    Ok(base64::engine::general_purpose::STANDARD.encode(doc.save()))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .collect()
}

/// The same workload through `@automerge/automerge-repo-sync-server`, driven by a Node client.
pub fn peer(opts: &PeerOptions) -> anyhow::Result<PeerReport> {
    let w = Workload {
        devices: opts.devices,
        reports: opts.reports,
        edits: opts.edits,
        database: Database::Sqlite,
        postgres: String::new(),
        concurrency: opts.concurrency,
    };
    let scratch = std::path::absolute(&opts.scratch)?;
    install_peer(&scratch)?;
    let rt = runtime()?;
    let db = rt.block_on(BenchDb::create(&w))?;
    let devices = rt.block_on(async {
        let store = Store::connect(&db.url).await?;
        store.migrate().await?;
        prepare(&w, &store).await
    })?;
    let docs_file = scratch.join("docs.json");
    std::fs::write(
        &docs_file,
        serde_json::to_vec(&export_documents(&devices)?)?,
    )?;
    let data = scratch.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let mut server = Command::new("node")
        .arg("node_modules/@automerge/automerge-repo-sync-server/src/index.js")
        .current_dir(&scratch)
        .env("PORT", port.to_string())
        .env("DATA_DIR", &data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting node (Node.js 18 or newer is needed)")?;
    let stdout = server.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    if !line.contains("Listening on port") {
        let _ = server.kill();
        bail!("the sync server did not start: {line:?}");
    }
    let result = run(Command::new("node")
        .arg("client.mjs")
        .arg(format!("ws://127.0.0.1:{port}"))
        .arg(&docs_file)
        .arg(opts.concurrency.to_string())
        .current_dir(&scratch));
    let rss = ServerProcess::peak_rss_mb_of(server.id());
    let _ = server.kill();
    let _ = server.wait();
    let out = result?;
    let last = out.lines().last().unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_str(last).with_context(|| format!("the client printed {last:?}"))?;
    let seconds = parsed["seconds"]
        .as_f64()
        .ok_or_else(|| anyhow!("no seconds in {last}"))?;
    let reports = opts.devices * opts.reports;
    Ok(PeerReport {
        mode: "peer",
        peer: PEER_PACKAGE,
        devices: opts.devices,
        reports,
        seconds,
        peer_reports_per_s: reports as f64 / seconds,
        server_rss_mb: rss,
    })
}
