//! Assessment (考核) and accountability (问责) on both backends with a controllable clock: joint
//! dispatch supervised per department, the read rule of an assisting department, the duties and
//! records the projection keeps, the records the clock raises, the county's decisions and the
//! townships' scores of departments.

use gridsync_core::assessment::{Decision, Figure, Trigger, Unit, UnitKind};
use gridsync_core::calendar::Calendar;
use gridsync_core::taxonomy::TimeLimit;
use gridsync_core::workflow::{EventDraft, EventType, Rating};
use gridsync_core::{CaseKind, Identity, Level, Replica, Role};
use gridsync_server::assessment::{AssessmentError, drill, month_period, report};
use gridsync_server::store::{
    AccountabilityFilter, AccountabilityRecord, CaseQuery, Store, StoreError, UserRecord,
};
use gridsync_server::supervision::Supervisor;

use crate::*;

const GRID: &str = "130322/101/201/01";
const TOWNSHIP: &str = "130322/101";
const HOUR: i64 = 3_600_000;

/// Local (China) time `date` at `hh:00`.
fn at(date: &str, hh: i64) -> i64 {
    Calendar::builtin().local_midnight(date).unwrap() + hh * HOUR
}

fn county() -> Identity {
    Identity::new("county", Role::CountyAdmin, path("130322"), None, "pc").unwrap()
}

/// A department handler's account and phone.
async fn handler(store: &Store, user: &str, department: &str) -> (Identity, Replica) {
    store
        .add_user(
            &UserRecord {
                id: user.into(),
                display_name: user.into(),
                role: Role::DepartmentHandler,
                scope: path("130322"),
                department: Some(department.into()),
                password_hash: "-".into(),
                disabled: false,
            },
            T0,
        )
        .await
        .unwrap();
    let device = format!("p-{user}");
    let who = Identity::new(
        user,
        Role::DepartmentHandler,
        path("130322"),
        Some(department.into()),
        &device,
    )
    .unwrap();
    let mut r = Replica::open_in_memory(&KEY).unwrap();
    r.sign_in(who.clone()).unwrap();
    store
        .bind_device(&device, user, r.actor_id(), T0)
        .await
        .unwrap();
    (who, r)
}

/// A worker reports a water outage at `t0`; the township accepts it and dispatches it to
/// `lead`, with `assisting` departments beside it. Returns the case, the worker's and the
/// township's phones.
async fn dispatched(
    store: &Store,
    t0: i64,
    lead: &str,
    assisting: &[&str],
) -> (String, Replica, Replica) {
    let (_, mut w) = phone(store, "wang", Role::GridWorker, GRID, "p-wang").await;
    let (_, mut t) = phone(store, "li", Role::TownshipStaff, TOWNSHIP, "p-li").await;
    let id = w
        .capture(
            &new_case(CaseKind::Incident, GRID, "water_supply", "村里停水"),
            t0,
        )
        .unwrap();
    sync_accepted(store, &mut w, t0).await;
    sync_accepted(store, &mut t, t0).await;
    t.append_event(&id, EventDraft::new(EventType::Accepted), t0 + 1)
        .unwrap();
    t.append_event(&id, EventDraft::assign_to(lead), t0 + 2)
        .unwrap();
    for (i, d) in assisting.iter().enumerate() {
        t.append_event(&id, EventDraft::assist(*d), t0 + 3 + i as i64)
            .unwrap();
    }
    sync_accepted(store, &mut t, t0 + 10).await;
    (id, w, t)
}

async fn records(store: &Store, id: &str) -> Vec<AccountabilityRecord> {
    store
        .accountability(AccountabilityFilter {
            case_id: Some(id.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn supervised(store: &Store, id: &str) -> Vec<(Option<String>, Level, String)> {
    let case = store.case_doc(id).await.unwrap().unwrap().read().unwrap();
    case.events
        .into_iter()
        .filter(|e| e.kind == EventType::Supervised)
        .map(|e| (e.department, e.level, e.note))
        .collect()
}

conformance!(
    an_assisting_department_that_never_signs_is_supervised_alone,
    |store: Store| async move {
        let t0 = at("2026-11-23", 9);
        let (id, _w, _t) = dispatched(&store, t0, "water", &["power"]).await;
        // The lead signs for it within its four hours; the power company never does.
        let (_, mut shui) = handler(&store, "shui", "water").await;
        sync_accepted(&store, &mut shui, t0 + HOUR).await;
        shui.append_event(&id, EventDraft::new(EventType::InProgress), t0 + HOUR)
            .unwrap();
        sync_accepted(&store, &mut shui, t0 + HOUR).await;

        let clock = Supervisor::new(store.clone(), T0).await.unwrap();
        assert_eq!(clock.run_once(t0 + 4 * HOUR).await.unwrap().supervised, 0);
        let pass = clock.run_once(t0 + 5 * HOUR).await.unwrap();
        assert_eq!((pass.late, pass.supervised), (1, 1));
        // Once: again, and from a second server, nothing more.
        assert_eq!(
            clock.run_once(t0 + 5 * HOUR + 1).await.unwrap().supervised,
            0
        );
        let other = Supervisor::new(store.clone(), T0).await.unwrap();
        assert_eq!(other.run_once(t0 + 6 * HOUR).await.unwrap().supervised, 0);

        let events = supervised(&store, &id).await;
        assert_eq!(events.len(), 1, "{events:?}");
        let (department, level, note) = &events[0];
        assert_eq!(
            (department.as_deref(), *level),
            (Some("power"), Level::County)
        );
        assert!(
            note.contains("协办部门") && note.contains("未签收"),
            "{note}"
        );
        // The case's own clock (the lead's) was never supervised.
        let wf = store
            .case_doc(&id)
            .await
            .unwrap()
            .unwrap()
            .workflow()
            .unwrap();
        assert_eq!(wf.supervised_level, None);
        assert_eq!(
            wf.part("power").unwrap().supervised_level,
            Some(Level::County)
        );
        let row = store
            .list_cases(&county(), &CaseQuery::default(), t0 + 6 * HOUR)
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|r| r.id == id)
            .unwrap();
        assert_eq!((row.supervised_level, row.supervision_count), (None, 1));
    }
);

conformance!(
    two_failed_acceptances_in_a_row_raise_one_record_naming_the_owner,
    |store: Store| async move {
        let t0 = at("2026-11-23", 9);
        let (id, _w, mut t) = dispatched(&store, t0, "water", &[]).await;
        let (_, mut shui) = handler(&store, "shui", "water").await;
        sync_accepted(&store, &mut shui, t0 + HOUR).await;
        shui.append_event(&id, EventDraft::new(EventType::InProgress), t0 + HOUR)
            .unwrap();
        let mut reopens = Vec::new();
        for round in 0..2 {
            let t1 = t0 + (2 + 2 * round) * HOUR;
            shui.append_event(&id, EventDraft::new(EventType::Resolved), t1)
                .unwrap();
            sync_accepted(&store, &mut shui, t1).await;
            sync_accepted(&store, &mut t, t1).await;
            assert!(records(&store, &id).await.is_empty());
            reopens.push(
                t.append_event(
                    &id,
                    EventDraft::new(EventType::Reopened).note("现场仍然停水"),
                    t1 + HOUR,
                )
                .unwrap(),
            );
            sync_accepted(&store, &mut t, t1 + HOUR).await;
            sync_accepted(&store, &mut shui, t1 + HOUR).await;
        }
        let found = records(&store, &id).await;
        assert_eq!(found.len(), 1, "{found:?}");
        let r = &found[0];
        assert_eq!(r.trigger, Trigger::FailedTwiceInRow);
        assert_eq!(
            (&r.unit, r.person.as_deref()),
            (
                &Unit {
                    kind: UnitKind::Department,
                    code: "water".into()
                },
                Some("shui")
            )
        );
        assert_eq!(r.events, reopens);
        assert_eq!(r.decision, None);
        // Later writes project the case again: the record stays one.
        shui.append_event(&id, EventDraft::new(EventType::Resolved), t0 + 8 * HOUR)
            .unwrap();
        sync_accepted(&store, &mut shui, t0 + 8 * HOUR).await;
        assert_eq!(records(&store, &id).await.len(), 1);
    }
);

conformance!(fail_pass_fail_raises_no_record, |store: Store| async move {
    let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
    let (_, mut t) = phone(&store, "li", Role::TownshipStaff, TOWNSHIP, "p-li").await;
    let t0 = at("2026-11-23", 9);
    let id = w
        .capture(
            &new_case(CaseKind::Request, GRID, "sanitation", "垃圾未清运"),
            t0,
        )
        .unwrap();
    w.append_event(&id, EventDraft::new(EventType::Accepted), t0 + 1)
        .unwrap();
    w.append_event(&id, EventDraft::new(EventType::Resolved), t0 + 10)
        .unwrap();
    w.append_event(&id, EventDraft::evaluate(Rating::Unsatisfied), t0 + 11)
        .unwrap();
    w.append_event(&id, EventDraft::new(EventType::Resolved), t0 + 20)
        .unwrap();
    w.append_event(&id, EventDraft::evaluate(Rating::Satisfied), t0 + 21)
        .unwrap();
    sync_accepted(&store, &mut w, t0 + 30).await;
    sync_accepted(&store, &mut t, t0 + 30).await;
    t.append_event(
        &id,
        EventDraft::new(EventType::Reopened).note("群众再次反映"),
        t0 + 40,
    )
    .unwrap();
    sync_accepted(&store, &mut t, t0 + 40).await;
    assert!(records(&store, &id).await.is_empty());
    // A second failure right after the third is two in a row: now one record, the worker's.
    sync_accepted(&store, &mut w, t0 + 50).await;
    w.append_event(&id, EventDraft::new(EventType::Resolved), t0 + 50)
        .unwrap();
    let last = w
        .append_event(&id, EventDraft::evaluate(Rating::Unsatisfied), t0 + 51)
        .unwrap();
    sync_accepted(&store, &mut w, t0 + 60).await;
    let found = records(&store, &id).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].events.last(), Some(&last));
    assert_eq!(
        (found[0].unit.kind, found[0].unit.code.as_str()),
        (UnitKind::Worker, "wang")
    );
});

conformance!(
    a_return_counts_against_the_returning_department,
    |store: Store| async move {
        let t0 = at("2026-11-23", 9);
        let (id, _w, mut t) = dispatched(&store, t0, "water", &[]).await;
        let (shui_who, mut shui) = handler(&store, "shui", "water").await;
        // A second case with another department, never returned.
        let (_, mut w2) = phone(&store, "zhang", Role::GridWorker, GRID, "p-zhang").await;
        let other = w2
            .capture(
                &new_case(CaseKind::Request, GRID, "elevator_repair", "电梯停运"),
                t0,
            )
            .unwrap();
        sync_accepted(&store, &mut w2, t0).await;
        sync_accepted(&store, &mut t, t0 + 20).await;
        t.append_event(&other, EventDraft::new(EventType::Accepted), t0 + 21)
            .unwrap();
        t.append_event(&other, EventDraft::assign_to("housing"), t0 + 22)
            .unwrap();
        sync_accepted(&store, &mut t, t0 + 22).await;

        let mut returns = Vec::new();
        for round in 0..3 {
            let t1 = t0 + (1 + 2 * round) * HOUR;
            sync_accepted(&store, &mut shui, t1).await;
            returns.push(
                shui.append_event(
                    &id,
                    EventDraft::new(EventType::Returned).note("不属于本部门职责"),
                    t1,
                )
                .unwrap(),
            );
            sync_accepted(&store, &mut shui, t1).await;
            if round == 0 {
                let rules = store.rules().await.unwrap();
                let period = month_period(&rules.rules, "2026-11").unwrap();
                let now = t1 + 1;
                let departments = report(
                    &store,
                    &rules.rules,
                    &county(),
                    UnitKind::Department,
                    period,
                    now,
                )
                .await
                .unwrap();
                let returned = |code: &str| {
                    departments
                        .row(code)
                        .map(|r| r.tally.count(Figure::Returned))
                };
                assert_eq!(returned("water"), Some(1));
                assert_eq!(returned("housing"), Some(0));
                let townships = report(
                    &store,
                    &rules.rules,
                    &county(),
                    UnitKind::Township,
                    period,
                    now,
                )
                .await
                .unwrap();
                assert_eq!(
                    townships
                        .row(TOWNSHIP)
                        .map(|r| r.tally.count(Figure::Returned)),
                    Some(0)
                );
                let duties = store.duties(UnitKind::Department, period).await.unwrap();
                let water: Vec<_> = duties.iter().filter(|d| d.case_id == id).collect();
                assert_eq!(water.len(), 1);
                assert_eq!(
                    (water[0].duty.unit.code.as_str(), water[0].duty.returned),
                    ("water", 1)
                );
                // The drill-down lists the case; the department sees its own, not another's.
                let water_unit = Unit {
                    kind: UnitKind::Department,
                    code: "water".into(),
                };
                let cases = drill(
                    &store,
                    &county(),
                    &water_unit,
                    Figure::Returned,
                    period,
                    now,
                )
                .await
                .unwrap();
                assert_eq!(
                    cases.iter().map(|c| c.case_id.as_str()).collect::<Vec<_>>(),
                    [id.as_str()]
                );
                assert_eq!(
                    drill(
                        &store,
                        &shui_who,
                        &water_unit,
                        Figure::Returned,
                        period,
                        now
                    )
                    .await
                    .unwrap()
                    .len(),
                    1
                );
                let housing = Unit {
                    kind: UnitKind::Department,
                    code: "housing".into(),
                };
                assert!(matches!(
                    drill(&store, &shui_who, &housing, Figure::Received, period, now).await,
                    Err(AssessmentError::Forbidden)
                ));
                let own = report(
                    &store,
                    &rules.rules,
                    &shui_who,
                    UnitKind::Department,
                    period,
                    now,
                )
                .await
                .unwrap();
                assert_eq!(
                    own.rows
                        .iter()
                        .map(|r| r.unit.code.as_str())
                        .collect::<Vec<_>>(),
                    ["water"]
                );
            }
            // Twice is within the county's limit (more than two raises a record).
            let expected = usize::from(round == 2);
            assert_eq!(records(&store, &id).await.len(), expected, "round {round}");
            sync_accepted(&store, &mut t, t1 + HOUR).await;
            t.append_event(&id, EventDraft::assign_to("water"), t1 + HOUR)
                .unwrap();
            sync_accepted(&store, &mut t, t1 + HOUR).await;
        }
        let found = records(&store, &id).await;
        let r = &found[0];
        assert_eq!(r.trigger, Trigger::ReturnedTooOften);
        assert_eq!(
            (r.unit.code.as_str(), r.person.as_deref()),
            ("water", Some("shui"))
        );
        assert_eq!(r.events, returns);
    }
);

/// What `who` sees of case `id`: may it read it, and the case list and a pull from scratch.
async fn seen(
    store: &Store,
    who: &Identity,
    id: &str,
    now: i64,
) -> (bool, Vec<String>, Vec<String>) {
    let list = store.list_cases(who, &CaseQuery::default(), now).await;
    let pull = store.pull(who, "elsewhere", 0, &[], 0).await.unwrap();
    (
        store.may_read(who, id).await.unwrap(),
        list.unwrap().items.into_iter().map(|r| r.id).collect(),
        pull.pull.into_iter().map(|d| d.doc).collect(),
    )
}

conformance!(
    an_assisting_department_reads_the_case_until_it_is_dispatched_without_it,
    |store: Store| async move {
        let t0 = at("2026-11-23", 9);
        // A code with LIKE's `_` in it: the read filter escapes it.
        let (id, _w, mut t) = dispatched(&store, t0, "water", &["urban_management"]).await;
        let (cheng, _) = handler(&store, "cheng", "urban_management").await;
        let (huan, _) = handler(&store, "huan", "environment").await;
        let only = vec![id.clone()];
        assert_eq!(
            seen(&store, &cheng, &id, t0 + 20).await,
            (true, only.clone(), only)
        );
        assert_eq!(
            seen(&store, &huan, &id, t0 + 20).await,
            (false, vec![], vec![])
        );

        // Dispatched again, to housing alone: the assisting part ends with the old dispatch.
        let (_, mut shui) = handler(&store, "shui", "water").await;
        sync_accepted(&store, &mut shui, t0 + HOUR).await;
        shui.append_event(&id, EventDraft::new(EventType::InProgress), t0 + HOUR)
            .unwrap();
        sync_accepted(&store, &mut shui, t0 + HOUR).await;
        sync_accepted(&store, &mut t, t0 + HOUR).await;
        t.append_event(&id, EventDraft::assign_to("housing"), t0 + 2 * HOUR)
            .unwrap();
        sync_accepted(&store, &mut t, t0 + 2 * HOUR).await;
        assert_eq!(
            seen(&store, &cheng, &id, t0 + 3 * HOUR).await,
            (false, vec![], vec![])
        );
    }
);

conformance!(
    overdue_after_county_supervision_raises_a_record_decided_once,
    |store: Store| async move {
        let t0 = at("2026-11-23", 9);
        // Dispatched to the water bureau, which never signs: the county supervises it.
        let (id, _w, _t) = dispatched(&store, t0, "water", &[]).await;
        let clock = Supervisor::new(store.clone(), T0).await.unwrap();
        let supervised_at = t0 + 5 * HOUR;
        assert_eq!(clock.run_once(supervised_at).await.unwrap().supervised, 1);
        let events = supervised(&store, &id).await;
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].0.as_deref(), events[0].1), (None, Level::County));
        assert!(records(&store, &id).await.is_empty());

        // Three working days (the default) after the supervision, still not signed.
        let wait = Calendar::builtin().due(supervised_at, TimeLimit::WorkingDays(3));
        clock.run_once(wait - 1).await.unwrap();
        assert!(records(&store, &id).await.is_empty(), "not before");
        clock.run_once(wait + 1).await.unwrap();
        clock.run_once(wait + HOUR).await.unwrap();
        let found = records(&store, &id).await;
        assert_eq!(found.len(), 1, "{found:?}");
        let r = &found[0];
        assert_eq!(r.trigger, Trigger::OverdueAfterCounty);
        assert_eq!(
            (r.unit.kind, r.unit.code.as_str(), r.raised_at),
            (UnitKind::Department, "water", wait)
        );
        let undecided = store
            .accountability(AccountabilityFilter {
                decided: Some(false),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(undecided.len(), 1);

        // A township centre may not decide; the county decides once.
        let li = Identity::new("li", Role::TownshipStaff, path(TOWNSHIP), None, "p-li").unwrap();
        assert!(matches!(
            store
                .decide_accountability(&r.id, Decision::Notice, "通报", &li, wait + 2 * HOUR)
                .await,
            Err(StoreError::Core(_))
        ));
        let (talk, note, decided_at) = (Decision::Talk, "约谈水务局负责人", wait + 2 * HOUR);
        let decided = store
            .decide_accountability(&r.id, talk, note, &county(), decided_at)
            .await
            .unwrap();
        let got = (decided.decision, decided.note.as_str(), decided.decided_at);
        assert_eq!(got, (Some(talk), note, Some(decided_at)));
        assert_eq!(decided.decided_by.as_deref(), Some("county"));
        let stored = store.accountability_record(&r.id).await.unwrap();
        assert_eq!(stored, Some(decided.clone()));
        assert!(matches!(
            store
                .decide_accountability(&r.id, Decision::NoAction, "", &county(), wait + 3 * HOUR)
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store
                .decide_accountability("no-such", Decision::Talk, "", &county(), wait)
                .await,
            Err(StoreError::NotFound(_))
        ));
        let stored = store.accountability_record(&r.id).await.unwrap().unwrap();
        assert_eq!(stored, decided, "the first decision stands");
        let audit = store.audit_log().await.unwrap();
        let decisions: Vec<&(String, String, String)> = audit
            .iter()
            .filter(|(_, action, _)| action == "accountability_decision")
            .collect();
        let expected = (
            "county".into(),
            "accountability_decision".into(),
            r.id.clone(),
        );
        assert_eq!(decisions, [&expected]);
        // The clock passing again finds the same situation: still one record, still decided.
        clock.run_once(wait + 2 * 24 * HOUR).await.unwrap();
        let found = records(&store, &id).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].decision, Some(Decision::Talk));
    }
);

conformance!(
    a_township_scores_a_department_once_a_month,
    |store: Store| async move {
        let li = Identity::new("li", Role::TownshipStaff, path(TOWNSHIP), None, "p-li").unwrap();
        let now = at("2026-11-30", 10);
        store
            .rate_department(&li, "2026-11", "water", 3, "响应较慢", now)
            .await
            .unwrap();
        store
            .rate_department(&li, "2026-11", "water", 5, "已改进", now + 1)
            .await
            .unwrap();
        let rows = store.ratings_by_township(TOWNSHIP).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (
                rows[0].month.as_str(),
                rows[0].score,
                rows[0].comment.as_str(),
                rows[0].by.as_str()
            ),
            ("2026-11", 5, "已改进", "li")
        );
        let rules = store.rules().await.unwrap();
        let november = month_period(&rules.rules, "2026-11").unwrap();
        assert_eq!(
            (november.from, november.to),
            (at("2026-11-01", 0), at("2026-12-01", 0))
        );
        let ratings = store.township_ratings(november).await.unwrap();
        assert_eq!(ratings.len(), 1);
        assert_eq!(
            (
                ratings[0].month_start,
                ratings[0].township.as_str(),
                ratings[0].score
            ),
            (november.from, TOWNSHIP, 5)
        );
        let december = month_period(&rules.rules, "2026-12").unwrap();
        assert!(store.township_ratings(december).await.unwrap().is_empty());
        let r = report(
            &store,
            &rules.rules,
            &county(),
            UnitKind::Department,
            november,
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            r.row("water").map(|r| r.tally.township_average()),
            Some(Some(5.0))
        );

        for (who, month, dept, score) in [
            (&li, "2026-13", "water", 3),
            (&li, "2026-11", "nope", 3),
            (&li, "2026-11", "water", 6),
            (&county(), "2026-11", "water", 3),
        ] {
            assert!(
                matches!(
                    store
                        .rate_department(who, month, dept, score, "", now)
                        .await,
                    Err(StoreError::Core(_))
                ),
                "{month} {dept} {score}"
            );
        }
        assert!(month_period(&rules.rules, "2026-1").is_none());
        let audited = store
            .audit_log()
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, action, _)| action == "department_rating")
            .count();
        assert_eq!(audited, 2);
    }
);

conformance!(
    old_cases_get_their_duties_when_the_projection_is_rebuilt,
    |store: Store| async move {
        let t0 = at("2026-11-23", 9);
        let (id, _w, _t) = dispatched(&store, t0, "water", &["power"]).await;
        let (dian, _) = handler(&store, "dian", "power").await;
        let period = month_period(&store.rules().await.unwrap().rules, "2026-11").unwrap();
        let before = store.duties(UnitKind::Department, period).await.unwrap();
        assert_eq!(
            before
                .iter()
                .map(|d| (d.duty.unit.code.as_str(), d.duty.assisting))
                .collect::<Vec<_>>(),
            [("water", false), ("power", true)]
        );
        // As a database migrated from before issue 23 holds them: no duties, no departments.
        sqlx::query("DELETE FROM duties")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE cases SET departments = '', parts_due_at = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(!store.may_read(&dian, &id).await.unwrap());
        assert_eq!(store.reproject_all().await.unwrap(), 1);
        assert_eq!(
            store.duties(UnitKind::Department, period).await.unwrap(),
            before
        );
        assert!(store.may_read(&dian, &id).await.unwrap());
    }
);
