//! The jurisdiction tree (county → township → village → grid) and the paths that name its nodes.
//!
//! Every scope check in gridsync is "is this path within that one", so a path is a list of codes
//! from the county down and "within" is a prefix test.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A level of the jurisdiction tree, lowest first so that `Ord` means "higher up".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Grid,
    Village,
    Township,
    County,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Grid, Level::Village, Level::Township, Level::County];

    /// The next level up, as escalation moves one level at a time.
    pub fn up(self) -> Option<Level> {
        match self {
            Level::Grid => Some(Level::Village),
            Level::Village => Some(Level::Township),
            Level::Township => Some(Level::County),
            Level::County => None,
        }
    }

    /// Number of codes in a path that names a node of this level.
    pub fn depth(self) -> usize {
        match self {
            Level::County => 1,
            Level::Township => 2,
            Level::Village => 3,
            Level::Grid => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Grid => "grid",
            Level::Village => "village",
            Level::Township => "township",
            Level::County => "county",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Chinese label for the console and the apps.
    pub fn name_zh(self) -> &'static str {
        match self {
            Level::Grid => "网格",
            Level::Village => "村/社区",
            Level::Township => "乡镇/街道",
            Level::County => "县/区",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The codes naming one node of the tree, county first: `130322/101/201/03`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JurisdictionPath {
    codes: Vec<String>,
}

impl JurisdictionPath {
    /// Builds a path from its codes, county first (one to four of them).
    pub fn new<I, S>(codes: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let codes: Vec<String> = codes.into_iter().map(Into::into).collect();
        if codes.is_empty() || codes.len() > 4 {
            return Err(invalid(format!(
                "a path has 1 to 4 codes, got {}",
                codes.len()
            )));
        }
        for code in &codes {
            let ok = !code.is_empty()
                && code.len() <= 32
                && code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(invalid(format!("bad code {code:?}")));
            }
        }
        Ok(Self { codes })
    }

    /// Parses `county/township/village/grid` (shorter paths name higher nodes).
    pub fn parse(s: &str) -> Result<Self> {
        Self::new(s.split('/'))
    }

    pub fn level(&self) -> Level {
        match self.codes.len() {
            1 => Level::County,
            2 => Level::Township,
            3 => Level::Village,
            _ => Level::Grid,
        }
    }

    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    pub fn county(&self) -> &str {
        &self.codes[0]
    }

    pub fn township(&self) -> Option<&str> {
        self.codes.get(1).map(String::as_str)
    }

    pub fn village(&self) -> Option<&str> {
        self.codes.get(2).map(String::as_str)
    }

    pub fn grid(&self) -> Option<&str> {
        self.codes.get(3).map(String::as_str)
    }

    /// True when this node is `scope` itself or lies below it.
    pub fn is_within(&self, scope: &JurisdictionPath) -> bool {
        self.codes.len() >= scope.codes.len() && self.codes[..scope.codes.len()] == scope.codes[..]
    }

    /// The ancestor (or self) at `level`, if this path reaches that deep.
    pub fn at_level(&self, level: Level) -> Option<JurisdictionPath> {
        (self.codes.len() >= level.depth()).then(|| JurisdictionPath {
            codes: self.codes[..level.depth()].to_vec(),
        })
    }

    /// A child node one level down.
    pub fn child(&self, code: &str) -> Result<JurisdictionPath> {
        let mut codes = self.codes.clone();
        codes.push(code.to_owned());
        JurisdictionPath::new(codes)
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidInput {
        field: "jurisdiction".into(),
        reason,
    }
}

impl fmt::Display for JurisdictionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.codes.join("/"))
    }
}

impl TryFrom<String> for JurisdictionPath {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        JurisdictionPath::parse(&s)
    }
}

impl From<JurisdictionPath> for String {
    fn from(p: JurisdictionPath) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_is_a_prefix_test_on_whole_codes() {
        let grid = JurisdictionPath::parse("130322/101/201/03").unwrap();
        let village = JurisdictionPath::parse("130322/101/201").unwrap();
        let other_village = JurisdictionPath::parse("130322/101/2011").unwrap();
        assert!(grid.is_within(&village));
        assert!(village.is_within(&village));
        assert!(!village.is_within(&grid));
        assert!(!grid.is_within(&other_village));
        assert_eq!(grid.level(), Level::Grid);
        assert_eq!(
            grid.at_level(Level::Township).unwrap().to_string(),
            "130322/101"
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["", "a//b", "1/2/3/4/5", "../etc", "村/1"] {
            assert!(JurisdictionPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn escalation_goes_one_level_at_a_time() {
        assert_eq!(Level::Grid.up(), Some(Level::Village));
        assert_eq!(Level::Township.up(), Some(Level::County));
        assert_eq!(Level::County.up(), None);
        assert!(Level::County > Level::Grid);
    }
}
