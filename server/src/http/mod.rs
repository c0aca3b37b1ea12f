//! The HTTP API, one module and one `router()` per concern: sign-in ([`auth`]), sync, the
//! reviewers' case reads ([`cases`]), figures ([`reports`]), photos ([`blobs`]), operations
//! ([`ops`]), the SMS gateway's inbound route ([`sms`]) and the OpenAPI description ([`openapi`]);
//! [`layers`] wraps them (request id, trace span, latency per route, deadlines). Handlers take the caller as a
//! [`SignedIn`] and fail with one [`ApiError`]; what they share is [`AppState`]. `crate::app`
//! puts these routes and the console's behind [`guarded`].

pub mod auth;
pub mod blobs;
pub mod cases;
pub mod error;
pub mod extract;
pub mod intake;
pub mod layers;
pub mod openapi;
pub mod ops;
pub mod reports;
pub mod sms;
pub mod state;
pub mod sync;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use axum::Router;
pub use error::{ApiError, ErrorBody};
pub use extract::SignedIn;
pub use state::AppState;
pub use sync::SYNC_CONTENT_TYPE;

use crate::limit::{Deadlines, MAX_BLOB_REQUEST_BYTES, MAX_REQUEST_BYTES};

// A raw body in the OpenAPI description (a sync envelope, a blob's bytes) is `type: string,
// format: binary`, so generic clients send bytes, not a JSON array of numbers.
/// Raw bytes.
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

/// Every API route, with its deadline (`limit::Deadlines`).
pub fn router(deadlines: &Deadlines) -> Router<Arc<AppState>> {
    let quick = Router::new()
        .merge(ops::router())
        .merge(openapi::router())
        .merge(auth::router())
        .merge(cases::router())
        .merge(reports::router())
        .merge(intake::router())
        .merge(sms::router());
    Router::new()
        .merge(layers::deadline(quick, deadlines.request))
        .merge(layers::deadline(sync::router(), deadlines.sync))
        .merge(layers::body_idle(blobs::router(), deadlines.body_idle))
}

/// `routes` behind the body limits, with every error as JSON (see [`json_errors`]), and observed
/// ([`layers::observed`]: request id, trace span, latency per route).
pub fn guarded(routes: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    let routes = routes
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(axum::middleware::from_fn(json_errors));
    layers::observed(routes, state.clone()).with_state(state)
}

/// Serves `router` on `listener` until the process stops (tests; `main` adds graceful shutdown).
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
) -> std::io::Result<()> {
    // The client's address reaches handlers that limit by it (the progress page's guesses).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

/// The body limit of a path: [`MAX_BLOB_REQUEST_BYTES`] on the blob routes and the counter's
/// 登记 form (its photos), else [`MAX_REQUEST_BYTES`].
fn body_limit(path: &str) -> usize {
    match path.starts_with("/v1/blobs/") || path == "/console/register" {
        true => MAX_BLOB_REQUEST_BYTES,
        false => MAX_REQUEST_BYTES,
    }
}

/// On every route: a body whose `Content-Length` is over the path's limit is `413 too_large`
/// before anything reads it, and a `413` from an extractor (a body that passed the limit while
/// being read) leaves as `ErrorBody` JSON like every other error, not as axum's plain text. On
/// the API (`/v1/`), any other plain-text rejection of axum's is turned into `ErrorBody` too.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limit = body_limit(req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::too_large(limit).into_response();
    }
    let api = req.uri().path().starts_with("/v1/");
    let resp = next.run(req).await;
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if status == StatusCode::PAYLOAD_TOO_LARGE && plain {
        return ApiError::too_large(limit).into_response();
    }
    if !(api && plain && (status.is_client_error() || status.is_server_error())) {
        return resp;
    }
    let code = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    // axum's rejections are a line of text; anything longer is cut.
    let text = axum::body::to_bytes(resp.into_body(), 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|_| status.to_string());
    ApiError::new(status, code, text).into_response()
}

/// Reads a body, at most `limit` bytes (`None` beyond). A body that breaks off (the link
/// dropped) is returned as far as it came, with `true`.
async fn read_body(mut body: axum::body::Body, limit: usize) -> Option<(Vec<u8>, bool)> {
    use axum::body::HttpBody;
    let mut out = Vec::new();
    loop {
        match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
            None => return Some((out, false)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > limit {
                        return None;
                    }
                    out.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => return Some((out, true)),
        }
    }
}
