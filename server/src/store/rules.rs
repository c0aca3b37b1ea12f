//! The county's rules in the store: every version kept (who, when, what changed), the one in
//! force cached per server and re-read when another server changed them, and the version each
//! device says it holds.

use std::sync::{Arc, RwLock};

use gridsync_core::protocol::RulesUpdate;
use gridsync_core::rules::{Rules, RulesFile};
use gridsync_core::taxonomy::Taxonomy;
use sqlx::Row;

use super::direct::Cols as _;

use super::{Result, Store, StoreError};

/// The rules in force and what admission accepts with them.
#[derive(Debug)]
pub struct LiveRules {
    pub rules: Rules,
    /// The catalogue plus the categories and departments of earlier versions, so a case
    /// captured offline under them is not refused (`Taxonomy::with_retired`).
    pub admission: Taxonomy,
}

/// One version as the history lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesChange {
    pub version: u64,
    pub changed_by: String,
    pub changed_at: i64,
    pub summary: String,
}

#[derive(Debug, Default)]
pub(super) struct RulesCache {
    live: RwLock<Option<Arc<LiveRules>>>,
}

impl Store {
    /// The rules in force. Each call asks the database for the newest version (one indexed
    /// read), so a change made through another server or `gridsync rules import` counts from
    /// the next request; the parsed rules are cached.
    pub async fn rules(&self) -> Result<Arc<LiveRules>> {
        let cached = self.rules_cache.live.read().ok().and_then(|g| g.clone());
        if let Some(live) = &cached {
            let newest: Option<i64> =
                match self.read_row("SELECT MAX(version) FROM rules", &[]).await? {
                    Some(row) => row.col(0)?,
                    None => None,
                };
            if newest.is_none_or(|v| v as u64 == live.rules.version()) {
                self.remember(live.clone());
                return Ok(live.clone());
            }
        }
        self.reload_rules().await
    }

    /// The rules this server last read, without asking the database: for showing dates and
    /// names. Writes and admission use [`Store::rules`].
    pub fn rules_now(&self) -> Arc<LiveRules> {
        if let Some(live) = self.rules_cache.live.read().ok().and_then(|g| g.clone()) {
            return live;
        }
        Arc::new(LiveRules {
            rules: Rules::builtin().clone(),
            admission: Rules::builtin().taxonomy().clone(),
        })
    }

    async fn reload_rules(&self) -> Result<Arc<LiveRules>> {
        let rows = sqlx::query("SELECT version, body FROM rules ORDER BY version")
            .fetch_all(&self.pool)
            .await?;
        let mut versions = Vec::with_capacity(rows.len());
        for r in &rows {
            let version: i64 = r.try_get(0)?;
            let body: String = r.try_get(1)?;
            let rules = Rules::from_toml(version as u64, &body)
                .map_err(|e| StoreError::Corrupt(format!("rules version {version}: {e}")))?;
            versions.push(rules);
        }
        let rules = versions.pop().unwrap_or_else(|| Rules::builtin().clone());
        let admission = versions
            .iter()
            .rev()
            .fold(rules.taxonomy().clone(), |t, older| {
                t.with_retired(older.taxonomy())
            });
        let live = Arc::new(LiveRules { rules, admission });
        self.remember(live.clone());
        Ok(live)
    }

    fn remember(&self, live: Arc<LiveRules>) {
        if let Ok(mut g) = self.rules_cache.live.write() {
            *g = Some(live);
        }
    }

    /// Stores `rules` as the next version unless they say what the rules in force say; returns
    /// the version in force afterwards and whether it is new. With no rules stored yet, `rules`
    /// become version 0 when they are the build's own, else version 1. Audited.
    pub async fn save_rules(
        &self,
        rules: &Rules,
        by: &str,
        summary: &str,
        now: i64,
    ) -> Result<(u64, bool)> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT version, body FROM rules ORDER BY version DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let version = match row {
            Some(r) => {
                let version: i64 = r.try_get(0)?;
                let body: String = r.try_get(1)?;
                let current = Rules::from_toml(version as u64, &body)
                    .map_err(|e| StoreError::Corrupt(format!("rules version {version}: {e}")))?;
                if current.same_as(rules) {
                    return Ok((version as u64, false));
                }
                version as u64 + 1
            }
            None if rules.same_as(Rules::builtin()) => 0,
            None => 1,
        };
        let body = rules.clone().numbered(version).to_toml();
        sqlx::query(
            "INSERT INTO rules (version, body, changed_by, changed_at, summary) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(version as i64)
        .bind(&body)
        .bind(by)
        .bind(now)
        .bind(summary)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO audit_log (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(now)
            .bind(by)
            .bind("rules_change")
            .bind(format!("rules v{version}"))
            .bind(summary)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reload_rules().await?;
        Ok((version, true))
    }

    /// Takes in a rules file (a catalogue, a calendar, or both; see `RulesFile`) as the next
    /// version, by `by`. A refused file changes nothing; its error names the line.
    pub async fn import_rules(&self, text: &str, by: &str, now: i64) -> Result<(u64, bool)> {
        let file = RulesFile::parse(text)?;
        let mut parts = Vec::new();
        if file.taxonomy.is_some() {
            parts.push("事项目录 (catalogue)".to_owned());
        }
        if let Some(c) = &file.calendar {
            let years: Vec<String> = c.years().map(|y| y.to_string()).collect();
            parts.push(format!("工作日历 {} (calendar)", years.join(", ")));
        }
        let live = self.rules().await?;
        let rules = live.rules.with_file(file)?;
        self.save_rules(&rules, by, &format!("导入 {}", parts.join("，")), now)
            .await
    }

    /// Stores the build's rules as version 0 when the database has none yet.
    pub async fn ensure_rules(&self, now: i64) -> Result<()> {
        let none: bool = sqlx::query("SELECT COUNT(*) FROM rules")
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>(0)?
            == 0;
        if none {
            self.save_rules(
                Rules::builtin(),
                "gridsync",
                "随版本发布的规则 (shipped with the build)",
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// Version `version` of the rules, as a phone that holds it judges with them (an urgent SMS
    /// report's deadlines); `None` when there never was such a version. Read and parsed from the
    /// history: callers holding the rules in force use those when the versions agree.
    pub async fn rules_version(&self, version: u64) -> Result<Option<Rules>> {
        let row = sqlx::query("SELECT body FROM rules WHERE version = $1")
            .bind(version as i64)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => {
                let body: String = r.try_get(0)?;
                Rules::from_toml(version, &body)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("rules version {version}: {e}")))
            }
            // A phone that never received rules holds the build's own, version 0.
            None if version == Rules::builtin().version() => Ok(Some(Rules::builtin().clone())),
            None => Ok(None),
        }
    }

    /// Every version, newest first.
    pub async fn rules_history(&self) -> Result<Vec<RulesChange>> {
        let rows = sqlx::query(
            "SELECT version, changed_by, changed_at, summary FROM rules ORDER BY version DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RulesChange {
                    version: r.try_get::<i64, _>(0)? as u64,
                    changed_by: r.try_get(1)?,
                    changed_at: r.try_get(2)?,
                    summary: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// What a sync records of the rules `device` holds, and what it holds: `said` when the
    /// request says it, else what it said last (a device that never said holds version 0).
    /// The record is `Some` only when `said` moved from what is recorded: most syncs say what
    /// the last one said, and a write on each would take SQLite's write lock and a sync to disk.
    /// `recorded` is what the device context read (`SyncRecord::rules_held`).
    pub(super) fn device_rules(
        device: &str,
        recorded: Option<u64>,
        said: Option<u64>,
    ) -> (Option<RulesHeld>, u64) {
        let record = said
            .filter(|v| recorded != Some(*v))
            .map(|version| RulesHeld {
                device: device.to_owned(),
                version,
            });
        (record, said.or(recorded).unwrap_or(0))
    }
}

/// The rules `current` for a device that holds version `held`, when that is older.
pub(super) fn rules_update(held: u64, current: &Rules) -> Option<RulesUpdate> {
    (held < current.version()).then(|| RulesUpdate {
        version: current.version(),
        toml: current.to_toml(),
    })
}

/// A device's rules version to record.
#[derive(Debug, Clone)]
pub(super) struct RulesHeld {
    device: String,
    version: u64,
}

/// Rows per `device_rules` statement: 2 values each.
const HELD_ROWS_PER_STATEMENT: usize = 500;

impl RulesHeld {
    /// Records `held`, several devices a statement; a device named twice keeps its last (one
    /// statement may not update a row twice on PostgreSQL).
    pub(super) async fn write_all(
        conn: &mut sqlx::AnyConnection,
        held: &[&RulesHeld],
    ) -> Result<()> {
        let mut last = std::collections::HashMap::new();
        for (i, h) in held.iter().enumerate() {
            last.insert(h.device.as_str(), i);
        }
        let held: Vec<&RulesHeld> = held
            .iter()
            .enumerate()
            .filter(|(i, h)| last[h.device.as_str()] == *i)
            .map(|(_, h)| *h)
            .collect();
        let backend = crate::store::Backend::of(conn);
        for chunk in held.chunks(HELD_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO device_rules (device_id, version) VALUES {}
                 ON CONFLICT (device_id) DO UPDATE SET version = excluded.version",
                super::sync::placeholders(backend, chunk.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for h in chunk {
                query = query.bind(h.device.as_str()).bind(h.version as i64);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RulesHeld;
    use crate::store::Store;

    /// A group's rules versions in one statement: a device named twice keeps its last, which
    /// PostgreSQL refuses to do in one `DO UPDATE` statement unless the rows are made unique.
    async fn held_versions_are_written_last_one_winning(url: &str) {
        let store = Store::connect(url).await.unwrap();
        let held = |device: &str, version| RulesHeld {
            device: device.to_owned(),
            version,
        };
        let (a1, b2, a3, b4) = (held("a", 1), held("b", 2), held("a", 3), held("b", 4));
        let mut conn = store.pool.acquire().await.unwrap();
        RulesHeld::write_all(&mut conn, &[&a1, &b2, &a3])
            .await
            .unwrap();
        RulesHeld::write_all(&mut conn, &[&b4]).await.unwrap();
        RulesHeld::write_all(&mut conn, &[]).await.unwrap();
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT device_id, version FROM device_rules ORDER BY device_id")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        assert_eq!(rows, [("a".to_owned(), 3), ("b".to_owned(), 4)]);
    }

    #[tokio::test]
    async fn held_versions_sqlite() {
        let db = gridsync_testkit::db::sqlite().await;
        held_versions_are_written_last_one_winning(&db.url).await;
    }

    #[tokio::test]
    async fn held_versions_postgres() {
        if let Some(db) = gridsync_testkit::db::postgres().await {
            held_versions_are_written_last_one_winning(&db.url).await;
        }
    }
}
