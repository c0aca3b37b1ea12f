//! Reading a whole case, checking the schema.

use std::collections::BTreeMap;

use automerge::{ObjId, ReadDoc, hydrate};

use super::doc::guard;
use super::events::read_event;
use super::fields::{
    Fields, get_str, hydrated_list, hydrated_map, jurisdiction_of, read_list, req_field_str,
};
use super::{
    Attachment, Case, CaseDoc, Location, Mediation, MediationSession, Party, Reporter,
    SCHEMA_VERSION,
};
use crate::vocab::{CaseKind, Source};
use crate::workflow::{self, WorkflowState};
use crate::{Error, Result};

impl CaseDoc {
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
        let events = hydrated_list(&root, "events", read_event)?;
        // A document written before sources were kept came from its reporter's phone; a value
        // outside the list reads as other.
        let source = match root.str("source")?.as_str() {
            "" => events
                .first()
                .map_or(Source::Other, |e| e.role.capture_source()),
            s => Source::parse(s).unwrap_or(Source::Other),
        };
        Ok(Case {
            id: req_field_str(&root, "id")?,
            kind,
            jurisdiction,
            category: root.str("category")?,
            title: root.str("title")?,
            description: root.str("description")?,
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
            source,
            created_at: root.i64("created_at")?.unwrap_or(0),
            people: hydrated_list(&root, "people", read_party)?,
            attachments: hydrated_list(&root, "attachments", read_attachment)?,
            events,
            mediation: Mediation {
                sessions: hydrated_list(med, "sessions", read_session)?,
                agreement: med.str("agreement")?,
                result: med.str("result")?,
                referral: med.str("referral")?,
            },
            extra,
        })
    }

    /// The people of the case alone (requester, parties, key persons), without reading the
    /// rest of the document.
    pub fn people(&self) -> Result<Vec<Party>> {
        read_list(&self.doc, &ObjId::Root, "people", |d, o| {
            read_party(&(d, o))
        })
    }

    /// The workflow status derived from the event log.
    pub fn workflow(&self) -> Result<WorkflowState> {
        let events = read_list(&self.doc, &ObjId::Root, "events", |d, o| {
            read_event(&(d, o))
        })?;
        Ok(workflow::fold(&events))
    }
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
        notes: f.str("notes")?,
        outcome: f.str("outcome")?,
    })
}
