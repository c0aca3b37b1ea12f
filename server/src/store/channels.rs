//! Intake channels (接入渠道): the other platforms — the 12345 hotline, a WeChat mini-program, a QR
//! code page — that send residents' work orders through `POST /v1/intake`, each with its own API
//! key. The key is shown once when the channel is added (`gridsync channel add`); only its
//! SHA-256 is kept, so the database alone does not let anyone send orders.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gridsync_core::Source;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Result, Store, StoreError};

/// What every channel key starts with, so a leaked one is recognisable in a log or a paste.
pub const CHANNEL_KEY_PREFIX: &str = "gsk_";

/// The longest channel id (it is part of the identity `intake.<id>` cases are reported in).
pub const MAX_CHANNEL_ID_CHARS: usize = 40;

/// A channel as stored (never its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    /// The source (来源渠道) every case of this channel carries.
    pub source: Source,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl ChannelRow {
    pub fn revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A fresh channel key: `gsk_` and 32 URL-safe characters (192 random bits).
pub fn new_channel_key() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("{CHANNEL_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash a channel key is stored and looked up by (SHA-256, lower-case hex).
pub fn channel_key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `id` can name a channel: 1 to 40 of `a-z`, `0-9`, `-` and `_`.
pub fn valid_channel_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CHANNEL_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A channel id for `source` when none is given: the source and six random characters.
pub fn new_channel_id(source: Source) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{}-{tail}", source.as_str().replace('_', "-"))
}

fn channel_from_row(r: &sqlx::any::AnyRow) -> Result<ChannelRow> {
    let source: String = r.try_get(2)?;
    Ok(ChannelRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        source: Source::parse(&source)
            .ok_or_else(|| StoreError::Corrupt(format!("channel source {source:?}")))?,
        created_at: r.try_get(3)?,
        revoked_at: r.try_get(4)?,
    })
}

impl Store {
    /// Adds a channel and returns its key, the only time the key exists outside the caller:
    /// only its hash is stored. `Conflict` when the id is taken.
    pub async fn add_channel(
        &self,
        id: &str,
        name: &str,
        source: Source,
        now: i64,
    ) -> Result<String> {
        if !valid_channel_id(id) {
            return Err(StoreError::Conflict(format!(
                "bad channel id {id:?}: 1 to {MAX_CHANNEL_ID_CHARS} of a-z, 0-9, - and _"
            )));
        }
        let key = new_channel_key();
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("SELECT 1 FROM intake_channels WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Err(StoreError::Conflict(format!("channel {id} exists")));
        }
        sqlx::query(
            "INSERT INTO intake_channels (id, name, source, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(source.as_str())
        .bind(channel_key_hash(&key))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    /// Every channel, oldest first.
    pub async fn channels(&self) -> Result<Vec<ChannelRow>> {
        let rows = sqlx::query(
            "SELECT id, name, source, created_at, revoked_at FROM intake_channels ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(channel_from_row).collect()
    }

    /// The channel whose key is `key` (revoked or not), if any.
    pub async fn channel_by_key(&self, key: &str) -> Result<Option<ChannelRow>> {
        let row = sqlx::query(
            "SELECT id, name, source, created_at, revoked_at FROM intake_channels WHERE key_hash = $1",
        )
        .bind(channel_key_hash(key))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(channel_from_row).transpose()
    }

    /// Revokes a channel: its key is refused from now on (`401 channel_revoked`). False when
    /// there is no such channel; revoking twice keeps the first time.
    pub async fn revoke_channel(&self, id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE intake_channels SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_stored_as_their_hash() {
        let (a, b) = (new_channel_key(), new_channel_key());
        assert_ne!(a, b);
        assert!(
            a.starts_with(CHANNEL_KEY_PREFIX) && a.len() == 4 + 32,
            "{a}"
        );
        let hash = channel_key_hash(&a);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, channel_key_hash(&b));
        let id = new_channel_id(Source::Hotline12345);
        assert!(
            id.starts_with("hotline-12345-") && valid_channel_id(&id),
            "{id}"
        );
        assert!(!valid_channel_id("Bad Id") && !valid_channel_id(""));
    }
}
