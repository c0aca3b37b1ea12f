//! 通知: who hears of what happens to a case, worked out from the case alone so the server
//! writes each notice in the same transaction as the step that causes it. The server turns an
//! [`Audience`] into accounts and phone numbers; keys make every notice once-only (a second
//! write of the same key is nothing). What a phone receives is a [`Notice`] in the sync
//! response (ADR 0027).

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::jurisdiction::Level;
use crate::sms::reported_by_sms;
use crate::vocab::{Millis, Status};
use crate::workflow::{CaseEvent, EventType, WorkflowState};

/// A signing-for deadline this close gets a reminder (签收即将超时).
pub const SIGN_WARNING_MS: Millis = 2 * 3_600_000;
/// A handling deadline this close gets a reminder (24 小时内到期).
pub const DUE_WARNING_MS: Millis = 24 * 3_600_000;

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// 转办: a case or an assisting part dispatched to a department.
    Dispatched,
    /// 签收即将超时
    SignDueSoon,
    /// 督办, at the level that supervised.
    Supervised,
    /// 24 小时内到期
    DueSoon,
    /// 已超期
    Overdue,
    /// 问责: an accountability record raised.
    Accountability,
    /// 紧急上报: a case reported by SMS.
    UrgentReport,
    /// The requester's: 已受理, with the receipt number and lookup code.
    Received,
    /// The requester's: 已办结, with where to rate.
    Resolved,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 9] = [
        NoticeKind::Dispatched,
        NoticeKind::SignDueSoon,
        NoticeKind::Supervised,
        NoticeKind::DueSoon,
        NoticeKind::Overdue,
        NoticeKind::Accountability,
        NoticeKind::UrgentReport,
        NoticeKind::Received,
        NoticeKind::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Dispatched => "dispatched",
            NoticeKind::SignDueSoon => "sign_due_soon",
            NoticeKind::Supervised => "supervised",
            NoticeKind::DueSoon => "due_soon",
            NoticeKind::Overdue => "overdue",
            NoticeKind::Accountability => "accountability",
            NoticeKind::UrgentReport => "urgent_report",
            NoticeKind::Received => "received",
            NoticeKind::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            NoticeKind::Dispatched => "转办",
            NoticeKind::SignDueSoon => "签收即将超时",
            NoticeKind::Supervised => "督办",
            NoticeKind::DueSoon => "即将到期",
            NoticeKind::Overdue => "已超期",
            NoticeKind::Accountability => "问责",
            NoticeKind::UrgentReport => "紧急上报",
            NoticeKind::Received => "已受理",
            NoticeKind::Resolved => "已办结",
        }
    }

    /// Urgent notices go out by SMS at night too (quiet hours hold the rest).
    pub fn is_urgent(self) -> bool {
        matches!(self, NoticeKind::UrgentReport)
    }
}

/// Who hears of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The accounts handling the case's place at this level: the grid's grid workers, the
    /// village's mediators, the township's staff, the county's centre.
    Holders(Level),
    /// The handlers of one department of the case's county.
    Department(String),
    /// One account.
    User(String),
    /// The requester, by SMS only (the case's requester's phone).
    Requester,
}

/// One notice to write: once per key and recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDraft {
    /// `case:kind:what`, what being the event, the deadline or the record.
    pub key: String,
    pub kind: NoticeKind,
    pub audience: Audience,
    /// For `Supervised`: the level that supervised; for `Dispatched`: none.
    pub detail: String,
}

impl NoticeDraft {
    /// The notice of `kind` about `what` (an event, a deadline, a record, a receipt) on `case`.
    pub fn new(case: &Case, kind: NoticeKind, what: &str, audience: Audience) -> NoticeDraft {
        NoticeDraft {
            key: format!("{}:{}:{what}", case.id, kind.as_str()),
            kind,
            audience,
            detail: String::new(),
        }
    }
}

/// The notices the steps `new` (just stored) raise on `case`, whose log folds into `state`.
pub fn on_events(case: &Case, state: &WorkflowState, new: &[&CaseEvent]) -> Vec<NoticeDraft> {
    let mut out = Vec::new();
    for e in new {
        match e.kind {
            EventType::Reported if reported_by_sms(case) => {
                out.push(NoticeDraft::new(
                    case,
                    NoticeKind::UrgentReport,
                    &e.id,
                    Audience::Holders(Level::Township),
                ));
            }
            EventType::Assigned | EventType::PartAssigned => {
                if let Some(dept) = &e.department {
                    out.push(NoticeDraft::new(
                        case,
                        NoticeKind::Dispatched,
                        &e.id,
                        Audience::Department(dept.clone()),
                    ));
                }
            }
            EventType::Supervised => {
                // The holder of what is late (the department of a late part, named on the
                // event), and the supervising level's own people.
                let holder = match &e.department {
                    Some(d) => Audience::Department(d.clone()),
                    None => holder(state),
                };
                for audience in [holder, Audience::Holders(e.level)] {
                    let mut d = NoticeDraft::new(case, NoticeKind::Supervised, &e.id, audience);
                    d.detail = e.level.name_zh().to_owned();
                    if !out.contains(&d) {
                        out.push(d);
                    }
                }
            }
            EventType::Resolved => out.push(NoticeDraft::new(
                case,
                NoticeKind::Resolved,
                &e.id,
                Audience::Requester,
            )),
            _ => {}
        }
    }
    out
}

/// The reminders the clock owes `case` at `now`: a signing-for deadline within
/// [`SIGN_WARNING_MS`], a handling deadline within [`DUE_WARNING_MS`], a deadline passed — for
/// the case's holder and for each assisting part's department. Each deadline once.
pub fn on_clock(case: &Case, state: &WorkflowState, now: Millis) -> Vec<NoticeDraft> {
    let mut out = Vec::new();
    if !state.status.is_open() {
        return out;
    }
    let signing = state.status == Status::Assigned;
    if let Some(due) = state.due {
        out.extend(reminder(case, due, now, signing, holder(state), ""));
    }
    for p in state.open_parts() {
        if let Some(due) = p.due {
            let audience = Audience::Department(p.department.clone());
            out.extend(reminder(
                case,
                due,
                now,
                p.signed_at.is_none(),
                audience,
                &p.department,
            ));
        }
    }
    out
}

fn reminder(
    case: &Case,
    due: Millis,
    now: Millis,
    signing: bool,
    audience: Audience,
    part: &str,
) -> Option<NoticeDraft> {
    let what = if part.is_empty() {
        due.to_string()
    } else {
        format!("{part}@{due}")
    };
    let kind = if now > due {
        NoticeKind::Overdue
    } else if signing && due - now <= SIGN_WARNING_MS {
        NoticeKind::SignDueSoon
    } else if !signing && due - now <= DUE_WARNING_MS {
        NoticeKind::DueSoon
    } else {
        return None;
    };
    Some(NoticeDraft::new(case, kind, &what, audience))
}

/// Whoever must act on the case now: its department while dispatched, else the people of its
/// level.
pub fn holder(state: &WorkflowState) -> Audience {
    match (&state.department, state.status) {
        (Some(d), Status::Assigned | Status::InProgress) => Audience::Department(d.clone()),
        _ => Audience::Holders(state.level),
    }
}

/// The notice for an accountability record raised on `case` (the county decides; the person
/// named hears of it).
pub fn on_record(case: &Case, record_key: &str, person: Option<&str>) -> Vec<NoticeDraft> {
    let mut out = vec![NoticeDraft::new(
        case,
        NoticeKind::Accountability,
        record_key,
        Audience::Holders(Level::County),
    )];
    if let Some(p) = person.filter(|p| !p.is_empty()) {
        out.push(NoticeDraft::new(
            case,
            NoticeKind::Accountability,
            record_key,
            Audience::User(p.to_owned()),
        ));
    }
    out
}

/// The line a person reads (console, phone, SMS): what happened to which case.
pub fn text_zh(kind: NoticeKind, title: &str, detail: &str) -> String {
    let title: String = title.chars().take(30).collect();
    match kind {
        NoticeKind::Dispatched => format!("【转办】{title}：请及时签收办理"),
        NoticeKind::SignDueSoon => format!("【签收即将超时】{title}：请尽快签收"),
        NoticeKind::Supervised => format!("【督办】{title}：{detail}督办，请加快办理"),
        NoticeKind::DueSoon => format!("【即将到期】{title}：24小时内到期"),
        NoticeKind::Overdue => format!("【已超期】{title}：已超过办理时限"),
        NoticeKind::Accountability => format!("【问责】{title}：已生成问责记录，待县级决定"),
        NoticeKind::UrgentReport => format!("【紧急上报】{title}：网格员短信上报，请立即处置"),
        NoticeKind::Received => format!("【已受理】{title}"),
        NoticeKind::Resolved => format!("【已办结】{title}"),
    }
}

/// The requester's SMS: no title or names (the phone may be shared), the receipt number and
/// code, or where to rate.
pub fn requester_text(kind: NoticeKind, receipt_no: &str, code: &str, track_url: &str) -> String {
    match kind {
        NoticeKind::Received => format!(
            "您反映的诉求已受理。回执号{receipt_no}，查询码{code}，可在{track_url}查询办理进度。"
        ),
        _ => format!(
            "您反映的诉求（回执号{receipt_no}）已办结，请在{track_url}用查询码查看答复并评价。"
        ),
    }
}

/// A notice as a phone receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The server's number for it, rising: the phone asks for those after the highest it has.
    pub id: u64,
    /// One of [`NoticeKind`]'s names (a newer server may send kinds this build does not know).
    pub kind: String,
    pub case: String,
    pub text: String,
    pub at: Millis,
    pub urgent: bool,
}
