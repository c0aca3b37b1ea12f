//! The counter's 登记 form (being built).

use std::sync::Arc;

use axum::Router;

use crate::http::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
