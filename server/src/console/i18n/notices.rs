//! Notices' and SMS words (通知, issue 24): the notices page, the badge in the frame, one's own
//! SMS settings and the county's SMS delivery page. (key, 中文, English), read by
//! [`Lang::t`](super::Lang::t) after the console's own.

pub(super) const STRINGS: &[(&str, &str, &str)] = &[
    ("notices", "通知", "Notices"),
    ("unread", "未读", "Unread"),
    ("notice_kind", "类别", "Kind"),
    ("notice_text", "内容", "Notice"),
    ("notice_at", "时间", "Time"),
    ("notice_read", "已读", "Read"),
    ("notice_none", "暂无通知。", "No notices."),
    ("mark_read", "标为已读", "Mark read"),
    ("mark_all_read", "全部标为已读", "Mark all read"),
    ("urgent", "紧急", "Urgent"),
    ("sms_reported", "短信上报", "Reported by SMS"),
    ("my_sms", "我的短信通知", "My SMS notices"),
    ("sms_phone", "接收号码", "Number"),
    (
        "sms_no_phone",
        "未登记手机号（请县级管理员用 gridsync user phone 登记）",
        "No number on file (a county admin sets it with gridsync user phone)",
    ),
    ("sms_on", "接收短信通知", "SMS notices on"),
    (
        "sms_off",
        "已退订短信通知（紧急通知也不发短信；系统内通知照常）",
        "SMS notices off (urgent ones too; notices in the app and here continue)",
    ),
    ("sms_turn_off", "退订短信", "Turn SMS off"),
    ("sms_turn_on", "恢复短信", "Turn SMS on"),
    ("sms_delivery", "短信发送", "SMS delivery"),
    ("sms_state", "状态", "State"),
    ("sms_pending", "待发送", "Pending"),
    ("sms_sent", "已发送", "Sent"),
    ("sms_skipped", "已退订，不发送", "Opted out, not sent"),
    ("sms_to", "号码", "To"),
    ("sms_attempts", "尝试次数", "Attempts"),
    ("sms_next", "下次尝试", "Next try"),
    ("sms_error", "最近原因", "Last reason"),
    ("sms_created", "生成时间", "Written"),
    ("sms_sent_at", "发送时间", "Sent at"),
    (
        "sms_none",
        "短信发件箱为空（未配置短信网关时不生成短信）。",
        "The SMS outbox is empty (no SMS is written without a gateway).",
    ),
    (
        "sms_admins_only",
        "仅县级管理员可以查看短信发送情况",
        "Only county admins see SMS delivery",
    ),
];
