//! The read audit in the console (查阅审计, ADR 0028), for county admins only
//! (`Role::reads_audit`): who read which case's personal data, when, by which route and from
//! which address, newest first, filtered by case, account and dates, 50 a page; the same as CSV;
//! and, when asked (`?verify=1`: it reads the whole chain), whether the chain is intact.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gridsync_core::evidence::hex;
use maud::html;
use serde::Deserialize;

use super::{ConsoleError, Lang, Reviewer, forbidden_page, page};
use crate::AppState;
use crate::reads;
use crate::store::{ReadAuditFilter, ReadRow};

const NAV: &str = "read_audit";
/// Entries a page shows.
const PER_PAGE: i64 = 50;
/// Entries a CSV holds at most.
const MAX_EXPORT: i64 = 100_000;
const DAY: i64 = 86_400_000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/audit", get(audit_page))
        .route("/console/audit.csv", get(audit_csv))
}

/// The page's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Filters {
    case: String,
    user: String,
    /// `YYYY-MM-DD`, local, inclusive.
    from: String,
    to: String,
    /// From 1.
    page: u32,
    /// Walk the whole chain.
    verify: String,
}

impl Filters {
    /// The store's filter, within the admin's county, and whether a date could not be read.
    fn to_store(&self, state: &AppState, r: &Reviewer) -> (ReadAuditFilter, bool) {
        let live = state.store.rules_now();
        let cal = live.rules.calendar();
        let mut bad = false;
        let mut day = |s: &str| match s.trim() {
            "" => None,
            s => {
                let at = cal.local_midnight(s);
                bad |= at.is_none();
                at
            }
        };
        let from = day(&self.from);
        let to = day(&self.to).map(|t| t + DAY);
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let filter = ReadAuditFilter {
            case: text(&self.case),
            user: text(&self.user),
            from,
            to,
            within: Some(r.who.scope.clone()),
        };
        (filter, bad)
    }

    /// This page's link with the filters and another page number.
    fn link(&self, path: &str, page: Option<u32>) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("case", &self.case),
            ("user", &self.user),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect();
        if let Some(p) = page {
            pairs.push(("page", p.to_string()));
        }
        match serde_urlencoded::to_string(&pairs) {
            Ok(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_owned(),
        }
    }
}

/// A route as a clerk reads it; the route itself when it is not one of the known.
fn route_name(l: Lang, route: &str) -> &str {
    match route {
        reads::API_CASE => l.t("route_api_case"),
        reads::SYNC => l.t("route_sync"),
        reads::CONSOLE_CASE => l.t("route_console_case"),
        reads::CONSOLE_PRINT => l.t("route_console_print"),
        other => other,
    }
}

async fn audit_page(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    if !r.who.role.reads_audit() {
        return Ok(forbidden_page(&r, NAV, "audit_admins_only"));
    }
    let (filter, bad_date) = f.to_store(&state, &r);
    let page_no = f.page.max(1);
    let offset = i64::from(page_no - 1) * PER_PAGE;
    // The whole chain's size and head, whatever the filter.
    let everything = ReadAuditFilter::default();
    let (shown, all) = tokio::try_join!(
        state.store.read_audit_page(&filter, PER_PAGE, offset),
        state.store.read_audit_page(&everything, 1, 0),
    )?;
    let report = match f.verify.is_empty() {
        true => None,
        false => Some(state.store.verify_read_audit().await?),
    };
    let pages = shown.total.div_ceil(PER_PAGE as u64).max(1);
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    let base = f.link("/console/audit", None);
    let join = if base.contains('?') { '&' } else { '?' };
    let verify_link = format!("{base}{join}verify=1");
    let body = html! {
        h1 { (l.t(NAV)) }
        p.legend { (l.t("audit_explain")) }
        p #audit-chain {
            (l.t("total")) " " strong #audit-entries { (all.total) } " " (l.t("audit_entries"))
            @if let Some(head) = all.rows.first() {
                "；" (l.t("audit_head")) " #" (head.seq) " "
                span.mono #audit-head title=(hex(&head.hash)) { (hex(head.hash.get(..8).unwrap_or(&head.hash))) }
            }
            " "
            @if let Some(rep) = &report {
                @if let Some(fault) = &rep.fault {
                    span.error #chain-fault { (l.t("audit_chain_fault")) "：" (fault) }
                } @else {
                    span.ok #chain-ok data-entries=(rep.entries) { (l.t("audit_chain_ok")) "（" (rep.entries) " " (l.t("audit_entries")) "）" }
                }
            } @else {
                a #audit-verify href=(verify_link) { (l.t("audit_verify")) }
            }
        }
        @if bad_date { p.error #audit-bad-date { (l.t("audit_bad_date")) } }
        form.filters #audit-filters method="get" action="/console/audit" {
            label { (l.t("audit_case_id")) input #a-case name="case" value=(f.case); }
            label { (l.t("user")) input #a-user name="user" value=(f.user); }
            label { (l.t("from")) input #a-from type="date" name="from" value=(f.from); }
            label { (l.t("to")) input #a-to type="date" name="to" value=(f.to); }
            button #apply type="submit" { (l.t("filter")) }
            a href="/console/audit" { (l.t("reset")) }
        }
        p.counts {
            span #total { (l.t("total")) " " (shown.total) " " (l.t("audit_entries")) }
            " "
            a #export-csv href=(f.link("/console/audit.csv", None)) { (l.t("export_csv")) }
        }
        @if shown.rows.is_empty() {
            p.empty #audit-none { (l.t("audit_none")) }
        } @else {
            table #read-audit {
                thead { tr {
                    th { (l.t("audit_seq")) } th { (l.t("audit_at")) } th { (l.t("audit_reader")) }
                    th { (l.t("audit_case")) } th { (l.t("audit_route")) } th { (l.t("audit_addr")) }
                } }
                tbody {
                    @for e in &shown.rows {
                        tr.read data-seq=(e.seq) data-user=(e.user) data-case=(e.case) data-route=(e.route) {
                            td.mono title=(hex(&e.hash)) { (e.seq) }
                            td { (cal.local_date_time(e.at)) }
                            td { (r.names.who(&e.user)) }
                            td.mono { a href=(format!("/console/cases/{}", e.case)) title=(e.case) { (e.case.get(..8).unwrap_or(&e.case)) } }
                            td title=(e.route) { (route_name(l, &e.route)) }
                            td.mono { (e.addr) }
                        }
                    }
                }
            }
        }
        nav.pager {
            @if page_no > 1 { a #prev href=(f.link("/console/audit", Some(page_no - 1))) { (l.t("prev")) } }
            span { (page_no) " / " (pages) " " (l.t("page")) }
            @if u64::from(page_no) < pages { a #next href=(f.link("/console/audit", Some(page_no + 1))) { (l.t("next")) } }
        }
    };
    Ok(page(&r, l.t(NAV), NAV, body).into_response())
}

/// A CSV field, quoted, a leading formula character defused (a spreadsheet shows text).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

const CSV_COLUMNS: [&str; 8] = [
    "序号",
    "时间",
    "查阅人",
    "账号",
    "案件编号",
    "途径",
    "来源地址",
    "条目哈希",
];

fn csv_row(r: &Reviewer, cal: &gridsync_core::calendar::Calendar, e: &ReadRow) -> String {
    [
        e.seq.to_string(),
        cal.local_date_time(e.at),
        r.names.person(&e.user).to_owned(),
        e.user.clone(),
        e.case.clone(),
        route_name(Lang::Zh, &e.route).to_owned(),
        e.addr.clone(),
        hex(&e.hash),
    ]
    .iter()
    .map(|v| csv_field(v))
    .collect::<Vec<_>>()
    .join(",")
}

async fn audit_csv(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    if !r.who.role.reads_audit() {
        return Err(ConsoleError::Forbidden("county admins only"));
    }
    let (filter, _) = f.to_store(&state, &r);
    let rows = state
        .store
        .read_audit_page(&filter, MAX_EXPORT, 0)
        .await?
        .rows;
    state
        .store
        .audit(
            &r.who.user,
            "read_audit_export",
            &r.who.scope.to_string(),
            &rows.len().to_string(),
            crate::now_ms(),
        )
        .await?;
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    // A byte-order mark: Excel on Chinese Windows opens UTF-8 CSV correctly only with it.
    let mut out = String::from("\u{feff}");
    out.push_str(
        &CSV_COLUMNS
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for e in &rows {
        out.push_str(&csv_row(&r, cal, e));
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"read-audit.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
