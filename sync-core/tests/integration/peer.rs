//! Phone to phone (ADR 0030) through the in-memory hub: colleagues' phones exchange what both
//! may read, one carries the other's changes to the hub as the other's, and nothing leaves a
//! phone for a colleague outside the case's readers.

use gridsync_core::case::{Location, NewCase};
use gridsync_core::peer::{CERTIFICATE_LIFETIME_MS, codes};
use gridsync_core::peer_session::{PeerOutcome, PeerSession, export_bundle, import_bundle};
use gridsync_core::testing::MemoryHub;
use gridsync_core::{CaseKind, Identity, Replica, Role};

use crate::*;

/// A phone signed in as `who` that holds the hub's key and a certificate issued at `issued`.
fn phone(hub: &mut MemoryHub, who: Identity, issued: i64) -> Replica {
    let r = replica_for(hub, who.clone());
    r.set_server_key(&hub.public_key()).unwrap();
    let cert = hub.certify(&who, &r.device_key().unwrap(), issued).unwrap();
    r.set_certificate(&cert).unwrap();
    r
}

fn dispute(grid: &str, title: &str) -> NewCase {
    NewCase {
        kind: CaseKind::Dispute,
        jurisdiction: path(grid),
        category: "dispute_neighbours".into(),
        title: title.into(),
        description: "两户因宅基地边界发生争执。".into(),
        location: Location::default(),
        people: vec![],
    }
}

fn visit(grid: &str) -> NewCase {
    NewCase {
        kind: CaseKind::KeyPersonVisit,
        jurisdiction: path(grid),
        category: "key_person_visit".into(),
        title: "走访记录".into(),
        description: "例行走访。".into(),
        location: Location::default(),
        people: vec![],
    }
}

/// Grid worker wang (phone-a) and village mediator zhao (phone-b), certified at `T0`, and a
/// dispute wang captured offline: (hub, wang, zhao, its id).
fn worker_and_mediator() -> (MemoryHub, Replica, Replica, String) {
    let mut hub = MemoryHub::new();
    let mut wang = phone(&mut hub, worker("wang", "phone-a"), T0);
    let zhao = phone(&mut hub, mediator("zhao", "phone-b"), T0);
    let id = wang
        .capture(&dispute("130322/101/201/01", "宅基地纠纷"), T0)
        .unwrap();
    (hub, wang, zhao, id)
}

/// A whole session, `a` opening: both outcomes.
fn meet(a: &mut Replica, b: &mut Replica, now: i64) -> (PeerOutcome, PeerOutcome) {
    let (mut sa, hello) = PeerSession::open(a, now).unwrap();
    let (mut sb, reply) = PeerSession::answer(b, &hello, now).unwrap();
    let give = sa.step(a, &reply, now).unwrap().expect("the opener gives");
    let last = sb.step(b, &give, now).unwrap().expect("the answerer gives");
    assert!(sb.is_done());
    assert_eq!(sa.step(a, &last, now).unwrap(), None);
    assert!(sa.is_done());
    (sa.outcome().clone(), sb.outcome().clone())
}

fn grid_worker(user: &str, device: &str, grid: &str) -> Identity {
    Identity::new(user, Role::GridWorker, path(grid), None, device).unwrap()
}

#[test]
fn colleagues_merge_offline_and_one_carries_both_to_the_hub_as_their_own() {
    let (mut hub, mut wang, mut zhao, id) = worker_and_mediator();
    sync_until_quiet(&mut hub, &mut wang);
    sync_until_quiet(&mut hub, &mut zhao);
    let before = hub.feed_len();
    // Offline, each edits the case.
    wang.edit(&id, T0 + 1, |e| e.set_title("宅基地边界纠纷"))
        .unwrap();
    zhao.edit(&id, T0 + 2, |e| e.set_description("已约双方周三调解。"))
        .unwrap();
    let (a, b) = meet(&mut wang, &mut zhao, T0 + 3);
    assert_eq!(
        (a.peer_user.as_str(), b.peer_user.as_str()),
        ("zhao", "wang")
    );
    assert_eq!(b.taken.cases, vec![id.clone()]);
    assert_eq!((b.taken.changes, b.taken.to_carry), (1, 1));
    assert_eq!((a.taken.changes, a.taken.to_carry), (1, 1));
    // Each gives exactly the change the other lacks, though neither knew the other's edit.
    assert_eq!((a.sent_changes, b.sent_changes), (1, 1));
    for r in [&wang, &zhao] {
        let case = r.case(&id).unwrap().read().unwrap();
        assert_eq!(case.title, "宅基地边界纠纷");
        assert_eq!(case.description, "已约双方周三调解。");
    }
    assert_eq!(
        wang.case(&id).unwrap().heads(),
        zhao.case(&id).unwrap().heads()
    );
    // Only zhao reaches the hub: both edits arrive, wang's as phone-a's.
    sync_until_quiet(&mut hub, &mut zhao);
    assert_eq!(hub.feed_len(), before + 2);
    assert_eq!(zhao.pending_count().unwrap(), 0);
    assert_eq!(
        hub.doc(&id).unwrap().heads(),
        zhao.case(&id).unwrap().heads()
    );
    // Wang syncs later: nothing is stored twice, nothing is left waiting.
    sync_until_quiet(&mut hub, &mut wang);
    assert_eq!(hub.feed_len(), before + 2);
    assert_eq!(wang.pending_count().unwrap(), 0);
    assert!(hub.quarantine().is_empty());
    // A second meeting finds nothing to give.
    let (a, b) = meet(&mut zhao, &mut wang, T0 + 4);
    assert_eq!((a.sent_changes, b.sent_changes), (0, 0));
}

#[test]
fn a_bundle_carries_the_same_and_opens_only_for_its_device() {
    let (mut hub, mut wang, mut zhao, id) = worker_and_mediator();
    let mut liu = phone(&mut hub, mediator("liu", "phone-c"), T0);
    let card = zhao.my_certificate(T0).unwrap();
    let (bundle, made) = export_bundle(&wang, &card, T0 + 1).unwrap();
    assert_eq!((made.sent_cases, made.peer_device.as_str()), (1, "phone-b"));
    let refused = import_bundle(&mut liu, &bundle, T0 + 2).unwrap_err();
    assert_eq!(refused.code(), codes::OUT_OF_ORDER);
    let mut bent = bundle.clone();
    let at = bent.len() - 40;
    bent[at] ^= 1;
    assert!(import_bundle(&mut zhao, &bent, T0 + 2).is_err());
    assert!(zhao.case_ids().unwrap().is_empty());
    let took = import_bundle(&mut zhao, &bundle, T0 + 2).unwrap();
    assert_eq!(took.taken.cases, vec![id.clone()]);
    // A case new to the hub, carried whole by the mediator, as the grid worker's.
    sync_until_quiet(&mut hub, &mut zhao);
    assert_eq!(hub.doc_ids(), vec![id.clone()]);
    assert!(hub.quarantine().is_empty());
    sync_until_quiet(&mut hub, &mut wang);
    assert_eq!(hub.feed_len(), 1);
    assert_eq!(wang.pending_count().unwrap(), 0);
}

#[test]
fn nothing_crosses_to_a_colleague_of_another_village() {
    let mut hub = MemoryHub::new();
    let mut zhao = phone(&mut hub, mediator("zhao", "phone-b"), T0);
    let mut sun = phone(
        &mut hub,
        grid_worker("sun", "phone-s", "130322/101/202/01"),
        T0,
    );
    zhao.capture(&dispute("130322/101/201/01", "宅基地纠纷"), T0)
        .unwrap();
    sun.capture(&dispute("130322/101/202/01", "水渠纠纷"), T0)
        .unwrap();
    let (a, b) = meet(&mut zhao, &mut sun, T0 + 1);
    assert_eq!((a.sent_cases, b.sent_cases), (0, 0));
    assert_eq!((a.taken.changes, b.taken.changes), (0, 0));
    assert_eq!(zhao.case_ids().unwrap().len(), 1);
    assert_eq!(sun.case_ids().unwrap().len(), 1);
    assert_ne!(zhao.case_ids().unwrap(), sun.case_ids().unwrap());
}

#[test]
fn a_key_person_visit_never_goes_to_a_mediator() {
    let (mut hub, mut wang, mut zhao, quarrel) = worker_and_mediator();
    let mut liu = phone(&mut hub, worker("liu", "phone-l"), T0);
    let secret = wang.capture(&visit("130322/101/201/01"), T0).unwrap();
    meet(&mut wang, &mut zhao, T0 + 1);
    assert_eq!(zhao.case_ids().unwrap(), vec![quarrel.clone()]);
    let card = zhao.my_certificate(T0).unwrap();
    let (bundle, _) = export_bundle(&wang, &card, T0 + 2).unwrap();
    import_bundle(&mut zhao, &bundle, T0 + 3).unwrap();
    assert_eq!(zhao.case_ids().unwrap(), vec![quarrel.clone()]);
    // A grid worker of the same grid may read it: the visit goes to him.
    meet(&mut liu, &mut wang, T0 + 4);
    let mut held = liu.case_ids().unwrap();
    held.sort();
    let mut both = vec![quarrel, secret];
    both.sort();
    assert_eq!(held, both);
}

#[test]
fn an_expired_certificate_gets_nothing() {
    let mut hub = MemoryHub::new();
    let mut wang = phone(&mut hub, worker("wang", "phone-a"), T0);
    let old = T0 - CERTIFICATE_LIFETIME_MS;
    let zhao = phone(&mut hub, mediator("zhao", "phone-b"), old);
    wang.capture(&dispute("130322/101/201/01", "宅基地纠纷"), T0)
        .unwrap();
    // The expired phone cannot open a session, nor answer, nor be given a bundle; and its own
    // certificate, shown by someone replaying it, is refused.
    assert_eq!(
        PeerSession::open(&zhao, T0 + 1).unwrap_err().code(),
        codes::NO_CERTIFICATE
    );
    let (_, hello) = PeerSession::open(&wang, T0 + 1).unwrap();
    assert_eq!(
        PeerSession::answer(&zhao, &hello, T0 + 1)
            .unwrap_err()
            .code(),
        codes::NO_CERTIFICATE
    );
    let stale = hub
        .certify(
            &mediator("zhao", "phone-b"),
            &zhao.device_key().unwrap(),
            old,
        )
        .unwrap();
    assert_eq!(
        export_bundle(&wang, &stale, T0 + 1).unwrap_err().code(),
        codes::CERTIFICATE_EXPIRED
    );
    assert!(zhao.case_ids().unwrap().is_empty());
    // A forged Hello: the expired certificate in a fresh message.
    let forged = gridsync_core::peer::encode_message(&gridsync_core::peer::PeerMessage::Hello {
        certificate: serde_bytes::ByteBuf::from(stale),
        nonce: serde_bytes::ByteBuf::from(vec![0; 32]),
    })
    .unwrap();
    assert_eq!(
        PeerSession::answer(&wang, &forged, T0 + 1)
            .unwrap_err()
            .code(),
        codes::CERTIFICATE_EXPIRED
    );
}

/// Every message of a session and a bundle, with one byte changed anywhere: refused or taken,
/// never a panic, and a refused message changes nothing.
#[test]
fn bent_messages_are_refused_without_a_panic() {
    let (_hub, mut wang, mut zhao, _) = worker_and_mediator();
    zhao.capture(&dispute("130322/101/201/01", "水渠纠纷"), T0)
        .unwrap();
    let (mut sa, hello) = PeerSession::open(&wang, T0).unwrap();
    let (_, reply) = PeerSession::answer(&zhao, &hello, T0).unwrap();
    let (bundle, _) = export_bundle(&wang, &zhao.my_certificate(T0).unwrap(), T0).unwrap();
    let held = zhao.case_ids().unwrap();
    let step = (reply.len() / 97).max(1);
    for i in (0..reply.len()).step_by(step) {
        // A fresh session for each, as a refused message ends one.
        let (mut fresh, hello) = PeerSession::open(&wang, T0).unwrap();
        let (_, reply) = PeerSession::answer(&zhao, &hello, T0).unwrap();
        let mut bent = reply.clone();
        bent[i] ^= 0x5a;
        assert!(
            fresh.step(&mut wang, &bent, T0).is_err(),
            "byte {i} of the reply"
        );
    }
    for i in (0..hello.len()).step_by((hello.len() / 97).max(1)) {
        let mut bent = hello.clone();
        bent[i] ^= 0x5a;
        // A changed nonce still makes a valid Hello; anything else is refused.
        let _ = PeerSession::answer(&zhao, &bent, T0);
    }
    for i in (0..bundle.len()).step_by((bundle.len() / 197).max(1)) {
        let mut bent = bundle.clone();
        bent[i] ^= 0x5a;
        assert!(
            import_bundle(&mut zhao, &bent, T0).is_err(),
            "byte {i} of the bundle"
        );
    }
    assert_eq!(zhao.case_ids().unwrap(), held);
    // The honest messages still go through.
    assert!(sa.step(&mut wang, &reply, T0).unwrap().is_some());
}
