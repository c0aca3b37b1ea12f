//! Reports (scores, ranks, the red and black lists) and the settings' round trip.

use super::*;

fn duty(kind: UnitKind, code: &str, received_at: i64) -> Duty {
    Duty {
        unit: unit(kind, code),
        assisting: false,
        person: None,
        received_at,
        sign_due: Some(received_at + DAY),
        signed_at: Some(received_at + HOUR),
        due: Some(received_at + 3 * DAY),
        done_at: Some(received_at + DAY),
        ended_at: None,
        returned: 0,
        reopened: 0,
        rated_by_requester: 0,
        satisfied_by_requester: 0,
        rated_by_staff: 0,
        satisfied_by_staff: 0,
        return_visits: 0,
    }
}

#[test]
fn a_report_scores_by_the_weights_ranks_ties_by_code_and_lists_the_top_and_bottom() {
    let t0 = monday();
    let period = Period {
        from: t0,
        to: t0 + 30 * DAY,
    };
    let now = t0 + 40 * DAY;
    let rules = AssessmentRules::default();
    let d = UnitKind::Department;
    // "mixed": one duty all well and rated and visited, one signed late, returned, still open.
    let mut good = duty(d, "mixed", t0);
    good.rated_by_requester = 1;
    good.satisfied_by_requester = 1;
    good.return_visits = 1;
    let mut bad = duty(d, "mixed", t0 + DAY);
    bad.signed_at = Some(t0 + 3 * DAY);
    bad.done_at = None;
    bad.returned = 1;
    // Two perfect units tie; "alpha" ranks before "zeta". "poor" did everything late.
    let zeta = duty(d, "zeta", t0);
    let alpha = duty(d, "alpha", t0 + 2 * DAY);
    let mut poor = duty(d, "poor", t0);
    poor.signed_at = Some(t0 + 2 * DAY);
    poor.done_at = Some(t0 + 5 * DAY);
    poor.reopened = 2;
    poor.rated_by_staff = 2;
    poor.satisfied_by_staff = 1;
    // Ignored: another kind, and a duty received outside the period.
    let other_kind = duty(UnitKind::Township, TOWNSHIP, t0);
    let mut outside = duty(d, "alpha", t0 + 31 * DAY);
    outside.done_at = None;
    let ratings = [
        TownshipRating {
            month_start: t0,
            township: "130322/101".into(),
            department: "mixed".into(),
            score: 5,
        },
        TownshipRating {
            month_start: t0,
            township: "130322/102".into(),
            department: "mixed".into(),
            score: 3,
        },
        // Outside the period: ignored.
        TownshipRating {
            month_start: t0 + 31 * DAY,
            township: "130322/101".into(),
            department: "zeta".into(),
            score: 1,
        },
        // A department without duties is listed, scoreless and unranked.
        TownshipRating {
            month_start: t0,
            township: "130322/101".into(),
            department: "idle".into(),
            score: 4,
        },
    ];
    let duties = [good, bad, zeta, alpha, poor, other_kind, outside];
    let report = Report::build(d, period, &duties, &ratings, &rules, now);
    let codes: Vec<&str> = report.rows.iter().map(|r| r.unit.code.as_str()).collect();
    assert_eq!(codes, ["alpha", "zeta", "mixed", "poor", "idle"]);
    let ranks: Vec<Option<u32>> = report.rows.iter().map(|r| r.rank).collect();
    assert_eq!(ranks, [Some(1), Some(2), Some(3), Some(4), None]);

    let mixed = report.row("mixed").unwrap();
    let t = &mixed.tally;
    assert_eq!(
        (t.received, t.signed_on_time, t.resolved_on_time, t.overdue),
        (2, 1, 1, 1)
    );
    assert_eq!(
        (t.returned, t.reopened, t.resolved, t.return_visited),
        (1, 0, 1, 1)
    );
    assert_eq!(t.township_average(), Some(4.0));
    assert_eq!(t.rate(Figure::SatisfiedStaff), None, "no staff ratings");
    // By hand, default weights: signed 10×½, resolved 25×½, overdue 15×(1−½), returned
    // 10×(1−½), reopened 10×1, requester 15×1, visited 5×1, townships 5×(4−1)/4; staff's
    // satisfaction has no base and is left out of both sides.
    let expected = 100.0 * (5.0 + 12.5 + 7.5 + 5.0 + 10.0 + 15.0 + 5.0 + 3.75) / 95.0;
    assert!((mixed.score.unwrap() - expected).abs() < 1e-9, "{mixed:?}");
    // poor: signed, resolved, overdue, reopened all 0 (as rates of good), not returned,
    // staff ½, resolution not visited; no requester's rating, no township's score.
    let poor = report.row("poor").unwrap();
    let expected = 100.0 * (10.0 + 5.0 * 0.5) / (10.0 + 25.0 + 15.0 + 10.0 + 10.0 + 5.0 + 5.0);
    assert!((poor.score.unwrap() - expected).abs() < 1e-9, "{poor:?}");
    // alpha and zeta: all but return visits (none of their resolutions was visited).
    let all_but_visits = 100.0 * 70.0 / 75.0;
    assert!((report.row("alpha").unwrap().score.unwrap() - all_but_visits).abs() < 1e-9);
    assert_eq!(
        report.row("alpha").unwrap().score,
        report.row("zeta").unwrap().score
    );
    assert_eq!(
        report.row("alpha").unwrap().tally.received,
        1,
        "the late one is outside"
    );
    assert_eq!(report.row("zeta").unwrap().tally.township_scores, 0);
    let idle = report.row("idle").unwrap();
    assert_eq!(
        (idle.score, idle.rank, idle.tally.township_scores),
        (None, None, 1)
    );
    // Red: the top two; black: the bottom three departments, but never a red one again.
    let names = |us: &[Unit]| us.iter().map(|u| u.code.clone()).collect::<Vec<_>>();
    assert_eq!(names(&report.red), ["alpha", "zeta"]);
    assert_eq!(names(&report.black), ["mixed", "poor"]);

    // Townships: two listed at the bottom; township ratings are departments' only.
    let t = UnitKind::Township;
    let mut area = Vec::new();
    for (i, code) in [
        "130322/101",
        "130322/102",
        "130322/103",
        "130322/104",
        "130322/105",
    ]
    .iter()
    .enumerate()
    {
        for k in 0..5 {
            let mut x = duty(t, code, t0 + k * HOUR);
            if k < i as i64 {
                x.done_at = None;
            }
            area.push(x);
        }
    }
    let report = Report::build(t, period, &area, &ratings, &rules, now);
    assert_eq!(names(&report.red), ["130322/101", "130322/102"]);
    assert_eq!(names(&report.black), ["130322/104", "130322/105"]);
    assert!(report.rows.iter().all(|r| r.tally.township_scores == 0));
    let mut fewer = rules.clone();
    fewer.red_list = 1;
    fewer.black_list_areas = 10;
    let report = Report::build(t, period, &area, &ratings, &fewer, now);
    assert_eq!(report.red.len(), 1);
    assert_eq!(report.black.len(), 4, "the rest, not the red one again");
    assert_eq!(
        report.black.last().unwrap().code,
        "130322/105",
        "worst last"
    );
}

#[test]
fn a_tally_without_a_base_leaves_a_rate_out_and_a_unit_without_duties_has_no_score() {
    let empty = Tally::default();
    assert_eq!(empty.score(&AssessmentRules::default()), None);
    for f in Figure::ALL {
        assert_eq!(empty.rate(f), None);
        assert_eq!(empty.count(f), 0);
        assert_eq!(Figure::parse(f.as_str()), Some(f));
        assert!(!f.name_zh().is_empty());
    }
    for t in Trigger::ALL {
        assert_eq!(Trigger::parse(t.as_str()), Some(t));
    }
    for k in UnitKind::ALL {
        assert_eq!(UnitKind::parse(k.as_str()), Some(k));
    }
    // Only the township rating weighs: a score is that rating alone.
    let mut rules = AssessmentRules::default();
    let w = &mut rules.weights;
    w.signed_on_time = 0.0;
    w.resolved_on_time = 0.0;
    w.overdue = 0.0;
    w.returned = 0.0;
    w.reopened = 0.0;
    w.satisfaction_requester = 0.0;
    w.satisfaction_staff = 0.0;
    w.return_visited = 0.0;
    let t = Tally {
        received: 3,
        township_score_sum: 2 + 3,
        township_scores: 2,
        ..Tally::default()
    };
    assert!((t.score(&rules).unwrap() - 100.0 * 1.5 / 4.0).abs() < 1e-9);
    let unrated = Tally {
        received: 3,
        ..Tally::default()
    };
    assert_eq!(unrated.score(&rules), None, "no weight applies");
}

// --- settings ---------------------------------------------------------------------------------

#[test]
fn assessment_settings_round_trip_through_the_rules_file() {
    let mut a = AssessmentRules {
        red_list: 3,
        black_list_departments: 4,
        black_list_areas: 1,
        ..AssessmentRules::default()
    };
    a.weights.township_rating = 12.5;
    a.weights.overdue = 0.0;
    a.weights.return_visited = 7.25;
    a.triggers.untrue_resolution = false;
    a.triggers.overdue_after_county_days = 5;
    a.triggers.returned_more_than = 0;
    let rules = Rules::builtin().with_assessment(a.clone());
    let text = rules.to_toml();
    let back = Rules::from_toml(7, &text).unwrap();
    assert_eq!(back.assessment(), &a);
    assert!(back.same_as(&rules));
    assert_eq!(back.version(), 7);
    assert!(
        !back.same_as(Rules::builtin()),
        "the settings are part of the rules"
    );
    // A rules file without the table: the defaults.
    let cut = text.find("[assessment]").unwrap();
    let without = Rules::from_toml(8, &text[..cut]).unwrap();
    assert_eq!(without.assessment(), &AssessmentRules::default());
    // A bad weight is refused with the table named.
    let bad = text.replace("township_rating = 12.5", "township_rating = -1.0");
    let err = Rules::from_toml(9, &bad).unwrap_err().to_string();
    assert!(err.contains("[assessment.weights]"), "{err}");
}
