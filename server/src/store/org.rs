//! The jurisdiction tree: bulk import and listing.

use gridsync_core::JurisdictionPath;
use sqlx::Row;

use super::{Result, Store};

/// Adds a node, or renames it if it exists (every write of the tree goes through here).
const UPSERT_ORG_UNIT: &str = "INSERT INTO org_units (path, name, level) VALUES ($1, $2, $3)
             ON CONFLICT (path) DO UPDATE SET name = excluded.name";

impl Store {
    /// Adds (or renames) every node in one transaction: all of them or none.
    pub async fn import_org_units(&self, units: &[(JurisdictionPath, String)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (path, name) in units {
            sqlx::query(UPSERT_ORG_UNIT)
                .bind(path.to_string())
                .bind(name)
                .bind(path.level().as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every node of the tree with its name, in tree order (each parent before its children).
    pub async fn org_units(&self) -> Result<Vec<(JurisdictionPath, String)>> {
        let rows = sqlx::query("SELECT path, name FROM org_units")
            .fetch_all(&self.pool)
            .await?;
        let mut units = rows
            .iter()
            .map(|r| {
                let path: String = r.try_get(0)?;
                Ok((JurisdictionPath::parse(&path)?, r.try_get(1)?))
            })
            .collect::<Result<Vec<_>>>()?;
        // In Rust, not SQL: a database collation may not order '/' before the code characters.
        units.sort();
        Ok(units)
    }
}
