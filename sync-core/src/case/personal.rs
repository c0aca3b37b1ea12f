//! Personal data's one home: which fields of a case are personal, and how they are masked for a
//! reader who may see the case but does not handle it. Who reads them in clear is
//! [`Identity::reads_personal_data`]; the API, the console, the exports and the phone library
//! all go through [`Case::for_reader`]. A read that shows them in clear is recorded in the
//! read audit ([`Case::read_is_audited`], ADR 0028).
//!
//! Personal today: each person's name and phone number (requester, parties, key persons),
//! sealed in the document under the case's keys ([`super::sealed`], ADR 0029) and opened with
//! [`Case::unsealed`] before anything else reads them.

use super::sealed::{CaseKeys, PERSON_NAME, PERSON_PHONE, is_withheld, personal_field};
use super::{Case, CaseDoc, FieldConflict, Party};
use crate::access::Identity;

/// `138****5678`: the first three and last four digits of a phone number, the rest starred; a
/// short number is starred whole but for its last digit.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    match chars.len() {
        0 => String::new(),
        n if n >= 8 => {
            let head: String = chars[..3].iter().collect();
            let tail: String = chars[n - 4..].iter().collect();
            format!("{head}{}{tail}", "*".repeat(n - 7))
        }
        n => format!("{}{}", "*".repeat(n - 1), chars[n - 1]),
    }
}

/// `张**`: the family name kept, the given name starred.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
    }
}

impl Party {
    /// This person with name and phone masked (a value withheld already stays as it reads).
    pub fn masked(&self) -> Party {
        let mask = |v: &str, f: fn(&str) -> String| match is_withheld(v) {
            true => v.to_owned(),
            false => f(v),
        };
        Party {
            name: mask(&self.name, mask_name),
            phone: mask(&self.phone, mask_phone),
            ..self.clone()
        }
    }

    /// Whether this person's record is personal data: a name or a phone number (sealed or not;
    /// an erased one is none any more).
    pub fn is_personal(&self) -> bool {
        let held = |v: &str| !v.trim().is_empty() && !is_withheld(v);
        held(&self.name) || held(&self.phone)
    }

    /// This person as a reader holding `keys` sees them.
    pub fn unsealed(&self, keys: &CaseKeys) -> Party {
        Party {
            name: keys.open(PERSON_NAME, &self.name),
            phone: keys.open(PERSON_PHONE, &self.phone),
            ..self.clone()
        }
    }
}

impl FieldConflict {
    /// The conflict as a reader holding `keys` sees it: the values of a sealed field opened.
    pub fn unsealed(mut self, keys: &CaseKeys) -> FieldConflict {
        if let Some(field) = personal_field(&self.field) {
            for v in &mut self.values {
                v.value = keys.open(field, &v.value);
            }
        }
        self
    }
}

impl CaseDoc {
    /// Whether the case holds personal data (a person with a name or phone number), read from
    /// its people alone: what the read audit asks of a document it delivers whole (ADR 0028).
    pub fn holds_personal_data(&self) -> crate::Result<bool> {
        Ok(self.people()?.iter().any(Party::is_personal))
    }
}

impl Case {
    /// The case as a reader holding `keys` sees it: its sealed values opened, or shown as
    /// erased or withheld (ADR 0029). Every read for a person goes through here first.
    pub fn unsealed(mut self, keys: &CaseKeys) -> Case {
        self.people = self.people.iter().map(|p| p.unsealed(keys)).collect();
        self
    }

    /// Whether the case holds personal data: a person with a name or phone number.
    pub fn holds_personal_data(&self) -> bool {
        self.people.iter().any(Party::is_personal)
    }

    /// Whether `who` reading this case sees personal data in clear: the case holds some and
    /// `who` reads it unmasked ([`Identity::reads_personal_data`]). Such a read is recorded in
    /// the read audit (ADR 0028). Asked of the case as stored, or as [`Case::for_reader`] gave
    /// it to `who` (masked only when the answer is no anyway).
    pub fn read_is_audited(&self, who: &Identity, departments: &[&str]) -> bool {
        self.holds_personal_data()
            && who.reads_personal_data(self.kind, &self.jurisdiction, departments)
    }

    /// The case as `who` may see it: in clear for those who handle it, every person masked for
    /// the rest. `departments` are those the case is with now (`WorkflowState::departments`).
    pub fn for_reader(mut self, who: &Identity, departments: &[&str]) -> Case {
        if !who.reads_personal_data(self.kind, &self.jurisdiction, departments) {
            self.people = self.people.iter().map(Party::masked).collect();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_identifies_nobody() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("0310-1234567"), "031*****4567");
        assert_eq!(mask_phone("110"), "**0");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_name("张志强"), "张**");
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn a_case_holds_personal_data_when_a_person_has_a_name_or_phone() {
        let nobody = Party {
            id: "p1".into(),
            role: "requester".into(),
            ..Party::default()
        };
        assert!(!nobody.is_personal());
        let named = Party {
            name: "张志强".into(),
            ..nobody.clone()
        };
        let phoned = Party {
            phone: "13812345678".into(),
            ..nobody.clone()
        };
        assert!(named.is_personal() && phoned.is_personal());
        assert!(named.masked().is_personal(), "masked, still about a person");
    }
}
