//! Phone to phone (ADR 0030): a session with a colleague's phone as bytes in and bytes out —
//! the app carries them over Bluetooth LE, Wi-Fi Direct or QR codes — and bundle files for a
//! USB stick or a messaging app. What a colleague's phone gives is merged at once; their
//! changes the server may lack ride this phone's next `sync`, pushed as theirs.

use gridsync_core::peer_session::{PeerOutcome, PeerSession, export_bundle, import_bundle};

use crate::log::{LogLevel, emit};
use crate::{FfiError, FieldStore, now_ms};

/// What an exchange with a colleague's phone did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PeerOutcomeRecord {
    /// The colleague met, as their certificate says.
    pub peer_user: String,
    pub peer_device: String,
    /// Cases this phone gave changes of, and how many changes.
    pub sent_cases: u32,
    pub sent_changes: u32,
    /// Cases that changed here, and how many changes were new.
    pub received_cases: Vec<String>,
    pub received_changes: u32,
    /// Of them, the colleague's changes this phone now carries to the server at its next sync.
    pub to_carry: u32,
    /// Cases refused whole (outside this account's reading, or a signature that failed).
    pub refused_cases: u32,
    /// Photos' thumbnails received.
    pub thumbnails: u32,
}

/// One step of a session: the bytes to send the colleague's phone, if any, and whether this
/// phone's part is over (then `outcome` says what it did).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PeerStepRecord {
    pub send: Option<Vec<u8>>,
    pub done: bool,
    pub outcome: Option<PeerOutcomeRecord>,
}

fn n(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn record(o: &PeerOutcome) -> PeerOutcomeRecord {
    PeerOutcomeRecord {
        peer_user: o.peer_user.clone(),
        peer_device: o.peer_device.clone(),
        sent_cases: n(o.sent_cases),
        sent_changes: n(o.sent_changes),
        received_cases: o.taken.cases.clone(),
        received_changes: n(o.taken.changes),
        to_carry: n(o.taken.to_carry),
        refused_cases: n(o.taken.refused),
        thumbnails: n(o.taken.thumbnails),
    }
}

#[uniffi::export]
impl FieldStore {
    /// This phone's device certificate (from its sign-in or last sync): show it (a QR code)
    /// to a colleague who makes a bundle file for this phone. `Peer` with code
    /// `no_certificate` before the first online sign-in.
    pub fn peer_card(&self) -> Result<Vec<u8>, FfiError> {
        Ok(self.lock().my_certificate(now_ms())?)
    }

    /// Opens a session with a colleague's phone: send the bytes, then hand each answer to
    /// [`FieldStore::peer_step`]. Starting again drops a session in progress.
    pub fn peer_start(&self) -> Result<Vec<u8>, FfiError> {
        let r = self.lock();
        let (session, hello) = PeerSession::open(&r, now_ms())?;
        *self.peer_lock() = Some(session);
        Ok(hello)
    }

    /// Takes the colleague's phone's bytes: the first message of a session it opened (this
    /// phone answers), or the next one of a session in progress.
    pub fn peer_step(&self, received: Vec<u8>) -> Result<PeerStepRecord, FfiError> {
        let mut r = self.lock();
        let now = now_ms();
        let mut slot = self.peer_lock();
        let (send, session) = match slot.take() {
            Some(mut session) => {
                let send = session.step(&mut r, &received, now);
                (send?, session)
            }
            None => {
                let (session, reply) = PeerSession::answer(&r, &received, now)?;
                (Some(reply), session)
            }
        };
        let done = session.is_done();
        let outcome = done.then(|| record(session.outcome()));
        if let Some(o) = &outcome {
            emit(LogLevel::Info, || {
                format!(
                    "peer session done: {} changes in, {} to carry, {} cases out",
                    o.received_changes, o.to_carry, o.sent_cases
                )
            });
        }
        if !done {
            *slot = Some(session);
        }
        Ok(PeerStepRecord {
            send,
            done,
            outcome,
        })
    }

    /// A bundle file for the colleague whose card (`peer_card`) is `card`: every case this
    /// phone holds that they may read, sealed to their phone.
    pub fn peer_bundle(&self, card: Vec<u8>) -> Result<Vec<u8>, FfiError> {
        let (bytes, outcome) = export_bundle(&self.lock(), &card, now_ms())?;
        emit(LogLevel::Info, || {
            format!("bundle made: {} cases", outcome.sent_cases)
        });
        Ok(bytes)
    }

    /// Takes a bundle file a colleague's phone made for this one.
    pub fn peer_import(&self, bundle: Vec<u8>) -> Result<PeerOutcomeRecord, FfiError> {
        let outcome = import_bundle(&mut self.lock(), &bundle, now_ms())?;
        Ok(record(&outcome))
    }
}
