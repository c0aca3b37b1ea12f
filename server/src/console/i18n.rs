//! The console's words, Chinese first (the staff read Chinese), English on request.

use gridsync_core::case::words::{Words, word_zh};
use gridsync_core::protocol::RejectCode;
use gridsync_core::workflow::Rating;
use gridsync_core::{CaseKind, Level, Role, Status};

mod assessment;
mod audit;
mod evidence;
mod front_door;
mod joint;
mod notices;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The catalogue's Chinese or English name.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        if self == Lang::Zh { zh } else { en }
    }

    /// The language the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The `lang` attribute of a page.
    pub fn html(self) -> &'static str {
        self.pick("zh-CN", "en")
    }

    pub fn from_code(s: &str) -> Lang {
        if s == "en" { Lang::En } else { Lang::Zh }
    }

    /// The text for `key`; an unknown key shows itself, so a gap is visible, not blank.
    pub fn t(self, key: &'static str) -> &'static str {
        STRINGS
            .iter()
            .chain(front_door::STRINGS)
            .chain(assessment::STRINGS)
            .chain(notices::STRINGS)
            .chain(evidence::STRINGS)
            .chain(audit::STRINGS)
            .find(|(k, _, _)| *k == key)
            .map(|(_, zh, en)| if self == Lang::Zh { *zh } else { *en })
            .unwrap_or(key)
    }

    pub fn status(self, s: &str) -> String {
        match (self, Status::parse(s)) {
            (Lang::Zh, Some(st)) => st.name_zh().to_owned(),
            _ => english(s),
        }
    }

    pub fn kind(self, s: &str) -> String {
        match (self, CaseKind::parse(s)) {
            (Lang::Zh, Some(k)) => k.name_zh().to_owned(),
            _ => english(s),
        }
    }

    pub fn level(self, s: &str) -> String {
        match (self, Level::parse(s)) {
            (Lang::Zh, Some(l)) => l.name_zh().to_owned(),
            _ => english(s),
        }
    }

    /// The requester's rating in words (满意 …).
    pub fn rating(self, r: Rating) -> String {
        match self {
            Lang::Zh => r.name_zh().to_owned(),
            Lang::En => english(r.as_str()),
        }
    }

    /// The channel a case came in through (来源): a `Source` value in words.
    pub fn source(self, s: &str) -> String {
        match (self, gridsync_core::Source::parse(s)) {
            (Lang::Zh, Some(x)) => x.name_zh().to_owned(),
            _ => english(s),
        }
    }

    /// A notice's kind in words (转办 …); a kind this build does not know reads as its code.
    pub fn notice_kind(self, s: &str) -> String {
        match (self, gridsync_core::notice::NoticeKind::parse(s)) {
            (Lang::Zh, Some(k)) => k.name_zh().to_owned(),
            _ => english(s),
        }
    }

    pub fn role(self, r: Role) -> String {
        match self {
            Lang::Zh => r.name_zh().to_owned(),
            Lang::En => english(r.as_str()),
        }
    }
}

/// `in_progress` → "In progress": codes read as words.
fn english(code: &str) -> String {
    let words = code.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

impl Lang {
    /// A documented value of the case (a party's role, a mediation's result …) in words.
    pub fn word(self, words: Words, value: &str) -> String {
        match (self, word_zh(words, value)) {
            (Lang::Zh, Some(zh)) => zh.to_owned(),
            _ => english(value),
        }
    }

    /// A field of the case document as a clerk names it: `title` → 标题, `people.1.phone` →
    /// 当事人2 · 电话, `extra.门牌` → 门牌 (the form's own label).
    pub fn field(self, path: &str) -> String {
        let mut words: Vec<String> = Vec::new();
        let mut in_extra = false;
        for segment in path.split('.') {
            if in_extra {
                words.push(segment.to_owned());
                in_extra = false;
                continue;
            }
            if let Ok(i) = segment.parse::<usize>() {
                match words.last_mut() {
                    Some(w) => w.push_str(&format!("{}{}", self.pick("", " "), i + 1)),
                    None => words.push((i + 1).to_string()),
                }
                continue;
            }
            if segment == "extra" {
                in_extra = true;
                continue;
            }
            words.push(match FIELDS.iter().find(|(k, _, _)| *k == segment) {
                Some((_, zh, en)) => self.pick(zh, en).to_owned(),
                None => segment.to_owned(),
            });
        }
        words.join(" · ")
    }
}

impl Lang {
    /// Why the server refused a console write, in words, by its code (`workflow_status` …);
    /// `None` for a code without words.
    pub fn refusal(self, code: &str) -> Option<&'static str> {
        let workflow = REFUSALS
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, zh, en)| self.pick(zh, en));
        // A change refused at admission: the protocol's own words (Chinese only).
        let admission = RejectCode::parse(code)
            .filter(|_| self == Lang::Zh)
            .map(RejectCode::name_zh);
        workflow.or(admission)
    }
}

/// Refusal codes a console write can meet: (code, 中文, English).
const REFUSALS: &[(&str, &str, &str)] = &[
    (
        "workflow_status",
        "案件当前的状态不能办理这一步。",
        "This step is not open at the case's status.",
    ),
    (
        "workflow_role",
        "您的角色不能办理这一步。",
        "Your role may not take this step.",
    ),
    (
        "workflow_level",
        "这一步须由更高一级办理。",
        "This step needs a higher level.",
    ),
    (
        "out_of_scope",
        "超出您的管辖范围。",
        "Outside your jurisdiction.",
    ),
    (
        "workflow_invalid",
        "填写的内容不完整或不符合要求。",
        "Something filled in is missing or not valid.",
    ),
    (
        "invalid_case",
        "案件内容不符合要求。",
        "The case's content is not valid.",
    ),
    (
        "invalid_input",
        "填写的内容不符合要求。",
        "Something filled in is not valid.",
    ),
    (
        "taxonomy",
        "事项分类或部门不在目录中。",
        "The category or department is not in the catalogue.",
    ),
];

/// The keys of the case document: (key, 中文, English).
const FIELDS: &[(&str, &str, &str)] = &[
    ("title", "标题", "Title"),
    ("description", "情况描述", "Description"),
    ("category", "事项分类", "Category"),
    ("kind", "类型", "Kind"),
    ("jurisdiction", "地点", "Place"),
    ("location", "位置", "Location"),
    ("address", "地址", "Address"),
    ("lat", "纬度", "Latitude"),
    ("lon", "经度", "Longitude"),
    ("accuracy_m", "定位精度", "Accuracy"),
    ("people", "当事人", "Person"),
    ("name", "姓名", "Name"),
    ("role", "身份", "Role"),
    ("phone", "电话", "Phone"),
    ("mediation", "调解", "Mediation"),
    ("agreement", "调解协议", "Agreement"),
    ("result", "调解结果", "Result"),
    ("referral", "移交", "Referred to"),
    ("sessions", "调解记录", "Session"),
    ("outcome", "结果", "Outcome"),
    ("notes", "记录", "Notes"),
    ("mediators", "调解员", "Mediators"),
    ("at", "时间", "Time"),
    ("attachments", "照片与材料", "Attachment"),
    ("caption", "说明", "Caption"),
];

/// (key, 中文, English).
const STRINGS: &[(&str, &str, &str)] = &[
    ("app", "网格通 综治中心工作台", "gridsync review console"),
    ("login", "登录", "Sign in"),
    ("logout", "退出", "Sign out"),
    ("user", "账号", "Account"),
    ("password", "密码", "Password"),
    ("bad_login", "账号或密码错误", "Wrong account or password"),
    ("cases", "案件", "Cases"),
    ("supervision", "督办", "Supervision"),
    ("dashboard", "统计", "Dashboard"),
    ("devices", "设备与账号", "Devices and accounts"),
    ("filter", "筛选", "Filter"),
    ("reset", "重置", "Reset"),
    ("status", "状态", "Status"),
    ("kind", "类型", "Kind"),
    ("category", "事项分类", "Category"),
    ("township", "乡镇", "Township"),
    ("village", "村/社区", "Village"),
    ("grid", "网格", "Grid"),
    ("overdue", "超时", "Overdue"),
    ("conflict", "有冲突", "In conflict"),
    ("accountability", "问责", "Accountability"),
    ("from", "起始日期", "From"),
    ("to", "截止日期", "To"),
    ("search", "标题检索", "Search titles"),
    ("sort", "排序", "Sort"),
    ("sort_newest", "最新上报", "Newest"),
    ("sort_oldest", "最早上报", "Oldest"),
    ("sort_due", "即将到期", "Due soonest"),
    ("sort_updated", "最近更新", "Recently changed"),
    ("all", "全部", "All"),
    ("total", "共", "Total"),
    ("items", "件", "cases"),
    ("title", "标题", "Title"),
    ("place", "地点", "Place"),
    ("level", "层级", "Level"),
    ("due", "办理时限", "Due"),
    ("reporter", "上报人", "Reported by"),
    ("reported_at", "上报时间", "Reported"),
    ("prev", "上一页", "Previous"),
    ("next", "下一页", "Next"),
    ("cancel", "取消", "Cancel"),
    ("first", "第一页", "First"),
    ("last", "最后一页", "Last"),
    ("what_changed", "内容", "What changed"),
    ("page", "页", "page"),
    ("export_csv", "导出 CSV", "Export CSV"),
    ("export_xlsx", "导出 Excel", "Export XLSX"),
    ("no_cases", "没有符合条件的案件", "No cases match"),
    ("description", "情况描述", "Description"),
    ("address", "地址", "Address"),
    ("people", "当事人", "People"),
    ("photos", "照片与材料", "Photos and documents"),
    (
        "no_photo_yet",
        "照片尚未上传到服务器",
        "Not uploaded to the server yet",
    ),
    ("fields", "其他信息", "Other fields"),
    ("mediation", "调解", "Mediation"),
    ("agreement", "调解协议", "Agreement"),
    ("result", "调解结果", "Result"),
    ("referral", "移交", "Referred to"),
    ("timeline", "办理记录", "Timeline"),
    ("device", "设备", "Device"),
    ("device_time", "设备时间", "Device time"),
    ("received_at", "服务器接收", "Received"),
    ("edited", "修改案件", "Edited the case"),
    ("conflicts", "冲突", "Conflicts"),
    ("keep", "保留此值", "Keep this"),
    ("value", "值", "Value"),
    (
        "conflict_explain",
        "几部手机在离线时改了同一项内容，同步后各自的值都保留了下来，没有丢失。请核实后点“保留此值”采用其中一个，或在下面填写正确的内容后点“写入新值”；您的决定记在您名下，在下次同步时发到各手机。",
        "Several phones changed the same field while offline; every value was kept, none lost. Check which is right and press \"Keep this\" on it, or type the right value below and press \"Write a new value\"; your choice is recorded in your name and reaches the phones on their next sync.",
    ),
    (
        "workflow_conflict_explain",
        "离线时几个人对本案办了相互矛盾的步骤（例如一人办结、一人退回）。在您选定之前，案件按已生效的步骤办理，另一步骤暂不生效；点“以此为准”确定一个，其余的作废，但仍留在办理记录中。",
        "While offline, people took steps on this case that contradict each other (one resolved it, another returned it). Until you choose, the case follows the step in effect and the other waits; press \"Choose this\" on one: the others are void but stay in the timeline.",
    ),
    ("write_new_label", "正确的内容", "The right value"),
    ("device_phone", "手机", "phone"),
    ("device_console", "工作台", "console"),
    ("device_server", "系统", "system"),
    ("system_user", "督办时钟", "supervision clock"),
    ("person", "人员", "Person"),
    ("print", "打印（A4）", "Print (A4)"),
    ("print_title", "案件办理单", "Case sheet"),
    ("steps", "办理步骤", "Steps"),
    ("step", "步骤", "Step"),
    ("sign_handler", "经办人签字", "Handled by (signature)"),
    ("sign_head", "负责人签字", "Approved by (signature)"),
    ("sign_date", "日期", "Date"),
    ("printed_by", "打印人", "Printed by"),
    ("write_new", "写入新值", "Write a new value"),
    ("set_by", "设置人", "Set by"),
    ("workflow_conflict", "办理步骤冲突", "Conflicting steps"),
    ("choose", "以此为准", "Choose this"),
    ("actions", "办理", "Actions"),
    ("note", "说明/理由", "Note / reason"),
    ("department", "承办部门", "Department"),
    ("owner", "首办负责人", "Owner"),
    (
        "done",
        "已保存，将在下次同步时送达手机",
        "Saved; it reaches the phones on their next sync",
    ),
    ("refused", "未能保存", "Not saved"),
    (
        "not_found",
        "没有此案件，或不在您的管辖范围内",
        "No such case, or outside your jurisdiction",
    ),
    ("supervised_by", "督办层级", "Supervised by"),
    ("none", "无", "none"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
    ("ev_accepted", "受理", "Accept"),
    ("ev_assigned", "转办", "Dispatch"),
    ("ev_in_progress", "签收办理", "Start handling"),
    ("ev_resolved", "办结", "Resolve"),
    ("ev_escalated", "上报上级", "Escalate"),
    ("ev_returned", "退回", "Return"),
    ("ev_supervised", "督办", "Supervise"),
    ("ev_archived", "归档", "Archive"),
    ("ev_evaluated", "记录评价", "Record the rating"),
    ("rating", "群众评价", "Requester's rating"),
    ("rating_pick", "（回访后选择）", "(after calling back)"),
    (
        "rating_required",
        "记录评价需先选择群众评价",
        "Pick the requester's rating first",
    ),
    ("ev_reopened", "验收不通过", "Reopen"),
    ("lang_switch", "English", "中文"),
    ("supervision_record", "督办情况", "Supervision"),
    ("not_supervised", "未督办", "not yet"),
    (
        "period_bad_date",
        "日期格式不对（应为 年-月-日）。",
        "Not a date (write year-month-day).",
    ),
    (
        "period_reversed",
        "起始日期晚于截止日期。",
        "The start is after the end.",
    ),
    (
        "period_default",
        "下面是最近 30 天的数字。",
        "Showing the last 30 days.",
    ),
    ("soon_due", "24小时内到期", "Due within 24 hours"),
    ("received", "收件量", "Received"),
    ("resolved", "办结量", "Resolved"),
    ("resolution_rate", "办结率", "Resolution rate"),
    ("on_time_rate", "按时办结率", "On-time rate"),
    ("satisfaction_rate", "满意率", "Satisfaction rate"),
    ("mediation_rate", "调解成功率", "Mediation success"),
    ("in_village_rate", "村级化解率", "Resolved in the village"),
    ("overdue_now", "当前超时", "Overdue now"),
    ("reopened", "重新办理", "Reopened"),
    ("by_category", "按事项分类", "By category"),
    ("by_area", "按区域", "By area"),
    (
        "by_week",
        "按周（收件/办结）",
        "By week (received / resolved)",
    ),
    ("by_level", "各层级办结", "Resolved by level"),
    ("by_source", "各来源渠道", "By source"),
    ("source", "来源", "Source"),
    ("reply_rate", "回复率", "Reply rate"),
    (
        "first_response",
        "首次响应（中位，小时）",
        "First response (median, hours)",
    ),
    (
        "satisfaction_requester",
        "群众自评满意率",
        "Requesters' own satisfaction",
    ),
    (
        "satisfaction_staff",
        "代评满意率",
        "Satisfaction recorded by staff",
    ),
    ("return_visit_rate", "回访率", "Return visit rate"),
    ("admins_only", "仅县级管理员可用", "County admins only"),
    (
        "reports_by_jurisdiction",
        "统计按辖区提供，职能部门不适用",
        "Figures are kept by jurisdiction, not by department",
    ),
    ("users", "使用人", "Users"),
    ("last_sync", "最近同步", "Last sync"),
    ("never", "从未", "never"),
    ("revoked", "已停用", "revoked"),
    ("active", "正常", "active"),
    ("revoke", "停用（手机丢失）", "Revoke (lost phone)"),
    ("accounts", "账号", "Accounts"),
    ("name", "姓名", "Name"),
    ("role", "角色", "Role"),
    ("disabled", "已禁用", "disabled"),
    ("rules", "规则", "Rules"),
    ("quarantine", "隔离区", "Quarantine"),
    (
        "q_explain",
        "服务器拒收的修改放在这里，不并入案件、不发给其他手机；原件始终保存在作者的手机上。能完整保存的（128 KiB 以内）在原因消除后可放行；更大的只保存前 1 KiB、长度和校验值。每台设备最多占用 4 MiB，超出的只计数不保存。",
        "Changes the server refused wait here, never merged into a case nor sent to other phones; the original always stays on the author's phone. Those kept whole (up to 128 KiB) can be released once the reason is fixed; of larger ones only the first KiB, the length and the checksum are kept. Each device may use 4 MiB; refusals past it are counted, not stored.",
    ),
    ("q_kept", "保留", "Kept"),
    ("q_dropped", "超出预算未保存", "Past the budget, not stored"),
    ("q_released", "已放行", "Released"),
    ("q_devices", "各设备占用", "Per device"),
    ("q_space", "占用", "Space"),
    ("q_last", "最近拒收", "Last refusal"),
    ("q_flagged", "异常设备", "Flagged"),
    ("q_entries", "拒收的修改", "Refused changes"),
    ("q_received", "收到时间", "Received"),
    ("q_case", "案件", "Case"),
    ("q_code", "原因代码", "Code"),
    ("q_reason", "说明", "Reason"),
    ("q_size", "大小", "Size"),
    ("q_action", "处理", "Action"),
    ("q_head_only", "仅保存前 1 KiB", "first KiB only"),
    ("q_release", "放行", "Release"),
    (
        "q_cannot_release",
        "未完整保存，不能放行",
        "not kept whole: cannot be released",
    ),
    (
        "q_released_ok",
        "已放行：修改已并入案件，将随同步发到手机",
        "Released: the change is in the case and goes to the phones on their next sync",
    ),
    (
        "q_refused_again",
        "未能放行，修改仍被拒收",
        "Not released, still refused",
    ),
    ("version", "版本", "Version"),
    ("rules_unchanged", "没有改动，规则未变", "Nothing changed"),
    (
        "rules_refused",
        "未能保存，规则未变",
        "Not saved, the rules are unchanged",
    ),
    (
        "rules_reach_phones",
        "规则的每次修改都保存为新版本，手机在下次同步时收到。",
        "Each change is saved as a new version; phones receive it on their next sync.",
    ),
    (
        "rules_stale",
        "规则已被他人修改，请查看最新版本后再改",
        "The rules changed meanwhile; look at the new version and try again",
    ),
    ("categories", "事项目录", "Categories"),
    ("code", "代码", "Code"),
    ("cat_name", "名称", "Name"),
    ("time_limit", "时限", "Time limit"),
    ("default_department", "默认部门", "Default department"),
    ("self_handled", "网格自办", "Handled by the grid"),
    ("change", "修改", "Change"),
    ("save", "保存", "Save"),
    (
        "limit_format",
        "时限写作“N个工作日”如 3wd，或“N小时”如 24h",
        "Write a limit as working days (3wd) or hours (24h)",
    ),
    ("bad_limit", "时限格式不对", "Not a time limit"),
    ("unknown_category", "没有此事项分类", "No such category"),
    ("departments", "职能部门", "Departments"),
    ("dept_name", "部门名称", "Department"),
    ("sign_within", "签收时限", "Sign for within"),
    ("add_department", "新增部门", "Add a department"),
    ("name_zh", "中文名称", "Chinese name"),
    ("name_en", "英文名称", "English name"),
    ("add", "新增", "Add"),
    ("calendar", "工作日历", "Working-day calendar"),
    ("calendar_years", "已有年份", "Years"),
    ("year", "年份", "Year"),
    ("holiday", "节假日", "Holiday"),
    ("days_off", "放假日期", "Days off"),
    ("makeup_days", "调休上班日期", "Make-up working days"),
    (
        "import_calendar",
        "导入一年的节假日安排",
        "Import a year's holidays",
    ),
    (
        "import_calendar_help",
        "粘贴 TOML 格式的日历（与 calendar-2026.toml 相同的格式，按国务院办公厅发布的节假日安排填写）；文件中列出的年份将被替换。",
        "Paste a calendar in TOML (the format of calendar-2026.toml, from the State Council's notice); the years it lists are replaced.",
    ),
    ("import", "导入", "Import"),
    ("rules_history", "修改记录", "History"),
    ("changed_by", "修改人", "Changed by"),
    ("changed_at", "修改时间", "Changed at"),
    ("summary", "内容", "Change"),
    ("fix_calendar", "前往导入日历", "Import the calendar"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_as_words() {
        assert_eq!(Lang::Zh.field("title"), "标题");
        assert_eq!(Lang::Zh.field("location.address"), "位置 · 地址");
        assert_eq!(Lang::Zh.field("people.1.phone"), "当事人2 · 电话");
        assert_eq!(Lang::Zh.field("extra.门牌"), "门牌");
        assert_eq!(Lang::En.field("people.0.name"), "Person 1 · Name");
        // An unknown key shows itself.
        assert_eq!(Lang::Zh.field("unknown"), "unknown");
    }
}
