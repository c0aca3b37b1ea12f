//! The HTTP surface: accounts and tokens, the sync endpoint, the reviewers' read API, health,
//! metrics, rate limits and the OpenAPI description.
//!
//! Every error leaves as `{code, message}` JSON with the right status; internals are logged,
//! never sent.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gridsync_core::calendar::Calendar;
use gridsync_core::protocol::{decode_request, encode_response};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{Error as CoreError, Identity, JurisdictionPath, Level, Role};
use serde::{Deserialize, Serialize};

use crate::auth::{self, Claims, Keys};
use crate::limit::{self, MAX_BLOB_REQUEST_BYTES, MAX_REQUEST_BYTES, RateLimiter};
use crate::metrics::Metrics;
use crate::patrol::Coverage;
use crate::stats::Stats;
use crate::store::{
    CasePage, CaseQuery, DeviceContext, HistoryEntry, RefreshUse, Store, StoreError,
};

/// The content type of sync envelopes.
pub const SYNC_CONTENT_TYPE: &str = "application/x-gridsync";

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub keys: Keys,
    pub taxonomy: Taxonomy,
    /// The working-day calendar deadlines are computed on.
    pub calendar: Calendar,
    /// Photos and documents.
    pub blobs: crate::blobs::BlobStore,
    /// This process's own device and actor: set by `serve` at start (shared with supervision),
    /// else registered on the first console write.
    pub server_device: tokio::sync::OnceCell<crate::store::DeviceContext>,
    pub metrics: Metrics,
    /// Sync requests per device (`limit::SYNC_BURST`, `SYNC_PER_MINUTE`).
    pub sync_limit: RateLimiter,
    /// Sign-ins per account name and refreshes per device (`limit::LOGIN_BURST`, …).
    pub login_limit: RateLimiter,
    /// Requests to the blob routes per device (`limit::BLOB_BURST`, `BLOB_PER_MINUTE`).
    pub blob_limit: RateLimiter,
    /// Bytes announced by blob uploads per device (`limit::UPLOAD_BURST_BYTES`, then
    /// `serve --upload-mib-per-hour`).
    pub upload_limit: RateLimiter,
}

impl AppState {
    /// The server's own device, registered already (else registered on first console write).
    pub fn with_server_device(self, device: crate::store::DeviceContext) -> Self {
        // A fresh cell: setting it cannot fail.
        let _ = self.server_device.set(device);
        self
    }

    /// Where blob bytes are kept (in memory unless set: tests).
    pub fn with_blobs(mut self, blobs: crate::blobs::BlobStore) -> Self {
        self.blobs = blobs;
        self
    }

    /// Refills each device's upload budget at `mib_per_hour` (`serve --upload-mib-per-hour`).
    pub fn with_upload_mib_per_hour(mut self, mib_per_hour: u32) -> Self {
        self.upload_limit = RateLimiter::upload_bytes(mib_per_hour);
        self
    }

    /// Replaces the shipped working-day calendar with a deployment's.
    pub fn with_calendar(mut self, calendar: Calendar) -> Self {
        self.calendar = calendar;
        self
    }

    pub fn new(store: Store, keys: Keys, taxonomy: Taxonomy) -> Self {
        AppState {
            store,
            keys,
            taxonomy,
            calendar: Calendar::builtin().clone(),
            server_device: tokio::sync::OnceCell::new(),
            blobs: crate::blobs::BlobStore::in_memory(),
            metrics: Metrics::default(),
            sync_limit: RateLimiter::new(limit::SYNC_BURST, limit::SYNC_PER_MINUTE),
            login_limit: RateLimiter::new(limit::LOGIN_BURST, limit::LOGIN_PER_MINUTE),
            blob_limit: RateLimiter::new(limit::BLOB_BURST, limit::BLOB_PER_MINUTE),
            upload_limit: RateLimiter::upload_bytes(limit::UPLOAD_MIB_PER_HOUR),
        }
    }
}

/// `429 rate_limited`, with `Retry-After`: the whole seconds until the bucket allows it.
fn rate_limited(state: &AppState, wait: std::time::Duration) -> ApiError {
    Metrics::add(&state.metrics.rate_limited, 1);
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests; wait a moment and retry",
    );
    e.retry_after = Some(wait.as_secs().saturating_add(1));
    e
}

/// `limiter`'s verdict for `key`, as a `429` when it refuses.
fn check_limit(
    state: &AppState,
    limiter: &RateLimiter,
    key: &str,
    cost: u64,
) -> Result<(), ApiError> {
    limiter
        .take(key, cost)
        .map_err(|wait| rate_limited(state, wait))
}

pub use axum::Router;

/// Serves `router` on `listener` until the process stops (tests; `main` adds graceful shutdown).
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

/// The whole router.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/sync", post(sync))
        .route("/v1/cases", get(list_cases))
        .route("/v1/cases/{id}", get(case_detail))
        .route("/v1/stats", get(stats))
        .route("/v1/patrols/coverage", get(patrol_coverage))
        .route(
            "/v1/blobs/{sha256}",
            axum::routing::put(put_blob)
                .head(head_blob)
                .get(get_blob)
                .layer(DefaultBodyLimit::max(MAX_BLOB_REQUEST_BYTES)),
        )
        .merge(crate::console::routes())
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

/// The body limit of a path: [`MAX_BLOB_REQUEST_BYTES`] on the blob routes, else
/// [`MAX_REQUEST_BYTES`].
fn body_limit(path: &str) -> usize {
    match path.starts_with("/v1/blobs/") {
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
        return too_large(limit).into_response();
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
        return too_large(limit).into_response();
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

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("request bodies here are limited to {limit} bytes"),
    )
}

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Seconds for a `Retry-After` header (`429`).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn unauthorized(code: &'static str, message: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.into(),
            message: self.message,
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error, logged on the server",
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text())
            }
            _ => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(MAX_REQUEST_BYTES),
            status => ApiError::new(status, "bad_request", e.body_text()),
        }
    }
}

/// The verified claims of the request's bearer token.
#[derive(Debug)]
pub struct Authenticated(pub Claims);

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("missing_token", "an access token is required")
            })?;
        state.keys.verify(token).map(Authenticated).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the access token expired; refresh it")
                }
                _ => ApiError::unauthorized("invalid_token", "the access token is not valid here"),
            }
        })
    }
}

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "the process is up", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format; aggregates only", body = String)))]
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
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

#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, description = "the database answers", body = String), (status = 500, body = ErrorBody)))]
async fn readyz(State(state): State<Arc<AppState>>) -> Result<&'static str, ApiError> {
    sqlx::query("SELECT 1")
        .execute(state.store.pool())
        .await
        .map_err(StoreError::from)?;
    Ok("ready")
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
    pub device: String,
    /// The phone's Automerge actor id, hex; bound to the device here.
    pub actor: String,
    /// The secret the first sign-in on this device returned; required ever after.
    #[serde(default)]
    pub device_secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub user: String,
    pub role: String,
    pub scope: String,
    pub department: Option<String>,
    /// Only on the first sign-in on a device: keep it (encrypted) and send it with every later
    /// sign-in on this device id.
    pub device_secret: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 403, description = "device_revoked, device_taken", body = ErrorBody), (status = 409, description = "actor_taken", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
async fn login(
    State(state): State<Arc<AppState>>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(req) = body?;
    let now = crate::now_ms();
    let actor: automerge::ActorId = req.actor.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "actor must be a hex actor id",
        )
    })?;
    // The server writes its own events (supervision, console actions) from this device id: no
    // phone may claim it.
    if crate::store::is_server_device(&req.device) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "this device id is reserved for the server",
        ));
    }
    check_limit(&state, &state.login_limit, &req.user, 1)?;
    let bad = || {
        Metrics::add(&state.metrics.logins_refused, 1);
        ApiError::unauthorized("invalid_credentials", "wrong user name or password")
    };
    let Some(user) = active_account(&state, &req.user, &req.password).await? else {
        return Err(bad());
    };
    let identity = Identity::new(
        &user.id,
        user.role,
        user.scope.clone(),
        user.department.clone(),
        &req.device,
    )
    .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", e.to_string()))?;
    if let Some(ctx) = state.store.device_context(&req.device).await?
        && ctx.revoked
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "device_revoked",
            "this device was revoked",
        ));
    }
    // A device id proves itself with the secret its first sign-in received: knowing a colleague's
    // device id (it is in every case they wrote) must not let anyone sign in as that device.
    let taken = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "device_taken",
            "this device id belongs to another phone",
        )
    };
    let known_secret = state.store.device_secret_hash(&req.device).await?;
    if let Some(hash) = &known_secret {
        let presented = req.device_secret.as_deref().map(auth::refresh_hash);
        if presented.as_deref() != Some(hash.as_str()) {
            state
                .store
                .audit(&user.id, "login_device_taken", &req.device, "", now)
                .await?;
            return Err(taken());
        }
    }
    state
        .store
        .bind_device(&req.device, &user.id, &actor, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "actor_taken", m),
            other => ApiError::from(other),
        })?;
    let new_secret = match known_secret {
        Some(_) => None,
        None => {
            let (secret, hash) = auth::new_refresh_token();
            if !state
                .store
                .set_device_secret_hash(&req.device, &hash)
                .await?
            {
                return Err(taken());
            }
            Some(secret)
        }
    };
    let family = uuid::Uuid::new_v4().to_string();
    let mut tokens = issue(&state, &identity, &family, now).await?;
    tokens.device_secret = new_secret;
    Metrics::add(&state.metrics.logins_ok, 1);
    state
        .store
        .audit(&user.id, "login", &req.device, "", now)
        .await?;
    Ok(Json(tokens))
}

async fn issue(
    state: &AppState,
    who: &Identity,
    family: &str,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let access_token = state.keys.access_token(who, now / 1000).map_err(|e| {
        tracing::error!(error = %e, "signing failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error, logged on the server",
        )
    })?;
    let (refresh_token, hash) = auth::new_refresh_token();
    let expires = now + auth::REFRESH_DAYS * 24 * 3600 * 1000;
    state
        .store
        .store_refresh(&hash, family, &who.device, &who.user, now, expires)
        .await?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_SECONDS,
        user: who.user.clone(),
        role: who.role.as_str().into(),
        scope: who.scope.to_string(),
        department: who.department.clone(),
        device_secret: None,
    })
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "token_reused, token_expired, invalid_token, device_revoked", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
async fn refresh(
    State(state): State<Arc<AppState>>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(req) = body?;
    let now = crate::now_ms();
    let hash = auth::refresh_hash(&req.refresh_token);
    // Guessing a 256-bit token is hopeless; the limit is per device, for phones stuck in a loop.
    // Checked before the token is spent: a refused refresh leaves it good for the retry.
    if let Some(device) = state.store.refresh_device(&hash).await? {
        check_limit(&state, &state.login_limit, &format!("refresh:{device}"), 1)?;
    }
    match state.store.use_refresh(&hash, now).await? {
        RefreshUse::Rotated {
            family,
            device,
            user,
        } => {
            let ctx = state.store.device_context(&device).await?;
            let Some(who) = ctx
                .filter(|c| !c.revoked)
                .and_then(|c| c.users.into_iter().find(|u| u.user == user))
            else {
                return Err(ApiError::unauthorized(
                    "device_revoked",
                    "this device or account is no longer allowed",
                ));
            };
            Ok(Json(issue(&state, &who, &family, now).await?))
        }
        RefreshUse::Reused { device, .. } => {
            state
                .store
                .audit("-", "refresh_token_reused", &device, "family revoked", now)
                .await?;
            Err(ApiError::unauthorized(
                "token_reused",
                "this refresh token was already used; sign in again",
            ))
        }
        RefreshUse::Expired => Err(ApiError::unauthorized(
            "token_expired",
            "the refresh token expired; sign in again",
        )),
        RefreshUse::Revoked | RefreshUse::Unknown => Err(ApiError::unauthorized(
            "invalid_token",
            "the refresh token is not valid; sign in again",
        )),
    }
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "signed out of the device")))]
async fn logout(
    State(state): State<Arc<AppState>>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(req) = body?;
    let hash = auth::refresh_hash(&req.refresh_token);
    if let Some((device, user)) = state.store.revoke_refresh_family_of(&hash).await? {
        // Signed out of the device too: the access token stops working there at once.
        state.store.sign_out(&device, &user).await?;
        state
            .store
            .audit(&user, "logout", &device, "", crate::now_ms())
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/sync`: one round trip, push and pull (see docs/PROTOCOL.md).
#[utoipa::path(post, path = "/v1/sync", tag = "sync", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/x-gridsync", description = "a SyncRequest envelope (docs/PROTOCOL.md)"),
    responses((status = 200, content_type = "application/x-gridsync", body = Vec<u8>, description = "a SyncResponse envelope"),
        (status = 400, description = "malformed, unsupported_version", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "device_mismatch", body = ErrorBody), (status = 413, description = "too_large", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
async fn sync(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    check_limit(&state, &state.sync_limit, &claims.dev, 1)?;
    let started = std::time::Instant::now();
    // Read only now, after the token and the limit, and never past the limit.
    let body = match read_part_body(body, MAX_REQUEST_BYTES).await {
        None => return Err(too_large(MAX_REQUEST_BYTES)),
        Some((_, true)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body broke off",
            ));
        }
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
    let (ctx, reader) = signed_in(&state, &claims).await?;
    let now = crate::now_ms();
    let resp = state
        .store
        .sync(&ctx, &reader, &req, &state.taxonomy, now)
        .await?;
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
    let bytes = encode_response(&resp).map_err(|e| {
        tracing::error!(error = %e, "encoding a response failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error, logged on the server",
        )
    })?;
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

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text())
    }
}

/// The device and the identity a token speaks for, as the store knows them now: a revoked device
/// or a disabled account is refused here, on every request.
/// The account named `user` if it is enabled and `password` is its password (phones and the
/// console sign in through this one check).
pub(crate) async fn active_account(
    state: &AppState,
    user: &str,
    password: &str,
) -> Result<Option<crate::store::UserRecord>, StoreError> {
    let found = state
        .store
        .user(user)
        .await?
        .filter(|u| !u.disabled && auth::verify_password(&u.password_hash, password));
    if found.is_none() {
        tracing::info!(user = %user, "sign-in refused");
    }
    Ok(found)
}

pub(crate) async fn signed_in(
    state: &AppState,
    claims: &Claims,
) -> Result<(DeviceContext, Identity), ApiError> {
    let Some(ctx) = state.store.device_context(&claims.dev).await? else {
        return Err(ApiError::unauthorized(
            "unknown_device",
            "sign in on this device first",
        ));
    };
    if ctx.revoked {
        return Err(ApiError::unauthorized(
            "device_revoked",
            "this device was revoked",
        ));
    }
    let Some(who) = ctx.users.iter().find(|u| u.user == claims.sub).cloned() else {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "this account may not act from this device",
        ));
    };
    Ok((ctx, who))
}

/// `GET /v1/cases`: the cases the caller may read, filtered and paged.
#[utoipa::path(get, path = "/v1/cases", tag = "cases", security(("bearer" = [])), params(CaseQuery),
    responses((status = 200, body = CasePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_cases(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    query: Result<Query<CaseQuery>, QueryRejection>,
) -> Result<Json<CasePage>, ApiError> {
    let Query(q) = query?;
    let (_, who) = signed_in(&state, &claims).await?;
    Ok(Json(
        state.store.list_cases(&who, &q, crate::now_ms()).await?,
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
/// ids outside the caller's jurisdiction reveal nothing.
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", security(("bearer" = [])), params(("id" = String, Path, description = "case id (UUID)")),
    responses((status = 200, body = CaseDetail), (status = 401, body = ErrorBody), (status = 404, description = "not_found: missing or outside the caller's jurisdiction", body = ErrorBody)))]
async fn case_detail(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<CaseDetail>, ApiError> {
    let (_, who) = signed_in(&state, &claims).await?;
    // An id that does not even decode (bad UTF-8) is a malformed id like any other.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such case");
    if gridsync_core::case::validate_case_id(&id).is_err()
        || !state.store.may_read(&who, &id).await?
    {
        return Err(not_found());
    }
    let doc = state.store.case_doc(&id).await?.ok_or_else(not_found)?;
    let corrupt = |e: gridsync_core::Error| ApiError::from(StoreError::from(e));
    Ok(Json(CaseDetail {
        case: doc.read().map_err(corrupt)?,
        workflow: doc.workflow().map_err(corrupt)?,
        conflicts: doc.conflicts(),
        history: state.store.case_history(&id).await?,
    }))
}

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

const DAY_MS: i64 = 86_400_000;

/// `GET /v1/stats`: the loop's figures for a scope and a window (see `stats.rs` for what each
/// rate divides). Departments get 403: their figures are not a jurisdiction's.
#[utoipa::path(get, path = "/v1/stats", tag = "stats", security(("bearer" = [])), params(StatsQuery),
    responses((status = 200, body = Stats), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden (departments) or out_of_scope (a scope outside the caller's)", body = ErrorBody)))]
async fn stats(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Stats>, ApiError> {
    let Query(q) = query?;
    let (_, who) = signed_in(&state, &claims).await?;
    let scope = report_scope(&who, q.scope.as_deref())?;
    let now = crate::now_ms();
    let to = q.to.unwrap_or(now);
    let from = q.from.unwrap_or(to.saturating_sub(30 * DAY_MS));
    if from >= to {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "from must be before to",
        ));
    }
    let (cohort, overdue) = state.store.stats_rows(&who, &scope, from, to, now).await?;
    Ok(Json(crate::stats::compute(
        &scope.to_string(),
        from,
        to,
        &cohort,
        overdue,
        &state.taxonomy,
        &state.calendar,
    )))
}

/// The scope a report (stats, patrol coverage) is asked for: the caller's own by default, else
/// one within it. Departments get none: figures are kept by jurisdiction.
fn report_scope(who: &Identity, asked: Option<&str>) -> Result<JurisdictionPath, ApiError> {
    if who.role == Role::DepartmentHandler {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "reports are kept by jurisdiction, not by department",
        ));
    }
    let scope = match asked.filter(|s| !s.is_empty()) {
        None => who.scope.clone(),
        Some(s) => JurisdictionPath::parse(s)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))?,
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

fn blob_error(e: crate::blobs::BlobError) -> Response {
    use crate::blobs::BlobError as B;
    let status = match &e {
        B::BadName | B::BadRange(_) => StatusCode::BAD_REQUEST,
        B::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        B::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        B::Mismatch => StatusCode::UNPROCESSABLE_ENTITY,
        B::WrongOffset { .. } => StatusCode::CONFLICT,
        B::Store(_) | B::Objects(_) => {
            tracing::error!(error = %e, "blob storage error");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let mut resp = ApiError::new(status, e.code(), e.to_string()).into_response();
    if let B::WrongOffset { received } = e
        && let Ok(v) = HeaderValue::from_str(&received.to_string())
    {
        resp.headers_mut().insert("upload-offset", v);
    }
    resp
}

/// The name in a blob route's path; one that does not even decode (bad UTF-8) is empty, which
/// is no blob name (`400 bad_name` once the caller is known).
fn blob_name(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(name)| name).unwrap_or_default()
}

/// What a caller wants of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlobUse {
    /// Its bytes or thumbnail: through a readable case whose reference was added by a holder.
    Read,
    /// To send its bytes: through any readable case that references it.
    Upload,
}

/// The caller may touch a blob only through a case it may read that references it; 400 for a
/// name that is no blob name (no path reaches the store), 404 otherwise, so names reveal nothing.
async fn blob_access(
    state: &AppState,
    who: &Identity,
    sha256: &str,
    using: BlobUse,
) -> Result<(), Response> {
    if !gridsync_core::attachment::is_blob_name(sha256) {
        return Err(blob_error(crate::blobs::BlobError::BadName));
    }
    let allowed = match using {
        BlobUse::Read => state.store.may_read_blob(who, sha256).await,
        BlobUse::Upload => state.store.may_upload_blob(who, sha256).await,
    };
    match allowed {
        Ok(true) => Ok(()),
        Ok(false) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such blob").into_response())
        }
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// `HEAD /v1/blobs/{sha256}`: how many bytes of the caller's upload the server holds
/// (`Upload-Offset`), so an upload cut off resumes where it stopped; `Upload-Complete: true`
/// once the caller has sent it whole.
#[utoipa::path(head, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256 of the bytes")),
    responses((status = 200, description = "headers Upload-Offset (bytes of the caller's upload held) and Upload-Complete"),
        (status = 400, description = "bad_name", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "not_found: no readable case references it", body = ErrorBody),
        (status = 429, description = "rate_limited: the device's blob requests (or, for PUT, upload bytes); header Retry-After", body = ErrorBody)))]
async fn head_blob(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    sha256: Result<Path<String>, PathRejection>,
) -> Response {
    let sha256 = blob_name(sha256);
    if let Err(e) = check_limit(&state, &state.blob_limit, &claims.dev, 1) {
        return e.into_response();
    }
    let who = match signed_in(&state, &claims).await {
        Ok((_, w)) => w,
        Err(e) => return e.into_response(),
    };
    if let Err(resp) = blob_access(&state, &who, &sha256, BlobUse::Upload).await {
        return resp;
    }
    match state.blobs.held(&state.store, &sha256, &who.user).await {
        Ok(held) => (
            StatusCode::OK,
            [
                ("upload-offset", held.offset.to_string()),
                ("upload-complete", held.complete.to_string()),
            ],
        )
            .into_response(),
        Err(e) => blob_error(e),
    }
}

/// Reads a part's body, at most `limit` bytes (`None` beyond). A body that breaks off (the
/// link dropped) is returned as far as it came, with `true`.
async fn read_part_body(mut body: axum::body::Body, limit: usize) -> Option<(Vec<u8>, bool)> {
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

/// `PUT /v1/blobs/{sha256}`: the whole blob, or a part with `Content-Range: bytes a-b/total`
/// starting where the caller's copy on the server ends. 201 when complete (hash checked), 202
/// with `Upload-Offset` when more is expected. With `Content-Range`, a body cut off by the link
/// is kept as far as it came.
#[utoipa::path(put, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256 of the bytes"),
        ("Content-Range" = Option<String>, Header, description = "bytes START-END/TOTAL; START is the Upload-Offset of HEAD")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the blob, or the part from START"),
    responses((status = 201, description = "complete: the caller has sent every byte, checked against the name"),
        (status = 202, description = "more expected; header Upload-Offset"),
        (status = 400, description = "bad_name, bad_range", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "wrong_offset; header Upload-Offset", body = ErrorBody),
        (status = 413, description = "too_large (20 MiB)", body = ErrorBody),
        (status = 415, description = "unsupported_type: images and PDF only", body = ErrorBody),
        (status = 422, description = "hash_mismatch: nothing stored", body = ErrorBody),
        (status = 429, description = "rate_limited: the device's blob requests (or, for PUT, upload bytes); header Retry-After", body = ErrorBody)))]
async fn put_blob(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    sha256: Result<Path<String>, PathRejection>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    use crate::blobs::BlobError;
    let sha256 = blob_name(sha256);
    if let Err(e) = check_limit(&state, &state.blob_limit, &claims.dev, 1) {
        return e.into_response();
    }
    let (ctx, who) = match signed_in(&state, &claims).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if let Err(resp) = blob_access(&state, &who, &sha256, BlobUse::Upload).await {
        return resp;
    }
    let range = match headers.get(header::CONTENT_RANGE).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => match crate::blobs::parse_range(v) {
            Ok(r) => Some(r),
            Err(e) => return blob_error(e),
        },
        Some(Err(_)) => return blob_error(BlobError::BadRange("not text".into())),
    };
    if range.is_some_and(|(_, _, total)| total > limit::MAX_ATTACHMENT_BYTES as i64) {
        return blob_error(BlobError::TooLarge);
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
    if let Err(e) = check_limit(&state, &state.upload_limit, &claims.dev, cost) {
        return e.into_response();
    }
    let Some((bytes, mut cut)) = read_part_body(body, MAX_BLOB_REQUEST_BYTES).await else {
        return blob_error(BlobError::TooLarge);
    };
    let (start, total) = match range {
        Some((a, b, total)) => {
            let expected = b - a + 1;
            if bytes.len() as i64 > expected {
                return blob_error(BlobError::BadRange(
                    "the body is longer than the range".into(),
                ));
            }
            cut |= (bytes.len() as i64) < expected;
            (a, total)
        }
        // Without a range the size is only known from a complete body.
        None if cut => return blob_error(BlobError::BadRange("the body broke off".into())),
        None => (0, bytes.len() as i64),
    };
    let from = crate::blobs::Uploader {
        device: &ctx.device,
        user: &who.user,
    };
    let part = crate::blobs::Part {
        start,
        total,
        bytes: &bytes,
        cut,
    };
    match state
        .blobs
        .put(&state.store, &sha256, part, from, crate::now_ms())
        .await
    {
        Ok(crate::blobs::Put::Complete) => StatusCode::CREATED.into_response(),
        Ok(crate::blobs::Put::Partial { received }) => (
            StatusCode::ACCEPTED,
            [("upload-offset", received.to_string())],
        )
            .into_response(),
        Err(e) => blob_error(e),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct BlobQuery {
    /// Any value: a JPEG thumbnail (photos only).
    pub thumb: Option<String>,
}

/// `?thumb=1` (or `true`) asks for the thumbnail; `thumb=0`, `false` or nothing for the bytes.
pub fn wants_thumb(value: Option<&str>) -> bool {
    value.is_some_and(|v| !matches!(v, "0" | "false" | "no"))
}

/// Serves a blob (or its thumbnail) to someone who may read a case that references it.
pub async fn serve_blob(state: &AppState, who: &Identity, sha256: &str, thumb: bool) -> Response {
    if let Err(resp) = blob_access(state, who, sha256, BlobUse::Read).await {
        return resp;
    }
    let blob = match state.store.blob(sha256).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "not_uploaded",
                "the bytes have not been uploaded yet",
            )
            .into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Photos hold personal data: not kept in a shared office PC's browser cache.
    let private = (header::CACHE_CONTROL, "no-store".to_owned());
    if thumb {
        return match state.blobs.thumbnail(sha256, &blob.mime).await {
            Ok(Some(bytes)) => (
                [(header::CONTENT_TYPE, "image/jpeg".to_owned()), private],
                bytes,
            )
                .into_response(),
            Ok(None) => ApiError::new(
                StatusCode::NOT_FOUND,
                "no_thumbnail",
                "this type has no thumbnail",
            )
            .into_response(),
            Err(e) => blob_error(e),
        };
    }
    let bytes = match state.blobs.get(sha256).await {
        Ok(bytes) => bytes,
        Err(e) => return blob_error(e),
    };
    // EXIF (where the camera stood) is evidence for the centres and the one who took it; the
    // others get the same picture without it.
    let as_taken = who.role.sees_photo_metadata()
        || match state.store.holds_blob(sha256, &who.user).await {
            Ok(held) => held,
            Err(e) => return ApiError::from(e).into_response(),
        };
    let (variant, bytes) = if as_taken {
        ("original", bytes)
    } else {
        match gridsync_core::attachment::strip_metadata(&bytes, &blob.mime) {
            // Nothing to remove (a PDF, a photo without EXIF): the bytes as taken.
            Some(plain) if plain == bytes => ("original", plain),
            Some(plain) => ("stripped", plain),
            None => {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "metadata_restricted",
                    "this file's location data cannot be removed; your role sees it only through the case",
                )
                .into_response();
            }
        }
    };
    (
        [
            (header::CONTENT_TYPE, blob.mime),
            private,
            (
                HeaderName::from_static("x-gridsync-variant"),
                variant.to_owned(),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /v1/blobs/{sha256}[?thumb=1]`.
#[utoipa::path(get, path = "/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256 of the bytes"), BlobQuery),
    responses((status = 200, description = "the bytes (header x-gridsync-variant: original or stripped of EXIF by role) or a JPEG thumbnail",
            content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "bad_name", body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "metadata_restricted (HEIC for roles that may not see EXIF)", body = ErrorBody),
        (status = 404, description = "not_found, not_uploaded, no_thumbnail", body = ErrorBody),
        (status = 429, description = "rate_limited: the device's blob requests (or, for PUT, upload bytes); header Retry-After", body = ErrorBody)))]
async fn get_blob(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    sha256: Result<Path<String>, PathRejection>,
    query: Result<Query<BlobQuery>, QueryRejection>,
) -> Response {
    let sha256 = blob_name(sha256);
    if let Err(e) = check_limit(&state, &state.blob_limit, &claims.dev, 1) {
        return e.into_response();
    }
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match signed_in(&state, &claims).await {
        Ok((_, who)) => serve_blob(&state, &who, &sha256, wants_thumb(q.thumb.as_deref())).await,
        Err(e) => e.into_response(),
    }
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
async fn patrol_coverage(
    State(state): State<Arc<AppState>>,
    Authenticated(claims): Authenticated,
    query: Result<Query<CoverageQuery>, QueryRejection>,
) -> Result<Json<Coverage>, ApiError> {
    let Query(q) = query?;
    let (_, who) = signed_in(&state, &claims).await?;
    let scope = report_scope(&who, q.scope.as_deref())?;
    let bad = |m: &str| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m.to_owned());
    let level = match q.level.as_deref() {
        None | Some("") => Level::Grid,
        Some(l) => {
            Level::parse(l).ok_or_else(|| bad("level is grid, village, township or county"))?
        }
    };
    let to = q.to.unwrap_or_else(crate::now_ms);
    let from = q.from.unwrap_or(to.saturating_sub(7 * DAY_MS));
    // Checked: `to - from` of two numbers from the query overflows for far-apart ones.
    let span = to.checked_sub(from);
    if from >= to || span.is_none_or(|d| d > crate::patrol::MAX_DAYS as i64 * DAY_MS) {
        return Err(bad("from must be before to, at most a year apart"));
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
        &state.calendar,
    )))
}

/// The OpenAPI description of this API.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "gridsync", description = "Offline case capture for grid workers, merged into the township's case store. The sync body is a binary envelope described in docs/PROTOCOL.md."),
    paths(healthz, readyz, metrics, login, refresh, logout, sync, list_cases, case_detail, stats, patrol_coverage, head_blob, put_blob, get_blob),
    components(schemas(ErrorBody, LoginRequest, TokenResponse, RefreshRequest, CaseDetail, CasePage, crate::store::CaseRow, HistoryEntry, Stats, crate::stats::Rate, crate::stats::Breakdown, Coverage, crate::patrol::Period)),
    modifiers(&BearerAuth)
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}
