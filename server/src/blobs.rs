//! Photos and documents: blobs named by their SHA-256, uploaded in resumable parts, stored once
//! in an object store (a local directory by default), readable by whoever may read a case that
//! references them.

use std::sync::Arc;

use gridsync_core::attachment::{MAX_ATTACHMENT_BYTES, is_blob_name, sha256_hex, sniff_mime};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload};

use crate::store::{BlobRow, Store, StoreError};

/// Where blob bytes live.
#[derive(Debug, Clone)]
pub struct BlobStore {
    objects: Arc<dyn ObjectStore>,
}

/// One part of an upload: `bytes` go at `start` of a blob of `total` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub start: i64,
    pub total: i64,
    pub bytes: &'a [u8],
}

/// What a `PUT` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// The server holds the whole blob now (or already did).
    Complete,
    /// More is expected; this many bytes are held.
    Partial { received: i64 },
}

/// Why a `PUT` or `HEAD` was refused; `code()` is machine-readable.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("a blob is named by the lower-case hex SHA-256 of its bytes")]
    BadName,
    #[error("bad Content-Range: {0}")]
    BadRange(String),
    #[error("a blob may be at most {MAX_ATTACHMENT_BYTES} bytes")]
    TooLarge,
    #[error("only photos (JPEG, PNG, WebP, HEIC) and PDF documents are accepted")]
    UnsupportedType,
    #[error("the bytes do not match the name: nothing was stored")]
    Mismatch,
    #[error("the upload continues at byte {received}")]
    WrongOffset { received: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("object store: {0}")]
    Objects(String),
}

impl BlobError {
    pub fn code(&self) -> &'static str {
        match self {
            BlobError::BadName => "bad_name",
            BlobError::BadRange(_) => "bad_range",
            BlobError::TooLarge => "too_large",
            BlobError::UnsupportedType => "unsupported_type",
            BlobError::Mismatch => "hash_mismatch",
            BlobError::WrongOffset { .. } => "wrong_offset",
            BlobError::Store(_) | BlobError::Objects(_) => "internal",
        }
    }
}

fn objects_error(e: object_store::Error) -> BlobError {
    BlobError::Objects(e.to_string())
}

/// Parses `bytes START-END/TOTAL` (END inclusive).
pub fn parse_range(value: &str) -> Result<(i64, i64, i64), BlobError> {
    let bad = || BlobError::BadRange(value.chars().take(64).collect());
    let rest = value.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (span, total) = rest.split_once('/').ok_or_else(bad)?;
    let (a, b) = span.split_once('-').ok_or_else(bad)?;
    let num = |s: &str| s.trim().parse::<i64>().map_err(|_| bad());
    let (a, b, total) = (num(a)?, num(b)?, num(total)?);
    if a < 0 || b < a || total <= b {
        return Err(bad());
    }
    Ok((a, b, total))
}

impl BlobStore {
    /// Blobs in memory only (tests).
    pub fn in_memory() -> BlobStore {
        BlobStore {
            objects: Arc::new(object_store::memory::InMemory::new()),
        }
    }

    /// Blobs as files under `dir` (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<BlobStore, BlobError> {
        std::fs::create_dir_all(dir).map_err(|e| BlobError::Objects(e.to_string()))?;
        let fs =
            object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(objects_error)?;
        Ok(BlobStore {
            objects: Arc::new(fs),
        })
    }

    fn path(kind: &str, sha256: &str) -> ObjectPath {
        ObjectPath::from(format!("{kind}/{}/{sha256}", &sha256[..2]))
    }

    /// Bytes the server holds of this blob: all of them once complete.
    pub async fn received(&self, store: &Store, sha256: &str) -> Result<i64, BlobError> {
        if !is_blob_name(sha256) {
            return Err(BlobError::BadName);
        }
        if let Some(b) = store.blob(sha256).await? {
            return Ok(b.size);
        }
        Ok(store.upload(sha256).await?.map(|u| u.received).unwrap_or(0))
    }

    /// Takes a part of a blob from `device`.
    pub async fn put(
        &self,
        store: &Store,
        sha256: &str,
        part: Part<'_>,
        device: &str,
        now: i64,
    ) -> Result<Put, BlobError> {
        let Part {
            start,
            total,
            bytes,
        } = part;
        if !is_blob_name(sha256) {
            return Err(BlobError::BadName);
        }
        if total > MAX_ATTACHMENT_BYTES as i64 || start + bytes.len() as i64 > total {
            return Err(BlobError::TooLarge);
        }
        // Stored once: a second upload of the same photo is done at once.
        if store.blob(sha256).await?.is_some() {
            return Ok(Put::Complete);
        }
        let upload = store.upload(sha256).await?;
        let received = upload.as_ref().map(|u| u.received).unwrap_or(0);
        // Every byte arrived before but the blob was never finished (a crash, a failed write):
        // finish it now instead of refusing every retry.
        if let Some(u) = upload.as_ref().filter(|u| u.received == u.total) {
            return self
                .finish(store, sha256, u.mime.clone(), u.total, device, now)
                .await;
        }
        if start != received || upload.as_ref().is_some_and(|u| u.total != total) {
            return Err(BlobError::WrongOffset { received });
        }
        let mime = match &upload {
            Some(u) => u.mime.clone(),
            None => sniff_mime(bytes)
                .ok_or(BlobError::UnsupportedType)?
                .to_owned(),
        };
        if !store.add_part(sha256, start, total, &mime, bytes).await? {
            return Err(BlobError::WrongOffset {
                received: self.received(store, sha256).await?,
            });
        }
        let received = start + bytes.len() as i64;
        if received < total {
            return Ok(Put::Partial { received });
        }
        self.finish(store, sha256, mime, total, device, now).await
    }

    /// Assembles the parts, checks them against the name, stores the blob and forgets the parts.
    async fn finish(
        &self,
        store: &Store,
        sha256: &str,
        mime: String,
        total: i64,
        device: &str,
        now: i64,
    ) -> Result<Put, BlobError> {
        let all = store.upload_bytes(sha256).await?;
        if sha256_hex(&all) != sha256 {
            store.drop_upload(sha256).await?;
            return Err(BlobError::Mismatch);
        }
        self.objects
            .put_opts(
                &Self::path("blobs", sha256),
                PutPayload::from(all),
                PutOptions::default(),
            )
            .await
            .map_err(objects_error)?;
        store
            .add_blob(
                &BlobRow {
                    sha256: sha256.to_owned(),
                    mime,
                    size: total,
                },
                device,
                now,
            )
            .await?;
        store.drop_upload(sha256).await?;
        Ok(Put::Complete)
    }

    /// The whole blob.
    pub async fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let got = self
            .objects
            .get_opts(&Self::path("blobs", sha256), GetOptions::default())
            .await
            .map_err(objects_error)?;
        Ok(got.bytes().await.map_err(objects_error)?.to_vec())
    }

    /// A JPEG thumbnail at most 320 px wide or high, made once and kept; `None` for types that
    /// have none (PDF, HEIC). Re-encoding drops EXIF, location included.
    pub async fn thumbnail(&self, sha256: &str, mime: &str) -> Result<Option<Vec<u8>>, BlobError> {
        if !matches!(mime, "image/jpeg" | "image/png" | "image/webp") {
            return Ok(None);
        }
        let path = Self::path("thumbs", sha256);
        if let Ok(got) = self.objects.get_opts(&path, GetOptions::default()).await {
            return Ok(Some(got.bytes().await.map_err(objects_error)?.to_vec()));
        }
        let original = self.get(sha256).await?;
        let made = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
            // A small file may claim a huge image: bound what decoding may allocate.
            let mut limits = image::Limits::default();
            limits.max_image_width = Some(12_000);
            limits.max_image_height = Some(12_000);
            limits.max_alloc = Some(256 * 1024 * 1024);
            let mut reader = image::ImageReader::new(std::io::Cursor::new(&original))
                .with_guessed_format()
                .ok()?;
            reader.limits(limits);
            let img = reader.decode().ok()?;
            let mut out = std::io::Cursor::new(Vec::new());
            img.thumbnail(320, 320)
                .to_rgb8()
                .write_to(&mut out, image::ImageFormat::Jpeg)
                .ok()?;
            Some(out.into_inner())
        })
        .await
        .map_err(|e| BlobError::Objects(e.to_string()))?;
        let Some(thumb) = made else {
            return Ok(None);
        };
        self.objects
            .put_opts(
                &path,
                PutPayload::from(thumb.clone()),
                PutOptions::default(),
            )
            .await
            .map_err(objects_error)?;
        Ok(Some(thumb))
    }
}
