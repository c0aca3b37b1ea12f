//! `findings`: each accountability trigger, found when it should be and only then.

use super::*;

#[test]
fn one_department_returning_a_case_more_than_n_times_is_a_finding() {
    let t0 = monday();
    let chen = handler("chen", "urban_management");
    let mut log = Log::reported(&wang(), t0);
    log.step(&li(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    let now = t0 + 30 * DAY;
    let mut triggers = Triggers::default();
    let mut ids = Vec::new();
    for round in 0..3 {
        let at = t0 + round * HOUR + 2 * MINUTE;
        log.step(&li(), at, EventDraft::assign_to("urban_management"));
        let back = log.step(
            &chen,
            at + MINUTE,
            EventDraft::new(EventType::Returned).note("不属于本部门职责"),
        );
        ids.push(back.id);
        if round < 2 {
            assert!(
                log.findings(&triggers, now).is_empty(),
                "not more than two yet"
            );
        }
    }
    let found = log.findings(&triggers, now);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.trigger, Trigger::ReturnedTooOften);
    assert_eq!(f.unit, unit(UnitKind::Department, "urban_management"));
    assert_eq!(f.person.as_deref(), Some("chen"));
    assert_eq!(f.events, ids);
    let ds = log.duties();
    let returned: Vec<u32> = ds
        .iter()
        .filter(|d| d.unit.kind == UnitKind::Department)
        .map(|d| d.returned)
        .collect();
    assert_eq!(returned, [1, 1, 1], "each dispatch a duty of its own");
    assert!(
        ds.iter()
            .filter(|d| d.unit.kind != UnitKind::Department)
            .all(|d| d.returned == 0)
    );
    triggers.returned_more_than = 3;
    assert!(log.findings(&triggers, now).is_empty());
    triggers.returned_more_than = 0;
    assert!(log.findings(&triggers, now).is_empty(), "0 switches it off");
}

/// Reported by wang, taken on by the township, dispatched to urban_management and signed by
/// chen: (log, chen).
fn dispatched(t0: i64) -> (Log, Identity) {
    let chen = handler("chen", "urban_management");
    let mut log = Log::reported(&wang(), t0);
    log.step(&li(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(
        &li(),
        t0 + 2 * MINUTE,
        EventDraft::assign_to("urban_management"),
    );
    log.step(&chen, t0 + HOUR, EventDraft::new(EventType::InProgress));
    (log, chen)
}

#[test]
fn two_failed_acceptances_in_a_row_raise_one_finding_naming_the_owner_then() {
    let t0 = monday();
    let (mut log, chen) = dispatched(t0);
    log.step(&chen, t0 + 2 * HOUR, EventDraft::new(EventType::Resolved));
    let first = log.step(
        &requester(),
        t0 + 3 * HOUR,
        EventDraft::evaluate(Rating::Unsatisfied),
    );
    log.step(&chen, t0 + 4 * HOUR, EventDraft::new(EventType::Resolved));
    let now = t0 + 30 * DAY;
    assert!(log.findings(&Triggers::default(), now).is_empty());
    let second = log.step(
        &li(),
        t0 + 5 * HOUR,
        EventDraft::new(EventType::Reopened).note("核查未整改"),
    );
    let found = log.findings(&Triggers::default(), now);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.trigger, Trigger::FailedTwiceInRow);
    assert_eq!(f.unit, unit(UnitKind::Department, "urban_management"));
    assert_eq!(f.person.as_deref(), Some("chen"));
    assert_eq!(f.events, [first.id.clone(), second.id.clone()]);
    assert_eq!(f.at, second.at);
    // A third failure in the same run is the same situation: no second record.
    log.step(&chen, t0 + 6 * HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &li(),
        t0 + 7 * HOUR,
        EventDraft::new(EventType::Reopened).note("仍未整改"),
    );
    let again = log.findings(&Triggers::default(), now);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].key(), f.key(), "stable: recorded once");
    let off = Triggers {
        failed_twice_in_row: false,
        ..Triggers::default()
    };
    assert!(log.findings(&off, now).is_empty());
}

#[test]
fn fail_pass_fail_raises_nothing() {
    let t0 = monday();
    let (mut log, chen) = dispatched(t0);
    log.step(&chen, t0 + 2 * HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &requester(),
        t0 + 3 * HOUR,
        EventDraft::evaluate(Rating::Unsatisfied),
    );
    log.step(&chen, t0 + 4 * HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &requester(),
        t0 + 5 * HOUR,
        EventDraft::evaluate(Rating::Satisfied),
    );
    log.step(
        &li(),
        t0 + 6 * HOUR,
        EventDraft::new(EventType::Reopened).note("复查发现反弹"),
    );
    assert!(log.findings(&Triggers::default(), t0 + 30 * DAY).is_empty());
    assert!(!log.doc.workflow().unwrap().accountability);
    let d = only(&log.duties(), UnitKind::Department, "urban_management").clone();
    assert_eq!(d.reopened, 2, "both failures still count in the figures");
}

#[test]
fn a_grid_workers_two_failures_in_a_row_name_the_worker() {
    let t0 = monday();
    let mut log = Log::reported(&wang(), t0);
    log.step(&wang(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(&wang(), t0 + HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &li(),
        t0 + 2 * HOUR,
        EventDraft::evaluate(Rating::Unsatisfied),
    );
    log.step(&wang(), t0 + 3 * HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &li(),
        t0 + 4 * HOUR,
        EventDraft::evaluate(Rating::Unsatisfied),
    );
    let found = log.findings(&Triggers::default(), t0 + DAY);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].unit, unit(UnitKind::Worker, "wang"));
    assert_eq!(found[0].person.as_deref(), Some("wang"));
}

#[test]
fn a_return_visit_finding_the_resolution_untrue_names_the_resolver() {
    let t0 = monday();
    let (mut log, chen) = dispatched(t0);
    let resolved = log.step(&chen, t0 + 2 * HOUR, EventDraft::new(EventType::Resolved));
    let now = t0 + 30 * DAY;
    log.step(
        &li(),
        t0 + 3 * HOUR,
        EventDraft::return_visit("phone")
            .note("群众说修好了")
            .verdict(Verdict::Confirmed),
    );
    assert!(log.findings(&Triggers::default(), now).is_empty());
    let visit = log.step(
        &li(),
        t0 + DAY,
        EventDraft::return_visit("visit")
            .note("上门查看，路灯仍不亮")
            .verdict(Verdict::Untrue),
    );
    let found = log.findings(&Triggers::default(), now);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.trigger, Trigger::UntrueResolution);
    assert_eq!(f.unit, unit(UnitKind::Department, "urban_management"));
    assert_eq!(f.person.as_deref(), Some("chen"));
    assert_eq!(f.events, [resolved.id.clone(), visit.id.clone()]);
    assert_eq!(f.at, visit.at);
    let off = Triggers {
        untrue_resolution: false,
        ..Triggers::default()
    };
    assert!(log.findings(&off, now).is_empty());
}

#[test]
fn overdue_after_county_supervision_is_found_after_n_working_days_not_before() {
    let t0 = monday();
    let cal = Calendar::builtin();
    let (mut log, chen) = dispatched(t0);
    let due = log.doc.workflow().unwrap().due.unwrap();
    // A township's supervision is no county supervision.
    log.step(
        &li(),
        due + HOUR,
        EventDraft::supervise(Level::Township).note("乡镇督办"),
    );
    let supervised = log.step(
        &leader(),
        due + 2 * HOUR,
        EventDraft::supervise(Level::County).note("县级督办"),
    );
    let triggers = Triggers::default();
    let deadline = cal.due(
        supervised.at,
        TimeLimit::WorkingDays(triggers.overdue_after_county_days),
    );
    assert!(
        deadline - supervised.at >= 3 * DAY,
        "working days, not hours"
    );
    assert!(log.findings(&triggers, supervised.at + DAY).is_empty());
    assert!(log.findings(&triggers, deadline).is_empty(), "not before");
    let found = log.findings(&triggers, deadline + 1);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.trigger, Trigger::OverdueAfterCounty);
    assert_eq!(f.unit, unit(UnitKind::Department, "urban_management"));
    assert_eq!(f.person.as_deref(), Some("chen"));
    assert_eq!(f.events, std::slice::from_ref(&supervised.id));
    assert_eq!(f.at, deadline);
    let later = log.findings(&triggers, deadline + 10 * DAY);
    assert_eq!(later[0].key(), f.key());
    let off = Triggers {
        overdue_after_county_days: 0,
        ..Triggers::default()
    };
    assert!(log.findings(&off, deadline + DAY).is_empty());
    // Resolved since: nothing to find.
    log.step(&chen, deadline - HOUR, EventDraft::new(EventType::Resolved));
    assert!(log.findings(&triggers, deadline + DAY).is_empty());
}

#[test]
fn a_department_that_never_signed_is_named_without_a_person_of_another_unit() {
    let t0 = monday();
    let mut log = Log::reported(&wang(), t0);
    log.step(&li(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(
        &li(),
        t0 + 2 * MINUTE,
        EventDraft::assign_to("urban_management"),
    );
    let due = log.doc.workflow().unwrap().due.unwrap();
    let supervised = log.step(
        &leader(),
        due + HOUR,
        EventDraft::supervise(Level::County).note("县级督办：请即签收"),
    );
    let deadline = Calendar::builtin().due(supervised.at, TimeLimit::WorkingDays(3));
    let found = log.findings(&Triggers::default(), deadline + 1);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].unit,
        unit(UnitKind::Department, "urban_management")
    );
    assert_ne!(
        found[0].person.as_deref(),
        Some("li"),
        "the township staff who took the case on is no one of the department"
    );
    assert_eq!(found[0].person, None, "nobody of the department signed");
}

#[test]
fn a_late_assisting_part_supervised_by_the_county_names_that_department_alone() {
    let t0 = monday();
    let (mut log, _chen) = dispatched(t0);
    let zhou = handler("zhou", "environment");
    log.step(&li(), t0 + 2 * HOUR, EventDraft::assist("environment"));
    let signed = log.step(&zhou, t0 + 3 * HOUR, EventDraft::sign_part("environment"));
    let supervised = log.step(
        &leader(),
        signed.due.unwrap() + HOUR,
        EventDraft::supervise_part(Level::County, "environment").note("协办逾期"),
    );
    let deadline = Calendar::builtin().due(supervised.at, TimeLimit::WorkingDays(3));
    let found = log.findings(&Triggers::default(), deadline + 1);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].unit, unit(UnitKind::Department, "environment"));
    assert_eq!(found[0].person.as_deref(), Some("zhou"));
    log.step(
        &zhou,
        deadline - HOUR,
        EventDraft::finish_part("environment").note("已完成排查"),
    );
    assert!(log.findings(&Triggers::default(), deadline + 1).is_empty());
}
