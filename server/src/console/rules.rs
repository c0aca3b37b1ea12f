//! The county's rules (规则) in the console, for county admins: the catalogue's time limits and
//! default departments, the departments, the working-day calendar's years, and every version
//! with who changed what. Each change is saved as the next version (`Store::save_rules`, audited
//! as `rules_change`) and reaches the phones on their next sync.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gridsync_core::taxonomy::{Department, TimeLimit};
use maud::{Markup, html};
use serde::Deserialize;

use super::forbidden_page;
use super::{ConsoleError, Lang, Reviewer, SameOrigin, page};
use crate::AppState;
use crate::store::{LiveRules, StoreError};

const NAV: &str = "rules";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/rules", get(rules_page))
        .route("/console/rules/category", post(change_category))
        .route("/console/rules/department", post(add_department))
        .route("/console/rules/calendar", post(import_calendar))
}

/// What the page says above the rules: a change saved, or one refused (rules unchanged).
enum Notice {
    Saved(u64),
    Unchanged,
    Refused(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Shown {
    /// The version a change just saved.
    saved: Option<u64>,
    /// A change that changed nothing.
    unchanged: Option<String>,
}

async fn rules_page(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(q): Query<Shown>,
) -> Result<Response, ConsoleError> {
    if !r.who.role.manages_rules() {
        return Ok(forbidden_page(&r, NAV, "admins_only"));
    }
    let notice = match (q.saved, q.unchanged) {
        (Some(v), _) => Some(Notice::Saved(v)),
        (None, Some(_)) => Some(Notice::Unchanged),
        _ => None,
    };
    render(&state, &r, notice, StatusCode::OK).await
}

/// POSTs: same site (the extractor) and a county admin, else refused before anything is read.
fn allowed(r: &Reviewer) -> Result<(), ConsoleError> {
    match r.who.role.manages_rules() {
        true => Ok(()),
        false => Err(ConsoleError::Forbidden("county admins only")),
    }
}

async fn render(
    state: &AppState,
    r: &Reviewer,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let live = state.store.rules().await?;
    let history = state.store.rules_history().await?;
    let body = body(r.lang, &live, &history, notice);
    Ok((status, page(r, r.lang.t(NAV), NAV, body)).into_response())
}

/// A refused change: the page again, saying why, with the rules as they are.
async fn refused(state: &AppState, r: &Reviewer, why: String) -> Result<Response, ConsoleError> {
    render(
        state,
        r,
        Some(Notice::Refused(why)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

fn saved(version: u64, is_new: bool) -> Response {
    let to = match is_new {
        true => format!("/console/rules?saved={version}"),
        false => "/console/rules?unchanged=1".to_owned(),
    };
    Redirect::to(&to).into_response()
}

/// A refusal's words: a rules message as it is (it names the line), anything else as the
/// error says.
fn reason(e: &gridsync_core::Error) -> String {
    match e {
        gridsync_core::Error::Rules(msg) => msg.clone(),
        other => other.to_string(),
    }
}

fn limit_text(l: TimeLimit, lang: Lang) -> String {
    match (lang, l) {
        (Lang::Zh, TimeLimit::WorkingDays(n)) => format!("{n} 个工作日 ({l})"),
        (Lang::Zh, TimeLimit::Hours(n)) => format!("{n} 小时 ({l})"),
        _ => l.to_string(),
    }
}

fn department_name(live: &LiveRules, lang: Lang, code: Option<&str>) -> String {
    match code {
        None => lang.t("self_handled").to_owned(),
        Some(c) => live
            .rules
            .taxonomy()
            .department(c)
            .map(|d| lang.pick(&d.name_zh, &d.name_en).to_owned())
            .unwrap_or_else(|| c.to_owned()),
    }
}

/// The year a holiday of the notice falls in (its first day's).
fn holiday_year(days: &[String]) -> &str {
    days.first().and_then(|d| d.get(..4)).unwrap_or("")
}

fn body(
    l: Lang,
    live: &LiveRules,
    history: &[crate::store::RulesChange],
    notice: Option<Notice>,
) -> Markup {
    let rules = &live.rules;
    let t = rules.taxonomy();
    let cal = rules.calendar();
    let version = rules.version();
    let years: Vec<String> = cal.years().map(|y| y.to_string()).collect();
    html! {
        h1 { (l.t(NAV)) " · " span #rules-version { (l.t("version")) " " (version) } }
        @match &notice {
            Some(Notice::Saved(v)) => { p.ok #rules-saved { (l.pick(&format!("已保存，规则现为第 {v} 版"), &format!("Saved; the rules are now version {v}"))) } }
            Some(Notice::Unchanged) => { p.ok #rules-unchanged { (l.t("rules_unchanged")) } }
            Some(Notice::Refused(why)) => { p.error #rules-error { (l.t("rules_refused")) "：" (why) } }
            None => {}
        }
        p.legend { (l.t("rules_reach_phones")) }
        section #categories-section {
            h2 { (l.t("categories")) }
            table #categories {
                thead { tr {
                    th { (l.t("code")) } th { (l.t("cat_name")) } th { (l.t("kind")) }
                    th { (l.t("time_limit")) } th { (l.t("default_department")) } th { (l.t("change")) }
                } }
                tbody {
                    @for c in t.categories() {
                        tr.category data-code=(c.code) {
                            td.mono { (c.code) }
                            td { (l.pick(&c.name_zh, &c.name_en)) }
                            td { @for (i, k) in c.kinds.iter().enumerate() { @if i > 0 { "、" } (l.kind(k)) } }
                            td.limit { (limit_text(c.limit, l)) }
                            td.department { (department_name(live, l, c.department.as_deref())) }
                            td {
                                form.inline.change-category method="post" action="/console/rules/category" {
                                    input type="hidden" name="version" value=(version);
                                    input type="hidden" name="code" value=(c.code);
                                    input.limit-input type="text" name="limit" size="5" value=(c.limit.to_string())
                                        aria-label=(l.t("time_limit")) title=(l.t("limit_format"));
                                    " "
                                    select.department-select name="department" aria-label=(l.t("default_department")) {
                                        option value="" selected[c.department.is_none()] { (l.t("self_handled")) }
                                        @for d in t.departments() {
                                            option value=(d.code) selected[c.department.as_deref() == Some(d.code.as_str())] {
                                                (l.pick(&d.name_zh, &d.name_en))
                                            }
                                        }
                                    }
                                    " "
                                    button.save-category type="submit" { (l.t("save")) }
                                }
                            }
                        }
                    }
                }
            }
            p.legend { (l.t("limit_format")) }
        }
        section #departments-section {
            h2 { (l.t("departments")) }
            table #departments {
                thead { tr { th { (l.t("code")) } th { (l.t("dept_name")) } th { (l.t("sign_within")) } } }
                tbody {
                    @for d in t.departments() {
                        tr.department data-code=(d.code) {
                            td.mono { (d.code) }
                            td { (l.pick(&d.name_zh, &d.name_en)) }
                            td { (limit_text(d.sign_within, l)) }
                        }
                    }
                }
            }
            h3 { (l.t("add_department")) }
            form.filters #add-department method="post" action="/console/rules/department" {
                input type="hidden" name="version" value=(version);
                label { (l.t("code")) input #dept-code name="code" required placeholder="housing"; }
                label { (l.t("name_zh")) input #dept-name-zh name="name_zh" required; }
                label { (l.t("name_en")) input #dept-name-en name="name_en" required; }
                label { (l.t("sign_within")) input #dept-sign-within name="sign_within" size="5" value="1wd" required; }
                button #add-department-submit type="submit" { (l.t("add")) }
            }
        }
        section #calendar-section {
            h2 { (l.t("calendar")) }
            p #calendar-years { (l.t("calendar_years")) "：" (years.join("、")) }
            @if cal.holidays().is_empty() { p.empty { (l.t("none")) } }
            @else {
                table #holidays {
                    thead { tr { th { (l.t("year")) } th { (l.t("holiday")) } th { (l.t("days_off")) } th { (l.t("makeup_days")) } } }
                    tbody {
                        @for h in cal.holidays() {
                            tr {
                                td { (holiday_year(&h.days)) }
                                td { (h.name) }
                                td.mono { (h.days.join(", ")) }
                                td.mono { @if h.workdays.is_empty() { "—" } @else { (h.workdays.join(", ")) } }
                            }
                        }
                    }
                }
            }
            h3 { (l.t("import_calendar")) }
            p.legend { (l.t("import_calendar_help")) }
            form #import-calendar method="post" action="/console/rules/calendar" {
                input type="hidden" name="version" value=(version);
                textarea #calendar-toml name="toml" rows="12" cols="90" required
                    placeholder="version = 1\nutc_offset_minutes = 480\nyears = [2027]\n\n[[holiday]]\nname = \"元旦\"\ndays = [\"2027-01-01\"]\nworkdays = []" {}
                br;
                button #import-calendar-submit type="submit" { (l.t("import")) }
            }
        }
        section #history-section {
            h2 { (l.t("rules_history")) }
            table #rules-history {
                thead { tr { th { (l.t("version")) } th { (l.t("changed_by")) } th { (l.t("changed_at")) } th { (l.t("summary")) } } }
                tbody {
                    @for h in history {
                        tr.rules-version data-version=(h.version) {
                            td { (h.version) }
                            td { (h.changed_by) }
                            td { (cal.local_date_time(h.changed_at)) }
                            td { (h.summary) }
                        }
                    }
                }
            }
        }
    }
}

/// The forms' version field: a change made on a page showing an older version is refused, so
/// an admin does not undo a change they have not seen.
fn stale(live: &LiveRules, version: &str) -> bool {
    version.trim().parse::<u64>().ok() != Some(live.rules.version())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CategoryForm {
    version: String,
    code: String,
    limit: String,
    /// Empty: the grid and township handle it themselves (网格自办).
    department: String,
}

async fn change_category(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    _: SameOrigin,
    Form(f): Form<CategoryForm>,
) -> Result<Response, ConsoleError> {
    allowed(&r)?;
    let l = r.lang;
    let live = state.store.rules().await?;
    if stale(&live, &f.version) {
        return refused(&state, &r, l.t("rules_stale").to_owned()).await;
    }
    let t = live.rules.taxonomy();
    let Some(category) = t.category(f.code.trim()) else {
        return refused(
            &state,
            &r,
            format!("{} {:?}", l.t("unknown_category"), f.code),
        )
        .await;
    };
    let limit_in = f.limit.trim();
    let Some(limit) = TimeLimit::parse(limit_in) else {
        return refused(
            &state,
            &r,
            format!(
                "{}「{}」：{}",
                l.t("bad_limit"),
                limit_in,
                l.t("limit_format")
            ),
        )
        .await;
    };
    let department = Some(f.department.trim()).filter(|d| !d.is_empty());
    let name = format!("{} ({})", category.name_zh, category.code);
    let mut changes = Vec::new();
    let mut next = t.clone();
    if limit != category.limit {
        next = match next.with_limit(&category.code, limit) {
            Ok(n) => n,
            Err(e) => return refused(&state, &r, reason(&e)).await,
        };
        changes.push(format!("时限 {} → {}", category.limit, limit));
    }
    if department != category.department.as_deref() {
        next = match next.with_default_department(&category.code, department) {
            Ok(n) => n,
            Err(e) => return refused(&state, &r, reason(&e)).await,
        };
        changes.push(format!(
            "默认部门 {} → {}",
            department_name(&live, Lang::Zh, category.department.as_deref()),
            department_name(&live, Lang::Zh, department)
        ));
    }
    if changes.is_empty() {
        return Ok(saved(live.rules.version(), false));
    }
    let summary = format!("{name} {}", changes.join("，"));
    let (version, is_new) = state
        .store
        .save_rules(
            &live.rules.with_taxonomy(next),
            &r.who.user,
            &summary,
            crate::now_ms(),
        )
        .await?;
    Ok(saved(version, is_new))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DepartmentForm {
    version: String,
    code: String,
    name_zh: String,
    name_en: String,
    sign_within: String,
}

async fn add_department(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    _: SameOrigin,
    Form(f): Form<DepartmentForm>,
) -> Result<Response, ConsoleError> {
    allowed(&r)?;
    let l = r.lang;
    let live = state.store.rules().await?;
    if stale(&live, &f.version) {
        return refused(&state, &r, l.t("rules_stale").to_owned()).await;
    }
    let sign_in = f.sign_within.trim();
    let Some(sign_within) = TimeLimit::parse(sign_in) else {
        return refused(
            &state,
            &r,
            format!(
                "{}「{}」：{}",
                l.t("bad_limit"),
                sign_in,
                l.t("limit_format")
            ),
        )
        .await;
    };
    let code = f.code.trim().to_owned();
    let existed = live.rules.taxonomy().department(&code).is_some();
    let next = match live.rules.taxonomy().with_department(Department {
        code: code.clone(),
        name_zh: f.name_zh,
        name_en: f.name_en,
        sign_within,
    }) {
        Ok(n) => n,
        Err(e) => return refused(&state, &r, reason(&e)).await,
    };
    let name_zh = next
        .department(&code)
        .map(|d| d.name_zh.clone())
        .unwrap_or_default();
    let summary = format!(
        "{} {name_zh} ({code})，签收时限 {sign_within}",
        if existed {
            "修改部门"
        } else {
            "新增部门"
        }
    );
    let (version, is_new) = state
        .store
        .save_rules(
            &live.rules.with_taxonomy(next),
            &r.who.user,
            &summary,
            crate::now_ms(),
        )
        .await?;
    Ok(saved(version, is_new))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CalendarForm {
    version: String,
    toml: String,
}

async fn import_calendar(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    _: SameOrigin,
    Form(f): Form<CalendarForm>,
) -> Result<Response, ConsoleError> {
    allowed(&r)?;
    let l = r.lang;
    let live = state.store.rules().await?;
    if stale(&live, &f.version) {
        return refused(&state, &r, l.t("rules_stale").to_owned()).await;
    }
    // Browsers send a textarea's lines with CRLF.
    let text = f.toml.replace("\r\n", "\n");
    match state
        .store
        .import_rules(&text, &r.who.user, crate::now_ms())
        .await
    {
        Ok((version, is_new)) => Ok(saved(version, is_new)),
        Err(StoreError::Core(e)) => refused(&state, &r, reason(&e)).await,
        Err(e) => Err(e.into()),
    }
}
