//! # gridsync-ffi
//!
//! The sync core for the grid workers' Android and iOS apps, through UniFFI. Thin on purpose:
//! [`FieldStore`] delegates to `gridsync_core::Replica`; this crate owns only what crosses the
//! boundary (records, one error enum) and the transport (a blocking HTTPS client for `sync`).
//! Nothing panics across the boundary: every exported call returns `Result<_, FfiError>`.

mod error;
mod records;
mod transport;

use std::sync::{Arc, Mutex, MutexGuard};

use gridsync_core::case::{Location, NewCase};
use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::replica::CaseFilter;
use gridsync_core::{Identity, JurisdictionPath, Replica, Role};

pub use error::FfiError;
pub use records::{
    CaseSummaryRecord, ConflictValueRecord, EventKind, FieldConflictRecord, NewCaseRecord,
    RejectionRecord, SignedInRecord, SyncOutcomeRecord,
};

uniffi::setup_scaffolding!();

/// The phone's local case store, encrypted at rest with a key the app keeps in the platform
/// keystore (Android Keystore, iOS Keychain).
#[derive(Debug, uniffi::Object)]
pub struct FieldStore {
    replica: Mutex<Replica>,
}

const DEVICE_ID: &str = "device_id";

#[uniffi::export]
impl FieldStore {
    /// Opens (or creates) the store at `path`. `encryption_key` must be 32 bytes.
    #[uniffi::constructor]
    pub fn open(path: String, encryption_key: Vec<u8>) -> Result<Arc<Self>, FfiError> {
        let key: [u8; 32] =
            encryption_key
                .as_slice()
                .try_into()
                .map_err(|_| FfiError::InvalidInput {
                    field: "encryption_key".into(),
                    reason: format!("must be 32 bytes, got {}", encryption_key.len()),
                })?;
        let replica = Replica::open(std::path::Path::new(&path), &key)?;
        if replica.secret(DEVICE_ID)?.is_none() {
            // A device id per installation: a reinstall is a new device for the server.
            replica.set_secret(
                DEVICE_ID,
                format!("phone-{}", uuid::Uuid::new_v4().simple()).as_bytes(),
            )?;
        }
        Ok(Arc::new(FieldStore {
            replica: Mutex::new(replica),
        }))
    }

    /// This installation's device id.
    pub fn device_id(&self) -> Result<String, FfiError> {
        let r = self.lock();
        let id = r.secret(DEVICE_ID)?.ok_or_else(|| FfiError::Internal {
            reason: "no device id".into(),
        })?;
        Ok(String::from_utf8_lossy(&id).into_owned())
    }

    /// Signs in online; tokens and the device secret are kept in the encrypted store.
    pub fn login(
        &self,
        server_url: String,
        user: String,
        password: String,
    ) -> Result<SignedInRecord, FfiError> {
        let device = self.device_id()?;
        let mut r = self.lock();
        let signed = transport::login(&mut r, &server_url, &user, &password, &device)?;
        let role = Role::parse(&signed.role).ok_or_else(|| FfiError::Internal {
            reason: "unknown role from server".into(),
        })?;
        let scope = JurisdictionPath::parse(&signed.scope)?;
        r.sign_in(Identity::new(
            &signed.user,
            role,
            scope,
            signed.department.clone(),
            &device,
        )?)?;
        Ok(signed)
    }

    /// Captures a case offline; returns its id.
    pub fn capture(&self, new_case: NewCaseRecord, at_ms: i64) -> Result<String, FfiError> {
        let kind = records::parse_kind(&new_case.kind)?;
        let jurisdiction = JurisdictionPath::parse(&new_case.jurisdiction)?;
        let new = NewCase {
            kind,
            jurisdiction,
            category: new_case.category,
            title: new_case.title,
            description: new_case.description,
            location: Location {
                lat: new_case.lat,
                lon: new_case.lon,
                accuracy_m: None,
                address: new_case.address,
            },
            people: vec![],
        };
        Ok(self.lock().capture(&new, at_ms)?)
    }

    pub fn set_title(&self, case_id: String, title: String, at_ms: i64) -> Result<(), FfiError> {
        Ok(self.lock().edit(&case_id, at_ms, |e| e.set_title(&title))?)
    }

    pub fn set_description(
        &self,
        case_id: String,
        description: String,
        at_ms: i64,
    ) -> Result<(), FfiError> {
        Ok(self
            .lock()
            .edit(&case_id, at_ms, |e| e.set_description(&description))?)
    }

    /// Appends a workflow step the signed-in user's role allows; returns the event id.
    pub fn append_event(
        &self,
        case_id: String,
        event: EventKind,
        note: String,
        at_ms: i64,
    ) -> Result<String, FfiError> {
        let draft = records::draft(event, note);
        Ok(self.lock().append_event(&case_id, draft, at_ms)?)
    }

    /// Local cases, newest first, with sync state and conflict counts.
    pub fn list_cases(&self) -> Result<Vec<CaseSummaryRecord>, FfiError> {
        let r = self.lock();
        let rows = r.list(&CaseFilter::default())?;
        rows.into_iter().map(|s| records::summary(&r, s)).collect()
    }

    /// Fields of a case holding several values, with who set each.
    pub fn case_conflicts(&self, case_id: String) -> Result<Vec<FieldConflictRecord>, FfiError> {
        let doc = self.lock().case(&case_id)?;
        Ok(doc.conflicts().into_iter().map(records::conflict).collect())
    }

    /// Status of a case as derived from its event log.
    pub fn case_status(&self, case_id: String) -> Result<String, FfiError> {
        Ok(self
            .lock()
            .case(&case_id)?
            .workflow()?
            .status
            .as_str()
            .to_owned())
    }

    /// The title of a case (the value Automerge shows when it is in conflict).
    pub fn case_title(&self, case_id: String) -> Result<String, FfiError> {
        Ok(self.lock().case(&case_id)?.read()?.title)
    }

    /// Why the server refused this phone's changes to a case.
    pub fn rejections(&self, case_id: String) -> Result<Vec<RejectionRecord>, FfiError> {
        Ok(self
            .lock()
            .rejections(&case_id)?
            .into_iter()
            .map(|r| RejectionRecord {
                code: r.code,
                reason: r.reason,
            })
            .collect())
    }

    /// Cases with changes the server has not acknowledged.
    pub fn pending_count(&self) -> Result<u64, FfiError> {
        Ok(self.lock().pending_count()? as u64)
    }

    /// For apps that own their networking: the next request body for `POST /v1/sync`.
    pub fn next_sync_request(&self) -> Result<Vec<u8>, FfiError> {
        let req = self.lock().next_sync_request()?;
        Ok(encode_request(&req)?)
    }

    /// For apps that own their networking: applies a response body (atomically).
    pub fn apply_sync_response(
        &self,
        bytes: Vec<u8>,
        now_ms: i64,
    ) -> Result<SyncOutcomeRecord, FfiError> {
        let resp = decode_response(&bytes)?;
        Ok(records::outcome(
            self.lock().apply_sync_response(&resp, now_ms)?,
        ))
    }

    /// Syncs with the server until there is nothing more to send or fetch, refreshing the access
    /// token when it expired. A network failure raises `FfiError::Network` (retry later).
    pub fn sync(&self, server_url: String, now_ms: i64) -> Result<SyncOutcomeRecord, FfiError> {
        let mut r = self.lock();
        transport::sync_until_quiet(&mut r, &server_url, now_ms)
    }
}

impl FieldStore {
    fn lock(&self) -> MutexGuard<'_, Replica> {
        // A panic elsewhere cannot leave the replica half-written (SQLite transactions), so a
        // poisoned lock is still safe to use.
        self.replica.lock().unwrap_or_else(|p| p.into_inner())
    }
}
