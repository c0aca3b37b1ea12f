//! Blob bookkeeping in the database: which blobs are complete, the parts of uploads under way,
//! and who may read a blob (through the cases that reference it).

use gridsync_core::Identity;
use sqlx::Row;

use super::{Result, Store, StoreError};

/// A complete blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    pub sha256: String,
    pub mime: String,
    pub size: i64,
}

/// An upload under way: bytes received so far, the total announced, the sniffed type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub received: i64,
    pub total: i64,
    pub mime: String,
    /// (start, length) of each part, in order.
    pub parts: Vec<(i64, i64)>,
}

impl Store {
    pub async fn blob(&self, sha256: &str) -> Result<Option<BlobRow>> {
        let row = sqlx::query("SELECT sha256, mime, size FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(BlobRow {
                sha256: r.try_get(0)?,
                mime: r.try_get(1)?,
                size: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Whether `reader` may read a case that references the blob.
    pub async fn may_read_blob(&self, reader: &Identity, sha256: &str) -> Result<bool> {
        // One query for all referencing cases, judged by the same rule as a case read.
        let rows = sqlx::query(
            "SELECT c.id, c.id, c.id, c.id, c.kind, c.path, c.department
             FROM case_blobs b JOIN cases c ON c.id = b.case_id WHERE b.sha256 = $1",
        )
        .bind(sha256)
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            if super::sync::visible_row(reader, row)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub async fn upload(&self, sha256: &str) -> Result<Option<Upload>> {
        let rows = sqlx::query(
            "SELECT start_at, len, total, mime FROM blob_parts WHERE sha256 = $1 ORDER BY start_at",
        )
        .bind(sha256)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut up = Upload {
            received: 0,
            total: first.try_get(2)?,
            mime: first.try_get(3)?,
            parts: Vec::new(),
        };
        for r in &rows {
            let (start, len): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
            if start != up.received {
                return Err(StoreError::Corrupt(format!("upload {sha256} has a gap")));
            }
            up.received += len;
            up.parts.push((start, len));
        }
        Ok(Some(up))
    }

    /// Records a part; refused (`false`) when another part took that place meanwhile.
    pub async fn add_part(
        &self,
        sha256: &str,
        start: i64,
        total: i64,
        mime: &str,
        bytes: &[u8],
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO blob_parts (sha256, start_at, len, total, mime, bytes) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (sha256, start_at) DO NOTHING",
        )
        .bind(sha256)
        .bind(start)
        .bind(bytes.len() as i64)
        .bind(total)
        .bind(mime)
        .bind(bytes.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The bytes of all parts, in order.
    pub async fn upload_bytes(&self, sha256: &str) -> Result<Vec<u8>> {
        let rows = sqlx::query("SELECT bytes FROM blob_parts WHERE sha256 = $1 ORDER BY start_at")
            .bind(sha256)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.extend_from_slice(&r.try_get::<Vec<u8>, _>(0)?);
        }
        Ok(out)
    }

    /// Forgets an upload's parts (after completion, or when its bytes did not match its name).
    pub async fn drop_upload(&self, sha256: &str) -> Result<()> {
        sqlx::query("DELETE FROM blob_parts WHERE sha256 = $1")
            .bind(sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn add_blob(&self, b: &BlobRow, device: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blobs (sha256, mime, size, device_id, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&b.sha256)
        .bind(&b.mime)
        .bind(b.size)
        .bind(device)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
