//! Signed evidence on the phone side (ADR 0028): the store's public signing key, and the
//! offline check of a case export — the same check as the `gridsync-verify` binary, for an app
//! (or the Python bindings) that is handed an export.

use gridsync_core::evidence::export::{VerifiedCase, verify};

use crate::{FfiError, FieldStore};

/// One change of a verified export.
#[derive(Debug, Clone, uniffi::Record)]
pub struct VerifiedChangeRecord {
    pub hash: String,
    pub feed: u64,
    /// The author the change records (user, role, device), when it records one.
    pub user: Option<String>,
    pub role: Option<String>,
    pub author_device: Option<String>,
    /// The device the server received it from.
    pub device: String,
    /// When the author's device says it was made (ms).
    pub made_at: i64,
    /// When the server's receipt log recorded it (ms); none before the log began.
    pub received_at: Option<i64>,
    pub receipt: Option<u64>,
    /// `phone-7 (3f2a…)`: whose key signed it, when signed.
    pub signed_by: Option<String>,
}

/// What a valid case export says.
#[derive(Debug, Clone, uniffi::Record)]
pub struct VerifiedCaseRecord {
    pub case_id: String,
    pub exported_at: i64,
    pub exported_by: String,
    /// The fingerprint of the server key that signed the file: compare it with the county's.
    pub server_key: String,
    pub last_receipt_seq: Option<u64>,
    pub last_receipt_hash: Option<String>,
    pub changes: Vec<VerifiedChangeRecord>,
}

impl From<VerifiedCase> for VerifiedCaseRecord {
    fn from(v: VerifiedCase) -> Self {
        VerifiedCaseRecord {
            case_id: v.case,
            exported_at: v.exported_at,
            exported_by: v.exported_by,
            server_key: v.server_key,
            last_receipt_seq: v.last_receipt.as_ref().map(|(s, _)| *s),
            last_receipt_hash: v.last_receipt.map(|(_, h)| h),
            changes: v
                .changes
                .into_iter()
                .map(|c| VerifiedChangeRecord {
                    hash: c.hash,
                    feed: c.feed,
                    user: c.author.as_ref().map(|a| a.user.clone()),
                    role: c.author.as_ref().map(|a| a.role.as_str().to_owned()),
                    author_device: c.author.map(|a| a.device),
                    device: c.device,
                    made_at: c.made_at,
                    received_at: c.received_at,
                    receipt: c.receipt,
                    signed_by: c.signed_by,
                })
                .collect(),
        }
    }
}

/// Checks a case export offline. `InvalidInput` (field `export`) names the first thing that
/// does not hold: any altered byte fails.
#[uniffi::export]
pub fn verify_case_export(file: Vec<u8>) -> Result<VerifiedCaseRecord, FfiError> {
    verify(&file)
        .map(VerifiedCaseRecord::from)
        .map_err(|reason| FfiError::InvalidInput {
            field: "export".into(),
            reason,
        })
}

#[uniffi::export]
impl FieldStore {
    /// This store's public signing key (base64url), as sent at sign-in: the county can compare
    /// it with the key the server bound to this device.
    pub fn device_key(&self) -> Option<String> {
        self.lock()
            .device_key()
            .map(|k| gridsync_core::evidence::key_text(&k))
    }
}
