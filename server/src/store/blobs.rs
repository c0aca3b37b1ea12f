//! Blob bookkeeping in the database: which blobs are complete, who holds their bytes, the parts
//! of uploads under way (each account its own), and who may read a blob (through the cases that
//! reference it, when the account that added the reference holds the bytes).

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

    /// Whether `reader` may read the blob: through a case it may read whose reference was added
    /// by an account that holds the bytes. A reference with no `blob_refs` row predates
    /// provenance (migration 0006: every reference admitted since has one, written in the same
    /// transaction as the projection's `case_blobs`) and is trusted. Knowing a name and listing
    /// it in one's own case grants nothing.
    pub async fn may_read_blob(&self, reader: &Identity, sha256: &str) -> Result<bool> {
        self.readable_ref(
            reader,
            sha256,
            "SELECT c.id, c.id, c.id, c.id, c.kind, c.path, c.departments
             FROM case_blobs b JOIN cases c ON c.id = b.case_id
             WHERE b.sha256 = $1 AND (
                 NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.case_id = b.case_id AND r.sha256 = b.sha256)
                 OR EXISTS (SELECT 1 FROM blob_refs r JOIN blob_holders h
                            ON h.sha256 = r.sha256 AND h.user_id = r.user_id
                            WHERE r.case_id = b.case_id AND r.sha256 = b.sha256))",
        )
        .await
    }

    /// Whether `uploader` may send the blob's bytes: a case it may read references it.
    pub async fn may_upload_blob(&self, uploader: &Identity, sha256: &str) -> Result<bool> {
        self.readable_ref(
            uploader,
            sha256,
            "SELECT c.id, c.id, c.id, c.id, c.kind, c.path, c.departments
             FROM case_blobs b JOIN cases c ON c.id = b.case_id WHERE b.sha256 = $1",
        )
        .await
    }

    /// Judges each referencing case of `sql` by the same rule as a case read.
    async fn readable_ref(&self, who: &Identity, sha256: &str, sql: &'static str) -> Result<bool> {
        let rows = sqlx::query(sql).bind(sha256).fetch_all(&self.pool).await?;
        for row in &rows {
            if super::sync::visible_row(who, row)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `user` has sent every byte of the blob.
    pub async fn holds_blob(&self, sha256: &str, user: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM blob_holders WHERE sha256 = $1 AND user_id = $2")
                .bind(sha256)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Forgets uploads nobody continued since `before` (ms): all parts of an upload whose
    /// newest part is older (an upload still moving keeps its old parts). Returns how many parts.
    pub async fn drop_stale_parts(&self, before: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM blob_parts WHERE (sha256, user_id) IN (
                 SELECT sha256, user_id FROM blob_parts GROUP BY sha256, user_id
                 HAVING MAX(created_at) < $1)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// `user`'s upload of the blob under way, if any.
    pub async fn upload(&self, sha256: &str, user: &str) -> Result<Option<Upload>> {
        let rows = sqlx::query(
            "SELECT start_at, len, total, mime FROM blob_parts WHERE sha256 = $1 AND user_id = $2
             ORDER BY start_at",
        )
        .bind(sha256)
        .bind(user)
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
    #[allow(clippy::too_many_arguments)]
    pub async fn add_part(
        &self,
        sha256: &str,
        user: &str,
        start: i64,
        total: i64,
        mime: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO blob_parts (sha256, user_id, start_at, len, total, mime, bytes, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (sha256, user_id, start_at) DO NOTHING",
        )
        .bind(sha256)
        .bind(user)
        .bind(start)
        .bind(bytes.len() as i64)
        .bind(total)
        .bind(mime)
        .bind(bytes.to_vec())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The bytes of all parts, in order.
    pub async fn upload_bytes(&self, sha256: &str, user: &str) -> Result<Vec<u8>> {
        let rows = sqlx::query(
            "SELECT bytes FROM blob_parts WHERE sha256 = $1 AND user_id = $2 ORDER BY start_at",
        )
        .bind(sha256)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.extend_from_slice(&r.try_get::<Vec<u8>, _>(0)?);
        }
        Ok(out)
    }

    /// Forgets an upload's parts (after completion, or when its bytes did not match its name).
    pub async fn drop_upload(&self, sha256: &str, user: &str) -> Result<()> {
        sqlx::query("DELETE FROM blob_parts WHERE sha256 = $1 AND user_id = $2")
            .bind(sha256)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a complete blob (once) and that `user` holds it.
    pub async fn add_blob(&self, b: &BlobRow, device: &str, user: &str, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO blobs (sha256, mime, size, device_id, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&b.sha256)
        .bind(&b.mime)
        .bind(b.size)
        .bind(device)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO blob_holders (sha256, user_id) VALUES ($1, $2)
             ON CONFLICT (sha256, user_id) DO NOTHING",
        )
        .bind(&b.sha256)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every blob the store records as held whole.
    pub async fn blob_names(&self) -> Result<Vec<String>> {
        sqlx::query("SELECT sha256 FROM blobs ORDER BY sha256")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    /// Forgets that a blob is held (its bytes are gone from the object store): its uploaders
    /// probe offset 0 and send it again; the cases' references to it stay.
    pub async fn forget_blob(&self, sha256: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM blob_holders WHERE sha256 = $1",
            "DELETE FROM blobs WHERE sha256 = $1",
        ] {
            sqlx::query(sql).bind(sha256).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
