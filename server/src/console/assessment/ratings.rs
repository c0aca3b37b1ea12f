//! 基层评议: township staff score each month the departments that serve their township (1–5,
//! with a comment); the scores enter the departments' assessment. The page lists what the
//! township entered; the store checks again (scope, catalogue, range) and audits.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gridsync_core::Level;
use maud::html;
use serde::Deserialize;

use super::department_name;
use crate::AppState;
use crate::console::{ConsoleError, Reviewer, SameOrigin, forbidden_page, page};
use crate::store::StoreError;

const NAV: &str = "assessment";
/// The longest comment, in characters (the store's limit too).
const COMMENT_CHARS: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Shown {
    saved: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RateForm {
    month: String,
    department: String,
    score: String,
    comment: String,
}

pub(super) async fn ratings_page(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(q): Query<Shown>,
) -> Result<Response, ConsoleError> {
    if !r.who.role.rates_departments() {
        return Ok(forbidden_page(&r, NAV, "rt_only"));
    }
    let notice = (!q.saved.is_empty()).then_some(Ok(()));
    render(&state, &r, &RateForm::default(), notice, StatusCode::OK).await
}

/// The form (kept as typed after a refusal) and the township's scores.
async fn render(
    state: &AppState,
    r: &Reviewer,
    form: &RateForm,
    notice: Option<Result<(), String>>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    // The township's path, as the store keeps the scores ("130322/101").
    let township = r
        .who
        .scope
        .at_level(Level::Township)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let entered = state.store.ratings_by_township(&township).await?;
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    let month = match form.month.trim() {
        "" => cal
            .local_date(crate::now_ms())
            .get(..7)
            .unwrap_or_default()
            .to_owned(),
        m => m.to_owned(),
    };
    let score = form.score.trim();
    let body = html! {
        h1 #ratings-title { (l.t("rt_title")) " · " (r.names.place(&r.who.scope.to_string())) }
        p.explain { (l.t("rt_explain")) }
        @match &notice {
            Some(Ok(())) => { p.ok #rating-saved role="status" { (l.t("rt_saved")) } }
            Some(Err(why)) => { p.error #rating-error role="alert" { (l.t("rt_refused")) "：" (why) } }
            None => {}
        }
        form.filters #rate-form method="post" action="/console/assessment/ratings" {
            label { (l.t("rt_month")) input #r-month type="month" name="month" value=(month) required; }
            label { (l.t("rt_department"))
                select #r-department name="department" required {
                    option value="" { (l.t("rt_pick")) }
                    @for d in live.rules.taxonomy().departments() {
                        option value=(d.code) selected[form.department == d.code] { (l.pick(&d.name_zh, &d.name_en)) }
                    }
                }
            }
            label { (l.t("rt_score"))
                select #r-score name="score" required {
                    @for n in 1..=5u8 {
                        option value=(n) selected[score == n.to_string() || (score.is_empty() && n == 5)] { (n) }
                    }
                }
            }
            label { (l.t("rt_comment")) textarea #r-comment name="comment" rows="2" cols="40" maxlength=(COMMENT_CHARS) { (form.comment) } }
            button #r-submit type="submit" { (l.t("rt_submit")) }
        }
        section #entered {
            h2 { (l.t("rt_entered")) }
            @if entered.is_empty() { p.empty { (l.t("none")) } }
            @else {
                table #ratings {
                    thead { tr {
                        th { (l.t("rt_month")) } th { (l.t("rt_department")) } th { (l.t("rt_score")) }
                        th { (l.t("rt_comment")) } th { (l.t("rt_by")) } th { (l.t("rt_at")) }
                    } }
                    tbody {
                        @for e in &entered {
                            tr.rating data-month=(e.month) data-department=(e.department) {
                                td { (e.month) }
                                td title=(e.department) { (department_name(state, l, &e.department)) }
                                td.n { (e.score) }
                                td.pre { (e.comment) }
                                td { (r.names.who(&e.by)) }
                                td { (cal.local_date_time(e.at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok((status, page(r, l.t("rt_title"), NAV, body)).into_response())
}

/// Why the form is refused before the store is asked, in the reader's words.
fn check(state: &AppState, f: &RateForm) -> Result<u8, &'static str> {
    let live = state.store.rules_now();
    if crate::assessment::month_period(&live.rules, f.month.trim()).is_none() {
        return Err("rt_bad_month");
    }
    if live
        .rules
        .taxonomy()
        .department(f.department.trim())
        .is_none()
    {
        return Err("rt_bad_department");
    }
    let score = f
        .score
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|s| (1..=5).contains(s))
        .ok_or("rt_bad_score")?;
    if f.comment.chars().count() > COMMENT_CHARS {
        return Err("rt_long_comment");
    }
    Ok(score)
}

pub(super) async fn rate(
    State(state): State<Arc<AppState>>,
    _: SameOrigin,
    r: Reviewer,
    Form(f): Form<RateForm>,
) -> Result<Response, ConsoleError> {
    if !r.who.role.rates_departments() {
        return Err(ConsoleError::Forbidden("township centres only"));
    }
    let l = r.lang;
    let refused = |why: String| {
        render(
            &state,
            &r,
            &f,
            Some(Err(why)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let score = match check(&state, &f) {
        Ok(score) => score,
        Err(key) => return refused(l.t(key).to_owned()).await,
    };
    let result = state
        .store
        .rate_department(
            &r.who,
            f.month.trim(),
            f.department.trim(),
            score,
            f.comment.trim(),
            crate::now_ms(),
        )
        .await;
    match result {
        Ok(()) => Ok(Redirect::to("/console/assessment/ratings?saved=1").into_response()),
        // The store's own check (scope, catalogue, range): its words, after ours.
        Err(e @ (StoreError::Core(_) | StoreError::Conflict(_))) => refused(e.to_string()).await,
        Err(e) => Err(e.into()),
    }
}
