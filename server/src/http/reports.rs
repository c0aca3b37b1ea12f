//! The loop's figures: `GET /v1/stats` and `GET /v1/patrols/coverage`, for a scope within the
//! caller's own.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use gridsync_core::{Identity, JurisdictionPath, Level};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::extract::SignedIn;
use super::state::AppState;
use crate::patrol::Coverage;
use crate::stats::Stats;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/stats", get(stats))
        .route("/v1/patrols/coverage", get(patrol_coverage))
}

const DAY_MS: i64 = 86_400_000;

/// Query of `GET /v1/stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// Received at or after (ms since the epoch); default 30 days before `to`.
    pub from: Option<i64>,
    /// Received before (ms since the epoch); default now.
    pub to: Option<i64>,
    /// A jurisdiction path within the caller's own; default the caller's scope.
    pub scope: Option<String>,
}

/// `GET /v1/stats`: the loop's figures for a scope and a window (see `stats.rs` for what each
/// rate divides). Departments get 403: their figures are not a jurisdiction's.
#[utoipa::path(get, path = "/v1/stats", tag = "stats", security(("bearer" = [])), params(StatsQuery),
    responses((status = 200, body = Stats), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden (departments) or out_of_scope (a scope outside the caller's)", body = ErrorBody)))]
pub(super) async fn stats(
    State(state): State<Arc<AppState>>,
    caller: SignedIn,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Stats>, ApiError> {
    let Query(q) = query?;
    let who = &caller.who;
    let scope = report_scope(who, q.scope.as_deref())?;
    let now = crate::now_ms();
    let to = q.to.unwrap_or(now);
    let from = q.from.unwrap_or(to.saturating_sub(30 * DAY_MS));
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    Ok(Json(state.stats(who, &scope, from, to).await?))
}

/// The scope a report (stats, patrol coverage) is asked for: the caller's own by default, else
/// one within it. Departments get none: figures are kept by jurisdiction.
fn report_scope(who: &Identity, asked: Option<&str>) -> Result<JurisdictionPath, ApiError> {
    if !who.role.sees_reports() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "reports are kept by jurisdiction, not by department",
        ));
    }
    let scope = match asked.filter(|s| !s.is_empty()) {
        None => who.scope.clone(),
        Some(s) => JurisdictionPath::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    if !scope.is_within(&who.scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "out_of_scope",
            format!("{scope} is outside {}", who.scope),
        ));
    }
    Ok(scope)
}

/// Query of `GET /v1/patrols/coverage`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CoverageQuery {
    /// grid (daily), village (weekly), township (fortnightly) or county (monthly); default grid.
    pub level: Option<String>,
    /// From this instant (ms since the epoch); default 7 days before `to`.
    pub from: Option<i64>,
    /// Before this instant; default now. At most a year after `from`.
    pub to: Option<i64>,
    /// A jurisdiction path within the caller's own; default the caller's scope.
    pub scope: Option<String>,
}

/// `GET /v1/patrols/coverage`: per period of the level's cadence, the units nobody patrolled.
#[utoipa::path(get, path = "/v1/patrols/coverage", tag = "stats", security(("bearer" = [])), params(CoverageQuery),
    responses((status = 200, body = Coverage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden (departments) or out_of_scope", body = ErrorBody)))]
pub(super) async fn patrol_coverage(
    State(state): State<Arc<AppState>>,
    caller: SignedIn,
    query: Result<Query<CoverageQuery>, QueryRejection>,
) -> Result<Json<Coverage>, ApiError> {
    let Query(q) = query?;
    let scope = report_scope(&caller.who, q.scope.as_deref())?;
    let level = match q.level.as_deref() {
        None | Some("") => Level::Grid,
        Some(l) => Level::parse(l)
            .ok_or_else(|| ApiError::bad_request("level is grid, village, township or county"))?,
    };
    let to = q.to.unwrap_or_else(crate::now_ms);
    let from = q.from.unwrap_or(to.saturating_sub(7 * DAY_MS));
    // Checked: `to - from` of two numbers from the query overflows for far-apart ones.
    let span = to.checked_sub(from);
    if from >= to || span.is_none_or(|d| d > crate::patrol::MAX_DAYS as i64 * DAY_MS) {
        return Err(ApiError::bad_request(
            "from must be before to, at most a year apart",
        ));
    }
    let units = state.store.units_at(&scope, level).await?;
    let patrols = state.store.patrols(&scope, from, to).await?;
    Ok(Json(crate::patrol::coverage(
        &scope,
        level,
        &units,
        &patrols,
        from,
        to,
        state.store.rules_now().rules.calendar(),
    )))
}
