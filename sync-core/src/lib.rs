//! # gridsync-core
//!
//! The sans-I/O heart of gridsync, shared by the phone apps (through `gridsync-ffi`) and the
//! server. A grid worker's case is one Automerge document ([`case`]); its status is derived from an
//! append-only event log under one set of rules ([`workflow`]); who may see and do what follows
//! from roles and the jurisdiction tree ([`access`], [`jurisdiction`]); deadlines come from the
//! category catalogue ([`taxonomy`]). Phones and the server exchange changes in one round trip
//! ([`protocol`]); the server judges every pushed change with [`admission`]. The device-side store,
//! `Replica`, and the sync driver every phone uses, `session` (steps out, answers in; the stop
//! rule and round cap), are behind the `replica` feature so a production server builds neither.
//! The ground floor, `vocab`, holds ids, times and the lists of kinds and statuses.

pub mod access;
pub mod admission;
pub mod assessment;
pub mod attachment;
pub mod calendar;
pub mod case;
mod error;
pub mod evidence;
#[cfg(feature = "testing")]
pub mod fuzzing;
pub mod jurisdiction;
pub mod notice;
pub mod peer;
#[cfg(feature = "replica")]
pub mod peer_session;
pub mod protocol;
#[cfg(feature = "replica")]
pub mod replica;
pub mod retention;
pub mod rules;
#[cfg(feature = "replica")]
pub mod session;
pub mod sms;
pub mod taxonomy;
#[cfg(feature = "testing")]
pub mod testing;
mod tomlfile;
pub mod vocab;
pub mod workflow;

pub use access::{Identity, Role};
pub use case::{Case, CaseDoc, FieldConflict, NewCase};
pub use error::{Error, Result};
pub use jurisdiction::{JurisdictionPath, Level};
#[cfg(feature = "replica")]
pub use replica::Replica;
pub use vocab::{CaseKind, Source, Status};
pub use workflow::{CaseEvent, EventDraft, EventType, Rating, WorkflowState};
