//! The documented string values of a case and their Chinese words: the one list each, read by
//! the checks and by every screen that shows them. A value outside a list that is only
//! documented (not checked) shows as it is.

/// (value, 中文) pairs of one field.
pub type Words = &'static [(&'static str, &'static str)];

/// `people[].role`.
pub const PARTY_ROLES: Words = &[
    ("requester", "诉求人"),
    ("applicant", "申请人"),
    ("respondent", "被申请人"),
    ("key_person", "重点人员"),
    ("member", "家庭成员"),
];

/// `mediation.sessions[].outcome`.
pub const SESSION_OUTCOMES: Words = &[
    ("agreed", "达成一致"),
    ("partial", "部分达成"),
    ("failed", "未达成"),
    ("adjourned", "择日再调"),
];

/// `mediation.result` (checked: one of these, or empty while open).
pub const MEDIATION_RESULTS: Words = &[("success", "调解成功"), ("failure", "调解不成功")];

/// `mediation.referral` after a failed mediation (checked): 诉调、警调、访调对接.
pub const REFERRALS: Words = &[
    ("court", "诉调对接（法院）"),
    ("police", "警调对接（公安）"),
    ("petition", "访调对接（信访）"),
];

/// How a return visit (回访) reached the requester: `events[].via` (kept with the workflow,
/// which checks it).
pub use crate::workflow::RETURN_VISIT_WAYS;

/// The Chinese word of `value` in `words`.
pub fn word_zh(words: Words, value: &str) -> Option<&'static str> {
    words.iter().find(|(v, _)| *v == value).map(|(_, zh)| *zh)
}

/// Whether `value` is one of `words`.
pub fn is_one_of(words: Words, value: &str) -> bool {
    words.iter().any(|(v, _)| *v == value)
}
