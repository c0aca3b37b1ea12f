//! The read audit's words (查阅审计, ADR 0028): the county admins' page of who read which case's
//! personal data, its filters, the chain's state and the routes by name. (key, 中文, English),
//! read by [`Lang::t`](super::Lang::t) after the console's own.

pub(super) const STRINGS: &[(&str, &str, &str)] = &[
    ("read_audit", "查阅审计", "Read audit"),
    (
        "audit_explain",
        "读取记录：每次查看含个人信息（姓名、电话）的案件都记录在此，按哈希链保存，不可改动。",
        "Every read of a case's personal data (names, phone numbers), kept as a hash chain.",
    ),
    ("audit_at", "时间", "Time"),
    ("audit_reader", "查阅人", "Reader"),
    ("audit_case", "案件", "Case"),
    ("audit_route", "途径", "Route"),
    ("audit_addr", "来源地址", "Address"),
    ("audit_seq", "序号", "No."),
    ("audit_hash", "条目哈希", "Entry hash"),
    ("audit_case_id", "案件编号", "Case id"),
    ("audit_entries", "条记录", "entries"),
    ("audit_head", "链头", "Head"),
    ("audit_verify", "校验链", "Verify the chain"),
    ("audit_chain_ok", "链完整", "Chain intact"),
    ("audit_chain_fault", "链已损坏", "Chain broken"),
    ("audit_none", "暂无读取记录。", "No reads recorded."),
    (
        "audit_bad_date",
        "日期格式有误，已忽略",
        "A date could not be read and was ignored",
    ),
    (
        "audit_admins_only",
        "仅县级管理员可以查看查阅审计",
        "Only county admins see the read audit",
    ),
    ("route_api_case", "接口查看案件", "API: case"),
    ("route_sync", "手机同步", "Phone sync"),
    ("route_console_case", "控制台案件页", "Console case page"),
    ("route_console_print", "打印办理单", "Print view"),
    // After a restore from a backup (ADR 0032): the devices page's progress.
    (
        "recovery",
        "备份恢复后的回传进度",
        "Recovery after a restore",
    ),
    (
        "recovery_lead",
        "本库已从备份恢复。手机下次同步时会把备份之后的案件、修改和照片传回（含同事的修改）。",
        "This store was restored from a backup. At their next sync the phones give back the cases, edits and photos made after it (colleagues' edits too).",
    ),
    ("recovery_from", "备份文件", "Backup file"),
    ("recovery_at", "恢复时间", "Restored at"),
    (
        "recovery_base",
        "备份截至变更序号",
        "Backup ends at feed position",
    ),
    (
        "recovery_phones",
        "已回传完毕 / 已联系 / 应回传手机",
        "Finished / came back / phones expected",
    ),
    (
        "recovery_lacking",
        "缺失部分的案件",
        "Cases the store lacked part of",
    ),
    ("recovery_changes", "收回的变更", "Changes received"),
    ("recovery_device", "回传", "Recovery"),
    ("recovery_done", "已完成", "finished"),
    ("recovery_running", "回传中", "under way"),
    ("recovery_waiting", "未联系", "not yet"),
];
