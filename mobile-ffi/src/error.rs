//! The one error an app sees, with variants it can act on.

/// What went wrong, in the terms an app acts on.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FfiError {
    /// The server could not be reached or answered badly: retry later, nothing is lost.
    #[error("network: {reason}")]
    Network { reason: String },
    /// The sign-in is no longer valid: ask the user to sign in again.
    #[error("sign in again: {reason}")]
    Auth { reason: String },
    /// The local store failed (disk full, wrong key, corruption).
    #[error("storage: {reason}")]
    Storage { reason: String },
    /// A value the user entered, or a step the rules do not allow now; `field` says which.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: String, reason: String },
    /// The server refused something because of a conflicting state.
    #[error("conflict: {reason}")]
    Conflict { reason: String },
    /// An urgent SMS report that cannot be made: `code` is `sms_not_sendable` (the case has
    /// steps after its report, the server already has it, another device captured it) or
    /// `sms_malformed`. The app keeps the case for the next sync instead.
    #[error("SMS report ({code}): {reason}")]
    Sms { code: String, reason: String },
    /// A colleague's phone or its message refused (ADR 0030): `code` is `certificate_invalid`,
    /// `certificate_expired`, `certificate_revoked`, `no_certificate` (sign in or sync first),
    /// `peer_proof_invalid`, `peer_out_of_order` or `peer_sealed_for_another`. Nothing of the
    /// refused message was kept; start the exchange again.
    #[error("peer ({code}): {reason}")]
    Peer { code: String, reason: String },
    /// A bug: please report it.
    #[error("internal: {reason}")]
    Internal { reason: String },
}

impl FfiError {
    /// The variant's name, for logs (the reason may quote user input).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            FfiError::Network { .. } => "network",
            FfiError::Auth { .. } => "auth",
            FfiError::Storage { .. } => "storage",
            FfiError::InvalidInput { .. } => "invalid_input",
            FfiError::Conflict { .. } => "conflict",
            FfiError::Sms { .. } => "sms",
            FfiError::Peer { .. } => "peer",
            FfiError::Internal { .. } => "internal",
        }
    }
}

impl From<gridsync_core::Error> for FfiError {
    fn from(e: gridsync_core::Error) -> Self {
        use gridsync_core::Error as E;
        let reason = e.to_string();
        match e {
            E::Storage(_) => FfiError::Storage { reason },
            E::InvalidInput { field, reason } => FfiError::InvalidInput { field, reason },
            E::Workflow(_) => FfiError::InvalidInput {
                field: "workflow".into(),
                reason,
            },
            E::UnknownCase(_) => FfiError::InvalidInput {
                field: "case_id".into(),
                reason,
            },
            // Bytes from the server that do not decode: a broken answer, retry later.
            E::Malformed(_) | E::UnsupportedVersion(_) => FfiError::Network { reason },
            // Something the user gave (a photo, a long text) is over a limit.
            E::TooLarge { what, .. } => FfiError::InvalidInput {
                field: what.into(),
                reason,
            },
            // The code stays machine-readable: apps branch on it, not on the message.
            E::Sms { code, reason } => FfiError::Sms {
                code: code.into(),
                reason,
            },
            E::Peer { code, reason } => FfiError::Peer {
                code: code.into(),
                reason,
            },
            E::Automerge(_) | E::InvalidCase(_) | E::Taxonomy(_) | E::Calendar(_) | E::Rules(_) => {
                FfiError::Internal { reason }
            }
        }
    }
}
