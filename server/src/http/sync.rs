//! `POST /v1/sync`: one round trip, push and pull (see docs/PROTOCOL.md).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gridsync_core::Error as CoreError;
use gridsync_core::protocol::{decode_request, encode_response};

use super::Binary;
use super::error::{ApiError, ErrorBody};
use super::extract::{SignedIn, SyncRequests};
use super::state::AppState;
use crate::limit::{MAX_REQUEST_BYTES, REFUSED_BYTES_PER_TOKEN, REFUSED_CHANGE_COST};
use crate::metrics::Phase;
use crate::reads::{self, ClientAddr};
use crate::store::CaseRead;

/// The content type of sync envelopes.
pub const SYNC_CONTENT_TYPE: &str = "application/x-gridsync";

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/sync", post(sync))
}

/// The request's `Content-Type` is not read: phones send `application/x-gridsync`.
#[utoipa::path(post, path = "/v1/sync", tag = "sync", security(("bearer" = [])),
    request_body(content = inline(Binary), content_type = "application/x-gridsync", description = "a SyncRequest envelope (docs/PROTOCOL.md)"),
    responses((status = 200, content_type = "application/x-gridsync", body = inline(Binary), description = "a SyncResponse envelope"),
        (status = 400, description = "malformed, unsupported_version (the envelope); bad_request (the body broke off)", body = ErrorBody),
        (status = 401, description = "missing_token, invalid_token, token_expired, unknown_device, device_revoked", body = ErrorBody),
        (status = 403, description = "device_mismatch", body = ErrorBody), (status = 413, description = "too_large", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn sync(
    State(state): State<Arc<AppState>>,
    SignedIn {
        claims,
        device: ctx,
        who: reader,
        ..
    }: SignedIn<SyncRequests>,
    addr: ClientAddr,
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
    let (resp, times) = state.store.sync_timed(&ctx, &reader, &req, now).await?;
    // The documents pulled go to the phone whole: each whose personal data this account reads
    // in clear is recorded, in one append for the response, before it is sent (ADR 0028).
    let pulled: Vec<&str> = resp
        .pull
        .iter()
        .filter(|d| !d.changes.is_empty())
        .map(|d| d.doc.as_str())
        .collect();
    if !pulled.is_empty() {
        let read = state.store.cases_read_in_clear(&reader, &pulled).await?;
        let addr = addr.text();
        let entries: Vec<CaseRead<'_>> = read
            .iter()
            .map(|case| CaseRead {
                user: &reader.user,
                case,
                route: reads::SYNC,
                addr: &addr,
            })
            .collect();
        state.store.record_reads(&entries, now).await?;
    }
    if !resp.rejected.is_empty() {
        // Refused bytes are paid for: a phone that keeps sending them is slowed.
        let refused = resp.rejected.len() as u64 * REFUSED_CHANGE_COST;
        let bytes: usize = req
            .push
            .iter()
            .filter(|d| resp.rejected.iter().any(|r| r.doc == d.doc))
            .flat_map(|d| d.changes.iter().map(|c| c.len()))
            .sum();
        let bytes = bytes as u64 / REFUSED_BYTES_PER_TOKEN;
        state.sync_limit.charge(&ctx.device, refused + bytes);
    }
    let bytes = encode_response(&resp).map_err(|e| ApiError::internal(&e))?;
    let m = &state.metrics;
    m.sync_requests.increment(1);
    m.changes_accepted
        .increment(resp.accepted.iter().map(|a| a.hashes.len() as u64).sum());
    m.changes_pulled
        .increment(resp.pull.iter().map(|p| p.changes.len() as u64).sum());
    for r in &resp.rejected {
        m.rejected(r.code);
    }
    for (phase, took) in [
        (Phase::Judge, times.judge),
        (Phase::Commit, times.commit),
        (Phase::Pull, Some(times.pull)),
    ] {
        if let Some(took) = took {
            m.phase(phase, took);
        }
    }
    m.sync(started.elapsed());
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
