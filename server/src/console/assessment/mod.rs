//! 考核 in the console: the ranking of one kind of unit over a month or any period (best first,
//! 红黑榜 marked and listed above it, the weights in force), the cases behind each figure
//! (`drill`), the monthly report as XLSX and as a printable page (`report`), and the townships'
//! monthly scores of departments (`ratings`, 基层评议). What a reader sees is cut by
//! `crate::assessment` (the county all, a township its own units, a department its own row);
//! the page, the print view and the XLSX are built from the same [`Line`]s, so they hold the
//! same numbers.

mod drill;
mod ratings;
mod report;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gridsync_core::Identity;
use gridsync_core::assessment::{AssessmentRules, Figure, Period, Report, Unit, UnitKind};
use maud::{Markup, html};
use serde::Deserialize;

use super::cases::department_name;
use super::{ConsoleError, Lang, Reviewer, forbidden_page, page};
use crate::AppState;
use crate::assessment::AssessmentError;

const NAV: &str = "assessment";
const DAY: i64 = 86_400_000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/assessment", get(ranking))
        .route("/console/assessment/cases", get(drill::drill))
        .route("/console/assessment.xlsx", get(report::xlsx))
        .route("/console/assessment/print", get(report::print))
        .route(
            "/console/assessment/ratings",
            get(ratings::ratings_page).post(ratings::rate),
        )
}

/// A report's or drill-down's query as a browser sends it: every field a string, empty when
/// unset. A period is a `month` (`YYYY-MM`) or `from`/`to` dates (`YYYY-MM-DD`, both days in).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Asked {
    kind: String,
    month: String,
    from: String,
    to: String,
    /// The drill-down's unit (a department code, an area's path, an account) and figure.
    unit: String,
    figure: String,
}

/// The kind and period a page shows, checked.
struct Chosen {
    kind: UnitKind,
    period: Period,
    /// The period as asked for again in links: a month, or two dates.
    month: Option<String>,
    dates: Option<(String, String)>,
    /// Why the period asked for is not the one shown (this month is).
    error: Option<&'static str>,
}

impl Chosen {
    /// `kind=…&month=…` (or `from=…&to=…`), then `extra`.
    fn link(&self, base: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![("kind", self.kind.as_str())];
        match (&self.month, &self.dates) {
            (_, Some((from, to))) => pairs.extend([("from", from.as_str()), ("to", to.as_str())]),
            (Some(m), None) => pairs.push(("month", m.as_str())),
            (None, None) => {}
        }
        pairs.extend_from_slice(extra);
        match serde_urlencoded::to_string(pairs) {
            Ok(q) => format!("{base}?{q}"),
            Err(_) => base.to_owned(),
        }
    }

    /// The period in words: `2026-11`, or `2026-11-01 — 2026-11-20`.
    fn label(&self) -> String {
        match (&self.month, &self.dates) {
            (_, Some((from, to))) => format!("{from} — {to}"),
            (Some(m), None) => m.clone(),
            (None, None) => String::new(),
        }
    }
}

/// The kinds of unit whose figures `who` may see any of: departments for the county and a
/// department (its own), areas and grid workers for the county and a township (its own).
fn kinds_for(who: &Identity) -> Vec<UnitKind> {
    UnitKind::ASSESSED
        .into_iter()
        .filter(|k| match k {
            UnitKind::Department => {
                who.sees_figures_of_department(who.department.as_deref().unwrap_or_default())
            }
            _ => who.sees_figures_of_area(&who.scope),
        })
        .collect()
}

/// Why a report was not given.
enum Refused {
    /// The reader's role sees no assessment (`403`).
    NotAssessed,
    /// A kind of unit the reader sees none of (`403`, 无权查看).
    Forbidden,
    /// Not a kind of unit (`400`).
    NotAKind,
}

impl Refused {
    fn answer(self, r: &Reviewer) -> Response {
        match self {
            Refused::NotAssessed => forbidden_page(r, NAV, "as_not_assessed"),
            Refused::Forbidden => forbidden_page(r, NAV, "as_forbidden"),
            Refused::NotAKind => ConsoleError::BadRequest("not a unit kind").into_response(),
        }
    }
}

/// The kind and period `asked`, or why it is refused. A period that cannot be read shows this
/// month, saying so.
fn choose(state: &AppState, r: &Reviewer, asked: &Asked, now: i64) -> Result<Chosen, Refused> {
    if !r.who.role.sees_assessment() {
        return Err(Refused::NotAssessed);
    }
    let offered = kinds_for(&r.who);
    let kind = match asked.kind.trim() {
        "" => *offered.first().ok_or(Refused::NotAssessed)?,
        k => match UnitKind::parse(k).filter(|k| UnitKind::ASSESSED.contains(k)) {
            None => return Err(Refused::NotAKind),
            Some(k) if !offered.contains(&k) => return Err(Refused::Forbidden),
            Some(k) => k,
        },
    };
    let live = state.store.rules_now();
    let rules = &live.rules;
    let cal = rules.calendar();
    let this_month = cal.local_date(now).get(..7).unwrap_or_default().to_owned();
    let month = |m: &str| crate::assessment::month_period(rules, m).map(|p| (m.to_owned(), p));
    let (from, to) = (asked.from.trim(), asked.to.trim());
    let asked_month = asked.month.trim();
    let dates = match (from, to) {
        ("", "") => None,
        _ => Some(
            match (cal.local_midnight(from), cal.local_midnight(to)) {
                (Some(a), Some(b)) if a <= b => Some(Period {
                    from: a,
                    to: b + DAY,
                }),
                _ => None,
            }
            .map(|p| ((from.to_owned(), to.to_owned()), p)),
        ),
    };
    let this = || month(&this_month);
    let (month, dates, period, error) = match (dates, asked_month) {
        (Some(Some((d, p))), _) => (None, Some(d), Some(p), None),
        (None, "") => (this().map(|m| m.0), None, this().map(|m| m.1), None),
        (None, m) => match month(m) {
            Some((m, p)) => (Some(m), None, Some(p), None),
            None => (
                this().map(|m| m.0),
                None,
                this().map(|m| m.1),
                Some("as_bad_period"),
            ),
        },
        (Some(None), _) => (
            this().map(|m| m.0),
            None,
            this().map(|m| m.1),
            Some("as_bad_period"),
        ),
    };
    // The calendar cannot place this month (it always can): the last 30 days, unnamed.
    let period = period.unwrap_or(Period {
        from: now - 30 * DAY,
        to: now,
    });
    Ok(Chosen {
        kind,
        period,
        month,
        dates,
        error,
    })
}

/// A unit by name: a department from the catalogue, an area from the tree, a worker by their
/// account's name.
fn unit_name(state: &AppState, r: &Reviewer, unit: &Unit) -> String {
    match unit.kind {
        UnitKind::Department => department_name(state, r.lang, &unit.code),
        UnitKind::Worker => r.names.person(&unit.code).to_owned(),
        UnitKind::Township | UnitKind::Village | UnitKind::County => r.names.area(&unit.code),
    }
}

/// `x` to one decimal, as shown: the XLSX holds the very number the page prints.
fn one_decimal(x: f64) -> f64 {
    format!("{x:.1}").parse().unwrap_or(x)
}

/// Whether a figure shows a rate beside its count: every figure that enters the score.
fn has_rate(rules: &AssessmentRules, f: Figure) -> bool {
    rules.weights.of(f).is_some()
}

/// Which list a unit is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    Red,
    Black,
}

impl Listed {
    fn key(self) -> &'static str {
        match self {
            Listed::Red => "as_red",
            Listed::Black => "as_black",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Listed::Red => "red",
            Listed::Black => "black",
        }
    }
}

/// One unit's line, as the page, the print view and the XLSX show it.
struct Line {
    unit: Unit,
    name: String,
    rank: Option<u32>,
    /// Each figure of `Figure::ALL`: its count and, for those with one, its rate in percent to
    /// one decimal (`None`: no base).
    counts: Vec<(Figure, u32, Option<f64>)>,
    /// Departments: the townships' average score (1–5) to one decimal.
    township_average: Option<f64>,
    /// 0–100 to one decimal; `None` without duties.
    score: Option<f64>,
    listed: Option<Listed>,
}

/// A report's lines in its order (best first).
fn lines(state: &AppState, r: &Reviewer, report: &Report, rules: &AssessmentRules) -> Vec<Line> {
    report
        .rows
        .iter()
        .map(|row| Line {
            name: unit_name(state, r, &row.unit),
            rank: row.rank,
            counts: Figure::ALL
                .into_iter()
                .map(|f| {
                    let rate = has_rate(rules, f)
                        .then(|| row.tally.rate(f))
                        .flatten()
                        .map(|x| one_decimal(x * 100.0));
                    (f, row.tally.count(f), rate)
                })
                .collect(),
            township_average: row.tally.township_average().map(one_decimal),
            score: row.score.map(one_decimal),
            listed: match (
                report.red.contains(&row.unit),
                report.black.contains(&row.unit),
            ) {
                (true, _) => Some(Listed::Red),
                (false, true) => Some(Listed::Black),
                _ => None,
            },
            unit: row.unit.clone(),
        })
        .collect()
}

fn percent(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.1}%")).unwrap_or_else(|| "—".into())
}

fn decimal(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.1}")).unwrap_or_else(|| "—".into())
}

/// The report of the chosen kind and period as this reader may see it, and its lines.
async fn load(
    state: &AppState,
    r: &Reviewer,
    chosen: &Chosen,
    now: i64,
) -> Result<Result<Vec<Line>, Response>, ConsoleError> {
    let live = state.store.rules_now();
    let rules = &live.rules;
    match crate::assessment::report(&state.store, rules, &r.who, chosen.kind, chosen.period, now)
        .await
    {
        Ok(report) => Ok(Ok(lines(state, r, &report, rules.assessment()))),
        Err(AssessmentError::Forbidden) => Ok(Err(forbidden_page(r, NAV, "as_forbidden"))),
        Err(AssessmentError::Store(e)) => Err(e.into()),
    }
}

/// The red and black lists, of the units the reader sees, above the table.
fn lists(l: Lang, lines: &[Line]) -> Markup {
    html! {
        section #lists {
            h2 { (l.t("as_lists")) }
            @for (listed, id) in [(Listed::Red, "red-list"), (Listed::Black, "black-list")] {
                div class=(format!("list {}", listed.class())) {
                    strong { (l.t(listed.key())) "：" }
                    ol id=(id) {
                        @for line in lines.iter().filter(|x| x.listed == Some(listed)) {
                            li data-unit=(line.unit.code) { (line.name) }
                        }
                    }
                    @if !lines.iter().any(|x| x.listed == Some(listed)) { span.muted { (l.t("none")) } }
                }
            }
        }
    }
}

/// The link of a count to the cases behind it.
type DrillLink<'a> = &'a dyn Fn(&Line, Figure) -> String;

/// The ranking table; each count links to its cases when `drill` makes the link.
fn table(
    l: Lang,
    rules: &AssessmentRules,
    kind: UnitKind,
    lines: &[Line],
    drill: Option<DrillLink<'_>>,
) -> Markup {
    html! {
        table.ranking #ranking {
            thead { tr {
                th { (l.t("as_rank")) } th { (l.t("as_unit")) }
                @for f in Figure::ALL {
                    th data-figure=(f.as_str()) {
                        (l.figure(f))
                        @if has_rate(rules, f) { br; span.muted { (l.t("as_rate")) } }
                    }
                }
                @if kind == UnitKind::Department { th { (l.t("as_township_avg")) } }
                th { (l.t("as_score")) } th { (l.t("as_lists")) }
            } }
            tbody {
                @for line in lines {
                    tr class=(format!("unit {}", line.listed.map(Listed::class).unwrap_or_default()).trim_end()) data-unit=(line.unit.code) {
                        td.rank { @match line.rank { Some(n) => (n), None => "—" } }
                        td.name title=(line.unit.code) { (line.name) }
                        @for (f, count, rate) in &line.counts {
                            td.fig data-figure=(f.as_str()) {
                                @match drill {
                                    Some(link) => { a.count href=(link(line, *f)) { (count) } }
                                    None => { span.count { (count) } }
                                }
                                @if has_rate(rules, *f) { br; span.rate { (percent(*rate)) } }
                            }
                        }
                        @if kind == UnitKind::Department { td.avg { (decimal(line.township_average)) } }
                        td.score { (decimal(line.score)) }
                        td.listed {
                            @if let Some(listed) = line.listed {
                                span class=(format!("badge {}", listed.class())) { (l.t(listed.key())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The weights in force, and where they are set.
fn weights(l: Lang, rules: &AssessmentRules, kind: UnitKind, link_rules: bool) -> Markup {
    html! {
        section #weights {
            h2 { (l.t("as_weights")) }
            table.weights {
                thead { tr { th { (l.t("as_figure")) } th { (l.t("as_weight")) } } }
                tbody {
                    @for f in Figure::ALL {
                        @if let Some(w) = rules.weights.of(f) {
                            tr data-figure=(f.as_str()) { td { (l.figure(f)) } td.n { (w) } }
                        }
                    }
                    @if kind == UnitKind::Department {
                        tr data-figure="township_rating" { td { (l.t("as_township_rating")) } td.n { (rules.weights.township_rating) } }
                    }
                    tr { td { (l.t("as_red_n")) } td.n { (rules.red_list) } }
                    tr { td { (l.t("as_black_n_departments")) } td.n { (rules.black_list_departments) } }
                    tr { td { (l.t("as_black_n_areas")) } td.n { (rules.black_list_areas) } }
                }
            }
            p.explain #weights-note {
                (l.t("as_weights_note"))
                @if link_rules { " " a href="/console/rules" { (l.t("rules")) } }
            }
        }
    }
}

async fn ranking(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(asked): Query<Asked>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let now = crate::now_ms();
    let chosen = match choose(&state, &r, &asked, now) {
        Ok(c) => c,
        Err(refused) => return Ok(refused.answer(&r)),
    };
    let lines = match load(&state, &r, &chosen, now).await? {
        Ok(lines) => lines,
        Err(refused) => return Ok(refused),
    };
    let live = state.store.rules_now();
    let rules = live.rules.assessment();
    let drill = |line: &Line, f: Figure| {
        chosen.link(
            "/console/assessment/cases",
            &[("unit", &line.unit.code), ("figure", f.as_str())],
        )
    };
    let body = html! {
        h1 #assessment-title { (l.t("as_title")) " · " (r.names.place(&r.who.scope.to_string())) }
        // A month, or any period: two forms, so a date left in one never overrides the other.
        div.filters-row {
            form.filters #assessment-filters method="get" action="/console/assessment" {
                label { (l.t("as_kind"))
                    select #a-kind name="kind" {
                        @for k in kinds_for(&r.who) {
                            option value=(k.as_str()) selected[k == chosen.kind] { (l.unit_kind(k)) }
                        }
                    }
                }
                label { (l.t("as_month")) input #a-month type="month" name="month" value=(chosen.month.clone().unwrap_or_default()); }
                button #a-show type="submit" { (l.t("as_show")) }
            }
            form.filters #period-filters method="get" action="/console/assessment" {
                input type="hidden" name="kind" value=(chosen.kind.as_str());
                span.muted { (l.t("as_or_dates")) }
                label { (l.t("from")) input #a-from type="date" name="from" value=(chosen.dates.as_ref().map(|d| d.0.as_str()).unwrap_or_default()) required; }
                label { (l.t("to")) input #a-to type="date" name="to" value=(chosen.dates.as_ref().map(|d| d.1.as_str()).unwrap_or_default()) required; }
                button #a-show-period type="submit" { (l.t("as_show")) }
            }
        }
        @if let Some(e) = chosen.error { p.error #period-error role="alert" { (l.t(e)) } }
        p.tools {
            span #period { (l.t("as_period")) "：" (chosen.label()) " · " (l.unit_kind(chosen.kind)) }
            " · " a #export-xlsx href=(chosen.link("/console/assessment.xlsx", &[])) { (l.t("as_export")) }
            " · " a #print-report href=(chosen.link("/console/assessment/print", &[])) { (l.t("as_print")) }
            @if r.who.role.rates_departments() {
                " · " a #ratings-link href="/console/assessment/ratings" { (l.t("rt_title")) }
            }
        }
        (lists(l, &lines))
        @if lines.is_empty() {
            p.empty #no-rows { (l.t("as_no_rows")) }
        } @else {
            (table(l, rules, chosen.kind, &lines, Some(&drill)))
            p.explain { (l.t("as_counts_note")) }
        }
        (weights(l, rules, chosen.kind, r.who.role.manages_rules()))
    };
    Ok((StatusCode::OK, page(&r, l.t("as_title"), NAV, body)).into_response())
}
