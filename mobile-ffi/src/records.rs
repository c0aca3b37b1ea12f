//! Records and enums owned by the FFI, converted from the core's types in one place.

use gridsync_core::replica::{CaseSummary, SyncOutcome};
use gridsync_core::workflow::{EventDraft, EventType, Rating};
use gridsync_core::{CaseKind, FieldConflict, Replica};

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
    pub description: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
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
}

/// Who signed in.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SignedInRecord {
    pub user: String,
    pub role: String,
    pub scope: String,
    pub department: Option<String>,
}

/// Workflow steps an app offers (the rules decide whether the user may take them).
#[derive(Debug, Clone, Copy, uniffi::Enum)]
pub enum EventKind {
    Accepted,
    InProgress,
    Resolved,
    Escalated,
    Returned,
    Archived,
    Reopened,
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

pub(crate) fn draft(kind: EventKind, note: String) -> EventDraft {
    let d = match kind {
        EventKind::Accepted => EventDraft::new(EventType::Accepted),
        EventKind::InProgress => EventDraft::new(EventType::InProgress),
        EventKind::Resolved => EventDraft::new(EventType::Resolved),
        EventKind::Escalated => EventDraft::new(EventType::Escalated),
        EventKind::Returned => EventDraft::new(EventType::Returned),
        EventKind::Archived => EventDraft::new(EventType::Archived),
        EventKind::Reopened => EventDraft::new(EventType::Reopened),
        EventKind::Satisfied => EventDraft::evaluate(Rating::Satisfied),
        EventKind::BasicallySatisfied => EventDraft::evaluate(Rating::BasicallySatisfied),
        EventKind::Unsatisfied => EventDraft::evaluate(Rating::Unsatisfied),
    };
    d.note(note)
}

pub(crate) fn parse_kind(s: &str) -> Result<CaseKind, FfiError> {
    CaseKind::parse(s).ok_or_else(|| FfiError::InvalidInput {
        field: "kind".into(),
        reason: format!("unknown case kind {s:?}"),
    })
}

pub(crate) fn summary(r: &Replica, s: CaseSummary) -> Result<CaseSummaryRecord, FfiError> {
    let state = s.sync_state.map(|x| x.as_str()).unwrap_or("pending");
    let rejection = if state == "rejected" {
        r.rejections(&s.id)?
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

pub(crate) fn outcome(o: SyncOutcome) -> SyncOutcomeRecord {
    SyncOutcomeRecord {
        accepted: o.accepted as u64,
        rejected: o.rejected as u64,
        pulled_changes: o.pulled_changes as u64,
        updated_cases: o.updated_cases,
    }
}
