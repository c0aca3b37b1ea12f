//! Property test: replicas doing random offline edits and workflow steps, synced through the hub
//! in random orders with lost requests, lost responses and duplicated deliveries, and meeting each
//! other phone to phone (ADR 0030; sometimes the last message of a meeting is lost), always end
//! with identical documents, identical derived status and identical conflict sets.

use gridsync_core::case::{Location, NewCase};
use gridsync_core::peer_session::PeerSession;
use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::testing::MemoryHub;
use gridsync_core::workflow::{EventDraft, EventType, Rating};
use gridsync_core::{CaseKind, Identity, JurisdictionPath, Replica, Role};
use proptest::prelude::*;

const KEY: [u8; 32] = [3; 32];

fn path(s: &str) -> JurisdictionPath {
    JurisdictionPath::parse(s).unwrap()
}

/// The people on one village's cases: two grid workers of grid 01, the village mediator,
/// township staff, and a grid worker of another grid who must see none of grid 01's cases.
fn cast() -> Vec<Identity> {
    vec![
        Identity::new(
            "wang",
            Role::GridWorker,
            path("130322/101/201/01"),
            None,
            "phone-wang",
        )
        .unwrap(),
        Identity::new(
            "liu",
            Role::GridWorker,
            path("130322/101/201/01"),
            None,
            "phone-liu",
        )
        .unwrap(),
        Identity::new(
            "zhao",
            Role::Mediator,
            path("130322/101/201"),
            None,
            "phone-zhao",
        )
        .unwrap(),
        Identity::new("li", Role::TownshipStaff, path("130322/101"), None, "pc-li").unwrap(),
        Identity::new(
            "sun",
            Role::GridWorker,
            path("130322/101/201/02"),
            None,
            "phone-sun",
        )
        .unwrap(),
    ]
}

const KINDS: [(CaseKind, &str); 4] = [
    (CaseKind::Request, "street_light"),
    (CaseKind::Incident, "safety_hazard"),
    (CaseKind::Dispute, "dispute_neighbours"),
    (CaseKind::KeyPersonVisit, "key_person_visit"),
];
const TITLES: [&str; 4] = ["路灯不亮", "邻里噪音纠纷", "危房隐患", "走访记录"];

#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    LoseRequest,
    LoseResponse,
    Duplicate,
}

#[derive(Debug, Clone)]
enum Op {
    Capture {
        who: usize,
        kind: usize,
        title: usize,
    },
    Title {
        who: usize,
        case: usize,
        title: usize,
    },
    Description {
        who: usize,
        case: usize,
        word: usize,
    },
    Address {
        who: usize,
        case: usize,
        n: u8,
    },
    Event {
        who: usize,
        case: usize,
        step: usize,
    },
    Sync {
        who: usize,
        fault: Fault,
    },
    /// Two phones meet; `cut`: the answerer's last message never reaches the opener.
    Meet {
        opener: usize,
        answerer: usize,
        cut: bool,
    },
}

fn op(replicas: usize) -> impl Strategy<Value = Op> {
    let who = 0..replicas;
    prop_oneof![
        1 => (who.clone(), 0..KINDS.len(), 0..TITLES.len())
            .prop_map(|(who, kind, title)| Op::Capture { who, kind, title }),
        2 => (who.clone(), any::<usize>(), 0..TITLES.len())
            .prop_map(|(who, case, title)| Op::Title { who, case, title }),
        2 => (who.clone(), any::<usize>(), 0..4usize)
            .prop_map(|(who, case, word)| Op::Description { who, case, word }),
        1 => (who.clone(), any::<usize>(), any::<u8>())
            .prop_map(|(who, case, n)| Op::Address { who, case, n }),
        8 => (who.clone(), any::<usize>(), 0..11usize)
            .prop_map(|(who, case, step)| Op::Event { who, case, step }),
        4 => (who.clone(), prop_oneof![
                3 => Just(Fault::None),
                1 => Just(Fault::LoseRequest),
                1 => Just(Fault::LoseResponse),
                1 => Just(Fault::Duplicate),
            ]).prop_map(|(who, fault)| Op::Sync { who, fault }),
        3 => (who.clone(), who, any::<bool>())
            .prop_map(|(opener, answerer, cut)| Op::Meet { opener, answerer, cut }),
    ]
}

fn draft(step: usize, r: &Replica, id: &str) -> EventDraft {
    match step {
        0 => EventDraft::new(EventType::Accepted),
        1 => EventDraft::new(EventType::InProgress),
        2 => EventDraft::new(EventType::Resolved),
        3 => EventDraft::new(EventType::Escalated).note("需上级协调"),
        4 => EventDraft::new(EventType::Returned).note("材料不全"),
        5 => EventDraft::evaluate(Rating::Satisfied),
        6 => EventDraft::evaluate(Rating::Unsatisfied),
        7 => EventDraft::new(EventType::Archived),
        8 => EventDraft::assign_to("urban_management"),
        9 => EventDraft::new(EventType::Supervised).note("超时督办"),
        _ => {
            // Settle the first open workflow conflict, if any, for its pending step.
            let wf = r.case(id).unwrap().workflow().unwrap();
            match wf.conflicts.first() {
                Some(c) => EventDraft::settle(c.pending.clone()),
                None => EventDraft::new(EventType::Reopened).note("验收不通过"),
            }
        }
    }
}

struct World {
    hub: MemoryHub,
    people: Vec<Identity>,
    replicas: Vec<Replica>,
    clock: i64,
}

impl World {
    fn new(n: usize) -> World {
        let mut hub = MemoryHub::new();
        let people: Vec<Identity> = cast().into_iter().take(n).collect();
        let clock = 1_790_000_000_000;
        let replicas = people
            .iter()
            .map(|who| {
                let mut r = Replica::open_in_memory(&KEY).unwrap();
                hub.register_device(who.clone(), r.actor_id().clone());
                r.sign_in(who.clone()).unwrap();
                // What a phone meets colleagues with: the hub's key and its certificate.
                r.set_server_key(&hub.public_key()).unwrap();
                let cert = hub.certify(who, &r.device_key().unwrap(), clock).unwrap();
                r.set_certificate(&cert).unwrap();
                r
            })
            .collect();
        World {
            hub,
            people,
            replicas,
            clock,
        }
    }

    fn pick(&self, who: usize, case: usize) -> Option<String> {
        let ids = self.replicas[who].case_ids().unwrap();
        (!ids.is_empty()).then(|| ids[case % ids.len()].clone())
    }

    /// Local operations may be refused by the rules; refusals change nothing and are fine.
    fn run(&mut self, op: &Op) {
        self.clock += 1000;
        let at = self.clock;
        match *op {
            Op::Capture { who, kind, title } => {
                let (kind, category) = KINDS[kind];
                // Grid workers report in their grid; the others in grid 01 below them.
                let grid = match self.people[who].role {
                    Role::GridWorker => self.people[who].scope.clone(),
                    _ => path("130322/101/201/01"),
                };
                let new = NewCase {
                    kind,
                    jurisdiction: grid,
                    category: category.into(),
                    title: TITLES[title].into(),
                    description: "初始描述".into(),
                    location: Location::default(),
                    people: vec![],
                };
                let _ = self.replicas[who].capture(&new, at);
            }
            Op::Title { who, case, title } => {
                if let Some(id) = self.pick(who, case) {
                    let _ = self.replicas[who].edit(&id, at, |e| e.set_title(TITLES[title]));
                }
            }
            Op::Description { who, case, word } => {
                if let Some(id) = self.pick(who, case) {
                    let r = &mut self.replicas[who];
                    let text = r
                        .case(&id)
                        .unwrap()
                        .read()
                        .map(|c| c.description)
                        .unwrap_or_default();
                    let words = ["已核实", "群众反映", "现场拍照", "需复查"];
                    let _ = r.edit(&id, at, |e| {
                        e.set_description(&format!("{text}{}", words[word]))
                    });
                }
            }
            Op::Address { who, case, n } => {
                if let Some(id) = self.pick(who, case) {
                    let loc = Location {
                        address: format!("东街村{n}号"),
                        ..Default::default()
                    };
                    let _ = self.replicas[who].edit(&id, at, |e| e.set_location(&loc));
                }
            }
            Op::Event { who, case, step } => {
                if let Some(id) = self.pick(who, case) {
                    let d = draft(step, &self.replicas[who], &id);
                    let _ = self.replicas[who].append_event(&id, d, at);
                }
            }
            Op::Sync { who, fault } => {
                self.sync(who, fault);
            }
            Op::Meet {
                opener,
                answerer,
                cut,
            } => self.meet(opener, answerer, cut),
        }
    }

    /// A peer session between two phones; every message checks, so none may fail.
    fn meet(&mut self, opener: usize, answerer: usize, cut: bool) {
        if opener == answerer {
            return;
        }
        let now = self.clock;
        let (a, b) = match opener < answerer {
            true => {
                let (lo, hi) = self.replicas.split_at_mut(answerer);
                (&mut lo[opener], &mut hi[0])
            }
            false => {
                let (lo, hi) = self.replicas.split_at_mut(opener);
                (&mut hi[0], &mut lo[answerer])
            }
        };
        let (mut sa, hello) = PeerSession::open(a, now).unwrap();
        let (mut sb, reply) = PeerSession::answer(b, &hello, now).unwrap();
        let give = sa.step(a, &reply, now).unwrap().unwrap();
        let last = sb.step(b, &give, now).unwrap().unwrap();
        if !cut {
            assert_eq!(sa.step(a, &last, now).unwrap(), None);
        }
    }

    fn sync(&mut self, who: usize, fault: Fault) -> (usize, usize, bool) {
        let r = &mut self.replicas[who];
        let device = self.people[who].device.clone();
        let req = encode_request(&r.next_sync_request().unwrap()).unwrap();
        if matches!(fault, Fault::LoseRequest) {
            return (0, 0, true);
        }
        let first = self.hub.handle(&device, &req, self.clock).unwrap();
        let resp = match fault {
            Fault::LoseResponse => return (0, 0, true),
            Fault::Duplicate => {
                // The request arrives twice; both answers come back, the later one first.
                let second = self.hub.handle(&device, &req, self.clock).unwrap();
                r.apply_sync_response(&decode_response(&second).unwrap(), self.clock)
                    .unwrap();
                first
            }
            _ => first,
        };
        let out = r
            .apply_sync_response(&decode_response(&resp).unwrap(), self.clock)
            .unwrap();
        (out.accepted, out.pulled_changes, out.more)
    }

    fn settle_network(&mut self) {
        for _ in 0..30 {
            let mut busy = false;
            for who in 0..self.replicas.len() {
                let (acked, pulled, more) = self.sync(who, Fault::None);
                busy |= acked > 0 || pulled > 0 || more;
            }
            if !busy {
                return;
            }
        }
        panic!("the network did not settle");
    }
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (3usize..=5).prop_flat_map(|n| (Just(n), proptest::collection::vec(op(n), 10..60)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_whatever_the_order_and_the_faults((n, ops) in scenario()) {
        let mut world = World::new(n);
        for op in &ops {
            world.run(op);
        }
        world.settle_network();

        prop_assert!(world.hub.quarantine().is_empty(), "no honest change is refused: {:?}",
            world.hub.quarantine().iter().map(|(_, r)| (&r.code, &r.reason)).collect::<Vec<_>>());
        for (who, r) in world.replicas.iter().enumerate() {
            prop_assert_eq!(r.pending_count().unwrap(), 0);
            let local = r.case_ids().unwrap();
            let visible: Vec<String> = world
                .hub
                .doc_ids()
                .into_iter()
                .filter(|id| world.hub.visible_to(&world.people[who], id))
                .collect();
            prop_assert_eq!(&local, &visible, "replica {} holds exactly what it may see", who);
            for id in &visible {
                let mut mine = r.case(id).unwrap();
                let hub_doc = world.hub.doc(id).unwrap();
                prop_assert_eq!(mine.heads(), hub_doc.heads(), "same history");
                prop_assert_eq!(mine.read().unwrap(), hub_doc.read().unwrap(), "same document");
                prop_assert_eq!(mine.workflow().unwrap(), hub_doc.workflow().unwrap(), "same status");
                prop_assert_eq!(mine.conflicts(), hub_doc.conflicts(), "same conflicts");
            }
        }
    }
}
