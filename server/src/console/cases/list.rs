//! The case list: its filters as a browser submits them, sorting, paging, status counts and the
//! rows (also the board's).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use gridsync_core::calendar::Calendar;
use gridsync_core::{CaseKind, JurisdictionPath, Status};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::category_name;
use crate::AppState;
use crate::console::names::Names;
use crate::console::{ConsoleError, HOVER_CHARS, LIST_TITLE_CHARS, Lang, Reviewer, page, shorten};
use crate::store::{CaseQuery, CaseRow};

/// The list's filters as a browser submits them: every field a string, empty when unset.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Filters {
    pub status: String,
    pub kind: String,
    pub category: String,
    pub source: String,
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
            source: opt(&self.source),
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
            ("source", &f.source),
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

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let now = crate::now_ms();
    let q = f.query(state.store.rules_now().rules.calendar());
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
    let live = state.store.rules_now();
    let categories: Vec<_> = live.rules.taxonomy().categories().collect();
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
            label { (l.t("source"))
                select name="source" #f-source {
                    option value="" { (l.t("all")) }
                    @for s in gridsync_core::Source::ALL {
                        option value=(s.as_str()) selected[f.source == s.as_str()] { (l.source(s.as_str())) }
                    }
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
            (area_pickers(&r, &f))
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
                    @for c in &page_data.items { (row(&state, &r.names, l, c)) }
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

fn row(state: &AppState, names: &Names, l: Lang, c: &CaseRow) -> Markup {
    html! {
        tr.case data-id=(c.id) {
            td {
                a.title href=(format!("/console/cases/{}", c.id)) title=(shorten(&c.title, HOVER_CHARS)) { (shorten(&c.title, LIST_TITLE_CHARS)) }
                @if c.field_conflicts + c.workflow_conflicts > 0 { " " span.badge.conflict { (l.t("conflict")) } }
                @if c.accountability { " " span.badge.acc { (l.t("accountability")) } }
                @if gridsync_core::Source::parse(&c.source).is_some_and(|s| s.is_residents()) {
                    " " span.badge.source data-source=(c.source) { (l.source(&c.source)) }
                }
            }
            td { (l.kind(&c.kind)) }
            td { (category_name(state, l, &c.category)) }
            td { (names.place(&c.path)) }
            td.status { (l.status(&c.status)) }
            td { (l.level(&c.level)) }
            td {
                @if let Some(d) = c.due_at {
                    span class=(if c.overdue { "due late" } else { "due" }) { (state.store.rules_now().rules.calendar().local_date_time(d)) }
                    @if c.overdue { " " span.badge.late { (l.t("overdue")) } }
                }
            }
            td { (names.who(&c.reporter)) }
            td { (state.store.rules_now().rules.calendar().local_date_time(c.created_at)) }
        }
    }
}

/// Township → village → grid, each a list of names from the jurisdiction tree: a level offers
/// its areas once the level above is chosen (and the filter applied — no script needed). A
/// reviewer's own township or village is chosen already. Before a tree is imported, codes are
/// typed as they were.
fn area_pickers(r: &Reviewer, f: &Filters) -> Markup {
    let l = r.lang;
    let scope = &r.who.scope;
    let mut parent = JurisdictionPath::parse(scope.county()).ok();
    let mut levels = Vec::new();
    for (level, code) in [
        (
            "township",
            opt(&f.township).or(scope.township().map(str::to_owned)),
        ),
        (
            "village",
            opt(&f.village).or(scope.village().map(str::to_owned)),
        ),
        ("grid", opt(&f.grid).or(scope.grid().map(str::to_owned))),
    ] {
        let options = match &parent {
            Some(p) => r.names.children(p, scope),
            None => Vec::new(),
        };
        // The next level's options hang on this one's choice.
        parent = match (&parent, &code) {
            (Some(p), Some(c)) => p.child(c).ok(),
            _ => None,
        };
        levels.push((level, code.unwrap_or_default(), options));
    }
    html! {
        @for (level, code, options) in &levels {
            label { (l.t(level))
                @if r.names.is_empty() {
                    input id=(format!("f-{level}")) name=(level) size="4" value=(code);
                } @else {
                    select id=(format!("f-{level}")) name=(level) {
                        option value="" { (l.t("all")) }
                        @for (c, name) in options {
                            option value=(c) selected[code == c] { (name) }
                        }
                    }
                }
            }
        }
    }
}
