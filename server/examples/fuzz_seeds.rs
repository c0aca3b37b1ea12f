//! Writes the seed corpus of the server's fuzz targets into `fuzz/corpus/<target>/`
//! (`tools/fuzz.sh` then grows and minimises it).
//!
//! `cargo run -p gridsync-server --features fuzzing --example fuzz_seeds`
#![allow(clippy::unwrap_used)] // a tool run by hand: a failed unwrap is a clear stop

use std::path::Path;

use gridsync_server::fuzzing;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (target, seeds) in [
        ("content_range", fuzzing::content_range_seeds()),
        ("thumbnail", fuzzing::thumbnail_seeds()),
    ] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for seed in &seeds {
            let name = gridsync_core::attachment::sha256_hex(seed);
            std::fs::write(dir.join(format!("seed-{}", &name[..16])), seed).unwrap();
        }
        println!("{target}: {} seeds in {}", seeds.len(), dir.display());
    }
}
