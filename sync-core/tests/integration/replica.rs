use std::process::Command;

use gridsync_core::protocol::{RejectCode, decode_response, encode_request};
use gridsync_core::replica::{CaseFilter, SyncState};
use gridsync_core::testing::MemoryHub;
use gridsync_core::{CaseKind, Replica};

use crate::*;

const CRASH_DIR: &str = "GRIDSYNC_CRASH_CHILD_DIR";

/// Run only as a child of `a_replica_killed_between_request_and_response_recovers`: captures
/// cases, writes its sync request to disk, and dies without applying any response.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let mut r = Replica::open(&dir.join("phone.db"), &KEY).unwrap();
    r.sign_in(worker("wang", "phone-a")).unwrap();
    for i in 0..20 {
        r.capture(&new_request(&format!("路灯不亮 {i}")), T0 + i)
            .unwrap();
    }
    let req = encode_request(&r.next_sync_request().unwrap()).unwrap();
    std::fs::write(dir.join("request.bin"), req).unwrap();
    std::process::abort();
}

#[test]
fn a_replica_killed_between_request_and_response_recovers_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "replica::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DIR, dir.path())
        .status()
        .unwrap();
    assert!(!status.success(), "the child must die, not exit cleanly");

    let mut hub = MemoryHub::new();
    let mut r = Replica::open(&dir.path().join("phone.db"), &KEY).unwrap();
    hub.register_device(worker("wang", "phone-a"), r.actor_id().clone());
    // The server got the request and committed it; the answer never reached the phone.
    let lost = hub
        .handle(
            "phone-a",
            &std::fs::read(dir.path().join("request.bin")).unwrap(),
            T0,
        )
        .unwrap();
    assert_eq!(hub.feed_len(), 20);
    assert_eq!(
        r.pending_count().unwrap(),
        20,
        "nothing captured before the crash is lost"
    );

    // The phone restarts and syncs again: the server acknowledges, stores nothing twice.
    sync_until_quiet(&mut hub, &mut r);
    assert_eq!(hub.feed_len(), 20, "a retried push is a no-op");
    assert_eq!(r.pending_count().unwrap(), 0);
    assert_eq!(hub.doc_ids().len(), 20);
    for id in r.case_ids().unwrap() {
        assert_eq!(r.case(&id).unwrap().heads(), hub.doc(&id).unwrap().heads());
    }

    // A late copy of the lost response applies nothing twice either.
    let cursor = r.cursor().unwrap();
    let out = r
        .apply_sync_response(&decode_response(&lost).unwrap(), T0)
        .unwrap();
    assert_eq!(out.pulled_changes, 0);
    assert_eq!(r.pending_count().unwrap(), 0);
    assert_eq!(
        r.cursor().unwrap(),
        cursor,
        "an old response never moves the cursor back"
    );
}

#[test]
fn the_store_is_encrypted_at_rest_and_refuses_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone.db");
    {
        let mut r = Replica::open(&file, &KEY).unwrap();
        r.sign_in(worker("wang", "phone-a")).unwrap();
        let mut new = new_request("张三家邻里纠纷");
        new.kind = CaseKind::Dispute;
        new.category = "dispute_neighbours".into();
        new.description = "KEYWORD-SECRET 宅基地边界争议".into();
        r.capture(&new, T0).unwrap();
    }
    // Checkpoint the WAL so every byte sits in the main file, then look for plaintext.
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    drop(conn);
    let raw = std::fs::read(&file).unwrap();
    for needle in [
        "KEYWORD-SECRET".as_bytes(),
        "张三".as_bytes(),
        b"wang",
        b"dispute_neighbours",
    ] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "plaintext {:?} on disk",
            String::from_utf8_lossy(needle)
        );
    }
    let err = Replica::open(&file, &[8; 32]).unwrap_err();
    assert_eq!(err.code(), "storage");
    assert!(err.to_string().contains("wrong key"), "{err}");
    let r = Replica::open(&file, &KEY).unwrap();
    assert_eq!(
        r.list(&CaseFilter::default()).unwrap()[0].title,
        "张三家邻里纠纷"
    );
}

#[test]
fn a_case_the_server_refuses_shows_as_rejected_with_its_reason_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone.db");
    let mut hub = MemoryHub::new();
    // The phone still thinks it covers grid 01; the server has moved the worker to grid 02.
    let mut r = open_signed_in(&file, worker("wang", "phone-a"));
    let moved = gridsync_core::Identity::new(
        "wang",
        gridsync_core::Role::GridWorker,
        path("130322/101/201/02"),
        None,
        "phone-a",
    )
    .unwrap();
    hub.register_device(moved, r.actor_id().clone());
    let id = r.capture(&new_request("路灯不亮"), T0).unwrap();
    let out = sync(&mut hub, &mut r);
    assert_eq!((out.accepted, out.rejected), (0, 1));
    let listed = r
        .list(&CaseFilter {
            sync_state: Some(SyncState::Rejected),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    let why = r.rejections(&id).unwrap();
    assert_eq!(why[0].code, RejectCode::OutOfScope.as_str());
    assert!(
        why[0].reason.contains("130322/101/201/01"),
        "{}",
        why[0].reason
    );
    assert_eq!(
        r.case(&id).unwrap().read().unwrap().title,
        "路灯不亮",
        "kept on the phone"
    );
    assert_eq!(hub.quarantine().len(), 1, "kept in the server's quarantine");
    assert!(hub.doc_ids().is_empty(), "and not merged");
    assert_eq!(outbox(&file).len(), 1, "and in the outbox until resolved");
    assert_eq!(outbox(&file), owed(&mut hub, &r));
    // A rejected case is not pushed again and again.
    assert_eq!(r.pending_count().unwrap(), 0);
    assert!(r.next_sync_request().unwrap().push.is_empty());
}

#[test]
fn a_change_from_an_actor_of_another_device_is_refused_as_forged() {
    let mut hub = MemoryHub::new();
    let mut a = replica_for(&mut hub, worker("wang", "phone-a"));
    let _b = replica_for(&mut hub, worker("liu", "phone-b"));
    a.capture(&new_request("路灯不亮"), T0).unwrap();
    // phone-b replays phone-a's changes as its own.
    let mut req = a.next_sync_request().unwrap();
    req.device = "phone-b".into();
    let resp = hub
        .handle("phone-b", &encode_request(&req).unwrap(), T0)
        .unwrap();
    let resp = decode_response(&resp).unwrap();
    assert!(resp.accepted.is_empty());
    assert_eq!(resp.rejected[0].code, RejectCode::ForgedActor);
    assert_eq!(hub.quarantine().len(), 1);
}

#[test]
fn lists_filter_by_kind_status_sync_state_and_text() {
    let mut hub = MemoryHub::new();
    let mut r = replica_for(&mut hub, worker("wang", "phone-a"));
    r.capture(&new_request("路灯不亮"), T0).unwrap();
    let mut patrol = new_request("日常巡查");
    patrol.kind = CaseKind::Patrol;
    patrol.category = "patrol_routine".into();
    r.capture(&patrol, T0 + 1).unwrap();
    let all = r.list(&CaseFilter::default()).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|c| c.sync_state == Some(SyncState::Pending)));
    let patrols = r
        .list(&CaseFilter {
            kind: Some(CaseKind::Patrol),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(patrols.len(), 1);
    assert_eq!(patrols[0].title, "日常巡查");
    let text = r
        .list(&CaseFilter {
            text: Some("路灯".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(text.len(), 1);
    assert_eq!(r.pending_count().unwrap(), 2);
    sync_until_quiet(&mut hub, &mut r);
    assert_eq!(r.pending_count().unwrap(), 0);
    let synced = r
        .list(&CaseFilter {
            sync_state: Some(SyncState::Synced),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(synced.len(), 2);
}

#[test]
fn on_a_shared_phone_each_user_pushes_only_their_own_changes() {
    let mut hub = MemoryHub::new();
    let mut r = Replica::open_in_memory(&KEY).unwrap();
    hub.register_device(worker("wang", "phone-a"), r.actor_id().clone());
    hub.register_device(worker("liu", "phone-a"), r.actor_id().clone());
    r.sign_in(worker("wang", "phone-a")).unwrap();
    let wangs = r.capture(&new_request("王的上报"), T0).unwrap();
    // liu takes the phone before it synced.
    r.sign_in(worker("liu", "phone-a")).unwrap();
    let lius = r.capture(&new_request("刘的上报"), T0 + 1).unwrap();
    let req = r.next_sync_request().unwrap();
    assert_eq!(
        req.push.iter().map(|p| p.doc.as_str()).collect::<Vec<_>>(),
        [lius.as_str()]
    );
    sync_until_quiet(&mut hub, &mut r);
    assert!(
        hub.quarantine().is_empty(),
        "nothing pushed under the wrong name"
    );
    assert_eq!(hub.doc_ids(), std::slice::from_ref(&lius));
    assert_eq!(r.pending_count().unwrap(), 1, "wang's case waits for wang");
    // wang signs in again: his case goes up, as his.
    r.sign_in(worker("wang", "phone-a")).unwrap();
    hub.register_device(worker("wang", "phone-a"), r.actor_id().clone());
    sync_until_quiet(&mut hub, &mut r);
    assert_eq!(r.pending_count().unwrap(), 0);
    let reporter = hub.doc(&wangs).unwrap().read().unwrap().reporter;
    assert_eq!(reporter.user, "wang");
}

#[test]
fn a_photo_is_sealed_into_the_store_once_and_referenced_by_its_hash() {
    use gridsync_core::attachment::sha256_hex;
    use gridsync_core::replica::AttachmentMeta;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone.db");
    let mut photo = b"\xFF\xD8\xFF\xE0".to_vec();
    photo.extend_from_slice(b"PHOTO-PLAINTEXT-MARKER broken street lamp");
    let name = sha256_hex(&photo);
    let id;
    {
        let mut r = Replica::open(&file, &KEY).unwrap();
        r.sign_in(worker("wang", "phone-a")).unwrap();
        id = r.capture(&new_request("路灯不亮"), T0).unwrap();
        let meta = AttachmentMeta {
            caption: "现场照片".into(),
            lat: Some(37.1),
            lon: Some(115.0),
        };
        let a = r.attach(&id, &photo, &meta, T0 + 1).unwrap();
        assert_eq!(
            (a.sha256.as_str(), a.mime.as_str()),
            (name.as_str(), "image/jpeg")
        );
        // The same photo attached again is referenced twice but stored once.
        r.attach(&id, &photo, &meta, T0 + 2).unwrap();
        assert_eq!(r.blobs_to_upload().unwrap(), vec![name.clone()]);
        let err = r
            .attach(&id, b"<script>alert(1)</script>", &meta, T0 + 3)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        let case = r.case(&id).unwrap().read().unwrap();
        assert_eq!(case.attachments.len(), 2);
        assert_eq!(case.attachments[0].caption, "现场照片");
    }
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    drop(conn);
    let raw = std::fs::read(&file).unwrap();
    let needle = b"PHOTO-PLAINTEXT-MARKER";
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "photo on disk in plain"
    );

    let r = Replica::open(&file, &KEY).unwrap();
    assert_eq!(r.blob(&name).unwrap().unwrap(), photo);
    r.mark_uploaded(&name).unwrap();
    assert!(r.blobs_to_upload().unwrap().is_empty());
    assert!(r.blob(&sha256_hex(b"other")).unwrap().is_none());
}

#[test]
fn colleagues_photos_arrive_as_sealed_copies_and_originals_must_match_their_name() {
    use gridsync_core::attachment::sha256_hex;
    use gridsync_core::case::Attachment;
    use gridsync_core::replica::BlobCopy;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone.db");
    let mut theirs = b"\xFF\xD8\xFF\xE0".to_vec();
    theirs.extend_from_slice(b"COLLEAGUE-PHOTO-MARKER flooded road");
    let name = sha256_hex(&theirs);
    let thumb = b"\xFF\xD8\xFF\xE0THUMB-PLAINTEXT-MARKER".to_vec();
    let id;
    {
        let mut r = Replica::open(&file, &KEY).unwrap();
        r.sign_in(worker("wang", "phone-a")).unwrap();
        id = r.capture(&new_request("道路积水"), T0).unwrap();
        // As a pulled case would: a reference whose bytes this phone does not hold.
        let reference = Attachment {
            sha256: name.clone(),
            mime: "image/jpeg".into(),
            bytes: theirs.len() as u64,
            captured_at: T0,
            ..Default::default()
        };
        r.edit(&id, T0 + 1, |e| e.add_attachment(&reference))
            .unwrap();
        assert_eq!(r.want_thumbnails(std::slice::from_ref(&id)).unwrap(), 1);
        // Asking again (and for a case this phone does not have) wants nothing more.
        assert_eq!(
            r.want_thumbnails(&[id.clone(), "no-such-case".into()])
                .unwrap(),
            1
        );
        r.keep_copy(&name, BlobCopy::Thumbnail, &thumb).unwrap();
        assert!(r.wanted_thumbnails().unwrap().is_empty());
        let here = r.blob_here(&name).unwrap();
        assert!(here.thumbnail && !here.original && !here.uploaded);
        // Not the colleague's to upload from here.
        assert!(r.blobs_to_upload().unwrap().is_empty());
    }
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    drop(conn);
    let raw = std::fs::read(&file).unwrap();
    let needle = b"THUMB-PLAINTEXT-MARKER";
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "thumbnail on disk in plain"
    );

    let r = Replica::open(&file, &KEY).unwrap();
    assert_eq!(r.copy(&name, BlobCopy::Thumbnail).unwrap(), Some(thumb));
    assert_eq!(r.copy(&name, BlobCopy::WithoutMetadata).unwrap(), None);
    // Bytes that are not the named photo are refused; the real ones are kept as held.
    let mut wrong = theirs.clone();
    wrong.push(0);
    assert_eq!(
        r.keep_original(&name, &wrong).unwrap_err().code(),
        "invalid_input"
    );
    assert_eq!(r.blob(&name).unwrap(), None);
    r.keep_original(&name, &theirs).unwrap();
    assert_eq!(r.blob(&name).unwrap(), Some(theirs));
    let here = r.blob_here(&name).unwrap();
    assert!(here.original && here.uploaded);
    assert!(r.blobs_to_upload().unwrap().is_empty());
    assert_eq!(
        r.want_thumbnails(&[id]).unwrap(),
        0,
        "held: no thumbnail wanted"
    );
}

#[test]
fn an_acknowledgement_settles_only_what_it_covers_also_in_stores_from_before_heads_were_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone.db");
    let mut hub = MemoryHub::new();
    let mut r = open_signed_in(&file, worker("wang", "phone-a"));
    hub.register_device(worker("wang", "phone-a"), r.actor_id().clone());
    let a = r.capture(&new_request("路灯不亮 甲"), T0).unwrap();
    let b = r.capture(&new_request("路灯不亮 乙"), T0 + 1).unwrap();
    // Both pushed; while the request is on its way, case a is edited again.
    let req = encode_request(&r.next_sync_request().unwrap()).unwrap();
    r.edit(&a, T0 + 2, |e| e.set_title("路灯不亮 甲（已复查）"))
        .unwrap();
    let resp = hub.handle("phone-a", &req, T0 + 3).unwrap();
    let out = r
        .apply_sync_response(&decode_response(&resp).unwrap(), T0 + 3)
        .unwrap();
    assert_eq!(out.accepted, 2);
    assert_eq!(
        r.sync_state(&a).unwrap(),
        SyncState::Pending,
        "the edit made after the push is not acknowledged yet"
    );
    assert_eq!(r.sync_state(&b).unwrap(), SyncState::Synced);
    assert_eq!(r.pending_count().unwrap(), 1);

    // A store written before the heads were kept beside the document: the acknowledgement
    // opens the document instead, and settles the case all the same.
    drop(r);
    let conn = rusqlite::Connection::open(&file).unwrap();
    assert_eq!(
        conn.execute("UPDATE cases SET heads = NULL", []).unwrap(),
        2
    );
    drop(conn);
    let mut r = open_signed_in(&file, worker("wang", "phone-a"));
    sync_until_quiet(&mut hub, &mut r);
    assert_eq!(r.sync_state(&a).unwrap(), SyncState::Synced);
    assert_eq!(r.pending_count().unwrap(), 0);
    assert_eq!(r.case(&a).unwrap().heads(), hub.doc(&a).unwrap().heads());
    assert_eq!(
        r.case(&a).unwrap().read().unwrap().title,
        "路灯不亮 甲（已复查）"
    );
}

/// The phone store at `file`, opened with the test key and signed in as `who`.
fn open_signed_in(file: &std::path::Path, who: gridsync_core::Identity) -> Replica {
    let mut r = Replica::open(file, &KEY).unwrap();
    r.sign_in(who).unwrap();
    r
}

/// The change hashes in the outbox of the store at `file`, read beside the open replica.
fn outbox(file: &std::path::Path) -> std::collections::BTreeSet<String> {
    let conn = rusqlite::Connection::open(file).unwrap();
    let mut stmt = conn.prepare("SELECT hash FROM outbox").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The changes of `r`'s cases that the hub does not have, taken from the documents.
fn owed(hub: &mut MemoryHub, r: &Replica) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for id in r.case_ids().unwrap() {
        let have = hub.doc(&id).map(|d| d.heads()).unwrap_or_default();
        let mut doc = r.case(&id).unwrap();
        out.extend(doc.hashes_since(&have).iter().map(|h| h.to_string()));
    }
    out
}

/// What `r` would push, case by case, checked against the documents: the outbox must send
/// exactly the bytes (and order) the documents say the hub lacks.
fn assert_push_matches_documents(hub: &mut MemoryHub, r: &Replica) {
    for case in r.next_sync_request().unwrap().push {
        let have = hub.doc(&case.doc).map(|d| d.heads()).unwrap_or_default();
        let expected: Vec<Vec<u8>> = r
            .case(&case.doc)
            .unwrap()
            .changes_since(&have)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let pushed: Vec<Vec<u8>> = case.changes.iter().map(|b| b.to_vec()).collect();
        assert_eq!(pushed, expected, "case {}", case.doc);
    }
}

#[test]
fn the_outbox_holds_exactly_the_changes_the_server_lacks_through_edits_pulls_and_acks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone.db");
    let mut hub = MemoryHub::new();
    let mut a = open_signed_in(&file, worker("wang", "phone-a"));
    hub.register_device(worker("wang", "phone-a"), a.actor_id().clone());
    let mut b = replica_for(&mut hub, worker("zhao", "phone-b"));

    let x = a.capture(&new_request("路灯不亮 甲"), T0).unwrap();
    let y = a.capture(&new_request("路灯不亮 乙"), T0 + 1).unwrap();
    a.edit(&x, T0 + 2, |e| e.set_title("路灯不亮 甲（复查）"))
        .unwrap();
    assert_eq!(outbox(&file).len(), 3);
    assert_eq!(outbox(&file), owed(&mut hub, &a));
    assert_push_matches_documents(&mut hub, &a);

    // Pushed; y is edited while the request is on its way.
    let req = encode_request(&a.next_sync_request().unwrap()).unwrap();
    a.edit(&y, T0 + 3, |e| e.set_title("路灯不亮 乙（复查）"))
        .unwrap();
    let resp = hub.handle("phone-a", &req, T0 + 4).unwrap();
    a.apply_sync_response(&decode_response(&resp).unwrap(), T0 + 4)
        .unwrap();
    assert_eq!(outbox(&file).len(), 1, "only the edit made in flight");
    assert_eq!(outbox(&file), owed(&mut hub, &a));
    assert_push_matches_documents(&mut hub, &a);

    // A colleague's case arrives by pull (not into the outbox) and is edited here (into it).
    let z = b.capture(&new_request("井盖缺失"), T0 + 5).unwrap();
    sync_until_quiet(&mut hub, &mut b);
    sync(&mut hub, &mut a);
    assert!(a.case_ids().unwrap().contains(&z));
    assert_eq!(outbox(&file), owed(&mut hub, &a));
    assert!(outbox(&file).is_empty(), "{:?}", outbox(&file));
    a.edit(&z, T0 + 6, |e| e.set_title("井盖缺失（已围挡）"))
        .unwrap();
    assert_eq!(outbox(&file), owed(&mut hub, &a));
    assert_push_matches_documents(&mut hub, &a);
    // The colleague edits it too: one response acknowledges this phone's edit and brings theirs.
    b.edit(&z, T0 + 7, |e| e.set_description("三处井盖缺失"))
        .unwrap();
    sync_until_quiet(&mut hub, &mut b);
    let out = sync(&mut hub, &mut a);
    assert_eq!((out.accepted, out.pulled_changes), (1, 1));
    assert!(outbox(&file).is_empty(), "{:?}", outbox(&file));
    sync_until_quiet(&mut hub, &mut a);
    assert_eq!(a.pending_count().unwrap(), 0);
    assert_eq!(
        hub.doc(&z).unwrap().read().unwrap().title,
        "井盖缺失（已围挡）"
    );
}

#[test]
fn a_store_from_before_the_outbox_fills_it_from_its_documents_and_pushes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone.db");
    let mut hub = MemoryHub::new();
    let mut r = open_signed_in(&file, worker("wang", "phone-a"));
    hub.register_device(worker("wang", "phone-a"), r.actor_id().clone());
    let a = r.capture(&new_request("路灯不亮 甲"), T0).unwrap();
    sync_until_quiet(&mut hub, &mut r);
    r.edit(&a, T0 + 1, |e| e.set_title("路灯不亮 甲（复查）"))
        .unwrap();
    let b = r.capture(&new_request("路灯不亮 乙"), T0 + 2).unwrap();
    r.edit(&b, T0 + 3, |e| e.set_title("路灯不亮 乙（复查）"))
        .unwrap();
    let owed_before = owed(&mut hub, &r);
    assert_eq!(owed_before.len(), 3);
    drop(r);

    // Schema 4 had no outbox.
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch("DROP TABLE outbox; PRAGMA user_version = 4;")
        .unwrap();
    drop(conn);
    let r = open_signed_in(&file, worker("wang", "phone-a"));
    assert_eq!(outbox(&file), owed_before, "filled from the documents");
    assert_push_matches_documents(&mut hub, &r);
    drop(r);

    // A pending case without outbox rows is pushed from its document all the same.
    let conn = rusqlite::Connection::open(&file).unwrap();
    assert_eq!(conn.execute("DELETE FROM outbox", []).unwrap(), 3);
    drop(conn);
    let mut r = open_signed_in(&file, worker("wang", "phone-a"));
    assert_push_matches_documents(&mut hub, &r);
    sync_until_quiet(&mut hub, &mut r);
    assert_eq!(r.pending_count().unwrap(), 0);
    assert!(owed(&mut hub, &r).is_empty());
    assert_eq!(
        hub.doc(&b).unwrap().read().unwrap().title,
        "路灯不亮 乙（复查）"
    );
}
