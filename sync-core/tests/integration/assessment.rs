//! Assessment (考核) and accountability (问责) from event logs built in memory: who held each
//! case and how they did (`duties`), the situations the triggers find (`findings`), reports
//! (scores, ranks, the red and black lists) and the settings' round trip through the rules file.

use automerge::ActorId;
use gridsync_core::assessment::{
    AssessmentRules, Duty, Figure, Finding, Period, Report, Tally, TownshipRating, Trigger,
    Triggers, Unit, UnitKind, duties, findings,
};
use gridsync_core::calendar::Calendar;
use gridsync_core::case::CaseDoc;
use gridsync_core::rules::Rules;
use gridsync_core::taxonomy::TimeLimit;
use gridsync_core::vocab::new_case_id;
use gridsync_core::workflow::{EventDraft, EventType, Rating, Verdict};
use gridsync_core::{Case, CaseEvent, Identity, Level, Role};

use crate::*;

mod duties;
mod findings;
mod report;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const TOWNSHIP: &str = "130322/101";
const VILLAGE: &str = "130322/101/201";

/// Monday 2 November 2026, 09:00 local: a plain working week.
fn monday() -> i64 {
    Calendar::builtin().local_midnight("2026-11-02").unwrap() + 9 * HOUR
}

fn handler(user: &str, department: &str) -> Identity {
    let device = format!("pc-{user}");
    Identity::new(
        user,
        Role::DepartmentHandler,
        path("130322"),
        Some(department.into()),
        device,
    )
    .unwrap()
}

fn leader() -> Identity {
    Identity::new(
        "leader",
        Role::CountyAdmin,
        path("130322"),
        None,
        "pc-leader",
    )
    .unwrap()
}

/// The server writing the requester's own rating (the progress page).
fn requester() -> Identity {
    Identity::new("requester", Role::System, path("130322"), None, "server").unwrap()
}

fn wang() -> Identity {
    worker("wang", "phone-a")
}

fn li() -> Identity {
    township("li", "pc-b")
}

/// One case's log, written step by step as the people named would write it.
struct Log {
    doc: CaseDoc,
}

impl Log {
    /// A street-light request at grid 01 of village 201, reported by `by` at `at`.
    fn reported(by: &Identity, at: i64) -> Log {
        let (doc, _) = CaseDoc::create(
            ActorId::random(),
            &new_case_id(),
            &new_request("路灯不亮"),
            by,
            at,
        )
        .unwrap();
        Log { doc }
    }

    /// Appends a step (checked against the workflow rules); returns the event.
    fn step(&mut self, by: &Identity, at: i64, draft: EventDraft) -> CaseEvent {
        let mut id = String::new();
        self.doc
            .edit(by, at, |e| {
                id = e.append_event(draft)?;
                Ok(())
            })
            .unwrap();
        self.event(&id)
    }

    fn event(&self, id: &str) -> CaseEvent {
        self.case().events.into_iter().find(|e| e.id == id).unwrap()
    }

    fn first(&self) -> CaseEvent {
        self.case().events[0].clone()
    }

    fn case(&self) -> Case {
        self.doc.read().unwrap()
    }

    fn duties(&self) -> Vec<Duty> {
        duties(&self.case())
    }

    fn findings(&self, triggers: &Triggers, now: i64) -> Vec<Finding> {
        findings(&self.case(), triggers, Calendar::builtin(), now)
    }
}

fn unit(kind: UnitKind, code: &str) -> Unit {
    Unit {
        kind,
        code: code.into(),
    }
}

/// The one duty of `unit` (panics if there is not exactly one).
fn only<'d>(duties: &'d [Duty], kind: UnitKind, code: &str) -> &'d Duty {
    let found: Vec<&Duty> = duties
        .iter()
        .filter(|d| d.unit == unit(kind, code))
        .collect();
    assert_eq!(found.len(), 1, "{kind:?} {code}: {duties:#?}");
    found[0]
}

fn figures(d: &Duty, now: i64) -> Vec<Figure> {
    Figure::ALL
        .into_iter()
        .filter(|f| f.counts(d, now))
        .collect()
}
