//! One error for every console page: a short plain-text answer with the right status. The same
//! store, sign-in and blob errors the API converts convert here; internals are logged, never
//! shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;
use crate::blobs::BlobError;
use crate::store::StoreError;

#[derive(Debug)]
pub enum ConsoleError {
    /// A request this page does not take (its message is shown).
    BadRequest(&'static str),
    /// Not this reviewer's to do (its message is shown).
    Forbidden(&'static str),
    /// Missing, or outside the reviewer's jurisdiction: the same answer, so ids reveal nothing.
    NotFound(&'static str),
    Blob(BlobError),
    /// Anything else: logged, shown as an internal error.
    Internal(String),
}

impl ConsoleError {
    /// A POST from another site.
    pub const CROSS_SITE: ConsoleError = ConsoleError::Forbidden("cross-site request refused");
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        ConsoleError::Internal(e.to_string())
    }
}

impl From<AuthError> for ConsoleError {
    fn from(e: AuthError) -> Self {
        ConsoleError::Internal(e.to_string())
    }
}

impl From<BlobError> for ConsoleError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Store(_) | BlobError::Objects(_) => ConsoleError::Internal(e.to_string()),
            other => ConsoleError::Blob(other),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::BadRequest(m) => (StatusCode::BAD_REQUEST, m).into_response(),
            ConsoleError::Forbidden(m) => (StatusCode::FORBIDDEN, m).into_response(),
            ConsoleError::NotFound(m) => (StatusCode::NOT_FOUND, m).into_response(),
            ConsoleError::Blob(e) => (e.status(), e.to_string()).into_response(),
            ConsoleError::Internal(cause) => {
                tracing::error!(error = %cause, "console error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error, logged on the server",
                )
                    .into_response()
            }
        }
    }
}
