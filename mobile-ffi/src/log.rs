//! The app's log callback. Messages carry counts, ids and error codes, never case text, names,
//! tokens or passwords: app logs end up in crash reports and support e-mails.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// Implemented by the app to receive the library's log lines (e.g. into Logcat or os_log).
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, level: LogLevel, message: String);
}

static SINK: RwLock<Option<(Arc<dyn LogSink>, LogLevel)>> = RwLock::new(None);

/// Sends log lines at `min_level` and above to `sink`, replacing any earlier sink.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, min_level: LogLevel) {
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = Some((sink, min_level));
}

/// Stops sending log lines.
#[uniffi::export]
pub fn clear_log_sink() {
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Logs a line built only when someone listens at this level.
pub(crate) fn emit(level: LogLevel, message: impl FnOnce() -> String) {
    let sink = {
        let guard = SINK.read().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Some((sink, min)) if level >= *min => Arc::clone(sink),
            _ => return,
        }
    };
    // The lock is released: a sink may log again or replace itself. A failing foreign sink
    // must not take the sync down with it.
    let line = message();
    let _ = catch_unwind(AssertUnwindSafe(|| sink.log(level, line)));
}
