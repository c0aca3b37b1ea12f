//! One sync of a phone, as steps: sans-I/O. [`SyncSession::next`] says what to do next — a sync
//! round trip, an upload probe or part, a thumbnail fetch — and the caller does it over its own
//! transport (HTTP in the app, `Store::sync` in the demo, `MemoryHub` in tests) and hands the
//! result to [`SyncSession::answer`]. The session owns the order (cases first, so the server knows
//! the cases that reference the photos; then this phone's photos; then colleagues' thumbnails),
//! the stop rule and the round cap; the transport owns only requests, tokens and retries of the
//! same step. `next` is idempotent until `answer`: a transport that signs in again simply asks
//! again.

use std::collections::VecDeque;

use crate::protocol::{SyncRequest, SyncResponse};
use crate::replica::{BlobCopy, Replica};
use crate::{Error, Result};

/// Rounds after which a server that keeps saying "more" is left for the next sync.
pub const MAX_ROUNDS: usize = 200;
/// Parts sent of one upload before it waits for the next sync (another upload of the same account
/// may move the server's offset meanwhile).
const UPLOAD_TRIES: usize = 3;

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this request to the hub; answer with [`Answer::Synced`].
    Sync(Box<SyncRequest>),
    /// Ask how much of this blob the server holds of ours (`HEAD /v1/blobs/{sha256}`); answer
    /// with [`Answer::Probed`].
    ProbeUpload { sha256: String },
    /// Send `bytes`, the blob from `start` to its end of `total` bytes (`PUT` with
    /// `Content-Range`); answer with [`Answer::PartSent`].
    SendPart {
        sha256: String,
        start: u64,
        total: u64,
        bytes: Vec<u8>,
    },
    /// Fetch this photo's thumbnail (`GET /v1/blobs/{sha256}?thumb=1`); answer with
    /// [`Answer::Thumbnail`].
    FetchThumbnail { sha256: String },
    /// Nothing more this time; [`SyncSession::outcome`] says what happened.
    Done,
}

/// What the server said of an upload probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// It holds `offset` bytes of ours; `complete` once we sent it whole.
    Held { offset: u64, complete: bool },
    /// It does not know the blob yet (its case has not been accepted): next sync.
    Unknown,
}

/// What the server said of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartSent {
    /// The whole blob is there, checked against its name.
    Complete,
    /// More expected, or the offset moved meanwhile: probe again.
    Partial,
}

/// What came of a thumbnail fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thumbnail {
    Fetched(Vec<u8>),
    /// The type has none (a PDF, HEIC): not asked again.
    NoneForType,
    /// Not uploaded yet by whoever took it: asked again next sync.
    NotYet,
}

/// Why a step failed, as far as the session cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The link is down: the phase stops; what is left waits for the next sync.
    Link(String),
    /// The server refused this one (bad range, unsupported type, …): the next one is tried.
    Refused(String),
}

/// The result of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Synced(Box<SyncResponse>),
    Probed(Probe),
    PartSent(PartSent),
    Thumbnail(Thumbnail),
    Failed(Failure),
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionOutcome {
    /// Sync round trips made.
    pub rounds: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub pulled_changes: usize,
    /// Cases that changed locally because of the pulls, sorted, once each.
    pub updated_cases: Vec<String>,
    /// The server still had more when the round cap was reached.
    pub more: bool,
    pub uploaded: u64,
    /// Uploads left for the next sync.
    pub pending_uploads: u64,
    pub fetched_thumbnails: u64,
    /// The version of the county's rules received in this sync and now in force, if any.
    pub new_rules: Option<u64>,
    /// The rules in force lack a calendar year deadlines need now or soon.
    pub calendar_warning: Option<crate::rules::CalendarWarning>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Cases,
    /// Uploads in order; `tries` parts of the first sent so far, and the offset to send from
    /// once probed.
    Uploads {
        queue: VecDeque<String>,
        tries: usize,
        send_from: Option<u64>,
    },
    Thumbnails(VecDeque<String>),
    Done,
}

/// One sync of one phone.
#[derive(Debug, Clone)]
pub struct SyncSession {
    phase: Phase,
    with_blobs: bool,
    outcome: SessionOutcome,
}

impl Default for SyncSession {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncSession {
    /// Cases, then this phone's uploads, then colleagues' thumbnails.
    pub fn new() -> Self {
        SyncSession {
            phase: Phase::Cases,
            with_blobs: true,
            outcome: SessionOutcome::default(),
        }
    }

    /// Cases only (simulated phones, benchmarks).
    pub fn cases_only() -> Self {
        SyncSession {
            with_blobs: false,
            ..Self::new()
        }
    }

    /// What happened so far (all of it once [`Step::Done`]).
    pub fn outcome(&self) -> &SessionOutcome {
        &self.outcome
    }

    /// The next step. Asking twice without an answer gives the same step (a sync request built
    /// afresh, so edits made meanwhile ride along).
    pub fn next(&mut self, replica: &Replica) -> Result<Step> {
        loop {
            match &mut self.phase {
                Phase::Cases => return Ok(Step::Sync(Box::new(replica.next_sync_request()?))),
                Phase::Uploads {
                    queue, send_from, ..
                } => {
                    let Some(sha256) = queue.front().cloned() else {
                        self.phase = self.thumbnails(replica)?;
                        continue;
                    };
                    let Some(start) = *send_from else {
                        return Ok(Step::ProbeUpload { sha256 });
                    };
                    let Some(bytes) = replica.blob(&sha256)? else {
                        // Gone from the phone (its case was discarded): nothing to send.
                        queue.pop_front();
                        continue;
                    };
                    let total = bytes.len() as u64;
                    // Every byte is there but unfinished: resending the last one finishes it.
                    let start = start.min(total.saturating_sub(1));
                    let mut bytes = bytes;
                    bytes.drain(..usize::try_from(start).unwrap_or(0).min(bytes.len()));
                    return Ok(Step::SendPart {
                        sha256,
                        start,
                        total,
                        bytes,
                    });
                }
                Phase::Thumbnails(queue) => match queue.front() {
                    Some(sha256) => {
                        return Ok(Step::FetchThumbnail {
                            sha256: sha256.clone(),
                        });
                    }
                    None => self.phase = Phase::Done,
                },
                Phase::Done => return Ok(Step::Done),
            }
        }
    }

    /// The result of the step [`next`](Self::next) gave last.
    pub fn answer(&mut self, replica: &mut Replica, answer: Answer, now: i64) -> Result<()> {
        match (&mut self.phase, answer) {
            (Phase::Cases, Answer::Synced(resp)) => self.synced(replica, &resp, now),
            (Phase::Uploads { .. }, a @ (Answer::Probed(_) | Answer::PartSent(_))) => {
                self.uploaded(replica, a)
            }
            (Phase::Thumbnails(_), Answer::Thumbnail(t)) => self.thumbnail(replica, t),
            (_, Answer::Failed(failure)) => self.failed(failure),
            (phase, answer) => Err(Error::InvalidInput {
                field: "answer".into(),
                reason: format!("{answer:?} does not answer a step of {phase:?}"),
            }),
        }
    }

    fn synced(&mut self, replica: &mut Replica, resp: &SyncResponse, now: i64) -> Result<()> {
        let o = replica.apply_sync_response(resp, now)?;
        let total = &mut self.outcome;
        total.rounds += 1;
        total.accepted += o.accepted;
        total.rejected += o.rejected;
        total.pulled_changes += o.pulled_changes;
        total.updated_cases.extend(o.updated_cases);
        total.more = o.more;
        total.new_rules = o.new_rules.or(total.new_rules);
        total.calendar_warning = o.calendar_warning;
        // Done when the server has nothing more and nothing here waits to be sent or completed —
        // one round trip when everything fits. A round that moved nothing while work remains
        // is not repeated: the next sync tries again.
        let moved = o.accepted > 0 || o.rejected > 0 || o.pulled_changes > 0;
        let again = o.more || (moved && replica.unsettled_count()? > 0);
        if !again || total.rounds >= MAX_ROUNDS {
            total.updated_cases.sort();
            total.updated_cases.dedup();
            self.phase = match self.with_blobs {
                true => Phase::Uploads {
                    queue: replica.blobs_to_upload()?.into(),
                    tries: 0,
                    send_from: None,
                },
                false => Phase::Done,
            };
        }
        Ok(())
    }

    /// A probe's or a part's answer for the upload at the front of the queue.
    fn uploaded(&mut self, replica: &Replica, answer: Answer) -> Result<()> {
        let Phase::Uploads {
            queue,
            tries,
            send_from,
        } = &mut self.phase
        else {
            return Ok(());
        };
        let Some(sha256) = queue.front().cloned() else {
            return Ok(());
        };
        // `Some(true)`: uploaded; `Some(false)`: waits for the next sync; `None`: goes on.
        let settled = match answer {
            Answer::Probed(Probe::Unknown) => Some(false),
            Answer::Probed(Probe::Held { complete: true, .. })
            | Answer::PartSent(PartSent::Complete) => Some(true),
            Answer::Probed(Probe::Held { offset, .. }) => {
                *tries += 1;
                *send_from = Some(offset);
                None
            }
            Answer::PartSent(PartSent::Partial) if *tries >= UPLOAD_TRIES => Some(false),
            // More expected, or the offset moved: probe again.
            _ => {
                *send_from = None;
                None
            }
        };
        if let Some(done) = settled {
            if done {
                replica.mark_uploaded(&sha256)?;
            }
            self.next_upload(done);
        }
        Ok(())
    }

    /// The upload at the front is done (`true`) or waits for the next sync.
    fn next_upload(&mut self, done: bool) {
        if let Phase::Uploads {
            queue,
            tries,
            send_from,
        } = &mut self.phase
        {
            queue.pop_front();
            *tries = 0;
            *send_from = None;
            match done {
                true => self.outcome.uploaded += 1,
                false => self.outcome.pending_uploads += 1,
            }
        }
    }

    fn thumbnail(&mut self, replica: &Replica, t: Thumbnail) -> Result<()> {
        let Phase::Thumbnails(queue) = &mut self.phase else {
            return Ok(());
        };
        let Some(sha256) = queue.pop_front() else {
            return Ok(());
        };
        match t {
            Thumbnail::Fetched(bytes) => {
                replica.keep_copy(&sha256, BlobCopy::Thumbnail, &bytes)?;
                self.outcome.fetched_thumbnails += 1;
            }
            Thumbnail::NoneForType => replica.drop_thumbnail_wish(&sha256)?,
            Thumbnail::NotYet => {}
        }
        Ok(())
    }

    fn failed(&mut self, failure: Failure) -> Result<()> {
        match (&mut self.phase, failure) {
            // The round trip itself failed: nothing was applied; the caller reports its error.
            (Phase::Cases, _) => {
                self.phase = Phase::Done;
                Ok(())
            }
            (Phase::Uploads { queue, .. }, Failure::Link(_)) => {
                self.outcome.pending_uploads += queue.len() as u64;
                queue.clear();
                Ok(())
            }
            (Phase::Uploads { .. }, Failure::Refused(_)) => {
                self.next_upload(false);
                Ok(())
            }
            (Phase::Thumbnails(queue), Failure::Link(_)) => {
                queue.clear();
                Ok(())
            }
            (Phase::Thumbnails(queue), Failure::Refused(_)) => {
                queue.pop_front();
                Ok(())
            }
            (Phase::Done, _) => Ok(()),
        }
    }

    /// Notes the photos of the cases this sync brought and queues the thumbnails still wanted.
    fn thumbnails(&self, replica: &Replica) -> Result<Phase> {
        replica.want_thumbnails(&self.outcome.updated_cases)?;
        Ok(Phase::Thumbnails(replica.wanted_thumbnails()?.into()))
    }
}

/// Syncs cases until the session is done, over `exchange` — a hub that answers a request
/// (`MemoryHub`, a blocking HTTP client). Returns what the session did.
pub fn sync_cases<E: From<Error>>(
    replica: &mut Replica,
    now: i64,
    mut exchange: impl FnMut(&SyncRequest) -> std::result::Result<SyncResponse, E>,
) -> std::result::Result<SessionOutcome, E> {
    let mut session = SyncSession::cases_only();
    while let Step::Sync(req) = session.next(replica)? {
        let resp = exchange(&req)?;
        session.answer(replica, Answer::Synced(Box::new(resp)), now)?;
    }
    Ok(session.outcome)
}
