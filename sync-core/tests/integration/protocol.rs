use gridsync_core::Error;
use gridsync_core::protocol::*;
use proptest::prelude::*;
use serde_bytes::ByteBuf;

fn sample_request() -> SyncRequest {
    SyncRequest {
        generation: None,
        recover: Vec::new(),
        device: "phone-a".into(),
        request_id: "r-1".into(),
        cursor: 42,
        page_bytes: 65536,
        push: vec![DocChanges {
            doc: "0190b7a4-3c1e-7000-8000-000000000001".into(),
            changes: vec![ByteBuf::from(vec![1, 2, 3])],
            sigs: Vec::new(),
            by: Vec::new(),
        }],
        want: vec![],
        rules: None,
        notices_after: None,
        notices_read: vec![],
        erased_after: None,
        keys: Vec::new(),
        certificate_until: None,
    }
}

#[test]
fn messages_round_trip() {
    let req = sample_request();
    assert_eq!(decode_request(&encode_request(&req).unwrap()).unwrap(), req);
}

#[test]
fn a_large_incompressible_message_round_trips_and_the_reused_compressor_keeps_nothing_between_messages()
 {
    // 2 MB of noise: more than the compressor's first output buffer, and no smaller compressed.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..2_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut big = sample_request();
    big.push[0].changes = vec![ByteBuf::from(noise)];
    let small = sample_request();
    let small_first = encode_request(&small).unwrap();
    let big_bytes = encode_request(&big).unwrap();
    assert!(big_bytes.len() > 2_000_000);
    assert_eq!(decode_request(&big_bytes).unwrap(), big);
    assert_eq!(
        encode_request(&small).unwrap(),
        small_first,
        "a message encodes the same before and after another"
    );
}

#[test]
fn truncated_and_corrupted_envelopes_are_errors() {
    let bytes = encode_request(&sample_request()).unwrap();
    for cut in 0..bytes.len() {
        assert!(
            decode_request(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
    let mut wrong_version = bytes.clone();
    wrong_version[5] = 9;
    assert!(matches!(
        decode_request(&wrong_version),
        Err(Error::UnsupportedVersion(9))
    ));
    let mut wrong_kind = bytes.clone();
    wrong_kind[6] = 2;
    assert_eq!(decode_request(&wrong_kind).unwrap_err().code(), "malformed");
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(decode_request(&trailing).is_err());
    assert!(
        decode_response(&bytes).is_err(),
        "a request is not a response"
    );
}

#[test]
fn a_decompression_bomb_is_refused() {
    use flate2::Compression;
    use flate2::write::DeflateEncoder;
    use std::io::Write;
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..40 {
        enc.write_all(&zeros).unwrap();
    }
    let mut bytes = b"GSYN\x00\x01\x01\x01".to_vec();
    bytes.extend(enc.finish().unwrap());
    assert!(bytes.len() < 100_000, "the bomb itself is small");
    let err = decode_request(&bytes).unwrap_err();
    assert_eq!(err.code(), "too_large", "{err}");
}

#[test]
fn deep_nesting_is_refused() {
    // 10,000 nested CBOR arrays, uncompressed.
    let mut bytes = b"GSYN\x00\x01\x01\x00".to_vec();
    bytes.extend(std::iter::repeat_n(0x81u8, 10_000));
    bytes.push(0x00);
    assert_eq!(decode_request(&bytes).unwrap_err().code(), "malformed");
}

#[test]
fn bad_ids_in_a_request_are_refused() {
    let mut req = sample_request();
    req.push[0].doc = "../../etc/passwd".into();
    assert!(decode_request(&encode_request(&req).unwrap()).is_err());
    let mut req = sample_request();
    req.device = "a b".into();
    assert!(decode_request(&encode_request(&req).unwrap()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(decode_request(&bytes).is_err() || bytes.starts_with(b"GSYN"));
        let _ = decode_response(&bytes);
    }

    #[test]
    fn flipped_bytes_never_panic(pos in 0usize..200, val in any::<u8>()) {
        let mut bytes = encode_request(&sample_request()).unwrap();
        let i = pos % bytes.len();
        bytes[i] = val;
        // Either still a valid request or an error; never a panic.
        if let Ok(req) = decode_request(&bytes) {
            prop_assert_eq!(req.device.is_empty(), false);
        }
    }
}
