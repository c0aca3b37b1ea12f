//! What wraps the routes, from tower-http (ADR 0035): the request id (`x-request-id`, made when
//! missing, echoed in the answer), a trace span per request, the latency histogram per route
//! template, and the deadlines of `limit::Deadlines`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::state::AppState;

/// The request id's header.
pub const REQUEST_ID: &str = "x-request-id";
/// The longest request id a client may bring; a longer or odd one is replaced.
const MAX_REQUEST_ID: usize = 64;

/// `routes` answered within `deadline`, end to end; past it, `503 timeout`.
pub fn deadline(routes: Router<Arc<AppState>>, deadline: Duration) -> Router<Arc<AppState>> {
    routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            deadline,
        ))
        .layer(middleware::map_response(timeout_as_json))
}

/// `routes` without an end-to-end deadline (uploads over 2G), but whose request bodies are cut
/// when they stall `idle` between two pieces (a blob part keeps what came).
pub fn body_idle(routes: Router<Arc<AppState>>, idle: Duration) -> Router<Arc<AppState>> {
    routes.layer(RequestBodyTimeoutLayer::new(idle))
}

/// The timeout layer's answer (a bare status) as the API's `timeout` error. Handlers always set
/// a content type, so a bare `503` here is the layer's.
async fn timeout_as_json(resp: Response) -> Response {
    match resp.status() == StatusCode::SERVICE_UNAVAILABLE
        && !resp.headers().contains_key(header::CONTENT_TYPE)
    {
        true => ApiError::timeout().into_response(),
        false => resp,
    }
}

/// `routes` with a request id, a trace span and the per-route histogram, outside everything
/// else so that they see the answer as sent.
pub fn observed(routes: Router<Arc<AppState>>, state: Arc<AppState>) -> Router<Arc<AppState>> {
    routes
        .layer(middleware::from_fn_with_state(state, record))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::map_request(plain_request_id))
}

/// The span of a request: method, route template and request id; never the path asked (ids,
/// receipt numbers) nor the query.
fn span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = method_label(req.method()),
        route = route_label(req),
        request_id = id
    )
}

/// A client's request id is kept only when short and plain (it goes into logs); otherwise a
/// fresh one is made.
async fn plain_request_id(mut req: Request) -> Request {
    let plain = |v: &HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= MAX_REQUEST_ID
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
    };
    if req.headers().get(REQUEST_ID).is_some_and(|v| !plain(v)) {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// Records the request's latency under its route template.
async fn record(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = route_label(&req).to_owned();
    let resp = next.run(req).await;
    state
        .metrics
        .request(method, &route, resp.status().as_u16(), started.elapsed());
    resp
}

/// The matched route's template; `unmatched` for none (a raw path would carry ids).
fn route_label(req: &Request) -> &str {
    req.extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
}

/// The method, one of a few (anyone can send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
