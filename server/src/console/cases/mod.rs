//! Case list (filters, sorting, paging, counts, export) and case detail (fields, photos, timeline,
//! conflict panel, actions): the routes, and the names of categories and departments they share.

mod actions;
mod conflicts;
mod detail;
mod evidence;
mod export;
mod list;
mod print;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::Lang;
use crate::AppState;
use actions::{action, settle};
use detail::{console_blob, detail};
use evidence::evidence;
use export::{export_csv, export_xlsx};
use list::list;
use print::print;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/cases", get(list))
        .route("/console/cases/{id}", get(detail))
        .route("/console/cases/{id}/print", get(print))
        .route("/console/cases/{id}/evidence", get(evidence))
        .route("/console/cases/{id}/action", post(action))
        .route("/console/cases/{id}/settle", post(settle))
        .route("/console/blobs/{sha256}", get(console_blob))
        .route("/console/export.csv", get(export_csv))
        .route("/console/export.xlsx", get(export_xlsx))
}

pub(super) fn department_name(state: &AppState, l: Lang, code: &str) -> String {
    state
        .store
        .rules_now()
        .rules
        .taxonomy()
        .department(code)
        .map(|d| l.pick(&d.name_zh, &d.name_en).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

pub(super) fn category_name(state: &AppState, l: Lang, code: &str) -> String {
    state
        .store
        .rules_now()
        .rules
        .taxonomy()
        .category(code)
        .map(|c| l.pick(&c.name_zh, &c.name_en).to_owned())
        .unwrap_or_else(|| code.to_owned())
}
