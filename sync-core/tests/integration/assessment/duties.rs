//! `duties`: who held each case and how they did, for typical logs.

use super::*;

#[test]
fn a_grid_worker_who_reports_and_resolves_holds_it_with_the_territories() {
    let t0 = monday();
    let mut log = Log::reported(&wang(), t0);
    let accepted = log.step(&wang(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(&wang(), t0 + 2 * HOUR, EventDraft::new(EventType::Resolved));
    let reported = log.first();
    let ds = log.duties();
    let units: Vec<&Unit> = ds.iter().map(|d| &d.unit).collect();
    assert_eq!(
        units,
        [
            &unit(UnitKind::Township, TOWNSHIP),
            &unit(UnitKind::Village, VILLAGE),
            &unit(UnitKind::Worker, "wang"),
        ]
    );
    for d in &ds {
        assert!(!d.assisting);
        assert_eq!(d.received_at, t0);
        assert_eq!(d.sign_due, reported.due, "{:?}", d.unit);
        assert_eq!(d.signed_at, Some(t0 + MINUTE));
        assert_eq!(d.due, accepted.due, "judged by the category's clock");
        assert_eq!(d.done_at, Some(t0 + 2 * HOUR));
        assert_eq!(d.ended_at, None, "held until archived");
        assert_eq!((d.returned, d.reopened, d.return_visits), (0, 0, 0));
        assert_eq!(
            figures(d, t0 + 30 * DAY),
            [
                Figure::Received,
                Figure::SignedOnTime,
                Figure::ResolvedOnTime
            ]
        );
    }
    assert_eq!(ds[2].person.as_deref(), Some("wang"));
    assert_eq!(ds[0].person, None);
}

#[test]
fn a_matter_routed_to_the_grid_is_the_workers_from_when_they_take_it_on() {
    let t0 = monday();
    let mut log = Log::reported(&li(), t0);
    let routed = log.step(&li(), t0 + 30 * MINUTE, EventDraft::route_to(Level::Grid));
    let accepted = log.step(&wang(), t0 + 3 * HOUR, EventDraft::new(EventType::Accepted));
    log.step(&wang(), t0 + DAY, EventDraft::new(EventType::Resolved));
    let ds = log.duties();
    assert_eq!(
        ds.len(),
        3,
        "no duty for the township staff who registered it: {ds:#?}"
    );
    let w = only(&ds, UnitKind::Worker, "wang");
    assert_eq!(w.received_at, t0 + 3 * HOUR);
    assert_eq!(
        w.sign_due, routed.due,
        "the routed clock was the worker's to answer"
    );
    assert_eq!(w.signed_at, Some(t0 + 3 * HOUR));
    assert_eq!(w.due, accepted.due);
    assert_eq!(w.done_at, Some(t0 + DAY));
    assert!(w.signed_on_time() && w.resolved_on_time() && !w.overdue(t0 + 30 * DAY));
    let t = only(&ds, UnitKind::Township, TOWNSHIP);
    assert_eq!(t.received_at, t0);
    assert_eq!(
        t.signed_at,
        Some(t0 + 30 * MINUTE),
        "first answered by routing it"
    );
    assert_eq!(t.done_at, Some(t0 + DAY));
    assert_eq!(only(&ds, UnitKind::Village, VILLAGE).signed_at, t.signed_at);
}

#[test]
fn a_lead_department_that_signs_late_and_resolves_on_time_is_overdue_yet_resolved_on_time() {
    let t0 = monday();
    let chen = handler("chen", "urban_management");
    let mut log = Log::reported(&wang(), t0);
    log.step(&li(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    let assigned = log.step(
        &li(),
        t0 + 2 * MINUTE,
        EventDraft::assign_to("urban_management"),
    );
    let sign_due = assigned.due.unwrap();
    let signed = log.step(
        &chen,
        sign_due + HOUR,
        EventDraft::new(EventType::InProgress),
    );
    let resolved = log.step(&chen, sign_due + DAY, EventDraft::new(EventType::Resolved));
    assert!(resolved.at < signed.due.unwrap());
    log.step(
        &requester(),
        sign_due + DAY + HOUR,
        EventDraft::evaluate(Rating::Satisfied),
    );
    let archived = log.step(
        &li(),
        sign_due + 2 * DAY,
        EventDraft::new(EventType::Archived),
    );
    let now = t0 + 30 * DAY;
    let ds = log.duties();
    let d = only(&ds, UnitKind::Department, "urban_management");
    assert!(!d.assisting);
    assert_eq!(d.received_at, assigned.at);
    assert_eq!(d.sign_due, Some(sign_due));
    assert_eq!(
        (d.signed_at, d.person.as_deref()),
        (Some(signed.at), Some("chen"))
    );
    assert_eq!(d.due, signed.due, "its handling clock starts when it signs");
    assert_eq!(d.done_at, Some(resolved.at));
    assert_eq!(d.ended_at, Some(archived.at));
    assert_eq!((d.rated_by_requester, d.satisfied_by_requester), (1, 1));
    assert_eq!((d.rated_by_staff, d.satisfied_by_staff), (0, 0));
    assert_eq!(
        figures(d, now),
        [
            Figure::Received,
            Figure::ResolvedOnTime,
            Figure::Overdue,
            Figure::SatisfiedRequester
        ]
    );
    // The grid worker reported it; the township took it on at once: the worker's hold ended
    // there, unanswered by the worker but not late.
    let w = only(&ds, UnitKind::Worker, "wang");
    assert_eq!((w.received_at, w.ended_at), (t0, Some(t0 + MINUTE)));
    assert_eq!(w.signed_at, None);
    assert!(!w.overdue(now));
    assert_eq!(
        w.rated_by_requester, 0,
        "rated after the worker's hold ended"
    );
    // The territories follow the case's clock: answered in time, resolved by the department's
    // handling clock.
    for (kind, code) in [(UnitKind::Township, TOWNSHIP), (UnitKind::Village, VILLAGE)] {
        let d = only(&ds, kind, code);
        assert_eq!(d.signed_at, Some(t0 + MINUTE));
        assert_eq!(d.due, signed.due);
        assert_eq!(
            (d.done_at, d.ended_at),
            (Some(resolved.at), Some(archived.at))
        );
        assert_eq!(d.rated_by_requester, 1);
        assert!(!d.overdue(now));
    }
}

#[test]
fn an_assisting_part_signed_and_done_is_a_duty_of_its_own() {
    let t0 = monday();
    let chen = handler("chen", "urban_management");
    let zhou = handler("zhou", "environment");
    let mut log = Log::reported(&wang(), t0);
    log.step(&li(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(
        &li(),
        t0 + 2 * MINUTE,
        EventDraft::assign_to("urban_management"),
    );
    let assist = log.step(&li(), t0 + 3 * MINUTE, EventDraft::assist("environment"));
    let part_signed = log.step(&zhou, t0 + HOUR, EventDraft::sign_part("environment"));
    let lead_signed = log.step(&chen, t0 + 2 * HOUR, EventDraft::new(EventType::InProgress));
    log.step(
        &zhou,
        t0 + 5 * HOUR,
        EventDraft::finish_part("environment").note("已对排污口取样"),
    );
    log.step(&chen, t0 + 6 * HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &li(),
        t0 + 7 * HOUR,
        EventDraft::return_visit("phone").note("群众说已经修好"),
    );
    log.step(
        &requester(),
        t0 + 8 * HOUR,
        EventDraft::evaluate(Rating::Satisfied),
    );
    assert_eq!(
        log.doc.workflow().unwrap().departments(),
        ["urban_management", "environment"]
    );
    let ds = log.duties();
    assert_eq!(
        ds.len(),
        5,
        "township, village, worker, lead, part: {ds:#?}"
    );
    let lead = &ds[3];
    let part = &ds[4];
    assert_eq!(lead.unit, unit(UnitKind::Department, "urban_management"));
    assert!(!lead.assisting);
    assert_eq!(lead.signed_at, Some(lead_signed.at));
    assert_eq!(lead.done_at, Some(t0 + 6 * HOUR));
    assert_eq!(part.unit, unit(UnitKind::Department, "environment"));
    assert!(part.assisting);
    assert_eq!(part.received_at, assist.at);
    assert_eq!(
        part.sign_due, assist.due,
        "the department's own sign-for limit"
    );
    assert_eq!(
        (part.signed_at, part.person.as_deref()),
        (Some(t0 + HOUR), Some("zhou"))
    );
    assert_eq!(part.due, part_signed.due, "then the category's limit");
    assert_eq!(part.done_at, Some(t0 + 5 * HOUR));
    assert_eq!(
        part.ended_at,
        Some(t0 + 5 * HOUR),
        "reporting its part ends it"
    );
    assert_eq!(
        part.return_visits, 1,
        "the case's visit follows its part too"
    );
    assert_eq!(
        (part.rated_by_requester, part.satisfied_by_requester),
        (1, 1)
    );
    for d in [lead, part] {
        assert_eq!(
            figures(d, t0 + 30 * DAY),
            [
                Figure::Received,
                Figure::SignedOnTime,
                Figure::ResolvedOnTime,
                Figure::SatisfiedRequester,
                Figure::ReturnVisited
            ],
            "{:?}",
            d.unit
        );
    }
}

#[test]
fn a_return_counts_against_the_returning_department_only() {
    let t0 = monday();
    let chen = handler("chen", "urban_management");
    let zhou = handler("zhou", "environment");
    let mut log = Log::reported(&wang(), t0);
    log.step(&li(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(
        &li(),
        t0 + 2 * MINUTE,
        EventDraft::assign_to("urban_management"),
    );
    let returned = log.step(
        &chen,
        t0 + HOUR,
        EventDraft::new(EventType::Returned).note("不属于本部门职责"),
    );
    log.step(&li(), t0 + 2 * HOUR, EventDraft::assign_to("environment"));
    log.step(&zhou, t0 + 3 * HOUR, EventDraft::new(EventType::InProgress));
    log.step(&zhou, t0 + 4 * HOUR, EventDraft::new(EventType::Resolved));
    let now = t0 + 30 * DAY;
    let ds = log.duties();
    let urban = only(&ds, UnitKind::Department, "urban_management");
    assert_eq!(urban.returned, 1);
    assert_eq!(urban.ended_at, Some(returned.at));
    assert_eq!((urban.signed_at, urban.done_at), (None, None));
    assert!(!urban.overdue(now), "returned within its sign-for time");
    assert_eq!(figures(urban, now), [Figure::Received, Figure::Returned]);
    let env = only(&ds, UnitKind::Department, "environment");
    assert_eq!((env.returned, env.person.as_deref()), (0, Some("zhou")));
    assert!(env.resolved_on_time());
    for d in ds.iter().filter(|d| d.unit.kind != UnitKind::Department) {
        assert_eq!(d.returned, 0, "{:?}", d.unit);
    }
}

#[test]
fn township_staffs_return_counts_for_the_township_and_the_resolution_it_sent_back_no_longer_stands()
{
    let t0 = monday();
    let mut log = Log::reported(&wang(), t0);
    log.step(&wang(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(&wang(), t0 + HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &li(),
        t0 + 2 * HOUR,
        EventDraft::new(EventType::Returned).note("未处理到位"),
    );
    let again = log.step(
        &wang(),
        t0 + 3 * HOUR,
        EventDraft::new(EventType::InProgress),
    );
    let ds = log.duties();
    // 退回 by township staff is the township's, not its villages'.
    assert_eq!(only(&ds, UnitKind::Township, TOWNSHIP).returned, 1);
    assert_eq!(only(&ds, UnitKind::Village, VILLAGE).returned, 0);
    assert_eq!(only(&ds, UnitKind::Worker, "wang").returned, 0);
    // Sent back, the resolution no longer stands: handled again on the new clock.
    let late = again.due.unwrap() + HOUR;
    for d in &ds {
        assert_eq!(d.done_at, None, "{:?}", d.unit);
        assert_eq!(d.due, again.due, "{:?}", d.unit);
        assert!(d.overdue(late) && !d.overdue(again.due.unwrap()));
    }
    log.step(&wang(), t0 + 4 * HOUR, EventDraft::new(EventType::Resolved));
    for d in &log.duties() {
        assert_eq!(d.done_at, Some(t0 + 4 * HOUR));
        assert!(d.resolved_on_time() && !d.overdue(late));
    }
}

#[test]
fn a_reopen_then_a_pass_counts_one_failed_acceptance_and_no_finding() {
    let t0 = monday();
    let mut log = Log::reported(&wang(), t0);
    log.step(&wang(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(&wang(), t0 + HOUR, EventDraft::new(EventType::Resolved));
    let reopened = log.step(
        &li(),
        t0 + DAY,
        EventDraft::new(EventType::Reopened).note("路灯仍不亮"),
    );
    let mid = log.duties();
    for d in &mid {
        assert_eq!((d.reopened, d.done_at), (1, None), "{:?}", d.unit);
        assert_eq!(d.due, reopened.due, "handled again on a new clock");
    }
    log.step(
        &wang(),
        t0 + DAY + 2 * HOUR,
        EventDraft::new(EventType::Resolved),
    );
    log.step(
        &requester(),
        t0 + 2 * DAY,
        EventDraft::evaluate(Rating::Satisfied),
    );
    let w = only(&log.duties(), UnitKind::Worker, "wang").clone();
    assert_eq!(w.reopened, 1);
    assert_eq!(w.done_at, Some(t0 + DAY + 2 * HOUR));
    assert_eq!(w.due, reopened.due);
    assert_eq!((w.rated_by_requester, w.satisfied_by_requester), (1, 1));
    assert!(figures(&w, t0 + 30 * DAY).contains(&Figure::Reopened));
    assert!(log.findings(&Triggers::default(), t0 + 30 * DAY).is_empty());
}

#[test]
fn the_requesters_ratings_and_staffs_are_kept_apart_and_return_visits_follow_resolutions() {
    let t0 = monday();
    let mut log = Log::reported(&wang(), t0);
    log.step(&wang(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(&wang(), t0 + HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &li(),
        t0 + 2 * HOUR,
        EventDraft::return_visit("phone").note("群众说灯还是暗"),
    );
    // The requester's own rating (written by the server): unsatisfied, a failed acceptance.
    log.step(
        &requester(),
        t0 + 3 * HOUR,
        EventDraft::evaluate(Rating::Unsatisfied),
    );
    log.step(&wang(), t0 + 5 * HOUR, EventDraft::new(EventType::Resolved));
    log.step(
        &li(),
        t0 + 6 * HOUR,
        EventDraft::return_visit("visit").note("上门看过，灯亮了"),
    );
    // Staff record a rating too (a phone call noted in the console).
    log.step(
        &li(),
        t0 + 7 * HOUR,
        EventDraft::evaluate(Rating::BasicallySatisfied),
    );
    let now = t0 + 30 * DAY;
    let ds = log.duties();
    for d in &ds {
        assert_eq!(
            (d.rated_by_requester, d.satisfied_by_requester),
            (1, 0),
            "{:?}",
            d.unit
        );
        assert_eq!((d.rated_by_staff, d.satisfied_by_staff), (1, 1));
        assert_eq!(d.reopened, 1, "rated unsatisfied: handled again");
        assert_eq!(d.return_visits, 2);
        assert_eq!(d.done_at, Some(t0 + 5 * HOUR));
        assert!(figures(d, now).contains(&Figure::ReturnVisited));
        assert!(figures(d, now).contains(&Figure::SatisfiedRequester));
        assert!(figures(d, now).contains(&Figure::SatisfiedStaff));
    }
    // A return visit to a case not (or no longer) resolved is no return visit of a resolution.
    let mut open = Log::reported(&wang(), t0);
    open.step(&wang(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    open.step(&wang(), t0 + HOUR, EventDraft::new(EventType::Resolved));
    open.step(
        &li(),
        t0 + 2 * HOUR,
        EventDraft::return_visit("sms").note("未回复"),
    );
    open.step(
        &li(),
        t0 + 3 * HOUR,
        EventDraft::new(EventType::Reopened).note("未修好"),
    );
    for d in &open.duties() {
        assert_eq!(d.return_visits, 1);
        assert!(!Figure::ReturnVisited.counts(d, now), "{:?}", d.unit);
    }
}

#[test]
fn a_part_never_signed_ends_when_the_case_is_archived() {
    let t0 = monday();
    let chen = handler("chen", "urban_management");
    let mut log = Log::reported(&wang(), t0);
    log.step(&li(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    log.step(
        &li(),
        t0 + 2 * MINUTE,
        EventDraft::assign_to("urban_management"),
    );
    let assist = log.step(&li(), t0 + 3 * MINUTE, EventDraft::assist("environment"));
    log.step(&chen, t0 + HOUR, EventDraft::new(EventType::InProgress));
    log.step(
        &chen,
        t0 + 2 * HOUR,
        EventDraft::new(EventType::Resolved).note("生态环境分局未反馈，先行办结"),
    );
    let archived = log.step(&li(), t0 + 3 * HOUR, EventDraft::new(EventType::Archived));
    assert!(archived.at < assist.due.unwrap());
    let ds = log.duties();
    let part = ds.iter().find(|d| d.assisting).unwrap();
    assert_eq!((part.signed_at, part.done_at), (None, None));
    assert_eq!(part.ended_at, Some(archived.at));
    assert!(
        !part.overdue(t0 + 30 * DAY),
        "its sign-for time had not run out when the case closed"
    );
    // One that was late by then stays late.
    let mut late = Log::reported(&wang(), t0);
    late.step(&li(), t0 + MINUTE, EventDraft::new(EventType::Accepted));
    late.step(
        &li(),
        t0 + 2 * MINUTE,
        EventDraft::assign_to("urban_management"),
    );
    let assist = late.step(&li(), t0 + 3 * MINUTE, EventDraft::assist("environment"));
    late.step(&chen, t0 + HOUR, EventDraft::new(EventType::InProgress));
    let after = assist.due.unwrap() + HOUR;
    late.step(
        &chen,
        after,
        EventDraft::new(EventType::Resolved).note("协办部门逾期未签收"),
    );
    late.step(&li(), after + HOUR, EventDraft::new(EventType::Archived));
    let part = late.duties().into_iter().find(|d| d.assisting).unwrap();
    assert!(part.overdue(t0 + 30 * DAY));
}
