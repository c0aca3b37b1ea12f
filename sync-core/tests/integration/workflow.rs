use gridsync_core::testing::MemoryHub;
use gridsync_core::workflow::{EventDraft, EventType, Rating, Status};
use gridsync_core::{Error, Level};

use crate::*;

#[test]
fn a_disallowed_step_is_refused_with_a_clear_error() {
    let mut hub = MemoryHub::new();
    let mut a = replica_for(&mut hub, worker("wang", "phone-a"));
    let id = a.capture(&new_request("路灯不亮"), T0).unwrap();

    // A grid worker may not archive, nor assign to a department.
    let err = a
        .append_event(&id, EventDraft::new(EventType::Archived), T0)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_role", "{err}");
    assert!(
        err.to_string()
            .contains("grid_worker may not append archived"),
        "{err}"
    );
    let err = a
        .append_event(&id, EventDraft::assign_to("urban_management"), T0)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_role");
    // Resolving an unaccepted case is out of order.
    let err = a
        .append_event(&id, EventDraft::new(EventType::Resolved), T0)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_status");
    assert!(matches!(err, Error::Workflow(_)));
    // Escalation needs a reason.
    let err = a
        .append_event(&id, EventDraft::new(EventType::Escalated), T0)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_invalid");
    // Nothing of the refused steps was written.
    let doc = a.case(&id).unwrap();
    assert_eq!(doc.read().unwrap().events.len(), 1);
    assert_eq!(doc.workflow().unwrap().status, Status::Reported);
}

#[test]
fn escalation_goes_one_level_at_a_time_and_the_lower_level_loses_the_case() {
    let mut hub = MemoryHub::new();
    let mut a = replica_for(&mut hub, worker("wang", "phone-a"));
    let id = a.capture(&new_request("路灯不亮"), T0).unwrap();
    a.append_event(
        &id,
        EventDraft::new(EventType::Escalated).note("需村里协调"),
        T0 + 1,
    )
    .unwrap();
    let wf = a.case(&id).unwrap().workflow().unwrap();
    assert_eq!((wf.status, wf.level), (Status::Reported, Level::Village));
    // 首问负责: the worker stays its owner until the village accepts it.
    assert_eq!(wf.owner.as_deref(), Some("wang"));
    // The grid worker is below the case's level now.
    let err = a
        .append_event(&id, EventDraft::new(EventType::Accepted), T0 + 2)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_level");
}

#[test]
fn unsatisfied_twice_raises_accountability() {
    let (mut hub, mut w, mut t, id) = shared_case();
    t.append_event(&id, EventDraft::new(EventType::Accepted), T0 + 1)
        .unwrap();
    t.append_event(&id, EventDraft::assign_to("urban_management"), T0 + 2)
        .unwrap();
    for round in 1..=2u32 {
        t.append_event(&id, EventDraft::new(EventType::Resolved), T0 + 3)
            .unwrap();
        t.append_event(&id, EventDraft::evaluate(Rating::Unsatisfied), T0 + 4)
            .unwrap();
        let wf = t.case(&id).unwrap().workflow().unwrap();
        assert_eq!(wf.status, Status::InProgress);
        assert_eq!(wf.reopen_count, round);
        assert_eq!(wf.accountability, round == 2);
    }
    t.append_event(&id, EventDraft::new(EventType::Resolved), T0 + 5)
        .unwrap();
    t.append_event(&id, EventDraft::evaluate(Rating::Satisfied), T0 + 6)
        .unwrap();
    t.append_event(&id, EventDraft::new(EventType::Archived), T0 + 7)
        .unwrap();
    sync_until_quiet(&mut hub, &mut t);
    sync_until_quiet(&mut hub, &mut w);
    let wf = w.case(&id).unwrap().workflow().unwrap();
    assert_eq!(wf.status, Status::Archived);
    assert!(wf.accountability);
    assert_eq!(wf.rating, Some(Rating::Satisfied));
    assert_eq!(wf.department.as_deref(), Some("urban_management"));
}

#[test]
fn concurrent_resolve_and_escalate_are_both_kept_as_a_workflow_conflict_until_settled() {
    let mut hub = MemoryHub::new();
    let mut w = replica_for(&mut hub, worker("wang", "phone-a"));
    let mut t = replica_for(&mut hub, township("li", "pc-b"));
    let id = w.capture(&new_request("路灯不亮"), T0).unwrap();
    w.append_event(&id, EventDraft::new(EventType::Accepted), T0 + 1)
        .unwrap();
    sync_until_quiet(&mut hub, &mut w);
    sync_until_quiet(&mut hub, &mut t);

    // Offline, at the same time: the worker resolves, the township... resolves differently:
    // the worker escalates while the township staff resolves.
    let escalated = w
        .append_event(
            &id,
            EventDraft::new(EventType::Escalated).note("村里处理不了"),
            T0 + 2,
        )
        .unwrap();
    let resolved = t
        .append_event(&id, EventDraft::new(EventType::Resolved), T0 + 3)
        .unwrap();
    sync_until_quiet(&mut hub, &mut w);
    sync_until_quiet(&mut hub, &mut t);
    sync_until_quiet(&mut hub, &mut w);

    let wf_w = w.case(&id).unwrap().workflow().unwrap();
    let wf_t = t.case(&id).unwrap().workflow().unwrap();
    assert_eq!(wf_w, wf_t, "both phones derive the same state");
    assert_eq!(
        Some(&wf_w),
        hub.workflow(&id).as_ref(),
        "and so does the hub"
    );
    let events = w.case(&id).unwrap().read().unwrap().events;
    assert!(events.iter().any(|e| e.id == escalated), "escalation kept");
    assert!(events.iter().any(|e| e.id == resolved), "resolution kept");
    assert_eq!(wf_w.conflicts.len(), 1, "{:?}", wf_w.conflicts);
    let c = &wf_w.conflicts[0];
    let mut pair = vec![c.pending.clone(), c.applied[0].clone()];
    pair.sort();
    let mut expected = vec![escalated.clone(), resolved.clone()];
    expected.sort();
    assert_eq!(pair, expected);
    assert!(t.list(&Default::default()).unwrap()[0].in_conflict());

    // The township settles for the escalation.
    t.append_event(&id, EventDraft::settle(escalated.clone()), T0 + 10)
        .unwrap();
    sync_until_quiet(&mut hub, &mut t);
    sync_until_quiet(&mut hub, &mut w);
    let wf = w.case(&id).unwrap().workflow().unwrap();
    assert!(wf.conflicts.is_empty());
    assert_eq!((wf.status, wf.level), (Status::Reported, Level::Village));
}

#[test]
fn concurrent_supervision_is_not_a_conflict() {
    let (mut hub, mut w, mut t, id) = shared_case();
    w.append_event(&id, EventDraft::new(EventType::Accepted), T0 + 1)
        .unwrap();
    t.append_event(
        &id,
        EventDraft::new(EventType::Supervised).note("超时督办"),
        T0 + 2,
    )
    .unwrap();
    sync_until_quiet(&mut hub, &mut w);
    sync_until_quiet(&mut hub, &mut t);
    sync_until_quiet(&mut hub, &mut w);
    let wf = w.case(&id).unwrap().workflow().unwrap();
    assert!(wf.conflicts.is_empty());
    assert_eq!(wf.status, Status::Accepted);
    assert_eq!(wf.supervision_count, 1);
    // Whether the supervision counts for the acceptance's new clock depends on the merged order,
    // which every replica agrees on.
    assert_eq!(wf, t.case(&id).unwrap().workflow().unwrap());
}

#[test]
fn a_department_gets_the_whole_case_once_it_is_assigned_and_hands_it_back_resolved() {
    let mut hub = MemoryHub::new();
    let mut w = replica_for(&mut hub, worker("wang", "phone-a"));
    let mut t = replica_for(&mut hub, township("li", "pc-b"));
    let handler = gridsync_core::Identity::new(
        "chen",
        gridsync_core::Role::DepartmentHandler,
        path("130322"),
        Some("urban_management".into()),
        "pc-chen",
    )
    .unwrap();
    let mut d = replica_for(&mut hub, handler);
    let id = w.capture(&new_request("路灯不亮"), T0).unwrap();
    w.edit(&id, T0 + 1, |e| e.set_description("村口两盏路灯不亮"))
        .unwrap();
    sync_until_quiet(&mut hub, &mut w);
    sync_until_quiet(&mut hub, &mut d);
    assert!(
        d.case_ids().unwrap().is_empty(),
        "not the department's case yet"
    );

    sync_until_quiet(&mut hub, &mut t);
    t.append_event(&id, EventDraft::new(EventType::Accepted), T0 + 2)
        .unwrap();
    t.append_event(&id, EventDraft::assign_to("urban_management"), T0 + 3)
        .unwrap();
    // Only the department signs for it (签收); the township would take it back with `returned`.
    let err = t
        .append_event(&id, EventDraft::new(EventType::InProgress), T0 + 3)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_role");
    sync_until_quiet(&mut hub, &mut t);

    // The department's cursor went past the case's first changes while it could not see them:
    // the repair path fetches them.
    sync_until_quiet(&mut hub, &mut d);
    let listed = d.list(&Default::default()).unwrap();
    assert_eq!(listed.len(), 1, "the case is complete and listed");
    assert_eq!(listed[0].status, Status::Assigned);
    assert_eq!(
        d.case(&id).unwrap().read().unwrap().description,
        "村口两盏路灯不亮"
    );
    d.append_event(&id, EventDraft::new(EventType::InProgress), T0 + 4)
        .unwrap();
    // Signing for it (签收) makes the department's handler its owner.
    assert_eq!(
        d.case(&id).unwrap().workflow().unwrap().owner.as_deref(),
        Some("chen")
    );
    d.append_event(&id, EventDraft::new(EventType::Resolved), T0 + 5)
        .unwrap();
    sync_until_quiet(&mut hub, &mut d);
    assert!(hub.quarantine().is_empty(), "{:?}", hub.quarantine());
    sync_until_quiet(&mut hub, &mut w);
    assert_eq!(
        w.case(&id).unwrap().workflow().unwrap().status,
        Status::Resolved
    );
}

#[test]
fn an_assignment_to_a_department_outside_the_catalogue_is_refused_by_the_hub() {
    let mut hub = MemoryHub::new();
    let mut t = replica_for(&mut hub, township("li", "pc-b"));
    let mut new = new_request("路灯不亮");
    new.jurisdiction = path("130322/101/201/01");
    let id = t.capture(&new, T0).unwrap();
    t.append_event(&id, EventDraft::new(EventType::Accepted), T0 + 1)
        .unwrap();
    t.append_event(&id, EventDraft::assign_to("no_such_bureau"), T0 + 2)
        .unwrap();
    let out = sync(&mut hub, &mut t);
    assert_eq!(out.rejected, 3, "the whole batch of the case is refused");
    let why = t.rejections(&id).unwrap();
    assert!(why.iter().all(|r| r.code == "workflow_refused"));
    assert!(
        why[0].reason.contains("no_such_bureau"),
        "{}",
        why[0].reason
    );
    assert_eq!(hub.quarantine().len(), 3);
}

#[test]
fn a_failed_mediation_without_a_referral_is_refused_by_the_hub_too() {
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{AutoCommit, ReadDoc};
    use gridsync_core::admission::{DeviceAuthority, admit};
    use gridsync_core::case::{CaseDoc, ChangeAuthor};
    use gridsync_core::protocol::RejectCode;
    use gridsync_core::taxonomy::Taxonomy;

    let who = mediator("zhao", "phone-m");
    let actor = automerge::ActorId::random();
    let mut new = new_request("邻里纠纷");
    new.kind = gridsync_core::CaseKind::Dispute;
    new.category = "dispute_neighbours".into();
    new.jurisdiction = path("130322/101/201");
    let id = gridsync_core::case::new_case_id();
    let (mut stored, _) = CaseDoc::create(actor.clone(), &id, &new, &who, T0).unwrap();
    // A modified app writes the document directly, past the editor's rule.
    let mut raw = AutoCommit::load(&stored.save())
        .unwrap()
        .with_actor(actor.clone());
    let (_, med) = raw.get(automerge::ROOT, "mediation").unwrap().unwrap();
    raw.put(&med, "result", "failure").unwrap();
    raw.commit_with(CommitOptions::default().with_message(ChangeAuthor::of(&who).to_message()));
    let change = raw.get_last_local_change().unwrap().raw_bytes().to_vec();
    let users = [who];
    let authority = DeviceAuthority {
        actors: std::slice::from_ref(&actor),
        users: &users,
        signing: None,
        relays: None,
    };
    let verdict = admit(
        Some(&mut stored),
        &id,
        &[change],
        &authority,
        Taxonomy::builtin(),
    );
    assert!(verdict.accepted.is_empty());
    assert_eq!(verdict.refused[0].code, RejectCode::InvalidCase);
    assert!(
        verdict.refused[0].reason.contains("referred"),
        "{}",
        verdict.refused[0].reason
    );
}

#[test]
fn a_returned_case_taken_back_gets_the_categorys_clock_and_loses_its_resolution() {
    let mut hub = MemoryHub::new();
    let mut t = replica_for(&mut hub, township("li", "pc-b"));
    let id = t.capture(&new_request("路灯不亮"), T0).unwrap();
    t.append_event(&id, EventDraft::new(EventType::Accepted), T0 + 1)
        .unwrap();
    t.append_event(&id, EventDraft::new(EventType::Resolved), T0 + 2)
        .unwrap();
    t.append_event(
        &id,
        EventDraft::new(EventType::Returned).note("未处理到位"),
        T0 + 3,
    )
    .unwrap();
    let wf = t.case(&id).unwrap().workflow().unwrap();
    assert_eq!(wf.status, Status::Returned);
    assert_eq!((wf.resolved_at, wf.resolved_level), (None, None));
    let answer_by = wf.due.unwrap();
    t.append_event(&id, EventDraft::new(EventType::InProgress), T0 + 4)
        .unwrap();
    let wf = t.case(&id).unwrap().workflow().unwrap();
    // street_light is 3 working days: later than the one-day answer clock.
    assert!(wf.due.unwrap() > answer_by, "{:?} vs {answer_by}", wf.due);
    assert_eq!(wf.clock_started, Some(T0 + 4));
}

#[test]
fn a_walk_in_routed_to_the_grid_is_verified_there_answered_and_visited() {
    use gridsync_core::Source;
    use gridsync_core::case::{Party, REQUESTER};
    let mut hub = MemoryHub::new();
    let mut wang = replica_for(&mut hub, worker("wang", "phone-a"));
    let mut li = replica_for(&mut hub, township("li", "pc-b"));
    let mut walk_in = new_request("路灯不亮");
    walk_in.people = vec![Party {
        name: "赵大妈".into(),
        role: REQUESTER.into(),
        phone: "13812345678".into(),
        ..Party::default()
    }];
    let id = li.capture(&walk_in, T0).unwrap();
    li.edit(&id, T0, |e| e.set_source(Source::WalkIn)).unwrap();
    // Routing up or sideways is refused: only down, to a level the place names.
    let err = li
        .append_event(&id, EventDraft::route_to(Level::Township), T0 + 1)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_invalid", "{err}");
    li.append_event(&id, EventDraft::route_to(Level::Grid), T0 + 1)
        .unwrap();
    sync_until_quiet(&mut hub, &mut li);
    sync_until_quiet(&mut hub, &mut wang);
    let case = wang.case(&id).unwrap();
    let wf = case.workflow().unwrap();
    // 待核实 on the grid worker's phone: reported, at the grid, nobody owns it yet.
    assert_eq!(
        (wf.status, wf.level, wf.owner),
        (Status::Reported, Level::Grid, None)
    );
    assert_eq!(wf.first_response_at, Some(T0 + 1));
    let read = case.read().unwrap();
    assert_eq!(read.source, Source::WalkIn);
    assert_eq!(
        read.requester().map(|p| p.phone.as_str()),
        Some("13812345678")
    );
    wang.append_event(&id, EventDraft::new(EventType::Accepted), T0 + 2)
        .unwrap();
    wang.append_event(&id, EventDraft::resolve_with_reply("路灯已修好"), T0 + 3)
        .unwrap();
    sync_until_quiet(&mut hub, &mut wang);
    sync_until_quiet(&mut hub, &mut li);
    // A return visit says how and what the requester said.
    let err = li
        .append_event(&id, EventDraft::return_visit("fax").note("满意"), T0 + 4)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_invalid", "{err}");
    li.append_event(
        &id,
        EventDraft::return_visit("phone").note("说灯亮了"),
        T0 + 4,
    )
    .unwrap();
    li.append_event(&id, EventDraft::evaluate(Rating::Satisfied), T0 + 5)
        .unwrap();
    let wf = li.case(&id).unwrap().workflow().unwrap();
    assert_eq!(wf.status, Status::Evaluated);
    assert_eq!(wf.reply.as_deref(), Some("路灯已修好"));
    assert_eq!(wf.return_visits, 1);
    assert!(!wf.rating_by_requester, "staff recorded this rating");
    // A phone capture without a source reads as its reporter's channel.
    let own = wang.capture(&new_request("井盖缺失"), T0 + 6).unwrap();
    assert_eq!(
        wang.case(&own).unwrap().read().unwrap().source,
        Source::GridWorker
    );
}

/// A department handler of the county 130322.
fn handler(user: &str, department: &str) -> gridsync_core::Identity {
    gridsync_core::Identity::new(
        user,
        gridsync_core::Role::DepartmentHandler,
        path("130322"),
        Some(department.into()),
        format!("pc-{user}"),
    )
    .unwrap()
}

/// wang's street-light request, taken on by the township (li) and dispatched in one change to
/// urban_management as the lead with `assists` assisting (联合派单), every phone synced:
/// (hub, li, the case id).
fn joint_case(
    assists: &[&str],
    phones: &mut [&mut gridsync_core::Replica],
) -> (MemoryHub, gridsync_core::Replica, String) {
    let (mut hub, _, mut li, id) = shared_case();
    for p in phones.iter_mut() {
        let who = p.identity().unwrap().clone();
        hub.register_device(who, p.actor_id().clone());
    }
    li.append_event(&id, EventDraft::new(EventType::Accepted), T0 + 1)
        .unwrap();
    li.edit(&id, T0 + 2, |e| {
        e.append_event(EventDraft::assign_to("urban_management"))?;
        for d in assists {
            e.append_event(EventDraft::assist(*d))?;
        }
        Ok(())
    })
    .unwrap();
    sync_until_quiet(&mut hub, &mut li);
    for p in phones.iter_mut() {
        sync_until_quiet(&mut hub, p);
    }
    (hub, li, id)
}

fn signed_in(who: gridsync_core::Identity) -> gridsync_core::Replica {
    let mut r = gridsync_core::Replica::open_in_memory(&KEY).unwrap();
    r.sign_in(who).unwrap();
    r
}

#[test]
fn each_department_of_a_joint_dispatch_holds_the_case_and_acts_on_its_own_part() {
    let mut lead = signed_in(handler("chen", "urban_management"));
    let mut water = signed_in(handler("zhou", "water"));
    let mut power = signed_in(handler("sun", "power"));
    let mut fire = signed_in(handler("ma", "fire"));
    let (mut hub, mut li, id) = joint_case(
        &["water", "power"],
        &mut [&mut lead, &mut water, &mut power, &mut fire],
    );
    for p in [&lead, &water, &power] {
        let wf = p.case(&id).unwrap().workflow().unwrap();
        assert_eq!(wf.departments(), ["urban_management", "water", "power"]);
        assert!(
            wf.parts
                .iter()
                .all(|p| p.signed_at.is_none() && p.due.is_some())
        );
    }
    assert!(fire.case_ids().unwrap().is_empty(), "not fire's case");

    // An assisting department acts on its part only: it does not sign for the case, nor for
    // another department's part.
    let err = water
        .append_event(&id, EventDraft::new(EventType::InProgress), T0 + 3)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_role", "{err}");
    let err = water
        .append_event(&id, EventDraft::sign_part("power"), T0 + 3)
        .unwrap_err();
    assert!(
        err.to_string().contains("assisting department's handlers"),
        "{err}"
    );
    let err = water
        .append_event(&id, EventDraft::finish_part("water"), T0 + 3)
        .unwrap_err();
    assert!(err.to_string().contains("say what was done"), "{err}");

    // Offline at the same time: water signs and reports its part, power signs for its own.
    water
        .append_event(&id, EventDraft::sign_part("water"), T0 + 3)
        .unwrap();
    water
        .append_event(
            &id,
            EventDraft::finish_part("water").note("已抢修管道"),
            T0 + 4,
        )
        .unwrap();
    power
        .append_event(&id, EventDraft::sign_part("power"), T0 + 5)
        .unwrap();
    for p in [&mut water, &mut power, &mut lead, &mut li] {
        sync_until_quiet(&mut hub, p);
    }
    sync_until_quiet(&mut hub, &mut water);
    assert!(hub.quarantine().is_empty(), "{:?}", hub.quarantine());
    let states: Vec<_> = [&water, &power, &lead, &li]
        .iter()
        .map(|p| p.case(&id).unwrap().workflow().unwrap())
        .collect();
    for wf in &states {
        assert_eq!(wf, &states[0], "every phone folds the same parts");
    }
    let wf = &states[0];
    assert!(
        wf.conflicts.is_empty(),
        "parts never conflict: {:?}",
        wf.conflicts
    );
    assert_eq!(
        wf.status,
        Status::Assigned,
        "part steps never move the status"
    );
    let water_part = wf.part("water").unwrap();
    assert_eq!(water_part.signed_by.as_deref(), Some("zhou"));
    assert_eq!((water_part.done_at, water_part.due), (Some(T0 + 4), None));
    let power_part = wf.part("power").unwrap();
    assert_eq!(
        (power_part.signed_by.as_deref(), power_part.signed_at),
        (Some("sun"), Some(T0 + 5))
    );
    assert_eq!(power_part.clock_started, Some(T0 + 5));
    assert_eq!(wf.open_parts().count(), 1);

    // The lead resolves once the parts are in, or says why it closes without them.
    lead.append_event(&id, EventDraft::new(EventType::InProgress), T0 + 6)
        .unwrap();
    let err = lead
        .append_event(&id, EventDraft::new(EventType::Resolved), T0 + 7)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_invalid");
    assert!(err.to_string().contains("give a reason"), "{err}");
    lead.append_event(
        &id,
        EventDraft::new(EventType::Resolved).note("供电公司部分另行处理"),
        T0 + 7,
    )
    .unwrap();
    sync_until_quiet(&mut hub, &mut lead);
    sync_until_quiet(&mut hub, &mut power);
    // A resolved case takes no more part steps.
    let err = power
        .append_event(
            &id,
            EventDraft::finish_part("power").note("迟到的反馈"),
            T0 + 8,
        )
        .unwrap_err();
    assert_eq!(err.code(), "workflow_status", "{err}");
    assert!(hub.quarantine().is_empty(), "{:?}", hub.quarantine());
}

#[test]
fn a_late_assisting_part_is_supervised_alone_and_signing_restarts_its_clock() {
    use gridsync_core::workflow::{part_supervision_due, supervision_due};
    let mut lead = signed_in(handler("chen", "urban_management"));
    let mut power = signed_in(handler("sun", "power"));
    let mut county = signed_in(
        gridsync_core::Identity::new(
            "liu",
            gridsync_core::Role::CountyAdmin,
            path("130322"),
            None,
            "pc-liu",
        )
        .unwrap(),
    );
    let (mut hub, _li, id) = joint_case(&["power"], &mut [&mut lead, &mut power, &mut county]);
    lead.append_event(&id, EventDraft::new(EventType::InProgress), T0 + 3)
        .unwrap();
    sync_until_quiet(&mut hub, &mut lead);
    sync_until_quiet(&mut hub, &mut county);
    let wf = county.case(&id).unwrap().workflow().unwrap();
    // Power signs within 4 hours; the lead's street light has 3 working days.
    let part_due = wf.part("power").unwrap().due.unwrap();
    assert!(wf.due.unwrap() > part_due);
    let now = part_due + 1;
    assert_eq!(supervision_due(&wf, now), None, "the lead is on time");
    assert_eq!(part_supervision_due(&wf, now), [("power", Level::County)]);

    // A supervision names an open part; it raises that part's level, not the case's.
    let err = county
        .append_event(&id, EventDraft::supervise_part(Level::County, "water"), now)
        .unwrap_err();
    assert_eq!(err.code(), "workflow_invalid", "{err}");
    county
        .append_event(
            &id,
            EventDraft::supervise_part(Level::County, "power").note("协办超时未签收"),
            now,
        )
        .unwrap();
    sync_until_quiet(&mut hub, &mut county);
    sync_until_quiet(&mut hub, &mut power);
    let wf = power.case(&id).unwrap().workflow().unwrap();
    assert_eq!(wf.supervision_count, 1);
    assert_eq!(wf.supervised_level, None, "the lead was not supervised");
    assert_eq!(
        wf.part("power").unwrap().supervised_level,
        Some(Level::County)
    );
    assert!(
        part_supervision_due(&wf, now + 1).is_empty(),
        "supervised once"
    );

    // Signing late starts the part's handling clock afresh.
    power
        .append_event(&id, EventDraft::sign_part("power"), now + 2)
        .unwrap();
    let wf = power.case(&id).unwrap().workflow().unwrap();
    let part = wf.part("power").unwrap();
    assert_eq!(
        (part.clock_started, part.supervised_level),
        (Some(now + 2), None)
    );
    assert!(part.due.unwrap() > now + 2);
    assert!(part_supervision_due(&wf, now + 3).is_empty());
    sync_until_quiet(&mut hub, &mut power);
    assert!(hub.quarantine().is_empty(), "{:?}", hub.quarantine());
}

#[test]
fn a_return_ends_the_parts_and_the_hub_refuses_a_part_step_of_the_department_that_lost_it() {
    use gridsync_core::protocol::RejectCode;
    let mut lead = signed_in(handler("chen", "urban_management"));
    let mut water = signed_in(handler("zhou", "water"));
    let (mut hub, mut li, id) = joint_case(&["water"], &mut [&mut lead, &mut water]);
    // Offline at the same time: the lead returns the case (退回), water signs for its part.
    lead.append_event(
        &id,
        EventDraft::new(EventType::Returned).note("不属于本部门职责"),
        T0 + 3,
    )
    .unwrap();
    water
        .append_event(&id, EventDraft::sign_part("water"), T0 + 4)
        .unwrap();
    sync_until_quiet(&mut hub, &mut lead);
    sync_until_quiet(&mut hub, &mut water);
    sync_until_quiet(&mut hub, &mut li);
    // Water no longer holds the case: its step is refused like any department's that lost it.
    let refused = hub.quarantine();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, id);
    assert_eq!(
        refused[0].1.code,
        RejectCode::OutOfScope,
        "{}",
        refused[0].1.reason
    );
    let wf = li.case(&id).unwrap().workflow().unwrap();
    assert_eq!(wf.status, Status::Returned);
    assert!(wf.departments().is_empty(), "{:?}", wf.departments());
    // Dispatched afresh: new parts, nothing of the old ones.
    li.edit(&id, T0 + 5, |e| {
        e.append_event(EventDraft::assign_to("housing").note("改派住建局"))?;
        e.append_event(EventDraft::assist("power")).map(|_| ())
    })
    .unwrap();
    let wf = li.case(&id).unwrap().workflow().unwrap();
    assert_eq!(wf.departments(), ["housing", "power"]);
    assert!(wf.parts.iter().all(|p| p.signed_at.is_none()));
}
