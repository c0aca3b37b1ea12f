//! Phone to phone through the real server (issue 27, ADR 0030): certificates come with a sync;
//! a colleague's change carried by another phone is stored as its author device's, with the
//! carrier named on the timeline (经 … 转交), and never twice; a carried change altered on the
//! way, or claiming an author who never made it, is quarantined with its own code.

use gridsync_core::case::{Location, NewCase};
use gridsync_core::peer_session::PeerSession;
use gridsync_core::protocol::{RejectCode, decode_response, encode_request};
use gridsync_core::{CaseKind, Role};
use serde_bytes::ByteBuf;

use crate::access_matrix::console_session;
use crate::rules_console::get;
use crate::server::{Phone, Server, path, post_sync};

const GRID: &str = "130322/101/201/01";
const VILLAGE: &str = "130322/101/201";

fn dispute() -> NewCase {
    NewCase {
        kind: CaseKind::Dispute,
        jurisdiction: path(GRID),
        category: "dispute_neighbours".into(),
        title: "宅基地纠纷".into(),
        description: "两户因宅基地边界发生争执。".into(),
        location: Location::default(),
        people: vec![],
    }
}

/// The one head of a case after a phone's own edit.
fn only_head(p: &Phone, id: &str) -> String {
    let heads = p.replica.case(id).unwrap().heads();
    assert_eq!(heads.len(), 1);
    heads[0].to_string()
}

fn meet(a: &mut Phone, b: &mut Phone) {
    let now = gridsync_server::now_ms();
    let (mut sa, hello) = PeerSession::open(&a.replica, now).unwrap();
    let (mut sb, reply) = PeerSession::answer(&b.replica, &hello, now).unwrap();
    let give = sa.step(&mut a.replica, &reply, now).unwrap().unwrap();
    let last = sb.step(&mut b.replica, &give, now).unwrap().unwrap();
    assert!(sa.step(&mut a.replica, &last, now).unwrap().is_none());
}

/// Worker wang and mediator zhao hold the same dispute; wang edited it offline and met zhao:
/// (server, wang, zhao, case id, the hash of wang's edit).
fn carried_edit() -> (Server, Phone, Phone, String, String) {
    let server = Server::start();
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let mut zhao = server.enrol("zhao", Role::Mediator, VILLAGE);
    let now = gridsync_server::now_ms();
    let id = wang.replica.capture(&dispute(), now).unwrap();
    wang.sync(&server);
    zhao.sync(&server);
    assert!(
        wang.replica.certificate().unwrap().is_some(),
        "a sync brings the device certificate"
    );
    wang.replica
        .edit(&id, now + 1, |e| e.set_title("宅基地边界纠纷"))
        .unwrap();
    let edit = only_head(&wang, &id);
    meet(&mut wang, &mut zhao);
    (server, wang, zhao, id, edit.to_string())
}

#[test]
fn a_carried_change_is_stored_as_its_author_s_once_and_named_relayed() {
    let (server, mut wang, mut zhao, id, edit) = carried_edit();
    let before = server.store(server.state.store.change_count()).unwrap();
    let first = zhao.sync_once(&server);
    let acked: Vec<String> = first
        .accepted
        .iter()
        .flat_map(|a| &a.hashes)
        .map(|h| gridsync_core::protocol::to_hash(h).unwrap().to_string())
        .collect();
    assert_eq!(
        acked,
        vec![edit.clone()],
        "the carried edit is acknowledged to its carrier"
    );
    let echoed = first.pull.iter().flat_map(|p| &p.changes).any(|c| {
        gridsync_core::case::parse_change(c)
            .unwrap()
            .hash()
            .to_string()
            == edit
    });
    assert!(
        !echoed,
        "a carried change is not pulled back by its carrier"
    );
    zhao.sync(&server);
    assert_eq!(zhao.replica.pending_count().unwrap(), 0);
    let history = server.store(server.state.store.case_history(&id)).unwrap();
    let carried = history.iter().find(|h| h.hash == edit).expect("stored");
    assert_eq!(carried.device, wang.device, "stored as the author device's");
    assert_eq!(carried.user, "wang");
    assert_eq!(carried.signed_by.as_deref(), Some(wang.device.as_str()));
    let relay = carried.relayed_by.as_ref().expect("named relayed");
    assert_eq!(
        (relay.device.as_str(), relay.user.as_str()),
        (zhao.device.as_str(), "zhao")
    );
    assert_eq!(
        server.store(server.state.store.change_count()).unwrap(),
        before + 1
    );
    // Wang syncs a day later: acknowledged, stored once, nothing left waiting.
    wang.sync(&server);
    assert_eq!(wang.replica.pending_count().unwrap(), 0);
    assert_eq!(
        server.store(server.state.store.change_count()).unwrap(),
        before + 1
    );
    assert!(
        server
            .store(server.state.store.quarantine())
            .unwrap()
            .is_empty()
    );
    server.add_user("ts", Role::TownshipStaff, "130322/101");
    let ts = console_session(&server, "ts");
    let (_, _, page) = get(&server, &ts, &format!("/console/cases/{id}"));
    assert_eq!(page.matches("class=\"relayed\"").count(), 1, "{page}");
    assert!(page.contains("经 ") && page.contains(" 转交"));
}

#[test]
fn an_altered_or_misattributed_carried_change_is_quarantined_with_its_own_code() {
    let (server, wang, mut zhao, id, edit) = carried_edit();
    let honest = zhao.replica.next_sync_request().unwrap();
    let case = honest.push.iter().find(|p| p.doc == id).unwrap();
    let at = case.by.iter().position(|d| d == &wang.device).unwrap();
    let wang_sig = case.sigs[at].clone();
    // Altered: a different change in wang's name (his actor, his recorded author), carrying
    // the signature of the one he made.
    let wang_who = wang.replica.identity().unwrap().clone();
    let mut doc = zhao.replica.case(&id).unwrap();
    doc.set_actor(wang.replica.actor_id().clone());
    let forged = doc
        .edit(&wang_who, gridsync_server::now_ms(), |e| {
            e.set_title("篡改后的标题")
        })
        .unwrap()
        .unwrap();
    let forged_bytes = doc.change(&forged).unwrap().raw_bytes().to_vec();
    // Misattributed: zhao's own change named as wang's, and one named as a device the server
    // never saw.
    zhao.replica
        .edit(&id, gridsync_server::now_ms(), |e| {
            e.set_description("调解员的修改")
        })
        .unwrap();
    let mut mine_doc = zhao.replica.case(&id).unwrap();
    let mine = mine_doc.heads()[0];
    let mine_bytes = mine_doc.change(&mine).unwrap().raw_bytes().to_vec();
    let push = |bytes: &[u8], sig: &ByteBuf, by: &str| {
        let mut req = honest.clone();
        req.push = vec![gridsync_core::protocol::DocChanges {
            doc: id.clone(),
            changes: vec![ByteBuf::from(bytes.to_vec())],
            sigs: vec![sig.clone()],
            by: vec![by.to_owned()],
        }];
        let (status, body) = post_sync(&server, &zhao.token, &encode_request(&req).unwrap());
        assert_eq!(status, 200);
        let resp = decode_response(&body).unwrap();
        assert!(resp.accepted.is_empty());
        resp.rejected
            .into_iter()
            .map(|r| r.code)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        push(&forged_bytes, &wang_sig, &wang.device),
        vec![RejectCode::RelaySignatureInvalid]
    );
    let zhao_sig = ByteBuf::from(vec![0u8; 64]);
    assert_eq!(
        push(&mine_bytes, &zhao_sig, &wang.device),
        vec![RejectCode::RelayAuthorUnknown]
    );
    assert_eq!(
        push(&case.changes[at], &wang_sig, "phone-nobody"),
        vec![RejectCode::RelayAuthorUnknown]
    );
    let kept: Vec<String> = server
        .store(server.state.store.quarantine())
        .unwrap()
        .into_iter()
        .map(|(_, _, code, _)| code)
        .collect();
    assert_eq!(
        kept,
        vec![
            "relay_signature_invalid",
            "relay_author_unknown",
            "relay_author_unknown"
        ]
    );
    // Nothing honest was lost: the real carried change and zhao's own still go through.
    let (status, body) = post_sync(&server, &zhao.token, &encode_request(&honest).unwrap());
    assert_eq!(status, 200);
    let resp = decode_response(&body).unwrap();
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let history = server.store(server.state.store.case_history(&id)).unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.hash == edit && h.device == wang.device)
    );
}

#[test]
fn a_revoked_phone_s_certificate_gets_nothing_once_colleagues_have_synced() {
    let server = Server::start();
    let mut wang = server.enrol("wang", Role::GridWorker, GRID);
    let mut zhao = server.enrol("zhao", Role::Mediator, VILLAGE);
    wang.replica
        .capture(&dispute(), gridsync_server::now_ms())
        .unwrap();
    wang.sync(&server);
    zhao.sync(&server);
    let card = zhao.replica.certificate().unwrap().unwrap();
    let now = gridsync_server::now_ms();
    // Before the revocation is known: the colleague's phone is met.
    assert!(gridsync_core::peer_session::export_bundle(&wang.replica, &card, now).is_ok());
    assert!(
        server
            .store(server.state.store.revoke_device(&zhao.device))
            .unwrap()
    );
    wang.sync(&server);
    let now = gridsync_server::now_ms();
    let refused = gridsync_core::peer_session::export_bundle(&wang.replica, &card, now);
    assert_eq!(refused.unwrap_err().code(), "certificate_revoked");
    let (_, hello) = PeerSession::open(&zhao.replica, now).unwrap();
    let answer = PeerSession::answer(&wang.replica, &hello, now);
    assert_eq!(answer.unwrap_err().code(), "certificate_revoked");
}
