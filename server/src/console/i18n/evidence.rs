//! Signed evidence's words (issue 25, ADR 0028): the timeline's signature column and the case's
//! verifiable export. (key, 中文, English), read by [`Lang::t`](super::Lang::t) after the
//! console's own.

pub(super) const STRINGS: &[(&str, &str, &str)] = &[
    ("signature", "签名", "Signature"),
    ("signed", "已验签", "Verified"),
    ("signed_by", "签名设备", "Signed by"),
    ("unsigned", "未验签", "Not verified"),
    (
        "unsigned_hint",
        "这次修改没有可核验的设备签名（旧版应用、管理员放行或短信上报）",
        "No verifiable device signature (an older app, a released change or an SMS report)",
    ),
    ("evidence", "导出可验证记录", "Export verifiable record"),
    (
        "evidence_hint",
        "案件全部修改、签名和回执，离线用 gridsync-verify 核验",
        "Every change, signature and receipt of the case, checked offline with gridsync-verify",
    ),
    ("forbidden", "您无权进行此操作。", "You may not do this."),
    // A change a colleague's phone carried (ADR 0030): "经 张三 转交" / "relayed by Zhang San".
    ("relayed_pre", "经 ", "relayed by "),
    ("relayed_post", " 转交", ""),
];
