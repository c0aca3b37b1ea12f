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
/// The instants patrol coverage may be asked about: 1970-01-01 to 9999-12-31 (UTC).
const COVERAGE_INSTANTS: std::ops::RangeInclusive<i64> = 0..=253_402_300_799_999;

/// Query of `GET /v1/stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Received at or after (ms since the epoch); default 30 days before `to`.
    pub from: Option<i64>,
    /// Received before (ms since the epoch); default now.
    pub to: Option<i64>,
    /// A jurisdiction path within the caller's own; default the caller's scope.
    #[param(pattern = "^([0-9A-Za-z_-]{1,32}(/[0-9A-Za-z_-]{1,32}){0,3})?$")]
    pub scope: Option<String>,
}

/// `GET /v1/stats`: the loop's figures for a scope and a window (see `stats.rs` for what each
/// rate divides). Departments get 403: their figures are not a jurisdiction's.
#[utoipa::path(get, path = "/v1/stats", tag = "stats", security(("bearer" = [])), params(StatsQuery),
    responses((status = 200, body = Stats),
        (status = 400, description = "bad_request: a parameter does not parse, `scope` is not a jurisdiction path, `from` is not before `to`", body = ErrorBody),
        (status = 401, description = "missing_token, invalid_token, token_expired, unknown_device, device_revoked", body = ErrorBody),
        (status = 403, description = "forbidden (departments) or out_of_scope (a scope outside the caller's)", body = ErrorBody),
        (status = 500, description = "internal", body = ErrorBody)))]
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

/// The window `[from, to)` of a coverage report, defaults filled in, or why it is refused.
fn coverage_window(from: Option<i64>, to: Option<i64>, now: i64) -> Result<(i64, i64), ApiError> {
    // The calendar counts days in these years only: past them its arithmetic would overflow.
    if [from, to]
        .iter()
        .flatten()
        .any(|t| !COVERAGE_INSTANTS.contains(t))
    {
        return Err(ApiError::bad_request(
            "from and to are instants from 1970 to 9999 (ms since the epoch)",
        ));
    }
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to.saturating_sub(7 * DAY_MS));
    // Checked: `to - from` of two numbers from the query overflows for far-apart ones.
    let span = to.checked_sub(from);
    if from >= to || span.is_none_or(|d| d > crate::patrol::MAX_DAYS as i64 * DAY_MS) {
        return Err(ApiError::bad_request(
            "from must be before to, at most a year apart",
        ));
    }
    Ok((from, to))
}

/// Query of `GET /v1/patrols/coverage`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageQuery {
    /// grid (daily), village (weekly), township (fortnightly) or county (monthly); default grid.
    #[param(pattern = "^(grid|village|township|county)?$")]
    pub level: Option<String>,
    /// From this instant (ms since the epoch, 1970 to 9999); default 7 days before `to`.
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub from: Option<i64>,
    /// Before this instant (1970 to 9999); default now. At most a year after `from`.
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub to: Option<i64>,
    /// A jurisdiction path within the caller's own; default the caller's scope.
    #[param(pattern = "^([0-9A-Za-z_-]{1,32}(/[0-9A-Za-z_-]{1,32}){0,3})?$")]
    pub scope: Option<String>,
}

/// `GET /v1/patrols/coverage`: per period of the level's cadence, the units nobody patrolled.
#[utoipa::path(get, path = "/v1/patrols/coverage", tag = "stats", security(("bearer" = [])), params(CoverageQuery),
    responses((status = 200, body = Coverage),
        (status = 400, description = "bad_request: a parameter does not parse, an unknown `level`, `scope` is not a jurisdiction path, `from` or `to` outside 1970 to 9999, `from` not before `to` or over a year before it", body = ErrorBody),
        (status = 401, description = "missing_token, invalid_token, token_expired, unknown_device, device_revoked", body = ErrorBody),
        (status = 403, description = "forbidden (departments) or out_of_scope", body = ErrorBody),
        (status = 500, description = "internal", body = ErrorBody)))]
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
    let (from, to) = coverage_window(q.from, q.to, crate::now_ms())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use gridsync_core::calendar::Calendar;

    /// Schemathesis found `from=-9223372036854775808&to=-9223372036854775807` panicking in the
    /// calendar: every window accepted now is one the calendar counts without overflow.
    #[test]
    fn a_coverage_window_the_calendar_cannot_count_is_refused() {
        let now = 1_780_000_000_000;
        for (from, to) in [
            (Some(i64::MIN), Some(i64::MIN + 1)),
            (Some(-1), None),
            (None, Some(i64::MAX)),
            (Some(i64::MAX - 1), Some(i64::MAX)),
        ] {
            let refused = coverage_window(from, to, now).unwrap_err();
            assert_eq!(refused.into_response().status(), StatusCode::BAD_REQUEST);
        }
        let last = *COVERAGE_INSTANTS.end();
        for (from, to) in [
            (Some(0), Some(1)),
            (None, Some(0)),
            (Some(last - 400 * DAY_MS), Some(last - 40 * DAY_MS)),
            (Some(last - DAY_MS), Some(last)),
            (None, None),
        ] {
            let (from, to) = coverage_window(from, to, now).unwrap();
            let root = JurisdictionPath::parse("130533").unwrap();
            for level in [Level::Grid, Level::Village, Level::Township, Level::County] {
                let units = std::collections::BTreeSet::from([root.clone()]);
                let patrols = [(root.clone(), from)];
                let c = crate::patrol::coverage(
                    &root,
                    level,
                    &units,
                    &patrols,
                    from,
                    to,
                    Calendar::builtin(),
                );
                assert!(!c.periods.is_empty(), "{level:?} {from}..{to}");
            }
        }
    }
}
