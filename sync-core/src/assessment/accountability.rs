//! Accountability (问责): the situations the county has switched on, found in a case's log —
//! each a [`Finding`] that names the unit and the person holding the case at the time and the
//! events that prove it, for the county to decide on.

use serde::{Deserialize, Serialize};

use super::duty::{Unit, UnitKind};
use super::settings::Triggers;
use crate::access::Role;
use crate::calendar::Calendar;
use crate::case::Case;
use crate::jurisdiction::Level;
use crate::taxonomy::TimeLimit;
use crate::vocab::{Millis, Status};
use crate::workflow::{CaseEvent, EventType, Verdict, WorkflowState, fold};

/// A situation that calls for accountability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// 连续两次验收不通过
    FailedTwiceInRow,
    /// 县级督办后逾期未办结
    OverdueAfterCounty,
    /// 多次退回 (推诿扯皮)
    ReturnedTooOften,
    /// 回访发现虚假办结
    UntrueResolution,
}

impl Trigger {
    pub const ALL: [Trigger; 4] = [
        Trigger::FailedTwiceInRow,
        Trigger::OverdueAfterCounty,
        Trigger::ReturnedTooOften,
        Trigger::UntrueResolution,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::FailedTwiceInRow => "failed_twice_in_row",
            Trigger::OverdueAfterCounty => "overdue_after_county",
            Trigger::ReturnedTooOften => "returned_too_often",
            Trigger::UntrueResolution => "untrue_resolution",
        }
    }

    pub fn parse(s: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Trigger::FailedTwiceInRow => "连续两次验收不通过",
            Trigger::OverdueAfterCounty => "县级督办后仍逾期",
            Trigger::ReturnedTooOften => "多次退回（推诿）",
            Trigger::UntrueResolution => "回访发现办结不实",
        }
    }
}

/// The county's decision on a record (问责处理).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// 通报
    Notice,
    /// 约谈
    Talk,
    /// 诫勉
    Admonition,
    /// 不予问责
    NoAction,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::Notice,
        Decision::Talk,
        Decision::Admonition,
        Decision::NoAction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Notice => "notice",
            Decision::Talk => "talk",
            Decision::Admonition => "admonition",
            Decision::NoAction => "no_action",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Decision::Notice => "通报",
            Decision::Talk => "约谈",
            Decision::Admonition => "诫勉",
            Decision::NoAction => "不予问责",
        }
    }
}

/// One situation found: who held the case, and the events that prove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub trigger: Trigger,
    pub unit: Unit,
    pub person: Option<String>,
    /// Ids of the events that prove it, in log order.
    pub events: Vec<String>,
    /// When the situation arose (its last proving event, or the day the wait ran out).
    pub at: Millis,
}

impl Finding {
    /// Stable across passes: the same situation is found again, never recorded twice.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.trigger.as_str(),
            self.unit.code,
            self.events.last().map_or("", String::as_str)
        )
    }
}

/// Every situation in `case` that a trigger switched on in `triggers` finds, as of `now`.
pub fn findings(
    case: &Case,
    triggers: &Triggers,
    calendar: &Calendar,
    now: Millis,
) -> Vec<Finding> {
    let events = &case.events;
    let mut out = Vec::new();
    let mut before = WorkflowState::default();
    // The failed acceptance that began the current run, and each unit's returns so far.
    let mut run_start: Option<&str> = None;
    let mut returns: Vec<(Unit, Vec<String>)> = Vec::new();
    let mut resolved_by: Option<(Unit, Option<String>, &str)> = None;
    for (i, e) in events.iter().enumerate() {
        let after = fold(&events[..=i]);
        let applied = after.version > before.version;
        if applied && after.failed_in_row > before.failed_in_row {
            if after.failed_in_row == 1 {
                run_start = Some(e.id.as_str());
            } else if after.failed_in_row == 2 && triggers.failed_twice_in_row {
                let (unit, person) = holder(case, &before);
                out.push(Finding {
                    trigger: Trigger::FailedTwiceInRow,
                    unit,
                    person,
                    events: run_start
                        .into_iter()
                        .map(str::to_owned)
                        .chain([e.id.clone()])
                        .collect(),
                    at: e.at,
                });
            }
        }
        if applied && e.kind == EventType::Resolved {
            let (unit, _) = holder(case, &before);
            resolved_by = Some((unit, Some(e.by.clone()), e.id.as_str()));
        }
        if applied && e.kind == EventType::Returned {
            let unit = match (e.role, &before.department) {
                (Role::DepartmentHandler, Some(d)) => Some(department(d)),
                (Role::TownshipStaff, _) => area(case, Level::Township),
                _ => None,
            };
            if let Some(unit) = unit {
                let i = match returns.iter().position(|(u, _)| *u == unit) {
                    Some(i) => i,
                    None => {
                        returns.push((unit, Vec::new()));
                        returns.len() - 1
                    }
                };
                let (unit, ids) = &mut returns[i];
                ids.push(e.id.clone());
                let limit = triggers.returned_more_than as usize;
                if limit > 0 && ids.len() == limit + 1 {
                    out.push(Finding {
                        trigger: Trigger::ReturnedTooOften,
                        unit: unit.clone(),
                        person: Some(e.by.clone()),
                        events: ids.clone(),
                        at: e.at,
                    });
                }
            }
        }
        if e.kind == EventType::ReturnVisit
            && e.verdict == Some(Verdict::Untrue)
            && triggers.untrue_resolution
            && let Some((unit, person, resolved)) = &resolved_by
        {
            out.push(Finding {
                trigger: Trigger::UntrueResolution,
                unit: unit.clone(),
                person: person.clone(),
                events: vec![(*resolved).to_owned(), e.id.clone()],
                at: e.at,
            });
        }
        before = after;
    }
    if triggers.overdue_after_county_days > 0 {
        out.extend(overdue_after_county(case, &before, triggers, calendar, now));
    }
    out
}

/// Still not done `overdue_after_county_days` working days after a county supervision of the
/// clock that is running now (the case's, or an assisting part's).
fn overdue_after_county(
    case: &Case,
    st: &WorkflowState,
    triggers: &Triggers,
    calendar: &Calendar,
    now: Millis,
) -> Vec<Finding> {
    if !st.status.is_open() {
        return Vec::new();
    }
    let wait = TimeLimit::WorkingDays(triggers.overdue_after_county_days);
    let county: Vec<&CaseEvent> = case
        .events
        .iter()
        .filter(|e| e.kind == EventType::Supervised && e.level == Level::County)
        .collect();
    let mut out = Vec::new();
    for e in county {
        let late = now > calendar.due(e.at, wait);
        let (still, unit, person) = match e.department.as_deref() {
            Some(d) => match st.part(d) {
                Some(p) => (
                    !p.is_done() && p.clock_started.is_some_and(|c| c <= e.at),
                    department(d),
                    p.signed_by.clone(),
                ),
                None => continue,
            },
            None => {
                let (unit, person) = holder(case, st);
                (st.clock_started.is_some_and(|c| c <= e.at), unit, person)
            }
        };
        if late && still {
            out.push(Finding {
                trigger: Trigger::OverdueAfterCounty,
                unit,
                person,
                events: vec![e.id.clone()],
                at: calendar.due(e.at, wait),
            });
        }
    }
    out
}

/// The unit and person holding the case in state `st`: its lead department, or whoever
/// handles at its level (the grid worker who owns it, the village, the township, the county).
pub fn holder(case: &Case, st: &WorkflowState) -> (Unit, Option<String>) {
    if let Some(d) = &st.department {
        // Until a handler of the department signs for it, the owner is still whoever dispatched
        // it (a township's staff): no one of the department to name.
        let signed = st.status != Status::Assigned;
        let person = st.owner.clone().filter(|o| {
            signed
                && case
                    .events
                    .iter()
                    .any(|e| e.by == *o && e.role == Role::DepartmentHandler)
        });
        return (department(d), person);
    }
    let unit = match st.level {
        Level::Grid => st
            .owner
            .as_ref()
            .map(|o| Unit {
                kind: UnitKind::Worker,
                code: o.clone(),
            })
            .or_else(|| area(case, Level::Village)),
        level => area(case, level),
    };
    let unit = unit.unwrap_or_else(|| Unit {
        kind: UnitKind::County,
        code: case.jurisdiction.county().to_owned(),
    });
    (unit, st.owner.clone())
}

fn department(code: &str) -> Unit {
    Unit {
        kind: UnitKind::Department,
        code: code.to_owned(),
    }
}

/// The township or village of the case's place as a unit (a county-level place has neither).
fn area(case: &Case, level: Level) -> Option<Unit> {
    let kind = match level {
        Level::Township => UnitKind::Township,
        Level::Village => UnitKind::Village,
        Level::County => UnitKind::County,
        Level::Grid => return None,
    };
    case.jurisdiction.at_level(level).map(|p| Unit {
        kind,
        code: p.to_string(),
    })
}
