//! The ground floor: the words every other module speaks — case ids, times, what kind of case it
//! is and where it stands — and nothing else of the crate but its error type, so any module can
//! use them without an import cycle.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Milliseconds since the Unix epoch, on the clock of whoever wrote the value.
pub type Millis = i64;

/// Case ids are UUIDs (v7 from [`new_case_id`]); anything else is refused.
pub fn validate_case_id(id: &str) -> Result<()> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| Error::InvalidInput {
            field: "id".into(),
            reason: "not a UUID".into(),
        })
}

/// A fresh, time-ordered case id.
pub fn new_case_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A fresh id for something inside a case (an event, a person, a mediation session).
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// What sort of case this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// 事件
    Incident,
    /// 诉求
    Request,
    /// 矛盾纠纷
    Dispute,
    /// 巡查
    Patrol,
    /// 基础信息采集
    Household,
    /// 重点人员走访
    KeyPersonVisit,
}

impl CaseKind {
    pub const ALL: [CaseKind; 6] = [
        CaseKind::Incident,
        CaseKind::Request,
        CaseKind::Dispute,
        CaseKind::Patrol,
        CaseKind::Household,
        CaseKind::KeyPersonVisit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Incident => "incident",
            CaseKind::Request => "request",
            CaseKind::Dispute => "dispute",
            CaseKind::Patrol => "patrol",
            CaseKind::Household => "household",
            CaseKind::KeyPersonVisit => "key_person_visit",
        }
    }

    pub fn parse(s: &str) -> Option<CaseKind> {
        CaseKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            CaseKind::Incident => "事件",
            CaseKind::Request => "诉求",
            CaseKind::Dispute => "矛盾纠纷",
            CaseKind::Patrol => "巡查",
            CaseKind::Household => "基础信息",
            CaseKind::KeyPersonVisit => "重点人员走访",
        }
    }

    /// Patrol records and household data are records, not requests awaiting an answer: no
    /// clock runs on them.
    pub fn is_record(self) -> bool {
        matches!(self, CaseKind::Patrol | CaseKind::Household)
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a case stands, derived from its events (see `workflow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing reported yet (only seen while a document is being built).
    New,
    Reported,
    Accepted,
    Assigned,
    InProgress,
    Resolved,
    Evaluated,
    Archived,
    Returned,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::New,
        Status::Reported,
        Status::Accepted,
        Status::Assigned,
        Status::InProgress,
        Status::Resolved,
        Status::Evaluated,
        Status::Archived,
        Status::Returned,
    ];

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The open statuses, the one meaning of "open": still being handled, not yet resolved,
    /// evaluated or archived. Deadlines run and supervision (督办) applies only here.
    pub const OPEN: [Status; 5] = [
        Status::Reported,
        Status::Accepted,
        Status::Assigned,
        Status::InProgress,
        Status::Returned,
    ];

    /// Whether the status is one of [`Status::OPEN`].
    pub fn is_open(self) -> bool {
        Status::OPEN.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Reported => "reported",
            Status::Accepted => "accepted",
            Status::Assigned => "assigned",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Evaluated => "evaluated",
            Status::Archived => "archived",
            Status::Returned => "returned",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Status::New => "新建",
            Status::Reported => "已上报",
            Status::Accepted => "已受理",
            Status::Assigned => "已转办",
            Status::InProgress => "办理中",
            Status::Resolved => "已办结",
            Status::Evaluated => "已评价",
            Status::Archived => "已归档",
            Status::Returned => "已退回",
        }
    }
}

/// Where a case came in (来源渠道): the grid worker is one channel of many. Part of the case
/// document (`source`); a document without one came from a phone, and reads as its reporter's
/// role says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 网格员上报 (the phone)
    GridWorker,
    /// 调解员上报
    Mediator,
    /// 12345 热线
    Hotline12345,
    /// 微信 / 小程序
    Wechat,
    /// 扫码 (民情码)
    QrCode,
    /// 来访 (at the counter)
    WalkIn,
    /// 来信来访 (信访)
    Letter,
    /// 110 非警务警情转接
    Police110,
    /// 领导交办
    Leader,
    /// 其他
    Other,
}

impl Source {
    pub const ALL: [Source; 10] = [
        Source::GridWorker,
        Source::Mediator,
        Source::Hotline12345,
        Source::Wechat,
        Source::QrCode,
        Source::WalkIn,
        Source::Letter,
        Source::Police110,
        Source::Leader,
        Source::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::GridWorker => "grid_worker",
            Source::Mediator => "mediator",
            Source::Hotline12345 => "hotline_12345",
            Source::Wechat => "wechat",
            Source::QrCode => "qr_code",
            Source::WalkIn => "walk_in",
            Source::Letter => "letter",
            Source::Police110 => "police_110",
            Source::Leader => "leader",
            Source::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Source::GridWorker => "网格员上报",
            Source::Mediator => "调解员上报",
            Source::Hotline12345 => "12345热线",
            Source::Wechat => "微信/小程序",
            Source::QrCode => "扫码上报",
            Source::WalkIn => "来访登记",
            Source::Letter => "来信/信访",
            Source::Police110 => "110转接",
            Source::Leader => "领导交办",
            Source::Other => "其他",
        }
    }

    /// Whether a resident brought the matter (every channel but the staff's own phones): these
    /// cases have a requester who hears back, and count in the reply rate.
    pub fn is_residents(self) -> bool {
        !matches!(self, Source::GridWorker | Source::Mediator)
    }

    /// The channels a clerk registers at the counter (登记): walk-ins, calls, letters.
    pub const COUNTER: [Source; 6] = [
        Source::WalkIn,
        Source::Hotline12345,
        Source::Letter,
        Source::Police110,
        Source::Leader,
        Source::Other,
    ];
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
