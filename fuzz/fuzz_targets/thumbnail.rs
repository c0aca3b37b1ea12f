//! See `gridsync_server::fuzzing::thumbnail`.
#![no_main]

libfuzzer_sys::fuzz_target!(init: gridsync_fuzz::init(), |data: &[u8]| {
    gridsync_fuzz::run(data, gridsync_server::fuzzing::thumbnail)
});
