//! The device replica: a phone's cases in a local SQLite file, encrypted at rest.
//!
//! A lost phone must not leak dispute or key-person data, so every document, summary, identity and
//! rejection reason is sealed with XChaCha20-Poly1305 under a 32-byte key the app keeps in the
//! platform keystore. Plain are only what says nothing about people: case ids (random UUIDs),
//! sync states, timestamps, change hashes (acknowledged, rejected with rejection codes, and in the
//! outbox), the feed cursor and the actor id. Each sealed value is
//! bound to its row and column (associated data), so blobs cannot be swapped between cases.
//!
//! Sync is two calls with the network in between: [`Replica::next_sync_request`] reads only, and
//! [`Replica::apply_sync_response`] writes everything the response says in one transaction. A crash
//! between them loses nothing (what is pushed is what the server has not acknowledged, and
//! acknowledgements only land on commit) and a repeated response applies nothing twice (changes
//! are identified by hash).
//!
//! Each change made here is also kept, sealed, in the `outbox` beside its document until the
//! server acknowledges it, so building a push reads those rows instead of opening every pending
//! document (ADR 0018). The documents stay the truth: a pending case without outbox rows (a
//! store from before the outbox, a case waiting for history) is pushed from its document.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use automerge::{ActorId, ChangeHash};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::access::Identity;
use crate::attachment::{check_attachment, has_thumbnail, sha256_hex};
use crate::case::{Attachment, CaseDoc, CaseEditor, ChangeAuthor, NewCase, parse_change};
use crate::jurisdiction::{JurisdictionPath, Level};
use crate::protocol::{DocChanges, DocHeads, SyncRequest, SyncResponse, hash_bytes, to_hash};
use crate::vocab::{CaseKind, Millis, Status, new_case_id, validate_case_id};
use crate::workflow::{self, EventDraft};
use crate::{Error, Result};

/// Pushed change bytes per request, so a request fits a weak link; the rest goes next round.
pub const MAX_PUSH_BYTES: usize = 512 * 1024;
/// What the replica asks the server to send per response by default.
pub const DEFAULT_PAGE_BYTES: u32 = 256 * 1024;

const SCHEMA: i64 = 5;

/// Where a case stands between this phone and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Has changes the server has not acknowledged.
    Pending,
    /// The server holds everything this phone has.
    Synced,
    /// The server refused some of this phone's changes (kept here, and in its quarantine).
    Rejected,
    /// Part of the case's history has not arrived yet (it became visible to this phone after it
    /// started): the next sync asks for the rest. Not listed until complete.
    Incomplete,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Pending => "pending",
            SyncState::Synced => "synced",
            SyncState::Rejected => "rejected",
            SyncState::Incomplete => "incomplete",
        }
    }

    pub const ALL: [SyncState; 4] = [
        SyncState::Pending,
        SyncState::Synced,
        SyncState::Rejected,
        SyncState::Incomplete,
    ];

    pub fn from_name(s: &str) -> Option<SyncState> {
        SyncState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn parse(s: &str) -> Result<SyncState> {
        SyncState::from_name(s).ok_or_else(|| Error::Storage(format!("unknown sync state {s:?}")))
    }
}

/// What the case list shows, kept sealed beside each document so listing 10,000 cases never
/// loads a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: String,
    pub kind: CaseKind,
    pub category: String,
    pub title: String,
    pub jurisdiction: JurisdictionPath,
    pub status: Status,
    pub level: Level,
    pub created_at: Millis,
    /// Fields holding more than one value.
    pub field_conflicts: u32,
    /// Open workflow conflicts.
    pub workflow_conflicts: u32,
    #[serde(skip)]
    pub sync_state: Option<SyncState>,
    #[serde(skip)]
    pub updated_at: Millis,
}

impl CaseSummary {
    pub fn in_conflict(&self) -> bool {
        self.field_conflicts + self.workflow_conflicts > 0
    }
}

/// A filter for [`Replica::list`]; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub kind: Option<CaseKind>,
    pub status: Option<Status>,
    pub sync_state: Option<SyncState>,
    pub conflict_only: bool,
    /// Matched against title and category.
    pub text: Option<String>,
}

/// What the user says about a photo or document when attaching it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttachmentMeta {
    pub caption: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A change of this phone's that the server refused, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRejection {
    pub case_id: String,
    pub hash: String,
    pub code: String,
    pub reason: String,
}

/// What one applied response did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    pub accepted: usize,
    pub rejected: usize,
    pub pulled_changes: usize,
    /// Cases that changed locally because of the pull.
    pub updated_cases: Vec<String>,
    /// The server has more: sync again.
    pub more: bool,
}

/// The phone's local store of cases.
#[derive(Debug)]
pub struct Replica {
    conn: Connection,
    seal: Sealer,
    actor: ActorId,
    identity: Option<Identity>,
}

impl Replica {
    /// Opens (or creates) the store at `path`. A wrong key is an error, not garbage.
    pub fn open(path: &Path, key: &[u8; 32]) -> Result<Replica> {
        let conn = Connection::open(path).map_err(storage)?;
        Replica::init(conn, key)
    }

    /// A store that lives only in memory (tests, previews).
    pub fn open_in_memory(key: &[u8; 32]) -> Result<Replica> {
        Replica::init(Connection::open_in_memory().map_err(storage)?, key)
    }

    fn init(conn: Connection, key: &[u8; 32]) -> Result<Replica> {
        // The phone can lose power at any moment: WAL and a full sync on every commit.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(storage)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(storage)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(storage)?;
        if version > SCHEMA {
            return Err(Error::Storage(format!(
                "store schema {version} is newer than this app ({SCHEMA})"
            )));
        }
        if version < SCHEMA {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                 CREATE TABLE IF NOT EXISTS cases (
                     id TEXT PRIMARY KEY,
                     doc BLOB NOT NULL,
                     summary BLOB NOT NULL,
                     acked BLOB NOT NULL,
                     sync_state TEXT NOT NULL,
                     updated_at INTEGER NOT NULL);
                 CREATE INDEX IF NOT EXISTS cases_sync_state ON cases(sync_state);
                 CREATE TABLE IF NOT EXISTS rejections (
                     case_id TEXT NOT NULL,
                     hash TEXT NOT NULL,
                     code TEXT NOT NULL,
                     reason BLOB NOT NULL,
                     PRIMARY KEY (case_id, hash));
                 PRAGMA user_version = 1;",
            )
            .map_err(storage)?;
        }
        if version < 2 {
            // Attached photos and documents, sealed, named by the SHA-256 of their plain bytes;
            // `uploaded` is set once the server holds the whole blob.
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS blobs (
                     sha256 TEXT PRIMARY KEY,
                     mime TEXT NOT NULL,
                     bytes INTEGER NOT NULL,
                     data BLOB NOT NULL,
                     uploaded INTEGER NOT NULL DEFAULT 0);
                 PRAGMA user_version = 2;",
            )
            .map_err(storage)?;
        }
        if version < 3 {
            // Copies of colleagues' photos fetched from the server (thumbnails, and full-size
            // pictures without their metadata), and the thumbnails still to fetch.
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS blob_copies (
                     sha256 TEXT NOT NULL,
                     variant TEXT NOT NULL,
                     data BLOB NOT NULL,
                     PRIMARY KEY (sha256, variant));
                 CREATE TABLE IF NOT EXISTS blob_wants (sha256 TEXT PRIMARY KEY);
                 PRAGMA user_version = 3;",
            )
            .map_err(storage)?;
        }
        if version < 4 {
            // The document's heads beside its acknowledged ones, so an acknowledgement that
            // covers them settles the case without opening and rewriting its sealed document.
            // Rows from before stay NULL until the case is next written.
            conn.execute_batch(
                "ALTER TABLE cases ADD COLUMN heads BLOB;
                 PRAGMA user_version = 4;",
            )
            .map_err(storage)?;
        }
        if version < 5 {
            // Changes made here and not yet acknowledged, sealed, in the order made: what the
            // next push sends. Filled from the documents below, once the key is checked.
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS outbox (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     case_id TEXT NOT NULL,
                     hash TEXT NOT NULL,
                     entry BLOB NOT NULL);
                 CREATE INDEX IF NOT EXISTS outbox_case ON outbox(case_id, id);",
            )
            .map_err(storage)?;
        }
        // Hot statements are prepared once per connection, not on every call.
        conn.set_prepared_statement_cache_capacity(64);
        let seal = Sealer::new(key);
        let mut replica = Replica {
            conn,
            seal,
            actor: ActorId::random(),
            identity: None,
        };
        replica.load_meta()?;
        if version < 5 {
            replica.fill_outbox()?;
        }
        Ok(replica)
    }

    fn load_meta(&mut self) -> Result<()> {
        match self.meta("key_check")? {
            Some(sealed) => {
                let plain = self.seal.open(&sealed, b"meta:key_check")?;
                if plain != b"gridsync" {
                    return Err(Error::Storage("wrong encryption key".into()));
                }
            }
            None => {
                let sealed = self.seal.seal(b"gridsync", b"meta:key_check");
                self.set_meta("key_check", &sealed)?;
            }
        }
        match self.meta("actor")? {
            Some(bytes) => self.actor = ActorId::from(bytes.as_slice()),
            None => {
                let bytes = self.actor.to_bytes().to_vec();
                self.set_meta("actor", &bytes)?;
            }
        }
        if let Some(sealed) = self.meta("identity")? {
            let plain = self.seal.open(&sealed, b"meta:identity")?;
            let identity: Identity = ciborium::from_reader(plain.as_slice())
                .map_err(|e| Error::Storage(format!("identity: {e}")))?;
            identity.validate()?;
            self.identity = Some(identity);
        }
        Ok(())
    }

    /// Schema 5: the outbox of every case not yet synced, from its document, in one transaction
    /// with the schema version (a crash halfway fills it again from the start).
    fn fill_outbox(&mut self) -> Result<()> {
        let tx = self.conn.transaction().map_err(storage)?;
        tx.execute("DELETE FROM outbox", []).map_err(storage)?;
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT id FROM cases WHERE sync_state != 'synced' ORDER BY updated_at, id",
                )
                .map_err(storage)?;
            stmt.query_map([], |r| r.get(0))
                .map_err(storage)?
                .collect::<rusqlite::Result<_>>()
                .map_err(storage)?
        };
        for id in ids {
            let (mut doc, acked) = load_doc(&tx, &self.seal, &id)?;
            for change in doc.changes_since(&acked) {
                queue_change(&tx, &self.seal, &id, Queued::of(&change))?;
            }
        }
        tx.execute_batch("PRAGMA user_version = 5;")
            .map_err(storage)?;
        tx.commit().map_err(storage)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |r| r.get(0)).optional())
            .map_err(storage)
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(storage)
    }

    /// Keeps a small secret (tokens, the device secret) sealed in the store.
    pub fn set_secret(&self, name: &str, value: &[u8]) -> Result<()> {
        let sealed = self
            .seal
            .seal(value, format!("meta:secret:{name}").as_bytes());
        self.set_meta(&format!("secret:{name}"), &sealed)
    }

    /// A secret kept with [`Replica::set_secret`].
    pub fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.meta(&format!("secret:{name}"))? {
            Some(sealed) => Ok(Some(
                self.seal
                    .open(&sealed, format!("meta:secret:{name}").as_bytes())?,
            )),
            None => Ok(None),
        }
    }

    /// This phone's Automerge actor id; the server binds it to the device at sign-in.
    pub fn actor_id(&self) -> &ActorId {
        &self.actor
    }

    /// Records who uses the phone now (a shared phone changes hands). Kept sealed.
    pub fn sign_in(&mut self, identity: Identity) -> Result<()> {
        identity.validate()?;
        let mut plain = Vec::new();
        ciborium::into_writer(&identity, &mut plain)
            .map_err(|e| Error::Storage(format!("identity: {e}")))?;
        let sealed = self.seal.seal(&plain, b"meta:identity");
        self.set_meta("identity", &sealed)?;
        self.identity = Some(identity);
        Ok(())
    }

    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    fn who(&self) -> Result<Identity> {
        self.identity.clone().ok_or_else(|| Error::InvalidInput {
            field: "identity".into(),
            reason: "nobody is signed in on this phone".into(),
        })
    }

    /// The position in the server's change feed this phone has applied up to.
    pub fn cursor(&self) -> Result<u64> {
        Ok(self
            .meta("cursor")?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// Captures a new case offline; returns its id.
    pub fn capture(&mut self, new: &NewCase, at: Millis) -> Result<String> {
        let who = self.who()?;
        let id = new_case_id();
        let (mut doc, hash) = CaseDoc::create(self.actor.clone(), &id, new, &who, at)?;
        let tx = self.conn.transaction().map_err(storage)?;
        store_doc(&tx, &self.seal, &id, &mut doc, &[], &[], at)?;
        queue_new(&tx, &self.seal, &id, &mut doc, hash, &who.user)?;
        tx.commit().map_err(storage)?;
        Ok(id)
    }

    /// Edits a case offline: all of `f`'s writes become one change, or none do.
    pub fn edit<F>(&mut self, id: &str, at: Millis, f: F) -> Result<()>
    where
        F: FnOnce(&mut CaseEditor<'_>) -> Result<()>,
    {
        let who = self.who()?;
        let tx = self.conn.transaction().map_err(storage)?;
        let (mut doc, acked) = load_doc(&tx, &self.seal, id)?;
        // A case still waiting for its history cannot be edited: the edit would float free of it.
        doc.read()?;
        doc.set_actor(self.actor.clone());
        if let Some(hash) = doc.edit(&who, at, f)? {
            let rejected = rejected_hashes(&tx, id)?;
            store_doc(&tx, &self.seal, id, &mut doc, &acked, &rejected, at)?;
            queue_new(&tx, &self.seal, id, &mut doc, hash, &who.user)?;
        }
        tx.commit().map_err(storage)
    }

    /// Appends a workflow step, checked against the rules; returns the event id.
    pub fn append_event(&mut self, id: &str, draft: EventDraft, at: Millis) -> Result<String> {
        let mut event_id = String::new();
        self.edit(id, at, |e| {
            event_id = e.append_event(draft)?;
            Ok(())
        })?;
        Ok(event_id)
    }

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
        let mut stmt = self.conn.prepare(sql).map_err(storage)?;
        let names = stmt
            .query_map([], |r| r.get(0))
            .map_err(storage)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(storage)?;
        Ok(names)
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

    /// The whole document of a case.
    pub fn case(&self, id: &str) -> Result<CaseDoc> {
        let row: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT doc FROM cases WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(storage)?;
        let sealed = row.ok_or_else(|| Error::UnknownCase(id.to_owned()))?;
        CaseDoc::load(&self.seal.open(&sealed, &aad(id, "doc"))?)
    }

    /// Case ids, oldest first.
    pub fn case_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM cases ORDER BY id")
            .map_err(storage)?;
        let ids = stmt
            .query_map([], |r| r.get(0))
            .map_err(storage)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(storage)?;
        Ok(ids)
    }

    /// Lists cases with their sync state, newest change first, filtered.
    pub fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, summary, sync_state, updated_at FROM cases ORDER BY updated_at DESC, id")
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(storage)?;
        let needle = filter.text.as_deref().map(str::to_lowercase);
        let mut out = Vec::new();
        for row in rows {
            let (id, sealed, state, updated_at) = row.map_err(storage)?;
            let state = SyncState::parse(&state)?;
            if filter.sync_state.is_some_and(|s| s != state) {
                continue;
            }
            let plain = self.seal.open(&sealed, &aad(&id, "summary"))?;
            let summary: Option<CaseSummary> = ciborium::from_reader(plain.as_slice())
                .map_err(|e| Error::Storage(format!("summary: {e}")))?;
            // Not listed until its history is complete.
            let Some(mut s) = summary else { continue };
            s.sync_state = Some(state);
            s.updated_at = updated_at;
            let keep = filter.kind.is_none_or(|k| k == s.kind)
                && filter.status.is_none_or(|st| st == s.status)
                && (!filter.conflict_only || s.in_conflict())
                && needle.as_deref().is_none_or(|n| {
                    s.title.to_lowercase().contains(n) || s.category.to_lowercase().contains(n)
                });
            if keep {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Where one case stands with the server.
    pub fn sync_state(&self, id: &str) -> Result<SyncState> {
        let state: Option<String> = self
            .conn
            .query_row("SELECT sync_state FROM cases WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(storage)?;
        SyncState::parse(&state.ok_or_else(|| Error::UnknownCase(id.to_owned()))?)
    }

    /// Cases with changes the server has not acknowledged.
    pub fn pending_count(&self) -> Result<usize> {
        self.conn
            .prepare_cached("SELECT count(*) FROM cases WHERE sync_state = 'pending'")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(storage)
    }

    /// This phone's changes the server refused, with reasons.
    pub fn rejections(&self, id: &str) -> Result<Vec<LocalRejection>> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash, code, reason FROM rejections WHERE case_id = ?1 ORDER BY hash")
            .map_err(storage)?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(storage)?;
        let mut out = Vec::new();
        for row in rows {
            let (hash, code, sealed) = row.map_err(storage)?;
            let reason = self
                .seal
                .open(&sealed, &aad(id, &format!("rejection:{hash}")))?;
            out.push(LocalRejection {
                case_id: id.to_owned(),
                hash,
                code,
                reason: String::from_utf8_lossy(&reason).into_owned(),
            });
        }
        Ok(out)
    }

    /// The next request: this phone's unacknowledged changes (up to [`MAX_PUSH_BYTES`]), the
    /// pull cursor, and repairs for cases with gaps. Reads only.
    pub fn next_sync_request(&self) -> Result<SyncRequest> {
        let who = self.who()?;
        let mut push = Vec::new();
        let mut want = Vec::new();
        let mut budget = MAX_PUSH_BYTES;
        let pending: Vec<(String, String)> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id, sync_state FROM cases WHERE sync_state != 'synced' ORDER BY updated_at, id",
                )
                .map_err(storage)?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(storage)?
                .collect::<rusqlite::Result<_>>()
                .map_err(storage)?
        };
        for (id, state) in pending {
            if budget == 0 {
                break;
            }
            let rejected = rejected_hashes(&self.conn, &id)?;
            // The outbox, unless the case waits for history (its heads go into `want`) or has
            // none (then the document says what the server lacks).
            let mut unacked = match SyncState::parse(&state)? {
                SyncState::Incomplete => Vec::new(),
                _ => queued_changes(&self.conn, &self.seal, &id)?,
            };
            if unacked.is_empty() {
                let (mut doc, acked) = load_doc(&self.conn, &self.seal, &id)?;
                if !doc.missing_deps().is_empty() {
                    want.push(DocHeads {
                        doc: id.clone(),
                        heads: doc.heads().iter().map(hash_bytes).collect(),
                    });
                }
                unacked = doc.changes_since(&acked).iter().map(Queued::of).collect();
            }
            // Changes come in causal order, so any prefix can be admitted on its own: send what
            // fits (at least one change) and the rest next round.
            let mut changes = Vec::new();
            let mut size = 0;
            for c in unacked {
                if rejected.contains(&c.hash) {
                    continue;
                }
                // Only the signed-in user's changes can be pushed with their token; another
                // user's (a shared phone) wait, with everything after them, for that user.
                if c.author.as_deref() != Some(who.user.as_str()) {
                    break;
                }
                let len = c.bytes.len();
                if !changes.is_empty() && size + len > budget {
                    break;
                }
                size += len;
                changes.push(ByteBuf::from(c.bytes));
            }
            if changes.is_empty() {
                continue;
            }
            if size > budget && !push.is_empty() {
                break;
            }
            budget = budget.saturating_sub(size);
            push.push(DocChanges { doc: id, changes });
        }
        Ok(SyncRequest {
            device: who.device,
            request_id: uuid::Uuid::new_v4().to_string(),
            cursor: self.cursor()?,
            page_bytes: DEFAULT_PAGE_BYTES,
            push,
            want,
        })
    }

    /// Applies a response in one transaction: acknowledgements, rejections, pulled changes and
    /// the new cursor land together or not at all.
    pub fn apply_sync_response(&mut self, resp: &SyncResponse, now: Millis) -> Result<SyncOutcome> {
        let cursor = self.cursor()?;
        let tx = self.conn.transaction().map_err(storage)?;
        let mut outcome = SyncOutcome {
            more: resp.more,
            ..SyncOutcome::default()
        };
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut newly_acked: HashMap<String, Vec<ChangeHash>> = HashMap::new();
        for ack in &resp.accepted {
            for h in &ack.hashes {
                newly_acked
                    .entry(ack.doc.clone())
                    .or_default()
                    .push(to_hash(h)?);
                outcome.accepted += 1;
            }
            touched.insert(ack.doc.clone());
        }
        let mut refused_docs: BTreeSet<&str> = BTreeSet::new();
        for r in &resp.rejected {
            refused_docs.insert(&r.doc);
            let hash = if r.hash.is_empty() {
                "-".to_owned()
            } else {
                to_hash(&r.hash)?.to_string()
            };
            let sealed = self.seal.seal(
                r.reason.as_bytes(),
                &aad(&r.doc, &format!("rejection:{hash}")),
            );
            tx.prepare_cached(
                "INSERT INTO rejections (case_id, hash, code, reason) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (case_id, hash) DO UPDATE SET code = excluded.code, reason = excluded.reason",
            )
            .and_then(|mut stmt| stmt.execute(params![r.doc, hash, r.code.as_str(), sealed]))
            .map_err(storage)?;
            outcome.rejected += 1;
            touched.insert(r.doc.clone());
        }
        let mut pulled_docs: HashMap<String, (CaseDoc, Vec<ChangeHash>)> = HashMap::new();
        for pulled in &resp.pull {
            validate_case_id(&pulled.doc)?;
            let changes = pulled
                .changes
                .iter()
                .map(|b| parse_change(b))
                .collect::<Result<Vec<_>>>()?;
            let hashes: Vec<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
            let entry = match pulled_docs.remove(&pulled.doc) {
                Some(found) => found,
                None => match load_doc(&tx, &self.seal, &pulled.doc) {
                    Ok(found) => found,
                    Err(Error::UnknownCase(_)) => (CaseDoc::empty(self.actor.clone()), Vec::new()),
                    Err(e) => return Err(e),
                },
            };
            let (mut doc, acked) = entry;
            doc.apply(changes)?;
            outcome.pulled_changes += hashes.len();
            newly_acked
                .entry(pulled.doc.clone())
                .or_default()
                .extend(hashes);
            outcome.updated_cases.push(pulled.doc.clone());
            touched.insert(pulled.doc.clone());
            pulled_docs.insert(pulled.doc.clone(), (doc, acked));
        }
        for id in &touched {
            let newly = newly_acked.remove(id).unwrap_or_default();
            let Some((mut doc, mut acked)) = pulled_docs.remove(id) else {
                // Only acknowledged or refused: the document itself did not change.
                store_acks(
                    &tx,
                    &self.seal,
                    id,
                    newly,
                    refused_docs.contains(id.as_str()),
                    now,
                )?;
                continue;
            };
            acked.extend(newly);
            let rejected = rejected_hashes(&tx, id)?;
            let unacked = store_doc(&tx, &self.seal, id, &mut doc, &acked, &rejected, now)?;
            prune_outbox(&tx, id, &unacked)?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('cursor', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            // A late copy of an old response must not move the cursor back.
            [resp.cursor.max(cursor).to_be_bytes().to_vec()],
        )
        .map_err(storage)?;
        tx.commit().map_err(storage)?;
        Ok(outcome)
    }
}

fn load_doc(conn: &Connection, seal: &Sealer, id: &str) -> Result<(CaseDoc, Vec<ChangeHash>)> {
    let row: Option<(Vec<u8>, Vec<u8>)> = conn
        .prepare_cached("SELECT doc, acked FROM cases WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(storage)?;
    let (sealed, acked) = row.ok_or_else(|| Error::UnknownCase(id.to_owned()))?;
    let doc = CaseDoc::load(&seal.open(&sealed, &aad(id, "doc"))?)?;
    Ok((doc, decode_hashes(&acked)?))
}

/// Saves a document with its summary, its acknowledged heads (minimised) and its sync state;
/// returns the changes still unacknowledged.
fn store_doc(
    conn: &Connection,
    seal: &Sealer,
    id: &str,
    doc: &mut CaseDoc,
    acked: &[ChangeHash],
    rejected: &[ChangeHash],
    now: Millis,
) -> Result<Vec<ChangeHash>> {
    let (state, acked, unacked) = settle(doc, acked, rejected);
    let summary = summarise(doc);
    let mut plain = Vec::new();
    ciborium::into_writer(&summary, &mut plain).map_err(|e| Error::Storage(e.to_string()))?;
    let sealed_doc = seal.seal(&doc.save(), &aad(id, "doc"));
    let sealed_summary = seal.seal(&plain, &aad(id, "summary"));
    conn.prepare_cached(
        "INSERT INTO cases (id, doc, summary, acked, sync_state, updated_at, heads) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, summary = excluded.summary,
             acked = excluded.acked, sync_state = excluded.sync_state, updated_at = excluded.updated_at,
             heads = excluded.heads",
    )
    .and_then(|mut stmt| stmt.execute(params![
            id,
            sealed_doc,
            sealed_summary,
            encode_hashes(&acked),
            state.as_str(),
            now,
            encode_hashes(&doc.heads())
        ]))
    .map_err(storage)?;
    Ok(unacked)
}

/// The sync state of a document given what the server acknowledged and refused, the
/// acknowledged heads to keep, and the changes still unacknowledged.
fn settle(
    doc: &mut CaseDoc,
    acked: &[ChangeHash],
    rejected: &[ChangeHash],
) -> (SyncState, Vec<ChangeHash>, Vec<ChangeHash>) {
    let unacked = doc.hashes_since(acked);
    let (state, acked) = if !doc.missing_deps().is_empty() {
        (SyncState::Incomplete, minimise(doc, acked))
    } else if unacked.is_empty() {
        (SyncState::Synced, doc.heads())
    } else if unacked.iter().all(|h| rejected.contains(h)) {
        (SyncState::Rejected, minimise(doc, acked))
    } else {
        (SyncState::Pending, minimise(doc, acked))
    };
    (state, acked, unacked)
}

/// Records acknowledgements (and refusals) for a case whose document did not change: only its
/// acknowledged heads and sync state move. When the acknowledgements cover the heads stored
/// beside the document — every push the server took whole — the case is settled without
/// opening the sealed document at all; otherwise it is opened and judged as [`store_doc`] does.
fn store_acks(
    conn: &Connection,
    seal: &Sealer,
    id: &str,
    newly: Vec<ChangeHash>,
    refused: bool,
    now: Millis,
) -> Result<()> {
    let row: Option<(Vec<u8>, Option<Vec<u8>>, String)> = conn
        .prepare_cached("SELECT acked, heads, sync_state FROM cases WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(storage)?;
    // A refusal for a case this phone never stored (bytes it never sent).
    let Some((acked, heads, state)) = row else {
        return Ok(());
    };
    let mut acked = decode_hashes(&acked)?;
    acked.extend(newly);
    let heads = heads.map(|h| decode_hashes(&h)).transpose()?;
    // A case still waiting for history may hold changes beyond its heads: judged in full.
    let quick = !refused && SyncState::parse(&state)? != SyncState::Incomplete;
    let (state, acked, unacked) = match heads {
        Some(heads) if quick && !heads.is_empty() && heads.iter().all(|h| acked.contains(h)) => {
            (SyncState::Synced, heads, Vec::new())
        }
        _ => {
            let (mut doc, _) = load_doc(conn, seal, id)?;
            let rejected = rejected_hashes(conn, id)?;
            settle(&mut doc, &acked, &rejected)
        }
    };
    prune_outbox(conn, id, &unacked)?;
    conn.prepare_cached(
        "UPDATE cases SET acked = ?2, sync_state = ?3, updated_at = ?4 WHERE id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![id, encode_hashes(&acked), state.as_str(), now]))
    .map_err(storage)?;
    Ok(())
}

/// A change in the outbox: made on this phone, not yet acknowledged. Sealed as one value.
#[derive(Serialize, Deserialize)]
struct OutboxEntry {
    /// The account that made it (only that account's token may push it).
    author: Option<String>,
    change: ByteBuf,
}

/// A change the server has not acknowledged, ready to push.
struct Queued {
    hash: ChangeHash,
    author: Option<String>,
    bytes: Vec<u8>,
}

impl Queued {
    fn of(change: &automerge::Change) -> Queued {
        Queued {
            hash: change.hash(),
            author: ChangeAuthor::of_change(change).map(|a| a.user),
            bytes: change.raw_bytes().to_vec(),
        }
    }
}

/// Puts the change just made (`hash`) into the outbox.
fn queue_new(
    conn: &Connection,
    seal: &Sealer,
    id: &str,
    doc: &mut CaseDoc,
    hash: ChangeHash,
    user: &str,
) -> Result<()> {
    let change = doc
        .change(&hash)
        .ok_or_else(|| Error::Storage(format!("change {hash} vanished from case {id}")))?;
    let mut queued = Queued::of(&change);
    queued.author = Some(user.to_owned());
    queue_change(conn, seal, id, queued)
}

fn queue_change(conn: &Connection, seal: &Sealer, id: &str, change: Queued) -> Result<()> {
    let hash = change.hash.to_string();
    let mut plain = Vec::new();
    ciborium::into_writer(
        &OutboxEntry {
            author: change.author,
            change: ByteBuf::from(change.bytes),
        },
        &mut plain,
    )
    .map_err(|e| Error::Storage(format!("outbox: {e}")))?;
    let sealed = seal.seal(&plain, &aad(id, &format!("outbox:{hash}")));
    conn.prepare_cached("INSERT INTO outbox (case_id, hash, entry) VALUES (?1, ?2, ?3)")
        .and_then(|mut stmt| stmt.execute(params![id, hash, sealed]))
        .map_err(storage)?;
    Ok(())
}

/// The outbox of case `id`, in the order the changes were made (a causal order).
fn queued_changes(conn: &Connection, seal: &Sealer, id: &str) -> Result<Vec<Queued>> {
    let mut stmt = conn
        .prepare_cached("SELECT hash, entry FROM outbox WHERE case_id = ?1 ORDER BY id")
        .map_err(storage)?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(storage)?;
    let mut out = Vec::new();
    for row in rows {
        let (hash, sealed) = row.map_err(storage)?;
        let plain = seal.open(&sealed, &aad(id, &format!("outbox:{hash}")))?;
        let entry: OutboxEntry = ciborium::from_reader(plain.as_slice())
            .map_err(|e| Error::Storage(format!("outbox: {e}")))?;
        out.push(Queued {
            hash: hash
                .parse()
                .map_err(|_| Error::Storage(format!("outbox hash {hash:?}")))?,
            author: entry.author,
            bytes: entry.change.into_vec(),
        });
    }
    Ok(out)
}

/// Drops from the outbox of case `id` every change not in `unacked` (the server has it).
fn prune_outbox(conn: &Connection, id: &str, unacked: &[ChangeHash]) -> Result<()> {
    if unacked.is_empty() {
        conn.prepare_cached("DELETE FROM outbox WHERE case_id = ?1")
            .and_then(|mut stmt| stmt.execute([id]))
            .map_err(storage)?;
        return Ok(());
    }
    let held: Vec<(i64, String)> = conn
        .prepare_cached("SELECT id, hash FROM outbox WHERE case_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(storage)?;
    let unacked: std::collections::HashSet<String> =
        unacked.iter().map(ChangeHash::to_string).collect();
    for (row, hash) in held {
        if !unacked.contains(&hash) {
            conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute([row]))
                .map_err(storage)?;
        }
    }
    Ok(())
}

/// `None` while a case waits for the rest of its history (a repair pull).
fn summarise(doc: &CaseDoc) -> Option<CaseSummary> {
    let case = doc.read().ok()?;
    // The events were just read with the case: folded here, not read a second time.
    let wf = workflow::fold(&case.events);
    Some(CaseSummary {
        field_conflicts: u32::try_from(doc.conflicts().len()).unwrap_or(u32::MAX),
        workflow_conflicts: u32::try_from(wf.conflicts.len()).unwrap_or(u32::MAX),
        id: case.id,
        kind: case.kind,
        category: case.category,
        title: case.title,
        jurisdiction: case.jurisdiction,
        status: wf.status,
        level: wf.level,
        created_at: case.created_at,
        sync_state: None,
        updated_at: 0,
    })
}

/// Drops hashes that another hash in the set already depends on directly.
fn minimise(doc: &mut CaseDoc, acked: &[ChangeHash]) -> Vec<ChangeHash> {
    let set: BTreeSet<ChangeHash> = acked.iter().copied().collect();
    let mut covered = BTreeSet::new();
    for h in &set {
        if let Some(deps) = doc.deps_of(h) {
            covered.extend(deps);
        }
    }
    set.difference(&covered).copied().collect()
}

fn rejected_hashes(conn: &Connection, id: &str) -> Result<Vec<ChangeHash>> {
    let mut stmt = conn
        .prepare_cached("SELECT hash FROM rejections WHERE case_id = ?1")
        .map_err(storage)?;
    let rows = stmt
        .query_map([id], |r| r.get::<_, String>(0))
        .map_err(storage)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(storage)?;
    Ok(rows.iter().filter_map(|h| h.parse().ok()).collect())
}

fn encode_hashes(hashes: &[ChangeHash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

fn decode_hashes(bytes: &[u8]) -> Result<Vec<ChangeHash>> {
    if !bytes.len().is_multiple_of(32) {
        return Err(Error::Storage("corrupt acknowledged heads".into()));
    }
    bytes
        .chunks(32)
        .map(|c| to_hash(c).map_err(|e| Error::Storage(e.to_string())))
        .collect()
}

fn aad(id: &str, column: &str) -> Vec<u8> {
    format!("gridsync:{id}:{column}").into_bytes()
}

fn aad_blob(sha256: &str) -> Vec<u8> {
    format!("gridsync-blob:{sha256}").into_bytes()
}

fn aad_copy(sha256: &str, variant: BlobCopy) -> Vec<u8> {
    format!("gridsync-blob:{sha256}:{}", variant.as_str()).into_bytes()
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

fn storage(e: rusqlite::Error) -> Error {
    Error::Storage(e.to_string())
}

/// Authenticated encryption of everything sensitive in the store.
struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// nonce (24 bytes) ‖ ciphertext+tag.
    fn seal(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce length cannot fail.
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .unwrap_or_default();
        out.extend_from_slice(&ct);
        out
    }

    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 24 + 16 {
            return Err(Error::Storage("sealed value too short".into()));
        }
        let (nonce, ct) = sealed.split_at(24);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| Error::Storage("cannot decrypt: wrong key or corrupt store".into()))
    }
}
