//! The core's sync session for apps that own their networking: [`SyncDriver`] says which request
//! to make next ([`SyncStep`]) and takes the server's reply ([`HttpReply`]); what a reply means
//! is decided here, once, for the apps and for the built-in transport alike.

use std::sync::{Arc, Mutex};

use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::session::{Answer, Failure, PartSent, Probe, Step, SyncSession, Thumbnail};
use serde::Deserialize;

use crate::records::SyncOutcomeRecord;
use crate::{FfiError, FieldStore, lock};

/// The next request of a sync. Send each with the `Authorization` header of
/// `FieldStore.authorization_header()`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStep {
    /// `POST /v1/sync` with this body, content type `application/x-gridsync`.
    Sync { body: Vec<u8> },
    /// `HEAD /v1/blobs/{sha256}`: how much of this photo the server holds.
    ProbeUpload { sha256: String },
    /// `PUT /v1/blobs/{sha256}` with this body, content type `application/octet-stream` and
    /// `Content-Range: bytes {start}-{total - 1}/{total}`.
    SendPart {
        sha256: String,
        start: u64,
        total: u64,
        body: Vec<u8>,
    },
    /// `GET /v1/blobs/{sha256}?thumb=1`: a colleague's photo's thumbnail.
    FetchThumbnail { sha256: String },
    /// The sync is over: `SyncDriver.outcome()` says what it did.
    Done,
}

/// The server's reply to a step, as the app received it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HttpReply {
    pub status: u16,
    /// The `Upload-Offset` header, if any.
    pub upload_offset: Option<u64>,
    /// The `Upload-Complete` header is `true`.
    pub upload_complete: bool,
    pub body: Vec<u8>,
}

#[derive(Debug, Deserialize)]
/// The body of every error the server sends.
struct ErrorBody {
    code: String,
    message: String,
}

/// Maps a non-2xx answer to the error an app acts on.
pub(crate) fn refused(status: u16, body: &str) -> FfiError {
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

/// What a reply to `step` means for the sync. A refusal of the sync round itself, or a problem
/// with the session (`401`), is the caller's error; a refusal of one upload or thumbnail is an
/// answer (the next one is tried).
pub(crate) fn interpret(step: &Step, reply: HttpReply) -> Result<Answer, FfiError> {
    let text = || String::from_utf8_lossy(&reply.body).into_owned();
    let answer = match (step, reply.status) {
        (Step::Sync(_), 200) => decode_response(&reply.body)
            .map(|r| Answer::Synced(Box::new(r)))
            .map_err(|e| FfiError::Network {
                reason: e.to_string(),
            }),
        (Step::ProbeUpload { .. }, 200) => Ok(Answer::Probed(Probe::Held {
            offset: reply.upload_offset.unwrap_or(0),
            complete: reply.upload_complete,
        })),
        (Step::ProbeUpload { .. }, 404) => Ok(Answer::Probed(Probe::Unknown)),
        (Step::SendPart { .. }, 201) => Ok(Answer::PartSent(PartSent::Complete)),
        // More expected, or the offset moved meanwhile: probe again.
        (Step::SendPart { .. }, 202 | 409) => Ok(Answer::PartSent(PartSent::Partial)),
        (Step::FetchThumbnail { .. }, 200) => {
            Ok(Answer::Thumbnail(Thumbnail::Fetched(reply.body.clone())))
        }
        (Step::FetchThumbnail { .. }, 404) if text().contains("no_thumbnail") => {
            Ok(Answer::Thumbnail(Thumbnail::NoneForType))
        }
        // Not uploaded yet by whoever took it: next sync.
        (Step::FetchThumbnail { .. }, 404) => Ok(Answer::Thumbnail(Thumbnail::NotYet)),
        (_, status) => Err(refused(status, &text())),
    };
    answer.or_else(|e| failed(step, e))
}

/// What a failed step means: a sync round's failure and a session problem end the sync
/// (returned); a broken link stops the transfers (the rest waits for the next sync); any other
/// refusal skips to the next transfer.
pub(crate) fn failed(step: &Step, e: FfiError) -> Result<Answer, FfiError> {
    match (step, e) {
        (Step::Sync(_) | Step::Done, e) | (_, e @ FfiError::Auth { .. }) => Err(e),
        (_, FfiError::Network { reason }) => Ok(Answer::Failed(Failure::Link(reason))),
        (_, e) => Ok(Answer::Failed(Failure::Refused(e.to_string()))),
    }
}

/// The request a step asks for. A part's bytes move into the request: the step kept for the
/// reply needs only what it is.
fn request(step: &mut Step) -> Result<SyncStep, FfiError> {
    Ok(match step {
        Step::Sync(req) => SyncStep::Sync {
            body: encode_request(req)?,
        },
        Step::ProbeUpload { sha256 } => SyncStep::ProbeUpload {
            sha256: sha256.clone(),
        },
        Step::SendPart {
            sha256,
            start,
            total,
            bytes,
        } => SyncStep::SendPart {
            sha256: sha256.clone(),
            start: *start,
            total: *total,
            body: std::mem::take(bytes),
        },
        Step::FetchThumbnail { sha256 } => SyncStep::FetchThumbnail {
            sha256: sha256.clone(),
        },
        Step::Done => SyncStep::Done,
    })
}

/// One sync driven by the app: ask `next_step`, make the request, hand the reply to `answer`
/// (or `link_failed`), until `Done`. The same steps, order, stop rule and round cap as
/// `FieldStore.sync`.
#[derive(Debug, uniffi::Object)]
pub struct SyncDriver {
    store: Arc<FieldStore>,
    /// The session, the step it gave last, and the notices the responses carried (the
    /// session's outcome does not count them).
    state: Mutex<(SyncSession, Option<Step>, u64)>,
}

impl SyncDriver {
    pub(crate) fn new(store: Arc<FieldStore>) -> Self {
        SyncDriver {
            store,
            state: Mutex::new((SyncSession::new(), None, 0)),
        }
    }

    fn apply(
        &self,
        answer: impl FnOnce(&Step) -> Result<Answer, FfiError>,
    ) -> Result<(), FfiError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (session, last, notices) = &mut *state;
        let step =
            last.take()
                .filter(|s| *s != Step::Done)
                .ok_or_else(|| FfiError::InvalidInput {
                    field: "reply".into(),
                    reason: "no step is waiting for a reply: call next_step first".into(),
                })?;
        match answer(&step) {
            Ok(a) => {
                let received = match &a {
                    Answer::Synced(resp) => resp.notices.len() as u64,
                    _ => 0,
                };
                session.answer(&mut lock(&self.store.replica), a, crate::now_ms())?;
                *notices += received;
                Ok(())
            }
            // Renew the token (or sign in) and ask `next_step` again.
            Err(e) => Err(e),
        }
    }
}

#[uniffi::export]
impl SyncDriver {
    /// The next request to make; the same one until it is answered.
    pub fn next_step(&self) -> Result<SyncStep, FfiError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (session, last, _) = &mut *state;
        let mut step = session.next(&lock(&self.store.replica))?;
        let out = request(&mut step)?;
        *last = Some(step);
        Ok(out)
    }

    /// The server's reply to the last step. A sync round refused, or the session ended (`401`,
    /// `FfiError.Auth`), raises: renew the token or sign in, then ask `next_step` again.
    pub fn answer(&self, reply: HttpReply) -> Result<(), FfiError> {
        self.apply(|step| interpret(step, reply))
    }

    /// The last step's request did not reach the server, or its reply broke off. During the
    /// transfers the rest waits for the next sync; a sync round raises `FfiError.Network`.
    pub fn link_failed(&self, reason: String) -> Result<(), FfiError> {
        self.apply(|step| failed(step, FfiError::Network { reason }))
    }

    /// What the sync did so far (all of it once `next_step` says `Done`).
    pub fn outcome(&self) -> SyncOutcomeRecord {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        SyncOutcomeRecord {
            notices: state.2,
            ..state.0.outcome().into()
        }
    }
}
