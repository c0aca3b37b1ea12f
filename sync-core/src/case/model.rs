//! The case as typed values: what a person captures ([`NewCase`]) and what a read gives back
//! ([`Case`]), with the parts they are made of.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::invalid;
use crate::Result;
use crate::jurisdiction::JurisdictionPath;
use crate::vocab::{CaseKind, Millis, Source};
use crate::workflow::CaseEvent;

/// Where the case happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub address: String,
}

/// Who first captured the case, on which device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    pub user: String,
    pub device: String,
}

/// A person involved: requester, party to a dispute, key person, household member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub id: String,
    pub name: String,
    /// One of [`super::words::PARTY_ROLES`] (documented, not checked).
    pub role: String,
    pub phone: String,
}

/// A reference to a photo or document stored by content hash.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub sha256: String,
    pub mime: String,
    pub bytes: u64,
    pub caption: String,
    pub captured_at: Millis,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// One mediation session of a dispute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediationSession {
    pub id: String,
    pub at: Millis,
    pub mediators: Vec<String>,
    pub notes: String,
    /// One of [`super::words::SESSION_OUTCOMES`] (documented, not checked).
    pub outcome: String,
}

/// The mediation block of a dispute (empty for other kinds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mediation {
    pub sessions: Vec<MediationSession>,
    /// The agreement text (调解协议), co-edited as Text.
    pub agreement: String,
    /// One of [`super::words::MEDIATION_RESULTS`], empty while open.
    pub result: String,
    /// Where a failed mediation was referred: one of [`super::words::REFERRALS`].
    pub referral: String,
}

impl Mediation {
    /// The rule for a mediation's outcome, shared by the phone's editor and the server's
    /// admission: `success`, `failure` or open; 诉调/警调/访调 — a failed mediation is referred to
    /// court, police or the petition office, and only a failed one.
    pub fn check_result(result: &str, referral: &str) -> Result<()> {
        use super::words::{MEDIATION_RESULTS, REFERRALS, is_one_of};
        if !(result.is_empty() || is_one_of(MEDIATION_RESULTS, result)) {
            return Err(invalid("mediation.result", "expected success or failure"));
        }
        if !(referral.is_empty() || is_one_of(REFERRALS, referral)) {
            return Err(invalid(
                "mediation.referral",
                "expected court, police or petition",
            ));
        }
        if (result == "failure") == referral.is_empty() {
            return Err(invalid(
                "mediation.referral",
                "a failed mediation is referred to court, police or petition; a successful or open one is not",
            ));
        }
        Ok(())
    }
}

impl Case {
    /// The requester (诉求人): the first person of the case in that role, if any.
    pub fn requester(&self) -> Option<&Party> {
        self.people.iter().find(|p| p.role == REQUESTER)
    }
}

/// `people[].role` of the resident who brought the matter.
pub const REQUESTER: &str = "requester";

/// What a person fills in when capturing a new case.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    pub kind: CaseKind,
    pub jurisdiction: JurisdictionPath,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Location,
    pub people: Vec<Party>,
}

/// A typed snapshot of a case document. Where a field is in conflict it shows the value Automerge
/// picks deterministically; [`CaseDoc::conflicts`](super::CaseDoc::conflicts) lists all of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub id: String,
    pub kind: CaseKind,
    pub jurisdiction: JurisdictionPath,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Location,
    pub reporter: Reporter,
    /// The channel it came in through (来源).
    pub source: Source,
    pub created_at: Millis,
    pub people: Vec<Party>,
    pub attachments: Vec<Attachment>,
    pub events: Vec<CaseEvent>,
    pub mediation: Mediation,
    pub extra: BTreeMap<String, String>,
}
