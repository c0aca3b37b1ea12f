//! Evidence in the store (ADR 0028): the server's change-signing key, devices' bound public
//! keys, the signatures kept beside accepted changes, and the receipt log appended under the
//! feed lock. `verify` walks it all (`gridsync audit verify`); `export` writes a case's
//! verifiable export.

mod export;
mod verify;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use gridsync_core::evidence::{self, ChainEntry, GENESIS, Receipt, SigningKey, VerifyingKey};
use serde_bytes::ByteBuf;
use sqlx::{Any, Row, Transaction};

pub use verify::{AuditReport, ReceiptHead};

use super::{Backend, Result, Store, StoreError};

/// The id of the server's change-signing key row.
const CHANGE_KEY_ID: &str = "change-1";

/// The server's change-signing key: its own changes (console actions, the supervision clock,
/// intake and counter registrations) and case exports are signed with it.
#[derive(Debug)]
pub struct ChangeKey {
    signing: SigningKey,
}

impl ChangeKey {
    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }
}

impl Store {
    /// The server's change-signing key: read from the database, or made once and shared by every
    /// server on it (the first insert wins).
    pub async fn change_key(&self) -> Result<std::sync::Arc<ChangeKey>> {
        self.change_key
            .get_or_try_init(|| async {
                let candidate = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
                let der = candidate
                    .to_pkcs8_der()
                    .map_err(|e| StoreError::Corrupt(format!("pkcs8: {e}")))?;
                sqlx::query(
                    "INSERT INTO change_keys (id, private_pkcs8, public_raw, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(CHANGE_KEY_ID)
                .bind(der.as_bytes().to_vec())
                .bind(candidate.verifying_key().to_bytes().to_vec())
                .bind(crate::now_ms())
                .execute(&self.pool)
                .await?;
                let row = sqlx::query("SELECT private_pkcs8 FROM change_keys WHERE id = $1")
                    .bind(CHANGE_KEY_ID)
                    .fetch_one(&self.pool)
                    .await?;
                let der: Vec<u8> = row.try_get(0)?;
                let signing = SigningKey::from_pkcs8_der(&der)
                    .map_err(|e| StoreError::Corrupt(format!("the change key: {e}")))?;
                Ok(std::sync::Arc::new(ChangeKey { signing }))
            })
            .await
            .cloned()
    }

    /// Binds `key` to `device` unless it has one: `Ok(true)` bound now or already this key,
    /// `Ok(false)` when the device holds another key (`device_key_taken`).
    pub async fn bind_device_key(&self, device: &str, key: &VerifyingKey) -> Result<bool> {
        let raw = key.to_bytes().to_vec();
        sqlx::query("UPDATE devices SET sign_key = $1 WHERE id = $2 AND sign_key IS NULL")
            .bind(&raw)
            .bind(device)
            .execute(&self.pool)
            .await?;
        Ok(self.device_sign_key(device).await? == Some(*key))
    }

    /// The key bound to `device`, if any.
    pub async fn device_sign_key(&self, device: &str) -> Result<Option<VerifyingKey>> {
        let held: Option<Vec<u8>> = sqlx::query("SELECT sign_key FROM devices WHERE id = $1")
            .bind(device)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .flatten();
        held.map(|raw| {
            gridsync_core::evidence::public_key(&raw)
                .ok_or_else(|| StoreError::Corrupt(format!("the signing key of device {device}")))
        })
        .transpose()
    }

    /// Unbinds a device's key (an admin's reset after the phone's store was lost): the next
    /// sign-in binds a new one. The signatures already kept stay, each with its key.
    pub async fn reset_device_key(&self, device: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE devices SET sign_key = NULL WHERE id = $1")
            .bind(device)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The device other than `pushing` whose bound key `sig` verifies under for the change
    /// `hash`, if any: a signature made with another device's key. Only asked on the refusal path.
    pub async fn signing_device_of(
        &self,
        pushing: &str,
        hash: &automerge::ChangeHash,
        sig: &[u8],
    ) -> Result<Option<String>> {
        let rows =
            sqlx::query("SELECT id, sign_key FROM devices WHERE sign_key IS NOT NULL AND id <> $1")
                .bind(pushing)
                .fetch_all(&self.pool)
                .await?;
        for r in rows {
            let raw: Vec<u8> = r.try_get(1)?;
            if evidence::public_key(&raw).is_some_and(|k| evidence::verifies(&k, hash, sig)) {
                return Ok(Some(r.try_get(0)?));
            }
        }
        if evidence::verifies(&self.change_key().await?.public(), hash, sig) {
            return Ok(Some(super::SERVER_DEVICE.to_owned()));
        }
        Ok(None)
    }
}

/// Rows per `change_sigs` statement: 4 values each, within both backends' parameter limits.
const SIG_ROWS_PER_STATEMENT: usize = 500;
/// Rows per `receipt_log` statement: 5 values each.
const RECEIPT_ROWS_PER_STATEMENT: usize = 200;

/// One accepted change as the receipt log and `change_sigs` see it.
#[derive(Debug)]
pub(super) struct ChangeEvidence {
    pub(super) seq: i64,
    pub(super) hash: automerge::ChangeHash,
    pub(super) device: String,
    /// The key the device had bound when it pushed (checked against it).
    pub(super) device_key: Option<[u8; 32]>,
    pub(super) sig: Option<ByteBuf>,
}

/// Writes the signatures of `changes` and appends their receipt entries (one per run of
/// consecutive changes from one device) inside the feed transaction, so the chain commits
/// with them or not at all.
pub(super) async fn append(
    tx: &mut Transaction<'static, Any>,
    changes: &[ChangeEvidence],
    now: i64,
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    // Several rows per statement, as the change log's own rows: a push of 60 changes is one
    // statement, not 60 (the storm measured the difference).
    let signed: Vec<(&ChangeEvidence, &ByteBuf, &[u8; 32])> = changes
        .iter()
        .filter_map(|c| Some((c, c.sig.as_ref()?, c.device_key.as_ref()?)))
        .collect();
    for rows in signed.chunks(SIG_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO change_sigs (seq, signer, public_key, sig) VALUES {}",
            super::sync::placeholders(Backend::of(tx), rows.len(), 4)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (c, sig, key) in rows {
            query = query
                .bind(c.seq)
                .bind(c.device.as_str())
                .bind(key.as_slice())
                .bind(sig.as_slice());
        }
        query.execute(&mut **tx).await?;
    }
    let head = sqlx::query("SELECT seq, hash FROM receipt_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (mut seq, mut prev) = match head {
        None => (0u64, GENESIS.to_vec()),
        Some(r) => (r.try_get::<i64, _>(0)? as u64, r.try_get::<Vec<u8>, _>(1)?),
    };
    // The chain is made here, then written a few entries a statement: a group commit of 200
    // one-case pushes appends 200 entries.
    let mut entries = Vec::new();
    for run in changes.chunk_by(|a, b| a.device == b.device && a.device_key == b.device_key) {
        seq += 1;
        let first = run[0].seq;
        let receipt = Receipt {
            seq,
            prev: ByteBuf::from(prev),
            at: now,
            device: run[0].device.clone(),
            device_key: run[0].device_key.map(|k| ByteBuf::from(k.to_vec())),
            first_feed: first as u64,
            changes: run
                .iter()
                .map(|c| ByteBuf::from(c.hash.0.to_vec()))
                .collect(),
        };
        let entry = receipt.encode();
        let hash = Receipt::hash_of(&entry);
        prev = hash.to_vec();
        entries.push((seq as i64, hash, first, first + run.len() as i64 - 1, entry));
    }
    for rows in entries.chunks(RECEIPT_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO receipt_log (seq, hash, first_feed, last_feed, entry) VALUES {}",
            super::sync::placeholders(Backend::of(tx), rows.len(), 5)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (seq, hash, first, last, entry) in rows {
            query = query
                .bind(*seq)
                .bind(hash.as_slice())
                .bind(*first)
                .bind(*last)
                .bind(entry.as_slice());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
