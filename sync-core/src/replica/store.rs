//! Opening the store: the schema and its upgrades, the key check, the actor id, who is signed
//! in, small secrets and the feed cursor, all in the `meta` table.

use std::path::Path;

use automerge::ActorId;
use rusqlite::{Connection, OptionalExtension, params};

use super::cases::load_doc;
use super::outbox::{Queued, queue_change};
use super::seal::Sealer;
use super::{Replica, storage};
use crate::access::Identity;
use crate::{Error, Result};

const SCHEMA: i64 = 8;

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
        // A destroyed case key must not linger in a freed page (ADR 0029).
        conn.pragma_update(None, "secure_delete", "ON")
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
        if version < 6 {
            // The account's notices, sealed, by the server's id; `reported`: the server has
            // heard the user read it.
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS notices (
                     id INTEGER PRIMARY KEY,
                     entry BLOB NOT NULL,
                     read INTEGER NOT NULL DEFAULT 0,
                     reported INTEGER NOT NULL DEFAULT 0);",
            )
            .map_err(storage)?;
        }
        if version < 7 {
            // The case keys held here (ADR 0029), sealed; `secret` NULL: erased (a tombstone);
            // `pushed`: the server holds it.
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS case_keys (
                     case_id TEXT NOT NULL,
                     key_id TEXT NOT NULL,
                     secret BLOB,
                     pushed INTEGER NOT NULL DEFAULT 0,
                     PRIMARY KEY (case_id, key_id));",
            )
            .map_err(storage)?;
        }
        if version < 8 {
            // The author's signature of each colleague's change this phone holds (pulled, or
            // carried from their phone): after a restore it pushes them back as theirs
            // (ADR 0032). Not personal data: a hash and 64 bytes.
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS change_sigs (hash TEXT PRIMARY KEY, sig BLOB NOT NULL);",
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
            rules: crate::rules::Rules::builtin().clone(),
            sign_key: None,
            sealing: true,
        };
        replica.load_meta()?;
        if version < 5 {
            replica.fill_outbox()?;
        }
        if version < SCHEMA {
            replica
                .conn
                .execute_batch(&format!("PRAGMA user_version = {SCHEMA};"))
                .map_err(storage)?;
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
        // The signing key is made with the store and kept sealed like the other secrets; a store
        // from before signing makes its key on first open.
        let seed = match self.secret("sign_key")? {
            Some(seed) => <[u8; 32]>::try_from(seed.as_slice())
                .map_err(|_| Error::Storage("the signing key is damaged".into()))?,
            None => {
                let seed: [u8; 32] = rand::random();
                self.set_secret("sign_key", &seed)?;
                seed
            }
        };
        self.sign_key = Some(crate::evidence::signing_key(seed));
        if let Some(sealed) = self.meta("identity")? {
            let plain = self.seal.open(&sealed, b"meta:identity")?;
            let identity: Identity = ciborium::from_reader(plain.as_slice())
                .map_err(|e| Error::Storage(format!("identity: {e}")))?;
            identity.validate()?;
            self.identity = Some(identity);
        }
        self.load_rules()
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

    pub(super) fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |r| r.get(0)).optional())
            .map_err(storage)
    }

    pub(super) fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
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
        put_secret(&self.conn, &self.seal, name, value)
    }

    /// A secret kept with [`Replica::set_secret`].
    pub fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        secret_in(&self.conn, &self.seal, name)
    }

    /// This store's public signing key (32 bytes); the app sends it at sign-in as `device_key`,
    /// and the server binds it to the device. `None` when signing is off.
    pub fn device_key(&self) -> Option<[u8; 32]> {
        self.sign_key.as_ref().map(|k| k.verifying_key().to_bytes())
    }

    /// Turns signing off (`false`) or back on: a store that pushes unsigned changes and has no
    /// key to send, as an app older than signing. For benchmarks and tests of that case.
    pub fn set_signing(&mut self, on: bool) -> Result<()> {
        self.sign_key = match on {
            false => None,
            true => {
                let seed = self
                    .secret("sign_key")?
                    .and_then(|s| <[u8; 32]>::try_from(s.as_slice()).ok())
                    .ok_or_else(|| Error::Storage("the signing key is missing".into()))?;
                Some(crate::evidence::signing_key(seed))
            }
        };
        Ok(())
    }

    /// This store's signatures over change bytes made elsewhere (tests and tools that build a
    /// push by hand); an entry is empty for bytes that are not a change, none when signing is off.
    pub fn signatures(&self, changes: &[serde_bytes::ByteBuf]) -> Vec<serde_bytes::ByteBuf> {
        let Some(key) = &self.sign_key else {
            return Vec::new();
        };
        changes
            .iter()
            .map(|c| match crate::case::parse_change(c) {
                Ok(change) => crate::evidence::sign_change(key, &change.hash())
                    .to_vec()
                    .into(),
                Err(_) => serde_bytes::ByteBuf::new(),
            })
            .collect()
    }

    /// The signatures of the changes `hashes`, in order (none when signing is off).
    pub(super) fn sign(&self, hashes: &[automerge::ChangeHash]) -> Vec<serde_bytes::ByteBuf> {
        match &self.sign_key {
            None => Vec::new(),
            Some(key) => hashes
                .iter()
                .map(|h| serde_bytes::ByteBuf::from(crate::evidence::sign_change(key, h).to_vec()))
                .collect(),
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

    /// The position in the server's change feed this phone has applied up to.
    pub fn cursor(&self) -> Result<u64> {
        self.meta_u64("cursor")
    }

    /// A position kept in `meta` as 8 big-endian bytes; 0 when none is.
    pub(super) fn meta_u64(&self, key: &str) -> Result<u64> {
        Ok(self
            .meta(key)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }
}

/// Keeps secret `name` sealed in `meta`, on `conn` (a transaction of a sync, or the store).
pub(super) fn put_secret(conn: &Connection, seal: &Sealer, name: &str, value: &[u8]) -> Result<()> {
    let sealed = seal.seal(value, format!("meta:secret:{name}").as_bytes());
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut stmt| stmt.execute(params![format!("secret:{name}"), sealed]))
    .map_err(storage)?;
    Ok(())
}

/// Secret `name` as [`put_secret`] kept it, opened.
pub(super) fn secret_in(conn: &Connection, seal: &Sealer, name: &str) -> Result<Option<Vec<u8>>> {
    let sealed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([format!("secret:{name}")], |r| r.get(0))
                .optional()
        })
        .map_err(storage)?;
    sealed
        .map(|s| seal.open(&s, format!("meta:secret:{name}").as_bytes()))
        .transpose()
}
