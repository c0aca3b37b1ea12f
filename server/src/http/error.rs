//! One error for every API route: `{code, message}` JSON with the right status. Every error the
//! layers below raise converts into it here; internals are logged, never sent.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::AuthError;
use crate::blobs::BlobError;
use crate::store::StoreError;

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// A header the client acts on (`Retry-After` of a `429`, `Upload-Offset` of a `409`).
    header: Option<(HeaderName, HeaderValue)>,
}

/// The body of every error.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            header: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(code: &'static str, message: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn not_found(code: &'static str, message: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// `500 internal`: the cause goes to the log only.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error, logged on the server",
        )
    }

    /// `413 too_large` for a body over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request bodies here are limited to {limit} bytes"),
        )
    }

    /// `503 timeout`: past the route's deadline (`limit::Deadlines`); retrying is harmless.
    pub fn timeout() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long; retry",
        )
    }

    /// `429 rate_limited`, with `Retry-After`: the whole seconds until the bucket allows it.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; wait a moment and retry",
        )
        .with_header(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().saturating_add(1)),
        )
    }

    fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.header = Some((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.into(),
            message: self.message,
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some((name, value)) = self.header {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(&e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let status = match &e {
            AuthError::Store(inner) => return ApiError::internal(inner),
            AuthError::Signing(inner) => return ApiError::internal(inner),
            AuthError::InvalidInput(_) => StatusCode::BAD_REQUEST,
            // A sign-in refused for its device: the credentials were fine.
            AuthError::DeviceRevoked | AuthError::DeviceTaken => StatusCode::FORBIDDEN,
            AuthError::ActorTaken(_) | AuthError::DeviceKeyTaken => StatusCode::CONFLICT,
            AuthError::InvalidCredentials
            | AuthError::UnknownDevice
            | AuthError::TokenDeviceRevoked
            | AuthError::NotOnDevice
            | AuthError::NoLongerAllowed
            | AuthError::RefreshReused
            | AuthError::RefreshExpired
            | AuthError::RefreshInvalid => StatusCode::UNAUTHORIZED,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        if matches!(e, BlobError::Store(_) | BlobError::Objects(_)) {
            return ApiError::internal(&e);
        }
        let err = ApiError::new(e.status(), e.code(), e.to_string());
        match e {
            // Where the caller's copy ends, so it resumes from there.
            BlobError::WrongOffset { received } => {
                err.with_header(HeaderName::from_static("upload-offset"), received.into())
            }
            _ => err,
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text())
            }
            _ => ApiError::bad_request(e.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}
