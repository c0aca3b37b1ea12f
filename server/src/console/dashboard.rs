//! The dashboard (统计): the figures of a period, by category, area, week and level, as inline
//! SVG (no script, no network).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gridsync_core::Level;
use maud::{Markup, html};
use serde::Deserialize;

use super::cases::category_name;
use super::{ConsoleError, Reviewer, forbidden_page, page};
use crate::AppState;
use crate::stats::{Breakdown, Rate, Stats};

const DAY: i64 = 86_400_000;
/// The period shown when none is asked for.
const DEFAULT_DAYS: i64 = 30;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/console/dashboard", get(dashboard))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Window {
    from: String,
    to: String,
}

fn percent(r: &Rate) -> String {
    r.rate
        .map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// A horizontal bar chart. Two bars per row (received: class `a`, resolved: class `b`, coloured
/// by the stylesheet like the legend) when `pair`, else one.
fn bars(id: &str, rows: &[(String, u64, u64)], max_rows: usize, pair: bool) -> Markup {
    let rows = &rows[..rows.len().min(max_rows)];
    let max = rows.iter().map(|r| r.1.max(r.2)).max().unwrap_or(1).max(1) as f64;
    let h = 22;
    let height = rows.len() * h + 10;
    html! {
        svg.chart.bars id=(id) xmlns="http://www.w3.org/2000/svg" width="560" height=(height) role="img" {
            @for (i, (label, a, b)) in rows.iter().enumerate() {
                @let y = i * h + 4;
                text x="0" y=(y + 13) font-size="12" { (label) }
                rect.a x="180" y=(y) width=(format!("{:.0}", 300.0 * *a as f64 / max)) height="8" {}
                @if pair {
                    rect.b x="180" y=(y + 9) width=(format!("{:.0}", 300.0 * *b as f64 / max)) height="8" {}
                    text x=(490) y=(y + 13) font-size="11" { (a) " / " (b) }
                } @else {
                    text x=(490) y=(y + 13) font-size="11" { (a) }
                }
            }
        }
    }
}

fn breakdown_rows(b: &[Breakdown], name: impl Fn(&Breakdown) -> String) -> Vec<(String, u64, u64)> {
    b.iter()
        .map(|x| (name(x), x.received, x.resolved))
        .collect()
}

/// The period asked for, checked: `[from, to)` in ms, or why it cannot be shown (then the last
/// 30 days are).
fn period(state: &AppState, w: &Window, now: i64) -> (i64, i64, Option<&'static str>) {
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    let default = (now - DEFAULT_DAYS * DAY, now);
    let parse = |s: &str| match s.trim() {
        "" => Ok(None),
        s => cal.local_midnight(s).map(Some).ok_or("period_bad_date"),
    };
    match (parse(&w.from), parse(&w.to)) {
        (Err(e), _) | (_, Err(e)) => (default.0, default.1, Some(e)),
        (Ok(from), Ok(to)) => {
            let to = to.map(|t| t + DAY).unwrap_or(now);
            let from = from.unwrap_or(to - DEFAULT_DAYS * DAY);
            match from < to {
                true => (from, to, None),
                false => (default.0, default.1, Some("period_reversed")),
            }
        }
    }
}

async fn dashboard(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(w): Query<Window>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    if !r.who.role.sees_reports() {
        return Ok(forbidden_page(&r, "dashboard", "reports_by_jurisdiction"));
    }
    let now = crate::now_ms();
    let (from, to, error) = period(&state, &w, now);
    let s: Stats = state.stats(&r.who, &r.who.scope, from, to).await?;
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    let mut by_category = breakdown_rows(&s.by_category, |b| category_name(&state, l, &b.key));
    by_category.sort_by_key(|b| std::cmp::Reverse(b.1));
    // Grid first, up to the county: the order the work climbs.
    let levels: Vec<(String, u64, u64)> = Level::ALL
        .into_iter()
        .filter_map(|level| {
            s.resolved_by_level
                .get(level.as_str())
                .map(|n| (l.level(level.as_str()), *n, 0))
        })
        .collect();
    let figure = |id: &'static str, label: &'static str, value: String| {
        html! {
            div.figure id=(id) { div.value { (value) } div.label { (l.t(label)) } }
        }
    };
    let body = html! {
        h1 #dashboard-title { (l.t("dashboard")) " · " (r.names.place(&s.scope)) }
        form.filters #period method="get" action="/console/dashboard" {
            label { (l.t("from")) input #from type="date" name="from" value=(cal.local_date(from)); }
            label { (l.t("to")) input #to type="date" name="to" value=(cal.local_date(to - 1)); }
            button type="submit" { (l.t("filter")) }
        }
        @if let Some(e) = error {
            p.error #period-error role="alert" { (l.t(e)) " " (l.t("period_default")) }
        }
        section.figures #figures {
            (figure("fig-received", "received", s.received.to_string()))
            (figure("fig-resolved", "resolved", s.resolved.to_string()))
            (figure("fig-resolution", "resolution_rate", percent(&s.resolution)))
            (figure("fig-on-time", "on_time_rate", percent(&s.on_time)))
            (figure("fig-satisfaction", "satisfaction_rate", percent(&s.satisfaction)))
            (figure("fig-mediation", "mediation_rate", percent(&s.mediation_success)))
            (figure("fig-village", "in_village_rate", percent(&s.resolved_in_village)))
            (figure("fig-overdue", "overdue_now", s.overdue_now.to_string()))
            (figure("fig-reopened", "reopened", s.reopened.to_string()))
            (figure("fig-accountability", "accountability", s.accountability.to_string()))
            (figure("fig-reply", "reply_rate", percent(&s.reply)))
            (figure("fig-first-response", "first_response", s.first_response.median_hours.map(|h| format!("{h:.1}")).unwrap_or_else(|| "—".into())))
            (figure("fig-satisfaction-requester", "satisfaction_requester", percent(&s.satisfaction_by_requester)))
            (figure("fig-satisfaction-staff", "satisfaction_staff", percent(&s.satisfaction_by_staff)))
            (figure("fig-return-visit", "return_visit_rate", percent(&s.return_visited)))
        }
        p.legend { span.key.a {} (l.t("received")) " " span.key.b {} (l.t("resolved")) }
        section { h2 { (l.t("by_category")) } (bars("chart-category", &by_category, 12, true)) }
        section { h2 { (l.t("by_area")) } (bars("chart-area", &breakdown_rows(&s.by_area, |b| r.names.area(&b.key)), 20, true)) }
        section { h2 { (l.t("by_week")) } (bars("chart-week", &breakdown_rows(&s.by_week, |b| b.key.clone()), 20, true)) }
        section { h2 { (l.t("by_level")) } (bars("chart-level", &levels, 4, false)) }
        section {
            h2 { (l.t("by_source")) }
            table #by-source {
                thead { tr { th { (l.t("source")) } th { (l.t("received")) } th { (l.t("resolved")) } th { (l.t("satisfaction_rate")) } } }
                tbody {
                    @for f in s.by_source.iter().filter(|f| f.received > 0) {
                        tr data-source=(f.source) {
                            td { (l.source(&f.source)) } td.n { (f.received) } td.n { (f.resolved) } td.n { (percent(&f.satisfaction)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&r, l.t("dashboard"), "dashboard", body).into_response())
}
