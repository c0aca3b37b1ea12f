//! `POST /v1/sms/inbound`: the county's SMS gateway hands over one SMS a grid worker sent as an
//! urgent report (docs/PROTOCOL.md, "Urgent report by SMS"). The gateway proves itself with the
//! inbound token of the SMS settings; what the SMS proves is the sender's device (its MAC).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use crate::sms::inbound::{self, Inbound};

/// An SMS is at most a few hundred bytes; the envelope around it less than this.
const MAX_INBOUND_BYTES: usize = 8 * 1024;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/sms/inbound", post(inbound_sms))
}

/// One inbound SMS as the gateway sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InboundSms {
    /// The sender's number (not kept: the device's MAC, not the number, says who sent it).
    #[serde(default)]
    pub from: String,
    /// The SMS text.
    pub text: String,
}

/// What became of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboundAnswer {
    /// `held` (a first part, waiting for its second) or `opened`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
}

#[utoipa::path(post, path = "/v1/sms/inbound", tag = "sms", security(("sms_inbound" = [])), request_body = InboundSms,
    responses((status = 201, description = "the report opened its case", body = InboundAnswer),
        (status = 202, description = "the first of two parts, held until the second comes", body = InboundAnswer),
        (status = 400, description = "malformed_json; sms_malformed (not a gridsync report, or cut short)", body = ErrorBody),
        (status = 401, description = "sms_unauthorized: no or the wrong inbound token", body = ErrorBody),
        (status = 403, description = "sms_forged (unknown device tag, or the MAC does not match), device_revoked", body = ErrorBody),
        (status = 409, description = "sms_replayed: the report's case is open already", body = ErrorBody),
        (status = 413, description = "too_large: the body is over 8 KiB", body = ErrorBody),
        (status = 422, description = "sms_stub_mismatch (no account of the device builds the reported change), or an admission code (`not_allowed`, …)", body = ErrorBody),
        (status = 503, description = "sms_disabled: the server has no SMS settings with an inbound token", body = ErrorBody),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn inbound_sms(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(expected) = &state.sms_inbound_token else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "sms_disabled",
            "this server takes no SMS: start it with --sms-config naming an inbound token",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared as digests: the time taken says nothing of how much of the token was right.
    if Sha256::digest(presented.as_bytes()) != Sha256::digest(expected.as_bytes()) {
        return Err(ApiError::unauthorized(
            "sms_unauthorized",
            "the gateway's inbound token is missing or wrong",
        ));
    }
    let (bytes, broken) = super::read_body(body, MAX_INBOUND_BYTES)
        .await
        .ok_or_else(|| ApiError::too_large(MAX_INBOUND_BYTES))?;
    if broken {
        return Err(ApiError::bad_request("the body broke off before its end"));
    }
    let sms: InboundSms = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("send {{\"from\": …, \"text\": …}}: {e}"),
        )
    })?;
    match inbound::receive(&state.store, &sms.text, crate::now_ms()).await {
        Ok(Inbound::Held) => Ok((
            StatusCode::ACCEPTED,
            axum::Json(InboundAnswer {
                status: "held",
                case_id: None,
            }),
        )
            .into_response()),
        Ok(Inbound::Opened { case_id }) => Ok((
            StatusCode::CREATED,
            axum::Json(InboundAnswer {
                status: "opened",
                case_id: Some(case_id),
            }),
        )
            .into_response()),
        Err(r) => Err(ApiError::new(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            r.code,
            r.reason,
        )),
    }
}
