//! The built-in transport: a blocking HTTPS client (rustls) for sign-in, token refresh and sync.
//! Tokens and the device secret live in the encrypted store, never in plain files.

use std::sync::{Arc, Mutex};

use gridsync_core::protocol::encode_request;
use gridsync_core::replica::BlobCopy;
use gridsync_core::session::{Answer, PartSent, Probe, Step, SyncSession};
use gridsync_core::{Replica, evidence};
use serde::Deserialize;
use ureq::tls::{RootCerts, TlsConfig};

use crate::driver::{HttpReply, failed, interpret, refused};

use crate::log::{LogLevel, emit};
use crate::progress::{Reporting, SyncProgress, report};
use crate::records::{CredentialsRecord, SignedInRecord, SyncOutcomeRecord};
use crate::{FfiError, device_id, lock, sign_in};

const ACCESS: &str = "access_token";
const REFRESH: &str = "refresh_token";
const DEVICE_SECRET: &str = "device_secret";
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
    /// Absent from a server older than sealing (ADR 0029): learnt at the first sync then.
    #[serde(default)]
    server_key: Option<String>,
    /// The device certificate for colleagues' phones (ADR 0030); absent from an older server.
    #[serde(default)]
    certificate: Option<String>,
}

/// The server as the built-in transport reaches it: its URL and the certificates this phone
/// trusts for it.
#[derive(Debug, Clone)]
pub(crate) struct Server<'a> {
    pub url: &'a str,
    pub tls: TlsConfig,
}

impl Server<'_> {
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .tls_config(self.tls.clone())
            .build()
            .into()
    }

    /// For uploads: no overall limit (a photo takes minutes on 2G), but a link that stops
    /// answering is given up on.
    fn upload_agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(std::time::Duration::from_secs(20)))
            .timeout_recv_response(Some(std::time::Duration::from_secs(120)))
            .tls_config(self.tls.clone())
            .build()
            .into()
    }
}

/// The TLS settings for certificates an app trusts in place of the public (Mozilla) roots:
/// PEM, one or more `CERTIFICATE` blocks (the county's own CA, or the server's self-signed
/// certificate). `None`: the public roots, the default.
pub(crate) fn trusting(pem: Option<&str>) -> Result<TlsConfig, FfiError> {
    let Some(pem) = pem else {
        return Ok(TlsConfig::default());
    };
    let invalid = |reason: &str| FfiError::InvalidInput {
        field: "pem".into(),
        reason: reason.into(),
    };
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem.as_bytes()) {
        match item.map_err(|_| invalid("not PEM"))? {
            ureq::tls::PemItem::Certificate(c) => certs.push(c),
            // An app that ships the server's private key has given it away: refused loudly.
            ureq::tls::PemItem::PrivateKey(_) => {
                return Err(invalid("a private key: give the certificate only"));
            }
            _ => {}
        }
    }
    if certs.is_empty() {
        return Err(invalid("no `BEGIN CERTIFICATE` block"));
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&certs))
        .build())
}

fn network(e: impl std::fmt::Display) -> FfiError {
    FfiError::Network {
        reason: e.to_string(),
    }
}

fn store_tokens(r: &Replica, t: &TokenResponse) -> Result<(), FfiError> {
    r.set_secret(ACCESS, t.access_token.as_bytes())?;
    r.set_secret(REFRESH, t.refresh_token.as_bytes())?;
    if let Some(secret) = &t.device_secret {
        r.set_secret(DEVICE_SECRET, secret.as_bytes())?;
    }
    if let Some(key) = t.server_key.as_deref().and_then(evidence::key_from_text) {
        r.set_server_key(&key)?;
    }
    // An unreadable certificate is not kept: the next sync brings one.
    if let Some(cert) = t.certificate.as_deref().and_then(|c| {
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, c).ok()
    }) && gridsync_core::peer::Certificate::read(&cert).is_ok()
    {
        r.set_certificate(&cert)?;
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

/// The device secret the first sign-in on this phone received, if any: the urgent SMS report's
/// key derives from it.
pub(crate) fn device_secret(r: &Replica) -> Result<Option<String>, FfiError> {
    secret_string(r, DEVICE_SECRET)
}

pub(crate) fn login(
    replica: &Mutex<Replica>,
    server: &Server<'_>,
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
            "device_key": r.device_key().map(|k| gridsync_core::evidence::key_text(&k)),
        })
    };
    let mut resp = server
        .agent()
        .post(server.at("/v1/auth/login"))
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

fn refresh(replica: &Mutex<Replica>, server: &Server<'_>) -> Result<(), FfiError> {
    let token = secret_string(&lock(replica), REFRESH)?.ok_or_else(|| FfiError::Auth {
        reason: "not signed in".into(),
    })?;
    let mut resp = server
        .agent()
        .post(server.at("/v1/auth/refresh"))
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

/// Syncs through the core's [`SyncSession`]: cases until quiet, then this phone's photos (after
/// the cases that reference them, so the server lets them in), then colleagues' thumbnails. Each
/// step's request is built under the lock and its answer applied under it; the network wait
/// happens without it (edits made meanwhile are sent next round). The session ended (refresh
/// token expired or revoked): signs in again with `credentials`, once, and repeats the step.
pub(crate) fn sync_until_quiet(
    replica: &Mutex<Replica>,
    server: &Server<'_>,
    credentials: Option<&CredentialsRecord>,
    progress: Option<&Arc<dyn SyncProgress>>,
) -> Result<SyncOutcomeRecord, FfiError> {
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
    let mut session = SyncSession::new();
    // The session's outcome does not count notices; the responses carry them.
    let mut notices = 0;
    loop {
        let step = session.next(&lock(replica))?;
        if step == Step::Done {
            break;
        }
        let answer = match perform(replica, server, &step, progress)
            .and_then(|reply| interpret(&step, reply))
        {
            Ok(answer) => answer,
            Err(FfiError::Auth { .. }) if credentials.is_some() && !signed_in_again => {
                signed_in_again = true;
                if let Some(c) = credentials {
                    login(replica, server, c)?;
                }
                continue;
            }
            Err(e) => match failed(&step, e) {
                Ok(answer) => answer,
                Err(e) => {
                    emit(LogLevel::Warn, || format!("sync stopped: {}", e.kind()));
                    return Err(e);
                }
            },
        };
        match &answer {
            Answer::Synced(resp) => {
                notices += resp.notices.len() as u64;
                emit(LogLevel::Info, || {
                    format!(
                        "sync round {}: {} accepted, {} refused, {} pulled, {} notices",
                        session.outcome().rounds + 1,
                        resp.accepted.iter().map(|a| a.hashes.len()).sum::<usize>(),
                        resp.rejected.len(),
                        resp.pull.iter().map(|p| p.changes.len()).sum::<usize>(),
                        resp.notices.len()
                    )
                })
            }
            Answer::Failed(f) => emit(LogLevel::Warn, || format!("transfer stopped: {f:?}")),
            Answer::Probed(Probe::Held {
                offset,
                complete: true,
            }) => {
                if let Step::ProbeUpload { sha256 } = &step {
                    report(progress, sha256, *offset, *offset);
                }
            }
            Answer::PartSent(PartSent::Complete) => {
                if let Step::SendPart { sha256, total, .. } = &step {
                    report(progress, sha256, *total, *total);
                    emit(LogLevel::Info, || format!("uploaded {sha256}"));
                }
            }
            _ => {}
        }
        session.answer(&mut lock(replica), answer, crate::now_ms())?;
    }
    let o = session.outcome();
    if o.fetched_thumbnails > 0 {
        emit(LogLevel::Info, || {
            format!("{} thumbnails fetched", o.fetched_thumbnails)
        });
    }
    Ok(SyncOutcomeRecord {
        notices,
        ..o.into()
    })
}

/// Makes a step's request over HTTP, with the access token (renewed once when it expired).
fn perform(
    replica: &Mutex<Replica>,
    server: &Server<'_>,
    step: &Step,
    progress: Option<&Arc<dyn SyncProgress>>,
) -> Result<HttpReply, FfiError> {
    let blob = |sha256: &str| server.at(&format!("/v1/blobs/{sha256}"));
    let mut resp = match step {
        Step::Sync(req) => {
            let body = encode_request(req)?;
            authorized(replica, server, |auth| {
                server
                    .agent()
                    .post(server.at("/v1/sync"))
                    .header("Authorization", auth)
                    .content_type("application/x-gridsync")
                    .send(&body[..])
            })?
        }
        Step::ProbeUpload { sha256 } => authorized(replica, server, |auth| {
            server
                .agent()
                .head(blob(sha256))
                .header("Authorization", auth)
                .call()
        })?,
        Step::SendPart {
            sha256,
            start,
            total,
            bytes,
        } => {
            emit(LogLevel::Debug, || {
                format!("uploading {sha256} from byte {start} of {total}")
            });
            authorized(replica, server, |auth| {
                let body = Reporting::new(sha256, bytes.clone(), *start, *total, progress.cloned());
                server
                    .upload_agent()
                    .put(blob(sha256))
                    .header("Authorization", auth)
                    .header(
                        "Content-Range",
                        &format!("bytes {start}-{}/{total}", total.saturating_sub(1)),
                    )
                    .content_type("application/octet-stream")
                    .send(ureq::SendBody::from_owned_reader(body))
            })?
        }
        Step::FetchThumbnail { sha256 } => authorized(replica, server, |auth| {
            server
                .agent()
                .get(format!("{}?thumb=1", blob(sha256)))
                .header("Authorization", auth)
                .call()
        })?,
        Step::Done => {
            return Err(FfiError::Internal {
                reason: "no request for a finished sync".into(),
            });
        }
    };
    let upload_offset = header_value(&resp, "upload-offset").and_then(|v| v.parse().ok());
    let upload_complete = header_value(&resp, "upload-complete").as_deref() == Some("true");
    let body = read_body(&mut resp)?;
    Ok(HttpReply {
        status: resp.status().as_u16(),
        upload_offset,
        upload_complete,
        body,
    })
}

/// Sends a request with the access token, renewing the token once when it expired. `send`
/// builds the request afresh each time (a body cannot be sent twice).
fn authorized(
    replica: &Mutex<Replica>,
    server: &Server<'_>,
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

/// A response body, at most [`MAX_RESPONSE_BYTES`]; one that breaks off is a `Network` error.
fn read_body(resp: &mut ureq::http::Response<ureq::Body>) -> Result<Vec<u8>, FfiError> {
    resp.body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(network)
}

fn header_value(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Fetches a colleague's photo at full size: as taken for roles that may see its metadata,
/// else without it. Kept on the phone (sealed) and returned.
pub(crate) fn fetch_attachment(
    replica: &Mutex<Replica>,
    server: &Server<'_>,
    sha256: &str,
) -> Result<Vec<u8>, FfiError> {
    if !gridsync_core::attachment::is_blob_name(sha256) {
        return Err(FfiError::InvalidInput {
            field: "sha256".into(),
            reason: "not a SHA-256 hex digest".into(),
        });
    }
    let target = server.at(&format!("/v1/blobs/{sha256}"));
    let mut resp = authorized(replica, server, |auth| {
        server
            .upload_agent()
            .get(&target)
            .header("Authorization", auth)
            .call()
    })?;
    let status = resp.status().as_u16();
    let variant = header_value(&resp, "x-gridsync-variant");
    let body = read_body(&mut resp)?;
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
