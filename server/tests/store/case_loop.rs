//! The case loop with a controllable clock, on both backends: deadlines on the working-day
//! calendar, the supervision clock, department hand-off, evaluation and mediation.

use gridsync_core::calendar::Calendar;
use gridsync_core::case::{MediationSession, NewCase};
use gridsync_core::workflow::{EventDraft, EventType, Rating};
use gridsync_core::{CaseKind, Identity, Level, Replica, Role, Status};
use gridsync_server::store::{CaseQuery, CaseRow, Store, UserRecord};
use gridsync_server::supervision::{SYSTEM_USER, Supervisor};

use crate::*;

const GRID: &str = "130322/101/201/01";
const VILLAGE: &str = "130322/101/201";
const TOWNSHIP: &str = "130322/101";
const HOUR: i64 = 3_600_000;

/// Local (China) time `date` at `hh:00`.
fn at(date: &str, hh: i64) -> i64 {
    Calendar::builtin().local_midnight(date).unwrap() + hh * HOUR
}

fn case(kind: CaseKind, place: &str, category: &str, title: &str) -> NewCase {
    new_case(kind, place, category, title)
}

/// Syncs a phone until quiet with the server's clock at `now`.
async fn sync_at(store: &Store, r: &mut Replica, now: i64) {
    sync_accepted(store, r, now).await;
}

async fn supervisor(store: &Store) -> Supervisor {
    Supervisor::new(store.clone(), T0).await.unwrap()
}

/// The projection row of `id` as the county sees it, at `now`.
async fn row(store: &Store, id: &str, now: i64) -> CaseRow {
    let county = Identity::new("county", Role::CountyAdmin, path("130322"), None, "pc").unwrap();
    let page = store
        .list_cases(&county, &CaseQuery::default(), now)
        .await
        .unwrap();
    page.items.into_iter().find(|r| r.id == id).unwrap()
}

conformance!(
    deadlines_follow_the_working_day_calendar_and_are_the_same_on_phone_and_server,
    |store: Store| async move {
        let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        // Reported on Thursday 19 November 2026: answer (受理) within one working day.
        let thu = at("2026-11-19", 10);
        let id = w
            .capture(
                &case(CaseKind::Request, GRID, "elevator_repair", "电梯停运"),
                thu,
            )
            .unwrap();
        sync_at(&store, &mut w, thu).await;
        assert_eq!(
            row(&store, &id, thu).await.due_at,
            Some(at("2026-11-21", 0))
        );

        // Accepted on Friday at 15:00 with elevator repair's one working day: due at the end of
        // Monday, on the phone (offline) and on the server alike.
        let fri = at("2026-11-20", 15);
        w.append_event(&id, EventDraft::new(EventType::Accepted), fri)
            .unwrap();
        let monday_end = at("2026-11-24", 0);
        assert_eq!(
            w.case(&id).unwrap().workflow().unwrap().due,
            Some(monday_end)
        );
        sync_at(&store, &mut w, fri).await;
        let r = row(&store, &id, fri).await;
        assert_eq!((r.due_at, r.overdue), (Some(monday_end), false));
        assert!(row(&store, &id, monday_end + 1).await.overdue);

        // Accepted on Friday 13 February 2026: the make-up Saturday (调休) is the working day.
        let before_festival = at("2026-02-13", 10);
        let id2 = w
            .capture(
                &case(CaseKind::Request, GRID, "elevator_repair", "电梯异响"),
                before_festival,
            )
            .unwrap();
        w.append_event(
            &id2,
            EventDraft::new(EventType::Accepted),
            before_festival + 1,
        )
        .unwrap();
        sync_at(&store, &mut w, before_festival).await;
        assert_eq!(
            row(&store, &id2, before_festival).await.due_at,
            Some(at("2026-02-15", 0))
        );

        // Resolved in time: on time, at the grid level, and the clock stops.
        w.append_event(&id, EventDraft::new(EventType::Resolved), fri + HOUR)
            .unwrap();
        sync_at(&store, &mut w, fri + HOUR).await;
        let r = row(&store, &id, monday_end + 1).await;
        assert_eq!((r.due_at, r.overdue), (None, false));
        assert_eq!(r.resolved_level.as_deref(), Some("grid"));
    }
);

conformance!(
    an_unanswered_village_case_is_supervised_by_the_township_then_the_county,
    |store: Store| async move {
        let (_, mut m) = phone(&store, "zhao", Role::Mediator, VILLAGE, "p-zhao").await;
        let mon = at("2026-11-23", 9);
        let id = m
            .capture(
                &case(
                    CaseKind::Dispute,
                    VILLAGE,
                    "dispute_neighbours",
                    "邻里排水纠纷",
                ),
                mon,
            )
            .unwrap();
        sync_at(&store, &mut m, mon).await;
        // Nobody answers: due at the end of Tuesday.
        let due = at("2026-11-25", 0);
        assert_eq!(row(&store, &id, mon).await.due_at, Some(due));

        let clock = supervisor(&store).await;
        assert_eq!(clock.run_once(due - 1).await.unwrap().supervised, 0);
        let pass = clock.run_once(due + 1).await.unwrap();
        assert_eq!((pass.late, pass.supervised), (1, 1));
        // Repeated passes, and a second server on the same database, add nothing.
        assert_eq!(clock.run_once(due + 2).await.unwrap().supervised, 0);
        let other = supervisor(&store).await;
        assert_eq!(other.run_once(due + 3).await.unwrap().supervised, 0);
        let r = row(&store, &id, due + 3).await;
        assert!(r.overdue);
        assert_eq!(
            (r.supervision_count, r.supervised_level.as_deref()),
            (1, Some("township"))
        );

        // Still unanswered one more span later: the county supervises; then nobody is above.
        let span = due - mon;
        assert_eq!(clock.run_once(due + span - 1).await.unwrap().supervised, 0);
        assert_eq!(clock.run_once(due + span + 1).await.unwrap().supervised, 1);
        assert_eq!(other.run_once(due + 10 * span).await.unwrap().supervised, 0);
        assert_eq!(
            row(&store, &id, due + span + 1)
                .await
                .supervised_level
                .as_deref(),
            Some("county")
        );

        // The events reach the mediator's phone on its next sync, written by the server.
        sync_at(&store, &mut m, due + span + 2).await;
        let events = m.case(&id).unwrap().read().unwrap().events;
        let supervised: Vec<_> = events
            .iter()
            .filter(|e| e.kind == EventType::Supervised)
            .map(|e| (e.by.as_str(), e.role, e.level))
            .collect();
        assert_eq!(
            supervised,
            vec![
                (SYSTEM_USER, Role::System, Level::Township),
                (SYSTEM_USER, Role::System, Level::County)
            ]
        );
        assert_eq!(
            m.case(&id).unwrap().workflow().unwrap(),
            store
                .case_doc(&id)
                .await
                .unwrap()
                .unwrap()
                .workflow()
                .unwrap()
        );
    }
);

conformance!(
    an_assigned_department_that_never_signs_is_supervised,
    |store: Store| async move {
        let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let (_, mut t) = phone(&store, "li", Role::TownshipStaff, TOWNSHIP, "pc-li").await;
        store
            .add_user(
                &UserRecord {
                    id: "water1".into(),
                    display_name: "水务局".into(),
                    role: Role::DepartmentHandler,
                    scope: path("130322"),
                    department: Some("water".into()),
                    password_hash: "-".into(),
                    disabled: false,
                },
                T0,
            )
            .await
            .unwrap();
        let t0 = at("2026-11-23", 9);
        let id = w
            .capture(
                &case(CaseKind::Incident, GRID, "water_supply", "村里停水"),
                t0,
            )
            .unwrap();
        sync_at(&store, &mut w, t0).await;
        sync_at(&store, &mut t, t0).await;
        t.append_event(&id, EventDraft::new(EventType::Accepted), t0 + 1)
            .unwrap();
        t.append_event(&id, EventDraft::assign_to("water"), t0 + 2)
            .unwrap();
        sync_at(&store, &mut t, t0 + 2).await;
        // The water bureau must sign within four hours; the township dispatched it.
        let r = row(&store, &id, t0 + 2).await;
        assert_eq!(
            (r.status.as_str(), r.level.as_str()),
            ("assigned", "township")
        );
        assert_eq!(r.due_at, Some(t0 + 2 + 4 * HOUR));
        let clock = supervisor(&store).await;
        assert_eq!(clock.run_once(t0 + 4 * HOUR).await.unwrap().supervised, 0);
        assert_eq!(clock.run_once(t0 + 5 * HOUR).await.unwrap().supervised, 1);
        let r = row(&store, &id, t0 + 5 * HOUR).await;
        assert_eq!(r.supervised_level.as_deref(), Some("county"));
        assert_eq!(r.department.as_deref(), Some("water"));
    }
);

conformance!(
    two_unsatisfied_ratings_raise_the_accountability_flag,
    |store: Store| async move {
        let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let t0 = at("2026-11-23", 9);
        let id = w
            .capture(
                &case(CaseKind::Request, GRID, "sanitation", "垃圾未清运"),
                t0,
            )
            .unwrap();
        w.append_event(&id, EventDraft::new(EventType::Accepted), t0 + 1)
            .unwrap();
        for round in 0..2 {
            let t = t0 + 10 + round * 10;
            w.append_event(&id, EventDraft::new(EventType::Resolved), t)
                .unwrap();
            w.append_event(&id, EventDraft::evaluate(Rating::Unsatisfied), t + 1)
                .unwrap();
        }
        sync_at(&store, &mut w, t0 + 100).await;
        let county =
            Identity::new("county", Role::CountyAdmin, path("130322"), None, "pc").unwrap();
        let flagged = store
            .list_cases(
                &county,
                &CaseQuery {
                    accountability: Some(true),
                    ..Default::default()
                },
                t0 + 100,
            )
            .await
            .unwrap();
        assert_eq!(flagged.items.len(), 1);
        let r = &flagged.items[0];
        assert_eq!(
            (r.id.as_str(), r.reopen_count, r.status.as_str()),
            (id.as_str(), 2, "in_progress")
        );
        // Reopened to its handler with a fresh clock of the category's limit.
        assert!(r.due_at.is_some_and(|d| d > t0 + 100));
    }
);

conformance!(
    a_failed_mediation_is_referred_to_court,
    |store: Store| async move {
        let (_, mut m) = phone(&store, "zhao", Role::Mediator, VILLAGE, "p-zhao").await;
        let t0 = at("2026-11-23", 9);
        let id = m
            .capture(
                &case(
                    CaseKind::Dispute,
                    VILLAGE,
                    "dispute_land_boundary",
                    "宅基地纠纷",
                ),
                t0,
            )
            .unwrap();
        m.append_event(&id, EventDraft::new(EventType::Accepted), t0 + 1)
            .unwrap();
        m.edit(&id, t0 + 2, |e| {
            e.add_mediation_session(&MediationSession {
                at: t0 + 2,
                mediators: vec!["zhao".into()],
                notes: "双方各执一词".into(),
                outcome: "failed".into(),
                ..Default::default()
            })?;
            e.set_agreement("")?;
            e.set_mediation_result("failure", "court")
        })
        .unwrap();
        // A failure without a referral is refused on the phone.
        let err = m
            .edit(&id, t0 + 3, |e| e.set_mediation_result("failure", ""))
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        sync_at(&store, &mut m, t0 + 3).await;
        let r = row(&store, &id, t0 + 3).await;
        assert_eq!(
            (r.mediation_result.as_deref(), r.referral.as_deref()),
            (Some("failure"), Some("court"))
        );
    }
);

conformance!(
    an_offline_resolution_and_a_server_supervision_both_stand,
    |store: Store| async move {
        let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let t0 = at("2026-11-23", 9);
        let id = w
            .capture(
                &case(CaseKind::Incident, GRID, "safety_hazard", "电线裸露"),
                t0,
            )
            .unwrap();
        w.append_event(&id, EventDraft::new(EventType::Accepted), t0 + 1)
            .unwrap();
        sync_at(&store, &mut w, t0 + 1).await;
        // 24 hours pass. Offline, the worker fixes it late; meanwhile the server supervises.
        let late = t0 + 1 + 24 * HOUR + 10;
        w.append_event(&id, EventDraft::new(EventType::Resolved), late)
            .unwrap();
        assert_eq!(
            supervisor(&store)
                .await
                .run_once(late)
                .await
                .unwrap()
                .supervised,
            1
        );
        sync_at(&store, &mut w, late + 1).await;

        let phone_doc = w.case(&id).unwrap();
        let server_doc = store.case_doc(&id).await.unwrap().unwrap();
        let kinds: Vec<EventType> = phone_doc
            .read()
            .unwrap()
            .events
            .iter()
            .map(|e| e.kind)
            .collect();
        assert!(kinds.contains(&EventType::Resolved) && kinds.contains(&EventType::Supervised));
        assert_eq!(
            phone_doc.workflow().unwrap(),
            server_doc.workflow().unwrap()
        );
        assert_eq!(phone_doc.workflow().unwrap().status, Status::Resolved);
        let r = row(&store, &id, late + 1).await;
        assert_eq!(
            (r.status.as_str(), r.overdue, r.supervision_count),
            ("resolved", false, 1)
        );
    }
);
