//! Attached photos and documents, sealed and named by their SHA-256, and the forms of
//! colleagues' photos fetched from the server.

use rusqlite::{OptionalExtension, params};

use super::{Replica, storage};
use crate::attachment::{check_attachment, has_thumbnail, sha256_hex};
use crate::case::Attachment;
use crate::vocab::Millis;
use crate::{Error, Result};

/// What the user says about a photo or document when attaching it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttachmentMeta {
    pub caption: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A form of a colleague's photo fetched from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobCopy {
    /// The server's JPEG thumbnail (320 px).
    Thumbnail,
    /// The full picture without its metadata (what roles that may not see EXIF receive).
    WithoutMetadata,
}

impl BlobCopy {
    pub fn as_str(self) -> &'static str {
        match self {
            BlobCopy::Thumbnail => "thumb",
            BlobCopy::WithoutMetadata => "stripped",
        }
    }
}

/// What a phone holds of one blob.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobHere {
    /// The bytes as taken (attached here, or fetched as taken).
    pub original: bool,
    /// The server holds them whole.
    pub uploaded: bool,
    pub thumbnail: bool,
    pub without_metadata: bool,
}

impl Replica {
    /// Attaches a photo or document to a case offline: the bytes are sealed into the store (once,
    /// however often they are attached) and the case references them by SHA-256.
    pub fn attach(
        &mut self,
        id: &str,
        bytes: &[u8],
        meta: &AttachmentMeta,
        at: Millis,
    ) -> Result<Attachment> {
        let (sha256, mime) = check_attachment(bytes)?;
        let attachment = Attachment {
            sha256: sha256.clone(),
            mime: mime.to_owned(),
            bytes: bytes.len() as u64,
            caption: meta.caption.clone(),
            captured_at: at,
            lat: meta.lat,
            lon: meta.lon,
        };
        let sealed = self.seal.seal(bytes, &aad_blob(&sha256));
        self.conn
            .execute(
                "INSERT INTO blobs (sha256, mime, bytes, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sha256) DO NOTHING",
                params![sha256, mime, bytes.len() as i64, sealed],
            )
            .map_err(storage)?;
        // If the edit fails the blob stays unreferenced; attaching it again reuses it.
        self.edit(id, at, |e| e.add_attachment(&attachment))?;
        Ok(attachment)
    }

    /// The bytes of an attached blob held on this phone, checked against its name.
    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let row: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT data FROM blobs WHERE sha256 = ?1", [sha256], |r| {
                r.get(0)
            })
            .optional()
            .map_err(storage)?;
        let Some(sealed) = row else { return Ok(None) };
        let plain = self.seal.open(&sealed, &aad_blob(sha256))?;
        if sha256_hex(&plain) != sha256 {
            return Err(Error::Storage(format!(
                "blob {sha256} does not match its name"
            )));
        }
        Ok(Some(plain))
    }

    /// Blobs held here that the server does not have yet, oldest first.
    pub fn blobs_to_upload(&self) -> Result<Vec<String>> {
        self.names("SELECT sha256 FROM blobs WHERE uploaded = 0 ORDER BY rowid")
    }

    /// The first column of every row of `sql`.
    fn names(&self, sql: &str) -> Result<Vec<String>> {
        self.rows(sql, [], |r| r.get(0))
    }

    /// Records that the server holds the whole blob.
    pub fn mark_uploaded(&self, sha256: &str) -> Result<()> {
        self.conn
            .execute("UPDATE blobs SET uploaded = 1 WHERE sha256 = ?1", [sha256])
            .map(|_| ())
            .map_err(storage)
    }

    /// What this phone holds of a blob.
    pub fn blob_here(&self, sha256: &str) -> Result<BlobHere> {
        let uploaded: Option<i64> = self
            .conn
            .query_row(
                "SELECT uploaded FROM blobs WHERE sha256 = ?1",
                [sha256],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage)?;
        let copy = |variant: BlobCopy| -> Result<bool> {
            Ok(self
                .conn
                .query_row(
                    "SELECT 1 FROM blob_copies WHERE sha256 = ?1 AND variant = ?2",
                    [sha256, variant.as_str()],
                    |_| Ok(()),
                )
                .optional()
                .map_err(storage)?
                .is_some())
        };
        Ok(BlobHere {
            original: uploaded.is_some(),
            uploaded: uploaded == Some(1),
            thumbnail: copy(BlobCopy::Thumbnail)?,
            without_metadata: copy(BlobCopy::WithoutMetadata)?,
        })
    }

    /// Notes the photos of `case_ids` whose thumbnails this phone should fetch: those it holds
    /// in no form yet. Returns how many are wanted in all.
    pub fn want_thumbnails(&self, case_ids: &[String]) -> Result<usize> {
        for id in case_ids {
            let case = match self.case(id) {
                Ok(doc) => doc.read()?,
                Err(Error::UnknownCase(_)) => continue,
                Err(e) => return Err(e),
            };
            for a in case.attachments {
                let here = self.blob_here(&a.sha256)?;
                if has_thumbnail(&a.mime) && !here.original && !here.thumbnail {
                    self.conn
                        .execute(
                            "INSERT INTO blob_wants (sha256) VALUES (?1) ON CONFLICT DO NOTHING",
                            [&a.sha256],
                        )
                        .map_err(storage)?;
                }
            }
        }
        Ok(self.wanted_thumbnails()?.len())
    }

    /// Thumbnails still to fetch, oldest wish first.
    pub fn wanted_thumbnails(&self) -> Result<Vec<String>> {
        self.names("SELECT sha256 FROM blob_wants ORDER BY rowid")
    }

    /// Gives up on a thumbnail (the server has none for this type).
    pub fn drop_thumbnail_wish(&self, sha256: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM blob_wants WHERE sha256 = ?1", [sha256])
            .map(|_| ())
            .map_err(storage)
    }

    /// Keeps a copy fetched from the server, sealed like everything else.
    pub fn keep_copy(&self, sha256: &str, variant: BlobCopy, bytes: &[u8]) -> Result<()> {
        let sealed = self.seal.seal(bytes, &aad_copy(sha256, variant));
        self.conn
            .execute(
                "INSERT INTO blob_copies (sha256, variant, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sha256, variant) DO UPDATE SET data = excluded.data",
                params![sha256, variant.as_str(), sealed],
            )
            .map_err(storage)?;
        if variant == BlobCopy::Thumbnail {
            self.drop_thumbnail_wish(sha256)?;
        }
        Ok(())
    }

    /// A copy fetched from the server, if held.
    pub fn copy(&self, sha256: &str, variant: BlobCopy) -> Result<Option<Vec<u8>>> {
        let row: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM blob_copies WHERE sha256 = ?1 AND variant = ?2",
                [sha256, variant.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage)?;
        row.map(|sealed| self.seal.open(&sealed, &aad_copy(sha256, variant)))
            .transpose()
    }

    /// Keeps a colleague's photo fetched as taken: checked against its name, then held like a
    /// photo attached here (the server has it, so it is not uploaded again).
    pub fn keep_original(&self, sha256: &str, bytes: &[u8]) -> Result<()> {
        let (name, mime) = check_attachment(bytes)?;
        if name != sha256 {
            return Err(Error::InvalidInput {
                field: "attachment".into(),
                reason: format!("the bytes fetched for {sha256} do not match its name"),
            });
        }
        let sealed = self.seal.seal(bytes, &aad_blob(sha256));
        self.conn
            .execute(
                "INSERT INTO blobs (sha256, mime, bytes, data, uploaded) VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (sha256) DO NOTHING",
                params![sha256, mime, bytes.len() as i64, sealed],
            )
            .map_err(storage)?;
        self.drop_thumbnail_wish(sha256)
    }
}

fn aad_blob(sha256: &str) -> Vec<u8> {
    format!("gridsync-blob:{sha256}").into_bytes()
}

fn aad_copy(sha256: &str, variant: BlobCopy) -> Vec<u8> {
    format!("gridsync-blob:{sha256}:{}", variant.as_str()).into_bytes()
}
