//! A reviewer's writes on a case: the workflow steps the rules allow them (routing down, 分流, and
//! the return visit, 回访, included), taking a step, and settling a field conflict; each through
//! the store's admission.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use gridsync_core::case::words::RETURN_VISIT_WAYS;
use gridsync_core::workflow::{self, CaseFacts, EventDraft, EventType, Rating};
use gridsync_core::{CaseDoc, Identity, Level};
use serde::Deserialize;

use crate::AppState;
use crate::console::{ConsoleError, ConsoleSession, Lang, SameOrigin, console_device};
use crate::store::StoreError;

/// Steps a reviewer may offer, with the form fields each needs.
const OFFERED: [EventType; 10] = [
    EventType::Accepted,
    EventType::Assigned,
    EventType::InProgress,
    EventType::Resolved,
    EventType::Evaluated,
    EventType::Escalated,
    EventType::Returned,
    EventType::Supervised,
    EventType::Reopened,
    EventType::Archived,
];

pub(super) fn event_label(l: Lang, e: EventType) -> &'static str {
    l.t(match e {
        EventType::Accepted => "ev_accepted",
        EventType::Assigned => "ev_assigned",
        EventType::InProgress => "ev_in_progress",
        EventType::Resolved => "ev_resolved",
        EventType::Escalated => "ev_escalated",
        EventType::Returned => "ev_returned",
        EventType::Supervised => "ev_supervised",
        EventType::Reopened => "ev_reopened",
        EventType::Evaluated => "ev_evaluated",
        EventType::Routed => "ev_routed",
        EventType::ReturnVisit => "ev_return_visit",
        _ => "ev_archived",
    })
}

/// The draft for a step as the console offers it; `department` for a dispatch, `reply` for a
/// resolution (答复).
fn draft_for(kind: EventType, note: &str, department: &str, reply: &str) -> EventDraft {
    let d = match kind {
        EventType::Assigned => EventDraft::assign_to(department),
        // The dry run's stand-in; the form's rating is required when the step is taken.
        EventType::Evaluated => EventDraft::evaluate(Rating::Satisfied),
        EventType::Resolved if !reply.trim().is_empty() => {
            EventDraft::resolve_with_reply(reply.trim())
        }
        other => EventDraft::new(other),
    };
    d.note(note)
}

/// What the case page offers a reviewer: the steps of its main form, the levels the case may
/// be routed down to (分流), and whether a return visit (回访) may be recorded.
#[derive(Debug, Default)]
pub(super) struct Offer {
    pub steps: Vec<EventType>,
    pub route_levels: Vec<Level>,
    pub return_visit: bool,
}

/// What the rules allow `who` on this case now (checked by preparing each, as a dry run).
pub(super) fn offer(state: &AppState, doc: &CaseDoc, who: &Identity) -> Offer {
    let Ok(case) = doc.read() else {
        return Offer::default();
    };
    let live = state.store.rules_now();
    let deadlines = live.rules.deadlines();
    let facts = CaseFacts {
        kind: case.kind,
        place: &case.jurisdiction,
        category: &case.category,
    };
    let now = crate::now_ms();
    let allowed = |draft: EventDraft| {
        workflow::prepare(&case.events, draft, who, now, facts, &deadlines).is_ok()
    };
    // Any catalogue department stands in for the reviewer's choice in the dry run.
    let taxonomy = live.rules.taxonomy();
    let dept = taxonomy
        .category(&case.category)
        .and_then(|c| c.department.clone())
        .or_else(|| taxonomy.departments().next().map(|d| d.code.clone()))
        .unwrap_or_default();
    Offer {
        // Steps that need a reason are offered with one.
        steps: OFFERED
            .into_iter()
            .filter(|k| allowed(draft_for(*k, "-", &dept, "")))
            .collect(),
        route_levels: [Level::Township, Level::Grid]
            .into_iter()
            .filter(|l| allowed(EventDraft::route_to(*l)))
            .collect(),
        return_visit: allowed(EventDraft::return_visit(RETURN_VISIT_WAYS[0].0).note("-")),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    kind: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    chosen: String,
    #[serde(default)]
    rating: String,
    /// For `resolved`: the answer to the requester (答复).
    #[serde(default)]
    reply: String,
    /// For `routed`: `grid` or `township`.
    #[serde(default)]
    level: String,
    /// For `return_visit`: how the requester was reached.
    #[serde(default)]
    via: String,
}

/// Writes one change on the reviewer's behalf and goes back to the case with the outcome.
async fn write<F>(
    state: &AppState,
    r: &ConsoleSession,
    id: &str,
    f: F,
) -> Result<Response, ConsoleError>
where
    F: FnOnce(&mut CaseDoc) -> gridsync_core::Result<Option<automerge::ChangeHash>>,
{
    let back = |q: &str| Redirect::to(&format!("/console/cases/{id}?{q}")).into_response();
    if !state.store.may_read(&r.who, id).await? {
        return Err(ConsoleError::NotFound("not found"));
    }
    let ctx = console_device(state, &r.who).await?;
    let now = crate::now_ms();
    let live = state.store.rules().await?;
    match state
        .store
        .write_case(&ctx, &r.who, id, &live.admission, now, f)
        .await
    {
        Ok(wrote) => {
            if wrote {
                state
                    .store
                    .audit(&r.who.user, "console_write", id, "", now)
                    .await?;
            }
            Ok(back("done=1"))
        }
        Err(StoreError::Refused { code, reason }) => Ok(back(
            &serde_urlencoded::to_string([("error", format!("{code}: {reason}"))])
                .unwrap_or_default(),
        )),
        Err(StoreError::Core(e)) => Ok(back(
            &serde_urlencoded::to_string([("error", format!("{}: {e}", e.code()))])
                .unwrap_or_default(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn action(
    State(state): State<Arc<AppState>>,
    r: ConsoleSession,
    _: SameOrigin,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Result<Response, ConsoleError> {
    let Some(kind) = EventType::parse(&f.kind) else {
        return Err(ConsoleError::BadRequest("unknown step"));
    };
    // Said on the case page, like a refusal: the clerk fixes the form and tries again.
    let say = |key: &'static str| {
        let q = serde_urlencoded::to_string([("error", r.lang.t(key))]).unwrap_or_default();
        Ok(Redirect::to(&format!("/console/cases/{id}?{q}")).into_response())
    };
    let rating = Rating::parse(&f.rating);
    let drafts = match kind {
        EventType::Settled => vec![EventDraft::settle(f.chosen.clone()).note(f.note.clone())],
        EventType::Evaluated => match rating {
            Some(rating) => vec![EventDraft::evaluate(rating).note(f.note.clone())],
            None => return say("rating_required"),
        },
        EventType::Routed => match Level::parse(&f.level) {
            Some(level) => vec![EventDraft::route_to(level).note(f.note.clone())],
            None => return say("route_level_required"),
        },
        // 回访, and the rating the requester gave on the call if any: one change.
        EventType::ReturnVisit => {
            let mut d = vec![EventDraft::return_visit(f.via.trim()).note(f.note.trim())];
            if let Some(rating) = rating {
                d.push(EventDraft::evaluate(rating).note(f.note.trim()));
            }
            d
        }
        other => vec![draft_for(other, &f.note, &f.department, &f.reply)],
    };
    let who = r.who.clone();
    let live = state.store.rules().await?;
    write(&state, &r, &id, move |doc| {
        let deadlines = live.rules.deadlines();
        doc.edit(&who, crate::now_ms(), |e| {
            for d in drafts {
                e.append_event_with(d, &deadlines)?;
            }
            Ok(())
        })
    })
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct SettleForm {
    field: String,
    value: String,
}

pub(super) async fn settle(
    State(state): State<Arc<AppState>>,
    r: ConsoleSession,
    _: SameOrigin,
    Path(id): Path<String>,
    Form(f): Form<SettleForm>,
) -> Result<Response, ConsoleError> {
    let who = r.who.clone();
    write(&state, &r, &id, move |doc| {
        doc.edit(&who, crate::now_ms(), |e| {
            e.resolve_conflict(&f.field, &f.value)
        })
    })
    .await
}
