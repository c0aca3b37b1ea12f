//! The township review console: server-rendered pages at `/`, no front-end build, no CDN, usable
//! on a LAN without internet. Chinese by default, English on request. A reviewer signs in with a
//! password; the session is an 8-hour token of its own audience in an HttpOnly, SameSite=Strict
//! cookie. Every action is an Automerge change the server writes on the reviewer's behalf,
//! attributed to them, through the same admission as a phone's push, so it reaches the phones.

mod accountability;
mod assessment;
mod audit;
mod board;
mod cases;
mod dashboard;
mod devices;
mod error;
mod i18n;
mod names;
mod notices;
mod quarantine;
mod register;
mod rules;
mod track;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gridsync_core::Identity;
use gridsync_core::rules::CalendarWarning;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, AuthError};
use crate::store::DeviceContext;
pub use error::ConsoleError;
pub use i18n::Lang;

const SESSION: &str = "gs_session";
const LANG: &str = "gs_lang";

pub fn routes(deadlines: &crate::limit::Deadlines) -> Router<Arc<AppState>> {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/console/cases") }))
        .route("/console", get(|| async { Redirect::to("/console/cases") }))
        .route("/console/app.css", get(css))
        // Browsers ask for an icon; an empty answer keeps their consoles clean.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/lang", get(switch_lang))
        .merge(cases::routes())
        .merge(board::routes())
        .merge(dashboard::routes())
        .merge(assessment::routes())
        .merge(accountability::routes())
        .merge(devices::routes())
        .merge(notices::routes())
        .merge(rules::routes())
        .merge(quarantine::routes())
        .merge(audit::routes())
        .merge(track::routes());
    // The counter's 登记 form uploads photos: no end-to-end deadline.
    Router::new()
        .merge(crate::http::layers::deadline(pages, deadlines.request))
        .merge(crate::http::layers::body_idle(
            register::routes(),
            deadlines.body_idle,
        ))
        .layer(axum::middleware::map_response(private_page))
}

/// The signed-in reviewer of a console request, and the language to answer in.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub who: Identity,
    pub lang: Lang,
    /// For those who manage the rules: the calendar lacks a year deadlines need (shown on every
    /// page).
    pub calendar_warning: Option<CalendarWarning>,
    /// Areas and people by name, for this page.
    pub names: names::Names,
    /// The account's unread notices (the frame's badge).
    pub unread: i64,
}

/// A console request without a valid session goes to the sign-in page.
#[derive(Debug)]
pub struct SignIn;

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        Redirect::to("/console/login").into_response()
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_code(cookie(headers, LANG).unwrap_or("zh"))
}

/// The signed-in account of a console request and its language: all a route needs that renders
/// no page (a photo, an action that redirects), so it reads neither names nor rules.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub who: Identity,
    pub lang: Lang,
}

impl FromRequestParts<Arc<AppState>> for ConsoleSession {
    type Rejection = SignIn;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let lang = lang_of(&parts.headers);
        let token = cookie(&parts.headers, SESSION).ok_or(SignIn)?;
        let claims = state.keys.verify_console(token).map_err(|_| SignIn)?;
        // The account as stored now, as for the API (moved, disabled or its console revoked:
        // signed out).
        let (_, who) = auth::signed_in(&state.store, &claims)
            .await
            .map_err(|_| SignIn)?;
        Ok(ConsoleSession { who, lang })
    }
}

impl FromRequestParts<Arc<AppState>> for Reviewer {
    type Rejection = SignIn;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let ConsoleSession { who, lang } = ConsoleSession::from_request_parts(parts, state).await?;
        // Asking the store first picks up a calendar imported through another server.
        let calendar_warning = match who.role.manages_rules() {
            true => {
                let _ = state.store.rules().await;
                state.calendar_warning()
            }
            false => None,
        };
        let names = names::Names::load(&state.store, lang)
            .await
            .map_err(|_| SignIn)?;
        let unread = state
            .store
            .unread_notices(&who.user)
            .await
            .map_err(|_| SignIn)?;
        Ok(Reviewer {
            who,
            lang,
            calendar_warning,
            names,
            unread,
        })
    }
}

/// POSTs from another site are refused: the cookie is SameSite=Strict already, and a browser
/// that sends `Origin` must name this host.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => host.is_some_and(|h| {
            origin
                .split_once("://")
                .is_some_and(|(_, rest)| rest.trim_end_matches('/') == h)
        }),
    }
}

/// A request from this site's own pages: one from another site is refused (`403`) before its
/// form is read.
#[derive(Debug)]
pub struct SameOrigin;

impl<S: Send + Sync> FromRequestParts<S> for SameOrigin {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match same_origin(&parts.headers) {
            true => Ok(SameOrigin),
            false => Err(ConsoleError::CROSS_SITE),
        }
    }
}

/// The device context the console writes from: the reviewer's console, with this server
/// process's actor.
pub async fn console_device(
    state: &AppState,
    who: &Identity,
) -> Result<DeviceContext, crate::store::StoreError> {
    let server = state
        .server_device
        .get_or_try_init(|| state.store.server_device(crate::now_ms()))
        .await?;
    Ok(DeviceContext {
        device: who.device.clone(),
        actors: server.actors.clone(),
        users: vec![who.clone()],
        revoked: false,
        sign_key: server.sign_key,
        synced: Default::default(),
    })
}

/// Console pages carry personal data: never cached on a shared office PC, never framed, and only
/// this site's own styles and images.
async fn private_page(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    resp
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("app.css"),
    )
}

/// The page `nav` (its title the same key), saying `why` this reviewer may not see it.
pub fn forbidden_page(r: &Reviewer, nav: &'static str, why: &'static str) -> Response {
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

/// A title in a list: at most this many characters, the rest behind "…".
pub const LIST_TITLE_CHARS: usize = 60;
/// The longest text put in a `title` attribute (shown on hover).
pub const HOVER_CHARS: usize = 500;

/// At most `max` characters of `s`, with "…" when cut: a hostile title of hundreds of KiB (the
/// editor limits titles, admission does not) must not fill every list a clerk opens.
pub fn shorten(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(s),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &s[..cut])),
    }
}

/// The page frame: header, navigation by role, language switch, sign-out.
pub fn page(r: &Reviewer, title: &str, current: &str, body: Markup) -> Markup {
    let l = r.lang;
    let nav = [
        ("cases", "/console/cases"),
        ("supervision", "/console/supervision"),
    ];
    html! {
        (DOCTYPE)
        html lang=(l.html()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (l.t("app")) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/app.css";
            }
            body {
                header.top {
                    span.brand { (l.t("app")) }
                    nav {
                        @for (key, href) in nav {
                            a href=(href) class=(if key == current { "on" } else { "" }) { (l.t(key)) }
                        }
                        @if r.who.role.registers_matters() {
                            a #nav-register href="/console/register" class=(if current == "register" { "on" } else { "" }) { (l.t("register")) }
                        }
                        @if r.who.role.sees_reports() {
                            a href="/console/dashboard" class=(if current == "dashboard" { "on" } else { "" }) { (l.t("dashboard")) }
                        }
                        @if r.who.role.sees_assessment() {
                            a #nav-assessment href="/console/assessment" class=(if current == "assessment" { "on" } else { "" }) { (l.t("assessment")) }
                        }
                        @if r.who.role.decides_accountability() {
                            a #nav-accountability href="/console/accountability" class=(if current == "accountability" { "on" } else { "" }) { (l.t("acc_title")) }
                        }
                        @if r.who.role.manages_devices() {
                            a href="/console/devices" class=(if current == "devices" { "on" } else { "" }) { (l.t("devices")) }
                        }
                        @if r.who.role.manages_quarantine() {
                            a #nav-quarantine href="/console/quarantine" class=(if current == "quarantine" { "on" } else { "" }) { (l.t("quarantine")) }
                        }
                        @if r.who.role.reads_audit() {
                            a #nav-audit href="/console/audit" class=(if current == "read_audit" { "on" } else { "" }) { (l.t("read_audit")) }
                        }
                        @if r.who.role.sees_sms_delivery() {
                            a #nav-sms href="/console/sms" class=(if current == "sms_delivery" { "on" } else { "" }) { (l.t("sms_delivery")) }
                        }
                        a #nav-notices href="/console/notices" class=(if current == "notices" { "on" } else { "" }) {
                            (l.t("notices"))
                            @if r.unread > 0 { " " span.badge.late #nav-unread { (r.unread) } }
                        }
                        @if r.who.role.manages_rules() {
                            a #nav-rules href="/console/rules" class=(if current == "rules" { "on" } else { "" }) { (l.t("rules")) }
                        }
                    }
                    span.who { (r.names.who(&r.who.user)) " · " (l.role(r.who.role)) " · " (r.names.place(&r.who.scope.to_string())) }
                    a #lang href=(format!("/console/lang?to={}", l.other().code())) { (l.t("lang_switch")) }
                    form.inline method="post" action="/console/logout" {
                        button #logout type="submit" { (l.t("logout")) }
                    }
                }
                @if let Some(w) = &r.calendar_warning {
                    div.banner #calendar-warning role="alert" data-year=(w.year) {
                        (w.message()) " "
                        a href="/console/rules#calendar-section" { (l.t("fix_calendar")) }
                    }
                }
                main { (body) }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    to: String,
}

async fn switch_lang(headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::from_code(&q.to);
    // Back to where the switch was pressed, if that was a console page of this site.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("/console/").map(|i| r[i..].to_owned()))
        .unwrap_or_else(|| "/console/cases".into());
    (
        [(
            header::SET_COOKIE,
            format!(
                "{LANG}={}; Path=/; Max-Age=31536000; SameSite=Strict",
                lang.code()
            ),
        )],
        Redirect::to(&back),
    )
        .into_response()
}

async fn login_page(headers: HeaderMap) -> Markup {
    login_form(lang_of(&headers), None)
}

fn login_form(l: Lang, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(l.html()) {
            head {
                meta charset="utf-8";
                title { (l.t("login")) " · " (l.t("app")) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/app.css";
            }
            body.login {
                form.card #login-form method="post" action="/console/login" {
                    h1 { (l.t("app")) }
                    @if let Some(e) = error { p.error #login-error { (e) } }
                    label { (l.t("user")) input #user name="user" autocomplete="username" required; }
                    label { (l.t("password")) input #password name="password" type="password" autocomplete="current-password" required; }
                    button #submit type="submit" { (l.t("login")) }
                    a href=(format!("/console/lang?to={}", l.other().code())) { (l.t("lang_switch")) }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let l = lang_of(&headers);
    let refused = || {
        (
            StatusCode::UNAUTHORIZED,
            login_form(l, Some(l.t("bad_login"))),
        )
            .into_response()
    };
    if !same_origin(&headers) || !state.login_limit.allow(&f.user) {
        return Ok(refused());
    }
    let token = match auth::console_sign_in(
        &state.store,
        &state.keys,
        &f.user,
        &f.password,
        crate::now_ms(),
    )
    .await
    {
        Ok(token) => token,
        Err(AuthError::InvalidCredentials | AuthError::InvalidInput(_)) => return Ok(refused()),
        Err(e) => return Err(e.into()),
    };
    Ok((
        [(
            header::SET_COOKIE,
            format!(
                "{SESSION}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                auth::CONSOLE_SECONDS
            ),
        )],
        Redirect::to("/console/cases"),
    )
        .into_response())
}

/// Signing out ends the session on the server too: the console device is revoked until the next
/// sign-in with the password, so a copied cookie stops working at once.
async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    if !same_origin(&headers) {
        return Err(ConsoleError::CROSS_SITE);
    }
    if let Some(claims) = cookie(&headers, SESSION).and_then(|t| state.keys.verify_console(t).ok())
    {
        auth::console_sign_out(&state.store, &claims, crate::now_ms()).await?;
    }
    Ok((
        [(
            header::SET_COOKIE,
            format!("{SESSION}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
        )],
        Redirect::to("/console/login"),
    )
        .into_response())
}
