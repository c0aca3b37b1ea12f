//! Fields that concurrent edits left with more than one value, and who wrote each.

use automerge::iter::DocItem;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};

use super::{CaseDoc, ChangeAuthor, change_time_ms};
use crate::vocab::Millis;

/// One of the values a field holds after concurrent writes, and who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictValue {
    pub value: String,
    pub author: Option<ChangeAuthor>,
    /// Device clock of the change that wrote it, in ms (`change_time_ms`); 0 when unknown.
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

impl CaseDoc {
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
                    at: meta
                        .as_ref()
                        .map(|(_, c)| change_time_ms(c.timestamp()))
                        .unwrap_or(0),
                    change: meta.map(|(h, _)| h.to_string()).unwrap_or_default(),
                }
            })
            .collect();
        FieldConflict { field, values }
    }
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
