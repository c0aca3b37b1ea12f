//! The event log's entries ([`CaseEvent`]) and what a person asks for ([`EventDraft`]).

use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::jurisdiction::Level;
use crate::vocab::Millis;

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
    /// 研判分流: sent down to the township or the grid of the place, to verify (待核实) and handle
    Routed,
    /// 回访: someone called or visited the requester after the resolution; does not change status
    ReturnVisit,
    /// 协办: a joint dispatch (联合派单) adds an assisting department beside the lead one, with
    /// its own sign-for clock; does not change status
    PartAssigned,
    /// 协办签收: an assisting department signs for its part, which starts its handling clock
    PartSigned,
    /// 协办反馈: an assisting department reports its part done (what it did, in the note)
    PartDone,
}

impl EventType {
    pub const ALL: [EventType; 17] = [
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
        EventType::Routed,
        EventType::ReturnVisit,
        EventType::PartAssigned,
        EventType::PartSigned,
        EventType::PartDone,
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
            EventType::Routed => "routed",
            EventType::ReturnVisit => "return_visit",
            EventType::PartAssigned => "part_assigned",
            EventType::PartSigned => "part_signed",
            EventType::PartDone => "part_done",
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
            EventType::Routed => "分流",
            EventType::ReturnVisit => "回访",
            EventType::PartAssigned => "协办转办",
            EventType::PartSigned => "协办签收",
            EventType::PartDone => "协办反馈",
        }
    }

    /// Whether this step concerns one department's part of a joint dispatch, not the case's status.
    pub fn is_part_step(self) -> bool {
        matches!(
            self,
            EventType::PartAssigned | EventType::PartSigned | EventType::PartDone
        )
    }
}

/// How a return visit (回访) reached the requester: `events[].via`, (value, 中文).
pub const RETURN_VISIT_WAYS: &[(&str, &str)] = &[
    ("phone", "电话回访"),
    ("visit", "上门回访"),
    ("sms", "短信回访"),
    ("wechat", "微信回访"),
];

/// What a return visit (回访) found about the resolution it followed up: a resolution found
/// untrue (虚假办结, the matter is not in fact solved) makes someone accountable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// 办结属实
    Confirmed,
    /// 办结不实
    Untrue,
}

impl Verdict {
    pub const ALL: [Verdict; 2] = [Verdict::Confirmed, Verdict::Untrue];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Untrue => "untrue",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Verdict::Confirmed => "办结属实",
            Verdict::Untrue => "办结不实",
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
    pub const ALL: [Rating; 3] = [
        Rating::Satisfied,
        Rating::BasicallySatisfied,
        Rating::Unsatisfied,
    ];

    /// Whether an `evaluated` event by `role` is the requester's own rating: the server writes
    /// it for the requester (the progress page, an intake channel); staff record theirs.
    pub fn is_requesters(role: Role) -> bool {
        role == Role::System
    }

    /// The word on the requester's form (满意度测评).
    pub fn name_zh(self) -> &'static str {
        match self {
            Rating::Satisfied => "满意",
            Rating::BasicallySatisfied => "基本满意",
            Rating::Unsatisfied => "不满意",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Satisfied => "satisfied",
            Rating::BasicallySatisfied => "basically_satisfied",
            Rating::Unsatisfied => "unsatisfied",
        }
    }

    pub fn parse(s: &str) -> Option<Rating> {
        Rating::ALL.into_iter().find(|r| r.as_str() == s)
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
    /// For an event that starts a clock (see [`Deadlines`](super::Deadlines)): when it runs out, computed by the
    /// writer on its calendar and kept, so phone and server show the same deadline offline.
    pub due: Option<Millis>,
    /// The version of the county's rules `due` was computed with; `None` for
    /// events written before rules were versioned, or with a deadline set by hand.
    pub rules: Option<u64>,
    /// `due` crossed a year the calendar did not list, so only weekends counted as days off.
    pub due_guessed: bool,
    /// For `return_visit`: how the requester was reached, one of
    /// [`RETURN_VISIT_WAYS`].
    pub via: Option<String>,
    /// For `resolved`: the answer to the requester (答复), the one text the progress page shows.
    pub reply: Option<String>,
    /// For `return_visit`: whether the resolution held up.
    pub verdict: Option<Verdict>,
}

/// What a person asks for; [`prepare`](super::prepare) fills in who, when, level and deps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    pub kind: EventType,
    pub note: String,
    pub department: Option<String>,
    pub rating: Option<Rating>,
    pub chosen: Option<String>,
    pub via: Option<String>,
    pub reply: Option<String>,
    pub verdict: Option<Verdict>,
    /// Set to override the computed deadline (tests, imports); normally left `None`.
    pub due: Option<Millis>,
    pub(super) level: Option<Level>,
}

impl EventDraft {
    pub fn new(kind: EventType) -> Self {
        EventDraft {
            kind,
            note: String::new(),
            department: None,
            rating: None,
            chosen: None,
            via: None,
            reply: None,
            verdict: None,
            due: None,
            level: None,
        }
    }

    /// 分流: down to `level` (township or grid) of the case's place, to verify and handle there.
    pub fn route_to(level: Level) -> Self {
        EventDraft {
            level: Some(level),
            ..EventDraft::new(EventType::Routed)
        }
    }

    /// 回访: the requester reached `via` (phone, visit…); the note says what they said.
    pub fn return_visit(via: impl Into<String>) -> Self {
        EventDraft {
            via: Some(via.into()),
            ..EventDraft::new(EventType::ReturnVisit)
        }
    }

    /// What the return visit found about the resolution.
    pub fn verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = Some(verdict);
        self
    }

    /// 协办: `department` assists the lead department with its own part.
    pub fn assist(department: impl Into<String>) -> Self {
        EventDraft {
            department: Some(department.into()),
            ..EventDraft::new(EventType::PartAssigned)
        }
    }

    /// 协办签收: the assisting `department` signs for its part.
    pub fn sign_part(department: impl Into<String>) -> Self {
        EventDraft {
            department: Some(department.into()),
            ..EventDraft::new(EventType::PartSigned)
        }
    }

    /// 协办反馈: the assisting `department` reports its part done; the note says what it did.
    pub fn finish_part(department: impl Into<String>) -> Self {
        EventDraft {
            department: Some(department.into()),
            ..EventDraft::new(EventType::PartDone)
        }
    }

    /// A supervision (督办) from `level` of one assisting department's part.
    pub fn supervise_part(level: Level, department: impl Into<String>) -> Self {
        EventDraft {
            department: Some(department.into()),
            ..EventDraft::supervise(level)
        }
    }

    /// 办结 with the answer the requester reads (答复).
    pub fn resolve_with_reply(reply: impl Into<String>) -> Self {
        EventDraft {
            reply: Some(reply.into()),
            ..EventDraft::new(EventType::Resolved)
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
