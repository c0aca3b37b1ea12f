//! A fresh database per test or benchmark run, on SQLite or PostgreSQL, migrated, dropped when
//! done.
//!
//! PostgreSQL comes from `GRIDSYNC_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`).
//! Without it [`postgres`] fails under `CI=true` and prints a skip otherwise.

use gridsync_server::store::Store;
use sqlx::Connection;

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

/// A migrated store on a fresh SQLite file in a temporary directory.
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

/// Where PostgreSQL is: `GRIDSYNC_TEST_PG`, else the machine's default.
pub fn postgres_admin_url() -> String {
    std::env::var("GRIDSYNC_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A migrated store on a fresh PostgreSQL database; `None` means "skip": PostgreSQL is not
/// reachable and this is not CI (under `CI=true` that fails the test instead).
pub async fn postgres() -> Option<TestDb> {
    let admin = postgres_admin_url();
    match postgres_at(&admin).await {
        Ok(db) => Some(db),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("PostgreSQL is required in CI ({admin}): {e:#}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: PostgreSQL at {admin} is not reachable ({e:#}); set GRIDSYNC_TEST_PG"
            );
            None
        }
    }
}

/// A migrated store on a fresh database created through `admin` (a PostgreSQL URL whose
/// database the new one is created from); dropped with the `TestDb`.
pub async fn postgres_at(admin: &str) -> anyhow::Result<TestDb> {
    use anyhow::Context;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .with_context(|| format!("PostgreSQL at {admin}"))?;
    let name = format!("gs_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let (base, _) = admin
        .rsplit_once('/')
        .with_context(|| format!("no database name in {admin}"))?;
    let url = format!("{base}/{name}");
    let db = TestDb {
        store: Store::connect(&url).await?,
        url,
        _dir: None,
        pg_name: Some((admin.to_owned(), name)),
    };
    db.store.migrate().await?;
    Ok(db)
}
