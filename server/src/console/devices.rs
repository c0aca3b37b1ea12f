//! The devices page (设备与账号): each phone and console with its users, last sync and share of
//! the quarantine; the accounts; and revoking a lost phone, asked first.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;

use super::{ConsoleError, Reviewer, forbidden_page, page, same_origin};
use crate::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/console/devices", get(devices)).route(
        "/console/devices/{id}/revoke",
        get(confirm_revoke).post(revoke),
    )
}

async fn devices(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    if !r.who.role.manages_devices() {
        return Ok(forbidden_page(&r, "devices", "admins_only"));
    }
    let (devices, users, shares, recovery) = tokio::try_join!(
        state.store.devices(),
        state.store.users(),
        state.store.quarantine_devices(),
        state.store.recovery_progress()
    )?;
    let live = state.store.rules_now();
    let calendar = live.rules.calendar();
    // Per device after a restore: finished, under way, or not heard from yet.
    let recovered = |id: &str| {
        recovery
            .as_ref()
            .map(|p| match p.devices.iter().find(|(d, _, _)| d == id) {
                Some((_, _, true)) => "recovery_done",
                Some(_) => "recovery_running",
                None => "recovery_waiting",
            })
    };
    let share = |id: &str| shares.iter().find(|q| q.device == id);
    let own_console = crate::store::console_device_id(&r.who.user);
    // Only devices used by accounts of this admin's county.
    let in_scope: std::collections::BTreeSet<String> = users
        .iter()
        // Enabled accounts only, as the revoke check counts them.
        .filter(|u| !u.disabled && u.scope.is_within(&r.who.scope))
        .map(|u| u.id.clone())
        .collect();
    let mine: Vec<_> = devices
        .into_iter()
        .filter(|d| d.users.iter().any(|u| in_scope.contains(u)))
        .collect();
    let body = html! {
        h1 { (l.t("devices")) }
        @if let Some(p) = &recovery {
            section #recovery {
                h2 { (l.t("recovery")) }
                p { (l.t("recovery_lead")) }
                dl {
                    dt { (l.t("recovery_from")) } dd.mono { (p.restored_from) }
                    dt { (l.t("recovery_at")) } dd { (calendar.local_date_time(p.restored_at)) }
                    dt { (l.t("recovery_base")) } dd { (p.base) }
                    dt { (l.t("recovery_phones")) } dd #recovery-phones { (p.finished) " / " (p.returned) " / " (p.expected) }
                    dt { (l.t("recovery_lacking")) } dd { (p.lacking_cases) }
                    dt { (l.t("recovery_changes")) } dd { (p.changes) }
                }
            }
        }
        table #devices {
            thead { tr { th { (l.t("device")) } th { (l.t("users")) } th { (l.t("last_sync")) } th { (l.t("status")) } th { (l.t("quarantine")) } @if recovery.is_some() { th { (l.t("recovery_device")) } } th {} } }
            tbody {
                @for d in &mine {
                    tr.device data-id=(d.id) {
                        td.mono { (d.id) }
                        td { @for (i, u) in d.users.iter().enumerate() { @if i > 0 { "、" } (r.names.who(u)) } }
                        td { (d.last_sync_at.map(|t| calendar.local_date_time(t)).unwrap_or_else(|| l.t("never").to_owned())) }
                        td { @if d.revoked { span.badge.late { (l.t("revoked")) } } @else { (l.t("active")) } }
                        td.quarantine {
                            @if let Some(q) = share(&d.id) {
                                a href="/console/quarantine" { (q.kept) " / " (q.dropped) }
                                @if q.flagged() { " " span.badge.late.flagged { (l.t("q_flagged")) } }
                            }
                        }
                        @if let Some(word) = recovered(&d.id) { td.recovery { (l.t(word)) } }
                        td {
                            // Asked first (a page, no script); never offered on the admin's own session.
                            @if !d.revoked && d.id != own_console {
                                a.revoke href=(format!("/console/devices/{}/revoke", d.id)) { (l.t("revoke")) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.t("accounts")) }
        table #accounts {
            thead { tr { th { (l.t("user")) } th { (l.t("name")) } th { (l.t("role")) } th { (l.t("place")) } th { (l.t("status")) } } }
            tbody {
                @for u in users.iter().filter(|u| u.scope.is_within(&r.who.scope)) {
                    tr { td.mono { (u.id) } td { (u.display_name) } td { (l.role(u.role)) } td { (r.names.place(&u.scope.to_string())) }
                        td { @if u.disabled { (l.t("disabled")) } @else { (l.t("active")) } } }
                }
            }
        }
    };
    Ok(page(&r, l.t("devices"), "devices", body).into_response())
}

/// The device's users if this admin may revoke it: used by an account of the admin's county.
async fn revocable(
    state: &AppState,
    r: &Reviewer,
    id: &str,
) -> Result<Vec<gridsync_core::Identity>, ConsoleError> {
    if !r.who.role.manages_devices() {
        return Err(ConsoleError::Forbidden("county admins only"));
    }
    let no_such = || ConsoleError::NotFound("no such device");
    let users = state
        .store
        .device_context(id)
        .await?
        .ok_or_else(no_such)?
        .users;
    if !users.iter().any(|u| u.scope.is_within(&r.who.scope)) {
        return Err(no_such());
    }
    Ok(users)
}

/// 停用 asks first: a lost phone is revoked on a second, deliberate click.
async fn confirm_revoke(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let users = revocable(&state, &r, &id).await?;
    let names: Vec<&str> = users.iter().map(|u| r.names.person(&u.user)).collect();
    let body = html! {
        h1 { (l.t("revoke")) }
        p #revoke-question {
            (l.pick(
                &format!("确定停用设备 {id}（使用人：{}）？停用后该设备不能再同步，使用人须在新设备上重新登录；未同步的修改留在该设备上。", names.join("、")),
                &format!("Revoke device {id} (used by {})? It can no longer sync; its users sign in again on another device; unsynced changes stay on it.", names.join(", ")),
            ))
        }
        form.inline method="post" action=(format!("/console/devices/{id}/revoke")) {
            button.revoke #revoke-confirm type="submit" { (l.t("revoke")) }
        }
        " "
        a #revoke-cancel href="/console/devices" { (l.t("cancel")) }
    };
    Ok(page(&r, l.t("revoke"), "devices", body).into_response())
}

async fn revoke(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers) {
        return Err(ConsoleError::CROSS_SITE);
    }
    revocable(&state, &r, &id).await?;
    let now = crate::now_ms();
    state.store.revoke_device(&id).await?;
    state
        .store
        .audit(&r.who.user, "device_revoked", &id, "console", now)
        .await?;
    Ok(Redirect::to("/console/devices").into_response())
}
