//! The county's rules (规则): the category catalogue (kinds, categories, default departments,
//! time limits), the departments and their sign-for limits, the patrol checklist and the
//! working-day calendar by year — one versioned whole that the server keeps and every phone
//! receives on sync (ADR 0020).
//!
//! Version 0 is what ships in the build (`categories.toml`, `calendar-2026.toml`); the server
//! numbers each change after it. A rules file is one TOML file with the keys of both shipped
//! files; a file may hold only a catalogue or only a calendar, and importing it replaces the
//! catalogue, or the calendar's years it lists ([`Rules::with_file`]). Every refusal names the
//! line.

use std::sync::OnceLock;

use crate::assessment::AssessmentRules;
use crate::calendar::{CALENDAR_KEYS, Calendar, RawCalendar};
use crate::retention::RetentionRules;
use crate::taxonomy::{RawTaxonomy, TAXONOMY_KEYS, Taxonomy};
use crate::tomlfile::{FORMAT_VERSION, check_file, syntax};
use crate::vocab::Millis;
use crate::workflow::Deadlines;
use crate::{Error, Result};

/// One version of the county's rules.
#[derive(Debug, Clone)]
pub struct Rules {
    version: u64,
    taxonomy: Taxonomy,
    calendar: Calendar,
    assessment: AssessmentRules,
    retention: RetentionRules,
}

/// What one rules file holds: a catalogue, a calendar, assessment settings, or several.
#[derive(Debug, Clone)]
pub struct RulesFile {
    pub taxonomy: Option<Taxonomy>,
    pub calendar: Option<Calendar>,
    pub assessment: Option<AssessmentRules>,
    pub retention: Option<RetentionRules>,
}

impl RulesFile {
    /// Parses and checks a rules file (or a shipped catalogue or calendar file).
    pub fn parse(text: &str) -> Result<RulesFile> {
        let keys: Vec<&str> = TAXONOMY_KEYS
            .iter()
            .chain(&CALENDAR_KEYS)
            .chain(&[AssessmentRules::KEY, RetentionRules::KEY])
            .copied()
            .collect();
        check_file(text, "rules file", &keys)?;
        let mut table: toml::Table = toml::from_str(text).map_err(syntax)?;
        let assessment = table
            .remove(AssessmentRules::KEY)
            .map(AssessmentRules::from_value)
            .transpose()?;
        let retention = table
            .remove(RetentionRules::KEY)
            .map(RetentionRules::from_value)
            .transpose()?;
        let taxonomy: RawTaxonomy = toml::from_str(text).map_err(syntax)?;
        let calendar: RawCalendar = toml::from_str(text).map_err(syntax)?;
        let file = RulesFile {
            assessment,
            retention,
            taxonomy: (!taxonomy.is_empty())
                .then(|| Taxonomy::check(taxonomy, text))
                .transpose()?,
            calendar: (!calendar.is_empty())
                .then(|| Calendar::build(calendar, text))
                .transpose()?,
        };
        if file.taxonomy.is_none()
            && file.calendar.is_none()
            && file.assessment.is_none()
            && file.retention.is_none()
        {
            return Err(Error::Rules(
                "the file holds neither a catalogue ([[category]]) nor a calendar (years) nor \
                 assessment settings ([assessment]) nor retention periods ([retention])"
                    .into(),
            ));
        }
        Ok(file)
    }
}

impl Rules {
    pub fn new(version: u64, taxonomy: Taxonomy, calendar: Calendar) -> Rules {
        Rules {
            version,
            taxonomy,
            calendar,
            assessment: AssessmentRules::default(),
            retention: RetentionRules::default(),
        }
    }

    /// Version 0: the catalogue and calendar shipped in this build.
    pub fn builtin() -> &'static Rules {
        static BUILTIN: OnceLock<Rules> = OnceLock::new();
        BUILTIN
            .get_or_init(|| Rules::new(0, Taxonomy::builtin().clone(), Calendar::builtin().clone()))
    }

    /// A whole rules file (as [`Rules::to_toml`] writes it) as version `version`.
    pub fn from_toml(version: u64, text: &str) -> Result<Rules> {
        let file = RulesFile::parse(text)?;
        let assessment = file.assessment.unwrap_or_default();
        let retention = file.retention.unwrap_or_default();
        match (file.taxonomy, file.calendar) {
            (Some(taxonomy), Some(calendar)) => Ok(Rules {
                assessment,
                retention,
                ..Rules::new(version, taxonomy, calendar)
            }),
            (None, _) => Err(Error::Rules("the rules lack a catalogue".into())),
            (_, None) => Err(Error::Rules("the rules lack a calendar".into())),
        }
    }

    /// The rules as one file in the shipped files' format; [`Rules::from_toml`] reads it back.
    pub fn to_toml(&self) -> String {
        format!(
            "# gridsync rules (规则): category catalogue, departments, patrol checklist and \
             working-day calendar.\n# Exported from version {}; import with \
             `gridsync rules import FILE`.\n\nversion = {FORMAT_VERSION}\n{}{}{}{}{}",
            self.version,
            self.calendar.toml_keys(),
            self.taxonomy.to_toml_body(),
            self.calendar.toml_tables(),
            self.assessment.to_toml(),
            self.retention.to_toml()
        )
    }

    /// These rules with `file` taken in: its catalogue replaces this one, its calendar's years
    /// replace the same years here. The version stays; the caller numbers the result.
    pub fn with_file(&self, file: RulesFile) -> Result<Rules> {
        Ok(Rules {
            version: self.version,
            taxonomy: file.taxonomy.unwrap_or_else(|| self.taxonomy.clone()),
            calendar: match file.calendar {
                Some(c) => self.calendar.with_years_of(&c)?,
                None => self.calendar.clone(),
            },
            assessment: file.assessment.unwrap_or_else(|| self.assessment.clone()),
            retention: file.retention.unwrap_or_else(|| self.retention.clone()),
        })
    }

    /// These rules with another catalogue (a change made in the console).
    pub fn with_taxonomy(&self, taxonomy: Taxonomy) -> Rules {
        Rules {
            taxonomy,
            ..self.clone()
        }
    }

    /// The same rules numbered `version`.
    pub fn numbered(self, version: u64) -> Rules {
        Rules { version, ..self }
    }

    /// Whether `other` says the same as these rules, whatever the versions.
    pub fn same_as(&self, other: &Rules) -> bool {
        self.taxonomy.to_toml_body() == other.taxonomy.to_toml_body()
            && self.calendar == other.calendar
            && self.assessment == other.assessment
            && self.retention == other.retention
    }

    /// How long the personal data of archived cases is kept, per kind (ADR 0029).
    pub fn retention(&self) -> &RetentionRules {
        &self.retention
    }

    /// The county's assessment settings (weights, lists, accountability triggers).
    pub fn assessment(&self) -> &AssessmentRules {
        &self.assessment
    }

    /// These rules with other assessment settings (a change made in the console).
    pub fn with_assessment(&self, assessment: AssessmentRules) -> Rules {
        Rules {
            assessment,
            ..self.clone()
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// What deadlines are computed with under these rules.
    pub fn deadlines(&self) -> Deadlines<'_> {
        Deadlines {
            taxonomy: &self.taxonomy,
            calendar: &self.calendar,
            version: self.version,
        }
    }

    /// The warning due at `at` when the calendar lacks this year or, from 1 December on, next
    /// year: deadlines over that year would count only weekends as days off.
    pub fn calendar_warning(&self, at: Millis) -> Option<CalendarWarning> {
        self.calendar
            .missing_year(at)
            .map(|year| CalendarWarning { year })
    }
}

/// The calendar lacks a year that deadlines need now or soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarWarning {
    pub year: i32,
}

impl CalendarWarning {
    /// Machine-readable, for apps and monitoring.
    pub const CODE: &'static str = "calendar_missing_year";

    /// For the people who can fix it, in Chinese.
    pub fn message(&self) -> String {
        format!(
            "工作日历缺少 {} 年的节假日安排：该年的期限只按周一至周五计算。请县级管理员导入国务院办公厅发布的 {} 年节假日安排（gridsync rules import）。",
            self.year, self.year
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::TimeLimit;

    const YEAR_2027: &str = r#"version = 1
utc_offset_minutes = 480
years = [2027]

[[holiday]]
name = "春节"
days = ["2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]
workdays = ["2027-02-20"]
"#;

    fn refusal(text: &str) -> String {
        match RulesFile::parse(text) {
            Err(Error::Rules(msg)) => msg,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn exported_rules_read_back_the_same() {
        let rules = Rules::builtin();
        let back = Rules::from_toml(7, &rules.to_toml()).unwrap();
        assert!(back.same_as(rules));
        assert_eq!(back.version(), 7);
        assert_eq!(
            back.to_toml().replace("version 7", "version 0"),
            rules.to_toml()
        );
    }

    #[test]
    fn a_calendar_file_adds_its_year_and_keeps_the_others() {
        let file = RulesFile::parse(YEAR_2027).unwrap();
        assert!(file.taxonomy.is_none());
        let rules = Rules::builtin().with_file(file).unwrap();
        let years: Vec<i32> = rules.calendar().years().collect();
        assert_eq!(years, [2026, 2027]);
        assert_eq!(
            rules.taxonomy().to_toml_body(),
            Taxonomy::builtin().to_toml_body()
        );
        // 2026's Spring Festival is still there; 2027's counts now.
        let cal = rules.calendar();
        let friday = cal.local_midnight("2027-02-05").unwrap() + 10 * 3_600_000;
        let (due, guessed) = cal.due_flagged(friday, TimeLimit::WorkingDays(1));
        // Friday 5 February: the holiday runs Saturday 6 to Friday 12, then a weekend: Monday 15.
        assert_eq!(due, cal.local_midnight("2027-02-16").unwrap());
        assert!(!guessed);
        assert!(!cal.is_working_day(cal.local_midnight("2026-02-16").unwrap()));
        // Importing the year again replaces it rather than adding to it.
        let again = rules
            .with_file(RulesFile::parse(&YEAR_2027.replace(", \"2027-02-12\"", "")).unwrap())
            .unwrap();
        assert!(
            again
                .calendar()
                .is_working_day(cal.local_midnight("2027-02-12").unwrap())
        );
    }

    #[test]
    fn deadlines_over_an_unlisted_year_are_flagged() {
        let cal = Rules::builtin().calendar();
        let dec = cal.local_midnight("2026-12-30").unwrap();
        assert!(cal.due_flagged(dec, TimeLimit::WorkingDays(5)).1);
        assert!(!cal.due_flagged(dec, TimeLimit::WorkingDays(1)).1);
        assert!(!cal.due_flagged(dec, TimeLimit::Hours(72)).1);
        let warn =
            |date: &str| Rules::builtin().calendar_warning(cal.local_midnight(date).unwrap());
        assert_eq!(warn("2026-11-30"), None);
        assert_eq!(warn("2026-12-01"), Some(CalendarWarning { year: 2027 }));
        assert_eq!(warn("2027-03-01"), Some(CalendarWarning { year: 2027 }));
        assert!(warn("2026-12-01").unwrap().message().contains("2027"));
    }

    #[test]
    fn bad_rules_files_are_refused_naming_the_line() {
        let catalogue = |kinds: &str, limit: &str, dept: &str| {
            format!(
                "version = 1\n\n[departments.water]\nname_zh = \"水务局\"\nname_en = \"Water\"\n\n\
                 [[category]]\ncode = \"leak\"\nname_zh = \"漏水\"\nname_en = \"Leak\"\n\
                 kinds = [{kinds}]\nlimit = \"{limit}\"\ndepartment = \"{dept}\"\n"
            )
        };
        assert!(RulesFile::parse(&catalogue("\"incident\"", "3wd", "water")).is_ok());
        let msg = refusal(&catalogue("\"complaint\"", "3wd", "water"));
        assert!(
            msg.starts_with("line 11:") && msg.contains("unknown kind \"complaint\""),
            "{msg}"
        );
        let msg = refusal(&catalogue("\"incident\"", "-3wd", "water"));
        assert!(
            msg.starts_with("line 12:") && msg.contains("bad time limit"),
            "{msg}"
        );
        let msg = refusal(&catalogue("\"incident\"", "3wd", "fire"));
        assert!(
            msg.starts_with("line 13:") && msg.contains("unknown department \"fire\""),
            "{msg}"
        );
        let msg = refusal(&YEAR_2027.replace(
            "workdays = [\"2027-02-20\"]",
            "workdays = [\"2027-02-20\",\n  \"2027-02-06\"]",
        ));
        assert!(
            msg.starts_with("line 9:") && msg.contains("both a holiday and a make-up"),
            "{msg}"
        );
        let msg = refusal("version = 1\ncolour = 3\n");
        assert!(msg.contains("line 2: unknown key `colour`"), "{msg}");
        let msg = refusal("version = 1\n");
        assert!(msg.contains("neither a catalogue"), "{msg}");
        // A syntax error carries toml's own line and column.
        assert!(refusal("version = 1\n[[category]\n").contains("line 2"));
    }
}
