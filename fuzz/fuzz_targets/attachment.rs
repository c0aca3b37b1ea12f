//! See `gridsync_core::fuzzing::attachment`.
#![no_main]

libfuzzer_sys::fuzz_target!(init: gridsync_fuzz::init(), |data: &[u8]| {
    gridsync_fuzz::run(data, gridsync_core::fuzzing::attachment)
});
