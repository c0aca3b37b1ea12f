//! The rates leaders judge the loop by (`GET /v1/stats`), computed from the case projection.
//!
//! A cohort is the cases received (captured) in `[from, to)` within the scope the caller may
//! read; patrol records and household data are records, not requests, and are left out. Each
//! rate says what it divides, so a dashboard can show both figures:
//! - resolution rate = cohort cases resolved now / cohort cases;
//! - on-time rate = resolved before their deadline / resolved;
//! - satisfaction rate = rated 满意 or 基本满意 / rated (the latest rating counts);
//! - mediation success rate = disputes mediated successfully / disputes with a result;
//! - resolved by level, and the share resolved in the village (grid or village level);
//! - overdue now (not limited to the cohort), reopened (sum of reopens), accountability flags;
//! - by category, by area one level below the scope, and by week (received by capture time,
//!   resolved by resolution time, weeks starting on Monday, local time);
//! - the front door: by source (received, resolved, satisfaction), the requesters' own ratings
//!   apart from those staff recorded, reply rate = residents' cases answered (答复 at a
//!   resolution) / residents' cases, first-response time (report to the first handling step),
//!   return visits (resolved cases visited / resolved).

use std::collections::BTreeMap;

use gridsync_core::calendar::Calendar;
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, Level, Source, Status};
use serde::{Deserialize, Serialize};

/// What the projection holds about one case, as far as statistics go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRow {
    pub kind: String,
    pub category: String,
    pub status: String,
    /// The path one level below the requested scope (or the case's own path at the bottom).
    pub area: String,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_on_time: Option<bool>,
    pub resolved_level: Option<String>,
    pub rating: Option<String>,
    pub mediation_result: Option<String>,
    pub reopen_count: i64,
    pub accountability: bool,
    pub source: String,
    pub first_response_at: Option<i64>,
    /// A resolution answered the requester (答复).
    pub replied: bool,
    /// The standing rating is the requester's own.
    pub rating_by_requester: bool,
    pub return_visits: i64,
}

/// A count over a total, with the rate when the total is not zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rate {
    pub count: u64,
    pub of: u64,
    /// count / of, or null when nothing was counted.
    pub rate: Option<f64>,
}

impl Rate {
    fn new(count: u64, of: u64) -> Rate {
        Rate {
            count,
            of,
            rate: (of > 0).then(|| count as f64 / of as f64),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Breakdown {
    /// A category code, an area path or a week's Monday (`YYYY-MM-DD`).
    pub key: String,
    /// The Chinese name where there is one (categories).
    pub name_zh: Option<String>,
    pub received: u64,
    pub resolved: u64,
}

/// The figures of one source (来源渠道).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceFigures {
    /// A `Source` value: grid_worker, hotline_12345, walk_in…
    pub source: String,
    pub name_zh: String,
    pub received: u64,
    pub resolved: u64,
    pub satisfaction: Rate,
}

/// Time from the report to the first handling step (受理, 分流, 转办…), over the cases that had one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FirstResponse {
    pub count: u64,
    /// Mean hours, or null when none.
    pub mean_hours: Option<f64>,
    /// Median hours, or null when none.
    pub median_hours: Option<f64>,
}

/// `GET /v1/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stats {
    pub scope: String,
    pub from: i64,
    pub to: i64,
    pub received: u64,
    pub resolved: u64,
    pub resolution: Rate,
    pub on_time: Rate,
    pub satisfaction: Rate,
    pub mediation_success: Rate,
    /// Resolved cases by the level that resolved them: grid, village, township, county.
    pub resolved_by_level: BTreeMap<String, u64>,
    /// 小事不出村: resolved at the grid or village level / resolved.
    pub resolved_in_village: Rate,
    /// Open cases in the scope past their deadline now, whenever received.
    pub overdue_now: u64,
    pub reopened: u64,
    pub accountability: u64,
    pub by_category: Vec<Breakdown>,
    pub by_area: Vec<Breakdown>,
    pub by_week: Vec<Breakdown>,
    /// Every source in `Source::ALL` order, zeros included.
    pub by_source: Vec<SourceFigures>,
    /// Satisfaction of the requesters' own ratings (the progress page, a channel).
    pub satisfaction_by_requester: Rate,
    /// Satisfaction of the ratings staff recorded (at a return visit, on the console).
    pub satisfaction_by_staff: Rate,
    /// 回复率: residents' cases answered / residents' cases (every channel but the staff's phones).
    pub reply: Rate,
    pub first_response: FirstResponse,
    /// Resolved cases with a return visit (回访) / resolved.
    pub return_visited: Rate,
}

/// Aggregates `cohort` (the cases received in the window) and `overdue_now`.
pub fn compute(
    scope: &str,
    from: i64,
    to: i64,
    cohort: &[StatsRow],
    overdue_now: u64,
    taxonomy: &Taxonomy,
    calendar: &Calendar,
) -> Stats {
    // Handled to the end: resolved, then perhaps evaluated and archived.
    let is_resolved =
        |r: &StatsRow| Status::parse(&r.status).is_some_and(|s| s != Status::New && !s.is_open());
    let received = cohort.len() as u64;
    let resolved_rows: Vec<&StatsRow> = cohort.iter().filter(|r| is_resolved(r)).collect();
    let resolved = resolved_rows.len() as u64;
    let on_time = resolved_rows
        .iter()
        .filter(|r| r.resolved_on_time == Some(true))
        .count() as u64;
    // Rated 满意 or 基本满意 / rated, over some rows of the cohort.
    let satisfaction_of = |rows: &mut dyn Iterator<Item = &StatsRow>| {
        let rated: Vec<&str> = rows.filter_map(|r| r.rating.as_deref()).collect();
        let ok = rated
            .iter()
            .filter(|r| matches!(**r, "satisfied" | "basically_satisfied"))
            .count() as u64;
        Rate::new(ok, rated.len() as u64)
    };
    let residents: Vec<&StatsRow> = cohort
        .iter()
        .filter(|r| Source::parse(&r.source).is_none_or(Source::is_residents))
        .collect();
    let mut waits: Vec<f64> = cohort
        .iter()
        .filter_map(|r| {
            r.first_response_at
                .map(|t| (t - r.created_at).max(0) as f64 / 3.6e6)
        })
        .collect();
    waits.sort_by(f64::total_cmp);
    let first_response = FirstResponse {
        count: waits.len() as u64,
        mean_hours: (!waits.is_empty()).then(|| waits.iter().sum::<f64>() / waits.len() as f64),
        median_hours: (!waits.is_empty()).then(|| {
            let n = waits.len();
            if n % 2 == 1 {
                waits[n / 2]
            } else {
                (waits[n / 2 - 1] + waits[n / 2]) / 2.0
            }
        }),
    };
    let by_source = Source::ALL
        .into_iter()
        .map(|source| {
            let rows: Vec<&StatsRow> = cohort
                .iter()
                .filter(|r| r.source == source.as_str())
                .collect();
            SourceFigures {
                source: source.as_str().to_owned(),
                name_zh: source.name_zh().to_owned(),
                received: rows.len() as u64,
                resolved: rows.iter().filter(|r| is_resolved(r)).count() as u64,
                satisfaction: satisfaction_of(&mut rows.iter().copied()),
            }
        })
        .collect();
    let mediated: Vec<&str> = cohort
        .iter()
        .filter(|r| r.kind == CaseKind::Dispute.as_str())
        .filter_map(|r| r.mediation_result.as_deref())
        .collect();
    let succeeded = mediated.iter().filter(|m| **m == "success").count() as u64;
    let mut by_level: BTreeMap<String, u64> = Level::ALL
        .into_iter()
        .map(|l| (l.as_str().to_owned(), 0))
        .collect();
    for r in &resolved_rows {
        if let Some(l) = &r.resolved_level {
            *by_level.entry(l.clone()).or_default() += 1;
        }
    }
    let in_village = by_level["grid"] + by_level["village"];

    let mut categories: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut areas: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut weeks: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in cohort {
        let done = u64::from(is_resolved(r));
        let c = categories.entry(r.category.clone()).or_default();
        c.0 += 1;
        c.1 += done;
        let a = areas.entry(r.area.clone()).or_default();
        a.0 += 1;
        a.1 += done;
        weeks
            .entry(calendar.week_start(r.created_at))
            .or_default()
            .0 += 1;
        if let Some(at) = r
            .resolved_at
            .filter(|at| done == 1 && (from..to).contains(at))
        {
            weeks.entry(calendar.week_start(at)).or_default().1 += 1;
        }
    }
    let breakdown = |m: BTreeMap<String, (u64, u64)>, names: bool| -> Vec<Breakdown> {
        m.into_iter()
            .map(|(key, (received, resolved))| Breakdown {
                name_zh: names
                    .then(|| taxonomy.category(&key).map(|c| c.name_zh.clone()))
                    .flatten(),
                key,
                received,
                resolved,
            })
            .collect()
    };
    Stats {
        scope: scope.to_owned(),
        from,
        to,
        received,
        resolved,
        resolution: Rate::new(resolved, received),
        on_time: Rate::new(on_time, resolved),
        satisfaction: satisfaction_of(&mut cohort.iter()),
        mediation_success: Rate::new(succeeded, mediated.len() as u64),
        resolved_in_village: Rate::new(in_village, resolved),
        resolved_by_level: by_level,
        overdue_now,
        reopened: cohort.iter().map(|r| r.reopen_count.max(0) as u64).sum(),
        accountability: cohort.iter().filter(|r| r.accountability).count() as u64,
        by_category: breakdown(categories, true),
        by_area: breakdown(areas, false),
        by_week: breakdown(weeks, false),
        by_source,
        satisfaction_by_requester: satisfaction_of(
            &mut cohort.iter().filter(|r| r.rating_by_requester),
        ),
        satisfaction_by_staff: satisfaction_of(
            &mut cohort.iter().filter(|r| !r.rating_by_requester),
        ),
        reply: Rate::new(
            residents.iter().filter(|r| r.replied).count() as u64,
            residents.len() as u64,
        ),
        first_response,
        return_visited: Rate::new(
            resolved_rows.iter().filter(|r| r.return_visits > 0).count() as u64,
            resolved,
        ),
    }
}
