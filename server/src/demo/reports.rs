//! What the demo's phones report: field reports of every kind and mediators' disputes, with
//! Chinese titles and categories from the shipped catalogue.

use gridsync_core::case::{Location, NewCase, Party};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, Identity};
use rand::Rng;
use rand::rngs::StdRng;

const REPORTS: [(CaseKind, &str, &str, &str); 12] = [
    (
        CaseKind::Incident,
        "street_light",
        "村口路灯不亮",
        "村口两盏路灯已坏多日，夜间出行不便，群众多次反映。",
    ),
    (
        CaseKind::Request,
        "water_supply",
        "自来水停水三天",
        "三组十余户自来水停水，老人取水困难，请求尽快恢复供水。",
    ),
    (
        CaseKind::Incident,
        "road_damage",
        "村道塌陷",
        "村东道路出现约一米塌陷，已设置临时警示。",
    ),
    (
        CaseKind::Incident,
        "sanitation",
        "垃圾堆放未清运",
        "村西坑塘边垃圾堆放一周未清运，气味较大。",
    ),
    (
        CaseKind::Incident,
        "illegal_construction",
        "疑似违建",
        "村民在承包地上搭建彩钢房，疑似违法建设。",
    ),
    (
        CaseKind::Incident,
        "safety_hazard",
        "危房隐患",
        "独居老人房屋墙体开裂，存在安全隐患。",
    ),
    (
        CaseKind::Incident,
        "fire_hazard",
        "柴草堆放消防隐患",
        "农户院外大量柴草堆放，靠近电线，存在火灾隐患。",
    ),
    (
        CaseKind::Request,
        "policy_question",
        "咨询医保缴费政策",
        "村民咨询2027年度城乡居民医保缴费标准和方式。",
    ),
    (
        CaseKind::Request,
        "elevator_repair",
        "小区电梯故障",
        "南关社区3号楼电梯停运，高层老人出行困难。",
    ),
    (
        CaseKind::Patrol,
        "patrol_routine",
        "日常巡查",
        "完成网格日常巡查，走访重点户，未发现新增问题。",
    ),
    (
        CaseKind::Household,
        "household_person",
        "新增常住人口登记",
        "新增外来务工人员一名，已登记基本信息。",
    ),
    (
        CaseKind::KeyPersonVisit,
        "key_person_visit",
        "重点人员走访",
        "按期走访，情绪稳定，生活正常。",
    ),
];

pub(super) fn field_report(
    rng: &mut StdRng,
    who: &Identity,
    i: usize,
    taxonomy: &Taxonomy,
) -> NewCase {
    let (kind, category, title, description) =
        REPORTS[(i + rng.random_range(0..REPORTS.len())) % REPORTS.len()];
    debug_assert!(taxonomy.category(category).is_some());
    NewCase {
        kind,
        jurisdiction: who.scope.clone(),
        category: category.into(),
        title: title.into(),
        description: description.into(),
        location: Location {
            lat: Some(36.98 + rng.random_range(-0.2..0.2)),
            lon: Some(115.25 + rng.random_range(-0.2..0.2)),
            accuracy_m: Some(rng.random_range(5.0..30.0)),
            address: format!("{}号附近", rng.random_range(1..120)),
        },
        people: vec![Party {
            name: "群众（匿名）".into(),
            role: "requester".into(),
            ..Default::default()
        }],
    }
}

pub(super) fn dispute(rng: &mut StdRng, who: &Identity, i: usize) -> NewCase {
    let kinds = [
        (
            "dispute_neighbours",
            "邻里排水纠纷",
            "两户因院墙排水问题发生争执。",
        ),
        (
            "dispute_land_boundary",
            "承包地边界纠纷",
            "两户承包地地界不清，因种植发生争议。",
        ),
        (
            "dispute_marriage_family",
            "赡养纠纷",
            "兄弟三人因老人赡养费用分担发生矛盾。",
        ),
        (
            "dispute_labour",
            "农民工工资纠纷",
            "村民在外务工被拖欠工资，请求协调。",
        ),
    ];
    let (category, title, description) =
        kinds[(i + rng.random_range(0..kinds.len())) % kinds.len()];
    NewCase {
        kind: CaseKind::Dispute,
        jurisdiction: who.scope.clone(),
        category: category.into(),
        title: title.into(),
        description: description.into(),
        location: Location::default(),
        people: vec![
            Party {
                name: "当事人甲".into(),
                role: "applicant".into(),
                ..Default::default()
            },
            Party {
                name: "当事人乙".into(),
                role: "respondent".into(),
                ..Default::default()
            },
        ],
    }
}
