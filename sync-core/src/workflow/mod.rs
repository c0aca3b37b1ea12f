//! The case workflow as an append-only event log.
//!
//! Status is never a register two people can overwrite: it is [`fold`]ed, deterministically, from
//! the `events` list of the case document. [`RULES`] says who may append which event from which
//! status; phone and server both call [`check`]. Each event records the event-log heads its writer
//! had seen (`deps`), so the fold can tell a step taken in ignorance of a concurrent one. When two
//! such steps are incompatible (resolved vs escalated) both stay in the log, the first in log order
//! counts, and the other is reported as an open [`WorkflowConflict`] until a `settled` event
//! chooses between them.
//!
//! Files by concern: `event` the log's entries and what a person asks for, `rules` who may take
//! which step (and [`check`]), `state` the [`fold`] into a [`WorkflowState`], `deadlines` the
//! clocks and supervision, `prepare` a draft turned into a checked event.

mod deadlines;
mod event;
mod prepare;
mod rules;
mod state;

pub use deadlines::{Deadlines, is_overdue, part_supervision_due, parts_due, supervision_due};
pub use event::{CaseEvent, EventDraft, EventType, RETURN_VISIT_WAYS, Rating, Verdict};
pub(crate) use prepare::prepare_as;
pub use prepare::{CaseFacts, prepare};
pub use rules::{MAX_NOTE_CHARS, RULES, Reach, Rule, check, rule};
pub use state::{Part, WorkflowConflict, WorkflowState, fold};

pub use crate::error::Refusal;
pub use crate::vocab::Status;
