//! Who may append which event from which status: [`RULES`], and [`check`] of one event against
//! them as its writer saw the case.

use super::event::RETURN_VISIT_WAYS;
use super::{CaseEvent, EventType, WorkflowState};
use crate::access::{Identity, Role};
use crate::error::Refusal;
use crate::jurisdiction::{JurisdictionPath, Level};
use crate::vocab::{CaseKind, Millis, Status};

/// How far a role's reach must extend for a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The case lies within the writer's scope.
    InScope,
    /// In scope, and the writer handles at the case's current level or above.
    AtLevel,
    /// `AtLevel`, or the handler of the department the case is assigned to.
    Handler,
}

/// One row of the rules: this event, from these statuses, by these roles, with this reach.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub event: EventType,
    pub from: &'static [Status],
    pub roles: &'static [Role],
    pub reach: Reach,
}

use Role::{CountyAdmin as CA, DepartmentHandler as DH, GridWorker as GW, Mediator as ME};
use Role::{System as SY, TownshipStaff as TS};
use Status as S;

/// Every status a reported case can have but archived: open, resolved or evaluated. A
/// concurrent pair of events can be settled until the case is archived.
const NOT_ARCHIVED: &[Status] = &[
    S::Reported,
    S::Accepted,
    S::Assigned,
    S::InProgress,
    S::Resolved,
    S::Evaluated,
    S::Returned,
];

/// Who may append which event from which status. The single source of the workflow rules.
pub const RULES: &[Rule] = &[
    // The server reports for an intake channel (12345, WeChat) in its own name.
    Rule {
        event: EventType::Reported,
        from: &[S::New],
        roles: &[GW, ME, TS, CA, SY],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Accepted,
        from: &[S::Reported],
        roles: &[GW, ME, TS, CA],
        reach: Reach::AtLevel,
    },
    Rule {
        event: EventType::Assigned,
        from: &[S::Accepted, S::InProgress, S::Returned],
        roles: &[TS, CA],
        reach: Reach::AtLevel,
    },
    Rule {
        event: EventType::InProgress,
        from: &[S::Accepted, S::Assigned, S::Returned],
        roles: &[GW, ME, TS, CA, DH],
        reach: Reach::Handler,
    },
    Rule {
        event: EventType::Resolved,
        from: &[S::Accepted, S::Assigned, S::InProgress, S::Returned],
        roles: &[GW, ME, TS, CA, DH],
        reach: Reach::Handler,
    },
    // The server writes the requester's own rating (the progress page); staff record theirs.
    Rule {
        event: EventType::Evaluated,
        from: &[S::Resolved],
        roles: &[GW, ME, TS, CA, SY],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Archived,
        from: &[S::Resolved, S::Evaluated],
        roles: &[TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Escalated,
        from: &[S::Reported, S::Accepted, S::InProgress, S::Returned],
        roles: &[GW, ME, TS, CA],
        reach: Reach::AtLevel,
    },
    Rule {
        event: EventType::Returned,
        from: &[
            S::Reported,
            S::Accepted,
            S::Assigned,
            S::InProgress,
            S::Resolved,
        ],
        roles: &[TS, CA, DH],
        reach: Reach::Handler,
    },
    Rule {
        event: EventType::Supervised,
        from: &Status::OPEN,
        roles: &[SY, TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Reopened,
        from: &[S::Resolved, S::Evaluated],
        roles: &[TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Settled,
        from: NOT_ARCHIVED,
        roles: &[TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Routed,
        from: &[S::Reported, S::Accepted, S::Returned],
        roles: &[TS, CA],
        reach: Reach::AtLevel,
    },
    Rule {
        event: EventType::ReturnVisit,
        from: &[S::Resolved, S::Evaluated],
        roles: &[GW, ME, TS, CA],
        reach: Reach::InScope,
    },
    // 联合派单: the level that dispatched a case to a lead department adds assisting ones; each
    // signs for and reports its own part (checked below: only that department's handlers).
    Rule {
        event: EventType::PartAssigned,
        from: &[S::Assigned, S::InProgress],
        roles: &[TS, CA],
        reach: Reach::AtLevel,
    },
    Rule {
        event: EventType::PartSigned,
        from: &[S::Assigned, S::InProgress],
        roles: &[DH],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::PartDone,
        from: &[S::Assigned, S::InProgress],
        roles: &[DH],
        reach: Reach::InScope,
    },
];

/// The rule for an event type (every type has exactly one).
pub fn rule(event: EventType) -> &'static Rule {
    RULES.iter().find(|r| r.event == event).unwrap_or(&RULES[0])
}

/// The longest note (reason, comment) an event may carry.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Checks one event against the rules as its writer sees the case (`state`).
pub fn check(
    state: &WorkflowState,
    event: &CaseEvent,
    who: &Identity,
    kind: CaseKind,
    place: &JurisdictionPath,
) -> std::result::Result<(), Refusal> {
    let name = event.kind.as_str();
    if event.by != who.user || event.role != who.role || event.device != who.device {
        return Err(Refusal::ForgedAuthor);
    }
    let rule = rule(event.kind);
    if !rule.roles.contains(&who.role) {
        return Err(Refusal::WrongRole {
            event: name,
            role: who.role.as_str(),
        });
    }
    if !rule.from.contains(&state.status) {
        return Err(Refusal::WrongStatus {
            event: name,
            status: state.status.as_str(),
        });
    }
    // Departments see a case only while it is assigned to them, which is all they may act on.
    if !who.may_read(kind, place, &state.departments()) {
        return Err(Refusal::OutOfScope {
            what: format!("{place} is outside {}", who.scope),
        });
    }
    let at_level = who.role.handling_level().is_some_and(|l| l >= state.level);
    let own_department = who.handles_department(state.department.as_deref());
    // 签收: a case dispatched to a department is signed for by that department only; the level
    // that dispatched it takes it back with `returned`.
    if event.kind == EventType::InProgress && state.status == Status::Assigned && !own_department {
        return Err(Refusal::WrongRole {
            event: name,
            role: who.role.as_str(),
        });
    }
    let reach_ok = match rule.reach {
        Reach::InScope => true,
        Reach::AtLevel => at_level,
        Reach::Handler => at_level || own_department,
    };
    if !reach_ok {
        return Err(Refusal::WrongLevel {
            event: name,
            needed: state.level.as_str(),
        });
    }
    let invalid = |what: &str| Refusal::Invalid {
        event: name,
        what: what.to_owned(),
    };
    if event.note.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid("the note is too long"));
    }
    // A deadline lies after the step and within the longest catalogue limit (250 working days,
    // about 370 calendar days with holidays).
    const YEAR: Millis = 400 * 86_400_000;
    if event
        .due
        .is_some_and(|d| d <= event.at || d - event.at > YEAR)
    {
        return Err(invalid(
            "the deadline must fall after the step and within a year",
        ));
    }
    let token = |d: &str| {
        !d.is_empty() && d.len() <= 64 && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if event.department.as_deref().is_some_and(|d| !token(d)) {
        return Err(invalid("a department is a catalogue code"));
    }
    match event.kind {
        EventType::Reported
            if event.level != who.role.handling_level().unwrap_or(Level::County) =>
        {
            Err(invalid("reported at a level other than the writer's"))
        }
        EventType::Assigned if event.department.as_deref().is_none_or(str::is_empty) => {
            Err(invalid("a department is required"))
        }
        EventType::Evaluated if event.rating.is_none() => Err(invalid("a rating is required")),
        EventType::Escalated if state.level.up() != Some(event.level) => Err(invalid(
            "escalation goes one level up from the current level",
        )),
        EventType::Accepted | EventType::Assigned if event.level != taking_level(state, who) => {
            Err(invalid("taken at a level other than the writer's"))
        }
        EventType::Escalated | EventType::Returned | EventType::Reopened
            if event.note.trim().is_empty() =>
        {
            Err(invalid("a reason is required"))
        }
        EventType::Routed
            if event.level >= taking_level(state, who) || place.level() > event.level =>
        {
            Err(invalid(
                "routing goes below the writer's level, to a level the place names",
            ))
        }
        EventType::ReturnVisit
            if !event
                .via
                .as_deref()
                .is_some_and(|v| RETURN_VISIT_WAYS.iter().any(|(w, _)| *w == v))
                || event.note.trim().is_empty() =>
        {
            Err(invalid(
                "a return visit says how (phone, visit, sms, wechat) and what the requester said",
            ))
        }
        EventType::Resolved
            if event
                .reply
                .as_deref()
                .is_some_and(|r| r.chars().count() > MAX_NOTE_CHARS) =>
        {
            Err(invalid("the reply is too long"))
        }
        // The lead resolves once the parts are in, or says why it closes without them.
        EventType::Resolved
            if state.open_parts().next().is_some() && event.note.trim().is_empty() =>
        {
            Err(invalid(
                "assisting departments have not reported their parts: give a reason to resolve without them",
            ))
        }
        EventType::PartAssigned => check_part_assigned(state, event).map_err(invalid),
        EventType::PartSigned | EventType::PartDone => {
            check_part_step(state, event, who).map_err(invalid)
        }
        EventType::Supervised
            if event
                .department
                .as_deref()
                .is_some_and(|d| state.part(d).is_none_or(|p| p.is_done())) =>
        {
            Err(invalid("a supervised department is an open assisting part"))
        }
        EventType::Settled => {
            let chosen = event.chosen.as_deref().unwrap_or_default();
            let open = state
                .conflicts
                .iter()
                .any(|c| c.pending == chosen || c.applied.iter().any(|a| a == chosen));
            if open {
                Ok(())
            } else {
                Err(invalid("chosen is not part of an open workflow conflict"))
            }
        }
        _ => Ok(()),
    }
}

/// 协办: an assisting department beside a lead one, not already part of the dispatch.
fn check_part_assigned(state: &WorkflowState, event: &CaseEvent) -> Result<(), &'static str> {
    let Some(d) = event.department.as_deref() else {
        return Err("an assisting department is required");
    };
    match state.department.as_deref() {
        None => Err("a joint dispatch needs a lead department first"),
        Some(lead) if lead == d => Err("the lead department cannot assist itself"),
        _ if state.part(d).is_some() => Err("the department already has a part"),
        _ => Ok(()),
    }
}

/// 协办签收 / 协办反馈: by the handler of that part, in order, once each.
fn check_part_step(
    state: &WorkflowState,
    event: &CaseEvent,
    who: &Identity,
) -> Result<(), &'static str> {
    let d = event.department.as_deref();
    let Some(part) = d.and_then(|d| state.part(d)) else {
        return Err("the department has no part in this dispatch");
    };
    if !who.handles_department(d) {
        return Err("only the assisting department's handlers act on its part");
    }
    if part.is_done() {
        return Err("the part is reported done already");
    }
    match event.kind {
        EventType::PartSigned if part.signed_at.is_some() => Err("the part is signed for already"),
        EventType::PartDone if event.note.trim().is_empty() => {
            Err("say what was done for the part")
        }
        _ => Ok(()),
    }
}

/// The level a case is handled at once `who` accepts or assigns it: theirs, if higher.
pub(super) fn taking_level(state: &WorkflowState, who: &Identity) -> Level {
    who.role
        .handling_level()
        .map_or(state.level, |l| l.max(state.level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_exactly_one_rule() {
        for t in EventType::ALL {
            assert_eq!(RULES.iter().filter(|r| r.event == t).count(), 1, "{t:?}");
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn nobody_but_reporters_open_a_case_and_archived_is_final() {
        assert_eq!(rule(EventType::Reported).from, &[Status::New]);
        for r in RULES {
            assert!(
                !r.from.contains(&Status::Archived),
                "{:?} leaves archived",
                r.event
            );
            assert!(r.event == EventType::Reported || !r.from.contains(&Status::New));
        }
        assert!(
            !rule(EventType::Reported)
                .roles
                .contains(&Role::DepartmentHandler)
        );
        assert!(rule(EventType::Supervised).roles.contains(&Role::System));
    }

    #[test]
    fn open_means_one_thing_a_resolved_case_is_not_supervised() {
        let supervised = rule(EventType::Supervised).from;
        for s in Status::ALL {
            assert_eq!(supervised.contains(&s), s.is_open(), "{s:?}");
        }
        assert!(!supervised.contains(&Status::Resolved));
        // Settling a concurrent pair stays possible until the case is archived.
        let settled = rule(EventType::Settled).from;
        for s in Status::ALL {
            let expected = !matches!(s, Status::New | Status::Archived);
            assert_eq!(settled.contains(&s), expected, "{s:?}");
        }
    }
}
