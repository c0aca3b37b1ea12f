//! The phones of a benchmark: the workload's options, the fleet of signed-in replicas that
//! captured cases offline, and the benchmark's own database (the test kit's).

use std::path::PathBuf;

use anyhow::anyhow;
use gridsync_core::case::{Location, NewCase, Party};
use gridsync_core::protocol::SyncResponse;
use gridsync_core::session::{Answer, SyncSession};
use gridsync_core::{CaseKind, Identity, JurisdictionPath, Replica, Role};
use gridsync_server::auth::{self, Keys};
use gridsync_server::store::{Store, UserRecord};
use gridsync_testkit::db::{self, TestDb};
use indicatif::{ProgressBar, ProgressStyle};

pub(crate) const KEY: [u8; 32] = [9; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Database {
    Sqlite,
    Postgres,
}

impl Database {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres => "postgres",
        }
    }
}

impl Device {
    /// Applies a sync answer through the phone's session.
    pub(crate) fn answer(
        &mut self,
        session: &mut SyncSession,
        resp: SyncResponse,
    ) -> anyhow::Result<()> {
        Ok(session.answer(
            &mut self.replica,
            Answer::Synced(Box::new(resp)),
            gridsync_server::now_ms(),
        )?)
    }
}

/// Where the `gridsync` binary is.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerBin {
    /// The `gridsync` binary (default: the one next to this program).
    #[arg(long, env = "GRIDSYNC_BIN")]
    pub server_bin: Option<PathBuf>,
}

impl ServerBin {
    pub(crate) fn path(&self) -> anyhow::Result<PathBuf> {
        gridsync_testkit::process::server_bin(self.server_bin.as_ref())
    }
}

/// The phones, what each captured offline, and how many sync at the same moment.
#[derive(Debug, Clone, clap::Args)]
pub struct Phones {
    /// Phones (grid workers; two share each grid, so each pulls the other's cases).
    #[arg(long, default_value_t = 200)]
    pub devices: usize,
    /// Cases each phone captured offline.
    #[arg(long, default_value_t = 20)]
    pub reports: usize,
    /// Edits of each case after capture.
    #[arg(long, default_value_t = 2)]
    pub edits: usize,
    /// Phones syncing at the same moment.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
}

/// The phones and the database they sync into.
#[derive(Debug, Clone, clap::Args)]
pub struct Workload {
    #[command(flatten)]
    pub phones: Phones,
    #[arg(long, value_enum, default_value_t = Database::Sqlite)]
    pub database: Database,
    /// PostgreSQL to create the benchmark's own database in (dropped afterwards).
    #[arg(
        long,
        env = "GRIDSYNC_TEST_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres: String,
    /// Phones as apps older than signing: no key bound, no signatures sent or checked (the
    /// other half of the signing A/B, ADR 0028).
    #[arg(long)]
    pub unsigned: bool,
    /// Phones as apps older than sealing: people's names and phone numbers written plain, no
    /// case keys pushed (the other half of the sealing A/B, ADR 0029).
    #[arg(long)]
    pub unsealed: bool,
}

impl Workload {
    /// `phones` on a SQLite file.
    pub(crate) fn on_sqlite(phones: Phones) -> Workload {
        Workload {
            phones,
            database: Database::Sqlite,
            postgres: String::new(),
            unsigned: false,
            unsealed: false,
        }
    }
}

/// A phone: its store, who signed in, and its access token.
pub(crate) struct Device {
    pub(crate) identity: Identity,
    pub(crate) replica: Replica,
    pub(crate) token: String,
    pub(crate) grid: String,
}

pub(crate) fn bar(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64).with_message(what.to_owned());
    pb.set_style(
        ProgressStyle::with_template("{msg:28} {bar:40} {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// The benchmark's own database: a file under a temporary directory, or a fresh PostgreSQL
/// database created in `w.postgres` and dropped afterwards.
pub(crate) async fn bench_db(w: &Workload) -> anyhow::Result<TestDb> {
    match w.database {
        Database::Sqlite => Ok(db::sqlite().await),
        Database::Postgres => db::postgres_at(&w.postgres).await,
    }
}

/// Device `i`'s grid: two phones per grid, grids spread over villages and townships.
pub(crate) fn grid_of(i: usize) -> String {
    let g = i / 2;
    format!(
        "130322/{:03}/{:03}/{:02}",
        100 + (g / 400) % 900,
        200 + (g / 20) % 20,
        1 + g % 20
    )
}

pub(crate) fn new_case(grid: &JurisdictionPath, device: usize, n: usize) -> NewCase {
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
pub(crate) async fn prepare(w: &Workload, store: &Store) -> anyhow::Result<Vec<Device>> {
    let keys = Keys::load_or_create(store).await?;
    let hash = auth::hash_password("bench-only").map_err(|e| anyhow!("{e}"))?;
    let now = gridsync_server::now_ms();
    let pb = bar(w.phones.devices, "phones capture offline");
    let mut devices = Vec::with_capacity(w.phones.devices);
    for i in 0..w.phones.devices {
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
        match (w.unsigned, replica.device_key()) {
            (false, Some(key)) => {
                let key = gridsync_core::evidence::public_key(&key)
                    .ok_or_else(|| anyhow!("the phone's key is not a key"))?;
                store.bind_device_key(&device, &key).await?;
            }
            _ => replica.set_signing(false)?,
        }
        let identity = Identity::new(&user, Role::GridWorker, scope.clone(), None, &device)?;
        let token = keys.access_token(&identity, now / 1000)?;
        replica.sign_in(identity.clone())?;
        // What the sign-in response gives a phone: the key its cases' keys are sealed to.
        match w.unsealed {
            false => replica.set_server_key(&store.change_key().await?.public())?,
            true => replica.set_sealing(false),
        }
        let start = now - 8 * 3_600_000;
        for n in 0..w.phones.reports {
            let at = start + (n as i64) * 60_000;
            let id = replica.capture(&new_case(&scope, i, n), at)?;
            for e in 0..w.phones.edits {
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

/// Fresh access tokens for every phone: preparing tens of thousands of phones takes longer than
/// a token lives, so tokens minted when the first phone was prepared would expire mid-storm.
pub(crate) async fn refresh_tokens(store: &Store, devices: &mut [Device]) -> anyhow::Result<()> {
    let keys = Keys::load_or_create(store).await?;
    let now = gridsync_server::now_ms() / 1000;
    for d in devices {
        d.token = keys.access_token(&d.identity, now)?;
    }
    Ok(())
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
