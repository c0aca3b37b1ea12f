//! The built-in transport: a blocking HTTPS client (rustls) for sign-in, token refresh and sync.
//! Tokens and the device secret live in the encrypted store, never in plain files.

use gridsync_core::Replica;
use gridsync_core::protocol::{decode_response, encode_request};
use serde::Deserialize;

use crate::FfiError;
use crate::records::{SignedInRecord, SyncOutcomeRecord, outcome};

const ACCESS: &str = "access_token";
const REFRESH: &str = "refresh_token";
const DEVICE_SECRET: &str = "device_secret";
/// Rounds before `sync` gives up on a server that keeps saying "more".
const MAX_ROUNDS: usize = 200;

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    user: String,
    role: String,
    scope: String,
    department: Option<String>,
    device_secret: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into()
}

fn url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

fn network(e: impl std::fmt::Display) -> FfiError {
    FfiError::Network {
        reason: e.to_string(),
    }
}

/// Maps a non-2xx answer to the error an app acts on.
fn refused(status: u16, body: &str) -> FfiError {
    let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
    let (code, message) = parsed
        .map(|b| (b.code, b.message))
        .unwrap_or_else(|| ("http".into(), body.chars().take(200).collect()));
    let reason = format!("{code}: {message}");
    match status {
        401 | 403 => FfiError::Auth { reason },
        409 => FfiError::Conflict { reason },
        400 | 413 | 422 => FfiError::InvalidInput {
            field: "request".into(),
            reason,
        },
        _ => FfiError::Network { reason },
    }
}

fn store_tokens(r: &Replica, t: &TokenResponse) -> Result<(), FfiError> {
    r.set_secret(ACCESS, t.access_token.as_bytes())?;
    r.set_secret(REFRESH, t.refresh_token.as_bytes())?;
    if let Some(secret) = &t.device_secret {
        r.set_secret(DEVICE_SECRET, secret.as_bytes())?;
    }
    Ok(())
}

fn secret_string(r: &Replica, name: &str) -> Result<Option<String>, FfiError> {
    Ok(r.secret(name)?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

pub(crate) fn login(
    r: &mut Replica,
    server: &str,
    user: &str,
    password: &str,
    device: &str,
) -> Result<SignedInRecord, FfiError> {
    let body = serde_json::json!({
        "user": user,
        "password": password,
        "device": device,
        "actor": r.actor_id().to_hex_string(),
        "device_secret": secret_string(r, DEVICE_SECRET)?,
    });
    let mut resp = agent()
        .post(url(server, "/v1/auth/login"))
        .send_json(&body)
        .map_err(network)?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().map_err(network)?;
    if status != 200 {
        return Err(refused(status, &text));
    }
    let t: TokenResponse = serde_json::from_str(&text).map_err(network)?;
    store_tokens(r, &t)?;
    Ok(SignedInRecord {
        user: t.user,
        role: t.role,
        scope: t.scope,
        department: t.department,
    })
}

fn refresh(r: &Replica, server: &str) -> Result<(), FfiError> {
    let token = secret_string(r, REFRESH)?.ok_or_else(|| FfiError::Auth {
        reason: "not signed in".into(),
    })?;
    let mut resp = agent()
        .post(url(server, "/v1/auth/refresh"))
        .send_json(serde_json::json!({ "refresh_token": token }))
        .map_err(network)?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().map_err(network)?;
    if status != 200 {
        return Err(refused(status, &text));
    }
    let t: TokenResponse = serde_json::from_str(&text).map_err(network)?;
    store_tokens(r, &t)
}

/// One round trip; refreshes the access token once when the server says it expired.
fn round(
    r: &mut Replica,
    server: &str,
    now_ms: i64,
) -> Result<(gridsync_core::replica::SyncOutcome, bool), FfiError> {
    let body = encode_request(&r.next_sync_request()?)?;
    for attempt in 0..2 {
        let token = secret_string(r, ACCESS)?.ok_or_else(|| FfiError::Auth {
            reason: "not signed in".into(),
        })?;
        let mut resp = agent()
            .post(url(server, "/v1/sync"))
            .header("Authorization", &format!("Bearer {token}"))
            .content_type("application/x-gridsync")
            .send(&body[..])
            .map_err(network)?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(network)?;
        if status == 200 {
            let resp = decode_response(&bytes)?;
            let more = resp.more;
            return Ok((r.apply_sync_response(&resp, now_ms)?, more));
        }
        let text = String::from_utf8_lossy(&bytes);
        if status == 401 && attempt == 0 && text.contains("token_expired") {
            refresh(r, server)?;
            continue;
        }
        return Err(refused(status, &text));
    }
    Err(FfiError::Auth {
        reason: "the access token could not be renewed".into(),
    })
}

pub(crate) fn sync_until_quiet(
    r: &mut Replica,
    server: &str,
    now_ms: i64,
) -> Result<SyncOutcomeRecord, FfiError> {
    let mut total = SyncOutcomeRecord {
        accepted: 0,
        rejected: 0,
        pulled_changes: 0,
        updated_cases: Vec::new(),
    };
    for _ in 0..MAX_ROUNDS {
        let (o, more) = round(r, server, now_ms)?;
        let o = outcome(o);
        let busy = more || o.accepted > 0 || o.pulled_changes > 0;
        total.accepted += o.accepted;
        total.rejected += o.rejected;
        total.pulled_changes += o.pulled_changes;
        total.updated_cases.extend(o.updated_cases);
        if !busy {
            return Ok(total);
        }
    }
    Ok(total)
}
