//! The built-in transport: a blocking HTTPS client (rustls) for sign-in, token refresh and sync.
//! Tokens and the device secret live in the encrypted store, never in plain files.

use std::sync::Mutex;

use gridsync_core::Replica;
use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::replica::SyncOutcome;
use serde::Deserialize;

use crate::log::{LogLevel, emit};
use crate::records::{CredentialsRecord, SignedInRecord, SyncOutcomeRecord, outcome};
use crate::{FfiError, device_id, lock, sign_in};

const ACCESS: &str = "access_token";
const REFRESH: &str = "refresh_token";
const DEVICE_SECRET: &str = "device_secret";
/// Rounds before `sync` gives up on a server that keeps saying "more".
const MAX_ROUNDS: usize = 200;
/// The server pages responses well below this; a bigger body is refused, not buffered.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

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

fn signed_in_record(t: &TokenResponse) -> SignedInRecord {
    SignedInRecord {
        user: t.user.clone(),
        role: t.role.clone(),
        scope: t.scope.clone(),
        department: t.department.clone(),
    }
}

fn secret_string(r: &Replica, name: &str) -> Result<Option<String>, FfiError> {
    Ok(r.secret(name)?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

pub(crate) fn login(
    replica: &Mutex<Replica>,
    server: &str,
    credentials: &CredentialsRecord,
) -> Result<SignedInRecord, FfiError> {
    let body = {
        let r = lock(replica);
        serde_json::json!({
            "user": credentials.user,
            "password": credentials.password,
            "device": device_id(&r)?,
            "actor": r.actor_id().to_hex_string(),
            "device_secret": secret_string(&r, DEVICE_SECRET)?,
        })
    };
    let mut resp = agent()
        .post(url(server, "/v1/auth/login"))
        .send_json(&body)
        .map_err(network)?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().map_err(network)?;
    if status != 200 {
        let err = refused(status, &text);
        emit(LogLevel::Warn, || format!("sign-in refused: HTTP {status}"));
        return Err(err);
    }
    let t: TokenResponse = serde_json::from_str(&text).map_err(network)?;
    let signed = signed_in_record(&t);
    let mut r = lock(replica);
    store_tokens(&r, &t)?;
    sign_in(&mut r, &signed)?;
    emit(LogLevel::Info, || format!("signed in as {}", signed.role));
    Ok(signed)
}

fn refresh(replica: &Mutex<Replica>, server: &str) -> Result<(), FfiError> {
    let token = secret_string(&lock(replica), REFRESH)?.ok_or_else(|| FfiError::Auth {
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
    let mut r = lock(replica);
    store_tokens(&r, &t)?;
    // The account may have moved to another grid or role since the last sign-in.
    sign_in(&mut r, &signed_in_record(&t))?;
    emit(LogLevel::Debug, || "access token renewed".into());
    Ok(())
}

/// The `Authorization` header for apps that send requests themselves.
pub(crate) fn authorization_header(r: &Replica) -> Result<Option<String>, FfiError> {
    Ok(secret_string(r, ACCESS)?.map(|t| format!("Bearer {t}")))
}

/// One round trip: the request is built and the response applied under the lock, the network
/// wait happens without it (the outbox is derived from acknowledged heads, so edits made
/// meanwhile are simply sent next round). Refreshes the access token once when it expired.
fn round(replica: &Mutex<Replica>, server: &str) -> Result<(SyncOutcome, bool), FfiError> {
    let body = encode_request(&lock(replica).next_sync_request()?)?;
    for attempt in 0..2 {
        let header = authorization_header(&lock(replica))?.ok_or_else(|| FfiError::Auth {
            reason: "not signed in".into(),
        })?;
        let mut resp = agent()
            .post(url(server, "/v1/sync"))
            .header("Authorization", &header)
            .content_type("application/x-gridsync")
            .send(&body[..])
            .map_err(network)?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(network)?;
        if status == 200 {
            let resp = decode_response(&bytes).map_err(network)?;
            let more = resp.more;
            let outcome = lock(replica).apply_sync_response(&resp, crate::now_ms())?;
            return Ok((outcome, more));
        }
        let text = String::from_utf8_lossy(&bytes);
        if status == 401 && attempt == 0 && text.contains("token_expired") {
            refresh(replica, server)?;
            continue;
        }
        return Err(refused(status, &text));
    }
    Err(FfiError::Auth {
        reason: "the access token could not be renewed".into(),
    })
}

pub(crate) fn sync_until_quiet(
    replica: &Mutex<Replica>,
    server: &str,
    credentials: Option<&CredentialsRecord>,
) -> Result<SyncOutcomeRecord, FfiError> {
    let mut total = SyncOutcomeRecord {
        accepted: 0,
        rejected: 0,
        pulled_changes: 0,
        updated_cases: Vec::new(),
        more: false,
    };
    let mut signed_in_again = false;
    let signed_in = {
        let r = lock(replica);
        r.identity().is_some() && authorization_header(&r)?.is_some()
    };
    if !signed_in {
        let c = credentials.ok_or_else(|| FfiError::Auth {
            reason: "nobody is signed in on this phone".into(),
        })?;
        login(replica, server, c)?;
        signed_in_again = true;
    }
    let mut rounds = 0;
    while rounds < MAX_ROUNDS {
        let (o, more) = match round(replica, server) {
            Ok(x) => x,
            // The session ended (refresh token expired or revoked): sign in again, once.
            Err(FfiError::Auth { .. }) if credentials.is_some() && !signed_in_again => {
                signed_in_again = true;
                if let Some(c) = credentials {
                    login(replica, server, c)?;
                }
                continue;
            }
            Err(e) => {
                emit(LogLevel::Warn, || format!("sync stopped: {}", e.kind()));
                return Err(e);
            }
        };
        rounds += 1;
        let o = outcome(o);
        emit(LogLevel::Info, || {
            format!(
                "sync round {rounds}: {} accepted, {} refused, {} pulled",
                o.accepted, o.rejected, o.pulled_changes
            )
        });
        let busy = more || o.accepted > 0 || o.pulled_changes > 0;
        total.more = more;
        total.accepted += o.accepted;
        total.rejected += o.rejected;
        total.pulled_changes += o.pulled_changes;
        total.updated_cases.extend(o.updated_cases);
        if !busy {
            break;
        }
    }
    total.updated_cases.sort();
    total.updated_cases.dedup();
    Ok(total)
}
