//! The case document: schema v1 over Automerge, typed reads and writes, and field conflicts.
//!
//! This module is the only place that knows the document's keys. Every field a person edits is
//! its own key (or a Text), so concurrent edits of different fields merge; concurrent writes of one
//! key keep every value and show up in [`CaseDoc::conflicts`] until someone writes it again.
//!
//! Files by concern: `model` the typed case, `doc` the document and its history, `editor` the
//! writes of one change, `read` the schema-checked read, `conflicts` fields holding several
//! values, `change` who wrote a change and how untrusted change bytes are taken, `fields` the
//! typed getters reads and writes share (and the schema's rule for strings), `events` the
//! workflow's events as document maps, `check` the rules on values (title, times, coordinates),
//! `time` the plausible range of a document time and how a change's header time is read,
//! `personal` which fields are personal and how they are masked, `sealed` how they are sealed per
//! case and opened with the case's keys (ADR 0029).

mod change;
mod check;
mod conflicts;
mod doc;
mod editor;
mod events;
mod fields;
mod model;
pub mod personal;
mod read;
pub mod sealed;
mod time;
pub mod words;

pub use change::{ChangeAuthor, change_texts, parse_change};
pub use conflicts::{ConflictValue, FieldConflict};
pub use doc::CaseDoc;
pub use editor::CaseEditor;
pub use model::{
    Attachment, Case, Location, Mediation, MediationSession, NewCase, Party, REQUESTER, Reporter,
};
pub use time::{
    CHANGE_TIME_SECONDS_BELOW, EARLIEST_TIME, LATEST_TIME, change_time_ms, implausible_time,
};

pub use crate::vocab::{CaseKind, Millis, Source, new_case_id, validate_case_id};

use crate::Error;

/// The schema version written into every case.
pub const SCHEMA_VERSION: i64 = 1;

/// Limits that keep documents small (history cost grows with size).
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 20_000;
pub const MAX_SHORT_CHARS: usize = 500;

/// The keys of the `jurisdiction` map, county first as a path's codes are.
const JURISDICTION_KEYS: [&str; 4] = ["county", "township", "village", "grid"];

fn invalid(field: &str, reason: &str) -> Error {
    Error::InvalidInput {
        field: field.into(),
        reason: reason.into(),
    }
}
