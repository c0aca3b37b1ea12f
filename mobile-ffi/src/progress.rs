//! The app's progress callback for long transfers: a 3 MB photo takes ten minutes on 2G, and
//! the field worker should see it move.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Implemented by the app to show transfer progress (e.g. a notification's progress bar).
/// Called from the thread running `sync`.
#[uniffi::export(with_foreign)]
pub trait SyncProgress: Send + Sync {
    /// `sent_bytes` of the attachment `sha256` (of `total_bytes`) have gone out, counting
    /// what the server held from earlier attempts; `sent_bytes == total_bytes` once more when
    /// the server confirms the whole upload.
    fn upload_progress(&self, sha256: String, sent_bytes: u64, total_bytes: u64);
}

/// Tells the app, shielding the sync from a failing callback.
pub(crate) fn report(sink: Option<&Arc<dyn SyncProgress>>, sha256: &str, sent: u64, total: u64) {
    if let Some(sink) = sink {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            sink.upload_progress(sha256.to_owned(), sent, total)
        }));
    }
}

/// Report at most every this many bytes.
const STEP: u64 = 16 * 1024;

/// The rest of an upload as a request body, reporting as the HTTP client reads it.
pub(crate) struct Reporting {
    sha256: String,
    bytes: Vec<u8>,
    /// Where `bytes` start in the blob.
    offset: u64,
    total: u64,
    read: usize,
    reported: u64,
    sink: Option<Arc<dyn SyncProgress>>,
}

impl Reporting {
    /// `bytes` of the blob `sha256` (`total` bytes long) from `offset` on.
    pub(crate) fn new(
        sha256: &str,
        bytes: Vec<u8>,
        offset: u64,
        total: u64,
        sink: Option<Arc<dyn SyncProgress>>,
    ) -> Reporting {
        Reporting {
            sha256: sha256.to_owned(),
            bytes,
            offset,
            total,
            read: 0,
            reported: offset,
            sink,
        }
    }
}

impl Read for Reporting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (&self.bytes[self.read..]).read(buf)?;
        self.read += n;
        let at = self.offset + self.read as u64;
        if at - self.reported >= STEP || (n == 0 && at > self.reported) {
            self.reported = at;
            report(self.sink.as_ref(), &self.sha256, at, self.total);
        }
        Ok(n)
    }
}
