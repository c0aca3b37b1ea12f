//! The intake API for other platforms (issue 22): `POST /v1/intake` takes a resident's work
//! order from a channel (the 12345 hotline, a mini-program, a QR code page) and opens a case
//! with the channel's source, a receipt and a lookup code; `GET /v1/intake/{order_ref}` tells
//! the channel where the case stands, so the hotline can answer the caller.
//!
//! A channel signs each request with its key (`Authorization: Bearer gsk_…`, see
//! `gridsync channel add`). The channel's work-order number (`order_ref`) is the idempotency
//! key: the same order again gets the first answer again (same case, receipt and code), the
//! same number with other content is `409 order_changed`. The case, its receipt and the order
//! are written in one transaction (`Store::open_case`): an error stores nothing.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, JurisdictionPath};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use crate::limit::MAX_INTAKE_BYTES;
use crate::residents::{Matter, MatterError, Progress, Receipt, channel_identity};
use crate::store::{ChannelRow, DeviceContext, FrontDoorRows, IntakeOrder, StoreError};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/intake", post(take_order))
        .route("/v1/intake/{order_ref}", get(order_progress))
}

/// The longest work-order number a channel may send.
pub const MAX_ORDER_REF_CHARS: usize = 64;

/// A work order, as a channel sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntakeRequest {
    /// The channel's own work-order number (1–64 of `A-Z a-z 0-9 . _ : -`): the idempotency
    /// key, and the path of `GET /v1/intake/{order_ref}`.
    pub order_ref: String,
    /// `request`, `incident` or `dispute`.
    pub kind: String,
    /// A category code of the county's catalogue that applies to the kind.
    pub category: String,
    /// At most 200 characters.
    pub title: String,
    /// At most 20,000 characters.
    #[serde(default)]
    pub description: String,
    /// Where the matter is: a jurisdiction path within the county (`130322/101/201/01`), one
    /// of the jurisdiction tree's units once a tree is imported.
    pub area: String,
    /// At most 200 characters.
    #[serde(default)]
    pub address: String,
    pub requester: Requester,
}

/// Who brought the matter: personal data, shown in full only to the roles handling the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Requester {
    /// At most 50 characters.
    pub name: String,
    /// Digits, spaces, `+` and `-`; at most 20 characters.
    pub phone: String,
}

/// The answer to a work order taken, given again on every retry of the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntakeReceipt {
    pub case_id: String,
    /// The receipt number (回执号) to tell the requester.
    pub receipt_no: String,
    /// The six-digit code that opens the progress page with the receipt number.
    pub lookup_code: String,
    /// The case's status (`reported`).
    pub status: String,
    /// Where the case stands, one sentence in plain Chinese.
    pub stage: String,
}

/// One step of the case, in the requester's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntakeStep {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub what: String,
}

/// Where an order's case stands, as its requester may hear it: no names, no phone numbers,
/// no internal notes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntakeProgress {
    pub case_id: String,
    pub receipt_no: Option<String>,
    pub status: String,
    /// One sentence in plain Chinese.
    pub stage: String,
    /// The answer given at the latest resolution (答复), once resolved.
    pub reply: Option<String>,
    pub resolved_at: Option<i64>,
    /// `satisfied`, `basically_satisfied` or `unsatisfied`, once rated.
    pub rating: Option<String>,
    pub steps: Vec<IntakeStep>,
}

fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

impl From<MatterError> for ApiError {
    fn from(e: MatterError) -> Self {
        unprocessable(e.code, format!("{}: {}", e.field, e.message))
    }
}

/// The channel whose key the request carries, refused as `401` when there is none, it is
/// unknown or revoked; then the channel's rate limit.
async fn channel(state: &AppState, headers: &HeaderMap) -> Result<ChannelRow, ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let invalid = || {
        ApiError::unauthorized(
            "channel_key_invalid",
            "send the channel's key as `Authorization: Bearer gsk_…`",
        )
    };
    let key = key.ok_or_else(invalid)?;
    let channel = state.store.channel_by_key(key).await?.ok_or_else(invalid)?;
    if channel.revoked() {
        return Err(ApiError::unauthorized(
            "channel_revoked",
            "this channel's key was revoked",
        ));
    }
    state.check_limit(&state.intake_limit, &channel.id, 1)?;
    Ok(channel)
}

/// `POST /v1/intake`: a work order becomes a case (`201`), or was one already (`200`, the
/// first answer again).
#[utoipa::path(post, path = "/v1/intake", tag = "intake", security(("channel_key" = [])), request_body = IntakeRequest,
    responses((status = 201, description = "the order became a case", body = IntakeReceipt),
        (status = 200, description = "the same order was taken before: its first answer again", body = IntakeReceipt),
        (status = 400, description = "malformed_json (not JSON, or not a JSON object)", body = ErrorBody),
        (status = 401, description = "channel_key_invalid (no key, or not a channel's), channel_revoked", body = ErrorBody),
        (status = 409, description = "order_changed: this order_ref was taken with other content", body = ErrorBody),
        (status = 413, description = "too_large: the body is over 256 KiB", body = ErrorBody),
        (status = 415, description = "unsupported_type: not `Content-Type: application/json`", body = ErrorBody),
        (status = 422, description = "missing_field, bad_field (not a string), bad_order_ref, unsupported_kind, unknown_category (or not for the kind), area_unknown, area_outside_county, text_too_long, bad_phone", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn take_order(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let channel = channel(&state, &headers).await?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            "send the order as `Content-Type: application/json`",
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_INTAKE_BYTES as u64) {
        return Err(ApiError::too_large(MAX_INTAKE_BYTES));
    }
    let (bytes, broken) = super::read_body(body, MAX_INTAKE_BYTES)
        .await
        .ok_or_else(|| ApiError::too_large(MAX_INTAKE_BYTES))?;
    if broken {
        return Err(ApiError::bad_request("the body broke off before its end"));
    }
    let order = parse_order(&bytes)?;
    let body_hash = body_hash(&order);
    if let Some(taken) = state
        .store
        .intake_order(&channel.id, &order.order_ref)
        .await?
    {
        return again(&taken, &body_hash);
    }
    let now = crate::now_ms();
    let live = state.store.rules().await?;
    let matter = matter(&state, &channel, &order, live.rules.taxonomy()).await?;
    let county =
        JurisdictionPath::parse(matter.place.county()).map_err(|e| ApiError::internal(&e))?;
    let who = channel_identity(&channel.id, &county).map_err(|e| ApiError::internal(&e))?;
    let server = state
        .server_device
        .get_or_try_init(|| state.store.server_device(crate::now_ms()))
        .await?;
    let ctx = DeviceContext {
        device: who.device.clone(),
        actors: server.actors.clone(),
        users: vec![who.clone()],
        revoked: false,
        sign_key: server.sign_key,
        synced: Default::default(),
    };
    let actor = server
        .actors
        .first()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"the server device has no actor"))?;
    let (case_id, mut doc, key) = matter
        .build(&who, actor, now, &live.rules.deadlines())
        .map_err(|e| unprocessable(e.code(), e.to_string()))?;
    state.store.keep_case_key(&key, now).await?;
    let progress = Progress::of(
        &doc.read().map_err(|e| ApiError::internal(&e))?,
        &doc.workflow().map_err(|e| ApiError::internal(&e))?,
    );
    // A receipt number is the date and six random digits: on the rare clash with another
    // case's, a new one.
    for _ in 0..3 {
        let receipt = Receipt::fresh(&state.store, now).await?;
        let answer = IntakeReceipt {
            case_id: case_id.clone(),
            receipt_no: receipt.number.clone(),
            lookup_code: receipt.code.clone(),
            status: progress.status.as_str().to_owned(),
            stage: progress.stage.to_owned(),
        };
        let response = serde_json::to_string(&answer).map_err(|e| ApiError::internal(&e))?;
        let code_hash = receipt
            .code_hash_off_thread()
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let rows = FrontDoorRows {
            receipt: Some((receipt.number.clone(), code_hash)),
            order: Some(IntakeOrder {
                channel_id: channel.id.clone(),
                order_ref: order.order_ref.clone(),
                body_hash: body_hash.clone(),
                case_id: case_id.clone(),
                response,
            }),
            lookup_code: Some(receipt.code.clone()),
        };
        match state
            .store
            .open_case(&ctx, &who, &case_id, &mut doc, &rows, &live.admission, now)
            .await
        {
            Ok(()) => return Ok((StatusCode::CREATED, Json(answer)).into_response()),
            Err(StoreError::Refused { code, reason }) => return Err(unprocessable(code, reason)),
            Err(StoreError::Db(e)) => {
                // The same order, sent twice at once, was stored by the other request first.
                if let Some(taken) = state
                    .store
                    .intake_order(&channel.id, &order.order_ref)
                    .await?
                {
                    return again(&taken, &body_hash);
                }
                if state.store.receipt(&receipt.number).await?.is_none() {
                    return Err(ApiError::internal(&e));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(&"three receipt numbers clashed"))
}

/// The answer to an order taken before: its first answer when the content is the same.
fn again(taken: &IntakeOrder, body_hash: &str) -> Result<Response, ApiError> {
    if taken.body_hash != body_hash {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "order_changed",
            format!(
                "order {} was taken with other content; a new matter needs a new order_ref",
                taken.order_ref
            ),
        ));
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        taken.response.clone(),
    )
        .into_response())
}

/// The order in the body: one JSON object with the fields of [`IntakeRequest`] (others are
/// ignored), each a string.
fn parse_order(bytes: &[u8]) -> Result<IntakeRequest, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not JSON: {e}"),
        )
    })?;
    let Value::Object(map) = value else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body must be one JSON object",
        ));
    };
    let requester = match map.get("requester") {
        None | Some(Value::Null) => {
            return Err(unprocessable("missing_field", "requester is required"));
        }
        Some(Value::Object(r)) => r,
        Some(_) => {
            return Err(unprocessable(
                "bad_field",
                "requester must be an object {name, phone}",
            ));
        }
    };
    let order = IntakeRequest {
        order_ref: text(&map, "order_ref", "order_ref", true)?,
        kind: text(&map, "kind", "kind", true)?,
        category: text(&map, "category", "category", true)?,
        title: text(&map, "title", "title", true)?,
        description: text(&map, "description", "description", false)?,
        area: text(&map, "area", "area", true)?,
        address: text(&map, "address", "address", false)?,
        requester: Requester {
            name: text(requester, "name", "requester.name", true)?,
            phone: text(requester, "phone", "requester.phone", true)?,
        },
    };
    let ref_ok = order.order_ref.chars().count() <= MAX_ORDER_REF_CHARS
        && order
            .order_ref
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if !ref_ok {
        return Err(unprocessable(
            "bad_order_ref",
            format!(
                "order_ref is 1 to {MAX_ORDER_REF_CHARS} of A-Z, a-z, 0-9, '.', '_', ':' and '-'"
            ),
        ));
    }
    Ok(order)
}

/// The string field `key` of `map` (`field` in messages); a required one must be there and not
/// blank.
fn text(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
    required: bool,
) -> Result<String, ApiError> {
    match map.get(key) {
        Some(Value::String(s)) if !(required && s.trim().is_empty()) => Ok(s.clone()),
        None | Some(Value::Null) | Some(Value::String(_)) if required => Err(unprocessable(
            "missing_field",
            format!("{field} is required"),
        )),
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => Err(unprocessable(
            "bad_field",
            format!("{field} must be a string"),
        )),
    }
}

/// SHA-256 of the order's canonical form (its fields in a fixed order, unknown ones dropped):
/// the same order sent with its keys in another order or other spacing is the same order.
fn body_hash(order: &IntakeRequest) -> String {
    let canonical = serde_json::to_vec(order).unwrap_or_default();
    gridsync_core::attachment::sha256_hex(&canonical)
}

/// The matter the order describes, checked: the kind, the category for the kind, the area
/// within the county (one of the tree's units once a tree is imported), the texts.
async fn matter(
    state: &AppState,
    channel: &ChannelRow,
    order: &IntakeRequest,
    taxonomy: &Taxonomy,
) -> Result<Matter, ApiError> {
    let kind = CaseKind::parse(&order.kind).ok_or_else(|| {
        unprocessable(
            "unsupported_kind",
            format!(
                "{:?} is not a kind: send request, incident or dispute",
                order.kind
            ),
        )
    })?;
    let place = JurisdictionPath::parse(&order.area).map_err(|_| {
        unprocessable(
            "area_unknown",
            format!(
                "{:?} is not a jurisdiction path such as 130322/101/201/01",
                order.area
            ),
        )
    })?;
    let units = state.store.org_units().await?;
    // The county: the tree's, else the one of the accounts' scopes.
    let mut counties: Vec<String> = match units.is_empty() {
        false => units.iter().map(|(p, _)| p.county().to_owned()).collect(),
        true => state
            .store
            .users()
            .await?
            .iter()
            .map(|u| u.scope.county().to_owned())
            .collect(),
    };
    counties.sort();
    counties.dedup();
    let county = counties
        .iter()
        .find(|c| c.as_str() == place.county())
        .or(counties.first())
        .and_then(|c| JurisdictionPath::parse(c).ok())
        .ok_or_else(|| {
            unprocessable(
                "area_outside_county",
                "this server has no county yet: import the jurisdiction tree",
            )
        })?;
    let matter = Matter {
        source: channel.source,
        kind,
        place,
        category: order.category.clone(),
        title: order.title.clone(),
        description: order.description.clone(),
        address: order.address.clone(),
        requester_name: order.requester.name.clone(),
        requester_phone: order.requester.phone.clone(),
    };
    matter.check(taxonomy, &county)?;
    if !units.is_empty() && !units.iter().any(|(p, _)| *p == matter.place) {
        return Err(unprocessable(
            "area_unknown",
            format!("{} is not in the jurisdiction tree", matter.place),
        ));
    }
    Ok(matter)
}

/// `GET /v1/intake/{order_ref}`: where the case of one of the channel's own orders stands.
#[utoipa::path(get, path = "/v1/intake/{order_ref}", tag = "intake", security(("channel_key" = [])),
    params(("order_ref" = String, Path, description = "the channel's work-order number, as sent")),
    responses((status = 200, body = IntakeProgress),
        (status = 401, description = "channel_key_invalid, channel_revoked", body = ErrorBody),
        (status = 404, description = "not_found: this channel sent no such order (another channel's orders included)", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 500, description = "internal", body = ErrorBody)))]
pub(super) async fn order_progress(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    order_ref: Result<Path<String>, PathRejection>,
) -> Result<Json<IntakeProgress>, ApiError> {
    let channel = channel(&state, &headers).await?;
    let not_found = || ApiError::not_found("not_found", "this channel sent no such order");
    let order_ref = order_ref.map(|Path(r)| r).map_err(|_| not_found())?;
    let order = state
        .store
        .intake_order(&channel.id, &order_ref)
        .await?
        .ok_or_else(not_found)?;
    let doc = state
        .store
        .case_doc(&order.case_id)
        .await?
        .ok_or_else(not_found)?;
    let corrupt = |e: gridsync_core::Error| ApiError::from(StoreError::from(e));
    let progress = Progress::of(
        &doc.read().map_err(corrupt)?,
        &doc.workflow().map_err(corrupt)?,
    );
    Ok(Json(IntakeProgress {
        receipt_no: state.store.receipt_of_case(&order.case_id).await?,
        case_id: order.case_id,
        status: progress.status.as_str().to_owned(),
        stage: progress.stage.to_owned(),
        reply: progress.reply,
        resolved_at: progress.resolved_at,
        rating: progress.rating.map(|r| r.as_str().to_owned()),
        steps: progress
            .steps
            .into_iter()
            .map(|(at, what)| IntakeStep {
                at,
                what: what.to_owned(),
            })
            .collect(),
    }))
}
