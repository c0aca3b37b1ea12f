//! The bodies of the fuzz targets in `fuzz/` (libFuzzer through cargo-fuzz, ADR 0014).
//!
//! Each function takes arbitrary bytes, feeds them to the code that reads untrusted input, and
//! panics only when a property that must hold is broken. The fuzz targets call these functions
//! and the regression test `tests/fuzz_corpus.rs` replays the committed corpus and crashers
//! through the very same ones, so target and test cannot drift apart.
//!
//! - [`envelope`]: `decode_request` / `decode_response`; whatever decodes re-encodes to the same.
//! - [`admission`]: arbitrary change bytes pushed for one fixed case ([`FIXTURE_CASE`]) by one
//!   fixed writer, both as a new case and against the stored document; nothing is accepted from
//!   an actor not bound to the device or an author other than the writer.
//! - [`attachment`]: content sniffing and metadata stripping of an uploaded blob.

use std::sync::OnceLock;

use automerge::{ActorId, ChangeHash};

use crate::Result;
use crate::access::{Identity, Role};
use crate::admission::{DeviceAuthority, Verdict, admit};
use crate::attachment::{
    MAX_ATTACHMENT_BYTES, check_attachment, is_blob_name, sha256_hex, sniff_mime, strip_metadata,
};
use crate::case::{Attachment, Case, CaseDoc, ChangeAuthor, Location, NewCase, Party};
use crate::jurisdiction::JurisdictionPath;
use crate::protocol::{
    DocAck, DocChanges, DocHeads, RejectCode, Rejection, SyncRequest, SyncResponse, decode_request,
    decode_response, encode_request, encode_response, hash_bytes,
};
use crate::taxonomy::Taxonomy;
use crate::vocab::CaseKind;
use crate::workflow::{EventDraft, EventType};

/// The case every admission input is pushed for.
pub const FIXTURE_CASE: &str = "0190b7a4-3c1e-7000-8000-00000000f022";
/// The one actor bound to the pushing device.
pub const FIXTURE_ACTOR: [u8; 16] = [0xf2; 16];
/// The stored document of [`FIXTURE_CASE`]: reported by [`writer`], with a person and a photo.
/// Saved bytes rather than built at start-up, because a new case gets random event ids and the
/// corpus's changes depend on these exact heads. Rebuild with [`make_fixture_doc`] (and the
/// corpus with the example `fuzz_seeds`) when the schema changes; the regression test
/// fails while the fixture no longer reads or an honest edit is refused.
pub const FIXTURE_DOC: &[u8] = include_bytes!("case.automerge");
const T0: i64 = 1_790_000_000_000;
/// Automerge's chunk magic: inputs are split into changes before each occurrence.
const CHANGE_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Township staff signed in on the pushing device.
pub fn writer() -> Identity {
    Identity {
        user: "fz-staff".into(),
        role: Role::TownshipStaff,
        scope: path("130322/101"),
        department: None,
        device: "fz-phone".into(),
    }
}

fn path(s: &str) -> JurisdictionPath {
    JurisdictionPath::parse(s).unwrap_or_else(|e| panic!("fixture path {s}: {e}"))
}

/// The stored case and what it reads as, built once per process.
struct Fixture {
    doc: CaseDoc,
    case: Case,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let doc = CaseDoc::load(FIXTURE_DOC).expect("the fixture document loads");
        let case = doc.read().expect("the fixture document reads as a case");
        Fixture { doc, case }
    })
}

/// Builds a new fixture document (random event ids: its heads differ every time).
pub fn make_fixture_doc() -> Result<Vec<u8>> {
    let who = writer();
    let new = NewCase {
        kind: CaseKind::Request,
        jurisdiction: path("130322/101/201/01"),
        category: "street_light".into(),
        title: "路灯不亮".into(),
        description: "村口路灯不亮".into(),
        location: Location {
            lat: Some(36.1),
            lon: Some(115.2),
            accuracy_m: Some(8.0),
            address: "东街村村口".into(),
        },
        people: vec![Party {
            name: "王五".into(),
            role: "requester".into(),
            phone: "13800000000".into(),
            ..Party::default()
        }],
    };
    let (mut doc, _) = CaseDoc::create(ActorId::from(FIXTURE_ACTOR), FIXTURE_CASE, &new, &who, T0)?;
    doc.edit(&who, T0 + 1, |e| e.add_attachment(&photo("a")))?;
    Ok(doc.save())
}

fn photo(seed: &str) -> Attachment {
    Attachment {
        sha256: sha256_hex(seed.as_bytes()),
        mime: "image/jpeg".into(),
        bytes: 1234,
        caption: "现场".into(),
        captured_at: T0,
        lat: Some(36.1),
        lon: Some(115.2),
    }
}

/// Starting inputs for [`admission`]: honest edits, a batch, forged ones and the creation.
pub fn admission_seeds() -> Result<Vec<Vec<u8>>> {
    let who = writer();
    let mut stored = CaseDoc::load(FIXTURE_DOC)?;
    // A loaded document gets a random actor: write as the device's.
    stored.set_actor(ActorId::from(FIXTURE_ACTOR));
    let mut seeds = Vec::new();
    let one = |f: &dyn Fn(&mut CaseDoc) -> Result<Option<ChangeHash>>| -> Result<Vec<u8>> {
        let mut doc = stored.clone();
        let hash = f(&mut doc)?.ok_or_else(|| crate::Error::InvalidCase("no change".into()))?;
        let change = doc
            .change(&hash)
            .ok_or(crate::Error::UnknownCase(hash.to_string()))?;
        Ok(change.raw_bytes().to_vec())
    };
    seeds.push(one(&|d| {
        d.edit(&who, T0 + 10, |e| e.set_title("路灯还是不亮"))
    })?);
    seeds.push(one(&|d| {
        d.edit(&who, T0 + 10, |e| {
            e.append_event(EventDraft::new(EventType::Accepted))
                .map(|_| ())
        })
    })?);
    seeds.push(one(&|d| {
        d.edit(&who, T0 + 10, |e| e.add_attachment(&photo("b")))
    })?);
    seeds.push(one(&|d| {
        d.edit(&who, T0 + 10, |e| e.set_category("no_such_category"))
    })?);
    seeds.push(one(&|d| {
        d.edit(&who, T0 + 10, |e| {
            e.set_jurisdiction(&path("130322/101/202"))
        })
    })?);
    // Another actor (not bound to the device) and another author (not signed in on it).
    seeds.push(one(&|d| {
        d.set_actor(ActorId::from([0x0b; 16]));
        d.edit(&who, T0 + 10, |e| e.set_title("冒名"))
    })?);
    let mut mallory = who.clone();
    mallory.user = "mallory".into();
    seeds.push(one(&|d| {
        d.edit(&mallory, T0 + 10, |e| e.set_title("冒名"))
    })?);
    // Two changes in one push, the second depending on the first.
    let mut doc = stored.clone();
    let mut batch = Vec::new();
    for (i, title) in ["一", "二"].into_iter().enumerate() {
        let hash = doc
            .edit(&who, T0 + 20 + i as i64, |e| e.set_title(title))?
            .ok_or_else(|| crate::Error::InvalidCase("no change".into()))?;
        if let Some(c) = doc.change(&hash) {
            batch.extend_from_slice(c.raw_bytes());
        }
    }
    seeds.push(batch);
    // The whole history: a new case for the `None` path, duplicates for the stored one.
    let mut doc = stored;
    seeds.push(
        doc.changes_since(&[])
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect(),
    );
    Ok(seeds)
}

/// The input cut into changes: a new change starts at each Automerge magic number, so a
/// concatenation of raw changes is a push of several.
pub fn split_changes(data: &[u8]) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = data
        .windows(CHANGE_MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == CHANGE_MAGIC)
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    starts.push(data.len());
    starts.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

/// Pushes the input's changes for [`FIXTURE_CASE`] as [`writer`] from a device bound to
/// [`FIXTURE_ACTOR`], once as a case the hub has never seen and once against the stored one,
/// and checks each verdict.
pub fn admission(data: &[u8]) {
    let fx = fixture();
    let changes = split_changes(data);
    let actors = [ActorId::from(FIXTURE_ACTOR)];
    let users = [writer()];
    let authority = DeviceAuthority {
        actors: &actors,
        users: &users,
        signing: None,
        relays: None,
    };
    let taxonomy = Taxonomy::builtin();
    let fresh = admit(None, FIXTURE_CASE, &changes, &authority, taxonomy);
    check_verdict(&fresh, None);
    let mut stored = fx.doc.clone();
    let verdict = admit(
        Some(&mut stored),
        FIXTURE_CASE,
        &changes,
        &authority,
        taxonomy,
    );
    check_verdict(&verdict, Some(&fx.case));
}

fn check_verdict(v: &Verdict, before: Option<&Case>) {
    let who = writer();
    let author = ChangeAuthor::of(&who);
    for c in &v.accepted {
        assert_eq!(
            c.actor_id(),
            &ActorId::from(FIXTURE_ACTOR),
            "accepted a change from an actor not bound to the device"
        );
        assert_eq!(
            ChangeAuthor::of_change(c).as_ref(),
            Some(&author),
            "accepted a change by an author not signed in on the device"
        );
        assert!(
            !v.refused.iter().any(|r| r.hash == Some(c.hash())),
            "a change both accepted and refused"
        );
        assert!(
            !v.duplicates.contains(&c.hash()),
            "a change both accepted and a duplicate"
        );
    }
    if before.is_none() {
        assert!(v.duplicates.is_empty(), "duplicates of a case never seen");
    }
    for r in v.refused.iter().filter(|r| r.hash.is_none()) {
        assert_eq!(
            r.code,
            RejectCode::BadChange,
            "only undecodable bytes are refused without a hash"
        );
    }
    if v.accepted.is_empty() {
        assert!(
            v.doc.is_none() && v.case.is_none(),
            "a document for nothing"
        );
        return;
    }
    let (Some(doc), Some(case)) = (&v.doc, &v.case) else {
        panic!("accepted changes without the resulting document");
    };
    assert_eq!(case.id, FIXTURE_CASE, "accepted a change to another case");
    let category = Taxonomy::builtin().category(&case.category);
    assert!(
        category.is_some_and(|c| c.applies_to(case.kind.as_str())),
        "accepted a category outside the catalogue"
    );
    assert!(
        doc.workflow().is_ok(),
        "accepted a case whose workflow does not fold"
    );
    match before {
        None => assert!(
            who.may_report(case.kind, &case.jurisdiction),
            "accepted a new case outside the writer's scope"
        ),
        Some(b) => {
            let same = b.id == case.id
                && b.kind == case.kind
                && b.reporter == case.reporter
                && b.created_at == case.created_at;
            assert!(same, "accepted a change to an immutable field");
            assert!(
                case.events.len() >= b.events.len(),
                "accepted a change that shortened the event log"
            );
        }
    }
}

/// Decodes the input as a request and as a response; whatever decodes must encode and decode
/// back to the same message.
pub fn envelope(data: &[u8]) {
    if let Ok(req) = decode_request(data) {
        let bytes = encode_request(&req).expect("a decoded request encodes");
        let again = decode_request(&bytes).expect("an encoded request decodes");
        assert_eq!(again, req, "a request changed on its way round");
    }
    if let Ok(resp) = decode_response(data) {
        let bytes = encode_response(&resp).expect("a decoded response encodes");
        let again = decode_response(&bytes).expect("an encoded response decodes");
        assert_eq!(again, resp, "a response changed on its way round");
    }
}

/// Starting inputs for [`envelope`]: a request and a response, deflated as the apps send them
/// and as plain CBOR (flag 0), which lets the fuzzer reach the CBOR decoder directly.
pub fn envelope_seeds() -> Result<Vec<Vec<u8>>> {
    let change = admission_seeds()?.swap_remove(0);
    let hash = crate::case::parse_change(&change)?.hash();
    let req = SyncRequest {
        generation: None,
        recover: Vec::new(),
        device: "fz-phone".into(),
        request_id: "r-1".into(),
        cursor: 42,
        page_bytes: 65536,
        push: vec![DocChanges {
            doc: FIXTURE_CASE.into(),
            changes: vec![serde_bytes::ByteBuf::from(change.clone())],
            sigs: Vec::new(),
            by: Vec::new(),
        }],
        want: vec![DocHeads {
            doc: FIXTURE_CASE.into(),
            heads: vec![hash_bytes(&hash)],
        }],
        rules: None,
        notices_after: None,
        notices_read: Vec::new(),
        erased_after: None,
        keys: Vec::new(),
        certificate_until: None,
    };
    let resp = SyncResponse {
        generation: None,
        recovered: None,
        accepted: vec![DocAck {
            doc: FIXTURE_CASE.into(),
            hashes: vec![hash_bytes(&hash)],
        }],
        rejected: vec![Rejection {
            doc: FIXTURE_CASE.into(),
            hash: serde_bytes::ByteBuf::new(),
            code: RejectCode::BadChange,
            reason: "x".into(),
        }],
        pull: vec![DocChanges {
            doc: FIXTURE_CASE.into(),
            changes: vec![serde_bytes::ByteBuf::from(change)],
            sigs: Vec::new(),
            by: Vec::new(),
        }],
        cursor: 7,
        more: true,
        server_time: T0,
        rules: None,
        notices: Vec::new(),
        case_keys: Vec::new(),
        erased: Vec::new(),
        server_key: None,
        keys_taken: Vec::new(),
        erased_upto: None,
        certificate: None,
        revoked: Vec::new(),
    };
    Ok(vec![
        encode_request(&req)?,
        encode_response(&resp)?,
        plain(1, &req)?,
        plain(2, &resp)?,
    ])
}

/// An envelope of `kind` with the body as plain CBOR (flags 0).
fn plain<T: serde::Serialize>(kind: u8, msg: &T) -> Result<Vec<u8>> {
    let mut out = b"GSYN\x00\x01".to_vec();
    out.extend([kind, 0]);
    ciborium::into_writer(msg, &mut out).map_err(|e| crate::Error::Malformed(e.to_string()))?;
    Ok(out)
}

/// What the server and the phones run on an uploaded blob: sniffing, the attachment check and
/// metadata stripping under every type. Stripping must never grow the bytes, keep their type,
/// and find nothing more to strip in its own output (else a first pass left metadata behind).
pub fn attachment(data: &[u8]) {
    let sniffed = sniff_mime(data);
    match check_attachment(data) {
        Ok((name, mime)) => {
            assert_eq!(Some(mime), sniffed, "accepted as another type than sniffed");
            assert!(
                is_blob_name(&name) && name == sha256_hex(data),
                "a wrong blob name"
            );
        }
        Err(_) => assert!(
            data.is_empty() || sniffed.is_none() || data.len() as u64 > MAX_ATTACHMENT_BYTES,
            "refused a file that sniffs as {sniffed:?}"
        ),
    }
    for mime in [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "application/pdf",
    ] {
        let Some(out) = strip_metadata(data, mime) else {
            continue;
        };
        assert!(out.len() <= data.len(), "stripping {mime} grew the bytes");
        if mime != "application/pdf" {
            assert_eq!(
                sniff_mime(&out),
                Some(mime),
                "stripping {mime} changed the type"
            );
        }
        assert_eq!(
            strip_metadata(&out, mime).as_deref(),
            Some(out.as_slice()),
            "stripping {mime} twice strips more: the first pass left something behind"
        );
    }
}

/// Runs `body` on every committed input of fuzz target `target`: `fuzz/corpus/<target>/`, then
/// the crashers in `fuzz/regressions/<target>/`, each under `catch_unwind`, so what the fuzzer
/// once found stays fixed without cargo-fuzz. Fails naming the input that panicked, and when
/// fewer than `at_least` inputs are there: an emptied or moved corpus would make a replay pass
/// without checking anything.
pub fn replay_committed(target: &str, at_least: usize, body: fn(&[u8])) {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        let mut found: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        files.extend(found);
    }
    assert!(
        files.len() >= at_least,
        "fuzz/corpus/{target} holds {} files",
        files.len()
    );
    for path in files {
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| body(&bytes));
        assert!(outcome.is_ok(), "{} failed", path.display());
    }
}

/// Starting inputs for [`attachment`]: small files of each type with metadata to strip.
pub fn attachment_seeds() -> Vec<Vec<u8>> {
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F']);
    let exif = b"Exif\0\0GPSLatitude=39.9";
    jpeg.extend_from_slice(&[0xFF, 0xE1]);
    jpeg.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    jpeg.extend_from_slice(exif);
    jpeg.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x04, b'h', b'i']);
    jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x04, 1, 2, 0xAA, 0xBB, 0xFF, 0xD9]);

    let png = crate::attachment::samples::png(&[
        (b"IHDR", b"0123456789abc"),
        (b"eXIf", b"GPS"),
        (b"tEXt", b"Comment\0hi"),
        (b"IEND", b""),
    ]);
    let webp = crate::attachment::samples::webp(&[
        (b"VP8X", &[0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (b"EXIF", b"GPS!"),
        (b"XMP ", b"<x/>"),
        (b"VP8L", b"pix"),
    ]);

    vec![
        jpeg,
        png,
        webp,
        b"\0\0\0\x18ftypheic\0\0\0\0".to_vec(),
        b"%PDF-1.7\n%%EOF\n".to_vec(),
    ]
}
