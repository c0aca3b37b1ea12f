//! The error types of `gridsync-core`: [`Error`], and [`Refusal`], why a workflow step was
//! refused. At the bottom of the crate: every module may fail, so this one uses none of them.

/// Everything that can go wrong inside the core. Each variant carries a machine-readable
/// [`Error::code`] so servers and apps can act on it without parsing messages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bytes that claim to be a sync message but are not one we can read.
    #[error("malformed sync message: {0}")]
    Malformed(String),
    /// A sync message from a protocol version this build does not speak.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u16),
    /// A message or document larger than the configured limit.
    #[error("too large: {what} is {size} bytes, the limit is {limit}")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    /// Automerge refused a change or a document (corrupt bytes, bad history).
    #[error("automerge: {0}")]
    Automerge(String),
    /// A case document that does not follow the schema.
    #[error("invalid case document: {0}")]
    InvalidCase(String),
    /// A field value a user supplied that is not acceptable (the field is named).
    #[error("invalid value for {field}: {reason}")]
    InvalidInput { field: String, reason: String },
    /// A workflow step that the rules do not allow.
    #[error(transparent)]
    Workflow(#[from] Refusal),
    /// The category catalogue could not be read.
    #[error("taxonomy: {0}")]
    Taxonomy(String),
    /// The working-day calendar could not be read.
    #[error("calendar: {0}")]
    Calendar(String),
    /// A rules file or a change to the rules in force was refused (the message names the line).
    #[error("rules: {0}")]
    Rules(String),
    /// A case id the store does not know.
    #[error("no case with id {0}")]
    UnknownCase(String),
    /// The local store failed (I/O, SQLite, decryption).
    #[error("storage: {0}")]
    Storage(String),
    /// An urgent SMS report that cannot be made or read (the `sms` module); `code` is one of
    /// `sms_malformed`, `sms_not_sendable`.
    #[error("SMS report: {reason}")]
    Sms { code: &'static str, reason: String },
    /// A colleague's phone, or its message, refused (the `peer` module, ADR 0030); `code` is
    /// one of `peer::codes`.
    #[error("peer: {reason}")]
    Peer { code: &'static str, reason: String },
}

impl Error {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::UnsupportedVersion(_) => "unsupported_version",
            Error::TooLarge { .. } => "too_large",
            Error::Automerge(_) => "bad_change",
            Error::InvalidCase(_) => "invalid_case",
            Error::InvalidInput { .. } => "invalid_input",
            Error::Workflow(r) => r.code(),
            Error::Taxonomy(_) => "taxonomy",
            Error::Calendar(_) => "calendar",
            Error::Rules(_) => "rules",
            Error::UnknownCase(_) => "unknown_case",
            Error::Storage(_) => "storage",
            Error::Sms { code, .. } | Error::Peer { code, .. } => code,
        }
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Automerge(e.to_string())
    }
}

/// Why a workflow step was refused. `code()` is machine-readable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{event} is not allowed while the case is {status}")]
    WrongStatus {
        event: &'static str,
        status: &'static str,
    },
    #[error("a {role} may not append {event}")]
    WrongRole {
        event: &'static str,
        role: &'static str,
    },
    #[error("{event} needs a handler at the {needed} level or above")]
    WrongLevel {
        event: &'static str,
        needed: &'static str,
    },
    #[error("out of scope: {what}")]
    OutOfScope { what: String },
    #[error("the event claims to be written by someone else")]
    ForgedAuthor,
    #[error("invalid {event}: {what}")]
    Invalid { event: &'static str, what: String },
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::WrongStatus { .. } => "workflow_status",
            Refusal::WrongRole { .. } => "workflow_role",
            Refusal::WrongLevel { .. } => "workflow_level",
            Refusal::OutOfScope { .. } => "out_of_scope",
            Refusal::ForgedAuthor => "forged_author",
            Refusal::Invalid { .. } => "workflow_invalid",
        }
    }
}

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
