//! What every target shares: panics the project catches are not crashes, panics that escape are.
//!
//! libfuzzer-sys aborts on any panic, caught or not. The project runs Automerge on untrusted
//! bytes inside `catch_unwind` (a panic there is an error by design), so the targets replace
//! that hook with one that only remembers the message, and abort when a panic leaves the
//! function under test. `GRIDSYNC_FUZZ_STRICT=1` keeps libfuzzer-sys's hook, to hunt the panics
//! the project catches (bugs upstream).

use std::cell::RefCell;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Called once from each target's `init`.
pub fn init() {
    if std::env::var_os("GRIDSYNC_FUZZ_STRICT").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
    }));
}

/// Runs `body` on one input; a panic escaping it is a crash.
pub fn run(data: &[u8], body: fn(&[u8])) {
    LAST_PANIC.with(|p| p.borrow_mut().take());
    if std::panic::catch_unwind(|| body(data)).is_err() {
        let message = LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default();
        eprintln!("a panic escaped the target: {message}");
        std::process::abort();
    }
}
