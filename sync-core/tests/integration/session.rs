//! The sync session: one driver for every phone (the app's HTTP transport, the demo, the
//! benchmark, the tests), with its stop rule, round cap and upload/thumbnail steps.

use gridsync_core::replica::AttachmentMeta;
use gridsync_core::session::{
    Answer, Failure, PartSent, Probe, Step, SyncSession, Thumbnail, sync_cases,
};
use gridsync_core::testing::MemoryHub;

use super::*;

fn exchange(hub: &mut MemoryHub, req: &gridsync_core::protocol::SyncRequest) -> Answer {
    let bytes = gridsync_core::protocol::encode_request(req).unwrap();
    let resp = hub.handle(&req.device, &bytes, T0).unwrap();
    Answer::Synced(Box::new(
        gridsync_core::protocol::decode_response(&resp).unwrap(),
    ))
}

fn photo(tag: &[u8]) -> Vec<u8> {
    let mut p = b"\xFF\xD8\xFF\xE0".to_vec();
    p.extend_from_slice(tag);
    p
}

fn meta() -> AttachmentMeta {
    AttachmentMeta {
        caption: "现场照片".into(),
        lat: None,
        lon: None,
    }
}

#[test]
fn a_push_that_fits_takes_one_round_trip_and_a_quiet_phone_one_more_never() {
    let mut hub = MemoryHub::new();
    let mut w = replica_for(&mut hub, worker("wang", "phone-a"));
    for n in 0..3 {
        w.capture(&new_request(&format!("路灯不亮 {n}")), T0)
            .unwrap();
    }
    let out = sync_cases(&mut w, T0, |req| {
        let bytes = gridsync_core::protocol::encode_request(req)?;
        let resp = hub.handle(&req.device, &bytes, T0)?;
        gridsync_core::protocol::decode_response(&resp)
    })
    .unwrap();
    assert_eq!((out.rounds, out.accepted), (1, 3));
    assert_eq!(w.pending_count().unwrap(), 0);
    // Nothing to send and nothing to fetch: still one round trip (to hear the news), no more.
    let out = sync_cases(&mut w, T0, |req| {
        let bytes = gridsync_core::protocol::encode_request(req)?;
        let resp = hub.handle(&req.device, &bytes, T0)?;
        gridsync_core::protocol::decode_response(&resp)
    })
    .unwrap();
    assert_eq!((out.rounds, out.accepted, out.pulled_changes), (1, 0, 0));
}

#[test]
fn next_gives_the_same_step_until_it_is_answered() {
    let mut hub = MemoryHub::new();
    let mut w = replica_for(&mut hub, worker("wang", "phone-a"));
    w.capture(&new_request("路灯不亮"), T0).unwrap();
    let mut session = SyncSession::cases_only();
    let (Step::Sync(a), Step::Sync(b)) = (session.next(&w).unwrap(), session.next(&w).unwrap())
    else {
        panic!("a sync first");
    };
    assert_eq!(a.push, b.push, "a transport that signs in again asks again");
    let answer = exchange(&mut hub, &b);
    session.answer(&mut w, answer, T0).unwrap();
    assert_eq!(session.next(&w).unwrap(), Step::Done);
    // An answer to a step that was not asked is refused, not applied.
    let err = session
        .answer(&mut w, Answer::PartSent(PartSent::Complete), T0)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
}

#[test]
fn photos_go_after_their_cases_resume_from_the_servers_offset_and_wait_when_unknown() {
    let mut hub = MemoryHub::new();
    let mut w = replica_for(&mut hub, worker("wang", "phone-a"));
    let id = w.capture(&new_request("路灯不亮"), T0).unwrap();
    let first = w.attach(&id, &photo(b"one"), &meta(), T0).unwrap().sha256;
    let second = w.attach(&id, &photo(b"two!"), &meta(), T0).unwrap().sha256;
    let mut session = SyncSession::new();
    let Step::Sync(req) = session.next(&w).unwrap() else {
        panic!("cases first");
    };
    let answer = exchange(&mut hub, &req);
    session.answer(&mut w, answer, T0).unwrap();

    // The first: the server holds 2 bytes of it, so the part starts there; it says "more" once.
    assert_eq!(
        session.next(&w).unwrap(),
        Step::ProbeUpload {
            sha256: first.clone()
        }
    );
    let held = Answer::Probed(Probe::Held {
        offset: 2,
        complete: false,
    });
    session.answer(&mut w, held.clone(), T0).unwrap();
    let Step::SendPart {
        sha256,
        start,
        total,
        bytes,
    } = session.next(&w).unwrap()
    else {
        panic!("a part after the probe");
    };
    assert_eq!((sha256.as_str(), start, total), (first.as_str(), 2, 7));
    assert_eq!(bytes, photo(b"one")[2..]);
    session
        .answer(&mut w, Answer::PartSent(PartSent::Partial), T0)
        .unwrap();
    assert!(matches!(
        session.next(&w).unwrap(),
        Step::ProbeUpload { .. }
    ));
    session.answer(&mut w, held, T0).unwrap();
    assert!(matches!(session.next(&w).unwrap(), Step::SendPart { .. }));
    session
        .answer(&mut w, Answer::PartSent(PartSent::Complete), T0)
        .unwrap();

    // The second: its case is not on the server yet, as far as it knows: next sync.
    assert_eq!(
        session.next(&w).unwrap(),
        Step::ProbeUpload {
            sha256: second.clone()
        }
    );
    session
        .answer(&mut w, Answer::Probed(Probe::Unknown), T0)
        .unwrap();
    assert_eq!(session.next(&w).unwrap(), Step::Done);
    let out = session.outcome();
    assert_eq!((out.uploaded, out.pending_uploads), (1, 1));
    assert_eq!(w.blobs_to_upload().unwrap(), vec![second]);
}

#[test]
fn a_link_that_breaks_during_uploads_leaves_the_rest_for_the_next_sync() {
    let mut hub = MemoryHub::new();
    let mut w = replica_for(&mut hub, worker("wang", "phone-a"));
    let id = w.capture(&new_request("路灯不亮"), T0).unwrap();
    for tag in [&b"one"[..], b"two", b"three"] {
        w.attach(&id, &photo(tag), &meta(), T0).unwrap();
    }
    let mut session = SyncSession::new();
    let Step::Sync(req) = session.next(&w).unwrap() else {
        panic!("cases first");
    };
    let answer = exchange(&mut hub, &req);
    session.answer(&mut w, answer, T0).unwrap();
    // The first is refused (say, a bad range): skipped. The link breaks on the second.
    assert!(matches!(
        session.next(&w).unwrap(),
        Step::ProbeUpload { .. }
    ));
    session
        .answer(
            &mut w,
            Answer::Failed(Failure::Refused("bad_range".into())),
            T0,
        )
        .unwrap();
    assert!(matches!(
        session.next(&w).unwrap(),
        Step::ProbeUpload { .. }
    ));
    session
        .answer(&mut w, Answer::Failed(Failure::Link("timeout".into())), T0)
        .unwrap();
    assert_eq!(session.next(&w).unwrap(), Step::Done);
    let out = session.outcome();
    assert_eq!((out.uploaded, out.pending_uploads), (0, 3));
    assert_eq!(w.blobs_to_upload().unwrap().len(), 3, "nothing forgotten");
}

/// Syncs `m` through a full session, answering every thumbnail fetch with `thumb`; returns the
/// fetches asked for.
fn session_with_thumbnails(hub: &mut MemoryHub, m: &mut Replica, thumb: Thumbnail) -> Vec<String> {
    let mut session = SyncSession::new();
    let mut asked = Vec::new();
    loop {
        match session.next(m).unwrap() {
            Step::Sync(req) => {
                let answer = exchange(hub, &req);
                session.answer(m, answer, T0).unwrap();
            }
            Step::FetchThumbnail { sha256 } => {
                asked.push(sha256);
                session
                    .answer(m, Answer::Thumbnail(thumb.clone()), T0)
                    .unwrap();
            }
            Step::Done => return asked,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_colleagues_photo_brings_a_thumbnail_fetch_until_it_arrives_or_has_none() {
    let mut hub = MemoryHub::new();
    let mut w = replica_for(&mut hub, worker("wang", "phone-a"));
    let mut m = replica_for(&mut hub, mediator("zhao", "phone-m"));
    let id = w.capture(&new_request("路灯不亮"), T0).unwrap();
    let lamp = w.attach(&id, &photo(b"lamp"), &meta(), T0).unwrap().sha256;
    let scan = w.attach(&id, &photo(b"scan"), &meta(), T0).unwrap().sha256;
    sync_until_quiet(&mut hub, &mut w);

    // Not uploaded yet by whoever took them: asked again at the next sync.
    let asked = session_with_thumbnails(&mut hub, &mut m, Thumbnail::NotYet);
    assert_eq!(asked, vec![lamp.clone(), scan.clone()]);
    assert_eq!(
        m.wanted_thumbnails().unwrap(),
        vec![lamp.clone(), scan.clone()]
    );
    // Now they arrive.
    let asked = session_with_thumbnails(&mut hub, &mut m, Thumbnail::Fetched(b"thumb".to_vec()));
    assert_eq!(asked.len(), 2);
    assert!(m.wanted_thumbnails().unwrap().is_empty());

    // A type without thumbnails is not asked for again.
    let mut d = replica_for(&mut hub, mediator("sun", "phone-d"));
    session_with_thumbnails(&mut hub, &mut d, Thumbnail::NoneForType);
    assert!(d.wanted_thumbnails().unwrap().is_empty());
    assert!(session_with_thumbnails(&mut hub, &mut d, Thumbnail::NotYet).is_empty());
}
