//! Assessment (考核) and accountability (问责), derived from the event logs alone.
//!
//! `duty`: who held each case and how they did ([`duties`]); `report`: the figures of one kind
//! of unit over a period, scores, ranks and the red and black lists ([`Report`]); `settings`:
//! what the county sets ([`AssessmentRules`], kept with its rules); `accountability`: the
//! situations a switched-on trigger finds ([`findings`]). Pure: the server stores duties and
//! findings with each case's projection and asks these for the numbers
//! ([ADR 0026](../../../docs/adr/0026-assessment-and-accountability.md)).

mod accountability;
mod duty;
mod report;
mod settings;

pub use accountability::{Decision, Finding, Trigger, findings, holder};
pub use duty::{Duty, Unit, UnitKind, duties};
pub use report::{Figure, Period, Report, Row, Tally, TownshipRating};
pub use settings::{AssessmentRules, Triggers, Weights};
