//! Writes the seed corpus of the core's fuzz targets into `fuzz/corpus/<target>/`
//! (`tools/fuzz.sh` then grows and minimises it). With `--fixture` it instead rebuilds
//! `src/fuzzing/case.automerge`, after a schema change; the admission seeds depend on that
//! document's heads and the fixture is compiled in, so run it again without the flag after.
//!
//! `cargo run -p gridsync-core --features testing --example fuzz_seeds [-- --fixture]`
#![allow(clippy::unwrap_used)] // a tool run by hand: a failed unwrap is a clear stop

use std::path::Path;

use gridsync_core::fuzzing;

fn main() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::args().any(|a| a == "--fixture") {
        let path = core.join("src/fuzzing/case.automerge");
        std::fs::write(&path, fuzzing::make_fixture_doc().unwrap()).unwrap();
        println!(
            "wrote {}; run again without --fixture for the seeds",
            path.display()
        );
        return;
    }
    let targets = [
        ("admission", fuzzing::admission_seeds().unwrap()),
        ("envelope", fuzzing::envelope_seeds().unwrap()),
        ("attachment", fuzzing::attachment_seeds()),
    ];
    for (target, seeds) in targets {
        let dir = core.join("../fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for seed in &seeds {
            let name = gridsync_core::attachment::sha256_hex(seed);
            std::fs::write(dir.join(format!("seed-{}", &name[..16])), seed).unwrap();
        }
        println!("{target}: {} seeds in {}", seeds.len(), dir.display());
    }
}
