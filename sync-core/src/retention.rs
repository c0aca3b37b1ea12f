//! How long the personal data of an archived case is kept (`[retention]` of the county's
//! rules; PIPL, ADR 0029): years per kind of case, counted from the case's last change once it
//! is archived; past it, the server's clock erases the case's personal data as `gridsync erase`
//! does. 0 keeps it (no automatic erasure).

use std::collections::BTreeMap;

use crate::vocab::CaseKind;
use crate::{Error, Result};

const YEAR_MS: i64 = 365 * 24 * 3_600_000;
/// The longest period a county may set.
const MAX_YEARS: u32 = 100;

/// Years kept per kind; a kind not named keeps its personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRules {
    years: BTreeMap<CaseKind, u32>,
}

impl Default for RetentionRules {
    /// Requests 3 years and disputes 5 (the examples, what counties commonly keep
    /// mediation files for); the rest kept until the county sets a period.
    fn default() -> Self {
        RetentionRules {
            years: [(CaseKind::Request, 3), (CaseKind::Dispute, 5)].into(),
        }
    }
}

impl RetentionRules {
    /// The key of the rules file these settings live under.
    pub const KEY: &'static str = "retention";

    /// The `[retention]` table of a rules file, checked: kinds by their names, whole years
    /// from 0 to 100.
    pub fn from_value(value: toml::Value) -> Result<RetentionRules> {
        let bad = |reason: String| Error::Rules(format!("[retention]: {reason}"));
        let toml::Value::Table(table) = value else {
            return Err(bad("expected a table of kind = years".into()));
        };
        let mut years = BTreeMap::new();
        for (kind, n) in table {
            let k = CaseKind::parse(&kind).ok_or_else(|| {
                bad(format!(
                    "unknown kind {kind:?} (one of {})",
                    CaseKind::ALL.map(|k| k.as_str()).join(", ")
                ))
            })?;
            let n = n
                .as_integer()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= MAX_YEARS)
                .ok_or_else(|| bad(format!("{kind} must be whole years from 0 to {MAX_YEARS}")))?;
            years.insert(k, n);
        }
        Ok(RetentionRules { years })
    }

    /// Years the personal data of an archived case of `kind` is kept; `None`: kept.
    pub fn years(&self, kind: CaseKind) -> Option<u32> {
        self.years.get(&kind).copied().filter(|n| *n > 0)
    }

    /// The last change before which an archived case of `kind` is past its period at `now`.
    pub fn cutoff(&self, kind: CaseKind, now: i64) -> Option<i64> {
        self.years(kind)
            .map(|n| now.saturating_sub(i64::from(n) * YEAR_MS))
    }

    /// The settings as the `[retention]` table of a rules file.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "\n# 个人信息保存期限: years the personal data of an archived case is kept, per kind\n\
             # (from its last change); then it is erased. 0 or absent: kept.\n[retention]\n",
        );
        for (kind, n) in &self.years {
            out.push_str(&format!("{} = {n}\n", kind.as_str()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_back_and_bad_ones_are_named() {
        let parsed =
            RetentionRules::from_value(toml::from_str("request = 3\ndispute = 0").unwrap())
                .unwrap();
        assert_eq!(parsed.years(CaseKind::Request), Some(3));
        assert_eq!(parsed.years(CaseKind::Dispute), None, "0 keeps");
        assert_eq!(parsed.years(CaseKind::Patrol), None);
        let text = parsed.to_toml();
        let again: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            RetentionRules::from_value(again["retention"].clone()).unwrap(),
            parsed
        );
        assert_eq!(
            parsed.cutoff(CaseKind::Request, 10 * YEAR_MS),
            Some(7 * YEAR_MS)
        );
        for bad in [
            "petition = 3",
            "request = -1",
            "request = 101",
            "request = \"3y\"",
        ] {
            let err = RetentionRules::from_value(toml::from_str(bad).unwrap()).unwrap_err();
            assert!(err.to_string().contains("[retention]"), "{bad}: {err}");
        }
    }
}
