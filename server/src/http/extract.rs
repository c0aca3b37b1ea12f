//! The caller of an API route: a bearer token verified, the device's request budget charged, and
//! the device and account checked as the store knows them now — in that order, so a device over
//! its budget costs no database read.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gridsync_core::Identity;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::{self, Claims};
use crate::limit::RateLimiter;
use crate::store::DeviceContext;

/// Which per-device request budget a route charges before it reads the store.
pub trait DeviceBudget {
    fn limiter(state: &AppState) -> Option<&RateLimiter>;
}

/// Routes with no per-device budget of their own.
#[derive(Debug)]
pub struct Unmetered;

impl DeviceBudget for Unmetered {
    fn limiter(_: &AppState) -> Option<&RateLimiter> {
        None
    }
}

/// `POST /v1/sync` (`limit::SYNC_BURST`, `SYNC_PER_MINUTE`).
#[derive(Debug)]
pub struct SyncRequests;

impl DeviceBudget for SyncRequests {
    fn limiter(state: &AppState) -> Option<&RateLimiter> {
        Some(&state.sync_limit)
    }
}

/// The blob routes (`limit::BLOB_BURST`, `BLOB_PER_MINUTE`).
#[derive(Debug)]
pub struct BlobRequests;

impl DeviceBudget for BlobRequests {
    fn limiter(state: &AppState) -> Option<&RateLimiter> {
        Some(&state.blob_limit)
    }
}

/// A signed-in caller: its token's claims, its device and who it acts as.
#[derive(Debug)]
pub struct SignedIn<B = Unmetered> {
    pub claims: Claims,
    pub device: DeviceContext,
    pub who: Identity,
    budget: PhantomData<B>,
}

impl<B: DeviceBudget + Send> FromRequestParts<Arc<AppState>> for SignedIn<B> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let claims = bearer_claims(parts, state)?;
        if let Some(limiter) = B::limiter(state) {
            state.check_limit(limiter, &claims.dev, 1)?;
        }
        let (device, who) = auth::signed_in(&state.store, &claims).await?;
        Ok(SignedIn {
            claims,
            device,
            who,
            budget: PhantomData,
        })
    }
}

/// The verified claims of the request's bearer token.
fn bearer_claims(parts: &Parts, state: &AppState) -> Result<Claims, ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("missing_token", "an access token is required"))?;
    state.keys.verify(token).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => {
                ApiError::unauthorized("token_expired", "the access token expired; refresh it")
            }
            _ => ApiError::unauthorized("invalid_token", "the access token is not valid here"),
        }
    })
}
