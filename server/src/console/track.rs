//! The requester's progress page, `/track` (issue 22): no sign-in, phone-sized, Chinese only, no
//! JavaScript. The receipt number and the lookup code a resident was given open where their
//! matter stands, in the plain words of [`Progress`], with the public reply (答复) once it is
//! resolved — never a name, a phone number, an internal note, an account or a department code.
//! Once resolved, the requester rates it here (满意 / 基本满意 / 不满意); the server writes the
//! `evaluated` event in the requester's name ([`residents::requester_identity`]), and 不满意
//! reopens the case under the workflow's own rules.
//!
//! Guessing is rate-limited (`limit::TRACK_*`): wrong pairs are counted per receipt number and
//! per client address (`serve` passes it as `ConnectInfo`; one shared bucket without it); an
//! unknown receipt costs the same Argon2 check as a wrong code, so the two answers are alike in
//! words and in time.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gridsync_core::workflow::{EventDraft, Rating};
use gridsync_core::{CaseDoc, Level, Status};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::console::{ConsoleError, SameOrigin};
use crate::http::AppState;
use crate::limit::{FailureBudget, GuessLimit, TRACK_WINDOW};
// The client's address; when unknown (no `ConnectInfo`) every client shares one bucket.
use crate::reads::ClientAddr as Client;
use crate::residents::{self, Progress, REQUESTER_USER, Receipt};
use crate::store::StoreError;

/// The longest comment a requester may leave with a rating.
pub const MAX_COMMENT_CHARS: usize = 500;
/// Longer receipt numbers and codes are not looked up (a receipt is 14 digits, a code 6).
const MAX_RECEIPT_CHARS: usize = 32;
const MAX_CODE_CHARS: usize = 16;

const APP: &str = "诉求办理进度查询";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/track", get(form_page).post(lookup))
        .route("/track/rate", post(rate))
        .route("/track/app.css", get(css))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("track.css"),
    )
}

// ---------------------------------------------------------------------------------------------
// Guessing.

/// A hash no code matches: an unknown receipt is checked against it, so it takes as long to
/// refuse as a wrong code.
static NO_RECEIPT: LazyLock<String> =
    LazyLock::new(|| crate::auth::hash_password("no receipt").unwrap_or_default());

/// The bucket of `client`: its address's, or the one all share when it is unknown.
fn client_bucket(g: &GuessLimit, client: Client) -> (&FailureBudget, String) {
    match client.0 {
        Some(ip) => (&g.client, ip.to_string()),
        None => (&g.all, String::new()),
    }
}

/// Whether this client may try this receipt number now.
fn may_try(g: &GuessLimit, client: Client, receipt: &str) -> bool {
    let (bucket, key) = client_bucket(g, client);
    bucket.has_token(&key) && g.receipt.has_token(receipt)
}

/// Counts a wrong pair against the client and the receipt number.
fn wrong(g: &GuessLimit, client: Client, receipt: &str) {
    let (bucket, key) = client_bucket(g, client);
    bucket.charge(&key);
    g.receipt.charge(receipt);
}

// ---------------------------------------------------------------------------------------------
// The receipt and code.

/// Why a lookup shows the form again: its code (`data-code`) and HTTP status.
#[derive(Debug, Clone, Copy)]
struct Refusal {
    code: &'static str,
    status: StatusCode,
}

const NOT_FOUND: Refusal = Refusal {
    code: "not_found",
    status: StatusCode::NOT_FOUND,
};
const RATE_LIMITED: Refusal = Refusal {
    code: "rate_limited",
    status: StatusCode::TOO_MANY_REQUESTS,
};

/// A case opened with its receipt and code.
struct Opened {
    receipt: String,
    case_id: String,
    doc: CaseDoc,
}

/// The case of `receipt` if `code` is its lookup code; the same refusal for an unknown receipt
/// and a wrong code.
async fn open(
    state: &AppState,
    client: Client,
    receipt: &str,
    code: &str,
) -> Result<Result<Opened, Refusal>, ConsoleError> {
    let (receipt, code) = (receipt.trim(), code.trim());
    if !may_try(&state.track_guesses, client, receipt) {
        return Ok(Err(RATE_LIMITED));
    }
    let row = match receipt.is_empty()
        || receipt.chars().count() > MAX_RECEIPT_CHARS
        || code.chars().count() > MAX_CODE_CHARS
    {
        true => None,
        false => state.store.receipt(receipt).await?,
    };
    let hash = row
        .as_ref()
        .map_or_else(|| NO_RECEIPT.clone(), |r| r.code_hash.clone());
    let typed = code.to_owned();
    // Argon2 is slow on purpose: off the async workers.
    let matches = tokio::task::spawn_blocking(move || Receipt::code_matches(&hash, &typed))
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let Some(row) = row.filter(|_| matches) else {
        wrong(&state.track_guesses, client, receipt);
        return Ok(Err(NOT_FOUND));
    };
    let Some(doc) = state.store.case_doc(&row.case_id).await? else {
        return Ok(Err(NOT_FOUND));
    };
    Ok(Ok(Opened {
        receipt: row.receipt_no,
        case_id: row.case_id,
        doc,
    }))
}

/// The one Chinese sentence for an error code.
fn say(code: &str) -> &'static str {
    match code {
        "not_found" => "回执号或查询码不正确，请核对后重新输入。",
        "rate_limited" => "输入错误次数过多，为保护您的信息，请10分钟后再试。",
        "bad_rating" => "请先选择“满意”“基本满意”或“不满意”，再提交评价。",
        "comment_too_long" => "意见请控制在500字以内。",
        "not_ratable" => "该诉求目前不在待评价状态，暂不能评价。",
        _ => "评价未能提交，请稍后再试，或联系受理单位。",
    }
}

fn internal(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Internal(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Pages.

fn frame(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · " (APP) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/track/app.css";
            }
            body.track {
                header { h1 { (APP) } }
                main { (body) }
            }
        }
    }
}

fn error_line(code: &str) -> Markup {
    html! { p.error #track-error data-code=(code) role="alert" { (say(code)) } }
}

/// The lookup form, with an error above it and the receipt number typed before.
fn lookup_form(error: Option<&str>, receipt: &str) -> Markup {
    frame(
        "查询",
        html! {
            @if let Some(code) = error { (error_line(code)) }
            section {
                p.explain {
                    "回执号是您反映诉求时，窗口工作人员或热线告诉您的编号（14位数字）；"
                    "查询码是同时给您的6位数字。凭这两项即可查看办理进度、答复和评价，无需登录。"
                }
                form #track-form method="post" action="/track" {
                    label {
                        "回执号"
                        input #track-receipt type="text" name="receipt" value=(receipt)
                            inputmode="numeric" autocomplete="off" maxlength="32" required;
                    }
                    label {
                        "查询码"
                        input #track-code type="text" name="code"
                            inputmode="numeric" autocomplete="off" maxlength="16" required;
                    }
                    button #track-submit type="submit" { "查询进度" }
                }
            }
        },
    )
}

async fn form_page() -> Markup {
    lookup_form(None, "")
}

fn refused(r: Refusal, receipt: &str) -> Response {
    let mut resp = (r.status, lookup_form(Some(r.code), receipt.trim())).into_response();
    if r.status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(TRACK_WINDOW.as_secs()),
        );
    }
    resp
}

/// What the progress page says besides where the case stands.
#[derive(Debug, Default)]
struct Said<'a> {
    /// A refusal of the rating form.
    error: Option<&'static str>,
    /// The rating just given.
    rated: Option<Rating>,
    /// The comment typed, given back with a refusal.
    comment: &'a str,
}

fn progress_page(
    state: &AppState,
    opened: &Opened,
    code: &str,
    said: &Said<'_>,
) -> Result<Markup, ConsoleError> {
    let case = opened.doc.read().map_err(internal)?;
    let wf = opened.doc.workflow().map_err(internal)?;
    let p = Progress::of(&case, &wf);
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    let when = |at: i64| cal.local_date_time(at);
    let done = matches!(
        p.status,
        Status::Resolved | Status::Evaluated | Status::Archived
    );
    Ok(frame(
        "办理进度",
        html! {
            @if let Some(code) = said.error { (error_line(code)) }
            @if let Some(rating) = said.rated {
                p.ok #track-rated role="status" data-rating=(rating.as_str()) {
                    "感谢您的评价（" (rating.name_zh()) "）！"
                    @if rating == Rating::Unsatisfied {
                        "您对办理结果不满意，该诉求已退回承办单位重新办理，办理后会再次答复您。"
                    }
                }
            }
            section #track-progress {
                p.stage #track-stage data-status=(p.status.as_str()) { (p.stage) }
                h2 #track-title { (p.title) }
                p.muted { "回执号：" span #track-receipt-no { (opened.receipt) } }
                p #track-received { "受理时间：" (when(p.received_at)) }
                @if done {
                    @if let Some(at) = p.resolved_at {
                        p #track-resolved { "办结时间：" (when(at)) }
                    }
                }
            }
            @if done {
                section #track-reply {
                    h3 { "答复" }
                    @match &p.reply {
                        Some(reply) if !reply.trim().is_empty() => p.pre { (reply) },
                        _ => p.muted { "承办单位已办结，未填写书面答复。" },
                    }
                }
            }
            section {
                h3 { "办理经过" }
                ol.steps #track-steps {
                    @for (at, what) in &p.steps {
                        li { span.when { (when(*at)) } (what) }
                    }
                }
            }
            @if said.rated.is_none() && p.rated_by_requester
                && matches!(p.status, Status::Evaluated | Status::Archived)
            {
                @if let Some(rating) = p.rating {
                    p.muted #track-rating data-rating=(rating.as_str()) {
                        "您的评价：" (rating.name_zh())
                    }
                }
            }
            @if p.may_rate {
                section {
                    h3 { "请您评价办理结果" }
                    form #rate-form method="post" action="/track/rate" {
                        input type="hidden" name="receipt" value=(opened.receipt);
                        input type="hidden" name="code" value=(code.trim());
                        fieldset {
                            legend { "满意度" }
                            @for r in Rating::ALL {
                                label.choice {
                                    input id=(format!("rate-{}", r.as_str())) type="radio"
                                        name="rating" value=(r.as_str()) required;
                                    (r.name_zh())
                                }
                            }
                        }
                        label {
                            "意见（可不填，500字以内）"
                            textarea #rate-comment name="comment" rows="4"
                                maxlength=(MAX_COMMENT_CHARS) { (said.comment) }
                        }
                        p.explain { "选择“不满意”后，该诉求将退回重新办理。" }
                        button #rate-submit type="submit" { "提交评价" }
                    }
                }
            }
            p { a href="/track" { "查询其他诉求" } }
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Handlers.

#[derive(Debug, Deserialize)]
struct LookupForm {
    #[serde(default)]
    receipt: String,
    #[serde(default)]
    code: String,
}

async fn lookup(
    State(state): State<Arc<AppState>>,
    client: Client,
    _: SameOrigin,
    Form(f): Form<LookupForm>,
) -> Result<Response, ConsoleError> {
    match open(&state, client, &f.receipt, &f.code).await? {
        Err(r) => Ok(refused(r, &f.receipt)),
        Ok(opened) => {
            Ok(progress_page(&state, &opened, &f.code, &Said::default())?.into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
struct RateForm {
    #[serde(default)]
    receipt: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
}

async fn rate(
    State(state): State<Arc<AppState>>,
    client: Client,
    _: SameOrigin,
    Form(f): Form<RateForm>,
) -> Result<Response, ConsoleError> {
    let opened = match open(&state, client, &f.receipt, &f.code).await? {
        Err(r) => return Ok(refused(r, &f.receipt)),
        Ok(opened) => opened,
    };
    let comment = f.comment.trim();
    let again = |status: StatusCode, code: &'static str, opened: &Opened| {
        let said = Said {
            error: Some(code),
            rated: None,
            comment,
        };
        Ok((status, progress_page(&state, opened, &f.code, &said)?).into_response())
    };
    let Some(rating) = Rating::parse(f.rating.trim()) else {
        return again(StatusCode::BAD_REQUEST, "bad_rating", &opened);
    };
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return again(StatusCode::BAD_REQUEST, "comment_too_long", &opened);
    }
    let case = opened.doc.read().map_err(internal)?;
    if opened.doc.workflow().map_err(internal)?.status != Status::Resolved {
        return again(StatusCode::CONFLICT, "not_ratable", &opened);
    }
    let county = case
        .jurisdiction
        .at_level(Level::County)
        .ok_or_else(|| internal("a case without a county"))?;
    let who = residents::requester_identity(&county).map_err(internal)?;
    let now = crate::now_ms();
    let ctx = state
        .server_device
        .get_or_try_init(|| state.store.server_device(now))
        .await?;
    let live = state.store.rules().await?;
    let draft = EventDraft::evaluate(rating).note(comment);
    let wrote = state
        .store
        .write_case(ctx, &who, &opened.case_id, &live.admission, now, |doc| {
            let deadlines = live.rules.deadlines();
            doc.edit(&who, now, |e| {
                e.append_event_with(draft, &deadlines).map(|_| ())
            })
        })
        .await;
    let code = match wrote {
        Ok(_) => None,
        Err(StoreError::Refused { code, .. }) => Some(code),
        Err(StoreError::Core(e)) => Some(e.code()),
        Err(e) => return Err(e.into()),
    };
    if let Some(code) = code {
        tracing::info!(case = %opened.case_id, code, "a requester's rating refused");
        return again(StatusCode::CONFLICT, code, &opened);
    }
    // The rating only: no receipt, code, comment or anything that names the requester.
    state
        .store
        .audit(
            REQUESTER_USER,
            "track_rate",
            &opened.case_id,
            rating.as_str(),
            now,
        )
        .await?;
    let doc = state
        .store
        .case_doc(&opened.case_id)
        .await?
        .ok_or_else(|| internal("the rated case vanished"))?;
    let opened = Opened { doc, ..opened };
    let said = Said {
        error: None,
        rated: Some(rating),
        comment: "",
    };
    Ok(progress_page(&state, &opened, &f.code, &said)?.into_response())
}
