//! [`TimeLimit`]: the time allowed to close a case, as the catalogue writes it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

// Limits beyond about a year are typos, and an unbounded count of working days would make
// deadline arithmetic walk the calendar for ever.
const MAX_HOURS: u32 = 8760;
const MAX_WORKING_DAYS: u32 = 250;

/// The time allowed to close a case: `"24h"` counts clock hours, `"3wd"` counts working days.
/// Serialised as that same string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeLimit {
    Hours(u32),
    WorkingDays(u32),
}

impl TimeLimit {
    /// Parses `"1h"`, `"24h"`, `"1wd"`, `"3wd"`. Zero, leading zeros, signs, spaces, other units
    /// and limits over a year are `None`, so that [`Display`](fmt::Display) gives back the input.
    pub fn parse(s: &str) -> Option<TimeLimit> {
        let (digits, make, max): (&str, fn(u32) -> TimeLimit, u32) =
            if let Some(d) = s.strip_suffix("wd") {
                (d, TimeLimit::WorkingDays, MAX_WORKING_DAYS)
            } else if let Some(d) = s.strip_suffix('h') {
                (d, TimeLimit::Hours, MAX_HOURS)
            } else {
                return None;
            };
        // u32::from_str alone would accept "+3" and "03".
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let n: u32 = digits.parse().ok()?;
        (n <= max).then(|| make(n))
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeLimit::Hours(n) => write!(f, "{n}h"),
            TimeLimit::WorkingDays(n) => write!(f, "{n}wd"),
        }
    }
}

impl FromStr for TimeLimit {
    type Err = Error;

    fn from_str(s: &str) -> Result<TimeLimit> {
        TimeLimit::parse(s).ok_or_else(|| Error::Taxonomy(bad_limit(s)))
    }
}

pub(super) fn bad_limit(s: &str) -> String {
    format!(
        "bad time limit {s:?}: write hours as \"24h\" or working days as \"3wd\" \
         (1 to {MAX_HOURS}h, 1 to {MAX_WORKING_DAYS}wd)"
    )
}

impl Serialize for TimeLimit {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeLimit {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        TimeLimit::parse(&s).ok_or_else(|| serde::de::Error::custom(bad_limit(&s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_parse_and_print_back() {
        for (text, limit) in [
            ("1h", TimeLimit::Hours(1)),
            ("24h", TimeLimit::Hours(24)),
            ("1wd", TimeLimit::WorkingDays(1)),
            ("3wd", TimeLimit::WorkingDays(3)),
        ] {
            assert_eq!(TimeLimit::parse(text), Some(limit));
            assert_eq!(limit.to_string(), text);
        }
    }

    #[test]
    fn odd_limits_do_not_parse() {
        for bad in [
            "",
            "h",
            "wd",
            "0h",
            "0wd",
            "01h",
            "+1h",
            " 1h",
            "1h ",
            "1 h",
            "1H",
            "1WD",
            "1d",
            "1w",
            "1hwd",
            "8761h",
            "251wd",
            "4294967296h",
            "１h",
        ] {
            assert_eq!(TimeLimit::parse(bad), None, "{bad:?}");
        }
        assert_eq!(TimeLimit::parse("8760h"), Some(TimeLimit::Hours(MAX_HOURS)));
        assert_eq!(
            TimeLimit::parse("250wd"),
            Some(TimeLimit::WorkingDays(MAX_WORKING_DAYS))
        );
    }

    #[test]
    fn limits_serialise_as_their_string() -> std::result::Result<(), toml::ser::Error> {
        #[derive(Serialize, Deserialize)]
        struct Row {
            limit: TimeLimit,
        }
        let text = toml::to_string(&Row {
            limit: TimeLimit::WorkingDays(3),
        })?;
        assert_eq!(text.trim(), r#"limit = "3wd""#);
        assert_eq!(
            toml::from_str::<Row>(&text).ok().map(|r| r.limit),
            Some(TimeLimit::WorkingDays(3))
        );
        assert!(toml::from_str::<Row>(r#"limit = "3d""#).is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn every_valid_limit_round_trips(hours in 1..=MAX_HOURS, days in 1..=MAX_WORKING_DAYS) {
            for limit in [TimeLimit::Hours(hours), TimeLimit::WorkingDays(days)] {
                prop_assert_eq!(TimeLimit::parse(&limit.to_string()), Some(limit));
            }
        }

        #[test]
        fn parsed_limits_print_back_exactly(s in "[0-9+ -]{0,6}(h|wd|d)?") {
            if let Some(limit) = TimeLimit::parse(&s) {
                prop_assert_eq!(limit.to_string(), s);
            }
        }
    }
}
