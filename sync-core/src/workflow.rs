//! The case workflow as an append-only event log.
//!
//! Status is never a register two people can overwrite: it is [`fold`]ed, deterministically, from
//! the `events` list of the case document. [`RULES`] says who may append which event from which
//! status; phone and server both call [`check`]. Each event records the event-log heads its writer
//! had seen (`deps`), so the fold can tell a step taken in ignorance of a concurrent one. When two
//! such steps are incompatible (resolved vs escalated) both stay in the log, the first in log order
//! counts, and the other is reported as an open [`WorkflowConflict`] until a `settled` event
//! chooses between them.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::access::{Identity, Role};
use crate::calendar::Calendar;
use crate::jurisdiction::{JurisdictionPath, Level};
use crate::taxonomy::{Taxonomy, TimeLimit};
use crate::vocab::{CaseKind, Millis, new_id};
use crate::{Error, Result};

pub use crate::error::Refusal;
pub use crate::vocab::Status;

/// The steps of the case loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// 上报
    Reported,
    /// 受理/核实
    Accepted,
    /// 转办/分流 to a department
    Assigned,
    /// 办理中 (a department signing for a case starts here)
    InProgress,
    /// 办结
    Resolved,
    /// 评价: 满意/基本满意/不满意
    Evaluated,
    /// 归档
    Archived,
    /// 上报上级: one level up
    Escalated,
    /// 退回
    Returned,
    /// 督办 (the deadline clock or a supervisor); does not change status
    Supervised,
    /// 验收不通过: handled again; the second time raises accountability
    Reopened,
    /// A reviewer chose between two concurrent incompatible steps
    Settled,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::Reported,
        EventType::Accepted,
        EventType::Assigned,
        EventType::InProgress,
        EventType::Resolved,
        EventType::Evaluated,
        EventType::Archived,
        EventType::Escalated,
        EventType::Returned,
        EventType::Supervised,
        EventType::Reopened,
        EventType::Settled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Reported => "reported",
            EventType::Accepted => "accepted",
            EventType::Assigned => "assigned",
            EventType::InProgress => "in_progress",
            EventType::Resolved => "resolved",
            EventType::Evaluated => "evaluated",
            EventType::Archived => "archived",
            EventType::Escalated => "escalated",
            EventType::Returned => "returned",
            EventType::Supervised => "supervised",
            EventType::Reopened => "reopened",
            EventType::Settled => "settled",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            EventType::Reported => "上报",
            EventType::Accepted => "受理",
            EventType::Assigned => "转办",
            EventType::InProgress => "办理",
            EventType::Resolved => "办结",
            EventType::Evaluated => "评价",
            EventType::Archived => "归档",
            EventType::Escalated => "上报上级",
            EventType::Returned => "退回",
            EventType::Supervised => "督办",
            EventType::Reopened => "重新办理",
            EventType::Settled => "冲突裁定",
        }
    }
}

/// The requester's rating of the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意
    Unsatisfied,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Satisfied => "satisfied",
            Rating::BasicallySatisfied => "basically_satisfied",
            Rating::Unsatisfied => "unsatisfied",
        }
    }

    pub fn parse(s: &str) -> Option<Rating> {
        [
            Rating::Satisfied,
            Rating::BasicallySatisfied,
            Rating::Unsatisfied,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One entry of the event log, as stored in the case document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    pub id: String,
    pub kind: EventType,
    pub by: String,
    pub role: Role,
    pub device: String,
    /// Device clock when the step was taken.
    pub at: Millis,
    /// The level the step concerns: the new level for `escalated`, the supervising level for
    /// `supervised`, the case's level otherwise.
    pub level: Level,
    /// Event-log heads the writer had seen.
    pub deps: Vec<String>,
    pub note: String,
    pub department: Option<String>,
    pub rating: Option<Rating>,
    /// For `settled`: the event chosen.
    pub chosen: Option<String>,
    /// For an event that starts a clock (see [`Deadlines`]): when it runs out, computed by the
    /// writer on its calendar and kept, so phone and server show the same deadline offline.
    pub due: Option<Millis>,
}

/// What a person asks for; [`prepare`] fills in who, when, level and deps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    pub kind: EventType,
    pub note: String,
    pub department: Option<String>,
    pub rating: Option<Rating>,
    pub chosen: Option<String>,
    /// Set to override the computed deadline (tests, imports); normally left `None`.
    pub due: Option<Millis>,
    level: Option<Level>,
}

impl EventDraft {
    pub fn new(kind: EventType) -> Self {
        EventDraft {
            kind,
            note: String::new(),
            department: None,
            rating: None,
            chosen: None,
            due: None,
            level: None,
        }
    }

    /// A supervision (督办) from `level`, above the case's current level.
    pub fn supervise(level: Level) -> Self {
        EventDraft {
            level: Some(level),
            ..EventDraft::new(EventType::Supervised)
        }
    }

    pub(crate) fn reported(level: Level) -> Self {
        EventDraft {
            level: Some(level),
            ..EventDraft::new(EventType::Reported)
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    pub fn assign_to(department: impl Into<String>) -> Self {
        EventDraft {
            department: Some(department.into()),
            ..EventDraft::new(EventType::Assigned)
        }
    }

    pub fn evaluate(rating: Rating) -> Self {
        EventDraft {
            rating: Some(rating),
            ..EventDraft::new(EventType::Evaluated)
        }
    }

    pub fn settle(chosen: impl Into<String>) -> Self {
        EventDraft {
            chosen: Some(chosen.into()),
            ..EventDraft::new(EventType::Settled)
        }
    }
}

/// How far a role's reach must extend for a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The case lies within the writer's scope.
    InScope,
    /// In scope, and the writer handles at the case's current level or above.
    AtLevel,
    /// `AtLevel`, or the handler of the department the case is assigned to.
    Handler,
}

/// One row of the rules: this event, from these statuses, by these roles, with this reach.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub event: EventType,
    pub from: &'static [Status],
    pub roles: &'static [Role],
    pub reach: Reach,
}

use Role::{CountyAdmin as CA, DepartmentHandler as DH, GridWorker as GW, Mediator as ME};
use Role::{System as SY, TownshipStaff as TS};
use Status as S;

const OPEN: &[Status] = &[
    S::Reported,
    S::Accepted,
    S::Assigned,
    S::InProgress,
    S::Resolved,
    S::Evaluated,
    S::Returned,
];

/// Who may append which event from which status. The single source of the workflow rules.
pub const RULES: &[Rule] = &[
    Rule {
        event: EventType::Reported,
        from: &[S::New],
        roles: &[GW, ME, TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Accepted,
        from: &[S::Reported],
        roles: &[GW, ME, TS, CA],
        reach: Reach::AtLevel,
    },
    Rule {
        event: EventType::Assigned,
        from: &[S::Accepted, S::InProgress, S::Returned],
        roles: &[TS, CA],
        reach: Reach::AtLevel,
    },
    Rule {
        event: EventType::InProgress,
        from: &[S::Accepted, S::Assigned, S::Returned],
        roles: &[GW, ME, TS, CA, DH],
        reach: Reach::Handler,
    },
    Rule {
        event: EventType::Resolved,
        from: &[S::Accepted, S::Assigned, S::InProgress, S::Returned],
        roles: &[GW, ME, TS, CA, DH],
        reach: Reach::Handler,
    },
    Rule {
        event: EventType::Evaluated,
        from: &[S::Resolved],
        roles: &[GW, ME, TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Archived,
        from: &[S::Resolved, S::Evaluated],
        roles: &[TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Escalated,
        from: &[S::Reported, S::Accepted, S::InProgress, S::Returned],
        roles: &[GW, ME, TS, CA],
        reach: Reach::AtLevel,
    },
    Rule {
        event: EventType::Returned,
        from: &[
            S::Reported,
            S::Accepted,
            S::Assigned,
            S::InProgress,
            S::Resolved,
        ],
        roles: &[TS, CA, DH],
        reach: Reach::Handler,
    },
    Rule {
        event: EventType::Supervised,
        from: OPEN,
        roles: &[SY, TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Reopened,
        from: &[S::Resolved, S::Evaluated],
        roles: &[TS, CA],
        reach: Reach::InScope,
    },
    Rule {
        event: EventType::Settled,
        from: OPEN,
        roles: &[TS, CA],
        reach: Reach::InScope,
    },
];

/// The rule for an event type (every type has exactly one).
pub fn rule(event: EventType) -> &'static Rule {
    RULES.iter().find(|r| r.event == event).unwrap_or(&RULES[0])
}

/// The longest note (reason, comment) an event may carry.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Two concurrent steps that cannot both hold. The `applied` ones count; `pending` waits for a
/// reviewer's `settled` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowConflict {
    pub applied: Vec<String>,
    pub pending: String,
    pub pending_kind: EventType,
}

/// Everything the event log says about a case now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowState {
    pub status: Status,
    pub level: Level,
    /// 首问/首办负责: the user who owns the case at its current level.
    pub owner: Option<String>,
    /// The department the case is assigned to.
    pub department: Option<String>,
    pub reopen_count: u32,
    pub supervision_count: u32,
    /// The highest level that has supervised the case since its current clock started.
    pub supervised_level: Option<Level>,
    /// When the current clock runs out (受理, 签收 or 办结 by then); `None` once resolved.
    pub due: Option<Millis>,
    /// When the current clock started.
    pub clock_started: Option<Millis>,
    /// First acceptance (受理).
    pub accepted_at: Option<Millis>,
    /// The latest resolution (办结) still standing (a reopen clears it).
    pub resolved_at: Option<Millis>,
    /// Whether that resolution came before its deadline (no deadline counts as on time).
    pub resolved_on_time: Option<bool>,
    /// The level that resolved it: "小事不出村、大事不出乡、难事不出县".
    pub resolved_level: Option<Level>,
    /// Reopened twice: someone is accountable (问责).
    pub accountability: bool,
    pub rating: Option<Rating>,
    /// Event ids no later event has seen.
    pub heads: Vec<String>,
    /// Open workflow conflicts.
    pub conflicts: Vec<WorkflowConflict>,
    /// Status-moving events applied so far.
    pub version: u32,
}

impl Default for WorkflowState {
    fn default() -> Self {
        WorkflowState {
            status: Status::New,
            level: Level::Grid,
            owner: None,
            department: None,
            reopen_count: 0,
            supervision_count: 0,
            supervised_level: None,
            due: None,
            clock_started: None,
            accepted_at: None,
            resolved_at: None,
            resolved_on_time: None,
            resolved_level: None,
            accountability: false,
            rating: None,
            heads: Vec::new(),
            conflicts: Vec::new(),
            version: 0,
        }
    }
}

/// Derives the workflow state from the event log, in log order. Pure and deterministic: every
/// replica holding the same log derives the same state and the same conflicts.
pub fn fold(events: &[CaseEvent]) -> WorkflowState {
    let mut st = WorkflowState::default();
    let mut version_after: HashMap<&str, u32> = HashMap::new();
    // (version reached, event id) of each applied status-moving event.
    let mut applied: Vec<(u32, &str)> = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for e in events {
        for d in &e.deps {
            seen.insert(d.as_str());
        }
        let base = e
            .deps
            .iter()
            .filter_map(|d| version_after.get(d.as_str()))
            .max()
            .copied()
            .unwrap_or(0);
        match e.kind {
            EventType::Supervised => {
                st.supervision_count += 1;
                st.supervised_level = st.supervised_level.max(Some(e.level));
            }
            EventType::Settled => {
                if let Some(id) = settle(&mut st, e, events) {
                    applied.push((st.version, id));
                }
            }
            _ => {
                let allowed = rule(e.kind).from.contains(&st.status);
                if allowed {
                    apply(&mut st, e);
                    st.version += 1;
                    applied.push((st.version, e.id.as_str()));
                } else if st.status != Status::New {
                    let unseen = applied
                        .iter()
                        .filter(|(v, _)| *v > base)
                        .map(|(_, id)| (*id).to_owned())
                        .collect();
                    st.conflicts.push(WorkflowConflict {
                        applied: unseen,
                        pending: e.id.clone(),
                        pending_kind: e.kind,
                    });
                }
            }
        }
        version_after.insert(e.id.as_str(), st.version);
    }
    st.heads = events
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| !seen.contains(id))
        .map(str::to_owned)
        .collect();
    st.heads.sort();
    st
}

/// The effect of a status-moving event whose from-status has been checked.
fn apply(st: &mut WorkflowState, e: &CaseEvent) {
    let before = st.status;
    match e.kind {
        EventType::Reported => {
            st.status = Status::Reported;
            st.level = e.level;
            st.owner = Some(e.by.clone());
        }
        EventType::Accepted => {
            st.status = Status::Accepted;
            st.owner = Some(e.by.clone());
            st.accepted_at = st.accepted_at.or(Some(e.at));
            // A higher level that takes a case on handles it at its own level.
            st.level = st.level.max(e.level);
        }
        EventType::Assigned => {
            st.status = Status::Assigned;
            st.department = e.department.clone();
            st.level = st.level.max(e.level);
        }
        EventType::InProgress => {
            // A department signing for the case (签收) owns its handling from now on.
            if before == Status::Assigned {
                st.owner = Some(e.by.clone());
            }
            st.status = Status::InProgress;
        }
        EventType::Resolved => {
            st.status = Status::Resolved;
            st.resolved_at = Some(e.at);
            st.resolved_on_time = Some(st.due.is_none_or(|d| e.at <= d));
            st.resolved_level = Some(st.level);
        }
        EventType::Evaluated => {
            st.rating = e.rating;
            if e.rating == Some(Rating::Unsatisfied) {
                reopen(st);
            } else {
                st.status = Status::Evaluated;
            }
        }
        EventType::Reopened => reopen(st),
        EventType::Archived => st.status = Status::Archived,
        EventType::Escalated => {
            // 首问负责: whoever held it stays its owner until the level above accepts it.
            st.status = Status::Reported;
            st.level = e.level;
            st.department = None;
        }
        EventType::Returned => {
            st.status = Status::Returned;
            st.department = None;
        }
        EventType::Supervised | EventType::Settled => {}
    }
    if st.status.is_open() {
        // Handled again (returned, reopened): no resolution stands.
        st.resolved_at = None;
        st.resolved_on_time = None;
        st.resolved_level = None;
    }
    if starts_clock(e.kind, before, e.rating) {
        st.due = e.due;
        st.clock_started = e.due.map(|_| e.at);
        st.supervised_level = None;
    } else if !st.status.is_open() {
        st.due = None;
        st.clock_started = None;
    }
}

/// Whether `kind`, taken while the case is `before`, starts a new clock.
fn starts_clock(kind: EventType, before: Status, rating: Option<Rating>) -> bool {
    match kind {
        EventType::Reported
        | EventType::Escalated
        | EventType::Returned
        | EventType::Accepted
        | EventType::Assigned
        | EventType::Reopened => true,
        // A department signing (签收), or a level taking back a returned case, starts the
        // handling clock.
        EventType::InProgress => matches!(before, Status::Assigned | Status::Returned),
        EventType::Evaluated => rating == Some(Rating::Unsatisfied),
        _ => false,
    }
}

/// 一次验收不通过,重新办理;连续两次不通过,问责.
fn reopen(st: &mut WorkflowState) {
    st.status = Status::InProgress;
    st.resolved_at = None;
    st.resolved_on_time = None;
    st.resolved_level = None;
    st.reopen_count += 1;
    st.accountability = st.reopen_count >= 2;
}

/// Closes the conflict `e` settles; returns the pending event it applied, if it chose that one.
fn settle<'a>(st: &mut WorkflowState, e: &CaseEvent, events: &'a [CaseEvent]) -> Option<&'a str> {
    let chosen = e.chosen.as_deref()?;
    let i = st
        .conflicts
        .iter()
        .position(|c| c.pending == chosen || c.applied.iter().any(|a| a == chosen))?;
    let conflict = st.conflicts.remove(i);
    if conflict.pending != chosen {
        return None;
    }
    let pending = events.iter().find(|p| p.id == chosen)?;
    apply(st, pending);
    st.version += 1;
    Some(pending.id.as_str())
}

/// Checks one event against the rules as its writer sees the case (`state`).
pub fn check(
    state: &WorkflowState,
    event: &CaseEvent,
    who: &Identity,
    kind: CaseKind,
    place: &JurisdictionPath,
) -> std::result::Result<(), Refusal> {
    let name = event.kind.as_str();
    if event.by != who.user || event.role != who.role || event.device != who.device {
        return Err(Refusal::ForgedAuthor);
    }
    let rule = rule(event.kind);
    if !rule.roles.contains(&who.role) {
        return Err(Refusal::WrongRole {
            event: name,
            role: who.role.as_str(),
        });
    }
    if !rule.from.contains(&state.status) {
        return Err(Refusal::WrongStatus {
            event: name,
            status: state.status.as_str(),
        });
    }
    // Departments see a case only while it is assigned to them, which is all they may act on.
    if !who.may_read(kind, place, state.department.as_deref()) {
        return Err(Refusal::OutOfScope {
            what: format!("{place} is outside {}", who.scope),
        });
    }
    let at_level = who.role.handling_level().is_some_and(|l| l >= state.level);
    let own_department = who.role == Role::DepartmentHandler
        && state.department.is_some()
        && state.department == who.department;
    // 签收: a case dispatched to a department is signed for by that department only; the level
    // that dispatched it takes it back with `returned`.
    if event.kind == EventType::InProgress && state.status == Status::Assigned && !own_department {
        return Err(Refusal::WrongRole {
            event: name,
            role: who.role.as_str(),
        });
    }
    let reach_ok = match rule.reach {
        Reach::InScope => true,
        Reach::AtLevel => at_level,
        Reach::Handler => at_level || own_department,
    };
    if !reach_ok {
        return Err(Refusal::WrongLevel {
            event: name,
            needed: state.level.as_str(),
        });
    }
    let invalid = |what: &str| Refusal::Invalid {
        event: name,
        what: what.to_owned(),
    };
    if event.note.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid("the note is too long"));
    }
    // A deadline lies after the step and within the longest catalogue limit (250 working days,
    // about 370 calendar days with holidays).
    const YEAR: Millis = 400 * 86_400_000;
    if event
        .due
        .is_some_and(|d| d <= event.at || d - event.at > YEAR)
    {
        return Err(invalid(
            "the deadline must fall after the step and within a year",
        ));
    }
    let token = |d: &str| {
        !d.is_empty() && d.len() <= 64 && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if event.department.as_deref().is_some_and(|d| !token(d)) {
        return Err(invalid("a department is a catalogue code"));
    }
    match event.kind {
        EventType::Reported
            if event.level != who.role.handling_level().unwrap_or(Level::County) =>
        {
            Err(invalid("reported at a level other than the writer's"))
        }
        EventType::Assigned if event.department.as_deref().is_none_or(str::is_empty) => {
            Err(invalid("a department is required"))
        }
        EventType::Evaluated if event.rating.is_none() => Err(invalid("a rating is required")),
        EventType::Escalated if state.level.up() != Some(event.level) => Err(invalid(
            "escalation goes one level up from the current level",
        )),
        EventType::Accepted | EventType::Assigned if event.level != taking_level(state, who) => {
            Err(invalid("taken at a level other than the writer's"))
        }
        EventType::Escalated | EventType::Returned | EventType::Reopened
            if event.note.trim().is_empty() =>
        {
            Err(invalid("a reason is required"))
        }
        EventType::Settled => {
            let chosen = event.chosen.as_deref().unwrap_or_default();
            let open = state
                .conflicts
                .iter()
                .any(|c| c.pending == chosen || c.applied.iter().any(|a| a == chosen));
            if open {
                Ok(())
            } else {
                Err(invalid("chosen is not part of an open workflow conflict"))
            }
        }
        _ => Ok(()),
    }
}

/// What a case's deadlines are computed with: the catalogue's limits on the working-day
/// calendar. Phones use the shipped ones; a server uses its deployment's.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines<'a> {
    pub taxonomy: &'a Taxonomy,
    pub calendar: &'a Calendar,
}

impl Deadlines<'static> {
    pub fn builtin() -> Self {
        Deadlines {
            taxonomy: Taxonomy::builtin(),
            calendar: Calendar::builtin(),
        }
    }
}

impl Deadlines<'_> {
    /// The limit of the clock an event starts, or `None` when it starts none (or the category
    /// is unknown to this catalogue).
    pub fn limit(
        &self,
        event: &CaseEvent,
        before: Status,
        case: CaseKind,
        category: &str,
    ) -> Option<TimeLimit> {
        if case.is_record() || !starts_clock(event.kind, before, event.rating) {
            return None;
        }
        match event.kind {
            EventType::Reported | EventType::Escalated | EventType::Returned => {
                Some(self.taxonomy.accept_within())
            }
            EventType::Assigned => event
                .department
                .as_deref()
                .and_then(|d| self.taxonomy.department(d))
                .map(|d| d.sign_within),
            _ => self.taxonomy.category(category).map(|c| c.limit),
        }
    }

    /// When the clock `event` starts runs out.
    pub fn due(
        &self,
        event: &CaseEvent,
        before: Status,
        case: CaseKind,
        category: &str,
    ) -> Option<Millis> {
        self.limit(event, before, case, category)
            .map(|l| self.calendar.due(event.at, l))
    }
}

/// The level that should supervise (督办) a late case now, if one above those that already did:
/// one level above the case once its clock ran out, two levels once it ran out a second time
/// (another span as long as the first), and so on up to the county. `None` when on time, closed,
/// or already supervised from that high.
pub fn supervision_due(st: &WorkflowState, now: Millis) -> Option<Level> {
    let due = st.due?;
    if !st.status.is_open() || now <= due {
        return None;
    }
    const HOUR: Millis = 3_600_000;
    let span = (due - st.clock_started.unwrap_or(due)).max(HOUR);
    let periods = 1 + (now - due - 1) / span;
    let mut target = st.level;
    for _ in 0..periods.min(4) {
        match target.up() {
            Some(up) => target = up,
            None => break,
        }
    }
    let already = st.supervised_level.is_some_and(|s| s >= target);
    (target != st.level && !already).then_some(target)
}

/// Whether the case is past its deadline now.
pub fn is_overdue(st: &WorkflowState, now: Millis) -> bool {
    st.status.is_open() && st.due.is_some_and(|d| now > d)
}

/// The inputs of [`prepare`] besides the draft: where the case stands and what it is.
#[derive(Debug, Clone, Copy)]
pub struct CaseFacts<'a> {
    pub kind: CaseKind,
    pub place: &'a JurisdictionPath,
    pub category: &'a str,
}

/// The level a case is handled at once `who` accepts or assigns it: theirs, if higher.
fn taking_level(state: &WorkflowState, who: &Identity) -> Level {
    who.role
        .handling_level()
        .map_or(state.level, |l| l.max(state.level))
}

/// Builds the event for `draft` as `who` sees the log (with its deadline, if it starts a
/// clock), and checks it.
pub fn prepare(
    events: &[CaseEvent],
    draft: EventDraft,
    who: &Identity,
    at: Millis,
    facts: CaseFacts<'_>,
    deadlines: &Deadlines<'_>,
) -> Result<CaseEvent> {
    let state = fold(events);
    let level = match draft.kind {
        EventType::Reported => draft.level.unwrap_or(Level::County),
        EventType::Escalated => state.level.up().unwrap_or(Level::County),
        EventType::Supervised => draft
            .level
            .or(who.role.handling_level())
            .unwrap_or_else(|| state.level.up().unwrap_or(Level::County)),
        EventType::Accepted | EventType::Assigned => taking_level(&state, who),
        _ => state.level,
    };
    let mut event = CaseEvent {
        id: new_id(),
        kind: draft.kind,
        by: who.user.clone(),
        role: who.role,
        device: who.device.clone(),
        at,
        level,
        deps: state.heads.clone(),
        note: draft.note,
        department: draft.department,
        rating: draft.rating,
        chosen: draft.chosen,
        due: None,
    };
    event.due = draft
        .due
        .or_else(|| deadlines.due(&event, state.status, facts.kind, facts.category));
    check(&state, &event, who, facts.kind, facts.place).map_err(Error::from)?;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_exactly_one_rule() {
        for t in EventType::ALL {
            assert_eq!(RULES.iter().filter(|r| r.event == t).count(), 1, "{t:?}");
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn nobody_but_reporters_open_a_case_and_archived_is_final() {
        assert_eq!(rule(EventType::Reported).from, &[Status::New]);
        for r in RULES {
            assert!(
                !r.from.contains(&Status::Archived),
                "{:?} leaves archived",
                r.event
            );
            assert!(r.event == EventType::Reported || !r.from.contains(&Status::New));
        }
        assert!(
            !rule(EventType::Reported)
                .roles
                .contains(&Role::DepartmentHandler)
        );
        assert!(rule(EventType::Supervised).roles.contains(&Role::System));
    }
}
