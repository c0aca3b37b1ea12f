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

/// One assisting department's part of a joint dispatch (联合派单, 协办): it signs for its part
/// (签收) within its department's limit, then reports it done (反馈) within the category's
/// limit, each on its own clock, supervised apart from the lead's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub department: String,
    pub assigned_at: Millis,
    /// The handler who signed for it, and when.
    pub signed_by: Option<String>,
    pub signed_at: Option<Millis>,
    pub done_at: Option<Millis>,
    /// When the part's current clock runs out (signing, then handling); `None` once done.
    pub due: Option<Millis>,
    pub clock_started: Option<Millis>,
    /// The highest level that has supervised this part since its clock started.
    pub supervised_level: Option<Level>,
}

impl Part {
    pub fn is_done(&self) -> bool {
        self.done_at.is_some()
    }
}

/// Everything the event log says about a case now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowState {
    pub status: Status,
    pub level: Level,
    /// 首问/首办负责: the user who owns the case at its current level.
    pub owner: Option<String>,
    /// The department the case is assigned to (the lead one, 主办, of a joint dispatch).
    pub department: Option<String>,
    /// The assisting departments' parts (协办) of the dispatch standing now.
    pub parts: Vec<Part>,
    pub reopen_count: u32,
    /// Failed acceptances (验收不通过: reopened, or rated unsatisfied) since the last passed one.
    pub failed_in_row: u32,
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
    /// Failed acceptance twice in a row at some point: someone is accountable (问责).
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
            parts: Vec::new(),
            reopen_count: 0,
            failed_in_row: 0,
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

    /// Every department the case is with now: the lead, then the assisting ones.
    pub fn departments(&self) -> Vec<&str> {
        self.department
            .iter()
            .map(String::as_str)
            .chain(self.parts.iter().map(|p| p.department.as_str()))
            .collect()
    }

    /// The assisting part of `department` in the dispatch standing now.
    pub fn part(&self, department: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.department == department)
    }

    /// Parts not yet reported done.
    pub fn open_parts(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| !p.is_done())
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
                match part_of(&mut st, e) {
                    Some(p) => p.supervised_level = p.supervised_level.max(Some(e.level)),
                    None => st.supervised_level = st.supervised_level.max(Some(e.level)),
                }
            }
            EventType::ReturnVisit => st.return_visits += 1,
            EventType::PartAssigned | EventType::PartSigned | EventType::PartDone => {
                apply_part(&mut st, e)
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
            // A new dispatch: the assisting parts of the last one end with it.
            st.parts.clear();
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
                st.failed_in_row = 0;
            }
        }
        EventType::Reopened => reopen(st),
        EventType::Archived => {
            st.status = Status::Archived;
            st.failed_in_row = 0;
        }
        EventType::Escalated => {
            // 首问负责: whoever held it stays its owner until the level above accepts it.
            st.status = Status::Reported;
            st.level = e.level;
            st.department = None;
            st.parts.clear();
        }
        EventType::Returned => {
            st.status = Status::Returned;
            st.department = None;
            st.parts.clear();
        }
        EventType::Routed => {
            // 待核实: whoever handles at the new level takes it on with `accepted`.
            st.status = Status::Reported;
            st.level = e.level;
            st.owner = None;
            st.department = None;
            st.parts.clear();
        }
        EventType::Supervised
        | EventType::Settled
        | EventType::ReturnVisit
        | EventType::PartAssigned
        | EventType::PartSigned
        | EventType::PartDone => {}
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

/// 一次验收不通过,重新办理;连续两次不通过,问责: a passed acceptance in between resets the count.
fn reopen(st: &mut WorkflowState) {
    st.status = Status::InProgress;
    st.resolved_at = None;
    st.resolved_on_time = None;
    st.resolved_level = None;
    st.reopen_count += 1;
    st.failed_in_row += 1;
    st.accountability |= st.failed_in_row >= 2;
}

/// The standing part an event names (its `department`), if any.
fn part_of<'s>(st: &'s mut WorkflowState, e: &CaseEvent) -> Option<&'s mut Part> {
    let d = e.department.as_deref()?;
    st.parts.iter_mut().find(|p| p.department == d)
}

/// A step of one assisting part. A step that no longer fits (its dispatch was replaced
/// concurrently, the part is already signed) changes nothing: parts never conflict.
fn apply_part(st: &mut WorkflowState, e: &CaseEvent) {
    if st.department.is_none() || !matches!(st.status, Status::Assigned | Status::InProgress) {
        return;
    }
    let Some(department) = e.department.clone() else {
        return;
    };
    let lead = st.department.as_deref() == Some(department.as_str());
    match (e.kind, part_of(st, e)) {
        (EventType::PartAssigned, None) if !lead => st.parts.push(Part {
            department,
            assigned_at: e.at,
            signed_by: None,
            signed_at: None,
            done_at: None,
            due: e.due,
            clock_started: e.due.map(|_| e.at),
            supervised_level: None,
        }),
        (EventType::PartSigned, Some(p)) if p.signed_at.is_none() && !p.is_done() => {
            p.signed_by = Some(e.by.clone());
            p.signed_at = Some(e.at);
            p.due = e.due;
            p.clock_started = e.due.map(|_| e.at);
            p.supervised_level = None;
        }
        (EventType::PartDone, Some(p)) if !p.is_done() => {
            p.signed_at = p.signed_at.or(Some(e.at));
            p.done_at = Some(e.at);
            p.due = None;
            p.clock_started = None;
        }
        _ => {}
    }
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
