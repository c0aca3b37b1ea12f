//! The cases: each on one of three paths — handled by the grid worker who reported it, registered
//! at the township and sent down to the grid, or dispatched to a department (some jointly, some
//! returned and dispatched again) — with its outcomes drawn at random and what each unit's hold
//! on it was meant to be; then pushed in bulk and scored by the townships.

use std::collections::BTreeMap;

use gridsync_core::Level;
use gridsync_core::assessment::UnitKind;
use gridsync_core::calendar::Calendar;
use gridsync_core::protocol::DocChanges;
use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_server::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_bytes::ByteBuf;

use super::count::Rec;
use super::world::{
    After, DAY, DEPARTMENTS, Draft, HOUR, Hands, IDLE_DEPARTMENT, MATTERS, MINUTE, Outcome,
    TOWNSHIPS, Timing, World, after_resolution, chance, followed, hold, resolve_draft, timing,
};

pub const CASES: usize = 2_000;

/// Everything built: the cases, what each hold was meant to be, the townships' scores of
/// departments for November as last entered (department, score), and when it is all judged.
pub struct Built {
    pub ids: Vec<String>,
    pub intended: Vec<Rec>,
    pub township_scores: Vec<(String, u8)>,
    pub now: i64,
}

/// Where a case is: township, village and grid indices, and its path.
struct Place {
    t: usize,
    v: usize,
    g: usize,
    path: String,
}

/// The township and village holds of a case (the township's 退回 from `after`).
fn territories(
    id: &str,
    place: &Place,
    received_at: i64,
    answered_in_time: bool,
    out: Outcome,
    after: Option<&After>,
) -> Vec<Rec> {
    let township = TOWNSHIPS[place.t].to_owned();
    let village = format!("{township}/20{}", place.v);
    [(UnitKind::Township, township), (UnitKind::Village, village)]
        .into_iter()
        .map(|(kind, code)| {
            let mut r = hold(id, kind, &code, received_at);
            r.signed_on_time = answered_in_time;
            r.resolved = out.resolved;
            r.resolved_on_time = out.resolved && out.on_time;
            r.overdue = !answered_in_time || out.late();
            if let Some(a) = after {
                followed(&mut r, a);
                r.returned = kind == UnitKind::Township && a.township_returned;
            }
            r
        })
        .collect()
}

/// A grid worker's hold to the end of the case.
fn worker_hold(
    d: &Draft<'_>,
    w: usize,
    received_at: i64,
    answered_in_time: bool,
    out: Outcome,
    after: Option<&After>,
) -> Rec {
    let mut r = hold(
        &d.id,
        UnitKind::Worker,
        &d.world.writers[w].who.user,
        received_at,
    );
    r.signed_on_time = answered_in_time;
    r.resolved = out.resolved;
    r.resolved_on_time = out.resolved && out.on_time;
    r.overdue = !answered_in_time || out.late();
    if let Some(a) = after {
        followed(&mut r, a);
    }
    r
}

const OPEN: Outcome = Outcome {
    resolved: false,
    on_time: false,
};

/// The grid worker resolves (on time, late, or never) what they took on at `from`.
fn resolve_locally(
    d: &mut Draft<'_>,
    rng: &mut StdRng,
    w: usize,
    staff: usize,
    from: i64,
) -> (Outcome, Option<After>) {
    let when = timing(rng, 10, 10);
    let at = match when {
        Timing::Never => return (OPEN, None),
        Timing::OnTime => from + HOUR,
        Timing::Late => d.due() + 2 * HOUR,
    };
    d.step(w, at, EventDraft::new(EventType::Resolved));
    let hands = Hands {
        resolver: w,
        staff,
        parts_open: false,
        may_return: true,
        may_archive: true,
    };
    let a = after_resolution(d, rng, &hands, at, when == Timing::OnTime);
    let out = Outcome {
        resolved: true,
        on_time: a.on_time,
    };
    (out, Some(a))
}

/// Reported by the grid worker, taken on (in time or late) and handled by them.
fn local<'w>(
    world: &'w World,
    rng: &mut StdRng,
    place: &Place,
    matter: usize,
    i: usize,
    start: i64,
) -> (Draft<'w>, Vec<Rec>) {
    let w = world.workers[&(place.t, place.v, place.g)];
    let staff = world.staff[place.t];
    let mut d = Draft::open(world, w, &place.path, matter, i, start);
    let late = chance(rng, 10);
    let accept_at = match late {
        true => d.due() + HOUR,
        false => start + 10 * MINUTE,
    };
    d.step(w, accept_at, EventDraft::new(EventType::Accepted));
    let (out, after) = resolve_locally(&mut d, rng, w, staff, accept_at);
    let mut recs = territories(&d.id, place, start, !late, out, after.as_ref());
    recs.push(worker_hold(&d, w, start, !late, out, after.as_ref()));
    (d, recs)
}

/// Registered at the township, sent down to the grid (待核实), taken on there in time or late.
fn routed<'w>(
    world: &'w World,
    rng: &mut StdRng,
    place: &Place,
    matter: usize,
    i: usize,
    start: i64,
) -> (Draft<'w>, Vec<Rec>) {
    let w = world.workers[&(place.t, place.v, place.g)];
    let staff = world.staff[place.t];
    let mut d = Draft::open(world, staff, &place.path, matter, i, start);
    d.step(
        staff,
        start + 20 * MINUTE,
        EventDraft::route_to(Level::Grid),
    );
    let late = chance(rng, 15);
    let accept_at = match late {
        true => d.due() + HOUR,
        false => start + HOUR,
    };
    d.step(w, accept_at, EventDraft::new(EventType::Accepted));
    let (out, after) = resolve_locally(&mut d, rng, w, staff, accept_at);
    let mut recs = territories(&d.id, place, start, true, out, after.as_ref());
    recs.push(worker_hold(&d, w, accept_at, !late, out, after.as_ref()));
    (d, recs)
}

/// The next step of a dispatch, by time.
#[derive(Debug, Clone, Copy)]
enum Next {
    LeadSign,
    LeadResolve,
    PartSign,
    PartDone,
}

/// A department other than those in `not`.
fn other(rng: &mut StdRng, not: &[&str]) -> &'static str {
    let left: Vec<&'static str> = DEPARTMENTS
        .into_iter()
        .filter(|d| !not.contains(d))
        .collect();
    left[rng.random_range(0..left.len())]
}

/// Taken on by the township (in time or late), dispatched to the category's department, perhaps
/// with an assisting one, perhaps returned by it and dispatched elsewhere; signed for, parts
/// reported and resolved each on time, late or never, in the order of their times.
fn dispatched<'w>(
    world: &'w World,
    rng: &mut StdRng,
    place: &Place,
    matter: usize,
    i: usize,
    start: i64,
) -> (Draft<'w>, Vec<Rec>) {
    let w = world.workers[&(place.t, place.v, place.g)];
    let staff = world.staff[place.t];
    let by_worker = chance(rng, 70);
    let reporter = if by_worker { w } else { staff };
    let mut d = Draft::open(world, reporter, &place.path, matter, i, start);
    let late = chance(rng, 10);
    let accept_at = match late {
        true => d.due() + HOUR,
        false => start + 15 * MINUTE,
    };
    d.step(staff, accept_at, EventDraft::new(EventType::Accepted));
    let first = MATTERS[matter].2;
    let assign_at = accept_at + 5 * MINUTE;
    d.step(staff, assign_at, EventDraft::assign_to(first));
    let helper = other(rng, &[first]);
    let assist_at = assign_at + 10 * MINUTE;
    let joint = chance(rng, 30);
    if joint {
        d.step(staff, assist_at, EventDraft::assist(helper));
    }
    let mut recs = Vec::new();
    let (lead, lead_at, joint) = if chance(rng, 12) {
        // 退回: not ours. Its part ends with it, long before any deadline.
        d.step(
            world.handler(first),
            assign_at + 30 * MINUTE,
            EventDraft::new(EventType::Returned).note("不属于本部门职责"),
        );
        let mut r = hold(&d.id, UnitKind::Department, first, assign_at);
        r.returned = true;
        recs.push(r);
        if joint {
            let mut p = hold(&d.id, UnitKind::Department, helper, assist_at);
            p.assisting = true;
            recs.push(p);
        }
        let again = other(rng, &[first, helper]);
        d.step(staff, assign_at + HOUR, EventDraft::assign_to(again));
        (again, assign_at + HOUR, false)
    } else {
        (first, assign_at, joint)
    };
    let sign = timing(rng, 20, 8);
    let resolve = timing(rng, 10, 10);
    let part_sign = timing(rng, 20, 15);
    let part_done = timing(rng, 15, 15);
    let mut queue: Vec<(i64, Next)> = Vec::new();
    match sign {
        Timing::OnTime => queue.push((lead_at + 20 * MINUTE, Next::LeadSign)),
        Timing::Late => queue.push((d.due() + HOUR, Next::LeadSign)),
        Timing::Never => {}
    }
    if joint {
        let part_due = d.wf().part(helper).unwrap().due.unwrap();
        match part_sign {
            Timing::OnTime => queue.push((assist_at + 30 * MINUTE, Next::PartSign)),
            Timing::Late => queue.push((part_due + HOUR, Next::PartSign)),
            Timing::Never => {}
        }
    }
    let (mut part_signed, mut part_finished, mut resolved_at) = (None, None, None);
    while let Some(k) = (0..queue.len()).min_by_key(|&k| queue[k].0) {
        let (at, next) = queue.remove(k);
        match next {
            Next::LeadSign => {
                d.step(
                    world.handler(lead),
                    at,
                    EventDraft::new(EventType::InProgress),
                );
                match resolve {
                    Timing::OnTime => queue.push((at + 2 * HOUR, Next::LeadResolve)),
                    Timing::Late => queue.push((d.due() + 2 * HOUR, Next::LeadResolve)),
                    Timing::Never => {}
                }
            }
            Next::PartSign => {
                d.step(world.handler(helper), at, EventDraft::sign_part(helper));
                part_signed = Some(part_sign);
                let part_due = d.wf().part(helper).unwrap().due.unwrap();
                match part_done {
                    Timing::OnTime => queue.push((at + HOUR, Next::PartDone)),
                    Timing::Late => queue.push((part_due + HOUR, Next::PartDone)),
                    Timing::Never => {}
                }
            }
            Next::PartDone => {
                let done = EventDraft::finish_part(helper).note("协办事项已办结");
                d.step(world.handler(helper), at, done);
                part_finished = Some(part_done);
            }
            Next::LeadResolve => {
                let open = joint && part_finished.is_none();
                d.step(world.handler(lead), at, resolve_draft(open));
                resolved_at = Some(at);
                // What the parts had not done by now they never do.
                queue.clear();
            }
        }
    }
    let parts_open = joint && part_finished.is_none();
    let after = resolved_at.map(|at| {
        let hands = Hands {
            resolver: world.handler(lead),
            staff,
            parts_open,
            may_return: false,
            may_archive: !parts_open,
        };
        after_resolution(&mut d, rng, &hands, at, resolve == Timing::OnTime)
    });
    let out = match &after {
        Some(a) => Outcome {
            resolved: true,
            on_time: a.on_time,
        },
        None => OPEN,
    };
    recs.extend(territories(&d.id, place, start, !late, out, after.as_ref()));
    if by_worker {
        // Reported, then taken on by the township: the worker's hold ended unanswered by them.
        let mut r = hold(&d.id, UnitKind::Worker, &world.writers[w].who.user, start);
        r.overdue = late;
        recs.push(r);
    }
    let mut r = hold(&d.id, UnitKind::Department, lead, lead_at);
    r.signed_on_time = sign == Timing::OnTime;
    r.resolved = out.resolved;
    r.resolved_on_time = out.resolved && out.on_time;
    r.overdue = sign != Timing::OnTime || out.late();
    if let Some(a) = &after {
        followed(&mut r, a);
    }
    recs.push(r);
    if joint {
        let mut p = hold(&d.id, UnitKind::Department, helper, assist_at);
        p.assisting = true;
        p.signed_on_time = part_signed == Some(Timing::OnTime);
        p.resolved = part_finished.is_some();
        p.resolved_on_time = part_finished == Some(Timing::OnTime);
        p.overdue = !(p.signed_on_time && p.resolved_on_time);
        if let (Some(a), true) = (&after, p.resolved) {
            // Reported before the lead resolved: the case's ratings and visits follow it too.
            followed(&mut p, a);
            p.reopened = false;
        }
        recs.push(p);
    }
    (d, recs)
}

/// Builds the cases (late October to early December: November is the period), pushes them
/// and has the townships score the departments.
pub async fn build(store: &Store, world: &World) -> Built {
    let cal = Calendar::builtin();
    // Monday 19 October 2026, 08:00: after the National Day holidays.
    let base = cal.local_midnight("2026-10-19").unwrap() + 8 * HOUR;
    let step = 50 * DAY / CASES as i64;
    let mut rng = StdRng::seed_from_u64(23);
    let mut drafts = Vec::new();
    let mut intended = Vec::new();
    for i in 0..CASES {
        let (t, v, g) = (
            rng.random_range(0..TOWNSHIPS.len()),
            rng.random_range(0..2),
            rng.random_range(0..2),
        );
        let place = Place {
            t,
            v,
            g,
            path: format!("{}/20{v}/0{g}", TOWNSHIPS[t]),
        };
        let start = base + i as i64 * step + rng.random_range(0..10) * MINUTE;
        let matter = rng.random_range(0..MATTERS.len());
        let (draft, recs) = match rng.random_range(0..100) {
            0..35 => local(world, &mut rng, &place, matter, i, start),
            35..55 => routed(world, &mut rng, &place, matter, i, start),
            _ => dispatched(world, &mut rng, &place, matter, i, start),
        };
        intended.extend(recs);
        drafts.push(draft);
    }
    let now = cal.local_midnight("2026-12-24").unwrap();
    let ids = push_all(store, world, drafts, now).await;
    let township_scores = score_departments(store, world, &mut rng, now).await;
    Built {
        ids,
        intended,
        township_scores,
        now,
    }
}

/// A case's changes as runs by one writer each: (writer, raw changes).
type Runs = Vec<(usize, Vec<ByteBuf>)>;

/// Pushes every case through admission: round by round, each case's next run of changes by
/// one writer, every writer's runs of a round in pushes of its own.
async fn push_all(store: &Store, world: &World, drafts: Vec<Draft<'_>>, now: i64) -> Vec<String> {
    let live = store.rules().await.unwrap();
    let mut runs: Vec<(String, Runs)> = Vec::new();
    for mut d in drafts {
        let mut by: Runs = Vec::new();
        for (w, hash) in &d.changes {
            let bytes = ByteBuf::from(d.doc.change(hash).unwrap().raw_bytes().to_vec());
            match by.last_mut() {
                Some((last, run)) if last == w => run.push(bytes),
                _ => by.push((*w, vec![bytes])),
            }
        }
        runs.push((d.id, by));
    }
    let rounds = runs.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
    for round in 0..rounds {
        let mut pushes: BTreeMap<usize, Vec<DocChanges>> = BTreeMap::new();
        for (id, by) in &runs {
            if let Some((w, changes)) = by.get(round) {
                pushes.entry(*w).or_default().push(DocChanges {
                    doc: id.clone(),
                    changes: changes.clone(),
                    sigs: Vec::new(),
                    by: Vec::new(),
                });
            }
        }
        for (w, docs) in pushes {
            let writer = &world.writers[w];
            for chunk in docs.chunks(250) {
                let (_, refused) = store
                    .commit_push(&writer.ctx, &writer.who, chunk, &live.admission, now)
                    .await
                    .unwrap();
                assert!(refused.is_empty(), "{}: {:?}", writer.who.user, refused[0]);
            }
        }
    }
    runs.into_iter().map(|(id, _)| id).collect()
}

/// Each township scores each department for October and November (some November scores
/// entered twice: the second counts), and one scores a department that had no case.
async fn score_departments(
    store: &Store,
    world: &World,
    rng: &mut StdRng,
    now: i64,
) -> Vec<(String, u8)> {
    let mut last: BTreeMap<(usize, &str), u8> = BTreeMap::new();
    for (t, &s) in world.staff.iter().enumerate() {
        let who = &world.writers[s].who;
        let idle = (t == 0).then_some(IDLE_DEPARTMENT);
        for department in DEPARTMENTS.into_iter().chain(idle) {
            let october = rng.random_range(1..=5);
            store
                .rate_department(who, "2026-10", department, october, "上月评议", now)
                .await
                .unwrap();
            let mut score = rng.random_range(1..=5);
            store
                .rate_department(who, "2026-11", department, score, "本月评议", now)
                .await
                .unwrap();
            if chance(rng, 30) {
                score = rng.random_range(1..=5);
                store
                    .rate_department(who, "2026-11", department, score, "更正", now + MINUTE)
                    .await
                    .unwrap();
            }
            last.insert((t, department), score);
        }
    }
    last.into_iter()
        .map(|((_, department), score)| (department.to_owned(), score))
        .collect()
}
