//! A case's verifiable export (ADR 0028).

use std::collections::BTreeMap;

use gridsync_core::evidence::export::{
    CaseExport, ExportBody, ExportedChange, ExportedKey, ExportedReceipt, FORMAT,
};
use gridsync_core::evidence::{self, public_key};
use serde_bytes::ByteBuf;
use sqlx::Row;

use crate::store::{Result, Store, StoreError};

impl Store {
    /// The verifiable export of case `id`: its changes with their signatures, the keys that made
    /// them and the receipt entries that name them, signed with the server's change key. `None`
    /// when the server has no such case. Read in one transaction, so the entries match the
    /// changes.
    pub async fn case_export(&self, id: &str, by: &str, now: i64) -> Result<Option<Vec<u8>>> {
        let mut conn = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT c.seq, c.bytes, c.device_id, s.signer, s.public_key, s.sig
             FROM changes c LEFT JOIN change_sigs s ON s.seq = c.seq
             WHERE c.doc = $1 ORDER BY c.seq",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let receipts_from: i64 =
            sqlx::query("SELECT value FROM counters WHERE name = 'receipts_from'")
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
                .unwrap_or(0);
        let mut keys: BTreeMap<String, ExportedKey> = BTreeMap::new();
        let mut changes = Vec::with_capacity(rows.len());
        let mut receipts: BTreeMap<i64, ExportedReceipt> = BTreeMap::new();
        let mut covered_to = i64::MIN;
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let signer: Option<String> = r.try_get(3)?;
            let key: Option<Vec<u8>> = r.try_get(4)?;
            let sig: Option<Vec<u8>> = r.try_get(5)?;
            let key_id = match (signer, key.as_deref().and_then(public_key)) {
                (Some(holder), Some(pk)) => {
                    let id = evidence::fingerprint(&pk);
                    keys.entry(id.clone()).or_insert_with(|| ExportedKey {
                        id: id.clone(),
                        holder,
                        public_key: ByteBuf::from(pk.to_bytes().to_vec()),
                    });
                    Some(id)
                }
                _ => None,
            };
            changes.push(ExportedChange {
                feed: seq as u64,
                bytes: ByteBuf::from(r.try_get::<Vec<u8>, _>(1)?),
                device: r.try_get(2)?,
                sig: key_id.as_ref().and(sig.map(ByteBuf::from)),
                signer: key_id,
            });
            // The entry that names this change (entries cover consecutive feed ranges).
            if seq > receipts_from && seq > covered_to {
                let row = sqlx::query(
                    "SELECT seq, last_feed, hash, entry FROM receipt_log WHERE last_feed >= $1 ORDER BY last_feed LIMIT 1",
                )
                .bind(seq)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("no receipt names feed {seq}")))?;
                covered_to = row.try_get(1)?;
                receipts.insert(
                    row.try_get(0)?,
                    ExportedReceipt {
                        hash: ByteBuf::from(row.try_get::<Vec<u8>, _>(2)?),
                        entry: ByteBuf::from(row.try_get::<Vec<u8>, _>(3)?),
                    },
                );
            }
        }
        conn.commit().await?;
        let body = ExportBody {
            format: FORMAT.into(),
            case: id.to_owned(),
            exported_at: now,
            exported_by: by.to_owned(),
            receipts_from: receipts_from.max(0) as u64,
            changes,
            keys: keys.into_values().collect(),
            receipts: receipts.into_values().collect(),
        };
        let key = self.change_key().await?;
        Ok(Some(CaseExport::seal(&body, key.signing())))
    }
}
