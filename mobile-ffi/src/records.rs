//! Records and enums owned by the FFI, converted from the core's types in one place.

use std::collections::HashMap;

use gridsync_core::case::{Attachment, Case, Mediation, MediationSession, NewCase, Party};
use gridsync_core::replica::{BlobHere, CaseFilter, CaseSummary, SyncOutcome, SyncState};
use gridsync_core::rules::CalendarWarning;
use gridsync_core::session::SessionOutcome;
use gridsync_core::workflow::{EventDraft, EventType, Part, Rating, Verdict};
use gridsync_core::{CaseEvent, CaseKind, FieldConflict, Level, Replica, Status, WorkflowState};

use crate::FfiError;

/// What the user fills in to capture a case.
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewCaseRecord {
    /// incident, request, dispute, patrol, household or key_person_visit.
    pub kind: String,
    /// Jurisdiction path, e.g. `130533/100/201/01`.
    pub jurisdiction: String,
    pub category: String,
    pub title: String,
    #[uniffi(default)]
    pub description: String,
    #[uniffi(default)]
    pub address: String,
    #[uniffi(default)]
    pub lat: Option<f64>,
    #[uniffi(default)]
    pub lon: Option<f64>,
    /// Requester, parties to a dispute, the key person visited, household members.
    #[uniffi(default)]
    pub people: Vec<PartyRecord>,
}

/// A person involved in a case.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PartyRecord {
    /// Empty when adding: the store assigns one.
    #[uniffi(default)]
    pub id: String,
    pub name: String,
    /// requester, applicant, respondent, key_person, member …
    #[uniffi(default)]
    pub role: String,
    #[uniffi(default)]
    pub phone: String,
}

/// Which local cases to list; `None` and `false` match everything.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct CaseFilterRecord {
    #[uniffi(default)]
    pub kind: Option<String>,
    #[uniffi(default)]
    pub status: Option<String>,
    /// pending, synced, rejected or incomplete.
    #[uniffi(default)]
    pub sync_state: Option<String>,
    #[uniffi(default)]
    pub conflict_only: bool,
    /// Matched against title and category.
    #[uniffi(default)]
    pub text: Option<String>,
    /// Only the signed-in user's tasks: cases sent down to their level (分流) awaiting
    /// verification (待核实).
    #[uniffi(default)]
    pub tasks_only: bool,
}

/// One row of the case list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CaseSummaryRecord {
    pub id: String,
    pub kind: String,
    pub category: String,
    pub title: String,
    pub jurisdiction: String,
    pub status: String,
    /// pending, synced, rejected or incomplete.
    pub sync_state: String,
    pub in_conflict: bool,
    /// The first refusal's reason when `sync_state` is rejected.
    pub rejection: Option<String>,
    /// The channel it came in through: grid_worker, mediator, hotline_12345, walk_in… (empty for
    /// a summary kept before sources were).
    pub source: String,
    /// 待核实: sent down to the signed-in user's level and not yet taken on — a task.
    pub awaiting_verification: bool,
}

/// A photo or document attached to a case.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AttachmentRecord {
    pub sha256: String,
    pub mime: String,
    pub bytes: u64,
    pub caption: String,
    pub captured_at_ms: i64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The full picture is on this phone (`attachment_bytes` returns it).
    pub on_phone: bool,
    /// The server's thumbnail is on this phone (`thumbnail` returns it).
    pub thumbnail_on_phone: bool,
    /// The server holds it whole: uploaded from this phone, or fetched from the server.
    pub uploaded: bool,
}

/// One step of the case's workflow, as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct EventRecord {
    pub id: String,
    /// The step, as PROTOCOL.md's event table names it: reported, accepted, assigned, …,
    /// return_visit, part_assigned, part_signed, part_done.
    pub kind: String,
    pub by: String,
    pub role: String,
    pub device: String,
    pub at_ms: i64,
    pub level: String,
    pub note: String,
    pub department: Option<String>,
    pub rating: Option<String>,
    /// The deadline of the clock this step started, if it started one.
    pub due_at_ms: Option<i64>,
    /// The version of the county's rules that deadline was computed with.
    pub rules_version: Option<u64>,
    /// The deadline crossed a year the calendar did not list: only weekends counted as days off.
    pub due_on_weekdays_only: bool,
    /// return_visit: phone, visit, sms or wechat.
    pub via: Option<String>,
    /// resolved: the answer the requester reads (答复).
    pub reply: Option<String>,
    /// return_visit: what it found about the resolution, confirmed (办结属实) or untrue (办结不实).
    pub verdict: Option<String>,
}

/// One assisting department's part of a joint dispatch (协办): who holds it and how far it got.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PartRecord {
    /// The assisting department's code in the catalogue.
    pub department: String,
    pub assigned_at_ms: i64,
    /// The handler who signed for it (协办签收), and when.
    pub signed_by: Option<String>,
    pub signed_at_ms: Option<i64>,
    /// When it was reported done (协办反馈).
    pub done_at_ms: Option<i64>,
    /// When its current clock runs out (signing, then handling); `None` once done.
    pub due_at_ms: Option<i64>,
    /// Past `due_at_ms` on this phone's clock while the case is open.
    pub overdue: bool,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct MediationSessionRecord {
    /// Empty when adding: the store assigns one.
    #[uniffi(default)]
    pub id: String,
    pub at_ms: i64,
    pub mediators: Vec<String>,
    #[uniffi(default)]
    pub notes: String,
    /// agreed, partial, failed or adjourned.
    #[uniffi(default)]
    pub outcome: String,
}

/// The mediation of a dispute (empty for other kinds).
#[derive(Debug, Clone, uniffi::Record)]
pub struct MediationRecord {
    pub sessions: Vec<MediationSessionRecord>,
    pub agreement: String,
    /// success or failure; empty while open.
    pub result: String,
    /// court, police or petition after a failure.
    pub referral: String,
}

/// Everything about one case, as this phone holds it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CaseDetailRecord {
    pub id: String,
    pub kind: String,
    pub jurisdiction: String,
    pub category: String,
    pub title: String,
    pub description: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub reporter: String,
    pub reporter_device: String,
    pub created_at_ms: i64,
    /// The channel it came in through: grid_worker, mediator, hotline_12345, walk_in…
    pub source: String,
    /// 待核实: sent down (分流) and not yet taken on at its level.
    pub awaiting_verification: bool,
    /// The answer given to the requester at the latest resolution (答复).
    pub reply: Option<String>,
    pub status: String,
    /// grid, village, township or county: where the case is handled now.
    pub level: String,
    /// 首办负责: who owns the case at its level.
    pub owner: Option<String>,
    /// The department the case is assigned to: the lead one (主办) of a joint dispatch.
    pub department: Option<String>,
    /// The same as `department`, named for joint dispatches: the lead beside `parts`.
    pub lead_department: Option<String>,
    /// The assisting departments' parts (协办) of the dispatch standing now, in the order added.
    pub parts: Vec<PartRecord>,
    /// When the current clock runs out (受理, 签收 or 办结 by then), as written by whoever started
    /// it: the same deadline offline and on the server.
    pub due_at_ms: Option<i64>,
    /// Past `due_at_ms` on this phone's clock.
    pub overdue: bool,
    pub supervision_count: u32,
    pub accountability: bool,
    pub sync_state: String,
    /// Names and phone numbers in full only for a user who handles the case; masked
    /// (138****5678) for others who may read it.
    pub people: Vec<PartyRecord>,
    pub attachments: Vec<AttachmentRecord>,
    pub events: Vec<EventRecord>,
    pub mediation: MediationRecord,
    /// Kind-specific fields: household data, patrol checklist items, visit notes.
    pub extra: HashMap<String, String>,
    pub conflicts: Vec<FieldConflictRecord>,
    pub rejections: Vec<RejectionRecord>,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct ConflictValueRecord {
    pub value: String,
    pub user: Option<String>,
    pub device: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct FieldConflictRecord {
    pub field: String,
    pub values: Vec<ConflictValueRecord>,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct RejectionRecord {
    pub code: String,
    pub reason: String,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncOutcomeRecord {
    pub accepted: u64,
    pub rejected: u64,
    pub pulled_changes: u64,
    pub updated_cases: Vec<String>,
    /// The server has more to send: apps that own their networking sync again.
    pub more: bool,
    /// Photos and documents whose upload finished in this sync.
    pub uploaded_attachments: u64,
    /// Photos and documents still to upload (the link broke, or their case is not on the
    /// server yet): the next sync continues where this one stopped.
    pub pending_uploads: u64,
    /// Colleagues' photo thumbnails fetched in this sync.
    pub fetched_thumbnails: u64,
    /// The version of the county's rules received in this sync and now in force, if any.
    pub new_rules: Option<u64>,
    /// The rules lack a calendar year that deadlines need now or soon (by the server's
    /// clock); `calendar_warning_code` is `calendar_missing_year`.
    pub calendar_warning: Option<String>,
    pub calendar_warning_code: Option<String>,
    pub calendar_missing_year: Option<i32>,
    /// Notices received in this sync (`FieldStore.notices` lists them): show the badge.
    pub notices: u64,
}

/// Who signed in.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SignedInRecord {
    pub user: String,
    pub role: String,
    pub scope: String,
    pub department: Option<String>,
}

/// A user's sign-in, for `sync` to sign in again when the session has ended.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CredentialsRecord {
    pub user: String,
    pub password: String,
}

/// Workflow steps an app offers (the rules decide whether the user may take them).
#[derive(Debug, Clone, uniffi::Enum)]
pub enum EventKind {
    Accepted,
    /// 转办 to a department (code from the catalogue).
    Assigned {
        department: String,
    },
    /// A department signs for the case (签收) and starts handling it.
    InProgress,
    Resolved,
    Escalated,
    Returned,
    Supervised,
    Archived,
    Reopened,
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
    /// Chooses one of two concurrent incompatible steps.
    Settled {
        chosen_event: String,
    },
    /// 办结 with the answer the requester reads (答复).
    ResolvedWithReply {
        reply: String,
    },
    /// 回访: the requester reached by phone, visit, sms or wechat; the note says what they said,
    /// the verdict what it found about the resolution.
    ReturnVisit {
        via: String,
        #[uniffi(default)]
        verdict: Option<VisitVerdict>,
    },
    /// 联合派单: the township or county adds an assisting department (协办) beside the lead.
    PartAssigned {
        department: String,
    },
    /// 协办签收: the assisting department's handler signs for its part.
    PartSigned {
        department: String,
    },
    /// 协办反馈: the assisting department reports its part done; the note (required) says what
    /// it did.
    PartDone {
        department: String,
    },
}

/// What a return visit found about the resolution.
#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum VisitVerdict {
    /// 办结属实
    Confirmed,
    /// 办结不实: the matter is not in fact solved; someone is accountable.
    Untrue,
}

pub(crate) fn draft(kind: EventKind, note: String) -> EventDraft {
    let d = match kind {
        EventKind::Accepted => EventDraft::new(EventType::Accepted),
        EventKind::Assigned { department } => EventDraft::assign_to(department),
        EventKind::InProgress => EventDraft::new(EventType::InProgress),
        EventKind::Resolved => EventDraft::new(EventType::Resolved),
        EventKind::Escalated => EventDraft::new(EventType::Escalated),
        EventKind::Returned => EventDraft::new(EventType::Returned),
        EventKind::Supervised => EventDraft::new(EventType::Supervised),
        EventKind::Archived => EventDraft::new(EventType::Archived),
        EventKind::Reopened => EventDraft::new(EventType::Reopened),
        EventKind::Satisfied => EventDraft::evaluate(Rating::Satisfied),
        EventKind::BasicallySatisfied => EventDraft::evaluate(Rating::BasicallySatisfied),
        EventKind::Unsatisfied => EventDraft::evaluate(Rating::Unsatisfied),
        EventKind::Settled { chosen_event } => EventDraft::settle(chosen_event),
        EventKind::ResolvedWithReply { reply } => EventDraft::resolve_with_reply(reply),
        EventKind::ReturnVisit { via, verdict } => {
            let d = EventDraft::return_visit(via);
            match verdict {
                Some(VisitVerdict::Confirmed) => d.verdict(Verdict::Confirmed),
                Some(VisitVerdict::Untrue) => d.verdict(Verdict::Untrue),
                None => d,
            }
        }
        EventKind::PartAssigned { department } => EventDraft::assist(department),
        EventKind::PartSigned { department } => EventDraft::sign_part(department),
        EventKind::PartDone { department } => EventDraft::finish_part(department),
    };
    d.note(note)
}

fn invalid(field: &str, reason: String) -> FfiError {
    FfiError::InvalidInput {
        field: field.into(),
        reason,
    }
}

pub(crate) fn parse_kind(s: &str) -> Result<CaseKind, FfiError> {
    CaseKind::parse(s).ok_or_else(|| invalid("kind", format!("unknown case kind {s:?}")))
}

/// The list filter; `level` is where the signed-in user handles cases (their tasks').
pub(crate) fn filter(f: CaseFilterRecord, level: Option<Level>) -> Result<CaseFilter, FfiError> {
    Ok(CaseFilter {
        awaiting_verification_at: if f.tasks_only {
            // No level (a department): no tasks of this kind.
            Some(
                level.ok_or_else(|| {
                    invalid("tasks_only", "this role has no tasks to verify".into())
                })?,
            )
        } else {
            None
        },
        kind: f.kind.as_deref().map(parse_kind).transpose()?,
        status: f
            .status
            .as_deref()
            .map(|s| {
                Status::parse(s).ok_or_else(|| invalid("status", format!("unknown status {s:?}")))
            })
            .transpose()?,
        sync_state: f
            .sync_state
            .as_deref()
            .map(|s| {
                SyncState::from_name(s)
                    .ok_or_else(|| invalid("sync_state", format!("unknown sync state {s:?}")))
            })
            .transpose()?,
        conflict_only: f.conflict_only,
        text: f.text.filter(|t| !t.is_empty()),
    })
}

pub(crate) fn party(p: PartyRecord) -> Party {
    Party {
        id: p.id,
        name: p.name,
        role: p.role,
        phone: p.phone,
    }
}

/// A case the core describes, as the app would fill it in (tools and benchmarks that drive the
/// FFI with the core's fixtures).
impl From<NewCase> for NewCaseRecord {
    fn from(c: NewCase) -> Self {
        NewCaseRecord {
            kind: c.kind.as_str().into(),
            jurisdiction: c.jurisdiction.to_string(),
            category: c.category,
            title: c.title,
            description: c.description,
            address: c.location.address,
            lat: c.location.lat,
            lon: c.location.lon,
            people: c.people.into_iter().map(party_record).collect(),
        }
    }
}

fn party_record(p: Party) -> PartyRecord {
    PartyRecord {
        id: p.id,
        name: p.name,
        role: p.role,
        phone: p.phone,
    }
}

pub(crate) fn session(s: MediationSessionRecord) -> MediationSession {
    MediationSession {
        id: s.id,
        at: s.at_ms,
        mediators: s.mediators,
        notes: s.notes,
        outcome: s.outcome,
    }
}

pub(crate) fn attachment(a: Attachment, here: BlobHere) -> AttachmentRecord {
    AttachmentRecord {
        on_phone: here.original || here.without_metadata,
        thumbnail_on_phone: here.thumbnail,
        uploaded: here.uploaded,
        sha256: a.sha256,
        mime: a.mime,
        bytes: a.bytes,
        caption: a.caption,
        captured_at_ms: a.captured_at,
        lat: a.lat,
        lon: a.lon,
    }
}

fn event(e: CaseEvent) -> EventRecord {
    EventRecord {
        id: e.id,
        kind: e.kind.as_str().into(),
        by: e.by,
        role: e.role.as_str().into(),
        device: e.device,
        at_ms: e.at,
        level: e.level.as_str().into(),
        note: e.note,
        department: e.department,
        rating: e.rating.map(|r| r.as_str().into()),
        due_at_ms: e.due,
        rules_version: e.rules,
        due_on_weekdays_only: e.due_guessed,
        via: e.via,
        reply: e.reply,
        verdict: e.verdict.map(|v| v.as_str().into()),
    }
}

fn part(p: Part, open: bool, now_ms: i64) -> PartRecord {
    PartRecord {
        overdue: open && !p.is_done() && p.due.is_some_and(|d| now_ms > d),
        department: p.department,
        assigned_at_ms: p.assigned_at,
        signed_by: p.signed_by,
        signed_at_ms: p.signed_at,
        done_at_ms: p.done_at,
        due_at_ms: p.due,
    }
}

fn mediation(m: Mediation) -> MediationRecord {
    MediationRecord {
        sessions: m
            .sessions
            .into_iter()
            .map(|s| MediationSessionRecord {
                id: s.id,
                at_ms: s.at,
                mediators: s.mediators,
                notes: s.notes,
                outcome: s.outcome,
            })
            .collect(),
        agreement: m.agreement,
        result: m.result,
        referral: m.referral,
    }
}

pub(crate) struct DetailParts {
    pub case: Case,
    pub workflow: WorkflowState,
    pub sync_state: String,
    pub conflicts: Vec<FieldConflict>,
    pub rejections: Vec<RejectionRecord>,
    /// What the phone holds of each attachment, by name.
    pub blobs: HashMap<String, BlobHere>,
    pub now_ms: i64,
}

pub(crate) fn detail(p: DetailParts) -> CaseDetailRecord {
    let overdue = gridsync_core::workflow::is_overdue(&p.workflow, p.now_ms);
    let open = p.workflow.status.is_open();
    let c = p.case;
    CaseDetailRecord {
        id: c.id,
        kind: c.kind.as_str().into(),
        jurisdiction: c.jurisdiction.to_string(),
        category: c.category,
        title: c.title,
        description: c.description,
        address: c.location.address,
        lat: c.location.lat,
        lon: c.location.lon,
        reporter: c.reporter.user,
        reporter_device: c.reporter.device,
        created_at_ms: c.created_at,
        source: c.source.as_str().into(),
        awaiting_verification: p.workflow.awaits_verification(),
        reply: p.workflow.reply.clone(),
        status: p.workflow.status.as_str().into(),
        level: p.workflow.level.as_str().into(),
        owner: p.workflow.owner,
        lead_department: p.workflow.department.clone(),
        department: p.workflow.department,
        parts: p
            .workflow
            .parts
            .into_iter()
            .map(|x| part(x, open, p.now_ms))
            .collect(),
        due_at_ms: p.workflow.due,
        overdue,
        supervision_count: p.workflow.supervision_count,
        accountability: p.workflow.accountability,
        sync_state: p.sync_state,
        people: c.people.into_iter().map(party_record).collect(),
        attachments: c
            .attachments
            .into_iter()
            .map(|a| {
                let here = p.blobs.get(&a.sha256).copied().unwrap_or_default();
                attachment(a, here)
            })
            .collect(),
        events: c.events.into_iter().map(event).collect(),
        mediation: mediation(c.mediation),
        extra: c.extra.into_iter().collect(),
        conflicts: p.conflicts.into_iter().map(conflict).collect(),
        rejections: p.rejections,
    }
}

pub(crate) fn rejections(r: &Replica, id: &str) -> Result<Vec<RejectionRecord>, FfiError> {
    Ok(r.rejections(id)?
        .into_iter()
        .map(|x| RejectionRecord {
            code: x.code,
            reason: x.reason,
        })
        .collect())
}

pub(crate) fn summary(r: &Replica, s: CaseSummary) -> Result<CaseSummaryRecord, FfiError> {
    let level = r.identity().and_then(|w| w.role.handling_level());
    let state = s.sync_state.map(|x| x.as_str()).unwrap_or("pending");
    let rejection = if state == "rejected" {
        rejections(r, &s.id)?
            .into_iter()
            .next()
            .map(|x| format!("{}: {}", x.code, x.reason))
    } else {
        None
    };
    Ok(CaseSummaryRecord {
        in_conflict: s.in_conflict(),
        id: s.id,
        kind: s.kind.as_str().into(),
        category: s.category,
        title: s.title,
        jurisdiction: s.jurisdiction.to_string(),
        status: s.status.as_str().into(),
        sync_state: state.into(),
        rejection,
        source: s.source.map(|x| x.as_str().into()).unwrap_or_default(),
        awaiting_verification: s.awaiting_verification && Some(s.level) == level,
    })
}

pub(crate) fn conflict(c: FieldConflict) -> FieldConflictRecord {
    FieldConflictRecord {
        field: c.field,
        values: c
            .values
            .into_iter()
            .map(|v| ConflictValueRecord {
                value: v.value,
                user: v.author.as_ref().map(|a| a.user.clone()),
                device: v.author.map(|a| a.device),
                at_ms: v.at,
            })
            .collect(),
    }
}

impl From<&SessionOutcome> for SyncOutcomeRecord {
    fn from(o: &SessionOutcome) -> Self {
        SyncOutcomeRecord {
            accepted: o.accepted as u64,
            rejected: o.rejected as u64,
            pulled_changes: o.pulled_changes as u64,
            updated_cases: o.updated_cases.clone(),
            more: o.more,
            uploaded_attachments: o.uploaded,
            pending_uploads: o.pending_uploads,
            fetched_thumbnails: o.fetched_thumbnails,
            new_rules: o.new_rules,
            calendar_warning: o.calendar_warning.map(|w| w.message()),
            calendar_warning_code: o.calendar_warning.map(|_| CalendarWarning::CODE.to_owned()),
            calendar_missing_year: o.calendar_warning.map(|w| w.year),
            // Counted by whoever sees the responses (the transport, the driver).
            notices: 0,
        }
    }
}

pub(crate) fn outcome(o: SyncOutcome) -> SyncOutcomeRecord {
    SyncOutcomeRecord {
        accepted: o.accepted as u64,
        rejected: o.rejected as u64,
        pulled_changes: o.pulled_changes as u64,
        updated_cases: o.updated_cases,
        more: o.more,
        uploaded_attachments: 0,
        pending_uploads: 0,
        fetched_thumbnails: 0,
        new_rules: o.new_rules,
        calendar_warning: o.calendar_warning.map(|w| w.message()),
        calendar_warning_code: o.calendar_warning.map(|_| CalendarWarning::CODE.to_owned()),
        calendar_missing_year: o.calendar_warning.map(|w| w.year),
        notices: o.notices as u64,
    }
}
