//! Who writes and how: accounts with their devices' actors, a case written step by step in
//! memory (every step checked by the workflow rules as a phone checks it) with the writer of each
//! change, outcomes drawn from a seeded generator, and what follows a resolution.

use std::collections::BTreeMap;

use automerge::{ActorId, ChangeHash};
use gridsync_core::assessment::UnitKind;
use gridsync_core::case::{CaseDoc, Location, NewCase};
use gridsync_core::vocab::new_case_id;
use gridsync_core::workflow::{EventDraft, EventType, Rating, WorkflowState};
use gridsync_core::{CaseKind, Identity, Role};
use gridsync_server::residents::requester_identity;
use gridsync_server::store::{DeviceContext, Store, UserRecord};
use rand::Rng;
use rand::rngs::StdRng;

use super::count::Rec;
use crate::{T0, path};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
pub const TOWNSHIPS: [&str; 3] = ["130322/101", "130322/102", "130322/103"];
pub const DEPARTMENTS: [&str; 5] = [
    "urban_management",
    "environment",
    "water",
    "transport",
    "emergency",
];
/// Scored by the townships, given no case: a row without a score or a rank.
pub const IDLE_DEPARTMENT: &str = "fire";
/// What a case is about: (category, kind, its department).
pub const MATTERS: [(&str, CaseKind, &str); 6] = [
    ("street_light", CaseKind::Request, "urban_management"),
    ("sanitation", CaseKind::Request, "urban_management"),
    ("environmental_pollution", CaseKind::Request, "environment"),
    ("water_supply", CaseKind::Request, "water"),
    ("road_damage", CaseKind::Request, "transport"),
    ("safety_hazard", CaseKind::Incident, "emergency"),
];

/// Someone who writes: the account, the actor its device writes with, the device as the store
/// knows it.
pub struct Writer {
    pub who: Identity,
    pub actor: ActorId,
    pub ctx: DeviceContext,
}

/// Everyone who writes, by role.
pub struct World {
    pub writers: Vec<Writer>,
    pub workers: BTreeMap<(usize, usize, usize), usize>,
    pub staff: Vec<usize>,
    handlers: BTreeMap<&'static str, usize>,
    pub requester: usize,
}

async fn account(
    store: &Store,
    user: &str,
    role: Role,
    scope: &str,
    department: Option<&str>,
) -> Writer {
    let record = UserRecord {
        id: user.into(),
        display_name: user.into(),
        role,
        scope: path(scope),
        department: department.map(Into::into),
        password_hash: "-".into(),
        disabled: false,
    };
    store.add_user(&record, T0).await.unwrap();
    let device = format!("dev-{user}");
    let actor = ActorId::random();
    store.bind_device(&device, user, &actor, T0).await.unwrap();
    let ctx = store.device_context(&device).await.unwrap().unwrap();
    let who = Identity::new(user, role, path(scope), department.map(Into::into), device).unwrap();
    Writer { who, actor, ctx }
}

impl World {
    /// Three townships of two villages of two grids, a worker per grid, a centre per township,
    /// a handler per department, and the server writing requesters' own ratings.
    pub async fn new(store: &Store) -> World {
        let mut writers = Vec::new();
        let mut workers = BTreeMap::new();
        let mut staff = Vec::new();
        for (t, township) in TOWNSHIPS.iter().enumerate() {
            staff.push(writers.len());
            writers.push(
                account(
                    store,
                    &format!("staff{t}"),
                    Role::TownshipStaff,
                    township,
                    None,
                )
                .await,
            );
            for v in 0..2 {
                for g in 0..2 {
                    let grid = format!("{township}/20{v}/0{g}");
                    workers.insert((t, v, g), writers.len());
                    let user = format!("gw{t}{v}{g}");
                    writers.push(account(store, &user, Role::GridWorker, &grid, None).await);
                }
            }
        }
        let mut handlers = BTreeMap::new();
        for d in DEPARTMENTS {
            handlers.insert(d, writers.len());
            let user = format!("dh_{d}");
            writers.push(account(store, &user, Role::DepartmentHandler, "130322", Some(d)).await);
        }
        let mut ctx = store.server_device(T0).await.unwrap();
        // The recount pushes the requester's changes as a phone would, unsigned; the server's
        // own write path signs them (ADR 0028), this shortcut does not.
        ctx.sign_key = None;
        let requester = writers.len();
        writers.push(Writer {
            who: requester_identity(&path("130322")).unwrap(),
            actor: ctx.actors[0].clone(),
            ctx,
        });
        World {
            writers,
            workers,
            staff,
            handlers,
            requester,
        }
    }

    pub fn handler(&self, department: &str) -> usize {
        self.handlers[department]
    }
}

/// One case being written, with the writer of each change.
pub struct Draft<'w> {
    pub world: &'w World,
    pub doc: CaseDoc,
    pub id: String,
    pub changes: Vec<(usize, ChangeHash)>,
}

impl<'w> Draft<'w> {
    pub fn open(
        world: &'w World,
        by: usize,
        place: &str,
        matter: usize,
        i: usize,
        at: i64,
    ) -> Self {
        let (category, kind, _) = MATTERS[matter];
        let w = &world.writers[by];
        let id = new_case_id();
        let new = NewCase {
            kind,
            jurisdiction: path(place),
            category: category.into(),
            title: format!("考核样本 {i}"),
            description: String::new(),
            location: Location::default(),
            people: vec![],
        };
        let (doc, hash) = CaseDoc::create(w.actor.clone(), &id, &new, &w.who, at).unwrap();
        Draft {
            world,
            doc,
            id,
            changes: vec![(by, hash)],
        }
    }

    pub fn step(&mut self, by: usize, at: i64, draft: EventDraft) {
        let w = &self.world.writers[by];
        self.doc.set_actor(w.actor.clone());
        let hash = self
            .doc
            .edit(&w.who, at, |e| e.append_event(draft).map(|_| ()))
            .unwrap()
            .unwrap();
        self.changes.push((by, hash));
    }

    pub fn wf(&self) -> WorkflowState {
        self.doc.workflow().unwrap()
    }

    pub fn due(&self) -> i64 {
        self.wf().due.unwrap()
    }
}

/// How a deadline was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    OnTime,
    Late,
    Never,
}

pub fn timing(rng: &mut StdRng, late: u32, never: u32) -> Timing {
    let x = rng.random_range(0..100);
    match x {
        x if x < late => Timing::Late,
        x if x < late + never => Timing::Never,
        _ => Timing::OnTime,
    }
}

pub fn chance(rng: &mut StdRng, percent: u32) -> bool {
    rng.random_range(0..100) < percent
}

/// What followed a case's first resolution.
#[derive(Debug, Default)]
pub struct After {
    /// The resolution standing at the end was on time.
    pub on_time: bool,
    pub failures: u32,
    /// (the requester's own, satisfied)
    pub ratings: Vec<(bool, bool)>,
    pub visited: bool,
    pub township_returned: bool,
}

/// Who acts after a resolution.
pub struct Hands {
    pub resolver: usize,
    pub staff: usize,
    /// Parts still open: a resolution needs a reason.
    pub parts_open: bool,
    /// The township may send a worker's resolution back (退回).
    pub may_return: bool,
    pub may_archive: bool,
}

pub fn resolve_draft(parts_open: bool) -> EventDraft {
    match parts_open {
        true => EventDraft::new(EventType::Resolved).note("协办部门未反馈，先行办结"),
        false => EventDraft::new(EventType::Resolved),
    }
}

/// After the first resolution at `t`: perhaps sent back by the township, reopened, rated by the
/// requester or staff (unsatisfied: handled again), visited, archived. Re-resolutions are on time.
pub fn after_resolution(
    d: &mut Draft<'_>,
    rng: &mut StdRng,
    h: &Hands,
    mut t: i64,
    on_time: bool,
) -> After {
    let requester = d.world.requester;
    let mut a = After {
        on_time,
        ..After::default()
    };
    if h.may_return && chance(rng, 8) {
        d.step(
            h.staff,
            t + 30 * MINUTE,
            EventDraft::new(EventType::Returned).note("未处理到位"),
        );
        d.step(h.resolver, t + HOUR, EventDraft::new(EventType::InProgress));
        t += 2 * HOUR;
        d.step(h.resolver, t, resolve_draft(h.parts_open));
        a.township_returned = true;
        a.on_time = true;
    }
    if chance(rng, 12) {
        t += HOUR;
        d.step(
            h.staff,
            t,
            EventDraft::new(EventType::Reopened).note("核查未整改到位"),
        );
        t += HOUR;
        d.step(h.resolver, t, resolve_draft(h.parts_open));
        a.failures += 1;
        a.on_time = true;
    }
    if chance(rng, 70) {
        let by_requester = chance(rng, 60);
        let rating = match rng.random_range(0..4) {
            0 | 1 => Rating::Satisfied,
            2 => Rating::BasicallySatisfied,
            _ => Rating::Unsatisfied,
        };
        t += HOUR;
        let rater = if by_requester { requester } else { h.staff };
        d.step(rater, t, EventDraft::evaluate(rating));
        a.ratings
            .push((by_requester, rating != Rating::Unsatisfied));
        if rating == Rating::Unsatisfied {
            t += HOUR;
            d.step(h.resolver, t, resolve_draft(h.parts_open));
            a.failures += 1;
            a.on_time = true;
            if chance(rng, 50) {
                t += HOUR;
                d.step(requester, t, EventDraft::evaluate(Rating::Satisfied));
                a.ratings.push((true, true));
            }
        }
    }
    if chance(rng, 35) {
        t += 30 * MINUTE;
        d.step(
            h.staff,
            t,
            EventDraft::return_visit("phone").note("群众反映已解决"),
        );
        a.visited = true;
    }
    if h.may_archive && chance(rng, 40) {
        t += HOUR;
        d.step(h.staff, t, EventDraft::new(EventType::Archived));
    }
    a
}

/// A hold as the generator meant it (filled in by the caller).
pub fn hold(case_id: &str, kind: UnitKind, code: &str, received_at: i64) -> Rec {
    Rec {
        case_id: case_id.to_owned(),
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

/// The ratings and visits that follow a resolution, onto a hold that saw them.
pub fn followed(r: &mut Rec, a: &After) {
    r.reopened = a.failures > 0;
    for &(by_requester, satisfied) in &a.ratings {
        match by_requester {
            true => {
                r.rated_by_requester += 1;
                r.satisfied_by_requester += u32::from(satisfied);
            }
            false => {
                r.rated_by_staff += 1;
                r.satisfied_by_staff += u32::from(satisfied);
            }
        }
    }
    r.return_visited = r.resolved && a.visited;
}

/// How the case ended for the units holding it to the end: resolved (on time or not) or open.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub resolved: bool,
    pub on_time: bool,
}

impl Outcome {
    pub fn late(self) -> bool {
        !self.resolved || !self.on_time
    }
}
