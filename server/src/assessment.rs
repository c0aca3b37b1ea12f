//! The assessment (考核) as the console asks for it: the report of one kind of unit over a
//! period, cut to what the reader may see, and the cases behind one figure of one unit.
//!
//! Who sees what is the core's rule (`Identity::sees_figures_of_department`,
//! `Identity::sees_figures_of_area`); this module only applies it to the units of a report.

use std::collections::BTreeSet;

use gridsync_core::assessment::{Figure, Period, Report, Unit, UnitKind};
use gridsync_core::rules::Rules;
use gridsync_core::{Identity, JurisdictionPath};

use crate::store::{DutyRow, Store, StoreError};

/// Why a report or a drill-down was not given.
#[derive(Debug, thiserror::Error)]
pub enum AssessmentError {
    /// The reader may not see these figures.
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AssessmentError {
    pub fn code(&self) -> &'static str {
        match self {
            AssessmentError::Forbidden => "forbidden",
            AssessmentError::Store(_) => "store",
        }
    }
}

/// Whether `reader` may see the figures of the territory unit `code` (a path).
fn sees_area(reader: &Identity, code: &str) -> bool {
    JurisdictionPath::parse(code).is_ok_and(|p| reader.sees_figures_of_area(&p))
}

/// The report of `kind` over `period` as `reader` may see it: rows only of units the reader may
/// see (county admin: all; township staff: units within their township — townships and villages
/// by path, grid workers by the place of their cases; a department: its own row only). Ranks and
/// the red and black lists are computed over all units first, so a row keeps its true rank;
/// the lists are the county's published ones (红黑榜) and are not cut.
pub async fn report(
    store: &Store,
    rules: &Rules,
    reader: &Identity,
    kind: UnitKind,
    period: Period,
    now: i64,
) -> Result<Report, AssessmentError> {
    if !reader.role.sees_assessment() {
        return Err(AssessmentError::Forbidden);
    }
    let duties = store.duties(kind, period).await?;
    let ratings = match kind {
        UnitKind::Department => store.township_ratings(period).await?,
        _ => Vec::new(),
    };
    let mut report = Report::build(
        kind,
        period,
        duties.iter().map(|r| &r.duty),
        &ratings,
        rules.assessment(),
        now,
    );
    // A grid worker's row is seen by whoever sees the place of one of the worker's cases.
    let workers: BTreeSet<&str> = match kind {
        UnitKind::Worker => duties
            .iter()
            .filter(|r| reader.sees_figures_of_area(&r.place))
            .map(|r| r.duty.unit.code.as_str())
            .collect(),
        _ => BTreeSet::new(),
    };
    report.rows.retain(|row| match row.unit.kind {
        UnitKind::Department => reader.sees_figures_of_department(&row.unit.code),
        UnitKind::Township | UnitKind::Village => sees_area(reader, &row.unit.code),
        UnitKind::Worker => workers.contains(row.unit.code.as_str()),
        UnitKind::County => false,
    });
    Ok(report)
}

/// The cases behind one figure of one unit over `period` ([`Figure::counts`]), only if the
/// reader may see that unit's figures; a department never gets another department's duties,
/// and township staff only a grid worker's cases within their township.
pub async fn drill(
    store: &Store,
    reader: &Identity,
    unit: &Unit,
    figure: Figure,
    period: Period,
    now: i64,
) -> Result<Vec<DutyRow>, AssessmentError> {
    let allowed = reader.role.sees_assessment()
        && match unit.kind {
            UnitKind::Department => reader.sees_figures_of_department(&unit.code),
            UnitKind::Township | UnitKind::Village => sees_area(reader, &unit.code),
            // Cut to the reader's area below.
            UnitKind::Worker => reader.sees_figures_of_area(&reader.scope),
            UnitKind::County => false,
        };
    if !allowed {
        return Err(AssessmentError::Forbidden);
    }
    let mut rows = store.duties(unit.kind, period).await?;
    rows.retain(|r| {
        r.duty.unit == *unit
            && figure.counts(&r.duty, now)
            && (unit.kind != UnitKind::Worker || reader.sees_figures_of_area(&r.place))
    });
    Ok(rows)
}

/// A calendar month "2026-11" as a Period on the rules' calendar (local midnight, UTC+8), or
/// `None` for text that is not a month.
pub fn month_period(rules: &Rules, month: &str) -> Option<Period> {
    crate::store::calendar_month(rules.calendar(), month)
}
