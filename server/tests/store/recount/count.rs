//! The recount: each unit's hold on each case read straight from the case's events (with the
//! workflow fold for the state after each step), from the definitions in ADR 0026 — not through
//! `assessment::duties` or `Figure::counts` — then summed per unit, scored from the weights
//! and ranked.

use std::collections::BTreeMap;

use gridsync_core::assessment::{AssessmentRules, Figure, Period, UnitKind};
use gridsync_core::workflow::{EventType, Rating, WorkflowState, fold};
use gridsync_core::{Case, Level, Role, Status};

/// One unit's hold on one case, as the recount (or the generator) sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rec {
    pub case_id: String,
    pub kind: UnitKind,
    pub code: String,
    pub received_at: i64,
    pub assisting: bool,
    pub signed_on_time: bool,
    /// A resolution (or a part reported) stands.
    pub resolved: bool,
    pub resolved_on_time: bool,
    pub overdue: bool,
    pub returned: bool,
    pub reopened: bool,
    pub rated_by_requester: u32,
    pub satisfied_by_requester: u32,
    pub rated_by_staff: u32,
    pub satisfied_by_staff: u32,
    pub return_visited: bool,
}

impl Rec {
    /// Whether this hold is one of the cases behind `figure`.
    pub fn counts(&self, figure: Figure) -> bool {
        match figure {
            Figure::Received => true,
            Figure::SignedOnTime => self.signed_on_time,
            Figure::ResolvedOnTime => self.resolved_on_time,
            Figure::Overdue => self.overdue,
            Figure::Returned => self.returned,
            Figure::Reopened => self.reopened,
            Figure::SatisfiedRequester => self.rated_by_requester > 0,
            Figure::SatisfiedStaff => self.rated_by_staff > 0,
            Figure::ReturnVisited => self.return_visited,
        }
    }
}

/// What happened within a hold: events `from..=to` of the log.
struct Span<'a> {
    case: &'a Case,
    states: &'a [WorkflowState],
    from: usize,
    to: usize,
}

impl Span<'_> {
    fn applied(&self, k: usize) -> bool {
        applied(self.states, k)
    }

    /// Failed acceptances: reopened, or rated unsatisfied.
    fn failed(&self) -> bool {
        (self.from..=self.to).any(|k| {
            let e = &self.case.events[k];
            self.applied(k)
                && (e.kind == EventType::Reopened
                    || (e.kind == EventType::Evaluated && e.rating == Some(Rating::Unsatisfied)))
        })
    }

    /// Ratings given (applied), each the requester's (written by the system) or staff's, and
    /// whether satisfied; only those after `done` when given.
    fn ratings(&self, rec: &mut Rec, done_before: impl Fn(usize) -> bool) {
        for k in self.from..=self.to {
            let e = &self.case.events[k];
            if e.kind == EventType::Evaluated && self.applied(k) && done_before(k) {
                let satisfied = u32::from(e.rating != Some(Rating::Unsatisfied));
                if e.role == Role::System {
                    rec.rated_by_requester += 1;
                    rec.satisfied_by_requester += satisfied;
                } else {
                    rec.rated_by_staff += 1;
                    rec.satisfied_by_staff += satisfied;
                }
            }
        }
    }

    fn visited(&self, done_before: impl Fn(usize) -> bool) -> bool {
        (self.from..=self.to)
            .any(|k| self.case.events[k].kind == EventType::ReturnVisit && done_before(k))
    }
}

fn applied(states: &[WorkflowState], k: usize) -> bool {
    let before = if k == 0 { 0 } else { states[k - 1].version };
    states[k].version > before
}

/// A resolution of the case stands just before event `k`.
fn case_done_before(states: &[WorkflowState], k: usize) -> bool {
    k > 0 && matches!(states[k - 1].status, Status::Resolved | Status::Evaluated)
}

fn rec(case: &Case, kind: UnitKind, code: &str, received_at: i64) -> Rec {
    Rec {
        case_id: case.id.clone(),
        kind,
        code: code.to_owned(),
        received_at,
        assisting: false,
        signed_on_time: false,
        resolved: false,
        resolved_on_time: false,
        overdue: false,
        returned: false,
        reopened: false,
        rated_by_requester: 0,
        satisfied_by_requester: 0,
        rated_by_staff: 0,
        satisfied_by_staff: 0,
        return_visited: false,
    }
}

/// Every unit's hold on `case` as of `now`.
pub fn recount(case: &Case, now: i64) -> Vec<Rec> {
    let ev = &case.events;
    let n = ev.len();
    let states: Vec<WorkflowState> = (1..=n).map(|k| fold(&ev[..k])).collect();
    let fin = &states[n - 1];
    let archived = (0..n)
        .find(|&k| ev[k].kind == EventType::Archived && applied(&states, k))
        .map(|k| ev[k].at);
    let mut out = Vec::new();

    // The township and village of the case's place: the whole case, on the case's clock.
    for (kind, level) in [
        (UnitKind::Township, Level::Township),
        (UnitKind::Village, Level::Village),
    ] {
        let Some(code) = case.jurisdiction.at_level(level) else {
            continue;
        };
        let mut r = rec(case, kind, &code.to_string(), ev[0].at);
        let span = Span {
            case,
            states: &states,
            from: 1,
            to: n - 1,
        };
        let held = archived.unwrap_or(now);
        let sign_due = ev[0].due;
        let first = fin.first_response_at;
        r.signed_on_time = first.is_some_and(|f| sign_due.is_none_or(|d| f <= d));
        r.resolved = fin.resolved_at.is_some();
        r.resolved_on_time = r.resolved && fin.resolved_on_time == Some(true);
        let sign_late = sign_due.is_some_and(|d| first.unwrap_or(held) > d);
        let handle_late = match r.resolved {
            true => !r.resolved_on_time,
            false => fin.due.is_some_and(|d| held > d),
        };
        r.overdue = sign_late || handle_late;
        r.returned = kind == UnitKind::Township
            && (0..n).any(|k| {
                ev[k].kind == EventType::Returned
                    && ev[k].role == Role::TownshipStaff
                    && applied(&states, k)
            });
        r.reopened = span.failed();
        span.ratings(&mut r, |_| true);
        r.return_visited = r.resolved && span.visited(|k| case_done_before(&states, k));
        out.push(r);
    }

    // Grid workers: from reporting it or taking it on, until someone else owns it.
    for i in 0..n {
        let before_owner = if i == 0 {
            None
        } else {
            states[i - 1].owner.as_ref()
        };
        let took = applied(&states, i)
            && ev[i].role == Role::GridWorker
            && states[i].owner.as_ref() != before_owner
            && states[i].owner.as_deref() == Some(ev[i].by.as_str());
        if !took {
            continue;
        }
        let end = (i + 1..n).find(|&k| states[k].owner != states[k - 1].owner);
        let last = end.map_or(n - 1, |j| j - 1);
        let st = &states[last];
        let held = end.map_or(archived.unwrap_or(now), |j| ev[j].at);
        let reported = ev[i].kind == EventType::Reported;
        let sign_due = match reported {
            true => states[i].due,
            false => states[i - 1].due,
        };
        let signed = match reported {
            true => (i + 1..=last)
                .find(|&k| applied(&states, k))
                .map(|k| ev[k].at),
            false => Some(ev[i].at),
        };
        let mut r = rec(case, UnitKind::Worker, &ev[i].by, ev[i].at);
        r.signed_on_time = signed.is_some_and(|s| sign_due.is_none_or(|d| s <= d));
        r.resolved = st.resolved_at.is_some();
        r.resolved_on_time = r.resolved && st.resolved_on_time == Some(true);
        let sign_late = sign_due.is_some_and(|d| signed.unwrap_or(held) > d);
        let handle_late = match r.resolved {
            true => !r.resolved_on_time,
            false => st.due.is_some_and(|d| held > d),
        };
        r.overdue = sign_late || handle_late;
        let span = Span {
            case,
            states: &states,
            from: i + 1,
            to: last,
        };
        r.reopened = span.failed();
        span.ratings(&mut r, |_| true);
        r.return_visited = r.resolved && span.visited(|k| case_done_before(&states, k));
        out.push(r);
    }

    // Each dispatch to a lead department, until the next one or until it leaves.
    for i in 0..n {
        if !(ev[i].kind == EventType::Assigned && applied(&states, i)) {
            continue;
        }
        let Some(department) = states[i].department.clone() else {
            continue;
        };
        let end = (i + 1..n).find(|&k| {
            (ev[k].kind == EventType::Assigned && applied(&states, k))
                || states[k].department != states[k - 1].department
        });
        let last = end.map_or(n - 1, |j| j - 1);
        let st = &states[last];
        let held = end.map_or(archived.unwrap_or(now), |j| ev[j].at);
        let sign_due = ev[i].due;
        let signed = (i + 1..=last)
            .find(|&k| {
                applied(&states, k)
                    && matches!(ev[k].kind, EventType::InProgress | EventType::Resolved)
                    && states[k - 1].status == Status::Assigned
            })
            .map(|k| ev[k].at);
        let mut r = rec(case, UnitKind::Department, &department, ev[i].at);
        r.signed_on_time = signed.is_some_and(|s| sign_due.is_none_or(|d| s <= d));
        r.resolved = st.resolved_at.is_some();
        r.resolved_on_time = r.resolved && st.resolved_on_time == Some(true);
        let sign_late = sign_due.is_some_and(|d| signed.unwrap_or(held) > d);
        // Its handling clock runs from its signing.
        let handle_late = match (r.resolved, signed) {
            (true, _) => !r.resolved_on_time,
            (false, Some(_)) => st.due.is_some_and(|d| held > d),
            (false, None) => false,
        };
        r.overdue = sign_late || handle_late;
        r.returned = end.is_some_and(|j| {
            ev[j].kind == EventType::Returned
                && ev[j].role == Role::DepartmentHandler
                && applied(&states, j)
        });
        let span = Span {
            case,
            states: &states,
            from: i + 1,
            to: last,
        };
        r.reopened = span.failed();
        span.ratings(&mut r, |_| true);
        r.return_visited = r.resolved && span.visited(|k| case_done_before(&states, k));
        out.push(r);
    }

    // Assisting parts: their own clocks, from being added until reported (or dropped).
    for i in 0..n {
        let Some(d) = ev[i].department.as_deref() else {
            continue;
        };
        let added = ev[i].kind == EventType::PartAssigned
            && states[i].part(d).is_some()
            && (i == 0 || states[i - 1].part(d).is_none());
        if !added {
            continue;
        }
        let end = (i + 1..n).find(|&k| states[k].part(d).is_none());
        let last = end.map_or(n - 1, |j| j - 1);
        let Some(p) = states[last].part(d) else {
            continue;
        };
        let handling_due = (i + 1..=last)
            .find(|&k| {
                ev[k].kind == EventType::PartSigned
                    && states[k].part(d).and_then(|p| p.signed_at) == Some(ev[k].at)
                    && states[k - 1].part(d).is_some_and(|p| p.signed_at.is_none())
            })
            .and_then(|k| states[k].part(d).and_then(|p| p.due));
        let done = p.done_at;
        let held = done.or(end.map(|j| ev[j].at)).or(archived).unwrap_or(now);
        let sign_due = ev[i].due;
        let mut r = rec(case, UnitKind::Department, d, ev[i].at);
        r.assisting = true;
        r.signed_on_time = p
            .signed_at
            .is_some_and(|s| sign_due.is_none_or(|sd| s <= sd));
        r.resolved = done.is_some();
        r.resolved_on_time = done.is_some_and(|t| handling_due.is_none_or(|hd| t <= hd));
        let sign_late = sign_due.is_some_and(|sd| p.signed_at.unwrap_or(held) > sd);
        let handle_late = handling_due.is_some_and(|hd| done.unwrap_or(held) > hd);
        r.overdue = sign_late || handle_late;
        let part_done_before =
            |k: usize| states[k - 1].part(d).is_some_and(|p| p.done_at.is_some());
        let span = Span {
            case,
            states: &states,
            from: i + 1,
            to: last,
        };
        span.ratings(&mut r, part_done_before);
        r.return_visited = r.resolved && span.visited(part_done_before);
        out.push(r);
    }
    out
}

/// One unit's sums over a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sums {
    pub received: u32,
    pub signed_on_time: u32,
    pub resolved_on_time: u32,
    pub overdue: u32,
    pub returned: u32,
    pub reopened: u32,
    pub resolved: u32,
    pub rated_by_requester: u32,
    pub satisfied_by_requester: u32,
    pub rated_by_staff: u32,
    pub satisfied_by_staff: u32,
    pub return_visited: u32,
    pub township_score_sum: u32,
    pub township_scores: u32,
}

/// The holds of `kind` received in `period`, summed per unit, with the townships' scores of
/// departments (department, score) for months starting in the period.
pub fn sums(
    kind: UnitKind,
    period: Period,
    recs: &[Rec],
    township_scores: &[(String, u8)],
) -> BTreeMap<String, Sums> {
    let mut out: BTreeMap<String, Sums> = BTreeMap::new();
    for r in recs
        .iter()
        .filter(|r| r.kind == kind && (period.from..period.to).contains(&r.received_at))
    {
        let s = out.entry(r.code.clone()).or_default();
        s.received += 1;
        s.signed_on_time += u32::from(r.signed_on_time);
        s.resolved_on_time += u32::from(r.resolved_on_time);
        s.overdue += u32::from(r.overdue);
        s.returned += u32::from(r.returned);
        s.reopened += u32::from(r.reopened);
        s.resolved += u32::from(r.resolved);
        s.rated_by_requester += r.rated_by_requester;
        s.satisfied_by_requester += r.satisfied_by_requester;
        s.rated_by_staff += r.rated_by_staff;
        s.satisfied_by_staff += r.satisfied_by_staff;
        s.return_visited += u32::from(r.return_visited);
    }
    if kind == UnitKind::Department {
        for (department, score) in township_scores {
            let s = out.entry(department.clone()).or_default();
            s.township_score_sum += u32::from(*score);
            s.township_scores += 1;
        }
    }
    out
}

/// The score from the county's weights: the weighted mean of the rates whose base is not
/// empty (bad figures as one minus their rate; the townships' 1–5 average onto 0–1), times 100.
pub fn score(s: &Sums, rules: &AssessmentRules) -> Option<f64> {
    if s.received == 0 {
        return None;
    }
    let share = |n: u32, of: u32| (of > 0).then(|| f64::from(n) / f64::from(of));
    let w = &rules.weights;
    let parts = [
        (w.signed_on_time, share(s.signed_on_time, s.received)),
        (w.resolved_on_time, share(s.resolved_on_time, s.received)),
        (w.overdue, share(s.overdue, s.received).map(|x| 1.0 - x)),
        (w.returned, share(s.returned, s.received).map(|x| 1.0 - x)),
        (w.reopened, share(s.reopened, s.received).map(|x| 1.0 - x)),
        (
            w.satisfaction_requester,
            share(s.satisfied_by_requester, s.rated_by_requester),
        ),
        (
            w.satisfaction_staff,
            share(s.satisfied_by_staff, s.rated_by_staff),
        ),
        (w.return_visited, share(s.return_visited, s.resolved)),
        (
            w.township_rating,
            (s.township_scores > 0).then(|| {
                (f64::from(s.township_score_sum) / f64::from(s.township_scores) - 1.0) / 4.0
            }),
        ),
    ];
    let (mut total, mut sum) = (0.0, 0.0);
    for (weight, rate) in parts {
        if let Some(rate) = rate {
            total += weight;
            sum += weight * rate;
        }
    }
    (total > 0.0).then(|| 100.0 * sum / total)
}

/// Units with a score, best first (ties by code), each with its rank.
pub fn ranking(scores: &BTreeMap<String, Option<f64>>) -> Vec<(String, f64, u32)> {
    let mut scored: Vec<(String, f64)> = scores
        .iter()
        .filter_map(|(code, s)| s.map(|s| (code.clone(), s)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored
        .into_iter()
        .zip(1..)
        .map(|((code, s), rank)| (code, s, rank))
        .collect()
}
