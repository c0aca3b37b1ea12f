//! The quarantine (隔离区) in the console, for county admins: refused changes kept within the
//! limits, each device's share and what went past its budget, and the release of a refused
//! change once its reason is fixed (`Store::release_quarantined`, audited as
//! `quarantine_release`).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use super::forbidden_page;
use super::{ConsoleError, Reviewer, SameOrigin, page};
use crate::AppState;
use crate::store::{QuarantineEntry, Released, StoreError, TOTAL_BUDGET_BYTES};

const NAV: &str = "quarantine";
/// Refusals listed on the page, newest first.
const SHOWN: i64 = 200;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/quarantine", get(quarantine_page))
        .route("/console/quarantine/{id}/release", post(release))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Shown {
    released: Option<String>,
    /// Refused again: the code and the reason.
    again: Option<String>,
    why: Option<String>,
}

/// The accounts within the admin's jurisdiction: they decide which refusals the admin sees.
async fn accounts_in_scope(
    state: &AppState,
    r: &Reviewer,
) -> Result<BTreeSet<String>, ConsoleError> {
    Ok(state
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| u.scope.is_within(&r.who.scope))
        .map(|u| u.id)
        .collect())
}

fn kib(bytes: i64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

async fn quarantine_page(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(q): Query<Shown>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    if !r.who.role.manages_quarantine() {
        return Ok(forbidden_page(&r, NAV, "admins_only"));
    }
    let mine = accounts_in_scope(&state, &r).await?;
    let entries: Vec<QuarantineEntry> = state
        .store
        .quarantine_entries(i64::MAX)
        .await?
        .into_iter()
        .filter(|e| mine.contains(&e.user))
        .take(SHOWN as usize)
        .collect();
    let (devices, all_devices, totals) = tokio::try_join!(
        state.store.devices(),
        state.store.quarantine_devices(),
        state.store.quarantine_totals()
    )?;
    let in_scope: BTreeSet<&str> = devices
        .iter()
        .filter(|d| d.users.iter().any(|u| mine.contains(u)))
        .map(|d| d.id.as_str())
        .collect();
    let shares: Vec<_> = all_devices
        .iter()
        .filter(|d| in_scope.contains(d.device.as_str()))
        .collect();
    let calendar = state.store.rules_now().rules.calendar().clone();
    let when = |t: i64| calendar.local_date_time(t);
    let body = html! {
        h1 { (l.t(NAV)) }
        @if let Some(id) = &q.released {
            p.ok #quarantine-released data-id=(id) { (l.t("q_released_ok")) }
        }
        @if let Some(code) = &q.again {
            p.error #quarantine-refused data-code=(code) { (l.t("q_refused_again")) "：" (l.refusal(code).unwrap_or(q.why.as_deref().unwrap_or(code))) }
        }
        p.legend { (l.t("q_explain")) }
        p #quarantine-totals {
            (l.t("q_kept")) " " strong { (totals.kept) } "（" (kib(totals.kept_bytes)) " / " (kib(TOTAL_BUDGET_BYTES)) "）；"
            (l.t("q_dropped")) " " strong { (totals.dropped) } "；"
            (l.t("q_released")) " " strong { (totals.released) }
        }
        h2 { (l.t("q_devices")) }
        table #quarantine-devices {
            thead { tr { th { (l.t("device")) } th { (l.t("q_kept")) } th { (l.t("q_space")) } th { (l.t("q_dropped")) } th { (l.t("q_last")) } th {} } }
            tbody {
                @for d in &shares {
                    tr.qdevice data-id=(d.device) data-dropped=(d.dropped) {
                        td.mono { (d.device) }
                        td { (d.kept) }
                        td { (kib(d.kept_bytes)) }
                        td { (d.dropped) " （" (kib(d.dropped_bytes)) "）" }
                        td { (when(d.last_at)) }
                        td { @if d.flagged() { span.badge.late.flagged { (l.t("q_flagged")) } } }
                    }
                }
            }
        }
        h2 { (l.t("q_entries")) }
        table #quarantine {
            thead { tr {
                th { (l.t("q_received")) } th { (l.t("device")) } th { (l.t("user")) } th { (l.t("q_case")) }
                th { (l.t("q_code")) } th { (l.t("q_reason")) } th { (l.t("q_size")) } th { (l.t("q_action")) }
            } }
            tbody {
                @for e in &entries {
                    tr.qentry data-id=(e.id) data-code=(e.code) {
                        td { (when(e.received_at)) }
                        td.mono { (e.device) }
                        td { (r.names.who(&e.user)) }
                        td.mono { a href=(format!("/console/cases/{}", e.doc)) { (e.doc.get(..8).unwrap_or(&e.doc)) } }
                        td.mono { (e.code) }
                        td title=(e.reason) { (l.refusal(&e.code).unwrap_or(&e.reason)) }
                        td { (kib(e.size)) @if !e.whole { br; small { (l.t("q_head_only")) } } }
                        td {
                            @if let Some(at) = e.released_at {
                                span.released { (l.t("q_released")) " · " (e.released_by.as_deref().unwrap_or("")) " · " (when(at)) }
                            } @else if e.whole {
                                form.inline method="post" action=(format!("/console/quarantine/{}/release", e.id)) {
                                    button.release type="submit" { (l.t("q_release")) }
                                }
                            } @else {
                                small { (l.t("q_cannot_release")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&r, l.t(NAV), NAV, body).into_response())
}

async fn release(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    _: SameOrigin,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    if !r.who.role.manages_quarantine() {
        return Err(ConsoleError::Forbidden("county admins only"));
    }
    // Only refusals by accounts of this admin's jurisdiction; others are as if missing.
    let no_such = || ConsoleError::NotFound("no such quarantined change");
    let entry = state
        .store
        .quarantine_entry(&id)
        .await?
        .ok_or_else(no_such)?;
    if !accounts_in_scope(&state, &r).await?.contains(&entry.user) {
        return Err(no_such());
    }
    let now = state.now();
    let to = match state.store.release_quarantined(&id, &r.who.user, now).await {
        Ok(released) => {
            let detail = match released {
                Released::Stored => "stored",
                Released::AlreadyStored => "already stored",
            };
            state
                .store
                .audit(&r.who.user, "quarantine_release", &id, detail, now)
                .await?;
            format!("/console/quarantine?released={id}")
        }
        Err(StoreError::Refused { code, reason }) => refused_again(code, &reason),
        Err(StoreError::Conflict(why)) => refused_again("not_releasable", &why),
        Err(e) => return Err(e.into()),
    };
    Ok(Redirect::to(&to).into_response())
}

/// The page again, saying why the release did not happen.
fn refused_again(code: &str, why: &str) -> String {
    let query = serde_urlencoded::to_string([("again", code), ("why", why)]).unwrap_or_default();
    format!("/console/quarantine?{query}")
}
