//! Backup and restore (ADR 0032). A backup is taken while the server serves: on SQLite a
//! consistent copy of the database (`VACUUM INTO`, one read transaction), on PostgreSQL a
//! `pg_dump` custom-format archive. A restore puts it in place with the servers stopped and begins
//! a new store generation: every phone that synced since the backup names its cases at its next
//! sync and pushes back what the backup missed (docs/PROTOCOL.md, "After a restore"). Photos the
//! database says are held but whose bytes the object store lacks are forgotten, so their phones
//! upload them again.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::{Connection, Row};

use crate::blobs::BlobStore;
use crate::store::{Backend, SCHEMA_VERSION, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a backup this binary can restore.
    #[error("{path} is not a gridsync backup: {reason}")]
    NotABackup { path: PathBuf, reason: String },
    /// `pg_dump` / `pg_restore` failed or is missing.
    #[error("{tool}: {reason}")]
    Tool { tool: &'static str, reason: String },
    #[error("{0} already exists: a backup never overwrites a file")]
    Exists(PathBuf),
    #[error(transparent)]
    Blobs(#[from] crate::blobs::BlobError),
}

impl BackupError {
    /// A machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::Store(_) | BackupError::Db(_) => "database",
            BackupError::Io { .. } => "io",
            BackupError::NotABackup { .. } => "not_a_backup",
            BackupError::Tool { .. } => "tool_failed",
            BackupError::Exists(_) => "exists",
            BackupError::Blobs(_) => "blobs",
        }
    }
}

type Result<T> = std::result::Result<T, BackupError>;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub bytes: u64,
    /// Schema version (SQLite) — `None` for a PostgreSQL archive, read only once restored.
    pub schema: Option<i64>,
    /// The feed position it ends at, and its cases (SQLite).
    pub feed: Option<i64>,
    pub cases: Option<i64>,
    /// Tables the archive restores (PostgreSQL).
    pub tables: Option<usize>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSummary {
    pub backup: BackupSummary,
    pub generation: gridsync_core::protocol::Generation,
    /// Where the database it replaced was moved (SQLite), so nothing is lost by a mistake.
    pub kept_aside: Option<PathBuf>,
    /// Photos whose bytes were missing: their phones upload them again.
    pub blobs_forgotten: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The file of a `sqlite://` URL.
fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// Writes a backup of the database at `url` to `to` while it may be serving.
pub async fn backup(url: &str, to: &Path) -> Result<BackupSummary> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    match Backend::of_url(url)? {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await?;
            // One read transaction: a consistent copy whatever commits meanwhile.
            sqlx::query("VACUUM INTO $1")
                .bind(to.to_string_lossy().as_ref())
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Backend::Postgres => run(
            "pg_dump",
            Command::new("pg_dump")
                .arg("--format=custom")
                .arg("--file")
                .arg(to)
                .arg("--dbname")
                .arg(url),
        )?,
    }
    check(url, to).await
}

/// Checks that `file` is a backup that can be restored onto the database at `url` (the same
/// kind), and says what it holds. Changes nothing.
pub async fn check(url: &str, file: &Path) -> Result<BackupSummary> {
    let bytes = std::fs::metadata(file).map_err(io(file))?.len();
    let not = |reason: String| BackupError::NotABackup {
        path: file.to_owned(),
        reason,
    };
    match Backend::of_url(url)? {
        Backend::Sqlite => {
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", file.display()))
                    .await
                    .map_err(|e| not(e.to_string()))?;
            let integrity: String = sqlx::query("PRAGMA integrity_check")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| not(e.to_string()))?
                .try_get(0)?;
            if integrity != "ok" {
                return Err(not(format!("integrity check: {integrity}")));
            }
            let schema: i64 = sqlx::query("SELECT MAX(version) FROM schema_migrations")
                .fetch_one(&mut conn)
                .await
                .map_err(|_| not("no gridsync schema in it".into()))?
                .try_get::<Option<i64>, _>(0)?
                .unwrap_or(0);
            if schema > SCHEMA_VERSION {
                return Err(not(format!(
                    "its schema {schema} is newer than this gridsync ({SCHEMA_VERSION})"
                )));
            }
            let feed: i64 = sqlx::query("SELECT value FROM counters WHERE name = 'feed'")
                .fetch_one(&mut conn)
                .await?
                .try_get(0)?;
            let cases: i64 = sqlx::query("SELECT count(*) FROM cases")
                .fetch_one(&mut conn)
                .await?
                .try_get(0)?;
            conn.close().await?;
            Ok(BackupSummary {
                bytes,
                schema: Some(schema),
                feed: Some(feed),
                cases: Some(cases),
                tables: None,
            })
        }
        Backend::Postgres => {
            let out = Command::new("pg_restore")
                .arg("--list")
                .arg(file)
                .output()
                .map_err(|e| tool("pg_restore", e.to_string()))?;
            if !out.status.success() {
                return Err(not(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
            }
            let list = String::from_utf8_lossy(&out.stdout);
            let tables: Vec<&str> = list
                .lines()
                .filter(|l| l.contains(" TABLE DATA "))
                .collect();
            for needed in ["changes", "schema_migrations", "counters"] {
                if !tables
                    .iter()
                    .any(|l| l.split_whitespace().any(|w| w == needed))
                {
                    return Err(not(format!("no table {needed} in it")));
                }
            }
            Ok(BackupSummary {
                bytes,
                schema: None,
                feed: None,
                cases: None,
                tables: Some(tables.len()),
            })
        }
    }
}

/// Restores `file` onto the database at `url` (every server on it stopped), begins a new store
/// generation, and forgets photos whose bytes `blobs` lacks.
pub async fn restore(url: &str, file: &Path, blobs: &BlobStore) -> Result<RestoreSummary> {
    let backup = check(url, file).await?;
    let mut kept_aside = None;
    match Backend::of_url(url)? {
        Backend::Sqlite => {
            let db = sqlite_path(url);
            if db.exists() {
                // Kept, not deleted: a restore made by mistake can be undone.
                let aside = PathBuf::from(format!(
                    "{}.before-restore-{}",
                    db.display(),
                    crate::now_ms()
                ));
                for suffix in ["", "-wal", "-shm"] {
                    let from = PathBuf::from(format!("{}{suffix}", db.display()));
                    if from.exists() {
                        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
                        std::fs::rename(&from, &to).map_err(io(&from))?;
                    }
                }
                kept_aside = Some(aside);
            }
            let partial = PathBuf::from(format!("{}.restoring", db.display()));
            std::fs::copy(file, &partial).map_err(io(&partial))?;
            std::fs::File::open(&partial)
                .and_then(|f| f.sync_all())
                .map_err(io(&partial))?;
            std::fs::rename(&partial, &db).map_err(io(&db))?;
        }
        Backend::Postgres => run(
            "pg_restore",
            Command::new("pg_restore")
                .args(["--clean", "--if-exists", "--no-owner", "--exit-on-error"])
                .arg("--single-transaction")
                .arg("--dbname")
                .arg(url)
                .arg(file),
        )?,
    }
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let from = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let generation = store
        .begin_restored_generation(&from, crate::now_ms())
        .await?;
    let blobs_forgotten = blobs.forget_missing(&store).await?;
    store.close().await;
    Ok(RestoreSummary {
        backup,
        generation,
        kept_aside,
        blobs_forgotten,
    })
}

fn tool(tool: &'static str, reason: String) -> BackupError {
    BackupError::Tool { tool, reason }
}

/// Runs a PostgreSQL client tool; its error output, without the URL, on failure.
fn run(name: &'static str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(|e| {
        tool(
            name,
            format!("cannot run it ({e}); install postgresql-client"),
        )
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(tool(
            name,
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}
