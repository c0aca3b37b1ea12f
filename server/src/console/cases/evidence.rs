//! A case's verifiable export from the console (导出可验证记录, ADR 0028): the file
//! `gridsync case export` writes, for the township and county centres, checked offline with
//! `gridsync-verify`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::detail::open_case;
use crate::AppState;
use crate::console::{ConsoleError, Reviewer};
use crate::reads::{self, ClientAddr};

/// Whether this reviewer may export the case's verifiable record: a role that exports
/// evidence, reading the case's personal data (the export holds it all).
pub(super) fn may_export(r: &Reviewer, case: &gridsync_core::Case, departments: &[&str]) -> bool {
    r.who.role.exports_evidence()
        && r.who
            .reads_personal_data(case.kind, &case.jurisdiction, departments)
}

pub(super) async fn evidence(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    addr: ClientAddr,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let (_, case, wf) = match open_case(&state, &r, &id).await? {
        Ok(opened) => opened,
        Err(not_found) => return Ok(not_found),
    };
    if !may_export(&r, &case, &wf.departments()) {
        return Ok((StatusCode::FORBIDDEN, r.lang.t("forbidden")).into_response());
    }
    let now = crate::now_ms();
    let Some(bytes) = state.store.case_export(&id, &r.who.user, now).await? else {
        return Ok((StatusCode::NOT_FOUND, r.lang.t("not_found")).into_response());
    };
    // The file holds the whole history, personal data included: always a read to record.
    reads::record(
        &state.store,
        &r.who.user,
        &id,
        reads::CONSOLE_EVIDENCE,
        &addr,
    )
    .await?;
    state
        .store
        .audit(&r.who.user, "case_exported", &id, "console", now)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.gridsync-case\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
