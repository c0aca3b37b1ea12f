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
//!
//! Files by concern: `store` opening the file (schema, key check, identity, secrets), `seal` the
//! encryption, `cases` the case rows (document, summary, acknowledged heads, sync state) and the
//! offline edits and reads, `outbox` the changes waiting for the server, `sync` the two calls of
//! a sync, `keys` the case keys held here (ADR 0029), `peer` what it shows, gives and takes from a colleague's phone (ADR 0030), `recovery` giving a restored server back what it lacks (ADR 0032), `rules` the county's rules as received, `blobs` attached photos and documents and the copies fetched of colleagues' ones, `notices`
//! the account's notices, `urgent` a case turned into SMS texts (ADR 0027).

mod blobs;
mod cases;
mod keys;
mod notices;
mod outbox;
mod peer;
mod recovery;
mod rules;
mod seal;
mod store;
mod sync;
mod urgent;

use automerge::ActorId;
use rusqlite::Connection;

pub use blobs::{AttachmentMeta, BlobCopy, BlobHere};
pub use cases::{CaseFilter, CaseSummary, LocalRejection, SyncState};
pub use notices::HeldNotice;
pub use peer::PeerTaken;
pub use recovery::{RECOVER_PAGE, Recovery};
pub use sync::{DEFAULT_PAGE_BYTES, MAX_PUSH_BYTES, SyncOutcome};

use crate::access::Identity;
use crate::{Error, Result};
use seal::Sealer;

/// The phone's local store of cases.
#[derive(Debug)]
pub struct Replica {
    conn: Connection,
    seal: Sealer,
    actor: ActorId,
    identity: Option<Identity>,
    /// The county's rules in force here (`rules`).
    rules: crate::rules::Rules,
    /// This store's Ed25519 key: every change pushed from here carries its signature (ADR 0028).
    /// `None` only when signing was turned off (a store acting as an app older than signing).
    sign_key: Option<crate::evidence::SigningKey>,
    /// Personal values are written sealed under their case's key (ADR 0029); off only for a
    /// store acting as an app older than sealing.
    sealing: bool,
}

impl Replica {
    /// Who is signed in, or an error when nobody is.
    fn who(&self) -> Result<Identity> {
        self.identity.clone().ok_or_else(|| Error::InvalidInput {
            field: "identity".into(),
            reason: "nobody is signed in on this phone".into(),
        })
    }

    /// Every row of `sql` with `params`, read by `row`.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(storage)?;
        stmt.query_map(params, row)
            .map_err(storage)?
            .collect::<rusqlite::Result<Vec<T>>>()
            .map_err(storage)
    }
}

fn storage(e: rusqlite::Error) -> Error {
    Error::Storage(e.to_string())
}
