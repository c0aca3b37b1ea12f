//! Admission: the hub's judgement of the changes a device pushes for one case.
//!
//! The server (and the test hub) call [`admit`] for each case in a push. The changes are applied
//! together on a fork of the stored document; only if the result passes every check are they
//! accepted. Checks: the bytes are changes; each change's actor is bound to the pushing device and
//! its recorded author is someone signed in on that device; nothing immutable (id, kind, reporter,
//! creation time) moved; the case stays readable and inside the writer's jurisdiction before and
//! after; the category is in the catalogue for the kind; the event log only grew; every new
//! workflow event passes [`workflow::check`] as its writer saw the case; and the document, saved,
//! stays within [`MAX_DOC_BYTES`]. A batch that fails is refused whole (each change gets a
//! reason) and the caller quarantines it — never merges it, never drops it.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, Change, ChangeHash};
use serde_bytes::ByteBuf;

use crate::access::Identity;
use crate::case::{Case, CaseDoc, ChangeAuthor, Mediation, parse_change};
use crate::error::Refusal;
use crate::evidence::{SigCheck, VerifyingKey, check_signatures, chunk_hash};
use crate::protocol::RejectCode;
use crate::taxonomy::Taxonomy;
use crate::workflow::{self, CaseEvent};

/// The largest single change the hub accepts.
pub const MAX_CHANGE_BYTES: usize = 512 * 1024;
/// The largest case document the hub stores, as saved (`CaseDoc::save`, its whole history):
/// half of `protocol::MAX_ENVELOPE_BYTES`, so a case's whole history (the answer to a `want`)
/// leaves room in one response, and over 2,000 times the demo county's largest case (1.8 KB).
/// Changes that would take a case past it are refused (`too_large`), except the server's own
/// (`Role::System`).
pub const MAX_DOC_BYTES: usize = 4 * 1024 * 1024;

/// One refused change (or undecodable bytes, with no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub hash: Option<ChangeHash>,
    pub bytes: Vec<u8>,
    pub code: RejectCode,
    pub reason: String,
}

/// The outcome for one case.
#[derive(Debug)]
pub struct Verdict {
    /// Changes new to the hub that passed, in the order given.
    pub accepted: Vec<Change>,
    /// Changes the hub already had: acknowledged again, stored once.
    pub duplicates: Vec<ChangeHash>,
    pub refused: Vec<Refused>,
    /// The document with the accepted changes, when there were any.
    pub doc: Option<CaseDoc>,
    /// That document read as a case (it was read to judge it; callers need not read it again).
    pub case: Option<Case>,
    /// Attachment names the accepted changes referenced for the first time.
    pub added_attachments: Vec<String>,
    /// `doc` saved (measured against [`MAX_DOC_BYTES`]; callers need not save it again).
    pub snapshot: Option<Vec<u8>>,
    /// The signature each accepted change came with, parallel to `accepted` (`None` from a
    /// device without a key).
    pub signatures: Vec<Option<ByteBuf>>,
    /// The colleague's device that made each accepted change, when the push relayed it
    /// (ADR 0030), parallel to `accepted`: the change is its author device's, with its key.
    pub relayed: Vec<Option<Relayed>>,
}

/// A relayed change's author device, as admission found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    pub device: String,
    /// The key its signature verified under (`None` from a hub that checks none).
    pub key: Option<VerifyingKey>,
}

/// Who may have written changes from the pushing device.
#[derive(Debug, Clone)]
pub struct DeviceAuthority<'a> {
    /// Actor ids registered to the device.
    pub actors: &'a [ActorId],
    /// Who may have written the pushed changes: the server passes only the token's own account.
    pub users: &'a [Identity],
    /// The device's bound signing key and the signatures that came with the changes (parallel
    /// to them); `None` for a device without a key, whose changes are admitted unsigned.
    pub signing: Option<Signing<'a>>,
    /// Changes of colleagues' phones this push carries (ADR 0030); `None`: none.
    pub relays: Option<Relays<'a>>,
}

/// What a push that relays colleagues' changes says of them, and what the hub knows of their
/// author devices.
#[derive(Debug, Clone, Copy)]
pub struct Relays<'a> {
    /// The pushing device: a change `by` names it is its own.
    pub own: &'a str,
    /// The device that made each change, parallel to the changes (`DocChanges::by`).
    pub by: &'a [String],
    /// The signatures, parallel to the changes (a relayed change's is its author's).
    pub sigs: &'a [ByteBuf],
    /// The author devices the hub knows (and has not revoked).
    pub devices: &'a [RelayDevice<'a>],
}

/// A device whose changes another device may carry.
#[derive(Debug, Clone)]
pub struct RelayDevice<'a> {
    pub device: &'a str,
    pub actors: &'a [ActorId],
    /// Who may have written its changes: everyone signed in on it.
    pub users: &'a [Identity],
    /// Its bound key; `None` from a hub that checks no signatures (tests). A server never lists
    /// a keyless device: only a signature says who made a relayed change.
    pub key: Option<&'a VerifyingKey>,
}

impl Relays<'_> {
    /// The author device `by` names for the change at `at`, unless it is the pushing device.
    fn author_of(&self, at: usize) -> Option<&str> {
        self.by
            .get(at)
            .map(String::as_str)
            .filter(|d| !d.is_empty() && *d != self.own)
    }
}

/// A keyed device's push: every new change must carry the device's signature (ADR 0028).
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    pub key: &'a VerifyingKey,
    pub sigs: &'a [ByteBuf],
    /// The signatures already checked, by position in the push (`evidence::check_push`: one
    /// batch for a whole push rather than one per case); `None` checks them here.
    pub checked: Option<&'a [SigCheck]>,
}

impl DeviceAuthority<'_> {
    fn identity_of(&self, author: &ChangeAuthor) -> Option<&Identity> {
        self.users
            .iter()
            .find(|u| u.user == author.user && u.device == author.device && u.role == author.role)
    }
}

/// Judges the changes pushed for case `doc_id` against the stored document (`None` for a case
/// the hub has never seen).
pub fn admit(
    current: Option<&mut CaseDoc>,
    doc_id: &str,
    raw: &[impl AsRef<[u8]>],
    device: &DeviceAuthority<'_>,
    taxonomy: &Taxonomy,
) -> Verdict {
    let mut verdict = Verdict {
        accepted: Vec::new(),
        duplicates: Vec::new(),
        refused: Vec::new(),
        doc: None,
        case: None,
        added_attachments: Vec::new(),
        snapshot: None,
        signatures: Vec::new(),
        relayed: Vec::new(),
    };
    let mut fresh: Vec<(Change, &Identity)> = Vec::new();
    // The position in `raw` of each fresh change, for its signature.
    let mut fresh_at: Vec<usize> = Vec::new();
    // Parallel to `fresh`: the author device and its signature of a relayed change.
    let mut fresh_relayed: Vec<Option<(Relayed, ByteBuf)>> = Vec::new();
    let mut current = current;
    let mut seen = HashSet::new();
    for (at, bytes) in raw.iter().enumerate() {
        let bytes = bytes.as_ref();
        let refuse = |hash, code, reason: String| Refused {
            hash,
            bytes: bytes.to_vec(),
            code,
            reason,
        };
        let change = match parse_change(bytes) {
            Ok(c) => c,
            Err(e) => {
                verdict
                    .refused
                    .push(refuse(None, RejectCode::BadChange, e.to_string()));
                continue;
            }
        };
        if bytes.len() > MAX_CHANGE_BYTES {
            verdict.refused.push(refuse(
                Some(change.hash()),
                RejectCode::TooLarge,
                format!(
                    "a change of {} bytes; the limit is {MAX_CHANGE_BYTES}",
                    bytes.len()
                ),
            ));
            continue;
        }
        let hash = change.hash();
        if !seen.insert(hash) {
            continue;
        }
        if current.as_deref_mut().is_some_and(|d| d.has_change(&hash)) {
            verdict.duplicates.push(hash);
            continue;
        }
        if let Some(relays) = device.relays.as_ref().filter(|r| r.author_of(at).is_some()) {
            match relayed_author(relays, at, &change) {
                Ok((who, relayed)) => {
                    fresh.push((change, who));
                    fresh_at.push(at);
                    fresh_relayed.push(Some(relayed));
                }
                Err((code, reason)) => verdict.refused.push(refuse(Some(hash), code, reason)),
            }
            continue;
        }
        if !device.actors.contains(change.actor_id()) {
            verdict.refused.push(refuse(
                Some(hash),
                RejectCode::ForgedActor,
                format!("actor {} is not bound to this device", change.actor_id()),
            ));
            continue;
        }
        match ChangeAuthor::of_change(&change).and_then(|a| device.identity_of(&a)) {
            Some(who) => {
                fresh.push((change, who));
                fresh_at.push(at);
                fresh_relayed.push(None);
            }
            None => verdict.refused.push(refuse(
                Some(hash),
                RejectCode::ForgedAuthor,
                "the change's author is not the account pushing it".into(),
            )),
        }
    }
    let (signatures, relayed) = match device.signing {
        None => fresh_relayed
            .into_iter()
            .map(|r| match r {
                Some((relayed, sig)) => (Some(sig), Some(relayed)),
                None => (None, None),
            })
            .unzip(),
        Some(signing) => {
            let (kept, sigs) = signed_only(
                fresh,
                &fresh_at,
                fresh_relayed,
                signing,
                &mut verdict.refused,
            );
            fresh = kept;
            sigs
        }
    };
    if fresh.is_empty() {
        return verdict;
    }
    match judge(current, doc_id, &fresh, taxonomy) {
        Ok(Judged {
            doc,
            case,
            added_attachments,
            snapshot,
        }) => {
            verdict.accepted = fresh.into_iter().map(|(c, _)| c).collect();
            verdict.signatures = signatures;
            verdict.relayed = relayed;
            verdict.doc = Some(doc);
            verdict.case = Some(case);
            verdict.added_attachments = added_attachments;
            verdict.snapshot = Some(snapshot);
        }
        Err((code, reason)) => {
            for (change, _) in fresh {
                verdict.refused.push(Refused {
                    hash: Some(change.hash()),
                    bytes: change.raw_bytes().to_vec(),
                    code,
                    reason: reason.clone(),
                });
            }
        }
    }
    verdict
}

/// Who made a relayed change: its author device must be known with its actor, its recorded
/// author one of that device's accounts, and its signature that device's (ADR 0030).
fn relayed_author<'a>(
    relays: &Relays<'a>,
    at: usize,
    change: &Change,
) -> Judgement<(&'a Identity, (Relayed, ByteBuf))> {
    let named = relays.author_of(at).unwrap_or_default();
    let unknown = |reason: String| (RejectCode::RelayAuthorUnknown, reason);
    let Some(dev) = relays.devices.iter().find(|d| d.device == named) else {
        return Err(unknown(format!(
            "relayed as device {named}'s, which the server does not know, has revoked, or holds no key of"
        )));
    };
    if !dev.actors.contains(change.actor_id()) {
        return Err(unknown(format!(
            "actor {} is not bound to device {named}",
            change.actor_id()
        )));
    }
    let who = ChangeAuthor::of_change(change)
        .and_then(|a| {
            dev.users
                .iter()
                .find(|u| u.user == a.user && u.device == a.device && u.role == a.role)
        })
        .ok_or_else(|| {
            unknown(format!(
                "its recorded author is not an account of device {named}"
            ))
        })?;
    let sig = relays.sigs.get(at).cloned().unwrap_or_default();
    if let Some(key) = dev.key
        && !crate::evidence::verifies(key, &change.hash(), &sig)
    {
        return Err((
            RejectCode::RelaySignatureInvalid,
            format!("the signature does not verify under device {named}'s key"),
        ));
    }
    let relayed = Relayed {
        device: named.to_owned(),
        key: dev.key.copied(),
    };
    Ok((who, (relayed, sig)))
}

/// The signature and the relay of each kept change.
type KeptSignatures = (Vec<Option<ByteBuf>>, Vec<Option<Relayed>>);

/// Keeps the fresh changes whose signature verifies under the device's key, with their
/// signatures; refuses the rest (missing or invalid). Relayed changes were checked under their
/// author's key and are kept with theirs. The server tells a signature made with another
/// device's key apart afterwards (it knows the other keys).
fn signed_only<'a>(
    fresh: Vec<(Change, &'a Identity)>,
    fresh_at: &[usize],
    fresh_relayed: Vec<Option<(Relayed, ByteBuf)>>,
    signing: Signing<'_>,
    refused: &mut Vec<Refused>,
) -> (Vec<(Change, &'a Identity)>, KeptSignatures) {
    let hashes: Vec<ChangeHash> = fresh.iter().map(|(c, _)| c.hash()).collect();
    let sigs: Vec<ByteBuf> = fresh_at
        .iter()
        .map(|&i| signing.sigs.get(i).cloned().unwrap_or_default())
        .collect();
    let checks = match signing.checked {
        // Checked over each chunk's hash before parsing: used for a change whose parsed hash
        // is that hash (always, for a change), else checked here.
        Some(checked) => fresh
            .iter()
            .zip(fresh_at)
            .zip(&hashes)
            .zip(&sigs)
            .map(|((((change, _), &at), hash), sig)| {
                match (
                    checked.get(at),
                    chunk_hash(change.raw_bytes()) == Some(*hash),
                ) {
                    (Some(check), true) => *check,
                    _ => check_signatures(
                        signing.key,
                        std::slice::from_ref(hash),
                        std::slice::from_ref(sig),
                    )[0],
                }
            })
            .collect(),
        None => check_signatures(signing.key, &hashes, &sigs),
    };
    let mut kept = Vec::with_capacity(fresh.len());
    let mut kept_sigs = Vec::with_capacity(fresh.len());
    let mut kept_relayed = Vec::with_capacity(fresh.len());
    for ((((change, who), check), sig), relayed) in
        fresh.into_iter().zip(checks).zip(sigs).zip(fresh_relayed)
    {
        if let Some((relayed, sig)) = relayed {
            kept.push((change, who));
            kept_sigs.push(Some(sig));
            kept_relayed.push(Some(relayed));
            continue;
        }
        let (code, reason) = match check {
            SigCheck::Valid => {
                kept.push((change, who));
                kept_sigs.push(Some(sig));
                kept_relayed.push(None);
                continue;
            }
            SigCheck::Missing => (
                RejectCode::SignatureMissing,
                "this device signs its changes, and this one came without a signature",
            ),
            SigCheck::Invalid => (
                RejectCode::SignatureInvalid,
                "the signature does not verify under this device's key",
            ),
        };
        refused.push(Refused {
            hash: Some(change.hash()),
            bytes: change.raw_bytes().to_vec(),
            code,
            reason: reason.into(),
        });
    }
    (kept, (kept_sigs, kept_relayed))
}

type Judgement<T> = std::result::Result<T, (RejectCode, String)>;

/// What passed: the document, the case it reads as, its new attachment references, and the
/// document saved.
struct Judged {
    doc: CaseDoc,
    case: Case,
    added_attachments: Vec<String>,
    snapshot: Vec<u8>,
}

/// Applies the fresh changes on a fork and checks the result.
fn judge(
    current: Option<&mut CaseDoc>,
    doc_id: &str,
    fresh: &[(Change, &Identity)],
    taxonomy: &Taxonomy,
) -> Judgement<Judged> {
    let (before, base_heads, mut fork) = match current {
        Some(doc) => {
            let before = doc
                .read()
                .map_err(|e| (RejectCode::InvalidCase, e.to_string()))?;
            (Some(before), doc.heads(), doc.fork())
        }
        None => (None, Vec::new(), CaseDoc::empty(ActorId::random())),
    };
    fork.apply(fresh.iter().map(|(c, _)| c.clone()).collect())
        .map_err(|e| (RejectCode::BadChange, e.to_string()))?;
    // Every new change read back (Automerge can take a hostile change it then panics
    // rebuilding, ADR 0014); one missing was held back for a dependency the server lacks.
    let held = fork
        .read_back_since(&base_heads)
        .map_err(|e| (RejectCode::BadChange, e.to_string()))?;
    let missing: Vec<String> = fresh
        .iter()
        .map(|(c, _)| c.hash())
        .filter(|h| !held.contains(h))
        .map(|h| h.to_string())
        .collect();
    if !missing.is_empty() {
        return Err((
            RejectCode::MissingDependency,
            format!(
                "depends on changes the server does not have ({})",
                missing.join(", ")
            ),
        ));
    }
    let after = fork
        .read()
        .map_err(|e| (RejectCode::InvalidCase, e.to_string()))?;
    // Schema v1 is the types (`read`) and the value rules (`check`). They judge the whole
    // result, so a case stored before the rules takes a batch that leaves it sound (a title set).
    after
        .check()
        .map_err(|e| (RejectCode::InvalidCase, e.to_string()))?;
    if after.id != doc_id {
        return Err((
            RejectCode::InvalidCase,
            format!("the document is case {}, not {doc_id}", after.id),
        ));
    }
    if let Some(before) = &before {
        immutable_unchanged(before, &after)?;
    }
    Mediation::check_result(&after.mediation.result, &after.mediation.referral)
        .map_err(|e| (RejectCode::InvalidCase, e.to_string()))?;
    let writers: Vec<&Identity> = fresh.iter().map(|(_, who)| *who).collect();
    in_scope(before.as_ref(), &after, &writers)?;
    let category = taxonomy.category(&after.category);
    if !category.is_some_and(|c| c.applies_to(after.kind.as_str())) {
        return Err((
            RejectCode::InvalidCategory,
            format!(
                "category {:?} is not in the catalogue for {}",
                after.category, after.kind
            ),
        ));
    }
    new_events_allowed(before.as_ref(), &after, &writers, taxonomy)?;
    let known: HashSet<&str> = before
        .iter()
        .flat_map(|b| b.attachments.iter().map(|a| a.sha256.as_str()))
        .collect();
    let mut added_attachments: Vec<String> = after
        .attachments
        .iter()
        .map(|a| a.sha256.clone())
        .filter(|s| !known.contains(s.as_str()))
        .collect();
    added_attachments.sort();
    added_attachments.dedup();
    // Last, as it costs a save: a case may not grow without bound (memory of every server that
    // parses it, and of every phone that pulls it). The server's own events always land.
    // Stored uncompressed; only a document over the cap that way is measured compressed (the
    // cap's unit), and kept compressed.
    let mut snapshot = fork.save_uncompressed();
    if snapshot.len() > MAX_DOC_BYTES {
        snapshot = fork.save();
    }
    let people = writers.iter().any(|w| w.role.is_person());
    if people && snapshot.len() > MAX_DOC_BYTES {
        return Err((
            RejectCode::TooLarge,
            format!(
                "the case would be {} bytes saved; the limit is {MAX_DOC_BYTES}",
                snapshot.len()
            ),
        ));
    }
    Ok(Judged {
        doc: fork,
        case: after,
        added_attachments,
        snapshot,
    })
}

fn immutable_unchanged(before: &Case, after: &Case) -> Judgement<()> {
    let same = before.id == after.id
        && before.kind == after.kind
        && before.reporter == after.reporter
        && before.created_at == after.created_at;
    if same {
        Ok(())
    } else {
        Err((
            RejectCode::InvalidCase,
            "id, kind, reporter and creation time cannot change".into(),
        ))
    }
}

fn in_scope(before: Option<&Case>, after: &Case, writers: &[&Identity]) -> Judgement<()> {
    let folded = |c: &Case| workflow::fold(&c.events);
    if let Some(b) = before
        && b.jurisdiction != after.jurisdiction
    {
        let movers = writers.iter().all(|w| w.role.moves_cases());
        if !movers {
            return Err((
                RejectCode::OutOfScope,
                "only township or county staff move a case".into(),
            ));
        }
    }
    for who in writers {
        let reach = |c: &Case| who.may_read(c.kind, &c.jurisdiction, &folded(c).departments());
        // Department handlers only see a case while it is assigned to them, which is the
        // state before their change (a return clears the department).
        let ok = match before {
            Some(b) => reach(b) && (reach(after) || after.jurisdiction.is_within(&who.scope)),
            None => who.may_report(after.kind, &after.jurisdiction),
        };
        if !ok {
            return Err((
                RejectCode::OutOfScope,
                format!(
                    "{} {} may not write a {} at {}",
                    who.role, who.user, after.kind, after.jurisdiction
                ),
            ));
        }
    }
    Ok(())
}

fn new_events_allowed(
    before: Option<&Case>,
    after: &Case,
    writers: &[&Identity],
    taxonomy: &Taxonomy,
) -> Judgement<()> {
    let old: &[CaseEvent] = before.map(|b| b.events.as_slice()).unwrap_or_default();
    let old_ids: HashMap<&str, &CaseEvent> = old.iter().map(|e| (e.id.as_str(), e)).collect();
    let kept = old_ids
        .iter()
        .all(|(id, e)| after.events.iter().any(|a| a.id == *id && a == *e));
    if !kept || after.events.len() < old.len() {
        return Err((
            RejectCode::InvalidCase,
            "the event log is append-only".into(),
        ));
    }
    let by_id: HashMap<&str, usize> = after
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    if by_id.len() != after.events.len() {
        return Err((RejectCode::InvalidCase, "two events share an id".into()));
    }
    if after.events.first().map(|e| e.kind) != Some(workflow::EventType::Reported) {
        return Err((
            RejectCode::WorkflowRefused,
            "a case starts with its report".into(),
        ));
    }
    for event in after
        .events
        .iter()
        .filter(|e| !old_ids.contains_key(e.id.as_str()))
    {
        let who = writers
            .iter()
            .find(|w| w.user == event.by && w.device == event.device && w.role == event.role)
            .ok_or((
                RejectCode::ForgedAuthor,
                format!("event {} names another author", event.id),
            ))?;
        // The state as the writer saw it: the events it had seen, in log order.
        let seen = ancestors(&after.events, &by_id, event);
        let view: Vec<CaseEvent> = after
            .events
            .iter()
            .filter(|e| seen.contains(e.id.as_str()))
            .cloned()
            .collect();
        let state = workflow::fold(&view);
        workflow::check(&state, event, who, after.kind, &after.jurisdiction).map_err(|r| {
            let code = match r {
                Refusal::OutOfScope { .. } => RejectCode::OutOfScope,
                Refusal::ForgedAuthor => RejectCode::ForgedAuthor,
                _ => RejectCode::WorkflowRefused,
            };
            (code, format!("{}: {r}", r.code()))
        })?;
        if let Some(d) = &event.department
            && taxonomy.department(d).is_none()
        {
            return Err((
                RejectCode::WorkflowRefused,
                format!("unknown department {d:?}"),
            ));
        }
    }
    Ok(())
}

fn ancestors<'a>(
    events: &'a [CaseEvent],
    by_id: &HashMap<&str, usize>,
    event: &CaseEvent,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let mut stack: Vec<&str> = event.deps.iter().map(String::as_str).collect();
    while let Some(id) = stack.pop() {
        if let Some(&i) = by_id.get(id) {
            let e = &events[i];
            if seen.insert(e.id.as_str()) {
                stack.extend(e.deps.iter().map(String::as_str));
            }
        }
    }
    seen
}
