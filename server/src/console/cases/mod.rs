//! Case list (filters, sorting, paging, counts, export) and case detail (fields, photos, timeline,
//! conflict panel, actions).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gridsync_core::calendar::Calendar;
use gridsync_core::workflow::{self, CaseFacts, Deadlines, EventDraft, EventType, Rating};
use gridsync_core::{CaseDoc, CaseKind, Identity, Status};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::{ConsoleError, Lang, Reviewer, console_device, page, same_origin};
use crate::AppState;
use crate::blobs::Served;
use crate::store::{CaseQuery, CaseRow, StoreError};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/cases", get(list))
        .route("/console/cases/{id}", get(detail))
        .route("/console/cases/{id}/action", post(action))
        .route("/console/cases/{id}/settle", post(settle))
        .route("/console/blobs/{sha256}", get(console_blob))
        .route("/console/export.csv", get(export_csv))
        .route("/console/export.xlsx", get(export_xlsx))
}

/// The list's filters as a browser submits them: every field a string, empty when unset.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Filters {
    pub status: String,
    pub kind: String,
    pub category: String,
    pub township: String,
    pub village: String,
    pub grid: String,
    pub overdue: String,
    pub conflict: String,
    pub accountability: String,
    /// `YYYY-MM-DD`, local time.
    pub from: String,
    pub to: String,
    pub q: String,
    pub sort: String,
    pub page: String,
}

fn opt(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.trim().to_owned())
}

impl Filters {
    pub fn query(&self, calendar: &Calendar) -> CaseQuery {
        const DAY: i64 = 86_400_000;
        CaseQuery {
            status: opt(&self.status),
            kind: opt(&self.kind),
            category: opt(&self.category),
            township: opt(&self.township),
            village: opt(&self.village),
            grid: opt(&self.grid),
            conflict: (!self.conflict.is_empty()).then_some(true),
            overdue: (!self.overdue.is_empty()).then_some(true),
            accountability: (!self.accountability.is_empty()).then_some(true),
            from: calendar.local_midnight(self.from.trim()),
            // Through the end of the `to` day.
            to: calendar.local_midnight(self.to.trim()).map(|t| t + DAY),
            q: opt(&self.q),
            due_before: None,
            sort: opt(&self.sort),
            page: self.page.trim().parse().ok(),
            per_page: Some(PER_PAGE),
        }
    }

    /// This filter as a query string, with `page` replaced.
    fn link(&self, base: &str, page: Option<u32>) -> String {
        let mut f = self.clone();
        f.page = page.map(|p| p.to_string()).unwrap_or_default();
        let pairs: Vec<(&str, &str)> = [
            ("status", f.status.as_str()),
            ("kind", &f.kind),
            ("category", &f.category),
            ("township", &f.township),
            ("village", &f.village),
            ("grid", &f.grid),
            ("overdue", &f.overdue),
            ("conflict", &f.conflict),
            ("accountability", &f.accountability),
            ("from", &f.from),
            ("to", &f.to),
            ("q", &f.q),
            ("sort", &f.sort),
            ("page", &f.page),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        match serde_urlencoded::to_string(pairs) {
            Ok(q) if !q.is_empty() => format!("{base}?{q}"),
            _ => base.to_owned(),
        }
    }
}

const PER_PAGE: u32 = 50;
/// Rows an export holds at most.
const MAX_EXPORT: u32 = 10_000;

async fn list(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let now = crate::now_ms();
    let q = f.query(&state.calendar);
    let (page_data, counts) = tokio::try_join!(
        state.store.list_cases(&r.who, &q, now),
        state.store.status_counts(&r.who, &q, now)
    )?;
    let pages = ((page_data.total + i64::from(PER_PAGE) - 1) / i64::from(PER_PAGE)).max(1);
    // Every status a case can be listed in (a new case is still on its phone).
    let statuses = Status::ALL
        .into_iter()
        .filter(|s| *s != Status::New)
        .map(Status::as_str);
    let kinds = CaseKind::ALL.map(CaseKind::as_str);
    let categories: Vec<_> = state.taxonomy.categories().collect();
    let body = html! {
        form.filters #filters method="get" action="/console/cases" {
            label { (l.t("status"))
                select name="status" #f-status {
                    option value="" { (l.t("all")) }
                    @for s in statuses { option value=(s) selected[f.status == s] { (l.status(s)) } }
                }
            }
            label { (l.t("kind"))
                select name="kind" #f-kind {
                    option value="" { (l.t("all")) }
                    @for k in kinds { option value=(k) selected[f.kind == k] { (l.kind(k)) } }
                }
            }
            label { (l.t("category"))
                select name="category" #f-category {
                    option value="" { (l.t("all")) }
                    @for c in &categories {
                        option value=(c.code) selected[f.category == c.code] {
                            (l.pick(&c.name_zh, &c.name_en))
                        }
                    }
                }
            }
            label { (l.t("township")) input #f-township name="township" size="4" value=(f.township); }
            label { (l.t("village")) input #f-village name="village" size="4" value=(f.village); }
            label { (l.t("grid")) input #f-grid name="grid" size="3" value=(f.grid); }
            label.check { input #f-overdue type="checkbox" name="overdue" value="1" checked[!f.overdue.is_empty()]; (l.t("overdue")) }
            label.check { input #f-conflict type="checkbox" name="conflict" value="1" checked[!f.conflict.is_empty()]; (l.t("conflict")) }
            label.check { input #f-accountability type="checkbox" name="accountability" value="1" checked[!f.accountability.is_empty()]; (l.t("accountability")) }
            label { (l.t("from")) input #f-from type="date" name="from" value=(f.from); }
            label { (l.t("to")) input #f-to type="date" name="to" value=(f.to); }
            label { (l.t("search")) input #f-q name="q" value=(f.q); }
            label { (l.t("sort"))
                select name="sort" #f-sort {
                    @for (v, k) in [("newest", "sort_newest"), ("oldest", "sort_oldest"), ("due", "sort_due"), ("updated", "sort_updated")] {
                        option value=(v) selected[f.sort == v] { (l.t(k)) }
                    }
                }
            }
            button #apply type="submit" { (l.t("filter")) }
            a href="/console/cases" { (l.t("reset")) }
        }
        p.counts {
            span #total { (l.t("total")) " " (page_data.total) " " (l.t("items")) }
            @for (s, n) in &counts { span.chip { (l.status(s)) " " (n) } }
            a #export-csv href=(f.link("/console/export.csv", None)) { (l.t("export_csv")) }
            a #export-xlsx href=(f.link("/console/export.xlsx", None)) { (l.t("export_xlsx")) }
        }
        @if page_data.items.is_empty() {
            p.empty { (l.t("no_cases")) }
        } @else {
            table #cases {
                thead { tr {
                    th { (l.t("title")) } th { (l.t("kind")) } th { (l.t("category")) } th { (l.t("place")) }
                    th { (l.t("status")) } th { (l.t("level")) } th { (l.t("due")) } th { (l.t("reporter")) } th { (l.t("reported_at")) }
                } }
                tbody {
                    @for c in &page_data.items { (row(&state, l, c)) }
                }
            }
        }
        nav.pager {
            @if page_data.page > 1 { a #prev href=(f.link("/console/cases", Some(page_data.page - 1))) { (l.t("prev")) } }
            span { (page_data.page) " / " (pages) " " (l.t("page")) }
            @if i64::from(page_data.page) < pages { a #next href=(f.link("/console/cases", Some(page_data.page + 1))) { (l.t("next")) } }
        }
    };
    Ok(page(&r, l.t("cases"), "cases", body).into_response())
}

pub(super) fn department_name(state: &AppState, l: Lang, code: &str) -> String {
    state
        .taxonomy
        .department(code)
        .map(|d| l.pick(&d.name_zh, &d.name_en).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

pub(super) fn category_name(state: &AppState, l: Lang, code: &str) -> String {
    state
        .taxonomy
        .category(code)
        .map(|c| l.pick(&c.name_zh, &c.name_en).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

pub(super) fn row(state: &AppState, l: Lang, c: &CaseRow) -> Markup {
    html! {
        tr.case data-id=(c.id) {
            td {
                a.title href=(format!("/console/cases/{}", c.id)) { (c.title) }
                @if c.field_conflicts + c.workflow_conflicts > 0 { " " span.badge.conflict { (l.t("conflict")) } }
                @if c.accountability { " " span.badge.acc { (l.t("accountability")) } }
            }
            td { (l.kind(&c.kind)) }
            td { (category_name(state, l, &c.category)) }
            td.mono { (c.path) }
            td.status { (l.status(&c.status)) }
            td { (l.level(&c.level)) }
            td {
                @if let Some(d) = c.due_at {
                    span class=(if c.overdue { "due late" } else { "due" }) { (state.calendar.local_date_time(d)) }
                    @if c.overdue { " " span.badge.late { (l.t("overdue")) } }
                }
            }
            td { (c.reporter) }
            td { (state.calendar.local_date_time(c.created_at)) }
        }
    }
}

/// What the page says after an action: `?done=1` or `?error=<reason>`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Flash {
    done: String,
    error: String,
}

/// Steps a reviewer may offer, with the form fields each needs.
const OFFERED: [EventType; 9] = [
    EventType::Accepted,
    EventType::Assigned,
    EventType::InProgress,
    EventType::Resolved,
    EventType::Escalated,
    EventType::Returned,
    EventType::Supervised,
    EventType::Reopened,
    EventType::Archived,
];

fn event_label(l: Lang, e: EventType) -> &'static str {
    l.t(match e {
        EventType::Accepted => "ev_accepted",
        EventType::Assigned => "ev_assigned",
        EventType::InProgress => "ev_in_progress",
        EventType::Resolved => "ev_resolved",
        EventType::Escalated => "ev_escalated",
        EventType::Returned => "ev_returned",
        EventType::Supervised => "ev_supervised",
        EventType::Reopened => "ev_reopened",
        _ => "ev_archived",
    })
}

/// The draft for a step as the console offers it; `department` for a dispatch.
fn draft_for(kind: EventType, note: &str, department: &str) -> EventDraft {
    let d = match kind {
        EventType::Assigned => EventDraft::assign_to(department),
        other => EventDraft::new(other),
    };
    d.note(note)
}

/// The steps the rules allow `who` on this case now (checked by preparing each, as a dry run).
fn allowed_steps(state: &AppState, doc: &CaseDoc, who: &Identity) -> Vec<EventType> {
    let Ok(case) = doc.read() else {
        return Vec::new();
    };
    let deadlines = Deadlines {
        taxonomy: &state.taxonomy,
        calendar: &state.calendar,
    };
    let facts = CaseFacts {
        kind: case.kind,
        place: &case.jurisdiction,
        category: &case.category,
    };
    // Any catalogue department stands in for the reviewer's choice in the dry run.
    let dept = state
        .taxonomy
        .category(&case.category)
        .and_then(|c| c.department.clone())
        .or_else(|| state.taxonomy.departments().next().map(|d| d.code.clone()))
        .unwrap_or_default();
    OFFERED
        .into_iter()
        .filter(|k| {
            // Steps that need a reason are offered with one.
            let draft = draft_for(*k, "-", &dept);
            workflow::prepare(&case.events, draft, who, crate::now_ms(), facts, &deadlines).is_ok()
        })
        .collect()
}

async fn detail(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            page(
                &r,
                l.t("not_found"),
                "cases",
                html! { p.error #not-found { (l.t("not_found")) } },
            ),
        )
            .into_response()
    };
    if gridsync_core::case::validate_case_id(&id).is_err()
        || !state.store.may_read(&r.who, &id).await?
    {
        return Ok(not_found());
    }
    let (doc, history) =
        match tokio::try_join!(state.store.case_doc(&id), state.store.case_history(&id))? {
            (Some(d), h) => (d, h),
            (None, _) => return Ok(not_found()),
        };
    let (case, wf) = match (doc.read(), doc.workflow()) {
        (Ok(case), Ok(wf)) => (case, wf),
        (Err(e), _) | (_, Err(e)) => return Err(StoreError::from(e).into()),
    };
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
    let conflicts = doc.conflicts();
    let steps = allowed_steps(&state, &doc, &r.who);
    let cal = &state.calendar;
    // The timeline: each change with its device and receipt times, and the steps it carried.
    let body = html! {
        @if !flash.done.is_empty() { p.ok #flash-done { (l.t("done")) } }
        @if !flash.error.is_empty() { p.error #flash-error { (l.t("refused")) ": " (flash.error) } }
        h1 #case-title { (case.title) }
        p.meta {
            span.status #case-status { (l.status(wf.status.as_str())) }
            " · " (l.level(wf.level.as_str()))
            @if let Some(d) = wf.due {
                " · " (l.t("due")) " " span class=(if workflow::is_overdue(&wf, now) { "due late" } else { "due" }) #case-due { (cal.local_date_time(d)) }
            }
            @if let Some(o) = &wf.owner { " · " (l.t("owner")) " " (o) }
            @if let Some(d) = &wf.department { " · " (l.t("department")) " " span #case-department data-code=(d) { (department_name(&state, l, d)) } }
            @if wf.accountability { " · " span.badge.acc { (l.t("accountability")) } }
        }
        section.fields {
            table {
                tr { th { (l.t("kind")) } td { (l.kind(case.kind.as_str())) } }
                tr { th { (l.t("category")) } td { (category_name(&state, l, &case.category)) } }
                tr { th { (l.t("place")) } td.mono { (case.jurisdiction) } }
                tr { th { (l.t("address")) } td { (case.location.address) } }
                tr { th { (l.t("description")) } td.pre { (case.description) } }
                tr { th { (l.t("reporter")) } td { (case.reporter.user) " (" (case.reporter.device) ")" } }
                tr { th { (l.t("reported_at")) } td { (cal.local_date_time(case.created_at)) } }
                @if !case.people.is_empty() {
                    tr { th { (l.t("people")) } td {
                        @for p in &case.people { div { (p.name) " · " (p.role) " · " (p.phone) } }
                    } }
                }
                @for (k, v) in &case.extra { tr { th.mono { (k) } td { (v) } } }
            }
        }
        @if !case.mediation.sessions.is_empty() || !case.mediation.result.is_empty() || !case.mediation.agreement.is_empty() {
            section.mediation {
                h2 { (l.t("mediation")) }
                @for s in &case.mediation.sessions {
                    p { (cal.local_date_time(s.at)) " · " (s.mediators.join("、")) " · " (s.outcome) br; (s.notes) }
                }
                @if !case.mediation.agreement.is_empty() { p { b { (l.t("agreement")) ": " } (case.mediation.agreement) } }
                @if !case.mediation.result.is_empty() {
                    p { b { (l.t("result")) ": " } (case.mediation.result)
                        @if !case.mediation.referral.is_empty() { " · " (l.t("referral")) " " (case.mediation.referral) } }
                }
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
        @if !conflicts.is_empty() || !wf.conflicts.is_empty() {
            section.conflicts #conflicts {
                h2 { (l.t("conflicts")) }
                @for c in &conflicts {
                    div.conflict data-field=(c.field) {
                        h3.mono { (c.field) }
                        @for v in &c.values {
                            form.inline method="post" action=(format!("/console/cases/{id}/settle")) {
                                input type="hidden" name="field" value=(c.field);
                                input type="hidden" name="value" value=(v.value);
                                span.value { (v.value) }
                                span.by { (l.t("set_by")) " " (v.author.as_ref().map(|a| a.user.as_str()).unwrap_or("?"))
                                    " · " (v.author.as_ref().map(|a| a.device.as_str()).unwrap_or("?")) " · " (cal.local_date_time(v.at)) }
                                button.keep type="submit" { (l.t("keep")) }
                            }
                        }
                        form.inline method="post" action=(format!("/console/cases/{id}/settle")) {
                            input type="hidden" name="field" value=(c.field);
                            input.new-value name="value" required;
                            button.write type="submit" { (l.t("write_new")) }
                        }
                    }
                }
                @for wc in &wf.conflicts {
                    div.conflict.workflow {
                        h3 { (l.t("workflow_conflict")) }
                        @for (eid, label) in wc.applied.iter().map(|a| (a.as_str(), event_kind_of(&case.events, a))).chain(std::iter::once((wc.pending.as_str(), wc.pending_kind.as_str()))) {
                            form.inline method="post" action=(format!("/console/cases/{id}/action")) {
                                input type="hidden" name="kind" value="settled";
                                input type="hidden" name="chosen" value=(eid);
                                span.value { (EventType::parse(label).map(|k| l.pick(k.name_zh(), &l.status(k.as_str())).to_owned()).unwrap_or_else(|| label.to_owned())) }
                                button.choose type="submit" { (l.t("choose")) }
                            }
                        }
                    }
                }
            }
        }
        @if !steps.is_empty() {
            section.actions #actions {
                h2 { (l.t("actions")) }
                form method="post" action=(format!("/console/cases/{id}/action")) {
                    label { (l.t("note")) input #note name="note"; }
                    @if steps.contains(&EventType::Assigned) {
                        label { (l.t("department"))
                            select #department name="department" {
                                @for d in state.taxonomy.departments() {
                                    option value=(d.code) { (department_name(&state, l, &d.code)) }
                                }
                            }
                        }
                    }
                    @for s in &steps {
                        button.step type="submit" name="kind" value=(s.as_str()) id=(format!("do-{}", s.as_str())) { (event_label(l, *s)) }
                    }
                }
            }
        }
        section.timeline #timeline {
            h2 { (l.t("timeline")) }
            table {
                thead { tr { th { (l.t("device_time")) } th { (l.t("received_at")) } th { (l.t("user")) } th { (l.t("device")) } th { "" } } }
                tbody {
                    @for h in &history {
                        @let steps_here: Vec<&gridsync_core::CaseEvent> = case.events.iter().filter(|e| e.at == h.device_time && e.by == h.user).collect();
                        tr data-hash=(h.hash) {
                            td { (cal.local_date_time(h.device_time)) }
                            td { (cal.local_date_time(h.received_at)) }
                            td { (h.user) }
                            td.mono { (h.device) }
                            td {
                                @if steps_here.is_empty() { (l.t("edited")) }
                                @for e in steps_here {
                                    span.event { (event_name(&state, l, e)) @if !e.note.is_empty() { "：" (e.note) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&r, &case.title, "cases", body).into_response())
}

fn event_kind_of<'a>(events: &'a [gridsync_core::CaseEvent], id: &str) -> &'a str {
    events
        .iter()
        .find(|e| e.id == id)
        .map(|e| e.kind.as_str())
        .unwrap_or("?")
}

fn event_name(state: &AppState, l: Lang, e: &gridsync_core::CaseEvent) -> String {
    match l {
        Lang::Zh => {
            let mut s = e.kind.name_zh().to_owned();
            if e.kind == EventType::Supervised || e.kind == EventType::Escalated {
                s = format!("{s}（{}）", e.level.name_zh());
            }
            if let Some(d) = &e.department {
                s = format!("{s} → {}", department_name(state, l, d));
            }
            s
        }
        Lang::En => {
            let mut s = l.status(e.kind.as_str());
            if let Some(d) = &e.department {
                s = format!("{s} → {}", department_name(state, l, d));
            }
            s
        }
    }
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    kind: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    chosen: String,
    #[serde(default)]
    rating: String,
}

/// Writes one change on the reviewer's behalf and goes back to the case with the outcome.
async fn write<F>(state: &AppState, r: &Reviewer, id: &str, f: F) -> Result<Response, ConsoleError>
where
    F: FnOnce(&mut CaseDoc) -> gridsync_core::Result<Option<automerge::ChangeHash>>,
{
    let back = |q: &str| Redirect::to(&format!("/console/cases/{id}?{q}")).into_response();
    if !state.store.may_read(&r.who, id).await? {
        return Err(ConsoleError::NotFound("not found"));
    }
    let ctx = console_device(state, &r.who).await?;
    let now = crate::now_ms();
    match state
        .store
        .write_case(&ctx, &r.who, id, &state.taxonomy, now, f)
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
            &serde_urlencoded::to_string([("error", e.to_string())]).unwrap_or_default(),
        )),
        Err(e) => Err(e.into()),
    }
}

async fn action(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers) {
        return Err(ConsoleError::CROSS_SITE);
    }
    let Some(kind) = EventType::parse(&f.kind) else {
        return Err(ConsoleError::BadRequest("unknown step"));
    };
    let draft = match kind {
        EventType::Settled => EventDraft::settle(f.chosen.clone()),
        EventType::Evaluated => match Rating::parse(&f.rating) {
            Some(rating) => EventDraft::evaluate(rating),
            None => return Err(ConsoleError::BadRequest("a rating is required")),
        },
        other => draft_for(other, &f.note, &f.department),
    }
    .note(f.note.clone());
    let who = r.who.clone();
    let deadlines_state = state.clone();
    write(&state, &r, &id, move |doc| {
        let deadlines = Deadlines {
            taxonomy: &deadlines_state.taxonomy,
            calendar: &deadlines_state.calendar,
        };
        doc.edit(&who, crate::now_ms(), |e| {
            e.append_event_with(draft, &deadlines).map(|_| ())
        })
    })
    .await
}

#[derive(Debug, Deserialize)]
struct SettleForm {
    field: String,
    value: String,
}

async fn settle(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<SettleForm>,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers) {
        return Err(ConsoleError::CROSS_SITE);
    }
    let who = r.who.clone();
    write(&state, &r, &id, move |doc| {
        doc.edit(&who, crate::now_ms(), |e| {
            e.resolve_conflict(&f.field, &f.value)
        })
    })
    .await
}

/// The export's columns, Chinese headers first.
const COLUMNS: [(&str, &str); 12] = [
    ("案件编号", "id"),
    ("标题", "title"),
    ("类型", "kind"),
    ("事项分类", "category"),
    ("地点", "path"),
    ("状态", "status"),
    ("层级", "level"),
    ("上报人", "reporter"),
    ("上报时间", "created_at"),
    ("办理时限", "due_at"),
    ("是否超时", "overdue"),
    ("满意度", "rating"),
];

fn export_rows(state: &AppState, rows: &[CaseRow]) -> Vec<[String; 12]> {
    let l = Lang::Zh;
    rows.iter()
        .map(|c| {
            [
                c.id.clone(),
                c.title.clone(),
                l.kind(&c.kind),
                category_name(state, l, &c.category),
                c.path.clone(),
                l.status(&c.status),
                l.level(&c.level),
                c.reporter.clone(),
                state.calendar.local_date_time(c.created_at),
                c.due_at
                    .map(|d| state.calendar.local_date_time(d))
                    .unwrap_or_default(),
                if c.overdue { "是" } else { "否" }.to_owned(),
                c.rating.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

async fn exported(
    state: &AppState,
    r: &Reviewer,
    f: &Filters,
) -> Result<Vec<[String; 12]>, ConsoleError> {
    let q = f.query(&state.calendar);
    let rows = state
        .store
        .all_cases(&r.who, &q, crate::now_ms(), MAX_EXPORT)
        .await?;
    state
        .store
        .audit(
            &r.who.user,
            "console_export",
            &r.who.scope.to_string(),
            &rows.len().to_string(),
            crate::now_ms(),
        )
        .await?;
    Ok(export_rows(state, &rows))
}

fn csv_field(s: &str) -> String {
    // Quote everything; a leading formula character is defused so a spreadsheet shows text.
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn export_csv(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let rows = exported(&state, &r, &f).await?;
    // A byte-order mark: Excel on Chinese Windows opens UTF-8 CSV correctly only with it.
    let mut out = String::from("\u{feff}");
    out.push_str(
        &COLUMNS
            .iter()
            .map(|(zh, _)| csv_field(zh))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for row in rows {
        out.push_str(
            &row.iter()
                .map(|v| csv_field(v))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"cases.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

async fn export_xlsx(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let rows = exported(&state, &r, &f).await?;
    let built = (|| -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("案件")?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (c, (zh, _)) in COLUMNS.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, *zh, &bold)?;
        }
        for (i, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                sheet.write_string(i as u32 + 1, c as u16, v)?;
            }
        }
        book.save_to_buffer()
    })();
    let bytes = built.map_err(|e| ConsoleError::Internal(format!("xlsx export: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"cases.xlsx\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ThumbQuery {
    thumb: Option<String>,
}

async fn console_blob(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Path(sha256): Path<String>,
    Query(q): Query<ThumbQuery>,
) -> Result<Served, ConsoleError> {
    let thumb = crate::blobs::wants_thumb(q.thumb.as_deref());
    Ok(state
        .blobs
        .read_for(&state.store, &r.who, &sha256, thumb)
        .await?)
}
