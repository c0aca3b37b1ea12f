//! The samod peer at a small size: its server and phones are built from crates.io into this
//! build's own scratch directory (so a fresh clone builds them itself, once), and every document
//! a phone pushed is found in the server's storage at the phone's heads.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::PathBuf;

use gridsync_bench::{
    PeerKind, PeerOptions, Phones, SamodOptions, SamodProfile, SamodVariant, peer,
};

fn options(variant: SamodVariant) -> PeerOptions {
    PeerOptions {
        phones: Phones {
            devices: 4,
            reports: 3,
            edits: 1,
            concurrency: 4,
        },
        peer: PeerKind::Samod,
        samod: SamodOptions {
            samod_variant: variant,
            peer_time_limit_s: 60.0,
            // Unoptimised: a shorter cold build, and speed is for the benchmark.
            samod_profile: SamodProfile::Debug,
        },
        scratch: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("peer-bench"),
    }
}

#[test]
fn samod_stores_every_document_at_the_phones_heads() {
    // One test for both variants, so the samod program is built once, not by two at a time.
    let r = peer(&options(SamodVariant::RepoPerConnection)).unwrap();
    assert_eq!(
        (r.variant, r.documents),
        ("repo-per-connection", 12),
        "{r:?}"
    );
    assert_eq!(r.stored, r.documents, "{r:?}");
    assert!(!r.timed_out, "{r:?}");
    assert!(r.peer.starts_with("samod "), "{r:?}");
    assert!(r.seconds > 0.0 && r.server_rss_mb > 0.0, "{r:?}");
    assert!(r.server_cpu_ms_per_report > 0.0, "{r:?}");

    // One Repo for all phones: a count within the time limit, whatever it is.
    let r = peer(&options(SamodVariant::OneRepo)).unwrap();
    assert_eq!((r.variant, r.documents), ("one-repo", 12), "{r:?}");
    assert!(r.stored <= r.documents, "{r:?}");
    assert!(r.seconds > 0.0, "{r:?}");
}
