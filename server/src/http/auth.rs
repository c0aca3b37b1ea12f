//! `/v1/auth/*`: a phone signs in, renews its tokens and signs out; the policy is `crate::auth`.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use crate::auth::{self, AuthError, Tokens};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
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
    /// The phone store's Ed25519 public key (32 bytes, base64url without padding): bound to the
    /// device at its first sign-in with one; its pushes must then be signed with it (ADR 0028).
    #[serde(default)]
    pub device_key: Option<String>,
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
    /// The server's public key (32 bytes, base64url without padding): the phone seals the keys
    /// of the cases it captures to it (ADR 0029).
    pub server_key: String,
    /// The device certificate (base64url) the phone shows colleagues' phones (ADR 0030),
    /// renewed with every sign-in, refresh and, near its expiry, sync; absent for a device
    /// without a bound key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

impl From<Tokens> for TokenResponse {
    fn from(t: Tokens) -> Self {
        TokenResponse {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer".into(),
            expires_in: auth::ACCESS_SECONDS,
            user: t.who.user,
            role: t.who.role.as_str().into(),
            scope: t.who.scope.to_string(),
            department: t.who.department,
            device_secret: t.device_secret,
            server_key: t.server_key,
            certificate: t.certificate,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse),
        (status = 400, description = "bad_request (no `Content-Type: application/json`, not JSON, a field missing or mistyped); invalid_input (`actor`, `device`, `device_key`)", body = ErrorBody),
        (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 403, description = "device_revoked, device_taken", body = ErrorBody), (status = 409, description = "actor_taken, device_key_taken", body = ErrorBody),
        (status = 413, description = "too_large", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(req) = body?;
    let actor: automerge::ActorId = req.actor.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "actor must be a hex actor id",
        )
    })?;
    state.check_limit(&state.login_limit, &req.user, 1)?;
    let sign_in = auth::SignIn {
        user: &req.user,
        password: &req.password,
        device: &req.device,
        actor: &actor,
        device_secret: req.device_secret.as_deref(),
        device_key: req.device_key.as_deref(),
    };
    match auth::sign_in(&state.store, &state.keys, &sign_in, crate::now_ms()).await {
        Ok(tokens) => {
            state.metrics.logins_ok.increment(1);
            Ok(Json(tokens.into()))
        }
        Err(e) => {
            if matches!(e, AuthError::InvalidCredentials) {
                state.metrics.logins_refused.increment(1);
            }
            Err(e.into())
        }
    }
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse),
        (status = 400, description = "bad_request (no `Content-Type: application/json`, not JSON, `refresh_token` missing or not a string)", body = ErrorBody),
        (status = 401, description = "token_reused, token_expired, invalid_token, device_revoked", body = ErrorBody),
        (status = 413, description = "too_large", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn refresh(
    State(state): State<Arc<AppState>>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(req) = body?;
    let hash = auth::refresh_hash(&req.refresh_token);
    // Guessing a 256-bit token is hopeless; the limit is per device, for phones stuck in a loop.
    // Checked before the token is spent: a refused refresh leaves it good for the retry.
    if let Some(device) = state.store.refresh_device(&hash).await? {
        state.check_limit(&state.login_limit, &format!("refresh:{device}"), 1)?;
    }
    let tokens = auth::refresh(&state.store, &state.keys, &hash, crate::now_ms()).await?;
    Ok(Json(tokens.into()))
}

/// An unknown or spent refresh token is signed out already: `204` too.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "signed out of the device"),
        (status = 400, description = "bad_request (no `Content-Type: application/json`, not JSON, `refresh_token` missing or not a string)", body = ErrorBody),
        (status = 413, description = "too_large", body = ErrorBody),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn logout(
    State(state): State<Arc<AppState>>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(req) = body?;
    let hash = auth::refresh_hash(&req.refresh_token);
    auth::sign_out(&state.store, &hash, crate::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
