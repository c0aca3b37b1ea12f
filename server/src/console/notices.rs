//! Notices in the console (通知): the signed-in account's list with its unread count (also in
//! the frame's badge), marking them read, the account's own SMS opt-out, and for county admins
//! the SMS outbox's delivery state, numbers masked.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gridsync_core::case::personal::mask_phone;
use maud::html;
use serde::Deserialize;

use super::{ConsoleError, Reviewer, SameOrigin, forbidden_page, page, shorten};
use crate::AppState;
use crate::store::{SMS_PENDING, SMS_SENT, SMS_SKIPPED};

/// Notices a page lists (the newest).
const LISTED: i64 = 200;
/// SMS rows the delivery page lists (the newest).
const OUTBOX_LISTED: i64 = 300;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/notices", get(notices))
        .route("/console/notices/read", post(mark_read))
        .route("/console/notices/sms", post(set_sms))
        .route("/console/sms", get(delivery))
}

async fn notices(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let user = &r.who.user;
    let (list, unread, sms) = tokio::try_join!(
        state.store.notice_list(user, LISTED),
        state.store.unread_notices(user),
        state.store.user_sms(user)
    )?;
    let (phone, opted_out) = sms.unwrap_or((None, false));
    let cal = state.store.rules_now().rules.calendar().clone();
    let body = html! {
        h1 { (l.t("notices")) }
        p #unread-line {
            (l.t("unread")) " " strong #unread-count { (unread) }
            @if unread > 0 {
                " "
                form.inline method="post" action="/console/notices/read" {
                    button #mark-all-read type="submit" { (l.t("mark_all_read")) }
                }
            }
        }
        @if list.is_empty() {
            p #no-notices { (l.t("notice_none")) }
        } @else {
            table #notices {
                thead { tr { th { (l.t("notice_at")) } th { (l.t("notice_kind")) } th { (l.t("notice_text")) } th {} } }
                tbody {
                    @for row in &list {
                        @let n = &row.notice;
                        tr.notice.unread[row.read_at.is_none()] data-id=(n.id) data-kind=(n.kind) {
                            td { (cal.local_date_time(n.at)) }
                            td {
                                (l.notice_kind(&n.kind))
                                @if n.urgent { " " span.badge.late { (l.t("urgent")) } }
                            }
                            td { a href=(format!("/console/cases/{}", n.case)) { (shorten(&n.text, 120)) } }
                            td {
                                @if row.read_at.is_none() {
                                    form.inline method="post" action="/console/notices/read" {
                                        input type="hidden" name="id" value=(n.id);
                                        button.mark-read type="submit" { (l.t("mark_read")) }
                                    }
                                } @else { (l.t("notice_read")) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.t("my_sms")) }
        p #my-sms data-opted-out=(opted_out) {
            (l.t("sms_phone")) "："
            @match &phone {
                Some(p) => span.mono { (mask_phone(p)) },
                None => (l.t("sms_no_phone")),
            }
            " · " (if opted_out { l.t("sms_off") } else { l.t("sms_on") }) " "
            form.inline method="post" action="/console/notices/sms" {
                input type="hidden" name="on" value=(if opted_out { "1" } else { "0" });
                button #sms-toggle type="submit" { (if opted_out { l.t("sms_turn_on") } else { l.t("sms_turn_off") }) }
            }
        }
    };
    Ok(page(&r, l.t("notices"), "notices", body).into_response())
}

#[derive(Debug, Deserialize)]
struct ReadForm {
    /// One notice; none: all of them.
    id: Option<u64>,
}

async fn mark_read(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    _: SameOrigin,
    Form(f): Form<ReadForm>,
) -> Result<Response, ConsoleError> {
    let ids = f.id.map(|id| vec![id]);
    state
        .store
        .mark_notices_read(&r.who.user, ids.as_deref(), crate::now_ms())
        .await?;
    Ok(Redirect::to("/console/notices").into_response())
}

#[derive(Debug, Deserialize)]
struct SmsForm {
    /// `1` turns SMS notices on, `0` off.
    on: u8,
}

async fn set_sms(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    _: SameOrigin,
    Form(f): Form<SmsForm>,
) -> Result<Response, ConsoleError> {
    let out = f.on == 0;
    state.store.set_sms_opt_out(&r.who.user, out).await?;
    let action = if out { "sms_opt_out" } else { "sms_opt_in" };
    state
        .store
        .audit(&r.who.user, action, &r.who.user, "console", crate::now_ms())
        .await?;
    Ok(Redirect::to("/console/notices").into_response())
}

async fn delivery(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    if !r.who.role.sees_sms_delivery() {
        return Ok(forbidden_page(&r, "sms_delivery", "sms_admins_only"));
    }
    let (rows, counts) = tokio::try_join!(
        state.store.sms_outbox(OUTBOX_LISTED),
        state.store.sms_counts()
    )?;
    let cal = state.store.rules_now().rules.calendar().clone();
    let state_word = |s: &str| match s {
        SMS_PENDING => l.t("sms_pending"),
        SMS_SENT => l.t("sms_sent"),
        SMS_SKIPPED => l.t("sms_skipped"),
        _ => "?",
    };
    let body = html! {
        h1 { (l.t("sms_delivery")) }
        p #sms-counts {
            @for (i, (s, n)) in counts.iter().enumerate() {
                @if i > 0 { " · " }
                span data-state=(s) { (state_word(s)) " " strong { (n) } }
            }
        }
        @if rows.is_empty() {
            p #no-sms { (l.t("sms_none")) }
        } @else {
            table #sms-outbox {
                thead { tr {
                    th { (l.t("sms_created")) } th { (l.t("notice_kind")) } th { (l.t("sms_to")) } th { (l.t("sms_state")) }
                    th { (l.t("sms_attempts")) } th { (l.t("sms_next")) } th { (l.t("sms_error")) } th { (l.t("sms_sent_at")) }
                } }
                tbody {
                    @for s in &rows {
                        tr.sms data-state=(s.state) data-id=(s.id) {
                            td { (cal.local_date_time(s.created_at)) }
                            td { (l.notice_kind(&s.kind)) @if s.urgent { " " span.badge.late { (l.t("urgent")) } } }
                            td.mono { (mask_phone(&s.to_number)) }
                            td { (state_word(&s.state)) }
                            td { (s.attempts) }
                            td { @if s.state == SMS_PENDING { (cal.local_date_time(s.next_at)) } }
                            td { (s.last_error) }
                            td { @if let Some(t) = s.sent_at { (cal.local_date_time(t)) } }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&r, l.t("sms_delivery"), "sms_delivery", body).into_response())
}
