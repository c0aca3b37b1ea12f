//! Store conformance: every test runs unchanged on SQLite and on PostgreSQL.
//!
//! PostgreSQL comes from `GRIDSYNC_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each test gets a database of its own. Without PostgreSQL the tests fail under `CI=true` and
//! print a skip otherwise.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod accounts;
mod case_loop;
mod org;
mod patrols;
mod stats;
mod sync;

use gridsync_core::{Identity, JurisdictionPath, Replica, Role};
use gridsync_server::store::{Store, UserRecord};
use sqlx::Connection;

pub const KEY: [u8; 32] = [5; 32];
pub const T0: i64 = 1_790_000_000_000;

/// A store on a fresh database; `None` means "skip" (no PostgreSQL, not in CI).
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_name.take() {
            // Best effort: a leftover database is only disk space.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gridsync.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    TestDb {
        store,
        url,
        _dir: Some(dir),
        pg_name: None,
    }
}

pub async fn postgres() -> Option<TestDb> {
    let admin = std::env::var("GRIDSYNC_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("PostgreSQL is required in CI ({admin}): {e}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: PostgreSQL at {admin} is not reachable ({e}); set GRIDSYNC_TEST_PG"
            );
            return None;
        }
    };
    let name = format!("gs_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Some(TestDb {
        store,
        url,
        _dir: None,
        pg_name: Some((admin, name)),
    })
}

/// Runs an async test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::sqlite().await;
                ($body)(db.store.clone()).await;
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(db) = $crate::postgres().await {
                    ($body)(db.store.clone()).await;
                }
            }
        }
    };
}

/// Like `conformance!`, for bodies that need the database URL too (a second server).
#[macro_export]
macro_rules! conformance_db {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::sqlite().await;
                ($body)(db.store.clone(), db.url.clone()).await;
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(db) = $crate::postgres().await {
                    ($body)(db.store.clone(), db.url.clone()).await;
                }
            }
        }
    };
}

pub fn path(s: &str) -> JurisdictionPath {
    JurisdictionPath::parse(s).unwrap()
}

/// Creates the account and a phone replica signed in as it, bound on the store.
pub async fn phone(
    store: &Store,
    user: &str,
    role: Role,
    scope: &str,
    device: &str,
) -> (Identity, Replica) {
    store
        .add_user(
            &UserRecord {
                id: user.into(),
                display_name: user.into(),
                role,
                scope: path(scope),
                department: None,
                password_hash: "-".into(),
                disabled: false,
            },
            T0,
        )
        .await
        .unwrap();
    let who = Identity::new(user, role, path(scope), None, device).unwrap();
    let mut r = Replica::open_in_memory(&KEY).unwrap();
    r.sign_in(who.clone()).unwrap();
    store
        .bind_device(device, user, r.actor_id(), T0)
        .await
        .unwrap();
    (who, r)
}
