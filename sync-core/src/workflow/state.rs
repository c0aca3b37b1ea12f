//! [`fold`]: the workflow state derived from the event log, with its conflicts.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{CaseEvent, EventType, Rating, rule};
use crate::jurisdiction::Level;
use crate::vocab::{Millis, Status};

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
    /// The rating standing is the requester's own, not one staff recorded.
    pub rating_by_requester: bool,
    /// The first handling step after the report (受理, 分流, 转办…): first-response time.
    pub first_response_at: Option<Millis>,
    /// The answer of the latest resolution (答复), kept when the case is handled again.
    pub reply: Option<String>,
    /// Return visits (回访) made.
    pub return_visits: u32,
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
            rating_by_requester: false,
            first_response_at: None,
            reply: None,
            return_visits: 0,
            heads: Vec::new(),
            conflicts: Vec::new(),
            version: 0,
        }
    }
}

impl WorkflowState {
    /// 待核实: sent down (`routed`) and not yet taken on at its level — a task for whoever
    /// handles there. A report has its reporter as owner; only routing leaves none.
    pub fn awaits_verification(&self) -> bool {
        self.status == Status::Reported && self.owner.is_none()
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
            EventType::ReturnVisit => st.return_visits += 1,
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
    if before != Status::New && st.first_response_at.is_none() {
        st.first_response_at = Some(e.at);
    }
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
            if e.reply.is_some() {
                st.reply = e.reply.clone();
            }
        }
        EventType::Evaluated => {
            st.rating = e.rating;
            st.rating_by_requester = Rating::is_requesters(e.role);
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
        EventType::Routed => {
            // 待核实: whoever handles at the new level takes it on with `accepted`.
            st.status = Status::Reported;
            st.level = e.level;
            st.owner = None;
            st.department = None;
        }
        EventType::Supervised | EventType::Settled | EventType::ReturnVisit => {}
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
pub(super) fn starts_clock(kind: EventType, before: Status, rating: Option<Rating>) -> bool {
    match kind {
        EventType::Reported
        | EventType::Escalated
        | EventType::Returned
        | EventType::Accepted
        | EventType::Assigned
        | EventType::Routed
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
