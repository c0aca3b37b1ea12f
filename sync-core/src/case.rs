//! The case document: schema v1 over Automerge, typed reads and writes, and field conflicts.
//!
//! This module is the only place that knows the document's keys. Every field a person edits is
//! its own key (or a Text), so concurrent edits of different fields merge; concurrent writes of one
//! key keep every value and show up in [`CaseDoc::conflicts`] until someone writes it again.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::hydrate;
use automerge::iter::DocItem;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value,
};
use serde::{Deserialize, Serialize};

use crate::access::{Identity, Role};
use crate::jurisdiction::{JurisdictionPath, Level};
use crate::vocab::new_id;
use crate::workflow::{self, CaseEvent, EventDraft, EventType, Rating, WorkflowState};
use crate::error::Refusal;
use crate::{Error, Result};

pub use crate::vocab::{CaseKind, Millis, new_case_id, validate_case_id};

/// The schema version written into every case.
pub const SCHEMA_VERSION: i64 = 1;

/// Limits that keep documents small (history cost grows with size).
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 20_000;
pub const MAX_SHORT_CHARS: usize = 500;

/// Where the case happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub address: String,
}

/// Who first captured the case, on which device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    pub user: String,
    pub device: String,
}

/// A person involved: requester, party to a dispute, key person, household member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub id: String,
    pub name: String,
    /// e.g. `requester`, `applicant`, `respondent`, `key_person`, `member`.
    pub role: String,
    pub phone: String,
}

/// A reference to a photo or document stored by content hash.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub sha256: String,
    pub mime: String,
    pub bytes: u64,
    pub caption: String,
    pub captured_at: Millis,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// One mediation session of a dispute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediationSession {
    pub id: String,
    pub at: Millis,
    pub mediators: Vec<String>,
    pub notes: String,
    /// e.g. `agreed`, `partial`, `failed`, `adjourned`.
    pub outcome: String,
}

/// The mediation block of a dispute (empty for other kinds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mediation {
    pub sessions: Vec<MediationSession>,
    /// The agreement text (调解协议), co-edited as Text.
    pub agreement: String,
    /// `success` or `failure`, empty while open.
    pub result: String,
    /// Where a failed mediation was referred: `court` (诉调), `police` (警调), `petition` (访调).
    pub referral: String,
}

impl Mediation {
    /// The rule for a mediation's outcome, shared by the phone's editor and the server's
    /// admission: `success`, `failure` or open; 诉调/警调/访调 — a failed mediation is referred to
    /// court, police or the petition office, and only a failed one.
    pub fn check_result(result: &str, referral: &str) -> Result<()> {
        if !["", "success", "failure"].contains(&result) {
            return Err(invalid("mediation.result", "expected success or failure"));
        }
        if !["", "court", "police", "petition"].contains(&referral) {
            return Err(invalid(
                "mediation.referral",
                "expected court, police or petition",
            ));
        }
        if (result == "failure") == referral.is_empty() {
            return Err(invalid(
                "mediation.referral",
                "a failed mediation is referred to court, police or petition; a successful or open one is not",
            ));
        }
        Ok(())
    }
}

/// What a person fills in when capturing a new case.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    pub kind: CaseKind,
    pub jurisdiction: JurisdictionPath,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Location,
    pub people: Vec<Party>,
}

/// A typed snapshot of a case document. Where a field is in conflict it shows the value Automerge
/// picks deterministically; [`CaseDoc::conflicts`] lists all of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub id: String,
    pub kind: CaseKind,
    pub jurisdiction: JurisdictionPath,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Location,
    pub reporter: Reporter,
    pub created_at: Millis,
    pub people: Vec<Party>,
    pub attachments: Vec<Attachment>,
    pub events: Vec<CaseEvent>,
    pub mediation: Mediation,
    pub extra: BTreeMap<String, String>,
}

/// Who wrote a change, as recorded in the change's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeAuthor {
    pub user: String,
    pub device: String,
    pub role: Role,
}

impl ChangeAuthor {
    const PREFIX: &'static str = "gs1";

    pub fn of(who: &Identity) -> Self {
        ChangeAuthor {
            user: who.user.clone(),
            device: who.device.clone(),
            role: who.role,
        }
    }

    /// The change message: `gs1 <user> <device> <role>` (ids are space-free tokens).
    pub fn to_message(&self) -> String {
        format!(
            "{} {} {} {}",
            Self::PREFIX,
            self.user,
            self.device,
            self.role
        )
    }

    pub fn from_message(message: &str) -> Option<Self> {
        let mut parts = message.split(' ');
        if parts.next()? != Self::PREFIX {
            return None;
        }
        let author = ChangeAuthor {
            user: parts.next()?.to_owned(),
            device: parts.next()?.to_owned(),
            role: Role::parse(parts.next()?)?,
        };
        parts.next().is_none().then_some(author)
    }

    pub fn of_change(change: &Change) -> Option<Self> {
        change.message().and_then(Self::from_message)
    }
}

/// One of the values a field holds after concurrent writes, and who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictValue {
    pub value: String,
    pub author: Option<ChangeAuthor>,
    /// Device clock of the change that wrote it.
    pub at: Millis,
    /// Hex hash of that change.
    pub change: String,
}

/// A field that concurrent edits left with more than one value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// Dotted path, e.g. `title`, `location.address`, `people.0.phone`.
    pub field: String,
    pub values: Vec<ConflictValue>,
}

/// One case as an Automerge document.
#[derive(Debug, Clone)]
pub struct CaseDoc {
    doc: AutoCommit,
}

impl CaseDoc {
    /// Captures a new case: the document with every object it will ever hold, and the
    /// `reported` event, in one change.
    pub fn create(
        actor: ActorId,
        id: &str,
        new: &NewCase,
        by: &Identity,
        at: Millis,
    ) -> Result<(CaseDoc, ChangeHash)> {
        validate_case_id(id)?;
        if !by.may_report(new.kind, &new.jurisdiction) {
            return Err(Refusal::OutOfScope {
                what: format!(
                    "{} may not report a {} at {}",
                    by.role, new.kind, new.jurisdiction
                ),
            }
            .into());
        }
        let mut case = CaseDoc {
            doc: AutoCommit::new().with_actor(actor),
        };
        let hash = case.edit(by, at, |e| e.write_new(id, new, by, at))?;
        let hash = hash.ok_or_else(|| Error::InvalidCase("empty creation".into()))?;
        Ok((case, hash))
    }

    /// Loads a saved document; corrupt bytes are an error, never a panic.
    pub fn load(bytes: &[u8]) -> Result<CaseDoc> {
        let doc = guard(|| AutoCommit::load(bytes))?;
        Ok(CaseDoc { doc })
    }

    /// A document built from raw changes (the server's log or a pull).
    pub fn from_changes(changes: Vec<Change>) -> Result<CaseDoc> {
        let mut doc = AutoCommit::new();
        guard(|| doc.apply_changes(changes))?;
        Ok(CaseDoc { doc })
    }

    /// An empty document, for a case first seen through a pull.
    pub fn empty(actor: ActorId) -> CaseDoc {
        CaseDoc {
            doc: AutoCommit::new().with_actor(actor),
        }
    }

    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// The whole document, its columns compressed: what the phone keeps (its storage is the
    /// scarcer resource) and what leaves the system (exports, peers).
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The whole document without compression: what the server keeps. Its snapshot is rewritten
    /// on every push, and setting up DEFLATE (and inflating again on every load) cost more CPU
    /// than the ~12 % of bytes it saved (ADR 0017).
    pub fn save_uncompressed(&mut self) -> Vec<u8> {
        self.doc.save_nocompress()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Changes the holder of `have` lacks.
    pub fn changes_since(&mut self, have: &[ChangeHash]) -> Vec<Change> {
        self.doc.get_changes(have)
    }

    /// The hashes of the changes the holder of `have` lacks, from the change graph alone:
    /// nothing is rebuilt, unlike [`CaseDoc::changes_since`].
    pub fn hashes_since(&mut self, have: &[ChangeHash]) -> Vec<ChangeHash> {
        self.doc
            .get_changes_meta(have)
            .into_iter()
            .map(|m| m.hash)
            .collect()
    }

    /// The changes `hash` depends on directly, if this document holds it (nothing rebuilt).
    pub fn deps_of(&mut self, hash: &ChangeHash) -> Option<Vec<ChangeHash>> {
        self.doc.get_change_meta_by_hash(hash).map(|m| m.deps)
    }

    pub fn change(&mut self, hash: &ChangeHash) -> Option<Change> {
        self.doc.get_change_by_hash(hash)
    }

    /// The hashes of the changes after `since`, each rebuilt from the document: for changes from
    /// elsewhere, as Automerge can take a hostile change and then panic rebuilding it (found by
    /// fuzzing, ADR 0014), which is an error here. One call for all of them: rebuilding them
    /// one by one cost half as much again.
    pub fn read_back_since(
        &mut self,
        since: &[ChangeHash],
    ) -> Result<std::collections::HashSet<ChangeHash>> {
        guard(|| {
            Ok(self
                .doc
                .get_changes(since)
                .iter()
                .map(|c| c.hash())
                .collect())
        })
        .map_err(|_| Error::Automerge("a change cannot be read back".into()))
    }

    /// Applies changes from elsewhere; duplicates are ignored by Automerge.
    pub fn apply(&mut self, changes: Vec<Change>) -> Result<()> {
        guard(|| self.doc.apply_changes_batch(changes))
    }

    /// Hashes this document's held-back changes depend on but does not have.
    pub fn missing_deps(&mut self) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(&[])
    }

    /// A copy to try changes on before accepting them.
    pub fn fork(&mut self) -> CaseDoc {
        CaseDoc {
            doc: self.doc.fork(),
        }
    }

    /// Makes one change from `f`: all of its writes or none of them.
    pub fn edit<F>(&mut self, by: &Identity, at: Millis, f: F) -> Result<Option<ChangeHash>>
    where
        F: FnOnce(&mut CaseEditor<'_>) -> Result<()>,
    {
        let outcome = {
            let mut editor = CaseEditor {
                doc: &mut self.doc,
                by,
                at,
            };
            catch_unwind(AssertUnwindSafe(|| f(&mut editor)))
                .unwrap_or_else(|_| Err(Error::Automerge("panic inside automerge".into())))
        };
        match outcome {
            Ok(()) => Ok(self.doc.commit_with(
                CommitOptions::default()
                    .with_message(ChangeAuthor::of(by).to_message())
                    .with_time(at),
            )),
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }

    /// The names of the blobs the case references, without reading the rest of the case.
    pub fn attachment_hashes(&self) -> Result<std::collections::BTreeSet<String>> {
        let d = &self.doc;
        if d.get(&ObjId::Root, "attachments")?.is_none() {
            return Ok(Default::default());
        }
        Ok(read_list(d, &ObjId::Root, "attachments", |d, o| {
            get_str(d, o, "sha256")
        })?
        .into_iter()
        .collect())
    }

    /// Reads the whole case, checking the schema. The document is hydrated in one pass and read
    /// from that copy: asking Automerge for each of some fifty keys seeks for each, and cost over
    /// twice as much.
    pub fn read(&self) -> Result<Case> {
        // Automerge can panic hydrating a hostile document (found by the fuzz corpus).
        let root = match guard(|| self.doc.hydrate(ObjId::Root, None))? {
            hydrate::Value::Map(m) => m,
            _ => return Err(Error::InvalidCase("the root is not a map".into())),
        };
        let schema = root.i64("schema")?.unwrap_or(0);
        if schema != SCHEMA_VERSION {
            return Err(Error::InvalidCase(format!(
                "schema {schema} is not {SCHEMA_VERSION}"
            )));
        }
        let kind_s = req_field_str(&root, "kind")?;
        let kind = CaseKind::parse(&kind_s)
            .ok_or_else(|| Error::InvalidCase(format!("unknown kind {kind_s:?}")))?;
        let jurisdiction = jurisdiction_of(hydrated_map(&root, "jurisdiction")?)?;
        let loc = hydrated_map(&root, "location")?;
        let rep = hydrated_map(&root, "reporter")?;
        let med = hydrated_map(&root, "mediation")?;
        let extra_map = hydrated_map(&root, "extra")?;
        let mut extra = BTreeMap::new();
        for (key, _) in extra_map.iter() {
            extra.insert(key.clone(), extra_map.str(key)?);
        }
        Ok(Case {
            id: req_field_str(&root, "id")?,
            kind,
            jurisdiction,
            category: root.str("category")?,
            title: root.str("title")?,
            description: root.text("description")?,
            location: Location {
                lat: loc.f64("lat")?,
                lon: loc.f64("lon")?,
                accuracy_m: loc.f64("accuracy_m")?,
                address: loc.str("address")?,
            },
            reporter: Reporter {
                user: rep.str("user")?,
                device: rep.str("device")?,
            },
            created_at: root.i64("created_at")?.unwrap_or(0),
            people: hydrated_list(&root, "people", read_party)?,
            attachments: hydrated_list(&root, "attachments", read_attachment)?,
            events: hydrated_list(&root, "events", read_event)?,
            mediation: Mediation {
                sessions: hydrated_list(med, "sessions", read_session)?,
                agreement: med.text("agreement")?,
                result: med.str("result")?,
                referral: med.str("referral")?,
            },
            extra,
        })
    }

    /// The workflow status derived from the event log.
    pub fn workflow(&self) -> Result<WorkflowState> {
        let events = read_list(&self.doc, &ObjId::Root, "events", |d, o| {
            read_event(&(d, o))
        })?;
        Ok(workflow::fold(&events))
    }

    /// True when a field holds several values or two workflow steps contradict each other.
    pub fn in_conflict(&self) -> bool {
        !self.conflicts().is_empty() || self.workflow().is_ok_and(|w| !w.conflicts.is_empty())
    }

    /// Every field that holds more than one value, with who wrote each, in a stable order.
    pub fn conflicts(&self) -> Vec<FieldConflict> {
        let mut out = Vec::new();
        // One pass over the whole document first: nearly every case has no conflict, and the walk
        // below asks for every key's values one by one (a seek each).
        if self.doc.iter().any(|item| match item.item {
            DocItem::Map(m) => m.conflict,
            DocItem::List(l) => l.conflict,
            DocItem::Text(_) => false,
        }) {
            self.collect_conflicts(&ObjId::Root, String::new(), &mut out);
        }
        out
    }

    fn collect_conflicts(&self, obj: &ObjId, path: String, out: &mut Vec<FieldConflict>) {
        let d = &self.doc;
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match d.object_type(obj) {
            Ok(ObjType::Map) | Ok(ObjType::Table) => {
                for key in d.keys(obj) {
                    // The event log is append-only; workflow conflicts are judged by `fold`.
                    if path.is_empty() && key == "events" {
                        continue;
                    }
                    let all = d.get_all(obj, key.as_str()).unwrap_or_default();
                    if all.len() > 1 {
                        out.push(self.field_conflict(join(&key), &all));
                    }
                    if let Some((Value::Object(_), child)) = all.into_iter().last() {
                        self.collect_conflicts(&child, join(&key), out);
                    }
                }
            }
            Ok(ObjType::List) => {
                for i in 0..d.length(obj) {
                    let all = d.get_all(obj, i).unwrap_or_default();
                    if all.len() > 1 {
                        out.push(self.field_conflict(join(&i.to_string()), &all));
                    }
                    if let Some((Value::Object(_), child)) = all.into_iter().last() {
                        self.collect_conflicts(&child, join(&i.to_string()), out);
                    }
                }
            }
            _ => {}
        }
    }

    fn field_conflict(&self, field: String, all: &[(Value<'_>, ObjId)]) -> FieldConflict {
        let values = all
            .iter()
            .map(|(value, id)| {
                let meta = self
                    .doc
                    .hash_for_opid(id)
                    .and_then(|h| ReadDoc::get_change_by_hash(&self.doc, &h).map(|c| (h, c)));
                ConflictValue {
                    value: display_value(&self.doc, value, id),
                    author: meta.as_ref().and_then(|(_, c)| ChangeAuthor::of_change(c)),
                    at: meta.as_ref().map(|(_, c)| c.timestamp()).unwrap_or(0),
                    change: meta.map(|(h, _)| h.to_string()).unwrap_or_default(),
                }
            })
            .collect();
        FieldConflict { field, values }
    }
}

/// Keys of the document root that never change after capture (admission refuses it too).
const IMMUTABLE_ROOT_KEYS: [&str; 6] = ["schema", "id", "kind", "reporter", "created_at", "events"];

/// Writes inside one change. Obtained from [`CaseDoc::edit`].
#[derive(Debug)]
pub struct CaseEditor<'a> {
    doc: &'a mut AutoCommit,
    by: &'a Identity,
    at: Millis,
}

impl CaseEditor<'_> {
    fn write_new(&mut self, id: &str, new: &NewCase, by: &Identity, at: Millis) -> Result<()> {
        check_len("title", &new.title, MAX_TITLE_CHARS)?;
        check_len("category", &new.category, MAX_SHORT_CHARS)?;
        check_len("description", &new.description, MAX_TEXT_CHARS)?;
        let d = &mut *self.doc;
        let root = ObjId::Root;
        d.put(&root, "schema", SCHEMA_VERSION)?;
        d.put(&root, "id", id)?;
        d.put(&root, "kind", new.kind.as_str())?;
        d.put(&root, "created_at", at)?;
        let jur = d.put_object(&root, "jurisdiction", ObjType::Map)?;
        for (key, code) in ["county", "township", "village", "grid"].iter().zip(
            new.jurisdiction
                .codes()
                .iter()
                .map(String::as_str)
                .chain(std::iter::repeat("")),
        ) {
            d.put(&jur, *key, code)?;
        }
        d.put(&root, "category", new.category.as_str())?;
        d.put(&root, "title", new.title.as_str())?;
        let desc = d.put_object(&root, "description", ObjType::Text)?;
        d.update_text(&desc, &new.description)?;
        d.put_object(&root, "location", ObjType::Map)?;
        let rep = d.put_object(&root, "reporter", ObjType::Map)?;
        d.put(&rep, "user", by.user.as_str())?;
        d.put(&rep, "device", by.device.as_str())?;
        d.put_object(&root, "people", ObjType::List)?;
        d.put_object(&root, "attachments", ObjType::List)?;
        d.put_object(&root, "events", ObjType::List)?;
        let med = d.put_object(&root, "mediation", ObjType::Map)?;
        d.put_object(&med, "sessions", ObjType::List)?;
        d.put_object(&med, "agreement", ObjType::Text)?;
        d.put(&med, "result", "")?;
        d.put(&med, "referral", "")?;
        d.put_object(&root, "extra", ObjType::Map)?;
        self.set_location(&new.location)?;
        for p in &new.people {
            self.add_person(p)?;
        }
        self.append_event(EventDraft::reported(
            by.role.handling_level().unwrap_or(Level::County),
        ))?;
        Ok(())
    }

    pub fn set_title(&mut self, title: &str) -> Result<()> {
        check_len("title", title, MAX_TITLE_CHARS)?;
        self.doc.put(ObjId::Root, "title", title)?;
        Ok(())
    }

    pub fn set_category(&mut self, code: &str) -> Result<()> {
        check_len("category", code, MAX_SHORT_CHARS)?;
        self.doc.put(ObjId::Root, "category", code)?;
        Ok(())
    }

    /// Replaces the description by a minimal text diff, so concurrent edits interleave.
    pub fn set_description(&mut self, text: &str) -> Result<()> {
        check_len("description", text, MAX_TEXT_CHARS)?;
        let obj = req_obj(self.doc, &ObjId::Root, "description")?;
        self.doc.update_text(&obj, text)?;
        Ok(())
    }

    /// Moves the case to another node (township staff correcting a report).
    pub fn set_jurisdiction(&mut self, path: &JurisdictionPath) -> Result<()> {
        let jur = req_obj(self.doc, &ObjId::Root, "jurisdiction")?;
        let codes = path
            .codes()
            .iter()
            .map(String::as_str)
            .chain(std::iter::repeat(""));
        for (key, code) in ["county", "township", "village", "grid"].iter().zip(codes) {
            if get_str(self.doc, &jur, key)? != code {
                self.doc.put(&jur, *key, code)?;
            }
        }
        Ok(())
    }

    /// Writes only the location keys that changed, so a concurrent edit of another key survives.
    pub fn set_location(&mut self, loc: &Location) -> Result<()> {
        check_len("location.address", &loc.address, MAX_SHORT_CHARS)?;
        let obj = req_obj(self.doc, &ObjId::Root, "location")?;
        for (key, v) in [
            ("lat", loc.lat),
            ("lon", loc.lon),
            ("accuracy_m", loc.accuracy_m),
        ] {
            if let Some(v) = v {
                if !v.is_finite() {
                    return Err(invalid(key, "not a finite number"));
                }
                if get_f64(self.doc, &obj, key)? != Some(v) {
                    self.doc.put(&obj, key, v)?;
                }
            }
        }
        if get_str(self.doc, &obj, "address")? != loc.address {
            self.doc.put(&obj, "address", loc.address.as_str())?;
        }
        Ok(())
    }

    /// Adds a person; returns their id within the case.
    pub fn add_person(&mut self, p: &Party) -> Result<String> {
        for (f, v) in [
            ("people.name", &p.name),
            ("people.role", &p.role),
            ("people.phone", &p.phone),
        ] {
            check_len(f, v, MAX_SHORT_CHARS)?;
        }
        let list = req_obj(self.doc, &ObjId::Root, "people")?;
        let id = if p.id.is_empty() {
            new_id()
        } else {
            p.id.clone()
        };
        let at = self.doc.length(&list);
        let obj = self.doc.insert_object(&list, at, ObjType::Map)?;
        self.doc.put(&obj, "id", id.as_str())?;
        self.doc.put(&obj, "name", p.name.as_str())?;
        self.doc.put(&obj, "role", p.role.as_str())?;
        self.doc.put(&obj, "phone", p.phone.as_str())?;
        Ok(id)
    }

    pub fn add_attachment(&mut self, a: &Attachment) -> Result<()> {
        let ok = a.sha256.len() == 64 && a.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(invalid("attachments.sha256", "not a SHA-256 hex digest"));
        }
        check_len("attachments.caption", &a.caption, MAX_SHORT_CHARS)?;
        check_len("attachments.mime", &a.mime, 100)?;
        let list = req_obj(self.doc, &ObjId::Root, "attachments")?;
        let at = self.doc.length(&list);
        let obj = self.doc.insert_object(&list, at, ObjType::Map)?;
        self.doc
            .put(&obj, "sha256", a.sha256.to_ascii_lowercase())?;
        self.doc.put(&obj, "mime", a.mime.as_str())?;
        self.doc.put(&obj, "bytes", a.bytes)?;
        self.doc.put(&obj, "caption", a.caption.as_str())?;
        self.doc.put(&obj, "captured_at", a.captured_at)?;
        for (key, v) in [("lat", a.lat), ("lon", a.lon)] {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                self.doc.put(&obj, key, v)?;
            }
        }
        Ok(())
    }

    /// Logs a mediation session; returns its id.
    pub fn add_mediation_session(&mut self, s: &MediationSession) -> Result<String> {
        check_len("mediation.notes", &s.notes, MAX_TEXT_CHARS)?;
        check_len("mediation.outcome", &s.outcome, MAX_SHORT_CHARS)?;
        let med = req_obj(self.doc, &ObjId::Root, "mediation")?;
        let list = req_obj(self.doc, &med, "sessions")?;
        let id = if s.id.is_empty() {
            new_id()
        } else {
            s.id.clone()
        };
        let at = self.doc.length(&list);
        let obj = self.doc.insert_object(&list, at, ObjType::Map)?;
        self.doc.put(&obj, "id", id.as_str())?;
        self.doc.put(&obj, "at", s.at)?;
        let mediators = self.doc.put_object(&obj, "mediators", ObjType::List)?;
        for (i, m) in s.mediators.iter().enumerate() {
            self.doc.insert(&mediators, i, m.as_str())?;
        }
        let notes = self.doc.put_object(&obj, "notes", ObjType::Text)?;
        self.doc.update_text(&notes, &s.notes)?;
        self.doc.put(&obj, "outcome", s.outcome.as_str())?;
        Ok(id)
    }

    /// Co-edits the agreement text.
    pub fn set_agreement(&mut self, text: &str) -> Result<()> {
        check_len("mediation.agreement", text, MAX_TEXT_CHARS)?;
        let med = req_obj(self.doc, &ObjId::Root, "mediation")?;
        let obj = req_obj(self.doc, &med, "agreement")?;
        self.doc.update_text(&obj, text)?;
        Ok(())
    }

    /// `success` or `failure`, and where a failure was referred.
    pub fn set_mediation_result(&mut self, result: &str, referral: &str) -> Result<()> {
        Mediation::check_result(result, referral)?;
        let med = req_obj(self.doc, &ObjId::Root, "mediation")?;
        self.doc.put(&med, "result", result)?;
        self.doc.put(&med, "referral", referral)?;
        Ok(())
    }

    /// Settles a field in conflict (a dotted path from [`CaseDoc::conflicts`], such as `title`,
    /// `location.address` or `people.0.phone`) by writing `value` over every value it holds. The
    /// value takes the type the field has (text, number or flag).
    pub fn resolve_conflict(&mut self, path: &str, value: &str) -> Result<()> {
        let bad = |why: &str| invalid("field", why);
        let parts: Vec<&str> = path.split('.').collect();
        let (last, parents) = parts.split_last().ok_or_else(|| bad("empty field path"))?;
        if parents.is_empty() && IMMUTABLE_ROOT_KEYS.contains(last) {
            return Err(bad("this field cannot change"));
        }
        check_len("field", value, MAX_TEXT_CHARS)?;
        let mut obj = ObjId::Root;
        for part in parents {
            let next = match self.doc.object_type(&obj) {
                Ok(ObjType::List) => {
                    let i: usize = part.parse().map_err(|_| bad("not a list position"))?;
                    self.doc.get(&obj, i)?
                }
                Ok(_) => self.doc.get(&obj, *part)?,
                Err(_) => None,
            };
            obj = match next {
                Some((Value::Object(_), id)) => id,
                _ => return Err(bad("no such field")),
            };
        }
        let list_index = match self.doc.object_type(&obj) {
            Ok(ObjType::List) => Some(
                last.parse::<usize>()
                    .map_err(|_| bad("not a list position"))?,
            ),
            _ => None,
        };
        let current = match list_index {
            Some(i) => self.doc.get(&obj, i)?,
            None => self.doc.get(&obj, *last)?,
        };
        let scalar: ScalarValue = match current {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::F64(_) => {
                    ScalarValue::F64(value.trim().parse().map_err(|_| bad("expected a number"))?)
                }
                ScalarValue::Int(_) => ScalarValue::Int(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| bad("expected a whole number"))?,
                ),
                ScalarValue::Uint(_) => ScalarValue::Uint(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| bad("expected a whole number"))?,
                ),
                ScalarValue::Boolean(_) => ScalarValue::Boolean(value == "true"),
                _ => ScalarValue::Str(value.into()),
            },
            _ => return Err(bad("only a single value can be settled here")),
        };
        match list_index {
            Some(i) => self.doc.put(&obj, i, scalar)?,
            None => self.doc.put(&obj, *last, scalar)?,
        }
        Ok(())
    }

    pub fn set_extra(&mut self, key: &str, value: &str) -> Result<()> {
        check_len("extra", key, 64)?;
        check_len("extra", value, MAX_SHORT_CHARS)?;
        let obj = req_obj(self.doc, &ObjId::Root, "extra")?;
        self.doc.put(&obj, key, value)?;
        Ok(())
    }

    /// Appends a workflow event after checking it against the rules and the status this
    /// replica sees now, with deadlines from the shipped catalogue and calendar. Returns the new
    /// event's id.
    pub fn append_event(&mut self, draft: EventDraft) -> Result<String> {
        self.append_event_with(draft, &workflow::Deadlines::builtin())
    }

    /// [`CaseEditor::append_event`] with a deployment's catalogue and calendar.
    pub fn append_event_with(
        &mut self,
        draft: EventDraft,
        deadlines: &workflow::Deadlines<'_>,
    ) -> Result<String> {
        let list = req_obj(self.doc, &ObjId::Root, "events")?;
        let events = read_list(self.doc, &ObjId::Root, "events", |d, o| {
            read_event(&(d, o))
        })?;
        let doc: &AutoCommit = self.doc;
        let jur = jurisdiction_of(&(doc, &req_obj(doc, &ObjId::Root, "jurisdiction")?))?;
        let kind_s = get_str(self.doc, &ObjId::Root, "kind")?;
        let kind = CaseKind::parse(&kind_s).ok_or_else(|| Error::InvalidCase("kind".into()))?;
        let category = get_str(self.doc, &ObjId::Root, "category")?;
        let facts = workflow::CaseFacts {
            kind,
            place: &jur,
            category: &category,
        };
        let event = workflow::prepare(&events, draft, self.by, self.at, facts, deadlines)?;
        let at = self.doc.length(&list);
        let obj = self.doc.insert_object(&list, at, ObjType::Map)?;
        write_event(self.doc, &obj, &event)?;
        Ok(event.id)
    }
}

/// Runs an Automerge call that may panic on hostile bytes.
fn guard<T>(f: impl FnOnce() -> std::result::Result<T, automerge::AutomergeError>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::Automerge(e.to_string())),
        Err(_) => Err(Error::Automerge("automerge panicked on this input".into())),
    }
}

/// Parses change bytes from the network; never panics. Only a plain change chunk is taken:
/// Automerge inflates a compressed one (chunk type 2) without bound before anything can check
/// its size (0.5 MB of deflated zeros took 1.5 GB and 4 s), and parses a document or bundle
/// chunk whole before refusing it. The apps and the server send raw, uncompressed changes.
pub fn parse_change(bytes: &[u8]) -> Result<Change> {
    // Magic (4 bytes), checksum (4), then the chunk type; shorter input fails in Automerge.
    const CHANGE_CHUNK: u8 = 1;
    if let Some(&kind) = bytes.get(8)
        && kind != CHANGE_CHUNK
    {
        return Err(Error::Automerge(format!(
            "chunk type {kind} is not an uncompressed change"
        )));
    }
    match catch_unwind(AssertUnwindSafe(|| Change::try_from(bytes))) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(Error::Automerge(e.to_string())),
        Err(_) => Err(Error::Automerge("automerge panicked on this change".into())),
    }
}

fn invalid(field: &str, reason: &str) -> Error {
    Error::InvalidInput {
        field: field.into(),
        reason: reason.into(),
    }
}

fn check_len(field: &str, s: &str, max: usize) -> Result<()> {
    if s.chars().count() > max {
        return Err(invalid(field, &format!("longer than {max} characters")));
    }
    Ok(())
}

/// The jurisdiction map's codes, as far as they go.
fn jurisdiction_of<F: Fields>(jur: &F) -> Result<JurisdictionPath> {
    let codes: Vec<String> = ["county", "township", "village", "grid"]
        .iter()
        .map(|k| jur.str(k))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .take_while(|c| !c.is_empty())
        .collect();
    JurisdictionPath::new(codes).map_err(|e| Error::InvalidCase(format!("jurisdiction: {e}")))
}

fn display_value<D: ReadDoc>(d: &D, value: &Value<'_>, id: &ObjId) -> String {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            ScalarValue::Int(i) => i.to_string(),
            ScalarValue::Uint(u) => u.to_string(),
            ScalarValue::F64(f) => f.to_string(),
            ScalarValue::Boolean(b) => b.to_string(),
            ScalarValue::Null => String::new(),
            other => format!("{other}"),
        },
        Value::Object(ObjType::Text) => d.text(id).unwrap_or_default(),
        Value::Object(t) => format!("<{t:?}>"),
    }
}

// ---- typed getters: schema errors, never panics --------------------------------------------

pub(crate) fn req_obj<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<ObjId> {
    match d.get(obj, key)? {
        Some((Value::Object(_), id)) => Ok(id),
        _ => Err(Error::InvalidCase(format!(
            "{key} is missing or not an object"
        ))),
    }
}

/// A map of the case read field by field: the live document (edits, which must see their own
/// writes: the pair of document and object) or a copy hydrated in one pass (whole-case reads).
/// Both read a value by the same rules (`as_str` and friends).
pub(crate) trait Fields {
    /// The string at `key` (scalar or Text); empty when absent.
    fn str(&self, key: &str) -> Result<String>;
    /// The Text at `key`; empty when absent.
    fn text(&self, key: &str) -> Result<String>;
    fn i64(&self, key: &str) -> Result<Option<i64>>;
    fn f64(&self, key: &str) -> Result<Option<f64>>;
    /// A list of strings; empty when absent.
    fn str_list(&self, key: &str) -> Result<Vec<String>>;
}

fn as_str(key: &str, s: &ScalarValue) -> Result<String> {
    match s {
        ScalarValue::Str(s) => Ok(s.to_string()),
        ScalarValue::Null => Ok(String::new()),
        _ => Err(Error::InvalidCase(format!("{key} is not a string"))),
    }
}

fn as_i64(key: &str, s: &ScalarValue) -> Result<Option<i64>> {
    match s {
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Ok(Some(*i)),
        ScalarValue::Uint(u) => Ok(i64::try_from(*u).ok()),
        ScalarValue::Null => Ok(None),
        _ => Err(Error::InvalidCase(format!("{key} is not an integer"))),
    }
}

fn as_f64(key: &str, s: &ScalarValue) -> Result<Option<f64>> {
    match s {
        ScalarValue::F64(f) => Ok(Some(*f)),
        ScalarValue::Int(i) => Ok(Some(*i as f64)),
        ScalarValue::Null => Ok(None),
        _ => Err(Error::InvalidCase(format!("{key} is not a number"))),
    }
}

fn list_item_str(key: &str, i: usize, s: Option<&ScalarValue>) -> Result<String> {
    match s {
        Some(s) => Ok(s.as_str().unwrap_or_default().to_owned()),
        None => Err(Error::InvalidCase(format!("{key}[{i}] is not a string"))),
    }
}

impl<D: ReadDoc> Fields for (&D, &ObjId) {
    fn str(&self, key: &str) -> Result<String> {
        get_str(self.0, self.1, key)
    }
    fn text(&self, key: &str) -> Result<String> {
        get_text(self.0, self.1, key)
    }
    fn i64(&self, key: &str) -> Result<Option<i64>> {
        get_i64(self.0, self.1, key)
    }
    fn f64(&self, key: &str) -> Result<Option<f64>> {
        get_f64(self.0, self.1, key)
    }
    fn str_list(&self, key: &str) -> Result<Vec<String>> {
        get_str_list(self.0, self.1, key)
    }
}

impl Fields for hydrate::Map {
    fn str(&self, key: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(hydrate::Value::Scalar(s)) => as_str(key, s),
            Some(hydrate::Value::Text(t)) => Ok(t.to_string()),
            Some(_) => Err(Error::InvalidCase(format!("{key} is not a string"))),
        }
    }
    fn text(&self, key: &str) -> Result<String> {
        match self.get(key) {
            Some(hydrate::Value::Text(t)) => Ok(t.to_string()),
            None => Ok(String::new()),
            Some(_) => Err(Error::InvalidCase(format!("{key} is not text"))),
        }
    }
    fn i64(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(hydrate::Value::Scalar(s)) => as_i64(key, s),
            Some(_) => Err(Error::InvalidCase(format!("{key} is not an integer"))),
        }
    }
    fn f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(hydrate::Value::Scalar(s)) => as_f64(key, s),
            Some(_) => Err(Error::InvalidCase(format!("{key} is not a number"))),
        }
    }
    fn str_list(&self, key: &str) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(hydrate::Value::List(list)) => list
                .iter()
                .enumerate()
                .map(|(i, item)| match &item.value {
                    hydrate::Value::Scalar(s) => list_item_str(key, i, Some(s)),
                    _ => list_item_str(key, i, None),
                })
                .collect(),
            Some(_) => Err(Error::InvalidCase(format!("{key} is not a list"))),
        }
    }
}

/// A required non-empty string.
fn req_field_str<F: Fields>(f: &F, key: &str) -> Result<String> {
    let s = f.str(key)?;
    if s.is_empty() {
        return Err(Error::InvalidCase(format!("{key} is missing")));
    }
    Ok(s)
}

/// The map at `key` of a hydrated map ([`req_obj`]'s rule: present and an object).
fn hydrated_map<'a>(m: &'a hydrate::Map, key: &str) -> Result<&'a hydrate::Map> {
    match m.get(key) {
        Some(hydrate::Value::Map(child)) => Ok(child),
        _ => Err(Error::InvalidCase(format!(
            "{key} is missing or not an object"
        ))),
    }
}

/// The list of maps at `key` of a hydrated map, each read by `item` ([`read_list`]'s rule).
fn hydrated_list<T>(
    m: &hydrate::Map,
    key: &str,
    item: impl Fn(&hydrate::Map) -> Result<T>,
) -> Result<Vec<T>> {
    match m.get(key) {
        Some(hydrate::Value::List(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| match &v.value {
                hydrate::Value::Map(entry) => item(entry),
                _ => Err(Error::InvalidCase(format!("{key}[{i}] is not a map"))),
            })
            .collect(),
        _ => Err(Error::InvalidCase(format!(
            "{key} is missing or not an object"
        ))),
    }
}

pub(crate) fn get_str<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<String> {
    match d.get(obj, key)? {
        None => Ok(String::new()),
        Some((Value::Scalar(s), _)) => as_str(key, s.as_ref()),
        Some((Value::Object(ObjType::Text), id)) => Ok(d.text(&id)?),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not a string"))),
    }
}

fn get_text<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<String> {
    match d.get(obj, key)? {
        Some((Value::Object(ObjType::Text), id)) => Ok(d.text(&id)?),
        None => Ok(String::new()),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not text"))),
    }
}

pub(crate) fn get_i64<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<Option<i64>> {
    match d.get(obj, key)? {
        None => Ok(None),
        Some((Value::Scalar(s), _)) => as_i64(key, s.as_ref()),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not an integer"))),
    }
}

fn get_f64<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<Option<f64>> {
    match d.get(obj, key)? {
        None => Ok(None),
        Some((Value::Scalar(s), _)) => as_f64(key, s.as_ref()),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not a number"))),
    }
}

pub(crate) fn get_str_list<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<Vec<String>> {
    match d.get(obj, key)? {
        None => Ok(Vec::new()),
        Some((Value::Object(ObjType::List), list)) => (0..d.length(&list))
            .map(|i| match d.get(&list, i)? {
                Some((Value::Scalar(s), _)) => list_item_str(key, i, Some(s.as_ref())),
                _ => list_item_str(key, i, None),
            })
            .collect(),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not a list"))),
    }
}

pub(crate) fn read_list<D: ReadDoc, T>(
    d: &D,
    obj: &ObjId,
    key: &str,
    item: impl Fn(&D, &ObjId) -> Result<T>,
) -> Result<Vec<T>> {
    let list = req_obj(d, obj, key)?;
    (0..d.length(&list))
        .map(|i| match d.get(&list, i)? {
            Some((Value::Object(ObjType::Map), id)) => item(d, &id),
            _ => Err(Error::InvalidCase(format!("{key}[{i}] is not a map"))),
        })
        .collect()
}

fn read_party<F: Fields>(f: &F) -> Result<Party> {
    Ok(Party {
        id: f.str("id")?,
        name: f.str("name")?,
        role: f.str("role")?,
        phone: f.str("phone")?,
    })
}

fn read_attachment<F: Fields>(f: &F) -> Result<Attachment> {
    Ok(Attachment {
        sha256: f.str("sha256")?,
        mime: f.str("mime")?,
        bytes: f
            .i64("bytes")?
            .and_then(|b| u64::try_from(b).ok())
            .unwrap_or(0),
        caption: f.str("caption")?,
        captured_at: f.i64("captured_at")?.unwrap_or(0),
        lat: f.f64("lat")?,
        lon: f.f64("lon")?,
    })
}

fn read_session<F: Fields>(f: &F) -> Result<MediationSession> {
    Ok(MediationSession {
        id: f.str("id")?,
        at: f.i64("at")?.unwrap_or(0),
        mediators: f.str_list("mediators")?,
        notes: f.text("notes")?,
        outcome: f.str("outcome")?,
    })
}

/// Writes one event of the log as a map of the document (the `events` list's entries).
fn write_event(doc: &mut impl Transactable, obj: &ObjId, e: &CaseEvent) -> Result<()> {
    doc.put(obj, "id", e.id.as_str())?;
    doc.put(obj, "type", e.kind.as_str())?;
    doc.put(obj, "by", e.by.as_str())?;
    doc.put(obj, "role", e.role.as_str())?;
    doc.put(obj, "device", e.device.as_str())?;
    doc.put(obj, "at", e.at)?;
    doc.put(obj, "level", e.level.as_str())?;
    let deps = doc.put_object(obj, "deps", ObjType::List)?;
    for (i, d) in e.deps.iter().enumerate() {
        doc.insert(&deps, i, d.as_str())?;
    }
    doc.put(obj, "note", e.note.as_str())?;
    if let Some(d) = &e.department {
        doc.put(obj, "department", d.as_str())?;
    }
    if let Some(r) = e.rating {
        doc.put(obj, "rating", r.as_str())?;
    }
    if let Some(c) = &e.chosen {
        doc.put(obj, "chosen", c.as_str())?;
    }
    if let Some(due) = e.due {
        doc.put(obj, "due", due)?;
    }
    Ok(())
}

/// Reads one entry of the event log.
fn read_event<F: Fields>(f: &F) -> Result<CaseEvent> {
    let bad = |what: &str| Error::InvalidCase(format!("event: {what}"));
    let kind = f.str("type")?;
    let role = f.str("role")?;
    let level = f.str("level")?;
    let opt = |key: &str| -> Result<Option<String>> {
        let s = f.str(key)?;
        Ok((!s.is_empty()).then_some(s))
    };
    let rating = match opt("rating")? {
        None => None,
        Some(r) => Some(Rating::parse(&r).ok_or_else(|| bad("unknown rating"))?),
    };
    Ok(CaseEvent {
        id: f.str("id")?,
        kind: EventType::parse(&kind).ok_or_else(|| bad("unknown type"))?,
        by: f.str("by")?,
        role: Role::parse(&role).ok_or_else(|| bad("unknown role"))?,
        device: f.str("device")?,
        at: f.i64("at")?.unwrap_or(0),
        level: Level::parse(&level).ok_or_else(|| bad("unknown level"))?,
        deps: f.str_list("deps")?,
        note: f.str("note")?,
        department: opt("department")?,
        rating,
        chosen: opt("chosen")?,
        due: f.i64("due")?,
    })
}
