//! Clocks: when the one an event starts runs out, and when a late case is supervised (督办).

use super::state::starts_clock;
use super::{CaseEvent, EventType, WorkflowState};
use crate::calendar::Calendar;
use crate::jurisdiction::Level;
use crate::taxonomy::{Taxonomy, TimeLimit};
use crate::vocab::{CaseKind, Millis, Status};

/// What a case's deadlines are computed with: the catalogue's limits on the working-day
/// calendar, of one version of the county's rules (`Rules::deadlines` in the `rules` module; version 0
/// is what ships in the build).
#[derive(Debug, Clone, Copy)]
pub struct Deadlines<'a> {
    pub taxonomy: &'a Taxonomy,
    pub calendar: &'a Calendar,
    pub version: u64,
}

impl Deadlines<'static> {
    pub fn builtin() -> Self {
        Deadlines {
            taxonomy: Taxonomy::builtin(),
            calendar: Calendar::builtin(),
            version: 0,
        }
    }
}

impl Deadlines<'_> {
    /// The limit of the clock an event starts, or `None` when it starts none (or the category
    /// is unknown to this catalogue).
    pub fn limit(
        &self,
        event: &CaseEvent,
        before: Status,
        case: CaseKind,
        category: &str,
    ) -> Option<TimeLimit> {
        if case.is_record() {
            return None;
        }
        // An assisting part's clocks: its department's sign-for limit, then the category's.
        match event.kind {
            EventType::PartAssigned => {
                return event
                    .department
                    .as_deref()
                    .and_then(|d| self.taxonomy.department(d))
                    .map(|d| d.sign_within);
            }
            EventType::PartSigned => return self.taxonomy.category(category).map(|c| c.limit),
            _ if !starts_clock(event.kind, before, event.rating) => return None,
            _ => {}
        }
        match event.kind {
            EventType::Reported
            | EventType::Escalated
            | EventType::Returned
            | EventType::Routed => Some(self.taxonomy.accept_within()),
            EventType::Assigned => event
                .department
                .as_deref()
                .and_then(|d| self.taxonomy.department(d))
                .map(|d| d.sign_within),
            _ => self.taxonomy.category(category).map(|c| c.limit),
        }
    }

    /// When the clock `event` starts runs out, and whether that crossed a year the calendar
    /// does not list (see [`Calendar::due_flagged`]).
    pub fn due(
        &self,
        event: &CaseEvent,
        before: Status,
        case: CaseKind,
        category: &str,
    ) -> Option<(Millis, bool)> {
        self.limit(event, before, case, category)
            .map(|l| self.calendar.due_flagged(event.at, l))
    }
}

/// The level that should supervise (督办) a late case now, if one above those that already did:
/// one level above the case once its clock ran out, two levels once it ran out a second time
/// (another span as long as the first), and so on up to the county. `None` when on time, closed,
/// or already supervised from that high.
pub fn supervision_due(st: &WorkflowState, now: Millis) -> Option<Level> {
    if !st.status.is_open() {
        return None;
    }
    let clock = Clock {
        due: st.due?,
        started: st.clock_started,
        supervised: st.supervised_level,
    };
    clock.supervision_due(st.level, now)
}

/// The assisting parts late now and the level that should supervise each (督办), by the same
/// rule as [`supervision_due`], each on its own clock: a part's lateness is its department's,
/// not the lead's. Parts are supervised above the level that dispatched the case.
pub fn part_supervision_due(st: &WorkflowState, now: Millis) -> Vec<(&str, Level)> {
    if !st.status.is_open() {
        return Vec::new();
    }
    st.open_parts()
        .filter_map(|p| {
            let clock = Clock {
                due: p.due?,
                started: p.clock_started,
                supervised: p.supervised_level,
            };
            Some((p.department.as_str(), clock.supervision_due(st.level, now)?))
        })
        .collect()
}

/// A running clock, the case's or a part's.
struct Clock {
    due: Millis,
    started: Option<Millis>,
    supervised: Option<Level>,
}

impl Clock {
    fn supervision_due(&self, level: Level, now: Millis) -> Option<Level> {
        let due = self.due;
        if now <= due {
            return None;
        }
        const HOUR: Millis = 3_600_000;
        let span = (due - self.started.unwrap_or(due)).max(HOUR);
        let periods = 1 + (now - due - 1) / span;
        let mut target = level;
        for _ in 0..periods.min(4) {
            match target.up() {
                Some(up) => target = up,
                None => break,
            }
        }
        let already = self.supervised.is_some_and(|s| s >= target);
        (target != level && !already).then_some(target)
    }
}

/// Whether the case is past its deadline now.
pub fn is_overdue(st: &WorkflowState, now: Millis) -> bool {
    st.status.is_open() && st.due.is_some_and(|d| now > d)
}

/// The earliest deadline of the open assisting parts, while the case is open (what the
/// supervision clock looks for besides the case's own).
pub fn parts_due(st: &WorkflowState) -> Option<Millis> {
    if !st.status.is_open() {
        return None;
    }
    st.open_parts().filter_map(|p| p.due).min()
}
