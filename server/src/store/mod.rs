//! The authoritative case store: one set of migrations and queries for SQLite (the embedded
//! default) and PostgreSQL (the path to scale), through sqlx's `Any` driver.
//!
//! Portable SQL only: `$n` placeholders (both backends accept them), `ON CONFLICT … DO UPDATE`,
//! `RETURNING`, BIGINT/TEXT columns and a `{blob}` type substituted per backend in migrations.

mod accounts;
mod assessment;
mod blobs;
mod cache;
mod cases;
mod channels;
mod direct;
mod erasure;
mod evidence;
mod front_door;
mod generation;
mod group;
mod migrate;
mod notices;
mod org;
mod peers;
mod read_audit;
mod rules;
mod sync;

use std::str::FromStr;

use automerge::ActorId;
use direct::Cols as _;
use gridsync_core::{Identity, JurisdictionPath, Role};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection as _, Row};

pub use accounts::{DeviceRow, RefreshUse};
pub use assessment::{
    AccountabilityFilter, AccountabilityRecord, DECISION_NOTE_CHARS, DepartmentRatingRow, DutyRow,
    RATING_COMMENT_CHARS, calendar_month,
};
pub use blobs::{BlobRow, Upload};
pub use cases::{CasePage, CaseQuery, CaseRow, HistoryEntry, Relay};
pub use channels::{
    CHANNEL_KEY_PREFIX, ChannelRow, channel_key_hash, new_channel_id, valid_channel_id,
};
pub use erasure::{DATA_KEY_ENV, Erased};
pub use evidence::{AuditReport, ChangeKey, ReceiptHead};
pub use front_door::{FrontDoorRows, IntakeOrder, ReceiptRow};
pub use generation::RecoveryProgress;
pub use group::GroupCounts;
pub use migrate::SCHEMA_VERSION;
pub use notices::{
    HELD_CAP, HELD_QUIET, NoticeRow, Raised, SMS_PENDING, SMS_SENT, SMS_SKIPPED, SmsRow, SmsWriting,
};
pub use read_audit::{CaseRead, ChainReport, ReadAuditFilter, ReadAuditPage, ReadRow};
pub use rules::{LiveRules, RulesChange};
pub use sync::{
    DEVICE_BUDGET_BYTES, DeviceQuarantine, JudgedPush, KEEP_HEAD_BYTES, KEEP_WHOLE_BYTES,
    PhaseTimes, PullPage, QuarantineEntry, QuarantineTotals, Released, SERVER_DEVICE,
    TOTAL_BUDGET_BYTES, console_device_id, is_server_device,
};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The database a URL names: `sqlite:` or `postgres:`/`postgresql:`.
    pub fn of_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// The database behind one of the pool's connections.
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        match conn.backend_name() {
            "PostgreSQL" => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A read on the store's own SQLite connection (ADR 0044).
    #[error("database: {0}")]
    Read(#[from] rusqlite::Error),
    #[error(transparent)]
    Core(#[from] gridsync_core::Error),
    #[error("unsupported database URL {0:?} (use sqlite:// or postgres://)")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
    #[error("no such {0}")]
    NotFound(String),
    /// The server's own write was refused by admission (and quarantined).
    #[error("refused ({code}): {reason}")]
    Refused { code: &'static str, reason: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What the store knows about a device: its bound actors and who signed in on it.
#[derive(Debug, Clone)]
pub struct DeviceContext {
    pub device: String,
    pub actors: Vec<ActorId>,
    /// Latest sign-in first; the first one is the device's current user.
    pub users: Vec<Identity>,
    pub revoked: bool,
    /// The Ed25519 key bound to the device (ADR 0028): its pushes must be signed with it. The
    /// server's own devices carry the server's change key; `None` for an app older than signing.
    pub sign_key: Option<gridsync_core::evidence::VerifyingKey>,
    /// What the store last recorded of the device's syncs, read with the rest: a sync does not
    /// read it again.
    pub synced: SyncRecord,
}

/// What the store last recorded of a device's syncs; `None` where nothing is (or for a
/// context not read from the devices table: the server's own, the console's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncRecord {
    /// The rules version the device last said it holds.
    pub rules_held: Option<u64>,
    /// When it last synced (ms).
    pub last_sync_at: Option<i64>,
}

/// A user account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub display_name: String,
    pub role: Role,
    pub scope: JurisdictionPath,
    pub department: Option<String>,
    pub password_hash: String,
    pub disabled: bool,
}

/// The case store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite file's own connections for the reads of every request (ADR 0044).
    readers: Option<std::sync::Arc<direct::Readers>>,
    cache: std::sync::Arc<cache::DocCache>,
    /// Pushes between judging and committing (ADR 0013): each holds its judged documents in
    /// memory while it waits for the feed lock, so their number bounds the server's memory.
    pushes: std::sync::Arc<tokio::sync::Semaphore>,
    /// Judged pushes waiting for the feed lock, stored together (ADR 0038).
    group: std::sync::Arc<sync::GroupCommit>,
    /// Read-audit appends waiting for their lock row, written together (ADR 0041).
    reads: std::sync::Arc<read_audit::ReadGroup>,
    rules_cache: std::sync::Arc<rules::RulesCache>,
    /// The revocations phones must know, read at most once a minute (`peers`): not a query on
    /// every sync.
    revocations: std::sync::Arc<peers::RevocationCache>,
    /// The server's change-signing key, read (or made) on first use, after the migrations.
    change_key: std::sync::Arc<tokio::sync::OnceCell<std::sync::Arc<evidence::ChangeKey>>>,
    /// The store generation in force and whether it began with a restore (ADR 0032), read on
    /// first use.
    generation: std::sync::Arc<tokio::sync::OnceCell<(gridsync_core::protocol::Generation, bool)>>,
    /// The key case keys are wrapped under (ADR 0029), read on first use.
    data_key: std::sync::Arc<tokio::sync::OnceCell<std::sync::Arc<[u8; 32]>>>,
    /// SMS rows are written only while a gateway is configured (ADR 0027).
    sms: std::sync::Arc<std::sync::RwLock<Option<SmsWriting>>>,
}

/// Pushes judged or stored at once per server: enough to judge on every core while a group
/// holds the feed lock and to make that group large (it is also the largest group: with 4, a
/// storm judged four, committed four, and judged the next four), few enough that a storm of
/// thousands of phones does not hold thousands of judged documents (ADR 0038).
pub const PUSHES_IN_FLIGHT: usize = 16;

impl Store {
    /// Connects to `sqlite://path` (created if missing; WAL, `synchronous=FULL`) or
    /// `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time in SQLite anyway; a few readers beside it.
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            // No ping before every checkout: it doubled the round trips of every statement run
            // on the pool (on SQLite each is a hand-off to the connection's thread and back).
            // A connection that died meanwhile fails its statement and is dropped; the request
            // fails and the phone's next sync retries (ADR 0039).
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Set explicitly: an acknowledged change must survive power loss.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 10000",
                            // 16 MiB of pages per connection (the default is 2 MiB): the
                            // projection's indexes and the feed's tail stay in memory instead
                            // of being read back with a syscall per page during a storm.
                            "PRAGMA cache_size = -16384",
                            // Statement journals (the undo of one multi-row INSERT inside
                            // its transaction) in memory: past 64 KiB they spilled to a temp
                            // file, a write syscall per page. Crash recovery is the WAL's.
                            "PRAGMA temp_store = MEMORY",
                            // Pages read through a memory map, not a read() each (ADR 0042):
                            // in WAL mode every commit empties the other connections' page
                            // caches, so during a storm most lookups read pages again.
                            "PRAGMA mmap_size = 268435456",
                            // A destroyed case key must not linger in a freed page (ADR 0029).
                            "PRAGMA secure_delete = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    } else {
                        // Every statement planned for its values (ADR 0046): a generic plan
                        // cached while the tables were small kept scanning them whole as
                        // they grew (a storm into an empty database: 7 ms of PostgreSQL's
                        // CPU a report at 20,000 phones).
                        sqlx::query("SET plan_cache_mode = force_custom_plan")
                            .execute(&mut *conn)
                            .await?;
                    }
                    conn.ping().await
                })
            })
            .connect_with(options)
            .await?;
        let readers = match backend {
            Backend::Sqlite => direct::Readers::of(&pool).await?.map(std::sync::Arc::new),
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            backend,
            readers,
            cache: std::sync::Arc::new(cache::DocCache::new(cache::DEFAULT_CAPACITY)),
            pushes: std::sync::Arc::new(tokio::sync::Semaphore::new(PUSHES_IN_FLIGHT)),
            group: Default::default(),
            reads: Default::default(),
            rules_cache: Default::default(),
            revocations: Default::default(),
            sms: Default::default(),
            change_key: Default::default(),
            generation: Default::default(),
            data_key: Default::default(),
        })
    }

    /// Closes every connection (before a restore replaces the database under them).
    pub async fn close(&self) {
        if let Some(readers) = &self.readers {
            readers.close();
        }
        self.pool.close().await;
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a concurrent writer waits out the busy timeout: a deferred transaction
    /// that reads first cannot upgrade its lock under WAL and is refused at once (`SQLITE_BUSY`,
    /// codes 5 and 517), which the busy timeout never covers. PostgreSQL's `BEGIN` waits on row
    /// locks already.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Brings the schema up to date.
    pub async fn migrate(&self) -> Result<()> {
        if migrate::run(&self.pool, self.backend).await? {
            self.reproject_all().await?;
        }
        // Loaded now, so writers inside a transaction (a requester's SMS) can open a sealed
        // value without another query.
        self.data_key().await?;
        Ok(())
    }

    /// Rebuilds every case's projection row from its stored document (after a migration added
    /// projection columns). Documents are the truth; the projection only follows them.
    pub async fn reproject_all(&self) -> Result<usize> {
        // The accountability records its logs raise count under the rules in force.
        let live = self.rules().await?;
        let ids: Vec<String> = sqlx::query("SELECT id FROM docs ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        for id in &ids {
            let mut tx = self.begin_write().await?;
            let row = sqlx::query(
                "SELECT d.snapshot, d.upto_seq, c.updated_at FROM docs d JOIN cases c ON c.id = d.id WHERE d.id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let doc = gridsync_core::CaseDoc::load(&row.try_get::<Vec<u8>, _>(0)?)?;
            sync::project(
                &mut tx,
                id,
                &doc,
                row.try_get(1)?,
                row.try_get(2)?,
                &live.rules,
            )
            .await?;
            tx.commit().await?;
        }
        tracing::info!(cases = ids.len(), "projection rebuilt");
        Ok(ids.len())
    }

    /// Adds (or renames) a node of the jurisdiction tree.
    pub async fn add_org_unit(&self, path: &JurisdictionPath, name: &str) -> Result<()> {
        self.import_org_units(&[(path.clone(), name.to_owned())])
            .await
    }

    /// Creates a user account.
    pub async fn add_user(&self, user: &UserRecord, now: i64) -> Result<()> {
        let taken = sqlx::query("SELECT 1 FROM users WHERE id = $1")
            .bind(&user.id)
            .fetch_optional(&self.pool)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!("user {} exists", user.id)));
        }
        bind_user(
            sqlx::query(
                "INSERT INTO users (id, display_name, role, scope, department, password_hash, disabled, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ),
            user,
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces an account's role, scope, department, name, password hash and disabled flag.
    /// Takes effect on the account's next request: identities are read per request.
    pub async fn update_user(&self, user: &UserRecord) -> Result<()> {
        let done = bind_user(
            sqlx::query(
                "UPDATE users SET display_name = $2, role = $3, scope = $4, department = $5,
                     password_hash = $6, disabled = $7
                 WHERE id = $1",
            ),
            user,
        )
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {}", user.id)));
        }
        Ok(())
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(
            "SELECT id, display_name, role, scope, department, password_hash, disabled FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    /// Records a console sign-in: the reviewer's console is a device of its own (`console-<user>`,
    /// an id phones may not claim), with no actor: the console's changes are written by the
    /// server's actor on the reviewer's behalf.
    pub async fn bind_console(&self, device: &str, user: &str, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // A sign-in with the password opens the console again after a sign-out (which revokes it).
        sqlx::query(
            "INSERT INTO devices (id, created_at) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET revoked = 0",
        )
        .bind(device)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        record_sign_in(&mut tx, device, user, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `user` signed in on `device` with Automerge actor `actor`. An actor already
    /// bound to another device is refused: it would let one phone write as another.
    pub async fn bind_device(
        &self,
        device: &str,
        user: &str,
        actor: &ActorId,
        now: i64,
    ) -> Result<()> {
        let actor = actor.to_hex_string();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO devices (id, revoked, created_at) VALUES ($1, 0, $2) ON CONFLICT (id) DO NOTHING")
            .bind(device)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        // Insert-or-keep, then look: two sign-ins racing for one actor cannot both win.
        sqlx::query("INSERT INTO device_actors (actor, device_id) VALUES ($1, $2) ON CONFLICT (actor) DO NOTHING")
            .bind(&actor)
            .bind(device)
            .execute(&mut *tx)
            .await?;
        let owner: String = sqlx::query("SELECT device_id FROM device_actors WHERE actor = $1")
            .bind(&actor)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if owner != device {
            return Err(StoreError::Conflict(
                "actor id bound to another device".into(),
            ));
        }
        record_sign_in(&mut tx, device, user, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The SHA-256 of the device's secret, if it has one yet.
    pub async fn device_secret_hash(&self, device: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT secret_hash FROM devices WHERE id = $1")
            .bind(device)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    /// Gives a device its secret, once: `false` when it already had one (a racing sign-in won).
    pub async fn set_device_secret_hash(&self, device: &str, hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE devices SET secret_hash = $1 WHERE id = $2 AND secret_hash IS NULL",
        )
        .bind(hash)
        .bind(device)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Signs `user` out of `device`: its token stops working there at once.
    pub async fn sign_out(&self, device: &str, user: &str) -> Result<()> {
        sqlx::query("DELETE FROM device_users WHERE device_id = $1 AND user_id = $2")
            .bind(device)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes a lost phone: its next request is refused.
    pub async fn revoke_device(&self, device: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // Its certificates issued until now are void on colleagues' phones (ADR 0030).
        let done = sqlx::query("UPDATE devices SET revoked = 1, revoked_at = $2 WHERE id = $1")
            .bind(device)
            .bind(crate::now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE device_id = $1")
            .bind(device)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.revocations.forget();
        Ok(done.rows_affected() > 0)
    }

    /// The device's actors and users, or `None` for a device never seen.
    pub async fn device_context(&self, device: &str) -> Result<Option<DeviceContext>> {
        let id = [direct::Arg::from(device)];
        let Some(row) = self
            .read_row(
                "SELECT d.revoked, d.sign_key, d.last_sync_at, r.version
                 FROM devices d LEFT JOIN device_rules r ON r.device_id = d.id WHERE d.id = $1",
                &id,
            )
            .await?
        else {
            return Ok(None);
        };
        let revoked: i64 = row.col(0)?;
        let sign_key = match row.col::<Option<Vec<u8>>>(1)? {
            None => None,
            Some(raw) => Some(gridsync_core::evidence::public_key(&raw).ok_or_else(|| {
                StoreError::Corrupt(format!("the signing key of device {device}"))
            })?),
        };
        let actors = self
            .read_rows(
                "SELECT actor FROM device_actors WHERE device_id = $1 ORDER BY actor",
                &id,
            )
            .await?
            .iter()
            .map(|r| {
                let hex: String = r.col(0)?;
                ActorId::from_str(&hex).map_err(|_| StoreError::Corrupt(format!("actor {hex:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = self
            .read_rows(
                "SELECT u.id, u.display_name, u.role, u.scope, u.department, u.password_hash, u.disabled
                 FROM device_users d JOIN users u ON u.id = d.user_id
                 WHERE d.device_id = $1 ORDER BY d.signed_in_at DESC, u.id",
                &id,
            )
            .await?;
        let mut users = Vec::new();
        for r in &rows {
            let u = user_from_row(r)?;
            if !u.disabled {
                users.push(Identity::new(u.id, u.role, u.scope, u.department, device)?);
            }
        }
        Ok(Some(DeviceContext {
            device: device.to_owned(),
            actors,
            users,
            revoked: revoked != 0,
            sign_key,
            synced: SyncRecord {
                last_sync_at: row.col(2)?,
                rules_held: row.col::<Option<i64>>(3)?.map(|v| v as u64),
            },
        }))
    }
}

fn user_from_row(r: &impl direct::Cols) -> Result<UserRecord> {
    let role: String = r.col(2)?;
    let scope: String = r.col(3)?;
    let disabled: i64 = r.col(6)?;
    Ok(UserRecord {
        id: r.col(0)?,
        display_name: r.col(1)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        scope: JurisdictionPath::parse(&scope)?,
        department: r.col(4)?,
        password_hash: r.col(5)?,
        disabled: disabled != 0,
    })
}

/// Records that `user` signed in on `device` now (latest sign-in first in the device's context).
async fn record_sign_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    device: &str,
    user: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO device_users (device_id, user_id, signed_in_at) VALUES ($1, $2, $3)
         ON CONFLICT (device_id, user_id) DO UPDATE SET signed_in_at = excluded.signed_in_at",
    )
    .bind(device)
    .bind(user)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An account's columns as `$1` to `$7`, in the order both `add_user` and `update_user` name
/// them.
fn bind_user<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    user: &'q UserRecord,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(&user.id)
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(user.scope.to_string())
        .bind(user.department.clone())
        .bind(&user.password_hash)
        .bind(i64::from(user.disabled))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every PostgreSQL connection plans each statement for its values (ADR 0046).
    #[tokio::test]
    async fn postgres_connections_plan_each_statement_for_its_values() {
        let Some(db) = gridsync_testkit::db::postgres().await else {
            return;
        };
        let store = Store::connect(&db.url).await.unwrap();
        // Both held at once, so the second is another connection, not the first again.
        let mut conns = Vec::new();
        for _ in 0..2 {
            let mut conn = store.pool().acquire().await.unwrap();
            let mode: String = sqlx::query_scalar("SELECT current_setting('plan_cache_mode')")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(mode, "force_custom_plan");
            conns.push(conn);
        }
    }
}
