//! Typed getters over the document: schema errors, never panics. [`Fields`] reads a map by the
//! same rules whether it is the live document (edits) or a hydrated copy (whole-case reads).
//!
//! The schema's one rule for strings: wherever it documents a string (str or Text), a scalar
//! string and a Text object are both read, by their content — at the root, in nested maps and
//! as list items. JavaScript Automerge writes every plain string as Text; Rust writes scalars.
//! Numbers must be finite: NaN and ±Infinity are not numbers of the schema.

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value, hydrate};

use super::JURISDICTION_KEYS;
use crate::jurisdiction::JurisdictionPath;
use crate::{Error, Result};

pub(super) fn req_obj<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<ObjId> {
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
pub(super) trait Fields {
    /// The string at `key`, a scalar or a Text (the schema's rule for strings and Text fields
    /// alike); empty when absent.
    fn str(&self, key: &str) -> Result<String>;
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

/// A number of the schema: finite (JavaScript writes a whole number as an int).
fn as_f64(key: &str, s: &ScalarValue) -> Result<Option<f64>> {
    let f = match s {
        ScalarValue::F64(f) => *f,
        ScalarValue::Int(i) => *i as f64,
        ScalarValue::Uint(u) => *u as f64,
        ScalarValue::Null => return Ok(None),
        _ => return Err(Error::InvalidCase(format!("{key} is not a number"))),
    };
    if !f.is_finite() {
        return Err(Error::InvalidCase(format!("{key} is not a finite number")));
    }
    Ok(Some(f))
}

/// A list item that must be a string: `item` is its content when it is a scalar string or a
/// Text, `None` when it is anything else.
fn list_item_str(key: &str, i: usize, item: Option<String>) -> Result<String> {
    item.ok_or_else(|| Error::InvalidCase(format!("{key}[{i}] is not a string")))
}

fn scalar_string(s: &ScalarValue) -> Option<String> {
    match s {
        ScalarValue::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

impl<D: ReadDoc> Fields for (&D, &ObjId) {
    fn str(&self, key: &str) -> Result<String> {
        get_str(self.0, self.1, key)
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
                    hydrate::Value::Scalar(s) => list_item_str(key, i, scalar_string(s)),
                    hydrate::Value::Text(t) => list_item_str(key, i, Some(t.to_string())),
                    _ => list_item_str(key, i, None),
                })
                .collect(),
            Some(_) => Err(Error::InvalidCase(format!("{key} is not a list"))),
        }
    }
}

/// A required non-empty string.
pub(super) fn req_field_str<F: Fields>(f: &F, key: &str) -> Result<String> {
    let s = f.str(key)?;
    if s.is_empty() {
        return Err(Error::InvalidCase(format!("{key} is missing")));
    }
    Ok(s)
}

/// The map at `key` of a hydrated map ([`req_obj`]'s rule: present and an object).
pub(super) fn hydrated_map<'a>(m: &'a hydrate::Map, key: &str) -> Result<&'a hydrate::Map> {
    match m.get(key) {
        Some(hydrate::Value::Map(child)) => Ok(child),
        _ => Err(Error::InvalidCase(format!(
            "{key} is missing or not an object"
        ))),
    }
}

/// The list of maps at `key` of a hydrated map, each read by `item` ([`read_list`]'s rule).
pub(super) fn hydrated_list<T>(
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

pub(super) fn get_str<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<String> {
    match d.get(obj, key)? {
        None => Ok(String::new()),
        Some((Value::Scalar(s), _)) => as_str(key, s.as_ref()),
        Some((Value::Object(ObjType::Text), id)) => Ok(d.text(&id)?),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not a string"))),
    }
}

pub(super) fn get_i64<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<Option<i64>> {
    match d.get(obj, key)? {
        None => Ok(None),
        Some((Value::Scalar(s), _)) => as_i64(key, s.as_ref()),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not an integer"))),
    }
}

pub(super) fn get_f64<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<Option<f64>> {
    match d.get(obj, key)? {
        None => Ok(None),
        Some((Value::Scalar(s), _)) => as_f64(key, s.as_ref()),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not a number"))),
    }
}

pub(super) fn get_str_list<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Result<Vec<String>> {
    match d.get(obj, key)? {
        None => Ok(Vec::new()),
        Some((Value::Object(ObjType::List), list)) => (0..d.length(&list))
            .map(|i| match d.get(&list, i)? {
                Some((Value::Scalar(s), _)) => list_item_str(key, i, scalar_string(&s)),
                Some((Value::Object(ObjType::Text), id)) => {
                    list_item_str(key, i, Some(d.text(&id)?))
                }
                _ => list_item_str(key, i, None),
            })
            .collect(),
        Some(_) => Err(Error::InvalidCase(format!("{key} is not a list"))),
    }
}

pub(super) fn read_list<D: ReadDoc, T>(
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

/// The jurisdiction map's codes, as far as they go.
pub(super) fn jurisdiction_of<F: Fields>(jur: &F) -> Result<JurisdictionPath> {
    let codes: Vec<String> = JURISDICTION_KEYS
        .iter()
        .map(|k| jur.str(k))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .take_while(|c| !c.is_empty())
        .collect();
    JurisdictionPath::new(codes).map_err(|e| Error::InvalidCase(format!("jurisdiction: {e}")))
}
