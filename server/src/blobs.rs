//! Photos and documents: blobs named by their SHA-256, uploaded in resumable parts, stored once
//! in an object store (a local directory by default), readable by whoever may read a case that
//! references them.

use std::sync::Arc;

use gridsync_core::attachment::{MAX_ATTACHMENT_BYTES, is_blob_name, sha256_hex, sniff_mime};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload};

use axum::http::StatusCode;
use gridsync_core::Identity;

use crate::store::{BlobRow, Store, StoreError};

/// Where blob bytes live.
#[derive(Debug, Clone)]
pub struct BlobStore {
    objects: Arc<dyn ObjectStore>,
}

/// One part of an upload: `bytes` go at `start` of a blob of `total` bytes. `cut` when the
/// connection broke before the part's end: what arrived is kept, so the client resumes from
/// the last byte the server got rather than from the part's start.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub start: i64,
    pub total: i64,
    pub bytes: &'a [u8],
    pub cut: bool,
}

/// Who sends a blob: the device (kept with the blob) and the account (which then holds it).
#[derive(Debug, Clone, Copy)]
pub struct Uploader<'a> {
    pub device: &'a str,
    pub user: &'a str,
}

/// What `HEAD` says: where the caller's upload continues, and whether they sent it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub offset: i64,
    pub complete: bool,
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
    /// No case the caller may read references it (or it does not exist: names reveal nothing).
    #[error("no such blob")]
    NotFound,
    #[error("the bytes have not been uploaded yet")]
    NotUploaded,
    #[error("this type has no thumbnail")]
    NoThumbnail,
    #[error("this file's location data cannot be removed; your role sees it only through the case")]
    MetadataRestricted,
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
            BlobError::NotFound => "not_found",
            BlobError::NotUploaded => "not_uploaded",
            BlobError::NoThumbnail => "no_thumbnail",
            BlobError::MetadataRestricted => "metadata_restricted",
            BlobError::Store(_) | BlobError::Objects(_) => "internal",
        }
    }

    /// The HTTP status the API and the console answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            BlobError::BadName | BlobError::BadRange(_) => StatusCode::BAD_REQUEST,
            BlobError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BlobError::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BlobError::Mismatch => StatusCode::UNPROCESSABLE_ENTITY,
            BlobError::WrongOffset { .. } => StatusCode::CONFLICT,
            BlobError::NotFound | BlobError::NotUploaded | BlobError::NoThumbnail => {
                StatusCode::NOT_FOUND
            }
            BlobError::MetadataRestricted => StatusCode::FORBIDDEN,
            BlobError::Store(_) | BlobError::Objects(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What a caller wants of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobUse {
    /// Its bytes or thumbnail: through a readable case whose reference was added by a holder.
    Read,
    /// To send its bytes: through any readable case that references it.
    Upload,
}

/// `?thumb=1` (or `true`) asks for the thumbnail; `thumb=0`, `false` or nothing for the bytes.
pub fn wants_thumb(value: Option<&str>) -> bool {
    value.is_some_and(|v| !matches!(v, "0" | "false" | "no"))
}

/// A blob as one caller may see it.
#[derive(Debug)]
pub struct Served {
    pub mime: String,
    pub bytes: Vec<u8>,
    /// `original` or `stripped` (of EXIF, by role); `None` for a thumbnail, which never has any.
    pub variant: Option<&'static str>,
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

// One thumbnail maker for server and phones (a phone makes its photos' for a colleague's).
pub use gridsync_core::attachment::{THUMBNAIL_PX, make_thumbnail};

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

    /// An S3-compatible bucket (AWS, MinIO, Ceph RGW, Alibaba OSS, Tencent COS): `s3://BUCKET`,
    /// configured from the standard `AWS_*` variables (`AWS_ENDPOINT` for a store other than
    /// AWS, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`; `AWS_ALLOW_HTTP=true`
    /// only for a test endpoint on loopback). Credentials never appear in logs or errors.
    pub fn s3(url: &str) -> Result<BlobStore, BlobError> {
        let bucket = url
            .strip_prefix("s3://")
            .map(|b| b.trim_end_matches('/'))
            .filter(|b| !b.is_empty() && !b.contains('/'))
            .ok_or_else(|| BlobError::Objects(format!("{url:?} is not s3://BUCKET")))?;
        let s3 = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(objects_error)?;
        Ok(BlobStore {
            objects: Arc::new(s3),
        })
    }

    /// A local directory (a path) or an S3-compatible bucket (`s3://BUCKET`).
    pub fn open(location: &str) -> Result<BlobStore, BlobError> {
        if location.starts_with("s3://") {
            Self::s3(location)
        } else {
            Self::local(std::path::Path::new(location))
        }
    }

    /// After a restore: forgets every blob the database says is held whose bytes the object
    /// store lacks (the backup is newer than the blobs' copy), so phones upload them again.
    /// Returns how many.
    pub async fn forget_missing(&self, store: &Store) -> Result<u64, BlobError> {
        let mut forgotten = 0;
        for sha256 in store.blob_names().await? {
            match object_store::ObjectStoreExt::head(&*self.objects, &Self::path("blobs", &sha256))
                .await
            {
                Ok(_) => {}
                Err(object_store::Error::NotFound { .. }) => {
                    store.forget_blob(&sha256).await?;
                    forgotten += 1;
                }
                Err(e) => return Err(objects_error(e)),
            }
        }
        Ok(forgotten)
    }

    /// Forgets uploads nobody continued for `days`, so abandoned parts do not pile up in the
    /// database; returns how many parts went.
    pub async fn drop_abandoned(store: &Store, now: i64, days: i64) -> Result<u64, BlobError> {
        Ok(store.drop_stale_parts(now - days * 24 * 3_600_000).await?)
    }

    /// Hourly, forgets the parts of uploads nobody continued for `days` (`serve`'s sweeper).
    pub fn spawn_sweeper(store: Store, days: i64) {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                match Self::drop_abandoned(&store, crate::now_ms(), days).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(parts = n, "forgot abandoned uploads"),
                    Err(e) => tracing::warn!(error = %e, "sweeping abandoned uploads failed"),
                }
            }
        });
    }

    /// The caller may touch a blob only through a case it may read that references it:
    /// `BadName` for a name that is no blob name (no path reaches the store), `NotFound`
    /// otherwise, so names reveal nothing.
    pub async fn check_access(
        store: &Store,
        who: &Identity,
        sha256: &str,
        using: BlobUse,
    ) -> Result<(), BlobError> {
        if !is_blob_name(sha256) {
            return Err(BlobError::BadName);
        }
        let allowed = match using {
            BlobUse::Read => store.may_read_blob(who, sha256).await?,
            BlobUse::Upload => store.may_upload_blob(who, sha256).await?,
        };
        match allowed {
            true => Ok(()),
            false => Err(BlobError::NotFound),
        }
    }

    /// A blob (or its thumbnail) for someone who may read a case that references it. EXIF (where
    /// the camera stood) is evidence for the centres and the one who took it; the others get the
    /// same picture without it.
    pub async fn read_for(
        &self,
        store: &Store,
        who: &Identity,
        sha256: &str,
        thumb: bool,
    ) -> Result<Served, BlobError> {
        Self::check_access(store, who, sha256, BlobUse::Read).await?;
        let blob = store.blob(sha256).await?.ok_or(BlobError::NotUploaded)?;
        if thumb {
            let bytes = self
                .thumbnail(sha256, &blob.mime)
                .await?
                .ok_or(BlobError::NoThumbnail)?;
            return Ok(Served {
                mime: "image/jpeg".into(),
                bytes,
                variant: None,
            });
        }
        let bytes = self.get(sha256).await?;
        let as_taken =
            who.role.sees_photo_metadata() || store.holds_blob(sha256, &who.user).await?;
        let (variant, bytes) = if as_taken {
            ("original", bytes)
        } else {
            match gridsync_core::attachment::strip_metadata(&bytes, &blob.mime) {
                // Nothing to remove (a PDF, a photo without EXIF): the bytes as taken.
                Some(plain) if plain == bytes => ("original", plain),
                Some(plain) => ("stripped", plain),
                None => return Err(BlobError::MetadataRestricted),
            }
        };
        Ok(Served {
            mime: blob.mime,
            bytes,
            variant: Some(variant),
        })
    }

    fn path(kind: &str, sha256: &str) -> ObjectPath {
        ObjectPath::from(format!("{kind}/{}/{sha256}", &sha256[..2]))
    }

    /// What the server holds of `user`'s copy of this blob: all of it once they sent it whole
    /// (only then are they a holder). Someone who never sent a stored blob starts from 0, to
    /// prove they have it.
    pub async fn held(&self, store: &Store, sha256: &str, user: &str) -> Result<Held, BlobError> {
        if !is_blob_name(sha256) {
            return Err(BlobError::BadName);
        }
        if store.holds_blob(sha256, user).await?
            && let Some(b) = store.blob(sha256).await?
        {
            return Ok(Held {
                offset: b.size,
                complete: true,
            });
        }
        let offset = store
            .upload(sha256, user)
            .await?
            .map(|u| u.received)
            .unwrap_or(0);
        Ok(Held {
            offset,
            complete: false,
        })
    }

    /// Takes a part of a blob.
    pub async fn put(
        &self,
        store: &Store,
        sha256: &str,
        part: Part<'_>,
        from: Uploader<'_>,
        now: i64,
    ) -> Result<Put, BlobError> {
        let Part {
            start,
            total,
            bytes,
            cut,
        } = part;
        if !is_blob_name(sha256) {
            return Err(BlobError::BadName);
        }
        if total > MAX_ATTACHMENT_BYTES as i64 || start + bytes.len() as i64 > total {
            return Err(BlobError::TooLarge);
        }
        // Stored once: a second upload of the same photo by one who sent it is done at once.
        let stored = store.blob(sha256).await?.is_some();
        if stored && store.holds_blob(sha256, from.user).await? {
            return Ok(Put::Complete);
        }
        let upload = store.upload(sha256, from.user).await?;
        let received = upload.as_ref().map(|u| u.received).unwrap_or(0);
        // Every byte arrived before but the blob was never finished (a crash, a failed write):
        // finish it now instead of refusing every retry.
        if let Some(u) = upload.as_ref().filter(|u| u.received == u.total) {
            return self
                .finish(store, sha256, u.mime.clone(), u.total, from, stored, now)
                .await;
        }
        if start != received || upload.as_ref().is_some_and(|u| u.total != total) {
            return Err(BlobError::WrongOffset { received });
        }
        let mime = match (&upload, sniff_mime(bytes)) {
            (Some(u), _) => u.mime.clone(),
            (None, Some(m)) => m.to_owned(),
            // Too little arrived to tell the type: keep nothing, the client starts again.
            (None, None) if cut => return Ok(Put::Partial { received }),
            (None, None) => return Err(BlobError::UnsupportedType),
        };
        if bytes.is_empty() {
            return Ok(Put::Partial { received });
        }
        if !store
            .add_part(sha256, from.user, start, total, &mime, bytes, now)
            .await?
        {
            return Err(BlobError::WrongOffset {
                received: self.held(store, sha256, from.user).await?.offset,
            });
        }
        let received = start + bytes.len() as i64;
        if received < total {
            return Ok(Put::Partial { received });
        }
        self.finish(store, sha256, mime, total, from, stored, now)
            .await
    }

    /// Assembles the parts, checks them against the name, stores the blob (unless `stored`
    /// already), records the sender as a holder and forgets the parts.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        store: &Store,
        sha256: &str,
        mime: String,
        total: i64,
        from: Uploader<'_>,
        stored: bool,
        now: i64,
    ) -> Result<Put, BlobError> {
        let all = store.upload_bytes(sha256, from.user).await?;
        if sha256_hex(&all) != sha256 {
            store.drop_upload(sha256, from.user).await?;
            return Err(BlobError::Mismatch);
        }
        if !stored {
            self.objects
                .put_opts(
                    &Self::path("blobs", sha256),
                    PutPayload::from(all),
                    PutOptions::default(),
                )
                .await
                .map_err(objects_error)?;
        }
        store
            .add_blob(
                &BlobRow {
                    sha256: sha256.to_owned(),
                    mime,
                    size: total,
                },
                from.device,
                from.user,
                now,
            )
            .await?;
        store.drop_upload(sha256, from.user).await?;
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

    /// A JPEG thumbnail ([`make_thumbnail`]), made once and kept; `None` for types that have
    /// none (PDF, HEIC) and for bytes that do not decode.
    pub async fn thumbnail(&self, sha256: &str, mime: &str) -> Result<Option<Vec<u8>>, BlobError> {
        if !gridsync_core::attachment::has_thumbnail(mime) {
            return Ok(None);
        }
        let path = Self::path("thumbs", sha256);
        if let Ok(got) = self.objects.get_opts(&path, GetOptions::default()).await {
            return Ok(Some(got.bytes().await.map_err(objects_error)?.to_vec()));
        }
        let original = self.get(sha256).await?;
        let made = tokio::task::spawn_blocking(move || make_thumbnail(&original))
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
