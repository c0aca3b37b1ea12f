//! The demo's joint dispatches (联合派单) and what assessment looks at (考核): in township 101 (梨园屯镇)
//! the grid workers report, the township centre dispatches, and the departments' own phones sign
//! for and report their parts. Seeded: a joint case whose assisting 交通运输局 never signs (late,
//! supervised for it alone), joint cases with parts signed and done, departments late on their
//! own dispatches, two returns by departments (推诿), a case failed twice in a row (问责), a
//! return visit that finds a resolution untrue, and the townships' monthly scores of the
//! departments. Everything goes through the phones' sync, as in the rest of the demo.

use std::future::Future;
use std::pin::Pin;

use gridsync_core::case::{Location, NewCase, Party};
use gridsync_core::jurisdiction::JurisdictionPath;
use gridsync_core::workflow::{EventDraft, EventType, Rating, Verdict};
use gridsync_core::{CaseKind, Identity, Role};

use super::{DAY_MS, DemoSummary, Phone, account, phone, sync_until_quiet};
use crate::store::{Result, Store, StoreError};

const HOUR_MS: i64 = 3_600_000;

/// The department accounts besides 城管局's (dept.urban): (account, name, department).
const DEPARTMENTS: [(&str, &str, &str); 4] = [
    ("dept.env", "生态环境分局 王科长", "environment"),
    ("dept.land", "自然资源和规划局 李科长", "natural_resources"),
    ("dept.water", "水务局 赵科长", "water"),
    ("dept.transport", "交通运输局 孙科长", "transport"),
];

/// The phones of one township's joint work: its centre, its grid workers, and 城管局's phone
/// from the rest of the demo.
pub(super) struct Township<'a> {
    pub centre: &'a mut Phone,
    pub workers: &'a mut [Phone],
    pub urban: &'a mut Phone,
}

/// A case of the script: what a grid worker reports, and when (days before now).
struct Report {
    title: &'static str,
    category: &'static str,
    description: &'static str,
    days_ago: i64,
}

// The cases, by their index in REPORTS.
const QUARRY: usize = 0;
const SHED: usize = 1;
const ROAD: usize = 2;
const LEAK: usize = 3;
const POTHOLES: usize = 4;
const SMELL: usize = 5;
const MARKET: usize = 6;
const ALLEY: usize = 7;
const OUTAGE: usize = 8;

const REPORTS: [Report; 9] = [
    Report {
        title: "河道非法采砂，需多部门联合执法",
        category: "environmental_pollution",
        description: "村南河道夜间有人非法采砂，河堤受损，运砂车压坏村道。",
        days_ago: 21,
    },
    Report {
        title: "承包地上违法搭建彩钢房",
        category: "illegal_construction",
        description: "村民在基本农田上搭建约300平方米彩钢房，疑似违法占地。",
        days_ago: 4,
    },
    Report {
        title: "村道塌陷，地下水管破裂",
        category: "road_damage",
        description: "村东道路塌陷约两米，下方供水管破裂，路面积水。",
        days_ago: 10,
    },
    Report {
        title: "供水管网漏水",
        category: "water_supply",
        description: "三组主管道漏水，水压不足，高处农户无水可用。",
        days_ago: 13,
    },
    Report {
        title: "主路坑洼积水",
        category: "road_damage",
        description: "村委会门前主路多处坑洼，雨后积水，车辆难行。",
        days_ago: 16,
    },
    Report {
        title: "养殖场异味扰民",
        category: "environmental_pollution",
        description: "村北养殖场粪污直排，气味大，群众反映强烈。",
        days_ago: 7,
    },
    Report {
        title: "集市垃圾无人清运",
        category: "sanitation",
        description: "集市散集后垃圾堆积，三天无人清运。",
        days_ago: 9,
    },
    Report {
        title: "背街垃圾反复堆积",
        category: "sanitation",
        description: "背街小巷垃圾清运后又反复堆积，群众多次反映。",
        days_ago: 15,
    },
    Report {
        title: "小区停水一周",
        category: "water_supply",
        description: "北区二十余户停水一周，老人取水困难。",
        days_ago: 10,
    },
];

/// Whose phone takes a turn: the township centre, 城管局 (dept.urban), or one of DEPARTMENTS.
#[derive(Debug, Clone, Copy)]
enum Who {
    Centre,
    Urban,
    Dept(usize),
}
const ENV: Who = Who::Dept(0);
const LAND: Who = Who::Dept(1);
const WATER: Who = Who::Dept(2);
const TRANSPORT: Who = Who::Dept(3);

/// What a phone does to a case in its turn.
#[derive(Debug, Clone)]
enum Act {
    Step(EventDraft),
    /// 转办 to a lead department with its assisting ones (协办), in one change.
    Dispatch(&'static str, &'static [&'static str]),
}

/// One phone's turn: sync, act on the cases (case, what, days and hours ago), sync.
type Turn = (Who, Vec<(usize, Act, i64, i64)>);

fn take(d: EventDraft) -> Act {
    Act::Step(d)
}

fn step(kind: EventType, note: &str) -> Act {
    Act::Step(EventDraft::new(kind).note(note))
}

/// The script, in the order the phones take their turns: the township takes each case on and
/// dispatches it (two to the wrong department); the assisting departments act before the leads,
/// so the leads see the parts reported; the township sends returned cases on, rejects a
/// resolution twice in a row (问责) and makes return visits, one finding a resolution untrue.
/// 交通运输局 never signs for its part of the quarry case.
fn script() -> Vec<Turn> {
    use EventType::{Accepted, InProgress, Reopened, Resolved, Returned};
    let dispatches: [(usize, &str, &[&str], i64); 9] = [
        (
            QUARRY,
            "environment",
            &["natural_resources", "water", "transport"],
            20,
        ),
        (
            SHED,
            "urban_management",
            &["natural_resources", "environment"],
            3,
        ),
        (ROAD, "transport", &["water"], 9),
        (LEAK, "water", &[], 12),
        (POTHOLES, "transport", &[], 15),
        (SMELL, "urban_management", &[], 6),
        (MARKET, "environment", &[], 8),
        (ALLEY, "urban_management", &[], 14),
        (OUTAGE, "water", &[], 9),
    ];
    let taken = dispatches.iter().flat_map(|(case, lead, assists, days)| {
        [
            (*case, step(Accepted, "已受理"), *days, 1),
            (*case, Act::Dispatch(lead, assists), *days, 2),
        ]
    });
    let sign = |d: &str| take(EventDraft::sign_part(d));
    let done = |d: &str, note: &str| take(EventDraft::finish_part(d).note(note));
    let reply = |text: &str, note: &str| take(EventDraft::resolve_with_reply(text).note(note));
    vec![
        (Who::Centre, taken.collect()),
        (
            LAND,
            vec![
                (QUARRY, sign("natural_resources"), 20, 5),
                (
                    QUARRY,
                    done("natural_resources", "已现场测量采砂范围，出具权属意见"),
                    18,
                    0,
                ),
                (SHED, sign("natural_resources"), 3, 4),
                (
                    SHED,
                    done("natural_resources", "经核查为基本农田，已出具认定意见"),
                    2,
                    0,
                ),
            ],
        ),
        (
            WATER,
            vec![
                (QUARRY, sign("water"), 19, 0),
                (
                    QUARRY,
                    done("water", "已评估河堤受损情况，制定修复方案"),
                    15,
                    0,
                ),
                (ROAD, sign("water"), 9, 3),
                (ROAD, done("water", "已抢修破裂供水管"), 8, 0),
                (OUTAGE, step(InProgress, "已签收"), 9, 3),
                (OUTAGE, reply("供水管道已修复，恢复供水。", "已处置"), 8, 0),
            ],
        ),
        (
            ENV,
            vec![
                (QUARRY, step(InProgress, "已签收，牵头组织联合执法"), 20, 6),
                (SHED, sign("environment"), 2, 2),
                (
                    MARKET,
                    step(Returned, "垃圾清运属城管职责，不属于本部门"),
                    8,
                    5,
                ),
            ],
        ),
        (
            Who::Urban,
            vec![
                (SHED, step(InProgress, "已签收，牵头处置"), 3, 5),
                (SMELL, step(Returned, "养殖污染属生态环境部门职责"), 6, 4),
                (ALLEY, step(InProgress, "已签收"), 14, 3),
                (ALLEY, step(Resolved, "已清运"), 13, 0),
            ],
        ),
        (
            TRANSPORT,
            vec![
                (ROAD, step(InProgress, "已签收"), 9, 4),
                (
                    ROAD,
                    reply("道路已修复，供水管已由水务局抢修。", "路面已修复"),
                    7,
                    0,
                ),
                (POTHOLES, step(InProgress, "已签收，排期修补"), 15, 3),
            ],
        ),
        (
            Who::Centre,
            vec![
                (
                    SMELL,
                    take(EventDraft::assign_to("environment").note("改派生态环境分局")),
                    5,
                    0,
                ),
                (
                    MARKET,
                    take(EventDraft::assign_to("urban_management").note("改派城管局")),
                    7,
                    0,
                ),
                (ALLEY, step(Reopened, "复查：垃圾仍未清运"), 12, 0),
                (
                    ROAD,
                    take(
                        EventDraft::return_visit("phone")
                            .note("群众表示道路已修好")
                            .verdict(Verdict::Confirmed),
                    ),
                    6,
                    0,
                ),
                (
                    ROAD,
                    take(EventDraft::evaluate(Rating::Satisfied).note("电话回访满意")),
                    6,
                    1,
                ),
                (
                    OUTAGE,
                    take(
                        EventDraft::return_visit("visit")
                            .note("上门回访：群众反映至今仍未恢复供水")
                            .verdict(Verdict::Untrue),
                    ),
                    7,
                    0,
                ),
                (OUTAGE, step(Reopened, "回访发现办结不实，重新办理"), 7, 1),
            ],
        ),
        (
            ENV,
            vec![
                (SMELL, step(InProgress, "已签收"), 5, 2),
                (
                    SMELL,
                    reply("已责令养殖场整改，安装粪污处理设施。", "已处置"),
                    4,
                    0,
                ),
            ],
        ),
        (
            Who::Urban,
            vec![
                (MARKET, step(InProgress, "已签收"), 7, 2),
                (ALLEY, step(Resolved, "已再次清运"), 11, 0),
            ],
        ),
        // The second failed acceptance in a row: accountability (问责).
        (
            Who::Centre,
            vec![(ALLEY, step(Reopened, "再次复查仍未清运到位"), 10, 0)],
        ),
    ]
}

/// Seeds the joint dispatches and their outcomes in `t`'s township, then each township centre's
/// monthly scores of the departments (`centres`). Boxed here, in a plain function: an async
/// fn's future this size, built in its caller's frame, would overflow a small stack.
pub(super) fn seed<'a>(
    store: &'a Store,
    summary: &'a mut DemoSummary,
    t: Township<'a>,
    centres: Vec<Identity>,
    now: i64,
) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let county = t.centre.who.scope.at_level(gridsync_core::Level::County);
        let county =
            county.ok_or_else(|| StoreError::Corrupt("demo township has no county".into()))?;
        let mut depts = Vec::new();
        for (user, name, code) in DEPARTMENTS {
            let who = account(
                store,
                summary,
                user,
                name,
                Role::DepartmentHandler,
                &county,
                Some(code),
                now,
            )
            .await?;
            depts.push(phone(store, who, now).await?);
        }
        // The grid workers report, each in their own grid.
        let mut ids = Vec::new();
        for (i, r) in REPORTS.iter().enumerate() {
            let Some(w) = t.workers.get_mut(i % t.workers.len().max(1)) else {
                return Ok(());
            };
            let at = now - r.days_ago * DAY_MS;
            ids.push(w.replica.capture(&report(r, &w.who.scope), at)?);
        }
        for w in t.workers.iter_mut() {
            sync_until_quiet(store, w, now).await?;
        }
        for (who, acts) in script() {
            let p = match who {
                Who::Centre => &mut *t.centre,
                Who::Urban => &mut *t.urban,
                Who::Dept(i) => depts
                    .get_mut(i)
                    .ok_or_else(|| StoreError::Corrupt("demo departments".into()))?,
            };
            sync_until_quiet(store, p, now).await?;
            for (case, act, days, hours) in acts {
                let id = ids
                    .get(case)
                    .ok_or_else(|| StoreError::Corrupt("demo joint cases".into()))?;
                act_on(p, id, act, now - days * DAY_MS + hours * HOUR_MS)?;
            }
            sync_until_quiet(store, p, now).await?;
        }
        rate_departments(store, &centres, now).await
    })
}

/// One act of a phone, offline.
fn act_on(p: &mut Phone, id: &str, act: Act, at: i64) -> Result<()> {
    match act {
        Act::Step(d) => {
            p.replica.append_event(id, d, at)?;
        }
        Act::Dispatch(lead, assists) => {
            let rules = p.replica.rules().clone();
            let deadlines = rules.deadlines();
            p.replica.edit(id, at, |e| {
                e.append_event_with(EventDraft::assign_to(lead).note("请按职责办理"), &deadlines)?;
                for d in assists {
                    e.append_event_with(EventDraft::assist(*d), &deadlines)?;
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Each township centre's monthly score of the departments that served it (基层评议), for
/// last month and this one.
async fn rate_departments(store: &Store, centres: &[Identity], now: i64) -> Result<()> {
    let live = store.rules().await?;
    let today = live.rules.calendar().local_date(now);
    let this = today.get(..7).unwrap_or_default().to_owned();
    let last = previous_month(&this);
    const SCORES: [(&str, [u8; 3], &str); 5] = [
        ("urban_management", [4, 3, 4], "响应及时，个别案件反复"),
        ("environment", [5, 4, 4], "联合执法牵头有力"),
        ("natural_resources", [5, 5, 4], "协办反馈及时"),
        ("water", [3, 4, 3], "有办结不实情况"),
        ("transport", [2, 3, 2], "协办长期未签收"),
    ];
    for (t, c) in centres.iter().enumerate() {
        for month in [&last, &this] {
            for (dept, scores, comment) in SCORES {
                let score = scores[t % scores.len()];
                store
                    .rate_department(c, month, dept, score, comment, now)
                    .await?;
            }
        }
    }
    Ok(())
}

/// "2026-01" → "2025-12".
fn previous_month(month: &str) -> String {
    let (y, m) = month.split_once('-').unwrap_or_default();
    let (y, m): (i32, u32) = (y.parse().unwrap_or(2026), m.parse().unwrap_or(1));
    match m {
        1 => format!("{:04}-12", y - 1),
        _ => format!("{y:04}-{:02}", m - 1),
    }
}

fn report(r: &Report, place: &JurisdictionPath) -> NewCase {
    NewCase {
        kind: CaseKind::Incident,
        jurisdiction: place.clone(),
        category: r.category.into(),
        title: r.title.into(),
        description: r.description.into(),
        location: Location {
            address: "村委会附近".into(),
            ..Location::default()
        },
        people: vec![Party {
            name: "群众（匿名）".into(),
            role: "requester".into(),
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_month_before_wraps_the_year() {
        assert_eq!(previous_month("2026-01"), "2025-12");
        assert_eq!(previous_month("2026-11"), "2026-10");
    }
}
