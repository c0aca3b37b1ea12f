//! The workflow's events as maps of the document's `events` list.

use std::collections::HashMap;

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ObjId, ObjType, ReadDoc, Value};

use super::CaseDoc;
use super::fields::{Fields, get_str};
use crate::access::Role;
use crate::jurisdiction::Level;
use crate::workflow::{CaseEvent, EventType, Rating, Verdict};
use crate::{Error, Result};

/// `due_basis` of a deadline counted on plain Monday to Friday because the calendar lacked a
/// year it crossed.
const DUE_ON_WEEKDAYS: &str = "weekdays";

/// Writes one event of the log as a map of the document (the `events` list's entries).
pub(super) fn write_event(doc: &mut impl Transactable, obj: &ObjId, e: &CaseEvent) -> Result<()> {
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
    if let Some(v) = e.rules {
        doc.put(obj, "rules", i64::try_from(v).unwrap_or(i64::MAX))?;
    }
    if e.due_guessed {
        doc.put(obj, "due_basis", DUE_ON_WEEKDAYS)?;
    }
    if let Some(v) = &e.via {
        doc.put(obj, "via", v.as_str())?;
    }
    if let Some(r) = &e.reply {
        doc.put(obj, "reply", r.as_str())?;
    }
    if let Some(v) = e.verdict {
        doc.put(obj, "verdict", v.as_str())?;
    }
    Ok(())
}

/// Reads one entry of the event log.
pub(super) fn read_event<F: Fields>(f: &F) -> Result<CaseEvent> {
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
    let verdict = match opt("verdict")? {
        None => None,
        Some(v) => Some(Verdict::parse(&v).ok_or_else(|| bad("unknown verdict"))?),
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
        rules: f.i64("rules")?.and_then(|v| u64::try_from(v).ok()),
        due_guessed: f.str("due_basis")? == DUE_ON_WEEKDAYS,
        via: opt("via")?,
        reply: opt("reply")?,
        verdict,
    })
}

impl CaseDoc {
    /// The change that wrote each event of the log (event id → change hash), from the document's
    /// own ops: a change's header time need not equal its events' `at` (JavaScript writes
    /// seconds), so a timeline ties steps to changes by this.
    pub fn event_changes(&self) -> HashMap<String, ChangeHash> {
        let d = &self.doc;
        let Ok(Some((Value::Object(ObjType::List), list))) = d.get(&ObjId::Root, "events") else {
            return HashMap::new();
        };
        (0..d.length(&list))
            .filter_map(|i| {
                let (_, obj) = d.get(&list, i).ok()??;
                let id = get_str(d, &obj, "id").ok()?;
                Some((id, d.hash_for_opid(&obj)?))
            })
            .collect()
    }
}
