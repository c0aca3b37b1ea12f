//! The category taxonomy (事项分类): which categories a case of each kind may take, the time limit
//! (办结时限) to close a case of that category, and the department it is routed to.
//!
//! The catalogue is data, not code: the crate ships `categories.toml` ([`Taxonomy::builtin`]) and a
//! deployment may load its own ([`Taxonomy::load`]). Both pass the same checks, so the rest of the
//! core can trust every code, kind, limit and department reference it finds here. The time
//! limits' own format ([`TimeLimit`]) is in `limit`.

mod limit;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use toml::Spanned;

pub use limit::TimeLimit;

use crate::tomlfile::{check_file, line_at, syntax};
use crate::vocab::CaseKind;
use crate::{Error, Result};
use limit::bad_limit;

// Codes end up in case documents, SQL columns and URLs: keep them short and plain.
const MAX_CODE_LEN: usize = 64;

/// A department cases are routed to (职能部门).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Time to sign for an assigned case (签收) before it is supervised.
    pub sign_within: TimeLimit,
}

/// One category of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The case kinds this category applies to, in catalogue order.
    pub kinds: Vec<String>,
    pub limit: TimeLimit,
    /// The responsible department's code; `None` when the grid and township handle it themselves.
    pub department: Option<String>,
}

impl Category {
    /// Whether a case of `kind` may take this category.
    pub fn applies_to(&self, kind: &str) -> bool {
        self.kinds.iter().any(|k| k == kind)
    }
}

/// One item of the patrol checklist (巡查事项): what a patrol looks at in a grid. A patrol
/// record writes `check.<code>` = `ok` or `issue` into its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatrolItem {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A checked category catalogue: unique codes, known kinds, valid limits, known departments.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    categories: BTreeMap<String, Category>,
    departments: BTreeMap<String, Department>,
    accept_within: TimeLimit,
    patrol_checklist: Vec<PatrolItem>,
}

/// Without a setting: a level answers (受理) a case and a department signs for one within a
/// working day.
const DEFAULT_ACCEPT_WITHIN: TimeLimit = TimeLimit::WorkingDays(1);
const DEFAULT_SIGN_WITHIN: TimeLimit = TimeLimit::WorkingDays(1);

impl Taxonomy {
    /// The catalogue shipped in `sync-core/categories.toml`, parsed on first use.
    pub fn builtin() -> &'static Taxonomy {
        static BUILTIN: OnceLock<Taxonomy> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // The shipped file is compiled in and checked by the tests below, so this cannot fail
            // in a released build.
            Taxonomy::from_toml_str(include_str!("../../categories.toml"))
                .expect("the shipped categories.toml is valid")
        })
    }

    /// Parses and checks a catalogue; the error names the offending entry and its line.
    pub fn from_toml_str(text: &str) -> Result<Taxonomy> {
        check_file(text, "catalogue", &TAXONOMY_KEYS).map_err(as_taxonomy)?;
        let raw: RawTaxonomy = toml::from_str(text).map_err(|e| as_taxonomy(syntax(e)))?;
        Taxonomy::check(raw, text).map_err(as_taxonomy)
    }

    /// Reads a deployment's own catalogue file.
    pub fn load(path: &Path) -> Result<Taxonomy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Taxonomy(format!("cannot read {}: {e}", path.display())))?;
        Taxonomy::from_toml_str(&text).map_err(|e| match e {
            Error::Taxonomy(msg) => Error::Taxonomy(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.get(code)
    }

    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.get(code)
    }

    /// All departments, ordered by code.
    pub fn departments(&self) -> impl Iterator<Item = &Department> {
        self.departments.values()
    }

    /// The patrol checklist, in catalogue order.
    pub fn patrol_checklist(&self) -> &[PatrolItem] {
        &self.patrol_checklist
    }

    /// Time for a level to answer (受理) a case reported, escalated or returned to it.
    pub fn accept_within(&self) -> TimeLimit {
        self.accept_within
    }

    /// All categories, ordered by code.
    pub fn categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.values()
    }

    /// The categories a case of `kind` may take, ordered by code.
    pub fn categories_for_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a Category> + 'a {
        self.categories.values().filter(move |c| c.applies_to(kind))
    }

    /// The catalogue's keys in the shipped file's format (without `version`).
    pub fn to_toml_body(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let mut out = format!("accept_within = {}\n", q(&self.accept_within.to_string()));
        for d in self.departments.values() {
            out.push_str(&format!(
                "\n[departments.{}]\nname_zh = {}\nname_en = {}\nsign_within = {}\n",
                d.code,
                q(&d.name_zh),
                q(&d.name_en),
                q(&d.sign_within.to_string())
            ));
        }
        for c in self.categories.values() {
            let kinds: Vec<String> = c.kinds.iter().map(|k| q(k)).collect();
            out.push_str(&format!(
                "\n[[category]]\ncode = {}\nname_zh = {}\nname_en = {}\nkinds = [{}]\nlimit = {}\n",
                q(&c.code),
                q(&c.name_zh),
                q(&c.name_en),
                kinds.join(", "),
                q(&c.limit.to_string())
            ));
            if let Some(d) = &c.department {
                out.push_str(&format!("department = {}\n", q(d)));
            }
        }
        for p in &self.patrol_checklist {
            out.push_str(&format!(
                "\n[[patrol_item]]\ncode = {}\nname_zh = {}\nname_en = {}\n",
                q(&p.code),
                q(&p.name_zh),
                q(&p.name_en)
            ));
        }
        out
    }

    /// This catalogue with `category`'s time limit set to `limit`.
    pub fn with_limit(&self, category: &str, limit: TimeLimit) -> Result<Taxonomy> {
        let mut t = self.clone();
        t.categories
            .get_mut(category)
            .ok_or_else(|| Error::Rules(format!("unknown category {category:?}")))?
            .limit = limit;
        Ok(t)
    }

    /// This catalogue with `category` routed to `department` (`None`: the grid and township
    /// handle it themselves).
    pub fn with_default_department(
        &self,
        category: &str,
        department: Option<&str>,
    ) -> Result<Taxonomy> {
        if let Some(d) = department
            && !self.departments.contains_key(d)
        {
            return Err(Error::Rules(format!("unknown department {d:?}")));
        }
        let mut t = self.clone();
        t.categories
            .get_mut(category)
            .ok_or_else(|| Error::Rules(format!("unknown category {category:?}")))?
            .department = department.map(str::to_owned);
        Ok(t)
    }

    /// This catalogue with `department` added (or, with a code it has, replaced).
    pub fn with_department(&self, department: Department) -> Result<Taxonomy> {
        let what = format!("department {:?}", department.code);
        check_code(&what, &department.code)?;
        let d = Department {
            name_zh: required_name(&what, "name_zh", department.name_zh)?,
            name_en: required_name(&what, "name_en", department.name_en)?,
            ..department
        };
        let mut t = self.clone();
        t.departments.insert(d.code.clone(), d);
        Ok(t)
    }

    /// This catalogue plus the categories and departments `older` has and it lacks: what a
    /// server admits, so a case captured offline under earlier rules is not refused because the
    /// county retired its category since.
    pub fn with_retired(&self, older: &Taxonomy) -> Taxonomy {
        let mut t = self.clone();
        for (code, c) in &older.categories {
            t.categories
                .entry(code.clone())
                .or_insert_with(|| c.clone());
        }
        for (code, d) in &older.departments {
            t.departments
                .entry(code.clone())
                .or_insert_with(|| d.clone());
        }
        t
    }

    /// Checks a parsed catalogue; errors (as [`Error::Rules`]) name the entry and its line in
    /// `text`.
    pub(crate) fn check(raw: RawTaxonomy, text: &str) -> Result<Taxonomy> {
        let line = |span: std::ops::Range<usize>| line_at(text, span.start);
        let mut departments = BTreeMap::new();
        for (code, d) in raw.departments {
            let what = format!("line {}: department {code:?}", line(d.span()));
            let d = d.into_inner();
            check_code(&what, &code)?;
            let name_zh = required_name(&what, "name_zh", d.name_zh)?;
            let name_en = required_name(&what, "name_en", d.name_en)?;
            let sign_within =
                optional_limit(&what, "sign_within", d.sign_within)?.unwrap_or(DEFAULT_SIGN_WITHIN);
            departments.insert(
                code.clone(),
                Department {
                    code,
                    name_zh,
                    name_en,
                    sign_within,
                },
            );
        }

        if raw.category.is_empty() {
            return Err(Error::Rules(
                "the catalogue has no [[category]] entries".into(),
            ));
        }
        let mut categories = BTreeMap::new();
        for (i, c) in raw.category.into_iter().enumerate() {
            let at = line(c.span());
            let c = c.into_inner();
            // Entries are numbered from 1 as a person counts them in the file.
            let what = format!("line {at}: category #{} {:?}", i + 1, c.code);
            check_code(&what, &c.code)?;
            if categories.contains_key(&c.code) {
                return Err(Error::Rules(format!("{what}: duplicate code")));
            }
            let name_zh = required_name(&what, "name_zh", c.name_zh)?;
            let name_en = required_name(&what, "name_en", c.name_en)?;

            let kinds_line = line(c.kinds.span());
            let kinds = c.kinds.into_inner();
            let what_kinds = format!("line {kinds_line}: category {:?}", c.code);
            if kinds.is_empty() {
                return Err(Error::Rules(format!("{what_kinds}: kinds is empty")));
            }
            let mut seen = BTreeSet::new();
            for kind in &kinds {
                if CaseKind::parse(kind).is_none() {
                    return Err(Error::Rules(format!(
                        "{what_kinds}: unknown kind {kind:?}, expected one of {}",
                        CaseKind::ALL.map(CaseKind::as_str).join(", ")
                    )));
                }
                if !seen.insert(kind.as_str()) {
                    return Err(Error::Rules(format!(
                        "{what_kinds}: kind {kind:?} listed twice"
                    )));
                }
            }

            let limit = TimeLimit::parse(c.limit.get_ref()).ok_or_else(|| {
                Error::Rules(format!(
                    "line {}: category {:?}: {}",
                    line(c.limit.span()),
                    c.code,
                    bad_limit(c.limit.get_ref())
                ))
            })?;

            if let Some(dept) = &c.department
                && !departments.contains_key(dept.get_ref())
            {
                return Err(Error::Rules(format!(
                    "line {}: category {:?}: unknown department {:?}, add it under [departments]",
                    line(dept.span()),
                    c.code,
                    dept.get_ref()
                )));
            }

            categories.insert(
                c.code.clone(),
                Category {
                    code: c.code,
                    name_zh,
                    name_en,
                    kinds,
                    limit,
                    department: c.department.map(Spanned::into_inner),
                },
            );
        }
        let mut patrol_checklist = Vec::new();
        for (i, p) in raw.patrol_item.into_iter().enumerate() {
            let what = format!(
                "line {}: patrol_item #{} {:?}",
                line(p.span()),
                i + 1,
                p.get_ref().code
            );
            let p = p.into_inner();
            check_code(&what, &p.code)?;
            if patrol_checklist
                .iter()
                .any(|x: &PatrolItem| x.code == p.code)
            {
                return Err(Error::Rules(format!("{what}: duplicate code")));
            }
            patrol_checklist.push(PatrolItem {
                name_zh: required_name(&what, "name_zh", p.name_zh)?,
                name_en: required_name(&what, "name_en", p.name_en)?,
                code: p.code,
            });
        }
        let accept_within = match raw.accept_within {
            Some(a) => {
                let what = format!("line {}: the catalogue", line(a.span()));
                optional_limit(&what, "accept_within", Some(a.into_inner()))?
            }
            None => None,
        };
        Ok(Taxonomy {
            categories,
            departments,
            patrol_checklist,
            accept_within: accept_within.unwrap_or(DEFAULT_ACCEPT_WITHIN),
        })
    }
}

/// A catalogue error as the standalone catalogue reports it.
fn as_taxonomy(e: Error) -> Error {
    match e {
        Error::Rules(msg) => Error::Taxonomy(msg),
        other => other,
    }
}

/// Codes are lowercase snake_case ASCII; dots may group them (`dispute.land_boundary`).
fn check_code(what: &str, code: &str) -> Result<()> {
    let segment_ok = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if code.len() > MAX_CODE_LEN || !code.split('.').all(segment_ok) {
        return Err(Error::Rules(format!(
            "{what}: code must be lowercase ASCII snake_case (letters, digits, `_`, `.` between \
             parts, starting with a letter, at most {MAX_CODE_LEN} bytes)"
        )));
    }
    Ok(())
}

fn optional_limit(what: &str, field: &str, value: Option<String>) -> Result<Option<TimeLimit>> {
    value
        .map(|v| {
            TimeLimit::parse(&v)
                .ok_or_else(|| Error::Rules(format!("{what}: {field}: {}", bad_limit(&v))))
        })
        .transpose()
}

fn required_name(what: &str, field: &str, value: String) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::Rules(format!("{what}: {field} is empty")));
    }
    Ok(trimmed.to_owned())
}

/// The top-level keys of a catalogue file besides `version`.
pub(crate) const TAXONOMY_KEYS: [&str; 4] =
    ["accept_within", "departments", "category", "patrol_item"];

/// A catalogue file as written. Unknown top-level keys are refused by the caller, which knows
/// the file's kind; unknown fields inside an entry are refused here, so a misspelt `limt` or
/// `departmnet` is not silently dropped.
#[derive(Deserialize)]
pub(crate) struct RawTaxonomy {
    pub accept_within: Option<Spanned<String>>,
    #[serde(default)]
    pub departments: BTreeMap<String, Spanned<RawDepartment>>,
    #[serde(default)]
    pub category: Vec<Spanned<RawCategory>>,
    #[serde(default)]
    pub patrol_item: Vec<Spanned<RawPatrolItem>>,
}

impl RawTaxonomy {
    pub(crate) fn is_empty(&self) -> bool {
        self.accept_within.is_none()
            && self.departments.is_empty()
            && self.category.is_empty()
            && self.patrol_item.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPatrolItem {
    code: String,
    name_zh: String,
    name_en: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDepartment {
    name_zh: String,
    name_en: String,
    sign_within: Option<String>,
}

// `limit` stays a string here so the error can name the category it belongs to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCategory {
    code: String,
    name_zh: String,
    name_en: String,
    kinds: Spanned<Vec<String>>,
    limit: Spanned<String>,
    department: Option<Spanned<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A small valid catalogue; tests break one thing in it at a time.
    const MINIMAL: &str = r#"
version = 1

[departments.housing]
name_zh = "住建局"
name_en = "Housing and Construction Bureau"

[[category]]
code = "elevator_repair"
name_zh = "电梯维修"
name_en = "Elevator repair"
kinds = ["request", "incident"]
limit = "1wd"
department = "housing"
"#;

    fn with(from: &str, to: &str) -> String {
        assert!(MINIMAL.contains(from), "test fixture lacks {from:?}");
        MINIMAL.replacen(from, to, 1)
    }

    /// The message of the `Error::Taxonomy` that `text` must produce.
    fn refusal(text: &str) -> String {
        match Taxonomy::from_toml_str(text) {
            Err(Error::Taxonomy(msg)) => msg,
            Err(other) => panic!("expected Error::Taxonomy, got {other:?}"),
            Ok(t) => panic!("expected an error, got {t:?}"),
        }
    }

    #[test]
    fn builtin_parses_with_a_realistic_size() {
        let n = Taxonomy::builtin().categories().count();
        assert!((20..=30).contains(&n), "{n} categories");
    }

    #[test]
    fn builtin_limits_follow_the_articles() {
        let t = Taxonomy::builtin();
        let limit = |code| t.category(code).map(|c| c.limit);
        assert_eq!(limit("policy_question"), Some(TimeLimit::Hours(1)));
        assert_eq!(limit("elevator_repair"), Some(TimeLimit::WorkingDays(1)));
    }

    #[test]
    fn builtin_covers_every_kind() {
        let t = Taxonomy::builtin();
        for kind in CaseKind::ALL {
            assert!(
                t.categories_for_kind(kind.as_str()).next().is_some(),
                "no category for {kind}"
            );
        }
    }

    #[test]
    fn builtin_declares_only_departments_it_uses() {
        let t = Taxonomy::builtin();
        let used: BTreeSet<_> = t
            .categories()
            .filter_map(|c| c.department.as_deref())
            .collect();
        let declared: BTreeSet<_> = t.departments.keys().map(String::as_str).collect();
        assert_eq!(used, declared);
    }

    #[test]
    fn builtin_has_the_dispute_types_of_the_articles() {
        let t = Taxonomy::builtin();
        let disputes: Vec<_> = t
            .categories_for_kind("dispute")
            .map(|c| c.code.as_str())
            .collect();
        for code in [
            "dispute_marriage_family",
            "dispute_neighbours",
            "dispute_land_boundary",
            "dispute_traffic_accident",
            "dispute_medical",
            "dispute_labour",
            "dispute_property",
        ] {
            assert!(disputes.contains(&code), "{code} missing from {disputes:?}");
        }
    }

    #[test]
    fn categories_for_kind_filters() {
        let t = Taxonomy::builtin();
        assert!(
            t.categories_for_kind("dispute")
                .all(|c| c.applies_to("dispute"))
        );
        assert!(
            !t.categories_for_kind("dispute")
                .any(|c| c.code == "policy_question")
        );
        assert_eq!(t.categories_for_kind("no_such_kind").count(), 0);
    }

    #[test]
    fn lookups_resolve() {
        let t = Taxonomy::builtin();
        let elevator = t.category("elevator_repair");
        assert_eq!(elevator.map(|c| c.name_zh.as_str()), Some("电梯维修"));
        let dept = elevator.and_then(|c| c.department.as_deref());
        assert_eq!(
            dept.and_then(|d| t.department(d)).map(|d| d.code.as_str()),
            dept
        );
        assert!(t.category("no_such_category").is_none());
        assert!(t.department("no_such_department").is_none());
    }

    #[test]
    fn minimal_catalogue_parses() -> Result<()> {
        let t = Taxonomy::from_toml_str(MINIMAL)?;
        let c = t.category("elevator_repair");
        assert_eq!(
            c.map(|c| c.kinds.clone()),
            Some(vec!["request".into(), "incident".into()])
        );
        assert_eq!(c.and_then(|c| c.department.as_deref()), Some("housing"));
        assert_eq!(
            t.department("housing").map(|d| d.name_zh.as_str()),
            Some("住建局")
        );
        Ok(())
    }

    #[test]
    fn duplicate_code_is_refused() {
        let second = MINIMAL
            .split_once("[[category]]")
            .map(|(_, c)| c)
            .unwrap_or_default();
        let text = format!("{MINIMAL}\n[[category]]{second}");
        let msg = refusal(&text);
        assert!(
            msg.contains("duplicate") && msg.contains("elevator_repair"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_kind_is_refused() {
        let msg = refusal(&with(r#""incident"]"#, r#""complaint"]"#));
        assert!(
            msg.contains("unknown kind") && msg.contains("complaint"),
            "{msg}"
        );
    }

    #[test]
    fn repeated_and_missing_kinds_are_refused() {
        assert!(refusal(&with(r#""incident"]"#, r#""request"]"#)).contains("twice"));
        assert!(refusal(&with(r#"["request", "incident"]"#, "[]")).contains("kinds is empty"));
    }

    #[test]
    fn bad_limits_are_refused() {
        for bad in ["0h", "abc", "3d", "", "1.5h", "-1wd"] {
            let msg = refusal(&with(r#"limit = "1wd""#, &format!("limit = {bad:?}")));
            assert!(
                msg.contains("bad time limit") && msg.contains("elevator_repair"),
                "{msg}"
            );
        }
    }

    #[test]
    fn unknown_department_is_refused() {
        let msg = refusal(&with(
            r#"department = "housing""#,
            r#"department = "water""#,
        ));
        assert!(
            msg.contains("unknown department") && msg.contains("water"),
            "{msg}"
        );
    }

    #[test]
    fn empty_names_are_refused() {
        assert!(refusal(&with(r#""电梯维修""#, r#""  ""#)).contains("name_zh is empty"));
        assert!(
            refusal(&with(
                r#"name_en = "Housing and Construction Bureau""#,
                r#"name_en = """#
            ))
            .contains("name_en is empty")
        );
    }

    #[test]
    fn bad_codes_are_refused() {
        for bad in ["Elevator", "elevator repair", "", "1st", "a..b", "电梯"] {
            let msg = refusal(&with(
                r#"code = "elevator_repair""#,
                &format!("code = {bad:?}"),
            ));
            assert!(msg.contains("snake_case"), "{bad:?}: {msg}");
        }
        assert!(
            Taxonomy::from_toml_str(&with(r#""elevator_repair""#, r#""request.elevator""#)).is_ok()
        );
    }

    #[test]
    fn versions_other_than_one_are_refused() {
        assert!(
            refusal(&with("version = 1", "version = 2"))
                .contains("unsupported catalogue version 2")
        );
        assert!(refusal(&with("version = 1", "")).contains("version"));
    }

    #[test]
    fn misspelt_fields_and_empty_catalogues_are_refused() {
        assert!(refusal(&with("limit =", "limt =")).contains("limt"));
        assert!(refusal("version = 1").contains("no [[category]]"));
        assert!(!refusal("version = 1\n[[category]\n").is_empty());
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::Storage(e.to_string()))?;
        let path = dir.path().join("categories.toml");
        std::fs::write(&path, MINIMAL).map_err(|e| Error::Storage(e.to_string()))?;
        assert!(Taxonomy::load(&path)?.category("elevator_repair").is_some());

        std::fs::write(&path, with("version = 1", "version = 3"))
            .map_err(|e| Error::Storage(e.to_string()))?;
        match Taxonomy::load(&path) {
            Err(Error::Taxonomy(msg)) => assert!(
                msg.contains("categories.toml") && msg.contains("version 3"),
                "{msg}"
            ),
            other => panic!("expected Error::Taxonomy, got {other:?}"),
        }
        match Taxonomy::load(&dir.path().join("missing.toml")) {
            Err(Error::Taxonomy(msg)) => assert!(msg.contains("missing.toml"), "{msg}"),
            other => panic!("expected Error::Taxonomy, got {other:?}"),
        }
        Ok(())
    }

    proptest! {

        // Deployment files are typed by people: nothing in them may panic the loader.
        #[test]
        fn any_text_gives_a_catalogue_or_a_taxonomy_error(s in "\\PC*") {
            let result = Taxonomy::from_toml_str(&s);
            prop_assert!(matches!(result, Ok(_) | Err(Error::Taxonomy(_))));
        }

        #[test]
        fn mangled_minimal_catalogues_never_panic(at in 0..MINIMAL.len(), junk in "[\\[\\]=\"a-z0-9 \n]{0,8}") {
            let mut text = MINIMAL.to_owned();
            if text.is_char_boundary(at) {
                text.insert_str(at, &junk);
            }
            let result = Taxonomy::from_toml_str(&text);
            prop_assert!(matches!(result, Ok(_) | Err(Error::Taxonomy(_))));
        }
    }
}
