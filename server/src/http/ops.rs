//! What operators and their monitoring ask: `/healthz`, `/readyz`, `/metrics`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use gridsync_core::rules::CalendarWarning;

use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use crate::store::StoreError;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "the process is up", body = String)))]
pub(super) async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format; aggregates only", body = String)))]
pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // The quarantine's figures live in the database: every server on it sees the same.
    match state.store.quarantine_totals().await {
        Ok(q) => state.metrics.quarantine(&q),
        Err(e) => tracing::warn!(error = %e, "quarantine figures unavailable for /metrics"),
    }
    let body = state.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        body,
    )
        .into_response()
}

/// `/readyz`: ready when the database answers, with the rules in force and what an operator
/// should act on soon.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Always `ready` (otherwise the answer is an error).
    pub status: &'static str,
    pub rules_version: u64,
    /// The years whose holidays the calendar lists.
    pub calendar_years: Vec<i32>,
    pub warnings: Vec<Warning>,
}

/// Something to act on; the server still serves.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Warning {
    /// Machine-readable: `calendar_missing_year`.
    pub code: &'static str,
    pub year: i32,
    /// In Chinese, for the county's administrators.
    pub message: String,
}

#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, description = "the database answers", body = Readiness), (status = 500, body = ErrorBody)))]
pub(super) async fn readyz(
    State(state): State<Arc<AppState>>,
) -> Result<axum::Json<Readiness>, ApiError> {
    sqlx::query("SELECT 1")
        .execute(state.store.pool())
        .await
        .map_err(StoreError::from)?;
    let live = state.store.rules().await?;
    let warnings = live
        .rules
        .calendar_warning(state.now())
        .map(|w| Warning {
            code: CalendarWarning::CODE,
            year: w.year,
            message: w.message(),
        })
        .into_iter()
        .collect();
    Ok(axum::Json(Readiness {
        status: "ready",
        rules_version: live.rules.version(),
        calendar_years: live.rules.calendar().years().collect(),
        warnings,
    }))
}
