//! A fresh test database per test, on SQLite or PostgreSQL, shared by the server's test
//! binaries (`#[path]`-included: integration tests cannot share a module otherwise).
//!
//! PostgreSQL comes from `GRIDSYNC_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`).
//! Without it the tests fail under `CI=true` and print a skip otherwise.

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
