//! Integration tests of gridsync-core: replicas syncing through the in-memory hub.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod assessment;
mod fixtures;
mod hub;
mod js_shape;
mod merge;
mod peer;
mod protocol;
mod replica;
mod session;
mod workflow;

use gridsync_core::case::{Location, NewCase};
use gridsync_core::testing::MemoryHub;
use gridsync_core::{CaseKind, Identity, JurisdictionPath, Replica, Role};

pub const KEY: [u8; 32] = [7; 32];
pub const T0: i64 = 1_790_000_000_000;

pub fn path(s: &str) -> JurisdictionPath {
    JurisdictionPath::parse(s).unwrap()
}

/// A grid worker of grid 01, village 201, township 101, county 130322.
pub fn worker(user: &str, device: &str) -> Identity {
    Identity::new(
        user,
        Role::GridWorker,
        path("130322/101/201/01"),
        None,
        device,
    )
    .unwrap()
}

pub fn mediator(user: &str, device: &str) -> Identity {
    Identity::new(user, Role::Mediator, path("130322/101/201"), None, device).unwrap()
}

pub fn township(user: &str, device: &str) -> Identity {
    Identity::new(user, Role::TownshipStaff, path("130322/101"), None, device).unwrap()
}

pub fn replica_for(hub: &mut MemoryHub, who: Identity) -> Replica {
    let mut r = Replica::open_in_memory(&KEY).unwrap();
    hub.register_device(who.clone(), r.actor_id().clone());
    r.sign_in(who).unwrap();
    r
}

pub fn new_request(title: &str) -> NewCase {
    NewCase {
        kind: CaseKind::Request,
        jurisdiction: path("130322/101/201/01"),
        category: "street_light".into(),
        title: title.into(),
        description: "村口路灯不亮，晚上出行不便。".into(),
        location: Location {
            lat: Some(36.1),
            lon: Some(115.2),
            accuracy_m: Some(8.0),
            address: "东街村村口".into(),
        },
        people: vec![],
    }
}

/// One full round trip; panics on protocol errors (tests only).
pub fn sync(hub: &mut MemoryHub, r: &mut Replica) -> gridsync_core::replica::SyncOutcome {
    let req = r.next_sync_request().unwrap();
    let device = req.device.clone();
    let bytes = gridsync_core::protocol::encode_request(&req).unwrap();
    let resp = hub.handle(&device, &bytes, T0).unwrap();
    let resp = gridsync_core::protocol::decode_response(&resp).unwrap();
    r.apply_sync_response(&resp, T0).unwrap()
}

/// A hub with wang (grid worker, phone-a) and li (township staff, pc-b), and a street-light
/// request wang captured that both phones hold: (hub, wang, li, the case id).
pub fn shared_case() -> (MemoryHub, Replica, Replica, String) {
    let mut hub = MemoryHub::new();
    let mut wang = replica_for(&mut hub, worker("wang", "phone-a"));
    let mut li = replica_for(&mut hub, township("li", "pc-b"));
    let id = wang.capture(&new_request("路灯不亮"), T0).unwrap();
    sync_until_quiet(&mut hub, &mut wang);
    sync_until_quiet(&mut hub, &mut li);
    (hub, wang, li, id)
}

/// Syncs through the sync session until the hub has nothing more and the replica nothing pending.
pub fn sync_until_quiet(hub: &mut MemoryHub, r: &mut Replica) {
    let out = gridsync_core::session::sync_cases(r, T0, |req| {
        let bytes = gridsync_core::protocol::encode_request(req)?;
        let resp = hub.handle(&req.device, &bytes, T0)?;
        gridsync_core::protocol::decode_response(&resp)
    })
    .unwrap();
    assert!(!out.more, "sync did not settle in {} rounds", out.rounds);
}
