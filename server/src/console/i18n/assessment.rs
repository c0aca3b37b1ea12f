//! The words of 考核 and 问责 (issue 23): the ranking, its drill-down and monthly report, the
//! townships' scores of departments (基层评议) and the accountability records. (key, 中文,
//! English), read by [`Lang::t`](super::Lang::t) after the console's own; and the core's
//! assessment names in the reader's language.

use gridsync_core::assessment::{Decision, Figure, Trigger, UnitKind};

use super::{Lang, english};

impl Lang {
    /// An assessment figure's name (按时签收 …).
    pub fn figure(self, f: Figure) -> String {
        match self {
            Lang::Zh => f.name_zh().to_owned(),
            Lang::En => english(f.as_str()),
        }
    }

    /// A kind of assessed unit (职能部门 …).
    pub fn unit_kind(self, k: UnitKind) -> String {
        match self {
            Lang::Zh => k.name_zh().to_owned(),
            Lang::En => english(k.as_str()),
        }
    }

    /// An accountability trigger (连续两次验收不通过 …).
    pub fn trigger(self, t: Trigger) -> String {
        match self {
            Lang::Zh => t.name_zh().to_owned(),
            Lang::En => english(t.as_str()),
        }
    }

    /// The county's decision on a record (约谈 …).
    pub fn decision(self, d: Decision) -> String {
        match self {
            Lang::Zh => d.name_zh().to_owned(),
            Lang::En => english(d.as_str()),
        }
    }
}

pub(super) const STRINGS: &[(&str, &str, &str)] = &[
    // The ranking.
    ("assessment", "考核", "Assessment"),
    ("as_title", "考核排名", "Assessment ranking"),
    ("as_kind", "考核对象", "Assessed"),
    ("as_month", "月份", "Month"),
    ("as_or_dates", "或自定期间", "or any period"),
    ("as_show", "查看", "Show"),
    ("as_period", "考核期间", "Period"),
    ("as_rank", "名次", "Rank"),
    ("as_unit", "单位", "Unit"),
    ("as_score", "得分", "Score"),
    ("as_rate", "率", "rate"),
    ("as_township_avg", "基层评议均分", "Townships' average"),
    ("as_red", "红榜", "Red list"),
    ("as_black", "黑榜", "Black list"),
    ("as_lists", "红黑榜", "Red and black lists"),
    ("as_weights", "考核权重", "Weights"),
    ("as_weight", "权重", "Weight"),
    ("as_figure", "考核指标", "Figure"),
    (
        "as_weights_note",
        "权重和红黑榜名额由县级在规则（规则）中设定；得分为各项比率按权重的加权平均（0–100），超时、退回、验收不通过按“1 − 比率”计。",
        "The weights and the length of the lists are set by the county in its rules; a score is the weighted mean of the rates (0–100), overdue, returned and reopened counting as one minus their rate.",
    ),
    ("as_red_n", "红榜名额", "Red list"),
    (
        "as_black_n_departments",
        "黑榜名额（职能部门）",
        "Black list (departments)",
    ),
    (
        "as_black_n_areas",
        "黑榜名额（乡镇、村、网格员）",
        "Black list (areas, workers)",
    ),
    ("as_township_rating", "基层评议", "Townships' scores"),
    (
        "as_no_rows",
        "本期间没有您可查看的考核数据",
        "No figures you may see in this period",
    ),
    (
        "as_bad_period",
        "期间无效，已显示本月",
        "Not a valid period: this month is shown",
    ),
    (
        "as_counts_note",
        "点击数字查看对应案件。满意度为满意评价次数及其占评价次数之比；已回访为已办结案件中回访过的。",
        "Click a number for the cases behind it. Satisfaction counts satisfied ratings, as a share of ratings; return visits are of resolved cases.",
    ),
    (
        "as_not_assessed",
        "考核仅对县级指挥中心、乡镇综治中心和职能部门开放",
        "Assessment is for the county, the townships and the departments",
    ),
    ("as_forbidden", "无权查看", "Not yours to see"),
    ("as_export", "导出月报（Excel）", "Monthly report (Excel)"),
    (
        "as_print",
        "打印月报（A4）",
        "Print the monthly report (A4)",
    ),
    ("as_report", "考核月报", "Assessment report"),
    // The drill-down.
    ("as_cases", "案件明细", "The cases"),
    ("as_case_id", "案件编号", "Case"),
    ("as_received_at", "接收时间", "Received"),
    ("as_sign_due", "签收时限", "Sign by"),
    ("as_signed_at", "签收时间", "Signed"),
    ("as_due", "办理时限", "Due"),
    ("as_done_at", "办结时间", "Done"),
    ("as_part", "主办/协办", "Lead or part"),
    ("as_lead", "主办", "lead"),
    ("as_assisting", "协办", "assisting"),
    ("as_holder", "承办人", "Held by"),
    ("as_back", "返回排名", "Back to the ranking"),
    (
        "as_satisfied_note",
        "此处列出有该类评价的案件；排名中的数字为满意评价次数。",
        "Listed: the cases rated this way; the ranking counts the satisfied ratings.",
    ),
    (
        "as_bad_drill",
        "考核对象或指标无效",
        "Not a unit kind or a figure",
    ),
    // 基层评议.
    ("rt_title", "基层评议", "Townships rate departments"),
    (
        "rt_explain",
        "乡镇每月为服务本乡镇的职能部门打分（1–5 分），计入部门考核得分；同一部门同一月份再次提交将替换原评分。",
        "Each month the township scores the departments that serve it (1–5); the scores enter the departments' assessment. Scoring a department again for the same month replaces the score.",
    ),
    ("rt_month", "评议月份", "Month"),
    ("rt_department", "职能部门", "Department"),
    ("rt_score", "评分", "Score"),
    ("rt_comment", "评语", "Comment"),
    ("rt_submit", "提交评议", "Save the score"),
    ("rt_saved", "评议已保存", "Score saved"),
    (
        "rt_entered",
        "本乡镇已录入的评议",
        "Scores this township entered",
    ),
    ("rt_by", "录入人", "Entered by"),
    ("rt_at", "录入时间", "Entered at"),
    ("rt_pick", "（请选择）", "(pick one)"),
    (
        "rt_only",
        "仅乡镇综治中心可录入基层评议",
        "Only township centres score departments",
    ),
    (
        "rt_bad_month",
        "评议月份无效，请按“年-月”填写，如 2026-11",
        "Not a month: write it as 2026-11",
    ),
    (
        "rt_bad_department",
        "请从目录中选择职能部门",
        "Pick a department of the catalogue",
    ),
    ("rt_bad_score", "评分须为 1 至 5 分", "The score is 1 to 5"),
    (
        "rt_long_comment",
        "评语不能超过 500 字",
        "The comment is at most 500 characters",
    ),
    ("rt_refused", "评议未能保存", "The score was not saved"),
    // 问责.
    ("acc_title", "问责处理", "Accountability"),
    (
        "acc_explain",
        "系统按县级规则中开启的问责情形自动生成记录，写明责任单位、当时的责任人和证明事件；由县级作出处理决定，全程留痕。",
        "Records are raised by the triggers switched on in the county's rules, naming the unit, the person holding the case then and the events that prove it; the county decides, and every decision is audited.",
    ),
    (
        "acc_only",
        "仅县级指挥中心可查看和处理问责记录",
        "Only the county centre sees and decides accountability records",
    ),
    ("acc_open", "待处理", "Undecided"),
    ("acc_decided", "已处理", "Decided"),
    ("acc_trigger", "问责情形", "Trigger"),
    ("acc_unit", "责任单位", "Unit"),
    ("acc_person", "责任人", "Person"),
    ("acc_case", "案件", "Case"),
    ("acc_events", "证明事件", "Proving events"),
    ("acc_raised", "发现时间", "Raised"),
    ("acc_decision", "处理决定", "Decision"),
    ("acc_note", "处理说明", "Note"),
    ("acc_decide", "提交决定", "Record the decision"),
    ("acc_decided_by", "决定人", "Decided by"),
    ("acc_decided_at", "决定时间", "Decided at"),
    ("acc_none", "没有记录", "No records"),
    ("acc_saved", "处理决定已记录", "Decision recorded"),
    (
        "acc_note_required",
        "请填写处理说明",
        "Write a note for the decision",
    ),
    ("acc_bad_decision", "请选择处理决定", "Pick a decision"),
    (
        "acc_already",
        "该记录已作出处理决定，不能再次处理",
        "This record is decided already",
    ),
    ("acc_not_found", "没有这条问责记录", "No such record"),
    (
        "acc_refused",
        "处理决定未能保存",
        "The decision was not saved",
    ),
    (
        "acc_event_missing",
        "（事件不在案件中）",
        "(not in the case)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_word_here_is_shadowed_by_an_earlier_table() {
        for (key, zh, en) in STRINGS {
            assert_eq!(Lang::Zh.t(key), *zh, "{key}");
            assert_eq!(Lang::En.t(key), *en, "{key}");
        }
        assert_eq!(Lang::Zh.decision(Decision::Talk), "约谈");
        assert_eq!(Lang::En.figure(Figure::SignedOnTime), "Signed on time");
    }
}
