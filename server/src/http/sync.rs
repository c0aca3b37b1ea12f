//! `POST /v1/sync`: one round trip, push and pull (see docs/PROTOCOL.md).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gridsync_core::Error as CoreError;
use gridsync_core::protocol::{decode_request, encode_response};

use super::error::{ApiError, ErrorBody};
use super::extract::{SignedIn, SyncRequests};
use super::state::AppState;
use crate::limit::MAX_REQUEST_BYTES;
use crate::metrics::Metrics;

/// The content type of sync envelopes.
pub const SYNC_CONTENT_TYPE: &str = "application/x-gridsync";

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/sync", post(sync))
}

#[utoipa::path(post, path = "/v1/sync", tag = "sync", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/x-gridsync", description = "a SyncRequest envelope (docs/PROTOCOL.md)"),
    responses((status = 200, content_type = "application/x-gridsync", body = Vec<u8>, description = "a SyncResponse envelope"),
        (status = 400, description = "malformed, unsupported_version", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "device_mismatch", body = ErrorBody), (status = 413, description = "too_large", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
pub(super) async fn sync(
    State(state): State<Arc<AppState>>,
    SignedIn {
        claims,
        device: ctx,
        who: reader,
        ..
    }: SignedIn<SyncRequests>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    // Read only now, after the token and the limit, and never past the limit.
    let body = match super::read_body(body, MAX_REQUEST_BYTES).await {
        None => return Err(ApiError::too_large(MAX_REQUEST_BYTES)),
        Some((_, true)) => return Err(ApiError::bad_request("the request body broke off")),
        Some((bytes, false)) => bytes,
    };
    let req = decode_request(&body).map_err(|e| {
        let status = match e {
            CoreError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    })?;
    if req.device != claims.dev {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "device_mismatch",
            "the request names another device than the token",
        ));
    }
    let now = crate::now_ms();
    let resp = state.store.sync(&ctx, &reader, &req, now).await?;
    let m = &state.metrics;
    Metrics::add(&m.sync_requests, 1);
    Metrics::add(
        &m.changes_accepted,
        resp.accepted.iter().map(|a| a.hashes.len() as u64).sum(),
    );
    Metrics::add(
        &m.changes_pulled,
        resp.pull.iter().map(|p| p.changes.len() as u64).sum(),
    );
    for r in &resp.rejected {
        m.rejected(r.code);
    }
    Metrics::add(
        &m.sync_micros,
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    let bytes = encode_response(&resp).map_err(|e| ApiError::internal(&e))?;
    tracing::info!(
        device = %ctx.device,
        pushed = req.push.len(),
        accepted = resp.accepted.iter().map(|a| a.hashes.len()).sum::<usize>(),
        rejected = resp.rejected.len(),
        pulled = resp.pull.iter().map(|p| p.changes.len()).sum::<usize>(),
        "sync"
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SYNC_CONTENT_TYPE),
        )],
        bytes,
    )
        .into_response())
}
