//! Golden wire fixtures: the bytes of protocol v1 must not drift. Regenerate deliberately with
//! `GRIDSYNC_UPDATE_GOLDEN=1 cargo test -p gridsync-core --test integration fixtures`.

use std::path::PathBuf;

use gridsync_core::protocol::*;
use serde_bytes::ByteBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn golden_request() -> SyncRequest {
    SyncRequest {
        generation: None,
        recover: Vec::new(),
        device: "phone-130322-0001".into(),
        request_id: "00000000-0000-4000-8000-000000000001".into(),
        cursor: 1234,
        page_bytes: 262_144,
        push: vec![DocChanges {
            doc: "0190b7a4-3c1e-7000-8000-00000000abcd".into(),
            changes: vec![
                ByteBuf::from(vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]),
                ByteBuf::from(vec![9; 40]),
            ],
            sigs: Vec::new(),
            by: Vec::new(),
        }],
        want: vec![DocHeads {
            doc: "0190b7a4-3c1e-7000-8000-00000000beef".into(),
            heads: vec![ByteBuf::from(vec![0xab; 32])],
        }],
        rules: None,
        notices_after: None,
        notices_read: vec![],
        erased_after: None,
        keys: Vec::new(),
        certificate_until: None,
    }
}

fn golden_response() -> SyncResponse {
    SyncResponse {
        generation: None,
        recovered: None,
        accepted: vec![DocAck {
            doc: "0190b7a4-3c1e-7000-8000-00000000abcd".into(),
            hashes: vec![ByteBuf::from(vec![0x11; 32])],
        }],
        rejected: vec![Rejection {
            doc: "0190b7a4-3c1e-7000-8000-00000000abcd".into(),
            hash: ByteBuf::from(vec![0x22; 32]),
            code: RejectCode::OutOfScope,
            reason: "网格员只能上报本网格的事件".into(),
        }],
        pull: vec![DocChanges {
            doc: "0190b7a4-3c1e-7000-8000-00000000cafe".into(),
            changes: vec![ByteBuf::from(vec![5; 16])],
            sigs: Vec::new(),
            by: Vec::new(),
        }],
        cursor: 1300,
        more: true,
        server_time: 1_790_000_000_000,
        rules: None,
        notices: vec![],
        case_keys: Vec::new(),
        erased: Vec::new(),
        server_key: None,
        keys_taken: Vec::new(),
        erased_upto: None,
        certificate: None,
        revoked: Vec::new(),
    }
}

fn check(name: &str, encoded: Vec<u8>) -> Vec<u8> {
    let path = fixture(name);
    if std::env::var_os("GRIDSYNC_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &encoded).unwrap();
    }
    let golden = std::fs::read(&path).unwrap();
    assert_eq!(
        encoded, golden,
        "encoding of {name} drifted from the fixture"
    );
    golden
}

#[test]
fn request_v1_matches_its_golden_fixture() {
    let golden = check(
        "sync_request_v1.bin",
        encode_request(&golden_request()).unwrap(),
    );
    assert_eq!(&golden[..8], b"GSYN\x00\x01\x01\x01");
    assert_eq!(decode_request(&golden).unwrap(), golden_request());
}

#[test]
fn response_v1_matches_its_golden_fixture() {
    let golden = check(
        "sync_response_v1.bin",
        encode_response(&golden_response()).unwrap(),
    );
    assert_eq!(decode_response(&golden).unwrap(), golden_response());
}
