//! The supervision board (督办): cases past their deadline, due within a day, and under
//! accountability — each with the department that holds it and how often, and at which level,
//! it was supervised; paged.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::cases::{category_name, department_name};
use super::{ConsoleError, Reviewer, page};
use crate::AppState;
use crate::store::{CasePage, CaseQuery};

const DAY: i64 = 86_400_000;
/// Rows per page of each section: the county's board stays a page a clerk reads.
const PER_PAGE: u32 = 25;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/console/supervision", get(supervision))
}

/// The page shown of each section (from 1); anything else is the first.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct Pages {
    overdue: String,
    soon: String,
    accountability: String,
}

impl Pages {
    fn of(&self, section: &str) -> u32 {
        let p = match section {
            "overdue" => &self.overdue,
            "soon" => &self.soon,
            _ => &self.accountability,
        };
        p.trim().parse().unwrap_or(1).max(1)
    }

    fn link(&self, section: &str, page: u32) -> String {
        let pages: Vec<(&str, String)> = ["overdue", "soon", "accountability"]
            .into_iter()
            .map(|s| (s, if s == section { page } else { self.of(s) }))
            .filter(|(_, p)| *p > 1)
            .map(|(s, p)| (s, p.to_string()))
            .collect();
        match serde_urlencoded::to_string(pages) {
            Ok(q) if !q.is_empty() => format!("/console/supervision?{q}#{section}"),
            _ => format!("/console/supervision#{section}"),
        }
    }
}

async fn supervision(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(pages): Query<Pages>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let now = crate::now_ms();
    let query = |section: &str, f: &dyn Fn(&mut CaseQuery)| {
        let mut q = CaseQuery {
            sort: Some("due".into()),
            page: Some(pages.of(section)),
            per_page: Some(PER_PAGE),
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let overdue = query("overdue", &|q| q.overdue = Some(true));
    let soon = query("soon", &|q| q.due_before = Some(now + DAY));
    let flagged = query("accountability", &|q| q.accountability = Some(true));
    let (overdue, soon, flagged) = tokio::try_join!(
        state.store.list_cases(&r.who, &overdue, now),
        state.store.list_cases(&r.who, &soon, now),
        state.store.list_cases(&r.who, &flagged, now),
    )?;
    let body = html! {
        h1 { (l.t("supervision")) }
        (section(&state, &r, &pages, "overdue", "overdue", &overdue))
        (section(&state, &r, &pages, "soon", "soon_due", &soon))
        (section(&state, &r, &pages, "accountability", "accountability", &flagged))
    };
    Ok(page(&r, l.t("supervision"), "supervision", body).into_response())
}

/// One section of the board: its count, its rows, its pager.
fn section(
    state: &AppState,
    r: &Reviewer,
    pages: &Pages,
    id: &str,
    title: &'static str,
    data: &CasePage,
) -> Markup {
    let l = r.lang;
    let cal = state.store.rules_now();
    let cal = cal.rules.calendar();
    let last = ((data.total + i64::from(PER_PAGE) - 1) / i64::from(PER_PAGE)).max(1) as u32;
    html! {
        section id=(id) {
            h2 { (l.t(title)) " · " span.total { (data.total) } }
            @if data.items.is_empty() { p.empty { (l.t("none")) } }
            @else {
                table.board {
                    thead { tr {
                        th { (l.t("title")) } th { (l.t("place")) } th { (l.t("category")) } th { (l.t("department")) }
                        th { (l.t("status")) } th { (l.t("level")) } th { (l.t("due")) } th { (l.t("supervision_record")) }
                    } }
                    tbody {
                        @for c in &data.items {
                            tr.case data-id=(c.id) {
                                td { a.title href=(format!("/console/cases/{}", c.id)) title=(super::shorten(&c.title, super::HOVER_CHARS)) { (super::shorten(&c.title, super::LIST_TITLE_CHARS)) } }
                                td { (r.names.place(&c.path)) }
                                td { (category_name(state, l, &c.category)) }
                                td.department { @match &c.department { Some(d) => (department_name(state, l, d)), None => "—" } }
                                td.status { (l.status(&c.status)) }
                                td { (l.level(&c.level)) }
                                td {
                                    @if let Some(d) = c.due_at {
                                        span class=(if c.overdue { "due late" } else { "due" }) { (cal.local_date_time(d)) }
                                    }
                                }
                                td.supervised {
                                    @match (&c.supervised_level, c.supervision_count) {
                                        (Some(level), n) if n > 0 => {
                                            (l.pick(&format!("已督办 {n} 次，最高至{}", l.level(level)), &format!("supervised {n}×, up to {}", l.level(level))))
                                        }
                                        _ => { span.muted { (l.t("not_supervised")) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if last > 1 {
                @let at = data.page.min(last);
                nav.pager id=(format!("{id}-pager")) {
                    @if at > 1 { a.prev href=(pages.link(id, at - 1)) { (l.t("prev")) } " " }
                    span { (at) " / " (last) " " (l.t("page")) }
                    @if at < last { " " a.next href=(pages.link(id, at + 1)) { (l.t("next")) } }
                }
            }
        }
    }
}
