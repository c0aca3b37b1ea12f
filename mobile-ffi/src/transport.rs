//! The built-in transport: a blocking HTTPS client (rustls) for sign-in, token refresh and sync.
//! Tokens and the device secret live in the encrypted store, never in plain files.

use std::sync::{Arc, Mutex};

use gridsync_core::Replica;
use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::replica::{BlobCopy, SyncOutcome};
use serde::Deserialize;

use crate::log::{LogLevel, emit};
use crate::progress::{Reporting, SyncProgress, report};
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

/// For uploads: no overall limit (a photo takes minutes on 2G), but a link that stops answering
/// is given up on.
fn upload_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(std::time::Duration::from_secs(20)))
        .timeout_recv_response(Some(std::time::Duration::from_secs(120)))
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
        // The photo exists but this role sees it only as a thumbnail: not a session problem.
        403 if code == "metadata_restricted" => FfiError::InvalidInput {
            field: "sha256".into(),
            reason,
        },
        401 | 403 => FfiError::Auth { reason },
        409 => FfiError::Conflict { reason },
        400 | 413 | 415 | 422 => FfiError::InvalidInput {
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
    let mut resp = authorized(replica, server, |auth| {
        agent()
            .post(url(server, "/v1/sync"))
            .header("Authorization", auth)
            .content_type("application/x-gridsync")
            .send(&body[..])
    })?;
    let status = resp.status().as_u16();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(network)?;
    if status != 200 {
        return Err(refused(status, &String::from_utf8_lossy(&bytes)));
    }
    let resp = decode_response(&bytes).map_err(network)?;
    let more = resp.more;
    let outcome = lock(replica).apply_sync_response(&resp, crate::now_ms())?;
    Ok((outcome, more))
}

/// Syncs cases until quiet, then uploads this phone's photos (after the cases that reference
/// them, so the server lets them in) and fetches thumbnails of colleagues' photos.
pub(crate) fn sync_until_quiet(
    replica: &Mutex<Replica>,
    server: &str,
    credentials: Option<&CredentialsRecord>,
    progress: Option<&Arc<dyn SyncProgress>>,
) -> Result<SyncOutcomeRecord, FfiError> {
    let mut total = outcome(SyncOutcome::default());
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
    let (uploaded, pending) = upload_attachments(replica, server, progress)?;
    total.uploaded_attachments = uploaded;
    total.pending_uploads = pending;
    total.fetched_thumbnails = fetch_thumbnails(replica, server, &total.updated_cases)?;
    Ok(total)
}

/// Sends a request with the access token, renewing the token once when it expired. `send`
/// builds the request afresh each time (a body cannot be sent twice).
fn authorized(
    replica: &Mutex<Replica>,
    server: &str,
    send: impl Fn(&str) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<ureq::http::Response<ureq::Body>, FfiError> {
    for attempt in 0..2 {
        let header = authorization_header(&lock(replica))?.ok_or_else(|| FfiError::Auth {
            reason: "not signed in".into(),
        })?;
        let mut resp = send(&header).map_err(network)?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if attempt == 0 && text.contains("token_expired") {
            refresh(replica, server)?;
            continue;
        }
        return Err(refused(401, &text));
    }
    Err(FfiError::Auth {
        reason: "the access token could not be renewed".into(),
    })
}

fn header_value(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Uploads every attachment the server does not hold yet; returns (finished, still pending).
/// A broken link stops the uploads (the next sync resumes each from the server's offset);
/// other refusals skip to the next attachment.
fn upload_attachments(
    replica: &Mutex<Replica>,
    server: &str,
    progress: Option<&Arc<dyn SyncProgress>>,
) -> Result<(u64, u64), FfiError> {
    let names = lock(replica).blobs_to_upload()?;
    let (mut done, mut pending) = (0, 0);
    for (i, sha256) in names.iter().enumerate() {
        match upload_one(replica, server, sha256, progress) {
            Ok(true) => done += 1,
            Ok(false) => pending += 1,
            Err(e @ FfiError::Network { .. }) => {
                emit(LogLevel::Warn, || format!("upload stopped: {}", e.kind()));
                pending += (names.len() - i) as u64;
                break;
            }
            Err(e @ FfiError::Auth { .. }) => return Err(e),
            Err(e) => {
                emit(LogLevel::Warn, || {
                    format!("upload of {sha256} refused: {}", e.kind())
                });
                pending += 1;
            }
        }
    }
    Ok((done, pending))
}

/// Uploads one attachment from where the server's copy ends. `false` when the server does not
/// know it yet (its case has not been accepted).
fn upload_one(
    replica: &Mutex<Replica>,
    server: &str,
    sha256: &str,
    progress: Option<&Arc<dyn SyncProgress>>,
) -> Result<bool, FfiError> {
    let Some(bytes) = lock(replica).blob(sha256)? else {
        return Ok(false);
    };
    let total = bytes.len() as u64;
    let target = url(server, &format!("/v1/blobs/{sha256}"));
    // A few tries: another upload of the same account may move the offset meanwhile.
    for _ in 0..3 {
        let head = authorized(replica, server, |auth| {
            agent().head(&target).header("Authorization", auth).call()
        })?;
        match head.status().as_u16() {
            200 => {}
            404 => return Ok(false),
            status => return Err(refused(status, "")),
        }
        if header_value(&head, "upload-complete").as_deref() == Some("true") {
            lock(replica).mark_uploaded(sha256)?;
            report(progress, sha256, total, total);
            return Ok(true);
        }
        let offset = header_value(&head, "upload-offset")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&o| o <= total)
            .unwrap_or(0);
        // Every byte is there but unfinished: resending the last one finishes it.
        let start = offset.min(total.saturating_sub(1));
        emit(LogLevel::Debug, || {
            format!("uploading {sha256} from byte {start} of {total}")
        });
        let mut resp = authorized(replica, server, |auth| {
            let body = Reporting::new(
                sha256,
                bytes[start as usize..].to_vec(),
                start,
                total,
                progress.cloned(),
            );
            upload_agent()
                .put(&target)
                .header("Authorization", auth)
                .header(
                    "Content-Range",
                    &format!("bytes {start}-{}/{total}", total - 1),
                )
                .content_type("application/octet-stream")
                .send(ureq::SendBody::from_owned_reader(body))
        })?;
        match resp.status().as_u16() {
            201 => {
                lock(replica).mark_uploaded(sha256)?;
                report(progress, sha256, total, total);
                emit(LogLevel::Info, || format!("uploaded {sha256}"));
                return Ok(true);
            }
            // More expected, or the offset moved: ask again.
            202 | 409 => continue,
            status => {
                let text = resp.body_mut().read_to_string().unwrap_or_default();
                return Err(refused(status, &text));
            }
        }
    }
    Ok(false)
}

/// Notes the photos of the cases this sync brought and fetches the thumbnails still wanted;
/// returns how many arrived. One that is not on the server yet is tried again next sync.
fn fetch_thumbnails(
    replica: &Mutex<Replica>,
    server: &str,
    updated: &[String],
) -> Result<u64, FfiError> {
    let wanted = {
        let r = lock(replica);
        r.want_thumbnails(updated)?;
        r.wanted_thumbnails()?
    };
    let mut fetched = 0;
    for sha256 in wanted {
        let target = url(server, &format!("/v1/blobs/{sha256}?thumb=1"));
        let resp = authorized(replica, server, |auth| {
            agent().get(&target).header("Authorization", auth).call()
        });
        let mut resp = match resp {
            Ok(r) => r,
            Err(e @ FfiError::Network { .. }) => {
                emit(LogLevel::Warn, || {
                    format!("thumbnails stopped: {}", e.kind())
                });
                break;
            }
            Err(e) => return Err(e),
        };
        let status = resp.status().as_u16();
        let body = match resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
        {
            Ok(body) => body,
            // The link broke mid-thumbnail: the rest waits for the next sync.
            Err(e) => {
                emit(LogLevel::Warn, || format!("thumbnails stopped: {e}"));
                break;
            }
        };
        match status {
            200 => {
                lock(replica).keep_copy(&sha256, BlobCopy::Thumbnail, &body)?;
                fetched += 1;
            }
            404 if String::from_utf8_lossy(&body).contains("no_thumbnail") => {
                lock(replica).drop_thumbnail_wish(&sha256)?;
            }
            // Not uploaded yet by whoever took it: next sync.
            _ => {}
        }
    }
    if fetched > 0 {
        emit(LogLevel::Info, || format!("{fetched} thumbnails fetched"));
    }
    Ok(fetched)
}

/// Fetches a colleague's photo at full size: as taken for roles that may see its metadata,
/// else without it. Kept on the phone (sealed) and returned.
pub(crate) fn fetch_attachment(
    replica: &Mutex<Replica>,
    server: &str,
    sha256: &str,
) -> Result<Vec<u8>, FfiError> {
    if !gridsync_core::attachment::is_blob_name(sha256) {
        return Err(FfiError::InvalidInput {
            field: "sha256".into(),
            reason: "not a SHA-256 hex digest".into(),
        });
    }
    let target = url(server, &format!("/v1/blobs/{sha256}"));
    let mut resp = authorized(replica, server, |auth| {
        upload_agent()
            .get(&target)
            .header("Authorization", auth)
            .call()
    })?;
    let status = resp.status().as_u16();
    let variant = header_value(&resp, "x-gridsync-variant");
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(network)?;
    if status != 200 {
        return Err(refused(status, &String::from_utf8_lossy(&body)));
    }
    let r = lock(replica);
    match variant.as_deref() {
        Some("original") => r.keep_original(sha256, &body)?,
        _ => r.keep_copy(sha256, BlobCopy::WithoutMetadata, &body)?,
    }
    Ok(body)
}
