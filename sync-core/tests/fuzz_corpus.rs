//! Replays the committed fuzz corpus and every crasher (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`) through the bodies of the fuzz targets, on stable and without
//! cargo-fuzz: what the fuzzer once found stays fixed, and the properties the targets check are
//! checked on every test run.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use automerge::ActorId;
use gridsync_core::admission::{DeviceAuthority, admit};
use gridsync_core::case::CaseDoc;
use gridsync_core::fuzzing::{self, FIXTURE_ACTOR, FIXTURE_CASE, FIXTURE_DOC};
use gridsync_core::protocol::RejectCode;
use gridsync_core::taxonomy::Taxonomy;

fn replay(target: &str, body: fn(&[u8])) {
    fuzzing::replay_committed(target, 5, body);
}

#[test]
fn envelope_corpus() {
    replay("envelope", fuzzing::envelope);
}

#[test]
fn admission_corpus() {
    replay("admission", fuzzing::admission);
}

#[test]
fn attachment_corpus() {
    replay("attachment", fuzzing::attachment);
}

#[test]
fn seeds_pass_their_targets() {
    fuzzing::admission_seeds()
        .unwrap()
        .iter()
        .for_each(|s| fuzzing::admission(s));
    fuzzing::envelope_seeds()
        .unwrap()
        .iter()
        .for_each(|s| fuzzing::envelope(s));
    fuzzing::attachment_seeds()
        .iter()
        .for_each(|s| fuzzing::attachment(s));
}

/// The admission target only explores anything while its fixture is a case an honest edit can
/// change: a schema change that breaks the saved document must fail here, not make every input
/// a quiet `invalid_case`.
#[test]
fn the_admission_fixture_still_admits_honest_edits() {
    let mut stored = CaseDoc::load(FIXTURE_DOC).unwrap();
    assert_eq!(stored.read().unwrap().id, FIXTURE_CASE);
    let seeds = fuzzing::admission_seeds().unwrap();
    let actors = [ActorId::from(FIXTURE_ACTOR)];
    let users = [fuzzing::writer()];
    let authority = DeviceAuthority {
        actors: &actors,
        users: &users,
        signing: None,
        relays: None,
    };
    let verdict = |doc: Option<&mut CaseDoc>, bytes: &[u8]| {
        let changes = fuzzing::split_changes(bytes);
        admit(doc, FIXTURE_CASE, &changes, &authority, Taxonomy::builtin())
    };
    // Seeds in the order `admission_seeds` makes them.
    let title = verdict(Some(&mut stored), &seeds[0]);
    assert_eq!((title.accepted.len(), title.refused.len()), (1, 0));
    let accepted = verdict(Some(&mut stored), &seeds[1]);
    assert_eq!(accepted.accepted.len(), 1, "{:?}", accepted.refused);
    let category = verdict(Some(&mut stored), &seeds[3]);
    assert_eq!(category.refused[0].code, RejectCode::InvalidCategory);
    let actor = verdict(Some(&mut stored), &seeds[5]);
    assert_eq!(actor.refused[0].code, RejectCode::ForgedActor);
    let author = verdict(Some(&mut stored), &seeds[6]);
    assert_eq!(author.refused[0].code, RejectCode::ForgedAuthor);
    let batch = verdict(Some(&mut stored), &seeds[7]);
    assert_eq!(batch.accepted.len(), 2, "{:?}", batch.refused);
    let history = seeds.last().unwrap();
    let as_new = verdict(None, history);
    assert_eq!(as_new.accepted.len(), 2, "{:?}", as_new.refused);
    let again = verdict(Some(&mut stored), history);
    assert_eq!(again.duplicates.len(), 2);
}

/// A compressed change chunk of `mib` MiB of zeros, deflated (about 1 KiB per MiB).
fn compressed_change(mib: usize) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..mib {
        enc.write_all(&[0; 1 << 20]).unwrap();
    }
    let body = enc.finish().unwrap();
    // Magic, checksum (unchecked by the parser), chunk type 2 (compressed), LEB128 length.
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut len = body.len();
    while len >= 0x80 {
        chunk.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    chunk.push(len as u8);
    chunk.extend(body);
    chunk
}

/// Found while writing the admission target: Automerge inflated a compressed change without
/// bound before admission could check its size. `fuzz/regressions/admission/` keeps a small one.
#[test]
fn a_compressed_change_is_refused_before_it_is_inflated() {
    let bomb = compressed_change(64);
    assert!(bomb.len() < 100_000);
    let err = gridsync_core::case::parse_change(&bomb).unwrap_err();
    assert!(
        err.to_string().contains("not an uncompressed change"),
        "{err}"
    );
    let actors = [ActorId::from(FIXTURE_ACTOR)];
    let users = [fuzzing::writer()];
    let authority = DeviceAuthority {
        actors: &actors,
        users: &users,
        signing: None,
        relays: None,
    };
    let verdict = admit(None, FIXTURE_CASE, &[bomb], &authority, Taxonomy::builtin());
    assert_eq!(verdict.refused[0].code, RejectCode::BadChange);
    assert_eq!(verdict.refused[0].hash, None);
}

#[test]
fn split_changes_cuts_before_each_magic_number() {
    let m = [0x85, 0x6f, 0x4a, 0x83];
    assert_eq!(fuzzing::split_changes(b""), vec![&b""[..]]);
    assert_eq!(fuzzing::split_changes(b"ab"), vec![&b"ab"[..]]);
    let mut two = m.to_vec();
    two.push(1);
    two.extend(m);
    two.push(2);
    assert_eq!(
        fuzzing::split_changes(&[&b"x"[..], &two].concat()),
        vec![
            &b"x"[..],
            &[0x85, 0x6f, 0x4a, 0x83, 1][..],
            &[0x85, 0x6f, 0x4a, 0x83, 2][..]
        ]
    );
}
