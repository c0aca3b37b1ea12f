//! [`CaseEditor`]: the writes of one change, each checked before it is made.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use super::check::{check_time, check_title, off_globe};
use super::events::{read_event, write_event};
use super::fields::{get_f64, get_str, jurisdiction_of, read_list, req_obj};
use super::sealed::{CaseKey, PERSON_NAME, PERSON_PHONE, personal_field};
use super::{
    Attachment, JURISDICTION_KEYS, Location, MAX_SHORT_CHARS, MAX_TEXT_CHARS, MAX_TITLE_CHARS,
    Mediation, MediationSession, NewCase, Party, SCHEMA_VERSION, invalid,
};
use crate::access::Identity;
use crate::jurisdiction::{JurisdictionPath, Level};
use crate::vocab::{CaseKind, Millis, Source, new_id};
use crate::workflow::{self, EventDraft};
use crate::{Error, Result};

/// Keys of the document root that never change after capture (admission refuses it too).
const IMMUTABLE_ROOT_KEYS: [&str; 6] = ["schema", "id", "kind", "reporter", "created_at", "events"];

/// Writes inside one change. Obtained from [`CaseDoc::edit`](super::CaseDoc::edit).
#[derive(Debug)]
pub struct CaseEditor<'a> {
    pub(super) doc: &'a mut AutoCommit,
    pub(super) by: &'a Identity,
    pub(super) at: Millis,
    /// The case key personal values are sealed under; `None` writes them plain.
    pub(super) key: Option<&'a CaseKey>,
}

impl CaseEditor<'_> {
    pub(super) fn write_new(
        &mut self,
        id: &str,
        new: &NewCase,
        by: &Identity,
        at: Millis,
        deadlines: &workflow::Deadlines<'_>,
        event_id: Option<String>,
    ) -> Result<()> {
        check_title(&new.title)?;
        check_len("title", &new.title, MAX_TITLE_CHARS)?;
        check_len("category", &new.category, MAX_SHORT_CHARS)?;
        check_time("created_at", at)?;
        check_len("description", &new.description, MAX_TEXT_CHARS)?;
        let d = &mut *self.doc;
        let root = ObjId::Root;
        d.put(&root, "schema", SCHEMA_VERSION)?;
        d.put(&root, "id", id)?;
        d.put(&root, "kind", new.kind.as_str())?;
        d.put(&root, "created_at", at)?;
        let jur = d.put_object(&root, "jurisdiction", ObjType::Map)?;
        for (key, code) in JURISDICTION_KEYS.iter().zip(
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
        d.put(&root, "source", by.role.capture_source().as_str())?;
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
        self.append_event_as(
            EventDraft::reported(by.role.handling_level().unwrap_or(Level::County)),
            deadlines,
            event_id,
        )?;
        Ok(())
    }

    /// The channel the case came in through (a clerk's 登记, an intake channel).
    pub fn set_source(&mut self, source: Source) -> Result<()> {
        self.doc.put(&ObjId::Root, "source", source.as_str())?;
        Ok(())
    }

    pub fn set_title(&mut self, title: &str) -> Result<()> {
        check_title(title)?;
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
        let obj = text_obj(self.doc, &ObjId::Root, "description")?;
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
        for (key, code) in JURISDICTION_KEYS.iter().zip(codes) {
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
                if let Some(why) = off_globe(key, v) {
                    return Err(invalid(key, why));
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
        self.doc
            .put(&obj, "name", self.sealed(PERSON_NAME, &p.name)?.as_str())?;
        self.doc.put(&obj, "role", p.role.as_str())?;
        self.doc
            .put(&obj, "phone", self.sealed(PERSON_PHONE, &p.phone)?.as_str())?;
        Ok(id)
    }

    pub fn add_attachment(&mut self, a: &Attachment) -> Result<()> {
        let ok = a.sha256.len() == 64 && a.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(invalid("attachments.sha256", "not a SHA-256 hex digest"));
        }
        check_len("attachments.caption", &a.caption, MAX_SHORT_CHARS)?;
        check_len("attachments.mime", &a.mime, 100)?;
        check_time("attachments.captured_at", a.captured_at)?;
        let list = req_obj(self.doc, &ObjId::Root, "attachments")?;
        let at = self.doc.length(&list);
        let obj = self.doc.insert_object(&list, at, ObjType::Map)?;
        self.doc
            .put(&obj, "sha256", a.sha256.to_ascii_lowercase())?;
        self.doc.put(&obj, "mime", a.mime.as_str())?;
        self.doc.put(&obj, "bytes", a.bytes)?;
        self.doc.put(&obj, "caption", a.caption.as_str())?;
        self.doc.put(&obj, "captured_at", a.captured_at)?;
        // A photo's position is optional: one the camera got wrong is left out, not refused.
        for (key, v) in [("lat", a.lat), ("lon", a.lon)] {
            if let Some(v) = v.filter(|v| v.is_finite() && off_globe(key, *v).is_none()) {
                self.doc.put(&obj, key, v)?;
            }
        }
        Ok(())
    }

    /// Logs a mediation session; returns its id.
    pub fn add_mediation_session(&mut self, s: &MediationSession) -> Result<String> {
        check_len("mediation.notes", &s.notes, MAX_TEXT_CHARS)?;
        check_len("mediation.outcome", &s.outcome, MAX_SHORT_CHARS)?;
        check_time("mediation.sessions.at", s.at)?;
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
        let obj = text_obj(self.doc, &med, "agreement")?;
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

    /// Settles a field in conflict (a dotted path from [`CaseDoc::conflicts`](super::CaseDoc::conflicts), such as `title`,
    /// `location.address` or `people.0.phone`) by writing `value` over every value it holds. The
    /// value takes the type the field has (text, number or flag).
    pub fn resolve_conflict(&mut self, path: &str, value: &str) -> Result<()> {
        let bad = |why: &str| invalid("field", why);
        let parts: Vec<&str> = path.split('.').collect();
        let (last, parents) = parts.split_last().ok_or_else(|| bad("empty field path"))?;
        if parents.is_empty() && IMMUTABLE_ROOT_KEYS.contains(last) {
            return Err(bad("this field cannot change"));
        }
        if path == "title" {
            check_title(value)?;
        }
        check_len("field", value, MAX_TEXT_CHARS)?;
        let sealed;
        let value = match personal_field(path) {
            Some(field) => {
                sealed = self.sealed(field, value)?;
                sealed.as_str()
            }
            None => value,
        };
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
        // A string written as Text (as JavaScript writes every string) is settled as Text.
        if let Some((Value::Object(ObjType::Text), _)) = current {
            let text = match list_index {
                Some(i) => self.doc.put_object(&obj, i, ObjType::Text)?,
                None => self.doc.put_object(&obj, *last, ObjType::Text)?,
            };
            self.doc.update_text(&text, value)?;
            return Ok(());
        }
        let scalar: ScalarValue = match current {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::F64(_) => {
                    // "NaN" and "inf" parse, but are no numbers of the schema.
                    let f: f64 = value.trim().parse().map_err(|_| bad("expected a number"))?;
                    if !f.is_finite() {
                        return Err(bad("expected a finite number"));
                    }
                    ScalarValue::F64(f)
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

    /// Appends a workflow event after checking it against the workflow and the status this
    /// replica sees now, with deadlines from the catalogue and calendar shipped in the build
    /// (rules version 0). Returns the new event's id.
    pub fn append_event(&mut self, draft: EventDraft) -> Result<String> {
        self.append_event_with(draft, &workflow::Deadlines::builtin())
    }

    /// [`CaseEditor::append_event`] with the deadlines of the county's rules in force.
    pub fn append_event_with(
        &mut self,
        draft: EventDraft,
        deadlines: &workflow::Deadlines<'_>,
    ) -> Result<String> {
        self.append_event_as(draft, deadlines, None)
    }

    /// [`CaseEditor::append_event_with`], the event's id given or new.
    fn append_event_as(
        &mut self,
        draft: EventDraft,
        deadlines: &workflow::Deadlines<'_>,
        id: Option<String>,
    ) -> Result<String> {
        check_time("events.at", self.at)?;
        let list = req_obj(self.doc, &ObjId::Root, "events")?;
        let events = read_list(self.doc, &ObjId::Root, "events", |d, o| read_event(&(d, o)))?;
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
        let id = id.unwrap_or_else(new_id);
        let event = workflow::prepare_as(id, &events, draft, self.by, self.at, facts, deadlines)?;
        let at = self.doc.length(&list);
        let obj = self.doc.insert_object(&list, at, ObjType::Map)?;
        write_event(self.doc, &obj, &event)?;
        Ok(event.id)
    }
}

/// The Text at `key` to edit by diff. A scalar string there (the schema reads either) becomes a
/// Text of the same content first; an absent key becomes an empty Text.
fn text_obj(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId> {
    match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Text), id)) => Ok(id),
        Some((Value::Object(_), _)) => Err(Error::InvalidCase(format!("{key} is not text"))),
        _ => {
            let old = get_str(doc, obj, key)?;
            let id = doc.put_object(obj, key, ObjType::Text)?;
            doc.update_text(&id, &old)?;
            Ok(id)
        }
    }
}

impl CaseEditor<'_> {
    /// A personal value as written: sealed under the editor's key for this case (ADR 0029).
    fn sealed(&self, field: &str, plain: &str) -> Result<String> {
        let Some(key) = self.key else {
            return Ok(plain.to_owned());
        };
        if get_str(self.doc, &ObjId::Root, "id")? != key.case() {
            return Err(invalid("key", "a key of another case"));
        }
        Ok(key.seal(field, plain))
    }
}

fn check_len(field: &str, s: &str, max: usize) -> Result<()> {
    if s.chars().count() > max {
        return Err(invalid(field, &format!("longer than {max} characters")));
    }
    Ok(())
}
