//! The requester's progress page, /track (being built).

use std::sync::Arc;

use axum::Router;

use crate::http::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
