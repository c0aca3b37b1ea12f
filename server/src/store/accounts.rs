//! Accounts side of the store: signing keys, refresh tokens, devices listing and the audit log.

use sqlx::Row;

use super::{Result, Store, StoreError, UserRecord, user_from_row};

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Valid and now spent: issue the next one in `family`.
    Rotated {
        family: String,
        device: String,
        user: String,
    },
    /// Already spent once: replayed or stolen. The whole family is now revoked.
    Reused {
        family: String,
        device: String,
    },
    Expired,
    Revoked,
    Unknown,
}

/// A device as the admin list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub id: String,
    pub revoked: bool,
    pub created_at: i64,
    pub last_sync_at: Option<i64>,
    /// Users who signed in on it, latest first.
    pub users: Vec<String>,
}

impl Store {
    /// The token signing key every server shares: the first one written wins, so servers
    /// starting together on one database agree.
    pub async fn signing_key(
        &self,
        candidate: (&[u8], &[u8]),
        now: i64,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        sqlx::query(
            "INSERT INTO signing_keys (id, private_pkcs8, public_raw, created_at) VALUES ('primary', $1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(candidate.0.to_vec())
        .bind(candidate.1.to_vec())
        .bind(now)
        .execute(&self.pool)
        .await?;
        let row =
            sqlx::query("SELECT private_pkcs8, public_raw FROM signing_keys WHERE id = 'primary'")
                .fetch_one(&self.pool)
                .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    pub async fn store_refresh(
        &self,
        hash: &str,
        family: &str,
        device: &str,
        user: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, family, device_id, user_id, issued_at, expires_at, used, revoked)
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0)",
        )
        .bind(hash)
        .bind(family)
        .bind(device)
        .bind(user)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The device a refresh token (by its hash) was issued to, without spending it; `None` for
    /// a token the store does not know.
    pub async fn refresh_device(&self, hash: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT device_id FROM refresh_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Spends a refresh token (by its hash), detecting reuse.
    pub async fn use_refresh(&self, hash: &str, now: i64) -> Result<RefreshUse> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT family, device_id, user_id, used, revoked, expires_at FROM refresh_tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RefreshUse::Unknown);
        };
        let family: String = row.try_get(0)?;
        let device: String = row.try_get(1)?;
        let user: String = row.try_get(2)?;
        let used: i64 = row.try_get(3)?;
        let revoked: i64 = row.try_get(4)?;
        let expires_at: i64 = row.try_get(5)?;
        let outcome = if revoked != 0 {
            RefreshUse::Revoked
        } else if used != 0 {
            sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1")
                .bind(&family)
                .execute(&mut *tx)
                .await?;
            RefreshUse::Reused { family, device }
        } else if expires_at <= now {
            RefreshUse::Expired
        } else {
            // Conditional: of two refreshes racing with one token, only one spends it.
            let spent =
                sqlx::query("UPDATE refresh_tokens SET used = 1 WHERE hash = $1 AND used = 0")
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
            if spent.rows_affected() == 1 {
                RefreshUse::Rotated {
                    family,
                    device,
                    user,
                }
            } else {
                sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1")
                    .bind(&family)
                    .execute(&mut *tx)
                    .await?;
                RefreshUse::Reused { family, device }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Ends a session: every token of the family stops working. Returns the (device, user) the
    /// session belonged to when the token presented was its live one.
    pub async fn revoke_refresh_family_of(&self, hash: &str) -> Result<Option<(String, String)>> {
        let Some(row) = sqlx::query(
            "SELECT family, device_id, user_id, used, revoked FROM refresh_tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let family: String = row.try_get(0)?;
        let used: i64 = row.try_get(3)?;
        let revoked: i64 = row.try_get(4)?;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1")
            .bind(&family)
            .execute(&self.pool)
            .await?;
        // A spent or dead token still ends its family, but only the live one speaks for the
        // session on the device (an old token must not sign out a newer session).
        if used != 0 || revoked != 0 {
            return Ok(None);
        }
        Ok(Some((row.try_get(1)?, row.try_get(2)?)))
    }

    /// Appends to the audit log (logins, revocations, exports, console actions). Never secrets.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO audit_log (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(now)
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The audit log, oldest first: (actor, action, target).
    pub async fn audit_log(&self) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query("SELECT actor, action, target FROM audit_log ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(
            "SELECT id, display_name, role, scope, department, password_hash, disabled FROM users ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Every account's id and name: what the console shows for an account id.
    pub async fn display_names(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT id, display_name FROM users")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn devices(&self) -> Result<Vec<DeviceRow>> {
        let rows =
            sqlx::query("SELECT id, revoked, created_at, last_sync_at FROM devices ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: String = r.try_get(0)?;
            let users = sqlx::query(
                "SELECT user_id FROM device_users WHERE device_id = $1 ORDER BY signed_in_at DESC",
            )
            .bind(&id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|u| u.try_get(0).map_err(StoreError::from))
            .collect::<Result<Vec<String>>>()?;
            let revoked: i64 = r.try_get(1)?;
            out.push(DeviceRow {
                id,
                revoked: revoked != 0,
                created_at: r.try_get(2)?,
                last_sync_at: r.try_get(3)?,
                users,
            });
        }
        Ok(out)
    }
}
