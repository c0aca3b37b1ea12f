//! The intake API for other platforms (being built).

use std::sync::Arc;

use axum::Router;

use crate::http::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
}
