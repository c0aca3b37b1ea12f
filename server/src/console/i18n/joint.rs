//! Joint dispatch's words (联合派单, issue 23): the case page's panel of the lead and assisting
//! departments, the dispatch form's assisting departments, the parts' own steps, and the return
//! visit's verdict. (key, 中文, English), read by [`Lang::joint`].

use gridsync_core::workflow::{EventType, Verdict};

use super::{Lang, english};

const STRINGS: &[(&str, &str, &str)] = &[
    (
        "parts_title",
        "承办部门（主办、协办）",
        "Departments (lead and assisting)",
    ),
    ("part_lead", "主办", "Lead"),
    ("part_assist", "协办", "Assisting"),
    ("part_role", "分工", "Role"),
    ("part_department", "部门", "Department"),
    ("part_assigned_at", "转办时间", "Dispatched"),
    ("part_signed", "签收", "Signed for"),
    ("part_done", "反馈/办结", "Reported / resolved"),
    ("part_due", "当前期限", "Due"),
    ("part_supervised", "督办", "Supervised"),
    ("part_overdue", "已超时", "overdue"),
    ("part_waiting", "未签收", "not signed"),
    ("part_open", "办理中", "open"),
    (
        "assist_pick",
        "协办部门（可多选，主办部门以外）",
        "Assisting departments (any besides the lead)",
    ),
    (
        "add_assist_title",
        "增加协办部门",
        "Add assisting departments",
    ),
    ("add_assist", "增加协办", "Add"),
    ("sign_part_title", "协办签收", "Sign for our part"),
    ("finish_part_title", "协办反馈", "Report our part done"),
    ("part_note", "办理情况（必填）", "What was done (required)"),
    (
        "part_note_required",
        "协办反馈须写明办理情况。",
        "Say what was done for the part.",
    ),
    (
        "resolve_reason_hint",
        "协办部门尚未全部反馈：如现在办结，须在“说明”中写明理由。",
        "Assisting departments have not all reported: to resolve now, give the reason in the note.",
    ),
    (
        "resolve_reason_required",
        "协办部门尚未全部反馈，办结须在“说明”中写明理由。",
        "Assisting departments have not all reported: resolving now needs a reason in the note.",
    ),
    (
        "assist_none_picked",
        "请至少选择一个协办部门。",
        "Pick at least one assisting department.",
    ),
    (
        "assist_is_lead",
        "主办部门不能同时作为协办部门。",
        "The lead department cannot also assist.",
    ),
    ("verdict", "回访结论", "Verdict"),
    ("verdict_none", "（不作结论）", "(no verdict)"),
    ("ev_part_assigned", "协办转办", "Assist"),
    ("ev_part_signed", "协办签收", "Sign for part"),
    ("ev_part_done", "协办反馈", "Report part"),
];

impl Lang {
    /// The text for a joint-dispatch `key`; an unknown key shows itself.
    pub fn joint(self, key: &'static str) -> &'static str {
        STRINGS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, zh, en)| self.pick(zh, en))
            .unwrap_or(key)
    }

    /// What a return visit found (办结属实 / 办结不实).
    pub fn verdict(self, v: Verdict) -> String {
        match self {
            Lang::Zh => v.name_zh().to_owned(),
            Lang::En => english(v.as_str()),
        }
    }

    /// The button of a part's step: the core's Chinese name, English here.
    pub fn part_step(self, e: EventType) -> &'static str {
        let key = match e {
            EventType::PartAssigned => "ev_part_assigned",
            EventType::PartSigned => "ev_part_signed",
            _ => "ev_part_done",
        };
        match self {
            Lang::Zh => e.name_zh(),
            Lang::En => self.joint(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages_and_parts_read_as_the_core_names_them() {
        for (k, zh, en) in STRINGS {
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
            assert_eq!(STRINGS.iter().filter(|(x, _, _)| x == k).count(), 1, "{k}");
        }
        assert_eq!(Lang::Zh.part_step(EventType::PartSigned), "协办签收");
        assert_eq!(Lang::En.part_step(EventType::PartDone), "Report part");
        assert_eq!(Lang::Zh.verdict(Verdict::Untrue), "办结不实");
        assert_eq!(Lang::En.verdict(Verdict::Confirmed), "Confirmed");
    }
}
