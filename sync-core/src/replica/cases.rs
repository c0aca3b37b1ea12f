//! The case rows — sealed document, sealed summary, acknowledged heads, sync state — and the
//! offline edits and reads over them.

use std::collections::BTreeSet;

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::keys::write_key;
use super::outbox::queue_new;
use super::seal::{Sealer, aad};
use super::{Replica, storage};
use crate::case::{CaseDoc, CaseEditor, NewCase};
use crate::jurisdiction::{JurisdictionPath, Level};
use crate::protocol::to_hash;
use crate::vocab::{CaseKind, Millis, Source, Status, new_case_id};
use crate::workflow::{self, EventDraft};
use crate::{Error, Result};

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

    pub(super) fn parse(s: &str) -> Result<SyncState> {
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
    /// The channel it came in through (absent in summaries sealed before sources were kept).
    #[serde(default)]
    pub source: Option<Source>,
    /// 待核实: sent down (分流) and not yet taken on at its level — a task for whoever handles
    /// there.
    #[serde(default)]
    pub awaiting_verification: bool,
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
    /// Only cases awaiting verification at `level` (the signed-in user's tasks).
    pub awaiting_verification_at: Option<Level>,
}

/// A change of this phone's that the server refused, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRejection {
    pub case_id: String,
    pub hash: String,
    pub code: String,
    pub reason: String,
}

impl Replica {
    /// Captures a new case offline; returns its id.
    pub fn capture(&mut self, new: &NewCase, at: Millis) -> Result<String> {
        let who = self.who()?;
        let id = new_case_id();
        let deadlines = self.rules.deadlines();
        let sealing = self.sealing_on()?;
        let tx = self.conn.transaction().map_err(storage)?;
        let key = write_key(&tx, &self.seal, &id, sealing)?;
        let (mut doc, hash) = CaseDoc::create_sealed(
            self.actor.clone(),
            &id,
            new,
            &who,
            at,
            &deadlines,
            key.as_ref(),
        )?;
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
        let sealing = self.sealing_on()?;
        let tx = self.conn.transaction().map_err(storage)?;
        let (mut doc, acked) = load_doc(&tx, &self.seal, id)?;
        // A case still waiting for its history cannot be edited: the edit would float free of it.
        doc.read()?;
        doc.set_actor(self.actor.clone());
        // A case without a key held here gets one; an edit that changes nothing rolls it back.
        let key = write_key(&tx, &self.seal, id, sealing)?;
        let Some(hash) = doc.edit_sealed(&who, at, key.as_ref(), f)? else {
            return Ok(());
        };
        let rejected = rejected_hashes(&tx, id)?;
        store_doc(&tx, &self.seal, id, &mut doc, &acked, &rejected, at)?;
        queue_new(&tx, &self.seal, id, &mut doc, hash, &who.user)?;
        tx.commit().map_err(storage)
    }

    /// Appends a workflow step, checked against the rules; returns the event id.
    pub fn append_event(&mut self, id: &str, draft: EventDraft, at: Millis) -> Result<String> {
        let mut event_id = String::new();
        let rules = self.rules.clone();
        self.edit(id, at, |e| {
            event_id = e.append_event_with(draft, &rules.deadlines())?;
            Ok(())
        })?;
        Ok(event_id)
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
        self.rows("SELECT id FROM cases ORDER BY id", [], |r| r.get(0))
    }

    /// Lists cases with their sync state, newest change first, filtered.
    pub fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>> {
        let rows = self.rows(
            "SELECT id, summary, sync_state, updated_at FROM cases ORDER BY updated_at DESC, id",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )?;
        let needle = filter.text.as_deref().map(str::to_lowercase);
        let mut out = Vec::new();
        for (id, sealed, state, updated_at) in rows {
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
                && filter
                    .awaiting_verification_at
                    .is_none_or(|l| s.awaiting_verification && s.level == l)
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
        self.count("SELECT count(*) FROM cases WHERE sync_state = 'pending'")
    }

    /// Cases the next sync has work for: changes to send, or history still to fetch.
    pub fn unsettled_count(&self) -> Result<usize> {
        self.count("SELECT count(*) FROM cases WHERE sync_state IN ('pending', 'incomplete')")
    }

    fn count(&self, sql: &str) -> Result<usize> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(storage)
    }

    /// This phone's changes the server refused, with reasons.
    pub fn rejections(&self, id: &str) -> Result<Vec<LocalRejection>> {
        let rows = self.rows(
            "SELECT hash, code, reason FROM rejections WHERE case_id = ?1 ORDER BY hash",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for (hash, code, sealed) in rows {
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
}

pub(super) fn load_doc(
    conn: &Connection,
    seal: &Sealer,
    id: &str,
) -> Result<(CaseDoc, Vec<ChangeHash>)> {
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
pub(super) fn store_doc(
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
pub(super) fn settle(
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
        awaiting_verification: wf.awaits_verification(),
        source: Some(case.source),
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

pub(super) fn rejected_hashes(conn: &Connection, id: &str) -> Result<Vec<ChangeHash>> {
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

pub(super) fn encode_hashes(hashes: &[ChangeHash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

pub(super) fn decode_hashes(bytes: &[u8]) -> Result<Vec<ChangeHash>> {
    if !bytes.len().is_multiple_of(32) {
        return Err(Error::Storage("corrupt acknowledged heads".into()));
    }
    bytes
        .chunks(32)
        .map(|c| to_hash(c).map_err(|e| Error::Storage(e.to_string())))
        .collect()
}
