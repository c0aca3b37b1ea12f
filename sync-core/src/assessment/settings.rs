//! What the county sets for its assessment (考核办法), kept with its rules (`[assessment]` of
//! the rules file): the weight of each figure in a score, how long the red and black lists
//! are, and which accountability triggers are on.

use serde::{Deserialize, Serialize};

use super::report::Figure;
use crate::{Error, Result};

/// The county's assessment settings. The defaults follow Yicheng's rules: the top two named,
/// the bottom three departments and two townships listed, every trigger on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssessmentRules {
    /// 红榜: how many units at the top are named.
    pub red_list: u32,
    /// 黑榜: how many departments at the bottom are named.
    pub black_list_departments: u32,
    /// 黑榜: how many townships, villages or grid workers at the bottom are named.
    pub black_list_areas: u32,
    pub weights: Weights,
    pub triggers: Triggers,
}

/// The weight of each rate in a score (any non-negative numbers; a score divides by the sum of
/// those that apply to a unit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub signed_on_time: f64,
    pub resolved_on_time: f64,
    pub overdue: f64,
    pub returned: f64,
    pub reopened: f64,
    pub satisfaction_requester: f64,
    pub satisfaction_staff: f64,
    pub return_visited: f64,
    /// 基层评议: the townships' monthly score of a department (departments only).
    pub township_rating: f64,
}

/// Accountability triggers (问责情形) the county has switched on; a number of 0 switches one off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Triggers {
    /// 连续两次验收不通过.
    pub failed_twice_in_row: bool,
    /// Still not done this many working days after the county supervised it (0: off).
    pub overdue_after_county_days: u32,
    /// One unit returned the same case more than this many times (0: off).
    pub returned_more_than: u32,
    /// A return visit found the resolution untrue (虚假办结).
    pub untrue_resolution: bool,
}

impl Default for AssessmentRules {
    fn default() -> Self {
        AssessmentRules {
            red_list: 2,
            black_list_departments: 3,
            black_list_areas: 2,
            weights: Weights::default(),
            triggers: Triggers::default(),
        }
    }
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            signed_on_time: 10.0,
            resolved_on_time: 25.0,
            overdue: 15.0,
            returned: 10.0,
            reopened: 10.0,
            satisfaction_requester: 15.0,
            satisfaction_staff: 5.0,
            return_visited: 5.0,
            township_rating: 5.0,
        }
    }
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers {
            failed_twice_in_row: true,
            overdue_after_county_days: 3,
            returned_more_than: 2,
            untrue_resolution: true,
        }
    }
}

impl Weights {
    /// The weight of a figure that enters the score, or `None` for one that does not.
    pub fn of(&self, figure: Figure) -> Option<f64> {
        Some(match figure {
            Figure::SignedOnTime => self.signed_on_time,
            Figure::ResolvedOnTime => self.resolved_on_time,
            Figure::Overdue => self.overdue,
            Figure::Returned => self.returned,
            Figure::Reopened => self.reopened,
            Figure::SatisfiedRequester => self.satisfaction_requester,
            Figure::SatisfiedStaff => self.satisfaction_staff,
            Figure::ReturnVisited => self.return_visited,
            Figure::Received => return None,
        })
    }
}

impl AssessmentRules {
    /// The key of the rules file these settings live under.
    pub const KEY: &'static str = "assessment";

    /// The `[assessment]` table of a rules file, checked.
    pub fn from_value(value: toml::Value) -> Result<AssessmentRules> {
        let rules: AssessmentRules = value
            .try_into()
            .map_err(|e: toml::de::Error| Error::Rules(format!("[assessment]: {}", e.message())))?;
        rules.check()?;
        Ok(rules)
    }

    fn check(&self) -> Result<()> {
        let w = &self.weights;
        let all = [
            w.signed_on_time,
            w.resolved_on_time,
            w.overdue,
            w.returned,
            w.reopened,
            w.satisfaction_requester,
            w.satisfaction_staff,
            w.return_visited,
            w.township_rating,
        ];
        if all
            .iter()
            .any(|x| !x.is_finite() || *x < 0.0 || *x > 1000.0)
        {
            return Err(Error::Rules(
                "[assessment.weights]: each weight is a number from 0 to 1000".into(),
            ));
        }
        if all.iter().sum::<f64>() <= 0.0 {
            return Err(Error::Rules(
                "[assessment.weights]: at least one weight must be above 0".into(),
            ));
        }
        if [
            self.red_list,
            self.black_list_departments,
            self.black_list_areas,
        ]
        .iter()
        .any(|n| *n > 100)
        {
            return Err(Error::Rules(
                "[assessment]: a red or black list names at most 100 units".into(),
            ));
        }
        if self.triggers.overdue_after_county_days > 250 || self.triggers.returned_more_than > 100 {
            return Err(Error::Rules(
                "[assessment.triggers]: at most 250 working days and 100 returns".into(),
            ));
        }
        Ok(())
    }

    /// The settings as the `[assessment]` tables of a rules file.
    pub fn to_toml(&self) -> String {
        let w = &self.weights;
        let t = &self.triggers;
        format!(
            "\n# 考核: weights of each rate in a score, red and black lists, accountability triggers.\n\
             [assessment]\nred_list = {}\nblack_list_departments = {}\nblack_list_areas = {}\n\n\
             [assessment.weights]\nsigned_on_time = {:?}\nresolved_on_time = {:?}\noverdue = {:?}\n\
             returned = {:?}\nreopened = {:?}\nsatisfaction_requester = {:?}\n\
             satisfaction_staff = {:?}\nreturn_visited = {:?}\ntownship_rating = {:?}\n\n\
             [assessment.triggers]\nfailed_twice_in_row = {}\noverdue_after_county_days = {}\n\
             returned_more_than = {}\nuntrue_resolution = {}\n",
            self.red_list,
            self.black_list_departments,
            self.black_list_areas,
            w.signed_on_time,
            w.resolved_on_time,
            w.overdue,
            w.returned,
            w.reopened,
            w.satisfaction_requester,
            w.satisfaction_staff,
            w.return_visited,
            w.township_rating,
            t.failed_twice_in_row,
            t.overdue_after_county_days,
            t.returned_more_than,
            t.untrue_resolution,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AssessmentRules> {
        let table: toml::Table = toml::from_str(text).unwrap();
        AssessmentRules::from_value(table.get("assessment").cloned().unwrap())
    }

    #[test]
    fn written_settings_read_back_and_missing_keys_default() {
        let mut a = AssessmentRules::default();
        a.weights.overdue = 7.5;
        a.triggers.returned_more_than = 0;
        assert_eq!(parse(&a.to_toml()).unwrap(), a);
        let some = parse("[assessment]\nred_list = 5\n").unwrap();
        assert_eq!(some.red_list, 5);
        assert_eq!(some.weights, Weights::default());
    }

    #[test]
    fn bad_settings_are_refused_with_the_table_named() {
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(err("[assessment]\ncolour = 1\n").contains("unknown field"));
        assert!(err("[assessment.weights]\noverdue = -1.0\n").contains("from 0 to 1000"));
        let zero = Weights {
            signed_on_time: 0.0,
            resolved_on_time: 0.0,
            overdue: 0.0,
            returned: 0.0,
            reopened: 0.0,
            satisfaction_requester: 0.0,
            satisfaction_staff: 0.0,
            return_visited: 0.0,
            township_rating: 0.0,
        };
        let a = AssessmentRules {
            weights: zero,
            ..AssessmentRules::default()
        };
        assert!(err(&a.to_toml()).contains("at least one weight"));
        assert!(err("[assessment]\nred_list = 101\n").contains("at most 100"));
    }
}
