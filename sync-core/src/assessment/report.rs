//! Figures, scores, ranks and the red and black lists (红黑榜) of one kind of unit over one
//! period, from the units' [`Duty`]s and the townships' monthly scores of departments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duty::{Duty, Unit, UnitKind};
use super::settings::AssessmentRules;
use crate::vocab::Millis;

/// A period of assessment: duties received from `from` (inclusive) to `to` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: Millis,
    pub to: Millis,
}

impl Period {
    pub fn holds(&self, at: Millis) -> bool {
        self.from <= at && at < self.to
    }
}

/// One assessment figure; each counts duties (cases) a unit received in the period, so a
/// drill-down lists exactly the cases behind the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// 受理/接收
    Received,
    /// 按时签收 (territories and workers: answered in time)
    SignedOnTime,
    /// 按时办结
    ResolvedOnTime,
    /// 超时
    Overdue,
    /// 退回 (推诿)
    Returned,
    /// 验收不通过 (重新办理)
    Reopened,
    /// 群众满意 (the requester's own ratings)
    SatisfiedRequester,
    /// 工作人员记录满意
    SatisfiedStaff,
    /// 已回访
    ReturnVisited,
}

impl Figure {
    pub const ALL: [Figure; 9] = [
        Figure::Received,
        Figure::SignedOnTime,
        Figure::ResolvedOnTime,
        Figure::Overdue,
        Figure::Returned,
        Figure::Reopened,
        Figure::SatisfiedRequester,
        Figure::SatisfiedStaff,
        Figure::ReturnVisited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Figure::Received => "received",
            Figure::SignedOnTime => "signed_on_time",
            Figure::ResolvedOnTime => "resolved_on_time",
            Figure::Overdue => "overdue",
            Figure::Returned => "returned",
            Figure::Reopened => "reopened",
            Figure::SatisfiedRequester => "satisfied_requester",
            Figure::SatisfiedStaff => "satisfied_staff",
            Figure::ReturnVisited => "return_visited",
        }
    }

    pub fn parse(s: &str) -> Option<Figure> {
        Figure::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Figure::Received => "接收",
            Figure::SignedOnTime => "按时签收",
            Figure::ResolvedOnTime => "按时办结",
            Figure::Overdue => "超时",
            Figure::Returned => "退回",
            Figure::Reopened => "验收不通过",
            Figure::SatisfiedRequester => "群众评价",
            Figure::SatisfiedStaff => "工作人员记录评价",
            Figure::ReturnVisited => "已回访",
        }
    }

    /// Whether a duty counts for this figure as of `now` — the drill-down's test. For the
    /// satisfaction figures: the duties rated that way at all (the rate is over ratings).
    pub fn counts(self, d: &Duty, now: Millis) -> bool {
        match self {
            Figure::Received => true,
            Figure::SignedOnTime => d.signed_on_time(),
            Figure::ResolvedOnTime => d.resolved_on_time(),
            Figure::Overdue => d.overdue(now),
            Figure::Returned => d.returned > 0,
            Figure::Reopened => d.reopened > 0,
            Figure::SatisfiedRequester => d.rated_by_requester > 0,
            Figure::SatisfiedStaff => d.rated_by_staff > 0,
            Figure::ReturnVisited => d.done_at.is_some() && d.return_visits > 0,
        }
    }

    /// A higher count is worse: the score takes one minus its rate.
    pub fn is_bad(self) -> bool {
        matches!(self, Figure::Overdue | Figure::Returned | Figure::Reopened)
    }
}

/// A township's monthly score of a department (基层评议), 1 to 5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TownshipRating {
    /// The first instant of the month scored.
    pub month_start: Millis,
    pub township: String,
    pub department: String,
    pub score: u8,
}

/// One unit's figures over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub received: u32,
    pub signed_on_time: u32,
    pub resolved_on_time: u32,
    pub overdue: u32,
    pub returned: u32,
    pub reopened: u32,
    /// Duties with a resolution standing (the base of the return-visit rate).
    pub resolved: u32,
    /// Ratings (not cases): the requester's own, and those staff recorded.
    pub rated_by_requester: u32,
    pub satisfied_by_requester: u32,
    pub rated_by_staff: u32,
    pub satisfied_by_staff: u32,
    pub return_visited: u32,
    /// The townships' scores of a department in the period: their sum and how many.
    pub township_score_sum: u32,
    pub township_scores: u32,
}

impl Tally {
    fn add(&mut self, d: &Duty, now: Millis) {
        let n = |f: Figure| u32::from(f.counts(d, now));
        self.received += 1;
        self.signed_on_time += n(Figure::SignedOnTime);
        self.resolved_on_time += n(Figure::ResolvedOnTime);
        self.overdue += n(Figure::Overdue);
        self.returned += n(Figure::Returned);
        self.reopened += n(Figure::Reopened);
        self.resolved += u32::from(d.done_at.is_some());
        self.rated_by_requester += d.rated_by_requester;
        self.satisfied_by_requester += d.satisfied_by_requester;
        self.rated_by_staff += d.rated_by_staff;
        self.satisfied_by_staff += d.satisfied_by_staff;
        self.return_visited += n(Figure::ReturnVisited);
    }

    /// The count a figure shows (for satisfaction: satisfied ratings).
    pub fn count(&self, f: Figure) -> u32 {
        match f {
            Figure::Received => self.received,
            Figure::SignedOnTime => self.signed_on_time,
            Figure::ResolvedOnTime => self.resolved_on_time,
            Figure::Overdue => self.overdue,
            Figure::Returned => self.returned,
            Figure::Reopened => self.reopened,
            Figure::SatisfiedRequester => self.satisfied_by_requester,
            Figure::SatisfiedStaff => self.satisfied_by_staff,
            Figure::ReturnVisited => self.return_visited,
        }
    }

    /// A figure as a share from 0 to 1 (of received; satisfaction of ratings; return visits of
    /// resolutions), or `None` when its base is empty.
    pub fn rate(&self, f: Figure) -> Option<f64> {
        let (num, base) = match f {
            Figure::SatisfiedRequester => (self.satisfied_by_requester, self.rated_by_requester),
            Figure::SatisfiedStaff => (self.satisfied_by_staff, self.rated_by_staff),
            Figure::ReturnVisited => (self.return_visited, self.resolved),
            _ => (self.count(f), self.received),
        };
        (base > 0).then(|| f64::from(num) / f64::from(base))
    }

    /// The townships' average score (1–5), if any township scored the department.
    pub fn township_average(&self) -> Option<f64> {
        (self.township_scores > 0)
            .then(|| f64::from(self.township_score_sum) / f64::from(self.township_scores))
    }

    /// The score (0–100): the weighted mean of the rates that apply (bad figures as one minus
    /// their rate; the townships' average mapped from 1–5 onto 0–1). `None` without duties.
    pub fn score(&self, rules: &AssessmentRules) -> Option<f64> {
        if self.received == 0 {
            return None;
        }
        let mut parts: Vec<(f64, f64)> = Figure::ALL
            .into_iter()
            .filter_map(|f| {
                let w = rules.weights.of(f)?;
                let r = self.rate(f)?;
                Some((w, if f.is_bad() { 1.0 - r } else { r }))
            })
            .collect();
        if let Some(avg) = self.township_average() {
            parts.push((rules.weights.township_rating, (avg - 1.0) / 4.0));
        }
        let total: f64 = parts.iter().map(|(w, _)| w).sum();
        (total > 0.0).then(|| 100.0 * parts.iter().map(|(w, r)| w * r).sum::<f64>() / total)
    }
}

/// One unit's line of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub unit: Unit,
    pub tally: Tally,
    pub score: Option<f64>,
    /// 1 for the best score; `None` for a unit without duties in the period.
    pub rank: Option<u32>,
}

/// The assessment of one kind of unit over a period: rows best first, then the red and black
/// lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub kind: UnitKind,
    pub period: Period,
    pub rows: Vec<Row>,
    /// 红榜: the top units.
    pub red: Vec<Unit>,
    /// 黑榜: the bottom units, worst last.
    pub black: Vec<Unit>,
}

impl Report {
    /// Tallies the duties of `kind` received in `period` (others are ignored), adds the
    /// townships' scores of months starting in it, scores and ranks. Ties rank by code.
    pub fn build<'d>(
        kind: UnitKind,
        period: Period,
        duties: impl IntoIterator<Item = &'d Duty>,
        ratings: &[TownshipRating],
        rules: &AssessmentRules,
        now: Millis,
    ) -> Report {
        let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
        for d in duties {
            if d.unit.kind == kind && period.holds(d.received_at) {
                tallies.entry(d.unit.code.clone()).or_default().add(d, now);
            }
        }
        if kind == UnitKind::Department {
            for r in ratings.iter().filter(|r| period.holds(r.month_start)) {
                let t = tallies.entry(r.department.clone()).or_default();
                t.township_score_sum += u32::from(r.score);
                t.township_scores += 1;
            }
        }
        let mut rows: Vec<Row> = tallies
            .into_iter()
            .map(|(code, tally)| Row {
                score: tally.score(rules),
                unit: Unit { kind, code },
                tally,
                rank: None,
            })
            .collect();
        rows.sort_by(|a, b| {
            let key = |r: &Row| r.score.unwrap_or(f64::NEG_INFINITY);
            key(b)
                .total_cmp(&key(a))
                .then_with(|| a.unit.code.cmp(&b.unit.code))
        });
        let mut ranked = 0;
        for row in rows.iter_mut().filter(|r| r.score.is_some()) {
            ranked += 1;
            row.rank = Some(ranked);
        }
        let scored: Vec<&Row> = rows.iter().filter(|r| r.score.is_some()).collect();
        let red_n = (rules.red_list as usize).min(scored.len());
        let black_n = match kind {
            UnitKind::Department => rules.black_list_departments,
            _ => rules.black_list_areas,
        } as usize;
        let black_n = black_n.min(scored.len() - red_n);
        let red = scored[..red_n].iter().map(|r| r.unit.clone()).collect();
        let black = scored[scored.len() - black_n..]
            .iter()
            .map(|r| r.unit.clone())
            .collect();
        Report {
            kind,
            period,
            rows,
            red,
            black,
        }
    }

    pub fn row(&self, code: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.unit.code == code)
    }
}
