//! Patrol coverage (巡查覆盖): which units were not patrolled in each period of their level's
//! cadence — grids daily, villages weekly, townships fortnightly, the county monthly. A patrol
//! record counts for every unit that contains the place it was recorded at.

use std::collections::{BTreeMap, BTreeSet};

use gridsync_core::calendar::{Cadence, Calendar};
use gridsync_core::{JurisdictionPath, Level};
use serde::{Deserialize, Serialize};

/// The cadence a level patrols at.
pub fn cadence(level: Level) -> Cadence {
    match level {
        Level::Grid => Cadence::Daily,
        Level::Village => Cadence::Weekly,
        Level::Township => Cadence::Fortnightly,
        Level::County => Cadence::Monthly,
    }
}

/// The longest window coverage is computed over (a year and a day).
pub const MAX_DAYS: usize = 367;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Period {
    /// The period's first day, `YYYY-MM-DD` (local time).
    pub start: String,
    pub patrolled: u64,
    /// Units with no patrol record in the period, by path.
    pub unpatrolled: Vec<String>,
}

/// `GET /v1/patrols/coverage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coverage {
    pub scope: String,
    pub level: String,
    /// daily, weekly, fortnightly or monthly.
    pub cadence: String,
    /// Units at `level` within the scope.
    pub units: u64,
    pub periods: Vec<Period>,
}

/// Coverage of `units` (paths at `level`) by `patrols` (place, time) over `[from, to)`.
pub fn coverage(
    scope: &JurisdictionPath,
    level: Level,
    units: &BTreeSet<JurisdictionPath>,
    patrols: &[(JurisdictionPath, i64)],
    from: i64,
    to: i64,
    calendar: &Calendar,
) -> Coverage {
    let cadence = cadence(level);
    // Periods in order, each with the units patrolled in it.
    let mut periods: BTreeMap<String, BTreeSet<&JurisdictionPath>> = BTreeMap::new();
    for day in calendar.days(from, to).take(MAX_DAYS) {
        periods
            .entry(calendar.period_start(day, cadence))
            .or_default();
    }
    for (place, at) in patrols.iter().filter(|(_, at)| (from..to).contains(at)) {
        let Some(seen) = periods.get_mut(&calendar.period_start(*at, cadence)) else {
            continue;
        };
        for unit in units.iter().filter(|u| place.is_within(u)) {
            seen.insert(unit);
        }
    }
    Coverage {
        scope: scope.to_string(),
        level: level.as_str().to_owned(),
        cadence: cadence.as_str().to_owned(),
        units: units.len() as u64,
        periods: periods
            .into_iter()
            .map(|(start, seen)| Period {
                start,
                patrolled: seen.len() as u64,
                unpatrolled: units
                    .iter()
                    .filter(|u| !seen.contains(u))
                    .map(ToString::to_string)
                    .collect(),
            })
            .collect(),
    }
}
