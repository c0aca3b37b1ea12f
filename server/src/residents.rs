//! The front door (ADR 0025): a resident's matter from any channel — registered at the counter
//! (登记) or sent by another platform (`POST /v1/intake`) — becomes a case like a phone's, with its
//! source and its requester; the requester gets a receipt number and a lookup code; the
//! progress page and the channel read where it stands in plain words; the requester's own
//! rating is written by the server in the requester's name.

use automerge::ActorId;
use gridsync_core::case::sealed::CaseKey;
use gridsync_core::case::{CaseDoc, Location, NewCase, Party, REQUESTER};
use gridsync_core::workflow::{Deadlines, EventType, Rating, WorkflowState};
use gridsync_core::{Case, CaseKind, Identity, JurisdictionPath, Role, Source, Status};
use rand::Rng;

use crate::store::{SERVER_DEVICE, Store};

/// The longest requester name, phone number and address the front door takes.
pub const MAX_NAME_CHARS: usize = 50;
pub const MAX_PHONE_CHARS: usize = 20;
pub const MAX_ADDRESS_CHARS: usize = 200;

/// The user a requester's own rating is written as (role `system`, see
/// [`Rating::is_requesters`]).
pub const REQUESTER_USER: &str = "requester";

/// A resident's matter as a clerk or a channel gives it, before it is a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Matter {
    pub source: Source,
    pub kind: CaseKind,
    pub place: JurisdictionPath,
    pub category: String,
    pub title: String,
    pub description: String,
    pub address: String,
    pub requester_name: String,
    pub requester_phone: String,
}

/// Why a matter cannot become a case: a stable code and the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterError {
    pub code: &'static str,
    pub field: &'static str,
    pub message: String,
}

impl MatterError {
    fn new(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        MatterError {
            code,
            field,
            message: message.into(),
        }
    }
}

impl Matter {
    /// Checks what the case's own rules do not: the kinds the front door takes, the category
    /// in the catalogue for the kind, the place within `county`, the requester's fields.
    pub fn check(
        &self,
        taxonomy: &gridsync_core::taxonomy::Taxonomy,
        county: &JurisdictionPath,
    ) -> Result<(), MatterError> {
        if !matches!(
            self.kind,
            CaseKind::Request | CaseKind::Incident | CaseKind::Dispute
        ) {
            return Err(MatterError::new(
                "unsupported_kind",
                "kind",
                "the front door takes requests, incidents and disputes",
            ));
        }
        match taxonomy.category(&self.category) {
            None => {
                return Err(MatterError::new(
                    "unknown_category",
                    "category",
                    format!("{:?} is not in the catalogue", self.category),
                ));
            }
            Some(c) if !c.applies_to(self.kind.as_str()) => {
                return Err(MatterError::new(
                    "unknown_category",
                    "category",
                    format!("{} does not apply to a {}", self.category, self.kind),
                ));
            }
            Some(_) => {}
        }
        if !self.place.is_within(county) {
            return Err(MatterError::new(
                "area_outside_county",
                "area",
                format!("{} is outside the county {county}", self.place),
            ));
        }
        let required = [
            ("title", &self.title),
            ("requester.name", &self.requester_name),
            ("requester.phone", &self.requester_phone),
        ];
        for (field, value) in required {
            if value.trim().is_empty() {
                return Err(MatterError::new(
                    "missing_field",
                    field,
                    format!("{field} is required"),
                ));
            }
        }
        let limits = [
            ("title", &self.title, gridsync_core::case::MAX_TITLE_CHARS),
            (
                "description",
                &self.description,
                gridsync_core::case::MAX_TEXT_CHARS,
            ),
            ("address", &self.address, MAX_ADDRESS_CHARS),
            ("requester.name", &self.requester_name, MAX_NAME_CHARS),
            ("requester.phone", &self.requester_phone, MAX_PHONE_CHARS),
        ];
        for (field, value, max) in limits {
            if value.chars().count() > max {
                return Err(MatterError::new(
                    "text_too_long",
                    field,
                    format!("{field} is longer than {max} characters"),
                ));
            }
        }
        let phone_ok = self
            .requester_phone
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == ' ');
        if !phone_ok {
            return Err(MatterError::new(
                "bad_phone",
                "requester.phone",
                "a phone number has digits, spaces, + and - only",
            ));
        }
        Ok(())
    }

    /// The new case document, written by `who` on `actor` at `at`: the skeleton with the
    /// requester (sealed under the new case's key, which the caller keeps: ADR 0029) and the
    /// `reported` event, then its source. Checked by the case's own rules.
    pub fn build(
        &self,
        who: &Identity,
        actor: ActorId,
        at: i64,
        deadlines: &Deadlines<'_>,
    ) -> gridsync_core::Result<(String, CaseDoc, CaseKey)> {
        let id = gridsync_core::case::new_case_id();
        let key = CaseKey::generate(&id);
        let new = NewCase {
            kind: self.kind,
            jurisdiction: self.place.clone(),
            category: self.category.clone(),
            title: self.title.trim().to_owned(),
            description: self.description.clone(),
            location: Location {
                address: self.address.clone(),
                ..Location::default()
            },
            people: vec![Party {
                name: self.requester_name.trim().to_owned(),
                role: REQUESTER.into(),
                phone: self.requester_phone.trim().to_owned(),
                ..Party::default()
            }],
        };
        let (mut doc, _) =
            CaseDoc::create_sealed(actor, &id, &new, who, at, deadlines, Some(&key))?;
        doc.edit(who, at, |e| e.set_source(self.source))?;
        Ok((id, doc, key))
    }
}

/// The identity an intake channel's cases are reported in: the server's actor, named for the
/// channel, county-wide.
pub fn channel_identity(
    channel_id: &str,
    county: &JurisdictionPath,
) -> gridsync_core::Result<Identity> {
    Identity::new(
        format!("intake.{channel_id}"),
        Role::System,
        county.clone(),
        None,
        SERVER_DEVICE,
    )
}

/// The identity a requester's own rating is written in.
pub fn requester_identity(county: &JurisdictionPath) -> gridsync_core::Result<Identity> {
    Identity::new(
        REQUESTER_USER,
        Role::System,
        county.clone(),
        None,
        SERVER_DEVICE,
    )
}

/// A receipt handed to the requester: the number (回执号) and the short code that opens the
/// progress page with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub number: String,
    pub code: String,
}

impl Receipt {
    /// A fresh receipt: the date and six random digits, and a six-digit code. The code is
    /// kept only as an Argon2id hash; guessing is rate-limited on the progress page.
    pub fn issue(now_ms: i64) -> Receipt {
        let mut rng = rand::rng();
        // The date in China, on the calendar's own clock (UTC+8).
        let date = gridsync_core::calendar::Calendar::builtin()
            .local_date(now_ms)
            .replace('-', "");
        Receipt {
            number: format!("{date}{:06}", rng.random_range(0..1_000_000)),
            code: format!("{:06}", rng.random_range(0..1_000_000)),
        }
    }

    /// [`Receipt::issue`] with a number no receipt has yet: six random digits a day, so a
    /// number already given is drawn again (a thousand receipts a day would otherwise meet one
    /// in about two days).
    pub async fn fresh(store: &Store, now_ms: i64) -> crate::store::Result<Receipt> {
        let mut receipt = Receipt::issue(now_ms);
        for _ in 0..8 {
            if store.receipt(&receipt.number).await?.is_none() {
                break;
            }
            receipt = Receipt::issue(now_ms);
        }
        Ok(receipt)
    }

    /// The code's hash, as stored.
    pub fn code_hash(&self) -> String {
        crate::auth::hash_password(&self.code).unwrap_or_default()
    }

    /// [`Receipt::code_hash`] off the async workers: Argon2id is slow on purpose.
    pub async fn code_hash_off_thread(&self) -> Result<String, tokio::task::JoinError> {
        let r = self.clone();
        tokio::task::spawn_blocking(move || r.code_hash()).await
    }

    /// Whether `code` is the one hashed as `hash`.
    pub fn code_matches(hash: &str, code: &str) -> bool {
        !hash.is_empty() && crate::auth::verify_password(hash, code.trim())
    }
}

/// Where a case stands as the requester reads it: plain words, the public reply, no names and
/// no internal notes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Progress {
    pub status: Status,
    /// One sentence in plain Chinese.
    pub stage: &'static str,
    pub title: String,
    pub received_at: i64,
    pub resolved_at: Option<i64>,
    /// The answer given at the latest resolution (答复), once resolved.
    pub reply: Option<String>,
    /// The steps taken so far: (when, what), in plain words.
    pub steps: Vec<(i64, &'static str)>,
    /// The requester may rate now (resolved and not yet rated).
    pub may_rate: bool,
    pub rating: Option<Rating>,
    pub rated_by_requester: bool,
}

impl Progress {
    pub fn of(case: &Case, wf: &WorkflowState) -> Progress {
        let done = matches!(
            wf.status,
            Status::Resolved | Status::Evaluated | Status::Archived
        );
        let steps = case
            .events
            .iter()
            .filter_map(|e| public_step(e.kind).map(|w| (e.at, w)))
            .collect();
        Progress {
            status: wf.status,
            stage: stage(wf),
            title: case.title.clone(),
            received_at: case.created_at,
            resolved_at: wf.resolved_at,
            reply: done.then(|| wf.reply.clone()).flatten(),
            steps,
            may_rate: wf.status == Status::Resolved,
            rating: wf.rating,
            rated_by_requester: wf.rating_by_requester,
        }
    }
}

/// The sentence the progress page shows for where the case stands.
fn stage(wf: &WorkflowState) -> &'static str {
    match wf.status {
        Status::New | Status::Reported if wf.level == gridsync_core::Level::Grid => {
            "已转网格员上门核实"
        }
        Status::New | Status::Reported => "已收到，正在研判分派",
        Status::Accepted => "已受理，正在办理",
        Status::Assigned => "已转交职能部门办理",
        Status::InProgress => "正在办理",
        Status::Returned => "正在重新分派",
        Status::Resolved => "已办结，请您评价",
        Status::Evaluated => "已办结，感谢您的评价",
        Status::Archived => "已办结归档",
    }
}

/// A step of the log in the requester's words; `None` for steps that are internal.
fn public_step(kind: EventType) -> Option<&'static str> {
    match kind {
        EventType::Reported => Some("诉求已登记"),
        EventType::Routed => Some("已分派到所在网格或乡镇"),
        EventType::Accepted => Some("已受理"),
        EventType::Assigned => Some("已转交职能部门"),
        EventType::InProgress => Some("开始办理"),
        EventType::Resolved => Some("已办结并答复"),
        EventType::Evaluated => Some("已评价"),
        EventType::Reopened => Some("重新办理"),
        EventType::Escalated => Some("已提交上级处理"),
        EventType::Returned => Some("重新分派"),
        EventType::Archived => Some("已归档"),
        EventType::ReturnVisit => Some("已回访"),
        EventType::PartAssigned => Some("已联系协办部门"),
        EventType::Supervised
        | EventType::Settled
        | EventType::PartSigned
        | EventType::PartDone => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_carry_the_china_date_and_codes_check_against_their_hash() {
        // 2026-12-04 20:00 UTC is already 12-05 in China.
        let r = Receipt::issue(1_796_414_400_000);
        assert!(r.number.starts_with("20261205") && r.number.len() == 14);
        assert_eq!(r.code.len(), 6);
        let hash = r.code_hash();
        assert!(Receipt::code_matches(&hash, &r.code));
        let wrong = format!("{:06}", (r.code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(!Receipt::code_matches(&hash, &wrong));
        assert!(!Receipt::code_matches("", &r.code));
    }
}
