//! The case detail page: fields, the departments holding it (主办、协办), mediation, photos (and
//! the console's blob route), the conflict panel, the steps on offer and the timeline.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gridsync_core::CaseEvent;
use gridsync_core::calendar::Calendar;
use gridsync_core::case::change_time_ms;
use gridsync_core::case::words::{
    MEDIATION_RESULTS, PARTY_ROLES, REFERRALS, RETURN_VISIT_WAYS, SESSION_OUTCOMES,
};
use gridsync_core::case::{Case, CaseDoc, Mediation, Party};
use gridsync_core::vocab::Millis;
use gridsync_core::workflow::{self, EventType, Rating, Verdict, WorkflowState};
use maud::{Markup, html};
use serde::Deserialize;

use super::actions::{event_label, offer};
use super::conflicts::{Panel, device_label, step_name};
use super::{category_name, department_name};
use crate::AppState;
use crate::blobs::Served;
use crate::console::names::Names;
use crate::console::{ConsoleError, ConsoleSession, Lang, Reviewer, page};
use crate::reads::{self, ClientAddr};
use crate::store::StoreError;

/// A case this reviewer may read, read whole; or the page saying there is none (also for one
/// outside the jurisdiction: the same answer, so ids cannot be probed).
pub(super) async fn open_case(
    state: &AppState,
    r: &Reviewer,
    id: &str,
) -> Result<Result<(CaseDoc, Case, WorkflowState), Response>, ConsoleError> {
    let l = r.lang;
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            page(
                r,
                l.t("not_found"),
                "cases",
                html! { p.error #not-found { (l.t("not_found")) } },
            ),
        )
            .into_response()
    };
    if gridsync_core::case::validate_case_id(id).is_err()
        || !state.store.may_read(&r.who, id).await?
    {
        return Ok(Err(not_found()));
    }
    let Some(doc) = state.store.case_doc(id).await? else {
        return Ok(Err(not_found()));
    };
    let keys = state.store.case_keys(id).await?;
    match (doc.read(), doc.workflow()) {
        (Ok(case), Ok(wf)) => {
            let case = case.unsealed(&keys);
            // Names and phone numbers in clear only for those who handle the case (138****5678
            // for the rest): the page, the print view and what they show of the requester.
            let case = case.for_reader(&r.who, &wf.departments());
            Ok(Ok((doc, case, wf)))
        }
        (Err(e), _) | (_, Err(e)) => Err(StoreError::from(e).into()),
    }
}

/// The people of a case, one a line: name, role in words, phone.
pub(super) fn people(l: Lang, people: &[Party]) -> Markup {
    html! {
        @for p in people {
            div.party { (p.name) " · " (l.word(PARTY_ROLES, &p.role)) @if !p.phone.is_empty() { " · " (p.phone) } }
        }
    }
}

pub(super) fn has_mediation(m: &Mediation) -> bool {
    !m.sessions.is_empty() || !m.result.is_empty() || !m.agreement.is_empty()
}

/// A dispute's mediation: each session (when, who, outcome, notes), the agreement, the result.
pub(super) fn mediation(l: Lang, names: &Names, cal: &Calendar, m: &Mediation) -> Markup {
    html! {
        @for s in &m.sessions {
            p { (cal.local_date_time(s.at)) " · "
                @for (i, who) in s.mediators.iter().enumerate() { @if i > 0 { "、" } (names.who(who)) }
                " · " (l.word(SESSION_OUTCOMES, &s.outcome)) br; (s.notes) }
        }
        @if !m.agreement.is_empty() { p.pre { b { (l.t("agreement")) "：" } (m.agreement) } }
        @if !m.result.is_empty() {
            p { b { (l.t("result")) "：" } (l.word(MEDIATION_RESULTS, &m.result))
                @if !m.referral.is_empty() { " · " (l.t("referral")) " " (l.word(REFERRALS, &m.referral)) } }
        }
    }
}

/// What the page says after an action: `?done=1` or `?error=<reason>`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Flash {
    done: String,
    error: String,
    /// The page of the timeline shown (from 1).
    history: u32,
}

/// Timeline rows per page: a case with thousands of changes stays a page a browser shows.
const HISTORY_PER_PAGE: usize = 100;

pub(super) async fn detail(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    addr: ClientAddr,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let (doc, case, wf) = match open_case(&state, &r, &id).await? {
        Ok(opened) => opened,
        Err(not_found) => return Ok(not_found),
    };
    // Personal data shown in clear: recorded in the read audit first, or no page (ADR 0028).
    if case.read_is_audited(&r.who, &wf.departments()) {
        reads::record(&state.store, &r.who.user, &id, reads::CONSOLE_CASE, &addr).await?;
    }
    let history = state.store.case_history(&id).await?;
    let now = crate::now_ms();
    let mut uploaded = std::collections::BTreeSet::new();
    for a in &case.attachments {
        // Uploaded, and open to this reader (a reference added by someone without the bytes
        // opens nothing).
        if let Ok(Some(_)) = state.store.blob(&a.sha256).await
            && let Ok(true) = state.store.may_read_blob(&r.who, &a.sha256).await
        {
            uploaded.insert(a.sha256.clone());
        }
    }
    let keys = state.store.case_keys(&case.id).await?;
    let mut conflicts: Vec<_> = doc
        .conflicts()
        .into_iter()
        .map(|c| c.unsealed(&keys))
        .collect();
    if !r
        .who
        .reads_personal_data(case.kind, &case.jurisdiction, &wf.departments())
    {
        // A person's values in conflict are left to those who handle the case: masked, they
        // could only be settled to the masked value.
        conflicts.retain(|c| !c.field.starts_with("people"));
    }
    // Steps are tied to the change that wrote them, not matched by time: a change's header
    // time may be seconds (JavaScript) while the event's `at` is ms.
    let event_changes = doc.event_changes();
    let offer = offer(&state, &doc, &r.who);
    let steps = &offer.steps;
    let receipt = state.store.receipt_of_case(&id).await?;
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    let history_pages = history.len().div_ceil(HISTORY_PER_PAGE).max(1);
    let history_page = (flash.history.max(1) as usize).min(history_pages);
    let shown = history
        .iter()
        .skip((history_page - 1) * HISTORY_PER_PAGE)
        .take(HISTORY_PER_PAGE);
    let history_link = |n: usize| format!("/console/cases/{id}?history={n}#timeline");
    // The timeline: each change with its device and receipt times, and the steps it carried.
    let body = html! {
        @if !flash.done.is_empty() { p.ok #flash-done { (l.t("done")) } }
        @if !flash.error.is_empty() {
            // `code: detail` from a refusal: its words, the detail for whoever asks IT.
            @let (code, detail) = flash.error.split_once(": ").unwrap_or((flash.error.as_str(), ""));
            p.error #flash-error data-code=(code) title=(detail) {
                (l.t("refused")) "：" (l.refusal(code).unwrap_or(flash.error.as_str()))
            }
        }
        h1 #case-title { (case.title) }
        p.tools {
            a #print-link href=(format!("/console/cases/{id}/print")) { (l.t("print")) }
            @if super::evidence::may_export(&r, &case, &wf.departments()) {
                " · " a #evidence-link href=(format!("/console/cases/{id}/evidence")) title=(l.t("evidence_hint")) { (l.t("evidence")) }
            }
        }
        p.meta {
            span.status #case-status { (l.status(wf.status.as_str())) }
            " · " (l.level(wf.level.as_str()))
            @if let Some(d) = wf.due {
                " · " (l.t("due")) " " span class=(if workflow::is_overdue(&wf, now) { "due late" } else { "due" }) #case-due { (cal.local_date_time(d)) }
            }
            @if let Some(o) = &wf.owner { " · " (l.t("owner")) " " (r.names.who(o)) }
            @if let Some(d) = &wf.department { " · " (l.t("department")) " " span #case-department data-code=(d) { (department_name(&state, l, d)) } }
            @if wf.accountability { " · " span.badge.acc { (l.t("accountability")) } }
            @if gridsync_core::sms::reported_by_sms(&case) { " · " span.badge.late #sms-reported { (l.t("sms_reported")) } }
        }
        section.fields {
            table {
                tr { th { (l.t("kind")) } td { (l.kind(case.kind.as_str())) } }
                tr { th { (l.t("category")) } td { (category_name(&state, l, &case.category)) } }
                (front_door_rows(l, &case, &wf, receipt.as_deref()))
                tr { th { (l.t("place")) } td { (r.names.place(&case.jurisdiction.to_string())) } }
                tr { th { (l.t("address")) } td { (case.location.address) } }
                tr { th { (l.t("description")) } td.pre { (case.description) } }
                tr { th { (l.t("reporter")) } td { (r.names.who(&case.reporter.user)) " · " (device_label(l, &case.reporter.device)) } }
                tr { th { (l.t("reported_at")) } td { (cal.local_date_time(case.created_at)) } }
                @if !case.people.is_empty() {
                    tr { th { (l.t("people")) } td {
                        (people(l, &case.people))
                    } }
                }
                @for (k, v) in &case.extra { tr { th { (l.field(&format!("extra.{k}"))) } td { (v) } } }
            }
        }
        @if wf.department.is_some() || !wf.parts.is_empty() {
            (parts_panel(&state, &r, &wf, &case.events, now))
        }
        @if has_mediation(&case.mediation) {
            section.mediation {
                h2 { (l.t("mediation")) }
                (mediation(l, &r.names, cal, &case.mediation))
            }
        }
        section.photos #photos {
            h2 { (l.t("photos")) }
            @if case.attachments.is_empty() { p { (l.t("none")) } }
            @for a in &case.attachments {
                // A thumbnail once the phone uploaded the bytes; until then the reference.
                figure.photo data-sha=(a.sha256) {
                    @if uploaded.contains(&a.sha256) {
                        a href=(format!("/console/blobs/{}", a.sha256)) {
                            @if a.mime.starts_with("image/") && a.mime != "image/heic" {
                                img alt=(a.caption) src=(format!("/console/blobs/{}?thumb=1", a.sha256));
                            } @else { (a.mime) }
                        }
                        figcaption { (a.caption) " · " (a.bytes / 1024) " KiB" }
                    } @else {
                        figcaption { (a.caption) " · " (a.mime) " · " (a.bytes / 1024) " KiB · " (l.t("no_photo_yet")) }
                    }
                }
            }
        }
        (Panel { id: &id, names: &r.names, lang: l, calendar: cal, fields: &conflicts, steps: &wf.conflicts, events: &case.events }.render())
        @if !steps.is_empty() || !offer.route_levels.is_empty() || offer.return_visit
            || !offer.assist.is_empty() || offer.sign_part.is_some() || offer.finish_part.is_some() {
            section.actions #actions {
                h2 { (l.t("actions")) }
                @if !steps.is_empty() {
                    form method="post" action=(format!("/console/cases/{id}/action")) {
                        label { (l.t("note")) input #note name="note"; }
                        @if steps.contains(&EventType::Resolved) {
                            label { (l.t("reply"))
                                textarea #reply name="reply" rows="3" maxlength="2000" placeholder=(l.t("reply_help")) {}
                            }
                        }
                        @if steps.contains(&EventType::Resolved) && wf.open_parts().next().is_some() {
                            p.explain #resolve-reason-hint { strong { (l.joint("resolve_reason_hint")) } }
                        }
                        @if steps.contains(&EventType::Assigned) {
                            label { (l.t("department"))
                                select #department name="department" {
                                    @for d in live.rules.taxonomy().departments() {
                                        option value=(d.code) { (department_name(&state, l, &d.code)) }
                                    }
                                }
                            }
                            // 联合派单: assisting departments besides the lead, in the same change.
                            fieldset #assist-pick {
                                legend { (l.joint("assist_pick")) }
                                @for d in live.rules.taxonomy().departments() {
                                    label.check { input type="checkbox" name="assist" value=(d.code) id=(format!("assist-{}", d.code)); " " (department_name(&state, l, &d.code)) }
                                }
                            }
                        }
                        @if steps.contains(&EventType::Evaluated) {
                            label { (l.t("rating"))
                                select #rating name="rating" {
                                    option value="" { (l.t("rating_pick")) }
                                    @for rt in Rating::ALL {
                                        option value=(rt.as_str()) { (l.rating(rt)) }
                                    }
                                }
                            }
                        }
                        @for s in steps {
                            button.step type="submit" name="kind" value=(s.as_str()) id=(format!("do-{}", s.as_str())) { (event_label(l, *s)) }
                        }
                    }
                }
                @if !offer.route_levels.is_empty() {
                    form #route-form method="post" action=(format!("/console/cases/{id}/action")) {
                        h3 { (l.t("route_title")) }
                        input type="hidden" name="kind" value="routed";
                        label { (l.t("route_level"))
                            select #route-level name="level" {
                                @for lv in &offer.route_levels {
                                    option value=(lv.as_str()) selected[*lv == gridsync_core::Level::Grid] { (l.level(lv.as_str())) }
                                }
                            }
                        }
                        label { (l.t("note")) input #route-note name="note"; }
                        button #do-routed type="submit" { (event_label(l, EventType::Routed)) }
                    }
                }
                @if offer.return_visit {
                    form #return-visit-form method="post" action=(format!("/console/cases/{id}/action")) {
                        h3 { (l.t("return_visit")) }
                        input type="hidden" name="kind" value="return_visit";
                        label { (l.t("rv_via"))
                            select #rv-via name="via" {
                                @for (v, _) in RETURN_VISIT_WAYS {
                                    option value=(v) { (l.word(RETURN_VISIT_WAYS, v)) }
                                }
                            }
                        }
                        label { (l.t("rv_note")) textarea #rv-note name="note" rows="2" maxlength="2000" required {} }
                        label { (l.joint("verdict"))
                            select #rv-verdict name="verdict" {
                                option value="" { (l.joint("verdict_none")) }
                                @for v in Verdict::ALL {
                                    option value=(v.as_str()) { (l.verdict(v)) }
                                }
                            }
                        }
                        @if steps.contains(&EventType::Evaluated) {
                            label { (l.t("rv_rating"))
                                select #rv-rating name="rating" {
                                    option value="" { (l.t("rv_no_rating")) }
                                    @for rt in Rating::ALL {
                                        option value=(rt.as_str()) { (l.rating(rt)) }
                                    }
                                }
                            }
                        }
                        button #do-return_visit type="submit" { (event_label(l, EventType::ReturnVisit)) }
                    }
                }
                (part_forms(&state, l, &id, &offer))
            }
        }
        section.timeline #timeline {
            h2 { (l.t("timeline")) }
            table {
                thead { tr { th { (l.t("device_time")) } th { (l.t("received_at")) } th { (l.t("person")) } th { (l.t("device")) } th { (l.t("signature")) } th { (l.t("what_changed")) } } }
                tbody {
                    @for h in shown {
                        @let steps_here: Vec<&gridsync_core::CaseEvent> = case.events.iter().filter(|e| event_changes.get(&e.id).is_some_and(|c| c.to_string() == h.hash)).collect();
                        @let device_time = change_time_ms(h.device_time);
                        tr data-hash=(h.hash) {
                            td { @if device_time == 0 { "—" } @else { (cal.local_date_time(device_time)) } }
                            td { (cal.local_date_time(h.received_at)) }
                            td { (r.names.who(&h.user)) }
                            td {
                                (device_label(l, &h.device))
                                @if let Some(relay) = &h.relayed_by {
                                    " " span.relayed title=(relay.device) { (l.t("relayed_pre")) (r.names.who(&relay.user)) (l.t("relayed_post")) }
                                }
                            }
                            td {
                                @match &h.signed_by {
                                    Some(by) => span.verified title=(format!("{} {}", l.t("signed_by"), by)) { (l.t("signed")) },
                                    None => span.unverified title=(l.t("unsigned_hint")) { (l.t("unsigned")) },
                                }
                            }
                            td {
                                @if steps_here.is_empty() { (l.t("edited")) }
                                @for e in steps_here {
                                    span.event data-kind=(e.kind.as_str()) { (event_name(&state, l, e)) @if !e.note.is_empty() { "：" (e.note) } }
                                }
                            }
                        }
                    }
                }
            }
            @if history_pages > 1 {
                nav.pager #history-pager {
                    @if history_page > 1 { a #history-first href=(history_link(1)) { (l.t("first")) } " " a #history-prev href=(history_link(history_page - 1)) { (l.t("prev")) } " " }
                    span { (l.pick(&format!("第 {history_page} / {history_pages} 页，共 {} 次修改", history.len()), &format!("page {history_page} of {history_pages}, {} changes", history.len()))) }
                    @if history_page < history_pages { " " a #history-next href=(history_link(history_page + 1)) { (l.t("next")) } " " a #history-last href=(history_link(history_pages)) { (l.t("last")) } }
                }
            }
        }
    };
    Ok(page(&r, &case.title, "cases", body).into_response())
}

fn event_name(state: &AppState, l: Lang, e: &gridsync_core::CaseEvent) -> String {
    let mut s = step_name(l, e.kind);
    if e.kind == EventType::Supervised || e.kind == EventType::Escalated {
        s = format!("{s}（{}）", l.level(e.level.as_str()));
    }
    if let Some(d) = &e.department {
        s = format!("{s} → {}", department_name(state, l, d));
    }
    if e.kind == EventType::Routed {
        s = format!("{s} → {}", l.level(e.level.as_str()));
    }
    if let Some(v) = &e.via {
        s = format!("{s}（{}）", l.word(RETURN_VISIT_WAYS, v));
    }
    if let Some(rt) = e.rating {
        s = format!("{s}：{}（{}）", l.rating(rt), rated_by(l, e.role));
    }
    if let Some(v) = e.verdict {
        s = format!("{s}：{}", l.verdict(v));
    }
    if let Some(reply) = &e.reply {
        s = format!("{s}；{}：{reply}", l.t("reply"));
    }
    s
}

/// Who holds which part of the dispatch standing now: the lead department (主办) and each
/// assisting one (协办), with when each was dispatched, signed for (and by whom) and done, its
/// current deadline and how high it has been supervised (督办).
fn parts_panel(
    state: &AppState,
    r: &Reviewer,
    wf: &WorkflowState,
    events: &[CaseEvent],
    now: Millis,
) -> Markup {
    let l = r.lang;
    let cal = state.store.rules_now();
    let cal = cal.rules.calendar();
    let at =
        |t: Option<Millis>| html! { @match t { Some(t) => (cal.local_date_time(t)), None => "—" } };
    let due = |d: Option<Millis>, late: bool| {
        html! {
            @if let Some(d) = d {
                span class=(if late { "due late" } else { "due" }) { (cal.local_date_time(d)) }
                @if late { " " (l.joint("part_overdue")) }
            } @else { "—" }
        }
    };
    let level = |lv: Option<gridsync_core::Level>| html! { @match lv { Some(lv) => (l.level(lv.as_str())), None => "—" } };
    // The lead's steps: the dispatch standing now and the department's signing for it.
    let assigned = events.iter().rposition(|e| e.kind == EventType::Assigned);
    let signed =
        assigned.and_then(|i| events[i..].iter().find(|e| e.kind == EventType::InProgress));
    let held = matches!(
        wf.status,
        workflow::Status::Assigned | workflow::Status::InProgress
    );
    html! {
        section.parts #parts {
            h2 { (l.joint("parts_title")) }
            table {
                thead { tr {
                    th { (l.joint("part_role")) } th { (l.joint("part_department")) } th { (l.joint("part_assigned_at")) }
                    th { (l.joint("part_signed")) } th { (l.joint("part_done")) } th { (l.joint("part_due")) } th { (l.joint("part_supervised")) }
                } }
                tbody {
                    @if let Some(d) = &wf.department {
                        tr.part #part-lead data-department=(d) data-role="lead" {
                            td { (l.joint("part_lead")) }
                            td { (department_name(state, l, d)) }
                            td { (at(assigned.map(|i| events[i].at))) }
                            td.signed { @match signed { Some(e) => { (r.names.who(&e.by)) " · " (cal.local_date_time(e.at)) }, None => (l.joint("part_waiting")) } }
                            td.done { (at(wf.resolved_at)) }
                            td { (due(wf.due.filter(|_| held), held && workflow::is_overdue(wf, now))) }
                            td { (level(wf.supervised_level)) }
                        }
                    }
                    @for p in &wf.parts {
                        @let late = wf.status.is_open() && !p.is_done() && p.due.is_some_and(|d| now > d);
                        tr.part id=(format!("part-{}", p.department)) data-department=(p.department) data-role="assist" data-done=(p.is_done()) {
                            td { (l.joint("part_assist")) }
                            td { (department_name(state, l, &p.department)) }
                            td { (cal.local_date_time(p.assigned_at)) }
                            td.signed {
                                @match (&p.signed_by, p.signed_at) {
                                    (Some(by), Some(t)) => { (r.names.who(by)) " · " (cal.local_date_time(t)) },
                                    (None, Some(t)) => (cal.local_date_time(t)),
                                    _ => (l.joint("part_waiting")),
                                }
                            }
                            td.done { @match p.done_at { Some(t) => (cal.local_date_time(t)), None => (l.joint("part_open")) } }
                            td { (due(p.due, late)) }
                            td { (level(p.supervised_level)) }
                        }
                    }
                }
            }
        }
    }
}

/// The forms of a joint dispatch's parts: adding assisting departments (township and county),
/// and a department's signing for its part and reporting it done.
fn part_forms(state: &AppState, l: Lang, id: &str, offer: &super::actions::Offer) -> Markup {
    let action = format!("/console/cases/{id}/action");
    html! {
        @if !offer.assist.is_empty() {
            form #assist-form method="post" action=(action) {
                h3 { (l.joint("add_assist_title")) }
                input type="hidden" name="kind" value=(EventType::PartAssigned.as_str());
                fieldset {
                    @for d in &offer.assist {
                        label.check { input type="checkbox" name="assist" value=(d) id=(format!("add-assist-{d}")); " " (department_name(state, l, d)) }
                    }
                }
                label { (l.t("note")) input #assist-note name="note"; }
                button #do-part_assigned type="submit" { (l.joint("add_assist")) }
            }
        }
        @if let Some(d) = &offer.sign_part {
            form #part-sign-form method="post" action=(action) {
                h3 { (l.joint("sign_part_title")) " · " (department_name(state, l, d)) }
                input type="hidden" name="kind" value=(EventType::PartSigned.as_str());
                input type="hidden" name="department" value=(d);
                label { (l.t("note")) input #part-sign-note name="note"; }
                button #do-part_signed type="submit" { (l.part_step(EventType::PartSigned)) }
            }
        }
        @if let Some(d) = &offer.finish_part {
            form #part-done-form method="post" action=(action) {
                h3 { (l.joint("finish_part_title")) " · " (department_name(state, l, d)) }
                input type="hidden" name="kind" value=(EventType::PartDone.as_str());
                input type="hidden" name="department" value=(d);
                label { (l.joint("part_note")) textarea #part-done-note name="note" rows="2" maxlength="2000" required {} }
                button #do-part_done type="submit" { (l.part_step(EventType::PartDone)) }
            }
        }
    }
}

/// Whose rating an `evaluated` event is: the requester's own (written by the server for them)
/// or one staff recorded.
pub(super) fn rated_by(l: Lang, role: gridsync_core::Role) -> &'static str {
    l.t(match Rating::is_requesters(role) {
        true => "rated_by_requester",
        false => "rated_by_staff",
    })
}

/// The front door's rows of the fields table: the source, the receipt, the requester (as this
/// reader may see them), the reply, whose rating stands and the return visits.
pub(super) fn front_door_rows(
    l: Lang,
    case: &Case,
    wf: &WorkflowState,
    receipt: Option<&str>,
) -> Markup {
    html! {
        tr { th { (l.t("case_source")) } td #case-source data-code=(case.source.as_str()) { (l.source(case.source.as_str())) } }
        @if let Some(no) = receipt {
            tr { th { (l.t("case_receipt")) } td.mono #case-receipt { (no) } }
        }
        @if let Some(p) = case.requester() {
            tr { th { (l.t("requester")) } td #case-requester {
                (p.name) @if !p.phone.is_empty() { " · " span.mono #case-requester-phone { (p.phone) } }
            } }
        }
        @if let Some(reply) = &wf.reply {
            tr { th { (l.t("reply")) } td.pre #case-reply { (reply) } }
        }
        @if let Some(rt) = wf.rating {
            tr { th { (l.t("current_rating")) } td #case-rating data-by=(if wf.rating_by_requester { "requester" } else { "staff" }) {
                (l.rating(rt)) " · "
                (l.t(if wf.rating_by_requester { "rated_by_requester" } else { "rated_by_staff" }))
            } }
        }
        @if wf.return_visits > 0 {
            tr { th { (l.t("return_visits")) } td #case-return-visits { (wf.return_visits) } }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ThumbQuery {
    thumb: Option<String>,
}

pub(super) async fn console_blob(
    State(state): State<Arc<AppState>>,
    r: ConsoleSession,
    Path(sha256): Path<String>,
    Query(q): Query<ThumbQuery>,
) -> Result<Served, ConsoleError> {
    let thumb = crate::blobs::wants_thumb(q.thumb.as_deref());
    Ok(state
        .blobs
        .read_for(&state.store, &r.who, &sha256, thumb)
        .await?)
}
