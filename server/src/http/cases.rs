//! The reviewers' read API: `GET /v1/cases` and `GET /v1/cases/{id}`.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::error::{ApiError, ErrorBody};
use super::extract::SignedIn;
use super::state::AppState;
use crate::reads::{self, ClientAddr};
use crate::store::{CasePage, CaseQuery, HistoryEntry, StoreError};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/cases", get(list_cases))
        .route("/v1/cases/{id}", get(case_detail))
}

/// `GET /v1/cases`: the cases the caller may read, filtered and paged.
#[utoipa::path(get, path = "/v1/cases", tag = "cases", security(("bearer" = [])), params(CaseQuery),
    responses((status = 200, body = CasePage), (status = 400, description = "bad_request: a parameter does not parse", body = ErrorBody),
        (status = 401, description = "missing_token, invalid_token, token_expired, unknown_device, device_revoked", body = ErrorBody),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn list_cases(
    State(state): State<Arc<AppState>>,
    caller: SignedIn,
    query: Result<Query<CaseQuery>, QueryRejection>,
) -> Result<Json<CasePage>, ApiError> {
    let Query(q) = query?;
    Ok(Json(
        state
            .store
            .list_cases(&caller.who, &q, crate::now_ms())
            .await?,
    ))
}

/// Everything about one case a reviewer needs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    /// The case document's fields (schema v1, docs/PROTOCOL.md).
    #[schema(value_type = Object)]
    pub case: gridsync_core::Case,
    /// Status, level, owner, department, counts and open workflow conflicts, derived from the events.
    #[schema(value_type = Object)]
    pub workflow: gridsync_core::WorkflowState,
    /// Fields holding several values, each with who set it.
    #[schema(value_type = Vec<Object>)]
    pub conflicts: Vec<gridsync_core::FieldConflict>,
    pub history: Vec<HistoryEntry>,
}

/// `GET /v1/cases/{id}`: 404 both for a missing case and for one the caller may not read, so
/// ids outside the caller's jurisdiction reveal nothing. A case whose personal data the caller
/// reads in clear is recorded in the read audit first (a failed record fails the read).
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = String, Path, description = "case id: a UUID, lower-case with hyphens",
        pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    responses((status = 200, body = CaseDetail),
        (status = 401, description = "missing_token, invalid_token, token_expired, unknown_device, device_revoked", body = ErrorBody),
        (status = 404, description = "not_found: not a case id, missing, or outside the caller's jurisdiction", body = ErrorBody),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn case_detail(
    State(state): State<Arc<AppState>>,
    caller: SignedIn,
    addr: ClientAddr,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<CaseDetail>, ApiError> {
    // An id that does not even decode (bad UTF-8) is a malformed id like any other.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let not_found = || ApiError::not_found("not_found", "no such case");
    if gridsync_core::case::validate_case_id(&id).is_err()
        || !state.store.may_read(&caller.who, &id).await?
    {
        return Err(not_found());
    }
    let doc = state.store.case_doc(&id).await?.ok_or_else(not_found)?;
    let corrupt = |e: gridsync_core::Error| ApiError::from(StoreError::from(e));
    let workflow = doc.workflow().map_err(corrupt)?;
    let keys = state.store.case_keys(&id).await?;
    let case = doc.read().map_err(corrupt)?.unsealed(&keys);
    if case.read_is_audited(&caller.who, &workflow.departments()) {
        reads::record(&state.store, &caller.who.user, &id, reads::API_CASE, &addr).await?;
    }
    // Names and phone numbers in clear only for those who handle the case (`Case::for_reader`).
    let case = case.for_reader(&caller.who, &workflow.departments());
    let mut conflicts: Vec<_> = doc
        .conflicts()
        .into_iter()
        .map(|c| c.unsealed(&keys))
        .collect();
    if !caller
        .who
        .reads_personal_data(case.kind, &case.jurisdiction, &workflow.departments())
    {
        conflicts.retain(|c| !c.field.starts_with("people"));
    }
    Ok(Json(CaseDetail {
        case,
        workflow,
        conflicts,
        history: state.store.case_history(&id).await?,
    }))
}
