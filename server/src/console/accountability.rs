//! 问责 in the console, for the county (`Role::decides_accountability`): the records the
//! switched-on triggers raised — the situation, the unit and the person holding the case then,
//! the events that prove it — undecided or decided, and the county's decision on each (通报,
//! 约谈, 诫勉 or 不予问责, with a note), recorded once through `Store::decide_accountability`,
//! which audits it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gridsync_core::assessment::{Decision, UnitKind};
use gridsync_core::workflow::CaseEvent;
use maud::{Markup, html};
use serde::Deserialize;

use super::cases::department_name;
use super::{ConsoleError, Lang, Reviewer, SameOrigin, forbidden_page, page};
use crate::AppState;
use crate::store::{AccountabilityFilter, AccountabilityRecord, StoreError};

const NAV: &str = "accountability";
/// The longest note, in characters.
const NOTE_CHARS: usize = 2_000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/accountability", get(list))
        .route("/console/accountability/{id}/decide", post(decide))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Shown {
    /// `decided` for the decided records; anything else the undecided.
    show: String,
    /// The record a decision was just recorded on.
    saved: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DecideForm {
    decision: String,
    note: String,
}

/// What the page says at one record: its decision recorded, or refused (and why).
struct Notice {
    id: String,
    refused: Option<&'static str>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(q): Query<Shown>,
) -> Result<Response, ConsoleError> {
    if !r.who.role.decides_accountability() {
        return Ok(forbidden_page(&r, NAV, "acc_only"));
    }
    let notice = (!q.saved.is_empty()).then(|| Notice {
        id: q.saved.clone(),
        refused: None,
    });
    render(&state, &r, q.show == "decided", notice, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    r: &Reviewer,
    decided: bool,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let all = state
        .store
        .accountability(AccountabilityFilter::default())
        .await?;
    let (done, open): (Vec<_>, Vec<_>) = all.into_iter().partition(|a| a.decision.is_some());
    let shown = if decided { &done } else { &open };
    // Each case's log once, for the proving events of its records.
    let mut logs: HashMap<String, Vec<CaseEvent>> = HashMap::new();
    for rec in shown {
        if !logs.contains_key(&rec.case_id) {
            let events = match state.store.case_doc(&rec.case_id).await? {
                Some(doc) => doc.read().map(|c| c.events).unwrap_or_default(),
                None => Vec::new(),
            };
            logs.insert(rec.case_id.clone(), events);
        }
    }
    let tab = |key: &'static str, on: bool, n: usize, href: &'static str| {
        html! { a href=(href) class=(if on { "tab on" } else { "tab" }) { (l.t(key)) " (" (n) ")" } }
    };
    let body = html! {
        h1 #accountability-title { (l.t("acc_title")) }
        p.explain { (l.t("acc_explain")) }
        nav.tabs #acc-tabs {
            span #tab-open { (tab("acc_open", !decided, open.len(), "/console/accountability")) }
            " "
            span #tab-decided { (tab("acc_decided", decided, done.len(), "/console/accountability?show=decided")) }
        }
        @if shown.is_empty() { p.empty #no-records { (l.t("acc_none")) } }
        @for rec in shown {
            (record(state, r, rec, logs.get(&rec.case_id).map(Vec::as_slice).unwrap_or_default(), notice.as_ref().filter(|n| n.id == rec.id)))
        }
    };
    Ok((status, page(r, l.t("acc_title"), NAV, body)).into_response())
}

/// The unit a record names, by name, its kind before it.
fn unit(state: &AppState, r: &Reviewer, rec: &AccountabilityRecord) -> String {
    let l = r.lang;
    let name = match rec.unit.kind {
        UnitKind::Department => department_name(state, l, &rec.unit.code),
        UnitKind::Worker => r.names.person(&rec.unit.code).to_owned(),
        UnitKind::Township | UnitKind::Village | UnitKind::County => r.names.area(&rec.unit.code),
    };
    format!("{} {name}", l.unit_kind(rec.unit.kind))
}

fn step_name(l: Lang, e: &CaseEvent) -> String {
    match l {
        Lang::Zh => e.kind.name_zh().to_owned(),
        Lang::En => l.status(e.kind.as_str()),
    }
}

fn record(
    state: &AppState,
    r: &Reviewer,
    rec: &AccountabilityRecord,
    log: &[CaseEvent],
    notice: Option<&Notice>,
) -> Markup {
    let l = r.lang;
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    html! {
        section.acc-record id=(format!("acc-{}", rec.id)) data-record=(rec.id) data-decided=(rec.decision.is_some()) {
            @if let Some(n) = notice {
                @match n.refused {
                    None => { p.ok.acc-saved role="status" { (l.t("acc_saved")) } }
                    Some(why) => { p.error.acc-error role="alert" { (l.t("acc_refused")) "：" (l.t(why)) } }
                }
            }
            table.sheet {
                tr { th { (l.t("acc_trigger")) } td.trigger data-trigger=(rec.trigger.as_str()) { (l.trigger(rec.trigger)) } }
                tr { th { (l.t("acc_unit")) } td.unit data-unit=(rec.unit.code) title=(rec.unit.code) { (unit(state, r, rec)) } }
                tr { th { (l.t("acc_person")) } td.person { @match &rec.person { Some(p) => (r.names.who(p)), None => "—" } } }
                tr { th { (l.t("acc_case")) } td { a.case-link href=(format!("/console/cases/{}", rec.case_id)) { (rec.case_id) } } }
                tr { th { (l.t("acc_events")) } td {
                    ol.events {
                        @for id in &rec.events {
                            @match log.iter().find(|e| &e.id == id) {
                                Some(e) => li.proof data-event=(id) {
                                    (step_name(l, e)) " · " (cal.local_date_time(e.at)) " · " (r.names.who(&e.by))
                                    @if !e.note.is_empty() { " · " span.muted { (super::shorten(&e.note, super::LIST_TITLE_CHARS)) } }
                                },
                                None => li.proof data-event=(id) { span.mono { (id) } " " span.muted { (l.t("acc_event_missing")) } },
                            }
                        }
                    }
                } }
                tr { th { (l.t("acc_raised")) } td { (cal.local_date_time(rec.raised_at)) } }
                @if let Some(d) = rec.decision {
                    tr { th { (l.t("acc_decision")) } td.decision data-decision=(d.as_str()) { strong { (l.decision(d)) } } }
                    tr { th { (l.t("acc_note")) } td.note.pre { (rec.note) } }
                    tr { th { (l.t("acc_decided_by")) } td.decided-by { @if let Some(by) = &rec.decided_by { (r.names.who(by)) } } }
                    tr { th { (l.t("acc_decided_at")) } td { @if let Some(at) = rec.decided_at { (cal.local_date_time(at)) } } }
                }
            }
            @if rec.decision.is_none() {
                form.decide method="post" action=(format!("/console/accountability/{}/decide", rec.id)) {
                    fieldset {
                        legend { (l.t("acc_decision")) }
                        @for d in Decision::ALL {
                            label.check { input type="radio" name="decision" value=(d.as_str()) required; (l.decision(d)) }
                        }
                    }
                    label { (l.t("acc_note")) textarea name="note" rows="2" cols="60" maxlength=(NOTE_CHARS) required {} }
                    button.decide-submit type="submit" { (l.t("acc_decide")) }
                }
            }
        }
    }
}

async fn decide(
    State(state): State<Arc<AppState>>,
    _: SameOrigin,
    r: Reviewer,
    Path(id): Path<String>,
    Form(f): Form<DecideForm>,
) -> Result<Response, ConsoleError> {
    if !r.who.role.decides_accountability() {
        return Err(ConsoleError::Forbidden("county admins only"));
    }
    // The page again, saying why at the record (among the decided ones when it is decided).
    let refused = |why: &'static str, status: StatusCode| {
        let notice = Notice {
            id: id.clone(),
            refused: Some(why),
        };
        render(&state, &r, why == "acc_already", Some(notice), status)
    };
    let Some(rec) = state.store.accountability_record(&id).await? else {
        return Err(ConsoleError::NotFound("no such accountability record"));
    };
    if rec.decision.is_some() {
        return refused("acc_already", StatusCode::CONFLICT).await;
    }
    let Some(decision) = Decision::parse(f.decision.trim()) else {
        return refused("acc_bad_decision", StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let note = f.note.trim();
    if note.is_empty() || note.chars().count() > NOTE_CHARS {
        return refused("acc_note_required", StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match state
        .store
        .decide_accountability(&id, decision, note, &r.who, crate::now_ms())
        .await
    {
        Ok(_) => {
            let query = serde_urlencoded::to_string([("show", "decided"), ("saved", id.as_str())])
                .unwrap_or_default();
            // The fragment only for an id that needs no escaping (stored ids are UUIDs).
            let plain = id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            let anchor = if plain {
                format!("#acc-{id}")
            } else {
                String::new()
            };
            Ok(Redirect::to(&format!("/console/accountability?{query}{anchor}")).into_response())
        }
        // Decided by someone else since the page was read.
        Err(StoreError::Conflict(_)) => refused("acc_already", StatusCode::CONFLICT).await,
        Err(StoreError::NotFound(_)) => {
            Err(ConsoleError::NotFound("no such accountability record"))
        }
        Err(e) => Err(e.into()),
    }
}
