//! `/v1/blobs/{sha256}`: photos and documents, uploaded in resumable parts and read through the
//! cases that reference them; the policy is `crate::blobs`.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Binary;
use super::error::{ApiError, ErrorBody};
use super::extract::{BlobRequests, SignedIn};
use super::state::AppState;
use crate::blobs::{BlobError, BlobStore, BlobUse, Part, Put, Served, Uploader};
use crate::limit::{self, MAX_BLOB_REQUEST_BYTES};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route(
        "/v1/blobs/{sha256}",
        axum::routing::put(put_blob)
            .head(head_blob)
            .get(get_blob)
            .layer(DefaultBodyLimit::max(MAX_BLOB_REQUEST_BYTES)),
    )
}

/// The name in a blob route's path; one that does not even decode (bad UTF-8) is empty, which
/// is no blob name (`400 bad_name` once the caller is known).
fn blob_name(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(name)| name).unwrap_or_default()
}

/// `HEAD /v1/blobs/{sha256}`: how many bytes of the caller's upload the server holds
/// (`Upload-Offset`), so an upload cut off resumes where it stopped; `Upload-Complete: true`
/// once the caller has sent it whole.
/// A `HEAD` answer has no body: errors are the status alone (with the code in `GET`'s words).
#[utoipa::path(head, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256 of the bytes", pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, description = "the caller's upload", headers(
            ("Upload-Offset" = i64, description = "bytes of the caller's upload the server holds"),
            ("Upload-Complete" = bool, description = "the caller has sent it whole"))),
        (status = 400, description = "bad_name"),
        (status = 401, description = "missing_token, invalid_token, token_expired, unknown_device, device_revoked"),
        (status = 404, description = "not_found: no readable case references it"),
        (status = 429, description = "rate_limited: the device's blob requests", headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 500, description = "internal")))]
pub(super) async fn head_blob(
    State(state): State<Arc<AppState>>,
    caller: SignedIn<BlobRequests>,
    sha256: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let sha256 = blob_name(sha256);
    BlobStore::check_access(&state.store, &caller.who, &sha256, BlobUse::Upload).await?;
    let held = state
        .blobs
        .held(&state.store, &sha256, &caller.who.user)
        .await?;
    Ok((
        StatusCode::OK,
        [
            ("upload-offset", held.offset.to_string()),
            ("upload-complete", held.complete.to_string()),
        ],
    )
        .into_response())
}

/// `PUT /v1/blobs/{sha256}`: the whole blob, or a part with `Content-Range: bytes a-b/total`
/// starting where the caller's copy on the server ends. 201 when complete (hash checked), 202
/// with `Upload-Offset` when more is expected. With `Content-Range`, a body cut off by the link
/// is kept as far as it came.
#[utoipa::path(put, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256 of the bytes", pattern = "^[0-9a-f]{64}$"),
        ("Content-Range" = Option<String>, Header, nullable = false, pattern = "^bytes [0-9]+-[0-9]+/[0-9]+$",
            description = "bytes START-END/TOTAL; START is the Upload-Offset of HEAD; without it, the body is the whole blob")),
    request_body(content = inline(Binary), content_type = "application/octet-stream", description = "the blob, or the part from START; the type is read from its first bytes"),
    responses((status = 201, description = "complete: the caller has sent every byte, checked against the name"),
        (status = 202, description = "more expected", headers(("Upload-Offset" = i64, description = "bytes of the caller's upload the server holds"))),
        (status = 400, description = "bad_name, bad_range", body = ErrorBody), (status = 401, description = "missing_token, invalid_token, token_expired, unknown_device, device_revoked", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "wrong_offset", body = ErrorBody, headers(("Upload-Offset" = i64, description = "where to continue"))),
        (status = 413, description = "too_large (20 MiB)", body = ErrorBody),
        (status = 415, description = "unsupported_type: images and PDF only", body = ErrorBody),
        (status = 422, description = "hash_mismatch: nothing stored", body = ErrorBody),
        (status = 429, description = "rate_limited: the device's blob requests or upload bytes", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn put_blob(
    State(state): State<Arc<AppState>>,
    caller: SignedIn<BlobRequests>,
    sha256: Result<Path<String>, PathRejection>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let sha256 = blob_name(sha256);
    let who = &caller.who;
    BlobStore::check_access(&state.store, who, &sha256, BlobUse::Upload).await?;
    let range = match headers.get(header::CONTENT_RANGE).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(crate::blobs::parse_range(v)?),
        Some(Err(_)) => return Err(BlobError::BadRange("not text".into()).into()),
    };
    if range.is_some_and(|(_, _, total)| total > limit::MAX_ATTACHMENT_BYTES as i64) {
        return Err(BlobError::TooLarge.into());
    }
    // The device's upload budget pays for what the request announces (the range, else the
    // length, else the most a body may be), before a byte of it is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let cost = match range {
        Some((a, b, _)) => u64::try_from(b - a + 1).unwrap_or(u64::MAX),
        None => declared.unwrap_or(MAX_BLOB_REQUEST_BYTES as u64),
    };
    state.check_limit(&state.upload_limit, &caller.claims.dev, cost)?;
    let Some((bytes, mut cut)) = super::read_body(body, MAX_BLOB_REQUEST_BYTES).await else {
        return Err(BlobError::TooLarge.into());
    };
    let (start, total) = match range {
        Some((a, b, total)) => {
            let expected = b - a + 1;
            if bytes.len() as i64 > expected {
                return Err(BlobError::BadRange("the body is longer than the range".into()).into());
            }
            cut |= (bytes.len() as i64) < expected;
            (a, total)
        }
        // Without a range the size is only known from a complete body.
        None if cut => return Err(BlobError::BadRange("the body broke off".into()).into()),
        None => (0, bytes.len() as i64),
    };
    let from = Uploader {
        device: &caller.device.device,
        user: &who.user,
    };
    let part = Part {
        start,
        total,
        bytes: &bytes,
        cut,
    };
    Ok(
        match state
            .blobs
            .put(&state.store, &sha256, part, from, crate::now_ms())
            .await?
        {
            Put::Complete => StatusCode::CREATED.into_response(),
            Put::Partial { received } => (
                StatusCode::ACCEPTED,
                [("upload-offset", received.to_string())],
            )
                .into_response(),
        },
    )
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct BlobQuery {
    /// Any value: a JPEG thumbnail (photos only).
    pub thumb: Option<String>,
}

/// The API and the console send a blob the same way.
impl IntoResponse for Served {
    fn into_response(self) -> Response {
        // Photos hold personal data: not kept in a shared office PC's browser cache.
        let private = (header::CACHE_CONTROL, "no-store".to_owned());
        let mut resp = ([(header::CONTENT_TYPE, self.mime), private], self.bytes).into_response();
        if let Some(variant) = self.variant {
            resp.headers_mut().insert(
                HeaderName::from_static("x-gridsync-variant"),
                header::HeaderValue::from_static(variant),
            );
        }
        resp
    }
}

/// `GET /v1/blobs/{sha256}[?thumb=1]`.
#[utoipa::path(get, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256 of the bytes", pattern = "^[0-9a-f]{64}$"), BlobQuery),
    responses((status = 200, description = "the bytes, typed as sniffed at upload, or a JPEG thumbnail",
            content((inline(Binary) = "image/jpeg"), (inline(Binary) = "image/png"), (inline(Binary) = "image/webp"),
                (inline(Binary) = "image/heic"), (inline(Binary) = "application/pdf")),
            headers(("x-gridsync-variant" = String, description = "not on thumbnails: `original`, or `stripped` of EXIF by role"))),
        (status = 400, description = "bad_name; bad_request: `thumb` given twice", body = ErrorBody), (status = 401, description = "missing_token, invalid_token, token_expired, unknown_device, device_revoked", body = ErrorBody),
        (status = 403, description = "metadata_restricted (HEIC for roles that may not see EXIF)", body = ErrorBody),
        (status = 404, description = "not_found, not_uploaded, no_thumbnail", body = ErrorBody),
        (status = 429, description = "rate_limited: the device's blob requests", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn get_blob(
    State(state): State<Arc<AppState>>,
    caller: SignedIn<BlobRequests>,
    sha256: Result<Path<String>, PathRejection>,
    query: Result<Query<BlobQuery>, QueryRejection>,
) -> Result<Served, ApiError> {
    let sha256 = blob_name(sha256);
    let Query(q) = query?;
    Ok(state
        .blobs
        .read_for(
            &state.store,
            &caller.who,
            &sha256,
            crate::blobs::wants_thumb(q.thumb.as_deref()),
        )
        .await?)
}
