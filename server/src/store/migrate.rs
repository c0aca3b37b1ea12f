//! Schema migrations: one list, run in order, each in its own transaction, on either backend.

use sqlx::{AnyPool, AssertSqlSafe, Row};

use super::{Backend, Result};

/// (version, SQL). Append only: a shipped migration never changes.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_auth.sql")),
    (3, include_str!("../../migrations/0003_device_secret.sql")),
    (4, include_str!("../../migrations/0004_case_loop.sql")),
    (5, include_str!("../../migrations/0005_blobs.sql")),
    (6, include_str!("../../migrations/0006_blob_provenance.sql")),
    (7, include_str!("../../migrations/0007_scope_index.sql")),
    (8, include_str!("../../migrations/0008_rules.sql")),
    (
        9,
        include_str!("../../migrations/0009_quarantine_limits.sql"),
    ),
    (10, include_str!("../../migrations/0010_front_door.sql")),
    (11, include_str!("../../migrations/0011_assessment.sql")),
    (12, include_str!("../../migrations/0012_notices.sql")),
    (13, include_str!("../../migrations/0013_evidence.sql")),
    (14, include_str!("../../migrations/0014_case_keys.sql")),
    (15, include_str!("../../migrations/0015_peer_sync.sql")),
    (16, include_str!("../../migrations/0016_generations.sql")),
    (
        17,
        include_str!("../../migrations/0017_device_actors_index.sql"),
    ),
];

/// The schema version this binary brings a database to.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Migrations that add projection columns: the projection is rebuilt from the documents after
/// any of them runs, so old cases get the new columns too.
pub(super) const REPROJECT_AFTER: &[i64] = &[4, 5, 10, 11];

/// Runs what is missing; says whether the projection must be rebuilt.
pub(super) async fn run(pool: &AnyPool, backend: Backend) -> Result<bool> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    let done: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let blob = match backend {
        Backend::Sqlite => "BLOB",
        Backend::Postgres => "BYTEA",
    };
    let mut reproject = false;
    for (version, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        // A fresh database has no cases to rebuild.
        reproject |= REPROJECT_AFTER.contains(version) && !done.is_empty();
        let mut tx = pool.begin().await?;
        for statement in statements(sql) {
            let statement = statement.replace("{blob}", blob);
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(crate::now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied migration");
    }
    Ok(reproject)
}

/// Splits a migration on lines holding only `;`, dropping comment-only pieces.
fn statements(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split("\n;\n").map(str::trim).filter_map(|s| {
        let code: String = s
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        (!code.trim().is_empty()).then(|| code.trim().trim_end_matches(';').to_owned())
    })
}
