//! A reviewer's writes on a case: the workflow steps the rules allow them (routing down, 分流, the
//! return visit, 回访, and the parts of a joint dispatch, 联合派单, included), taking a step, and
//! settling a field conflict; each through the store's admission.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use gridsync_core::case::words::RETURN_VISIT_WAYS;
use gridsync_core::workflow::{self, CaseFacts, EventDraft, EventType, Rating, Verdict};
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
        EventType::PartAssigned | EventType::PartSigned | EventType::PartDone => {
            return l.part_step(e);
        }
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
/// be routed down to (分流), whether a return visit (回访) may be recorded, and the parts of a
/// joint dispatch they may act on.
#[derive(Debug, Default)]
pub(super) struct Offer {
    pub steps: Vec<EventType>,
    pub route_levels: Vec<Level>,
    pub return_visit: bool,
    /// 增加协办部门: the catalogue's departments that may join the dispatch standing now as
    /// assisting ones (empty when the reviewer may not add any).
    pub assist: Vec<String>,
    /// 协办签收: the reviewer's own department, when its part waits for signing.
    pub sign_part: Option<String>,
    /// 协办反馈: the reviewer's own department, when its part may be reported done.
    pub finish_part: Option<String>,
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
    let wf = workflow::fold(&case.events);
    // Departments not yet in the dispatch; the first stands in for the reviewer's choice.
    let mut assist: Vec<String> = taxonomy
        .departments()
        .map(|d| d.code.clone())
        .filter(|d| wf.department.as_deref() != Some(d.as_str()) && wf.part(d).is_none())
        .collect();
    if !assist
        .first()
        .is_some_and(|d| allowed(EventDraft::assist(d.as_str())))
    {
        assist.clear();
    }
    // A department handler acts on its own department's part only.
    let own = who.department.as_deref().filter(|d| wf.part(d).is_some());
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
        assist,
        sign_part: own
            .filter(|d| allowed(EventDraft::sign_part(*d)))
            .map(str::to_owned),
        finish_part: own
            .filter(|d| allowed(EventDraft::finish_part(*d).note("-")))
            .map(str::to_owned),
    }
}

/// The fields of the case page's forms. Read from the posted pairs, since `assist` repeats (one
/// per ticked box), which a struct of the form's fields cannot hold.
#[derive(Debug, Default)]
pub(super) struct ActionForm {
    kind: String,
    note: String,
    /// The lead department of a dispatch; the reviewer's own one for a part's step.
    department: String,
    chosen: String,
    rating: String,
    /// For `resolved`: the answer to the requester (答复).
    reply: String,
    /// For `routed`: `grid` or `township`.
    level: String,
    /// For `return_visit`: how the requester was reached, and what it found.
    via: String,
    verdict: String,
    /// For `assigned` and `part_assigned`: the assisting departments (联合派单), each once.
    assist: std::collections::BTreeSet<String>,
}

impl ActionForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = ActionForm::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "kind" => &mut f.kind,
                "note" => &mut f.note,
                "department" => &mut f.department,
                "chosen" => &mut f.chosen,
                "rating" => &mut f.rating,
                "reply" => &mut f.reply,
                "level" => &mut f.level,
                "via" => &mut f.via,
                "verdict" => &mut f.verdict,
                "assist" => {
                    if !v.is_empty() {
                        f.assist.insert(v);
                    }
                    continue;
                }
                _ => continue,
            };
            *slot = v;
        }
        f
    }
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
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let f = ActionForm::from_pairs(pairs);
    let Some(kind) = EventType::parse(&f.kind) else {
        return Err(ConsoleError::BadRequest("unknown step"));
    };
    // Said on the case page, like a refusal: the clerk fixes the form and tries again.
    let say = |text: &str| {
        let q = serde_urlencoded::to_string([("error", text)]).unwrap_or_default();
        Ok(Redirect::to(&format!("/console/cases/{id}?{q}")).into_response())
    };
    let l = r.lang;
    let rating = Rating::parse(&f.rating);
    let note = f.note.trim();
    let drafts = match kind {
        EventType::Settled => vec![EventDraft::settle(f.chosen.clone()).note(note)],
        EventType::Evaluated => match rating {
            Some(rating) => vec![EventDraft::evaluate(rating).note(note)],
            None => return say(l.t("rating_required")),
        },
        EventType::Routed => match Level::parse(&f.level) {
            Some(level) => vec![EventDraft::route_to(level).note(note)],
            None => return say(l.t("route_level_required")),
        },
        // 回访 with what it found, and the rating the requester gave on the call if any: one
        // change.
        EventType::ReturnVisit => {
            let mut visit = EventDraft::return_visit(f.via.trim()).note(note);
            if let Some(v) = Verdict::parse(&f.verdict) {
                visit = visit.verdict(v);
            }
            let mut d = vec![visit];
            if let Some(rating) = rating {
                d.push(EventDraft::evaluate(rating).note(note));
            }
            d
        }
        // 联合派单: the lead and every assisting department in one change, so no phone ever
        // sees the dispatch without its parts.
        EventType::Assigned => {
            if f.assist.contains(&f.department) {
                return say(l.joint("assist_is_lead"));
            }
            let lead = draft_for(kind, note, &f.department, &f.reply);
            std::iter::once(lead)
                .chain(f.assist.iter().map(|d| EventDraft::assist(d.as_str())))
                .collect()
        }
        EventType::PartAssigned if f.assist.is_empty() => {
            return say(l.joint("assist_none_picked"));
        }
        EventType::PartAssigned => f
            .assist
            .iter()
            .map(|d| EventDraft::assist(d.as_str()).note(note))
            .collect(),
        // A part's steps are the reviewer's own department's.
        EventType::PartSigned | EventType::PartDone => {
            let department = match f.department.trim() {
                "" => r.who.department.clone().unwrap_or_default(),
                d => d.to_owned(),
            };
            match kind {
                EventType::PartSigned => vec![EventDraft::sign_part(department).note(note)],
                _ if note.is_empty() => return say(l.joint("part_note_required")),
                _ => vec![EventDraft::finish_part(department).note(note)],
            }
        }
        // The lead resolves once the parts are in, or says why it closes without them.
        EventType::Resolved if note.is_empty() && parts_open(&state, &r, &id).await? => {
            return say(l.joint("resolve_reason_required"));
        }
        other => vec![draft_for(other, note, &f.department, &f.reply)],
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

/// Whether assisting departments of the case have not all reported their parts (false for a
/// case the reviewer may not read: the write then answers as for any other).
async fn parts_open(state: &AppState, r: &ConsoleSession, id: &str) -> Result<bool, ConsoleError> {
    if !state.store.may_read(&r.who, id).await? {
        return Ok(false);
    }
    let Some(doc) = state.store.case_doc(id).await? else {
        return Ok(false);
    };
    Ok(doc
        .workflow()
        .is_ok_and(|wf| wf.open_parts().next().is_some()))
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
    // A person's value is written back sealed under the case's key (ADR 0029).
    let key = match gridsync_core::case::sealed::personal_field(&f.field) {
        Some(_) if state.store.may_read(&r.who, &id).await? => {
            Some(state.store.write_key(&id, crate::now_ms()).await?)
        }
        _ => None,
    };
    write(&state, &r, &id, move |doc| {
        doc.edit_sealed(&who, crate::now_ms(), key.as_ref(), |e| {
            e.resolve_conflict(&f.field, &f.value)
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_keeps_every_ticked_department_once_and_the_last_of_other_fields() {
        let pairs = [
            ("kind", "assigned"),
            ("department", "urban_management"),
            ("assist", "water"),
            ("assist", ""),
            ("assist", "power"),
            ("assist", "water"),
            ("note", "联合处置"),
            ("unknown", "x"),
        ];
        let f = ActionForm::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        assert_eq!((f.kind.as_str(), f.note.as_str()), ("assigned", "联合处置"));
        assert_eq!(f.department, "urban_management");
        assert_eq!(f.assist.into_iter().collect::<Vec<_>>(), ["power", "water"]);
    }
}
