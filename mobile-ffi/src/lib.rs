//! # gridsync-ffi
//!
//! The sync core for the grid workers' Android and iOS apps, through UniFFI. Thin on purpose:
//! [`FieldStore`] delegates to `gridsync_core::Replica`; this crate owns only what crosses the
//! boundary (records, one error enum, the log callback), the transport (a blocking HTTPS client
//! for `sync`) and, for apps that own their networking, `SyncDriver`: the core's sync session
//! step by step, with the one reading of HTTP replies both use. Nothing panics across the boundary: every exported call returns
//! `Result<_, FfiError>`, and UniFFI turns an unexpected panic into an exception, not an abort.

mod catalogue;
mod driver;
mod error;
mod evidence;
mod log;
mod notices;
mod peer;
mod privacy;
mod progress;
mod records;
mod transport;
mod urgent;

use std::sync::{Arc, Mutex, MutexGuard};

use gridsync_core::case::{Location, NewCase};
use gridsync_core::protocol::{decode_response, encode_request};
use gridsync_core::replica::{AttachmentMeta, BlobCopy};
use gridsync_core::{Identity, JurisdictionPath, Replica, Role};

pub use catalogue::{
    CategoryRecord, ChecklistItemRecord, DepartmentRecord, KindRecord, RulesRecord,
};
pub use driver::{HttpReply, SyncDriver, SyncStep};
pub use error::FfiError;
pub use evidence::{VerifiedCaseRecord, VerifiedChangeRecord, verify_case_export};
pub use log::{LogLevel, LogSink, clear_log_sink, set_log_sink};
pub use notices::NoticeRecord;
pub use peer::{PeerOutcomeRecord, PeerStepRecord};
pub use progress::SyncProgress;
pub use records::{
    AttachmentRecord, CaseDetailRecord, CaseFilterRecord, CaseSummaryRecord, ConflictValueRecord,
    CredentialsRecord, EventKind, EventRecord, FieldConflictRecord, MediationRecord,
    MediationSessionRecord, NewCaseRecord, PartRecord, PartyRecord, RejectionRecord,
    SignedInRecord, SyncOutcomeRecord, VisitVerdict,
};

uniffi::setup_scaffolding!();

/// The phone's local case store, encrypted at rest with a key the app keeps in the platform
/// keystore (Android Keystore, iOS Keychain). Safe to share between threads; call `sync` off the
/// UI thread (it blocks on the network, but not the other calls).
#[derive(Debug, uniffi::Object)]
pub struct FieldStore {
    replica: Mutex<Replica>,
    /// The session with a colleague's phone that `peer_start` opened or `peer_step` answered
    /// and that has more steps to take; `None` between sessions (`peer`).
    peer: Mutex<Option<gridsync_core::peer_session::PeerSession>>,
    /// One `sync` at a time: two would race to renew the same refresh token, which the server
    /// takes for a stolen token and ends the session.
    syncing: Mutex<()>,
    /// The certificates the built-in transport trusts for the server (`set_trusted_certificates`).
    tls: Mutex<ureq::tls::TlsConfig>,
}

const DEVICE_ID: &str = "device_id";

#[uniffi::export]
impl FieldStore {
    /// Opens (or creates) the store at `path`. `encryption_key` must be 32 bytes; a wrong key
    /// is a `Storage` error, never garbage.
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
        log::emit(LogLevel::Debug, || "store opened".into());
        Ok(Arc::new(FieldStore {
            replica: Mutex::new(replica),
            peer: Mutex::new(None),
            syncing: Mutex::new(()),
            tls: Mutex::new(ureq::tls::TlsConfig::default()),
        }))
    }

    /// This installation's device id.
    pub fn device_id(&self) -> Result<String, FfiError> {
        device_id(&self.lock())
    }

    /// The certificates this phone trusts for the server, in place of the public (Mozilla)
    /// roots: PEM, one or more `BEGIN CERTIFICATE` blocks — the county's own CA, or the
    /// server's self-signed certificate. `None` goes back to the public roots, the default.
    /// Kept by this open store only: set it after each `open`, before `login` or `sync`.
    pub fn set_trusted_certificates(&self, pem: Option<String>) -> Result<(), FfiError> {
        let tls = transport::trusting(pem.as_deref())?;
        *self.tls.lock().unwrap_or_else(|p| p.into_inner()) = tls;
        Ok(())
    }

    /// Signs in online; tokens and the device secret are kept in the encrypted store. On a
    /// shared phone, signing in another user makes later edits theirs.
    pub fn login(
        &self,
        server_url: String,
        user: String,
        password: String,
    ) -> Result<SignedInRecord, FfiError> {
        transport::login(
            &self.replica,
            &self.server(&server_url),
            &CredentialsRecord { user, password },
        )
    }

    /// Who is signed in on this phone (kept offline), if anyone.
    pub fn signed_in(&self) -> Option<SignedInRecord> {
        self.lock().identity().map(|i| SignedInRecord {
            user: i.user.clone(),
            role: i.role.as_str().into(),
            scope: i.scope.to_string(),
            department: i.department.clone(),
        })
    }

    /// Captures a case offline; returns its id.
    pub fn capture(&self, new_case: NewCaseRecord) -> Result<String, FfiError> {
        let new = NewCase {
            kind: records::parse_kind(&new_case.kind)?,
            jurisdiction: JurisdictionPath::parse(&new_case.jurisdiction)?,
            category: new_case.category,
            title: new_case.title,
            description: new_case.description,
            location: Location {
                lat: new_case.lat,
                lon: new_case.lon,
                accuracy_m: None,
                address: new_case.address,
            },
            people: new_case.people.into_iter().map(records::party).collect(),
        };
        let id = self.lock().capture(&new, now_ms())?;
        log::emit(LogLevel::Info, || format!("captured case {id}"));
        Ok(id)
    }

    pub fn set_title(&self, case_id: String, title: String) -> Result<(), FfiError> {
        self.edit(&case_id, |e| e.set_title(&title))
    }

    pub fn set_description(&self, case_id: String, description: String) -> Result<(), FfiError> {
        self.edit(&case_id, |e| e.set_description(&description))
    }

    /// A category code from the catalogue (it sets the case's time limit).
    pub fn set_category(&self, case_id: String, category: String) -> Result<(), FfiError> {
        self.edit(&case_id, |e| e.set_category(&category))
    }

    pub fn set_location(
        &self,
        case_id: String,
        address: String,
        lat: Option<f64>,
        lon: Option<f64>,
    ) -> Result<(), FfiError> {
        let loc = Location {
            lat,
            lon,
            accuracy_m: None,
            address,
        };
        self.edit(&case_id, |e| e.set_location(&loc))
    }

    /// Adds a person (party, requester, household member, key person); returns their id.
    pub fn add_person(&self, case_id: String, person: PartyRecord) -> Result<String, FfiError> {
        let party = records::party(person);
        self.edit_adding(&case_id, |e| e.add_person(&party))
    }

    /// A kind-specific field: household data, a patrol checklist item, visit notes.
    pub fn set_field(&self, case_id: String, key: String, value: String) -> Result<(), FfiError> {
        self.edit(&case_id, |e| e.set_extra(&key, &value))
    }

    /// Logs a mediation session of a dispute; returns its id.
    pub fn add_mediation_session(
        &self,
        case_id: String,
        session: MediationSessionRecord,
    ) -> Result<String, FfiError> {
        let s = records::session(session);
        self.edit_adding(&case_id, |e| e.add_mediation_session(&s))
    }

    /// The agreement text (调解协议); co-edited offline, merged character by character.
    pub fn set_agreement(&self, case_id: String, text: String) -> Result<(), FfiError> {
        self.edit(&case_id, |e| e.set_agreement(&text))
    }

    /// `success` or `failure`; after a failure, `court`, `police` or `petition`.
    pub fn set_mediation_result(
        &self,
        case_id: String,
        result: String,
        referral: String,
    ) -> Result<(), FfiError> {
        self.edit(&case_id, |e| e.set_mediation_result(&result, &referral))
    }

    /// Attaches a photo or PDF from a file: the bytes are copied, sealed, into the store (the
    /// app may delete its file) and the case references them by SHA-256.
    pub fn attach_photo(
        &self,
        case_id: String,
        path: String,
        caption: String,
        lat: Option<f64>,
        lon: Option<f64>,
    ) -> Result<AttachmentRecord, FfiError> {
        let bytes = std::fs::read(&path).map_err(|e| FfiError::InvalidInput {
            field: "path".into(),
            reason: format!("cannot read the file: {e}"),
        })?;
        let meta = AttachmentMeta { caption, lat, lon };
        let mut r = self.lock();
        let a = r.attach(&case_id, &bytes, &meta, now_ms())?;
        log::emit(LogLevel::Info, || {
            format!("attached {} bytes to case {case_id}", a.bytes)
        });
        let here = r.blob_here(&a.sha256)?;
        Ok(records::attachment(a, here))
    }

    /// The full picture or document held on this phone: as taken when attached here (or
    /// fetched by a role that sees metadata), else the copy fetched without metadata. `None`
    /// when only the reference has arrived so far: see `thumbnail` and `fetch_attachment`.
    pub fn attachment_bytes(&self, sha256: String) -> Result<Option<Vec<u8>>, FfiError> {
        let r = self.lock();
        match r.blob(&sha256)? {
            Some(bytes) => Ok(Some(bytes)),
            None => Ok(r.copy(&sha256, BlobCopy::WithoutMetadata)?),
        }
    }

    /// A colleague's photo as a small JPEG (320 px), fetched during `sync`; `None` until the
    /// photo's owner has uploaded it and this phone synced since.
    pub fn thumbnail(&self, sha256: String) -> Result<Option<Vec<u8>>, FfiError> {
        Ok(self.lock().copy(&sha256, BlobCopy::Thumbnail)?)
    }

    /// Fetches a colleague's photo or document at full size (when the user opens it), keeps
    /// it on the phone and returns it. Roles that may not see where a photo was taken receive
    /// it without its EXIF metadata. Call off the UI thread; `Network` when it is not there.
    pub fn fetch_attachment(
        &self,
        server_url: String,
        sha256: String,
    ) -> Result<Vec<u8>, FfiError> {
        transport::fetch_attachment(&self.replica, &self.server(&server_url), &sha256)
    }

    /// Appends a workflow step the signed-in user's role allows; returns the event id.
    pub fn append_event(
        &self,
        case_id: String,
        event: EventKind,
        note: String,
    ) -> Result<String, FfiError> {
        let draft = records::draft(event, note);
        Ok(self.lock().append_event(&case_id, draft, now_ms())?)
    }

    /// Local cases, most recently changed first, with sync state and conflicts.
    pub fn list_cases(&self, filter: CaseFilterRecord) -> Result<Vec<CaseSummaryRecord>, FfiError> {
        let r = self.lock();
        let level = r.identity().and_then(|w| w.role.handling_level());
        let filter = records::filter(filter, level)?;
        let rows = r.list(&filter)?;
        rows.into_iter().map(|s| records::summary(&r, s)).collect()
    }

    /// Everything about one case: fields, people, photos, events, mediation, conflicts (each
    /// value with who set it) and the server's refusals.
    pub fn get_case(&self, case_id: String) -> Result<CaseDetailRecord, FfiError> {
        let r = self.lock();
        let doc = r.case(&case_id)?;
        let workflow = doc.workflow()?;
        // Personal data in clear only for those who handle the case (case::personal).
        let keys = r.case_keys(&case_id)?;
        let case = doc.read()?.unsealed(&keys);
        let case = match r.identity() {
            Some(who) => case.for_reader(who, &workflow.departments()),
            None => case,
        };
        let blobs = case
            .attachments
            .iter()
            .map(|a| Ok((a.sha256.clone(), r.blob_here(&a.sha256)?)))
            .collect::<Result<_, FfiError>>()?;
        Ok(records::detail(records::DetailParts {
            case,
            blobs,
            workflow,
            sync_state: r.sync_state(&case_id)?.as_str().into(),
            conflicts: doc
                .conflicts()
                .into_iter()
                .map(|c| c.unsealed(&keys))
                .collect(),
            rejections: records::rejections(&r, &case_id)?,
            now_ms: now_ms(),
        }))
    }

    /// Cases with changes the server has not acknowledged.
    pub fn pending_count(&self) -> Result<u64, FfiError> {
        Ok(self.lock().pending_count()? as u64)
    }

    /// Syncs with the server until there is nothing more to send or fetch, then uploads this
    /// phone's photos and documents (each resuming where an earlier attempt stopped) and
    /// fetches thumbnails of colleagues' photos. The access token is renewed when it expired;
    /// when the session has ended and `credentials` are given, signs in again with them. No
    /// network raises `FfiError::Network`: retry later, nothing is lost. A link that breaks
    /// during the uploads leaves them in `pending_uploads` for the next sync.
    pub fn sync(
        &self,
        server_url: String,
        credentials: Option<CredentialsRecord>,
    ) -> Result<SyncOutcomeRecord, FfiError> {
        let _one_at_a_time = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        transport::sync_until_quiet(
            &self.replica,
            &self.server(&server_url),
            credentials.as_ref(),
            None,
        )
    }

    /// `sync`, telling `progress` how the uploads advance.
    pub fn sync_with_progress(
        &self,
        server_url: String,
        credentials: Option<CredentialsRecord>,
        progress: Arc<dyn SyncProgress>,
    ) -> Result<SyncOutcomeRecord, FfiError> {
        let _one_at_a_time = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        transport::sync_until_quiet(
            &self.replica,
            &self.server(&server_url),
            credentials.as_ref(),
            Some(&progress),
        )
    }

    /// For apps that own their networking: a sync driven step by step (cases, then this
    /// phone's photos, then colleagues' thumbnails), with the same rules as `sync`. Run one at a
    /// time.
    pub fn begin_sync(self: Arc<Self>) -> Arc<SyncDriver> {
        Arc::new(SyncDriver::new(self))
    }

    /// For apps that own their networking: the next request body for `POST /v1/sync`.
    pub fn next_sync_request(&self) -> Result<Vec<u8>, FfiError> {
        let req = self.lock().next_sync_request()?;
        Ok(encode_request(&req)?)
    }

    /// For apps that own their networking: applies a `POST /v1/sync` response body, atomically.
    pub fn apply_sync_response(&self, bytes: Vec<u8>) -> Result<SyncOutcomeRecord, FfiError> {
        // Whatever fails to decode is a broken answer from the server: retry later.
        let resp = decode_response(&bytes).map_err(|e| FfiError::Network {
            reason: e.to_string(),
        })?;
        Ok(records::outcome(
            self.lock().apply_sync_response(&resp, now_ms())?,
        ))
    }

    /// The county's rules in force on this phone (received on sync): build the pickers from
    /// them. Deadlines of cases captured here follow the same rules.
    pub fn rules(&self) -> RulesRecord {
        self.lock().rules().into()
    }

    /// For apps that own their networking: the `Authorization` header value, if signed in.
    pub fn authorization_header(&self) -> Result<Option<String>, FfiError> {
        transport::authorization_header(&self.lock())
    }
}

impl FieldStore {
    fn lock(&self) -> MutexGuard<'_, Replica> {
        lock(&self.replica)
    }

    /// The server at `url` with the TLS settings as they are at this call, copied: a running
    /// sync does not hold the lock `set_trusted_certificates` takes.
    fn server<'a>(&self, url: &'a str) -> transport::Server<'a> {
        transport::Server {
            url,
            tls: self.tls.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    fn peer_lock(&self) -> MutexGuard<'_, Option<gridsync_core::peer_session::PeerSession>> {
        self.peer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn edit<F>(&self, case_id: &str, f: F) -> Result<(), FfiError>
    where
        F: FnOnce(&mut gridsync_core::case::CaseEditor<'_>) -> gridsync_core::Result<()>,
    {
        Ok(self.lock().edit(case_id, now_ms(), f)?)
    }

    /// An edit that adds an item to the case and returns its new id.
    fn edit_adding<F>(&self, case_id: &str, add: F) -> Result<String, FfiError>
    where
        F: FnOnce(&mut gridsync_core::case::CaseEditor<'_>) -> gridsync_core::Result<String>,
    {
        let mut id = String::new();
        self.edit(case_id, |e| {
            id = add(e)?;
            Ok(())
        })?;
        Ok(id)
    }
}

pub(crate) fn lock(m: &Mutex<Replica>) -> MutexGuard<'_, Replica> {
    // A panic elsewhere cannot leave the replica half-written (SQLite transactions), so a
    // poisoned lock is still safe to use.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn device_id(r: &Replica) -> Result<String, FfiError> {
    let id = r.secret(DEVICE_ID)?.ok_or_else(|| FfiError::Internal {
        reason: "no device id".into(),
    })?;
    Ok(String::from_utf8_lossy(&id).into_owned())
}

/// Signs the user in on the replica with what the server said about them.
pub(crate) fn sign_in(r: &mut Replica, signed: &SignedInRecord) -> Result<(), FfiError> {
    let role = Role::parse(&signed.role).ok_or_else(|| FfiError::Internal {
        reason: "unknown role from server".into(),
    })?;
    let scope = JurisdictionPath::parse(&signed.scope)?;
    let device = device_id(r)?;
    r.sign_in(Identity::new(
        &signed.user,
        role,
        scope,
        signed.department.clone(),
        &device,
    )?)?;
    Ok(())
}

/// The phone's clock: device time is what the field worker saw, kept as evidence.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
