//! The shipped catalogue, for the app's pickers: categories per kind and the patrol checklist.

use gridsync_core::taxonomy::Taxonomy;

#[derive(Debug, Clone, uniffi::Record)]
pub struct CategoryRecord {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The time limit: `"24h"` in clock hours or `"3wd"` in working days.
    pub limit: String,
    pub department: Option<String>,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct ChecklistItemRecord {
    /// A patrol records `check.<code>` = `ok` or `issue` with `set_field`.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// The categories a case of `kind` may take, ordered by code (empty for an unknown kind).
#[uniffi::export]
pub fn categories(kind: String) -> Vec<CategoryRecord> {
    Taxonomy::builtin()
        .categories_for_kind(&kind)
        .map(|c| CategoryRecord {
            code: c.code.clone(),
            name_zh: c.name_zh.clone(),
            name_en: c.name_en.clone(),
            limit: c.limit.to_string(),
            department: c.department.clone(),
        })
        .collect()
}

/// What a patrol looks at, in order.
#[uniffi::export]
pub fn patrol_checklist() -> Vec<ChecklistItemRecord> {
    Taxonomy::builtin()
        .patrol_checklist()
        .iter()
        .map(|p| ChecklistItemRecord {
            code: p.code.clone(),
            name_zh: p.name_zh.clone(),
            name_en: p.name_en.clone(),
        })
        .collect()
}
