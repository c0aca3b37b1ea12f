//! The supervision board (督办), the dashboard (统计) and the devices page (设备与账号).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::cases::{category_name, row};
use super::{ConsoleError, Lang, Reviewer, page, same_origin};
use crate::AppState;
use crate::stats::{Breakdown, Rate, Stats};
use crate::store::{CaseQuery, CaseRow};

const DAY: i64 = 86_400_000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/supervision", get(supervision))
        .route("/console/dashboard", get(dashboard))
        .route("/console/devices", get(devices))
        .route(
            "/console/devices/{id}/revoke",
            get(confirm_revoke).post(revoke),
        )
}

fn case_table(state: &AppState, l: Lang, id: &str, rows: &[CaseRow]) -> Markup {
    html! {
        @if rows.is_empty() { p.empty { (l.t("none")) } }
        @else {
            table id=(id) {
                thead { tr {
                    th { (l.t("title")) } th { (l.t("kind")) } th { (l.t("category")) } th { (l.t("place")) }
                    th { (l.t("status")) } th { (l.t("level")) } th { (l.t("due")) } th { (l.t("reporter")) } th { (l.t("reported_at")) }
                } }
                tbody { @for c in rows { (row(state, l, c)) } }
            }
        }
    }
}

async fn supervision(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let now = crate::now_ms();
    let q = |f: fn(&mut CaseQuery)| {
        let mut q = CaseQuery {
            sort: Some("due".into()),
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let overdue = q(|q| q.overdue = Some(true));
    let soon = {
        let mut s = q(|_| {});
        s.due_before = Some(now + DAY);
        s
    };
    let flagged = q(|q| q.accountability = Some(true));
    let (late, soon, flagged) = tokio::try_join!(
        state.store.all_cases(&r.who, &overdue, now, 500),
        state.store.all_cases(&r.who, &soon, now, 500),
        state.store.all_cases(&r.who, &flagged, now, 500),
    )?;
    let mut by_level: BTreeMap<&str, Vec<CaseRow>> = BTreeMap::new();
    for c in late {
        let level = match c.level.as_str() {
            "grid" => "grid",
            "village" => "village",
            "township" => "township",
            _ => "county",
        };
        by_level.entry(level).or_default().push(c);
    }
    let body = html! {
        h1 { (l.t("supervision")) }
        section #overdue {
            h2 { (l.t("overdue")) }
            @for level in ["grid", "village", "township", "county"] {
                @if let Some(rows) = by_level.get(level) {
                    h3 { (l.level(level)) " · " (rows.len()) }
                    (case_table(&state, l, &format!("overdue-{level}"), rows))
                }
            }
            @if by_level.is_empty() { p.empty { (l.t("none")) } }
        }
        section #soon {
            h2 { (l.t("soon_due")) }
            (case_table(&state, l, "soon-table", &soon))
        }
        section #accountability {
            h2 { (l.t("accountability")) }
            (case_table(&state, l, "accountability-table", &flagged))
        }
    };
    Ok(page(&r, l.t("supervision"), "supervision", body).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Window {
    from: String,
    to: String,
}

fn percent(r: &Rate) -> String {
    r.rate
        .map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// A horizontal bar chart as inline SVG (no script, no network).
/// Two bars per row (received, resolved) when `pair`, else one.
fn bars(id: &str, rows: &[(String, u64, u64)], max_rows: usize, pair: bool) -> Markup {
    let rows = &rows[..rows.len().min(max_rows)];
    let max = rows.iter().map(|r| r.1.max(r.2)).max().unwrap_or(1).max(1) as f64;
    let h = 22;
    let height = rows.len() * h + 10;
    html! {
        svg.chart.bars id=(id) xmlns="http://www.w3.org/2000/svg" width="560" height=(height) role="img" {
            @for (i, (label, a, b)) in rows.iter().enumerate() {
                @let y = i * h + 4;
                text x="0" y=(y + 13) font-size="12" { (label) }
                rect x="180" y=(y) width=(format!("{:.0}", 300.0 * *a as f64 / max)) height="8" fill="#0b6e4f" {}
                @if pair {
                    rect x="180" y=(y + 9) width=(format!("{:.0}", 300.0 * *b as f64 / max)) height="8" fill="#7fb8a4" {}
                    text x=(490) y=(y + 13) font-size="11" { (a) " / " (b) }
                } @else {
                    text x=(490) y=(y + 13) font-size="11" { (a) }
                }
            }
        }
    }
}

fn breakdown_rows(b: &[Breakdown], name: impl Fn(&Breakdown) -> String) -> Vec<(String, u64, u64)> {
    b.iter()
        .map(|x| (name(x), x.received, x.resolved))
        .collect()
}

/// The page `nav` (its title the same key), saying `why` this reviewer may not see it.
pub(super) fn forbidden_page(r: &Reviewer, nav: &'static str, why: &'static str) -> Response {
    let l = r.lang;
    (
        StatusCode::FORBIDDEN,
        page(
            r,
            l.t(nav),
            nav,
            html! { p.error #forbidden { (l.t(why)) } },
        ),
    )
        .into_response()
}

async fn dashboard(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(w): Query<Window>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    if !r.who.role.sees_reports() {
        return Ok(forbidden_page(&r, "dashboard", "reports_by_jurisdiction"));
    }
    let now = crate::now_ms();
    let to = state
        .store
        .rules_now()
        .rules
        .calendar()
        .local_midnight(&w.to)
        .map(|t| t + DAY)
        .unwrap_or(now);
    let from = state
        .store
        .rules_now()
        .rules
        .calendar()
        .local_midnight(&w.from)
        .unwrap_or(to - 30 * DAY);
    let s: Stats = state.stats(&r.who, &r.who.scope, from, to).await?;
    // Areas by name where the jurisdiction tree is imported.
    let names: BTreeMap<String, String> = state
        .store
        .org_units()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(p, n)| (p.to_string(), n))
        .collect();
    let mut by_category = breakdown_rows(&s.by_category, |b| category_name(&state, l, &b.key));
    by_category.sort_by_key(|b| std::cmp::Reverse(b.1));
    let levels: Vec<(String, u64, u64)> = s
        .resolved_by_level
        .iter()
        .map(|(k, v)| (l.level(k), *v, 0))
        .collect();
    let figure = |id: &'static str, label: &'static str, value: String| {
        html! {
            div.figure id=(id) { div.value { (value) } div.label { (l.t(label)) } }
        }
    };
    let body = html! {
        h1 { (l.t("dashboard")) " · " (s.scope) }
        form.filters method="get" action="/console/dashboard" {
            label { (l.t("from")) input type="date" name="from" value=(state.store.rules_now().rules.calendar().local_date(from)); }
            label { (l.t("to")) input type="date" name="to" value=(state.store.rules_now().rules.calendar().local_date(to - 1)); }
            button type="submit" { (l.t("filter")) }
        }
        section.figures #figures {
            (figure("fig-received", "received", s.received.to_string()))
            (figure("fig-resolved", "resolved", s.resolved.to_string()))
            (figure("fig-resolution", "resolution_rate", percent(&s.resolution)))
            (figure("fig-on-time", "on_time_rate", percent(&s.on_time)))
            (figure("fig-satisfaction", "satisfaction_rate", percent(&s.satisfaction)))
            (figure("fig-mediation", "mediation_rate", percent(&s.mediation_success)))
            (figure("fig-village", "in_village_rate", percent(&s.resolved_in_village)))
            (figure("fig-overdue", "overdue_now", s.overdue_now.to_string()))
            (figure("fig-reopened", "reopened", s.reopened.to_string()))
            (figure("fig-accountability", "accountability", s.accountability.to_string()))
        }
        p.legend { span.key.a {} (l.t("received")) " " span.key.b {} (l.t("resolved")) }
        section { h2 { (l.t("by_category")) } (bars("chart-category", &by_category, 12, true)) }
        section { h2 { (l.t("by_area")) } (bars("chart-area", &breakdown_rows(&s.by_area, |b| names.get(&b.key).cloned().unwrap_or_else(|| b.key.clone())), 20, true)) }
        section { h2 { (l.t("by_week")) } (bars("chart-week", &breakdown_rows(&s.by_week, |b| b.key.clone()), 20, true)) }
        section { h2 { (l.t("by_level")) } (bars("chart-level", &levels, 4, false)) }
    };
    Ok(page(&r, l.t("dashboard"), "dashboard", body).into_response())
}

async fn devices(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    if !r.who.role.manages_devices() {
        return Ok(forbidden_page(&r, "devices", "admins_only"));
    }
    let (devices, users, shares) = tokio::try_join!(
        state.store.devices(),
        state.store.users(),
        state.store.quarantine_devices()
    )?;
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
        table #devices {
            thead { tr { th { (l.t("device")) } th { (l.t("users")) } th { (l.t("last_sync")) } th { (l.t("status")) } th { (l.t("quarantine")) } th {} } }
            tbody {
                @for d in &mine {
                    tr.device data-id=(d.id) {
                        td.mono { (d.id) }
                        td { (d.users.join("、")) }
                        td { (d.last_sync_at.map(|t| state.store.rules_now().rules.calendar().local_date_time(t)).unwrap_or_else(|| l.t("never").to_owned())) }
                        td { @if d.revoked { span.badge.late { (l.t("revoked")) } } @else { (l.t("active")) } }
                        td.quarantine {
                            @if let Some(q) = share(&d.id) {
                                a href="/console/quarantine" { (q.kept) " / " (q.dropped) }
                                @if q.flagged() { " " span.badge.late.flagged { (l.t("q_flagged")) } }
                            }
                        }
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
                    tr { td { (u.id) } td { (u.display_name) } td { (l.role(u.role)) } td.mono { (u.scope) }
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
    let names: Vec<&str> = users.iter().map(|u| u.user.as_str()).collect();
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
