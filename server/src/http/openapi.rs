//! `GET /openapi.json`: the description of this API, generated from the routes' annotations.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};

use super::auth::{LoginRequest, RefreshRequest, TokenResponse};
use super::cases::CaseDetail;
use super::error::ErrorBody;
use super::state::AppState;
use super::{auth, blobs, cases, intake, ops, reports, sms, sync};
use crate::patrol::Coverage;
use crate::stats::Stats;
use crate::store::{CasePage, HistoryEntry};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/openapi.json", get(openapi))
}

/// The OpenAPI description of this API.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "gridsync", description = "Offline case capture for grid workers, merged into the township's case store. The sync body is a binary envelope described in docs/PROTOCOL.md."),
    paths(ops::healthz, ops::readyz, ops::metrics, auth::login, auth::refresh, auth::logout, sync::sync, cases::list_cases, cases::case_detail,
        reports::stats, reports::patrol_coverage, blobs::head_blob, blobs::put_blob, blobs::get_blob,
        intake::take_order, intake::order_progress, sms::inbound_sms),
    components(schemas(ErrorBody, LoginRequest, TokenResponse, RefreshRequest, CaseDetail, CasePage, crate::store::CaseRow, HistoryEntry, crate::store::Relay, Stats, crate::stats::Rate, crate::stats::Breakdown, Coverage, crate::patrol::Period, super::ops::Readiness, super::ops::Warning,
        intake::IntakeRequest, intake::Requester, intake::IntakeReceipt, intake::IntakeProgress, intake::IntakeStep,
        sms::InboundSms, sms::InboundAnswer)),
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
        // An intake channel's key (`gridsync channel add`), on `/v1/intake` only.
        components.add_security_scheme(
            "channel_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("gsk_ channel key")
                    .build(),
            ),
        );
        // The county SMS gateway's inbound token (`--sms-config`), on `/v1/sms/inbound` only.
        components.add_security_scheme(
            "sms_inbound",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("inbound token")
                    .build(),
            ),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}
