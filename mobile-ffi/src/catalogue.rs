//! The county's rules in force on this phone, for the app's pickers: categories per kind,
//! departments, the patrol checklist and the calendar's years. They come with sync (version 0
//! is what the build ships until the first sync), so apps never hard-code them.

use gridsync_core::rules::Rules;
use gridsync_core::vocab::CaseKind;

#[derive(Debug, Clone, uniffi::Record)]
pub struct CategoryRecord {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The case kinds it applies to.
    pub kinds: Vec<String>,
    /// The time limit: `"24h"` in clock hours or `"3wd"` in working days.
    pub limit: String,
    pub department: Option<String>,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct DepartmentRecord {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Time to sign for an assigned case (签收), `"4h"` or `"1wd"`.
    pub sign_within: String,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct ChecklistItemRecord {
    /// A patrol records `check.<code>` = `ok` or `issue` with `set_field`.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct KindRecord {
    pub code: String,
    pub name_zh: String,
}

/// The rules in force: what `FieldStore.rules()` returns.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RulesRecord {
    /// 0 until the first sync brought the county's.
    pub version: u64,
    pub kinds: Vec<KindRecord>,
    /// Every category, ordered by code; filter with `kinds` for a picker.
    pub categories: Vec<CategoryRecord>,
    pub departments: Vec<DepartmentRecord>,
    pub patrol_checklist: Vec<ChecklistItemRecord>,
    /// The years whose holidays the calendar lists; other years count only weekends.
    pub calendar_years: Vec<i32>,
}

impl From<&Rules> for RulesRecord {
    fn from(r: &Rules) -> Self {
        let t = r.taxonomy();
        RulesRecord {
            version: r.version(),
            kinds: CaseKind::ALL
                .iter()
                .map(|k| KindRecord {
                    code: k.as_str().to_owned(),
                    name_zh: k.name_zh().to_owned(),
                })
                .collect(),
            categories: t
                .categories()
                .map(|c| CategoryRecord {
                    code: c.code.clone(),
                    name_zh: c.name_zh.clone(),
                    name_en: c.name_en.clone(),
                    kinds: c.kinds.clone(),
                    limit: c.limit.to_string(),
                    department: c.department.clone(),
                })
                .collect(),
            departments: t
                .departments()
                .map(|d| DepartmentRecord {
                    code: d.code.clone(),
                    name_zh: d.name_zh.clone(),
                    name_en: d.name_en.clone(),
                    sign_within: d.sign_within.to_string(),
                })
                .collect(),
            patrol_checklist: t
                .patrol_checklist()
                .iter()
                .map(|p| ChecklistItemRecord {
                    code: p.code.clone(),
                    name_zh: p.name_zh.clone(),
                    name_en: p.name_en.clone(),
                })
                .collect(),
            calendar_years: r.calendar().years().collect(),
        }
    }
}
