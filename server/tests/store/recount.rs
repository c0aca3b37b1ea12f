//! The assessment (考核) against an independent recount from the documents: 2,000 cases
//! with known outcomes across five departments (some dispatched jointly, some returned), three
//! townships, six villages and twelve grid workers. Every figure, score and rank of every kind
//! of report, the red and black lists, the cases behind every figure, and what a department
//! and a township see, on both backends.

mod cases;
mod count;
mod world;

use std::collections::BTreeMap;
use std::time::Instant;

use gridsync_core::assessment::{
    AssessmentRules, Figure, Period, Report, Triggers, Unit, UnitKind, Weights,
};
use gridsync_core::calendar::Calendar;
use gridsync_core::rules::Rules;
use gridsync_core::{Identity, Role};
use gridsync_server::assessment::{self, AssessmentError};
use gridsync_server::store::Store;

use crate::*;
use count::{Rec, Sums};

/// Not the defaults: the report must score with the settings it is given.
fn settings() -> AssessmentRules {
    AssessmentRules {
        red_list: 2,
        black_list_departments: 2,
        black_list_areas: 3,
        weights: Weights {
            signed_on_time: 12.0,
            resolved_on_time: 20.0,
            overdue: 18.0,
            returned: 9.0,
            reopened: 11.0,
            satisfaction_requester: 14.0,
            satisfaction_staff: 4.0,
            return_visited: 6.0,
            township_rating: 8.0,
        },
        triggers: Triggers::default(),
    }
}

/// The recount of each case equals what the generator meant, hold by hold.
fn compare_with_intent(recs: &[Rec], intended: &[Rec]) {
    let by_case = |rs: &[Rec]| {
        let mut m: BTreeMap<String, Vec<Rec>> = BTreeMap::new();
        for r in rs {
            m.entry(r.case_id.clone()).or_default().push(r.clone());
        }
        for v in m.values_mut() {
            v.sort();
        }
        m
    };
    let (got, meant) = (by_case(recs), by_case(intended));
    assert_eq!(got.len(), meant.len(), "cases recounted");
    for (id, meant) in &meant {
        assert_eq!(got.get(id), Some(meant), "case {id}: recount vs generator");
    }
}

/// A report's row of one unit matches the recount's sums.
fn assert_tally(kind: UnitKind, code: &str, report: &Report, s: &Sums) {
    let row = report
        .row(code)
        .unwrap_or_else(|| panic!("{kind:?} {code}: no row"));
    let t = &row.tally;
    let got = [
        t.received,
        t.signed_on_time,
        t.resolved_on_time,
        t.overdue,
        t.returned,
        t.reopened,
        t.resolved,
        t.rated_by_requester,
        t.satisfied_by_requester,
        t.rated_by_staff,
        t.satisfied_by_staff,
        t.return_visited,
        t.township_score_sum,
        t.township_scores,
    ];
    let want = [
        s.received,
        s.signed_on_time,
        s.resolved_on_time,
        s.overdue,
        s.returned,
        s.reopened,
        s.resolved,
        s.rated_by_requester,
        s.satisfied_by_requester,
        s.rated_by_staff,
        s.satisfied_by_staff,
        s.return_visited,
        s.township_score_sum,
        s.township_scores,
    ];
    assert_eq!(got, want, "{kind:?} {code}");
}

/// No figure passes by being zero (or by being everything).
fn assert_variety(kind: UnitKind, sums: &BTreeMap<String, Sums>) {
    let mut all = Sums::default();
    for s in sums.values() {
        all.received += s.received;
        all.signed_on_time += s.signed_on_time;
        all.resolved_on_time += s.resolved_on_time;
        all.overdue += s.overdue;
        all.returned += s.returned;
        all.reopened += s.reopened;
        all.rated_by_requester += s.rated_by_requester;
        all.satisfied_by_requester += s.satisfied_by_requester;
        all.rated_by_staff += s.rated_by_staff;
        all.satisfied_by_staff += s.satisfied_by_staff;
        all.return_visited += s.return_visited;
        all.resolved += s.resolved;
    }
    let between = |x: u32, of: u32, what: &str| {
        assert!(0 < x && x < of, "{kind:?} {what}: {x} of {of}");
    };
    between(all.signed_on_time, all.received, "signed on time");
    between(all.resolved_on_time, all.received, "resolved on time");
    between(all.overdue, all.received, "overdue");
    between(all.reopened, all.received, "reopened");
    between(
        all.satisfied_by_requester,
        all.rated_by_requester,
        "requester",
    );
    between(all.satisfied_by_staff, all.rated_by_staff, "staff");
    between(all.return_visited, all.resolved, "return visited");
    if matches!(kind, UnitKind::Department | UnitKind::Township) {
        between(all.returned, all.received, "returned");
    }
}

conformance!(
    every_assessment_figure_score_and_rank_matches_a_recount_from_the_documents,
    |store: Store| async move {
        let clock = Instant::now();
        let world = world::World::new(&store).await;
        let built = cases::build(&store, &world).await;
        let (now, built_in) = (built.now, clock.elapsed());
        let rules = Rules::builtin().with_assessment(settings());
        let cal = Calendar::builtin();
        let period = assessment::month_period(&rules, "2026-11").unwrap();
        assert_eq!(
            period,
            Period {
                from: cal.local_midnight("2026-11-01").unwrap(),
                to: cal.local_midnight("2026-12-01").unwrap(),
            }
        );

        // (a) The recount from every document as stored, against what the generator meant.
        let mut recs: Vec<Rec> = Vec::new();
        for id in &built.ids {
            let case = store.case_doc(id).await.unwrap().unwrap().read().unwrap();
            recs.extend(count::recount(&case, now));
        }
        compare_with_intent(&recs, &built.intended);
        let recounted_in = clock.elapsed();

        // (b) Every report, as the county sees it: figures, scores, ranks, red and black lists.
        let county = Identity::new(
            "leader",
            Role::CountyAdmin,
            path("130322"),
            None,
            "console-x",
        )
        .unwrap();
        let weights = rules.assessment();
        let mut reports = BTreeMap::new();
        for kind in UnitKind::ASSESSED {
            let sums = count::sums(kind, period, &recs, &built.township_scores);
            assert_variety(kind, &sums);
            let report = assessment::report(&store, &rules, &county, kind, period, now)
                .await
                .unwrap();
            assert_eq!((report.kind, report.period), (kind, period));
            let mut codes: Vec<&str> = report.rows.iter().map(|r| r.unit.code.as_str()).collect();
            codes.sort_unstable();
            assert_eq!(codes, sums.keys().map(String::as_str).collect::<Vec<_>>());
            let scores: BTreeMap<String, Option<f64>> = sums
                .iter()
                .map(|(code, s)| (code.clone(), count::score(s, weights)))
                .collect();
            for row in &report.rows {
                assert_eq!(row.unit.kind, kind);
                assert_tally(kind, &row.unit.code, &report, &sums[&row.unit.code]);
                match (row.score, scores[&row.unit.code]) {
                    (Some(got), Some(want)) => {
                        assert!(
                            (got - want).abs() < 1e-9,
                            "{kind:?} {}: {got} vs {want}",
                            row.unit.code
                        )
                    }
                    (got, want) => assert_eq!(got, want, "{kind:?} {}", row.unit.code),
                }
            }
            let ranking = count::ranking(&scores);
            let ranked: Vec<(&str, u32)> = report
                .rows
                .iter()
                .filter_map(|r| r.rank.map(|k| (r.unit.code.as_str(), k)))
                .collect();
            let want: Vec<(&str, u32)> = ranking.iter().map(|(c, _, k)| (c.as_str(), *k)).collect();
            assert_eq!(ranked, want, "{kind:?}: the rows best first, ranked");
            assert!(
                report.rows[ranked.len()..]
                    .iter()
                    .all(|r| r.rank.is_none() && r.score.is_none()),
                "{kind:?}: unscored rows last"
            );
            let n = ranking.len();
            let red_n = (weights.red_list as usize).min(n);
            let black_n = match kind {
                UnitKind::Department => weights.black_list_departments,
                _ => weights.black_list_areas,
            } as usize;
            let black_n = black_n.min(n - red_n);
            let codes_of = |us: &[Unit]| us.iter().map(|u| u.code.clone()).collect::<Vec<_>>();
            let top: Vec<String> = ranking[..red_n].iter().map(|r| r.0.clone()).collect();
            let bottom: Vec<String> = ranking[n - black_n..].iter().map(|r| r.0.clone()).collect();
            assert_eq!(codes_of(&report.red), top, "{kind:?} 红榜");
            assert_eq!(codes_of(&report.black), bottom, "{kind:?} 黑榜");
            assert!(black_n > 0 && red_n > 0);
            reports.insert(kind, (report, sums));
        }
        let (departments, _) = &reports[&UnitKind::Department];
        let idle = departments.row(world::IDLE_DEPARTMENT).unwrap();
        assert_eq!(
            (idle.score, idle.rank),
            (None, None),
            "scored by a township, no case"
        );
        assert!(idle.tally.township_scores > 0);
        let reported_in = clock.elapsed();

        // (c) The cases behind each figure of each unit are exactly the recounted ones.
        let mut drilled = 0;
        for (kind, (_, sums)) in &reports {
            for code in sums.keys().filter(|c| sums[*c].received > 0) {
                let unit = Unit {
                    kind: *kind,
                    code: code.clone(),
                };
                for figure in Figure::ALL {
                    let rows = assessment::drill(&store, &county, &unit, figure, period, now)
                        .await
                        .unwrap();
                    assert!(rows.iter().all(|r| r.duty.unit == unit));
                    let mut got: Vec<&str> = rows.iter().map(|r| r.case_id.as_str()).collect();
                    let mut want: Vec<&str> = recs
                        .iter()
                        .filter(|r| r.kind == *kind && r.code == *code)
                        .filter(|r| (period.from..period.to).contains(&r.received_at))
                        .filter(|r| r.counts(figure))
                        .map(|r| r.case_id.as_str())
                        .collect();
                    got.sort_unstable();
                    want.sort_unstable();
                    assert_eq!(got, want, "{kind:?} {code} {figure:?}");
                    drilled += got.len();
                }
            }
        }
        assert!(drilled > 10_000, "{drilled}");
        let drilled_in = clock.elapsed();

        // (d) A department sees its own row, with its true rank, and only its own cases.
        let own = "urban_management";
        let handler = Identity::new(
            "dh_urban_management",
            Role::DepartmentHandler,
            path("130322"),
            Some(own.into()),
            "dev-dh_urban_management",
        )
        .unwrap();
        let mine = assessment::report(&store, &rules, &handler, UnitKind::Department, period, now)
            .await
            .unwrap();
        assert_eq!(mine.rows.len(), 1);
        assert_eq!(Some(&mine.rows[0]), departments.row(own));
        for kind in [UnitKind::Township, UnitKind::Village, UnitKind::Worker] {
            let theirs = assessment::report(&store, &rules, &handler, kind, period, now).await;
            assert!(
                theirs.is_err() || theirs.as_ref().is_ok_and(|r| r.rows.is_empty()),
                "{kind:?}"
            );
        }
        let own_unit = Unit {
            kind: UnitKind::Department,
            code: own.into(),
        };
        let as_county = assessment::drill(&store, &county, &own_unit, Figure::Overdue, period, now)
            .await
            .unwrap();
        let as_handler =
            assessment::drill(&store, &handler, &own_unit, Figure::Overdue, period, now)
                .await
                .unwrap();
        assert!(!as_handler.is_empty());
        assert_eq!(as_handler, as_county);
        for other in world::DEPARTMENTS.into_iter().filter(|d| *d != own) {
            let unit = Unit {
                kind: UnitKind::Department,
                code: other.into(),
            };
            for figure in Figure::ALL {
                let got = assessment::drill(&store, &handler, &unit, figure, period, now).await;
                assert!(
                    matches!(got, Err(AssessmentError::Forbidden)),
                    "{other} {figure:?}"
                );
            }
        }
        // A township centre sees its own township, its villages and the workers of its cases.
        let staff = Identity::new(
            "staff1",
            Role::TownshipStaff,
            path("130322/102"),
            None,
            "dev-staff1",
        )
        .unwrap();
        for kind in [UnitKind::Township, UnitKind::Village, UnitKind::Worker] {
            let seen = assessment::report(&store, &rules, &staff, kind, period, now)
                .await
                .unwrap();
            let (all, _) = &reports[&kind];
            assert!(!seen.rows.is_empty());
            for row in &seen.rows {
                let inside = match kind {
                    UnitKind::Worker => row.unit.code.starts_with("gw1"),
                    _ => row.unit.code.starts_with("130322/102"),
                };
                assert!(inside, "{kind:?} {}", row.unit.code);
                assert_eq!(Some(row), all.row(&row.unit.code), "its true rank");
            }
        }
        eprintln!(
            "{} cases, {} holds: built {built_in:?}, recounted at {recounted_in:?}, reports at \
             {reported_in:?}, {drilled} drilled at {drilled_in:?}, all {:?}",
            built.ids.len(),
            recs.len(),
            clock.elapsed()
        );
    }
);
