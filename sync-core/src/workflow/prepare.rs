//! [`prepare`]: a person's draft turned into a checked event, with its deadline.

use super::rules::taking_level;
use super::{CaseEvent, Deadlines, EventDraft, EventType, check, fold};
use crate::access::Identity;
use crate::jurisdiction::{JurisdictionPath, Level};
use crate::vocab::{CaseKind, Millis, new_id};
use crate::{Error, Result};

/// The inputs of [`prepare`] besides the draft: where the case stands and what it is.
#[derive(Debug, Clone, Copy)]
pub struct CaseFacts<'a> {
    pub kind: CaseKind,
    pub place: &'a JurisdictionPath,
    pub category: &'a str,
}

/// Builds the event for `draft` as `who` sees the log (with its deadline, if it starts a
/// clock), and checks it.
pub fn prepare(
    events: &[CaseEvent],
    draft: EventDraft,
    who: &Identity,
    at: Millis,
    facts: CaseFacts<'_>,
    deadlines: &Deadlines<'_>,
) -> Result<CaseEvent> {
    prepare_as(new_id(), events, draft, who, at, facts, deadlines)
}

/// [`prepare`] with the event's id given: an urgent SMS report's first event must come out
/// the same on the phone and on the server.
pub(crate) fn prepare_as(
    id: String,
    events: &[CaseEvent],
    draft: EventDraft,
    who: &Identity,
    at: Millis,
    facts: CaseFacts<'_>,
    deadlines: &Deadlines<'_>,
) -> Result<CaseEvent> {
    let state = fold(events);
    let level = match draft.kind {
        EventType::Reported => draft.level.unwrap_or(Level::County),
        EventType::Escalated => state.level.up().unwrap_or(Level::County),
        EventType::Supervised => draft
            .level
            .or(who.role.handling_level())
            .unwrap_or_else(|| state.level.up().unwrap_or(Level::County)),
        EventType::Accepted | EventType::Assigned => taking_level(&state, who),
        EventType::Routed => draft.level.unwrap_or(Level::Grid),
        _ => state.level,
    };
    let mut event = CaseEvent {
        id,
        kind: draft.kind,
        by: who.user.clone(),
        role: who.role,
        device: who.device.clone(),
        at,
        level,
        deps: state.heads.clone(),
        note: draft.note,
        department: draft.department,
        rating: draft.rating,
        chosen: draft.chosen,
        via: draft.via,
        reply: draft.reply,
        verdict: draft.verdict,
        due: draft.due,
        rules: None,
        due_guessed: false,
    };
    if draft.due.is_none()
        && let Some((due, guessed)) =
            deadlines.due(&event, state.status, facts.kind, facts.category)
    {
        event.due = Some(due);
        event.rules = Some(deadlines.version);
        event.due_guessed = guessed;
    }
    check(&state, &event, who, facts.kind, facts.place).map_err(Error::from)?;
    Ok(event)
}
