//! A sync in two calls with the network in between: [`Replica::next_sync_request`] reads only,
//! [`Replica::apply_sync_response`] writes everything the response says in one transaction.

use std::collections::{BTreeSet, HashMap};

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, params};
use serde_bytes::ByteBuf;

use super::cases::{
    SyncState, decode_hashes, encode_hashes, load_doc, rejected_hashes, settle, store_doc,
};
use super::keys::{mark_pushed, take_erasures, take_keys, unpushed_keys};
use super::notices::take_notices;
use super::outbox::{Queued, RelayedBy, keep_sig, prune_outbox, queued_changes};
use super::peer::take_certificate;
use super::recovery::{Recovery, take_generation, take_recovered};
use super::rules::take_rules;
use super::seal::{Sealer, aad};
use super::{Replica, storage};
use crate::case::{CaseDoc, parse_change};
use crate::protocol::{DocChanges, DocHeads, SyncRequest, SyncResponse, hash_bytes, to_hash};
use crate::rules::CalendarWarning;
use crate::vocab::{Millis, validate_case_id};
use crate::{Error, Result};

/// Pushed change bytes per request, so a request fits a weak link; the rest goes next round.
pub const MAX_PUSH_BYTES: usize = 512 * 1024;
/// What the replica asks the server to send per response by default.
pub const DEFAULT_PAGE_BYTES: u32 = 256 * 1024;

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
    /// The version of the county's rules received and now in force, if new ones came.
    pub new_rules: Option<u64>,
    /// The rules in force lack a calendar year deadlines need now or soon (by the server's
    /// clock).
    pub calendar_warning: Option<CalendarWarning>,
    /// Notices received.
    pub notices: usize,
}

impl Replica {
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
        // A restored server is first told what this phone holds; nothing is pushed meanwhile
        // (a change built on what the backup lost would be refused as `missing_dependency`).
        let recover = self.recover_page()?;
        let pending = if recover.is_empty() {
            pending
        } else {
            Vec::new()
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
            let mut hashes = Vec::new();
            let mut relayed = Vec::new();
            let mut size = 0;
            for c in unacked {
                if rejected.contains(&c.hash) {
                    continue;
                }
                // Only the signed-in user's changes can be pushed with their token; another
                // user's (a shared phone) wait, with everything after them, for that user. A
                // colleague's change carried from their phone goes with its author's signature.
                if c.relayed.is_none() && c.author.as_deref() != Some(who.user.as_str()) {
                    break;
                }
                let len = c.bytes.len();
                if !changes.is_empty() && size + len > budget {
                    break;
                }
                size += len;
                hashes.push(c.hash);
                changes.push(ByteBuf::from(c.bytes));
                relayed.push(c.relayed);
            }
            if changes.is_empty() {
                continue;
            }
            if size > budget && !push.is_empty() {
                break;
            }
            budget = budget.saturating_sub(size);
            let (sigs, by) = self.sign_or_relay(&hashes, relayed);
            push.push(DocChanges {
                doc: id,
                changes,
                sigs,
                by,
            });
        }
        let (notices_after, notices_read) = self.notice_state()?;
        Ok(SyncRequest {
            device: who.device,
            request_id: uuid::Uuid::new_v4().to_string(),
            cursor: self.cursor()?,
            page_bytes: DEFAULT_PAGE_BYTES,
            push,
            want,
            rules: self.unreported_rules()?,
            notices_after: Some(notices_after),
            notices_read,
            erased_after: Some(self.erased_cursor()?),
            keys: match self.server_key()? {
                Some(server) => unpushed_keys(&self.conn, &self.seal, &server)?,
                None => Vec::new(),
            },
            certificate_until: self.certificate_until()?,
            generation: self.generation()?,
            recover,
        })
    }

    /// The signatures of changes to push (this device's own, or the author's of a carried one)
    /// and, when any is carried, the device that made each (`DocChanges::by`).
    fn sign_or_relay(
        &self,
        hashes: &[ChangeHash],
        relayed: Vec<Option<RelayedBy>>,
    ) -> (Vec<ByteBuf>, Vec<String>) {
        if relayed.iter().all(Option::is_none) {
            return (self.sign(hashes), Vec::new());
        }
        let mut sigs = Vec::with_capacity(hashes.len());
        let mut by = Vec::with_capacity(hashes.len());
        for (hash, r) in hashes.iter().zip(relayed) {
            match r {
                Some(r) => {
                    sigs.push(r.sig);
                    by.push(r.device);
                }
                None => {
                    sigs.push(
                        self.sign(std::slice::from_ref(hash))
                            .pop()
                            .unwrap_or_default(),
                    );
                    by.push(String::new());
                }
            }
        }
        (sigs, by)
    }

    /// Applies a response in one transaction: acknowledgements, rejections, pulled changes and
    /// the new cursor land together or not at all.
    pub fn apply_sync_response(&mut self, resp: &SyncResponse, now: Millis) -> Result<SyncOutcome> {
        let cursor = self.cursor()?;
        let known_server_key = self.meta("server_key")?;
        let known_generation = self.generation()?;
        let recovering = self.recovery()? != Recovery::Steady;
        // The read marks the request carried (a mark made since rides the next one).
        let (_, read_sent) = self.notice_state()?;
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
            // The authors' signatures, kept to give the changes back to a restored server.
            for (hash, sig) in hashes.iter().zip(&pulled.sigs) {
                keep_sig(&tx, hash, sig)?;
            }
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
        if take_generation(
            &tx,
            known_generation.as_deref(),
            cursor,
            resp.generation.as_ref(),
        )? {
            outcome.more = true;
        }
        if let Some(recovered) = resp.recovered.as_ref().filter(|_| recovering) {
            take_recovered(&tx, &self.seal, &self.actor, recovered)?;
            // The next page of heads, or the pushes of what the server lacks.
            outcome.more = true;
        }
        let new_rules = take_rules(&tx, &self.seal, &self.rules, resp.rules.as_ref())?;
        take_notices(&tx, &self.seal, &resp.notices, &read_sent)?;
        outcome.notices = resp.notices.len();
        mark_pushed(&tx, &resp.keys_taken)?;
        take_certificate(
            &tx,
            &self.seal,
            resp.certificate.as_ref().map(|c| c.as_slice()),
            // The request asked exactly when this store has a key (`certificate_until`).
            self.sign_key.as_ref().map(|_| resp.revoked.as_slice()),
        )?;
        take_keys(&tx, &self.seal, self.sign_key.as_ref(), &resp.case_keys)?;
        let erased = take_erasures(&tx, &resp.erased)?;
        if let Some(last) = resp
            .erased
            .iter()
            .map(|e| e.seq)
            .chain(resp.erased_upto)
            .max()
        {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('erased_cursor', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                [last.to_be_bytes().to_vec()],
            )
            .map_err(storage)?;
        }
        // Keys waiting for the server's key to be sent: another round sends them.
        let learnt = match &resp.server_key {
            Some(key) if known_server_key.as_deref() != Some(key.as_slice()) => {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('server_key', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key.to_vec()],
                )
                .map_err(storage)?;
                true
            }
            _ => false,
        };
        tx.commit().map_err(storage)?;
        if erased {
            self.scrub_log()?;
        }
        if learnt && self.has_unpushed_keys()? {
            outcome.more = true;
        }
        if let Some(rules) = new_rules {
            outcome.new_rules = Some(rules.version());
            self.rules = rules;
        }
        outcome.calendar_warning = self.rules.calendar_warning(resp.server_time);
        Ok(outcome)
    }
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
