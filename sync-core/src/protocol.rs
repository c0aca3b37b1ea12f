//! The sync protocol: one round trip between a phone and the hub (the server).
//!
//! A [`SyncRequest`] pushes, per case, the Automerge changes made since the heads the server last
//! acknowledged, and asks for the server's change feed after the device's cursor. The
//! [`SyncResponse`] acknowledges each pushed change (only after the server committed it) or rejects
//! it with a machine-readable [`RejectCode`], and returns a page of the feed with the new cursor.
//! Retrying a request is harmless: changes are identified by hash.
//!
//! On the wire both messages travel in a versioned envelope: `GSYN`, protocol version (u16, big
//! endian), message kind (u8), flags (u8; bit 0 = deflate), then the CBOR body, deflated. See
//! `docs/PROTOCOL.md`. Decoding untrusted bytes returns errors, never panics, and refuses
//! decompression bombs.

use std::io::Read;

use automerge::ChangeHash;
use flate2::bufread::DeflateDecoder;
use flate2::{Compress, Compression, FlushCompress, Status};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::{Error, Result};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The largest envelope accepted off the wire.
pub const MAX_ENVELOPE_BYTES: usize = 8 * 1024 * 1024;
/// The largest body after decompression (a deflate bomb stops here).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Nesting deeper than this is refused while decoding CBOR.
const MAX_DEPTH: usize = 32;

const MAGIC: &[u8; 4] = b"GSYN";
const HEADER_LEN: usize = 8;
const FLAG_DEFLATE: u8 = 1;

/// The two messages of the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageKind {
    Request = 1,
    Response = 2,
    /// A step of a session between two phones (`peer::PeerMessage`, ADR 0030).
    Peer = 3,
    /// A bundle file one phone made for another (`peer::Bundle`).
    Bundle = 4,
}

/// The changes of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// The case id.
    pub doc: String,
    /// Raw Automerge change bytes, causal order not required.
    pub changes: Vec<ByteBuf>,
    /// The pushing device's Ed25519 signature over each change (`evidence::sign_change`),
    /// parallel to `changes` (ADR 0028). Absent when empty: pulls, and apps older than signing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sigs: Vec<ByteBuf>,
    /// The device that made each change, parallel to `changes`, when the push relays changes
    /// a colleague's phone made (ADR 0030): an empty string is the pushing device; another
    /// device's change carries that device's signature in `sigs`. Absent when every change is
    /// the pushing device's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by: Vec<String>,
}

/// One case key in an envelope for one recipient (`case::sealed::seal_key_to`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    /// The case id.
    pub doc: String,
    /// The key id (16 hex digits) sealed values name.
    pub id: String,
    pub envelope: ByteBuf,
}

/// An erasure of a case's personal data: the keys destroyed (ADR 0029).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// Its position in the server's erasure log.
    pub seq: u64,
    pub doc: String,
    /// The ids of the keys destroyed.
    pub keys: Vec<String>,
}

/// A case whose history the device lacks part of (it received changes whose dependencies it
/// never got): the server answers with everything after `heads`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    pub doc: String,
    pub heads: Vec<ByteBuf>,
}

/// Phone → server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The device id (must match the device of the access token).
    pub device: String,
    /// Random per attempt; for logs and tracing only (idempotency comes from hashes).
    pub request_id: String,
    /// The position in the server's change feed this device has applied up to.
    pub cursor: u64,
    /// Upper bound on the pulled change bytes the device wants in one response (weak links ask
    /// for small pages); 0 means the server's default.
    pub page_bytes: u32,
    pub push: Vec<DocChanges>,
    /// Cases to repair (see [`DocHeads`]).
    #[serde(default)]
    pub want: Vec<DocHeads>,
    /// The version of the county's rules this device holds, sent only until a response has
    /// confirmed the server recorded it (once after each new version), so an unchanged sync
    /// carries no rules bytes either way. Absent: the server goes by what it recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<u64>,
    /// The highest notice id this device holds; present, the response carries the account's
    /// newer notices. Absent (an older app): no notices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notices_after: Option<u64>,
    /// Notices the user has read since the last sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices_read: Vec<u64>,
    /// The last erasure this device has applied; present, the response carries the later ones.
    /// Absent (an older app): none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_after: Option<u64>,
    /// Case keys this device made (a new case, or a case it held no key of) that the server
    /// has not confirmed, each sealed to the server's key (ADR 0029). Taken after the push, so
    /// a key may come with its case's first change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<SealedKey>,
    /// When the device certificate this device holds expires (ms; 0 for none): the server
    /// sends a new one when it runs out within half its lifetime, and the revocations a peer
    /// must know (ADR 0030). Absent (an app without peer sync): neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_until: Option<i64>,
    /// The store generation of the server this device last synced with (ADR 0032); absent at
    /// first (or from an older app). When it is not the server's, the server judges nothing of
    /// the request and answers with its generation: the device was ahead of a restored backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// After a restore: this device's heads of the cases it holds, a page at a time in case id
    /// order, so the server can say which it lacks (see `SyncResponse::recovered`). A request
    /// that carries them pushes nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recover: Vec<DocHeads>,
}

/// A restored server's answer to `recover` (ADR 0032).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovered {
    /// Per case the server lacks part of: its heads of the case (empty when it does not hold
    /// the case at all). Cases it holds whole are not named.
    pub lacking: Vec<DocHeads>,
    /// The last case of the request's `recover` it examined: the next page starts after it.
    pub upto: String,
}

/// A server's store generation: a new one begins with every restore from a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub id: String,
    /// The feed position the backup ended at: positions up to it are the same changes in the
    /// old and the new generation, so a device's cursor becomes at most this.
    pub base: u64,
}

/// New rules for a device that holds an older version (`crate::rules::Rules::to_toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesUpdate {
    pub version: u64,
    pub toml: String,
}

/// Why the server refused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// Not decodable as an Automerge change.
    BadChange,
    /// Its actor id is not bound to the pushing device.
    ForgedActor,
    /// Its author (user, device, role) is not who the device is signed in as.
    ForgedAuthor,
    /// The case (before or after) is outside the writer's jurisdiction or role.
    OutOfScope,
    /// A workflow step the rules refuse.
    WorkflowRefused,
    /// The resulting document breaks the schema (or changes an immutable field).
    InvalidCase,
    /// The category is not in the catalogue for this kind of case.
    InvalidCategory,
    /// Depends on changes the server does not have (and never accepted).
    MissingDependency,
    /// Larger than the server accepts.
    TooLarge,
    /// No signature, from a device that has a signing key bound (ADR 0028).
    SignatureMissing,
    /// A signature that does not verify under the device's key: altered bytes, or a signature
    /// replayed onto other bytes.
    SignatureInvalid,
    /// A signature made with another device's key.
    SignatureWrongDevice,
    /// A change relayed from a colleague's phone whose signature does not verify under its
    /// author device's key: altered on the way (ADR 0030).
    RelaySignatureInvalid,
    /// A relayed change that names an author device the server does not know, that is revoked
    /// or keyless, or whose actor or recorded author is not that device's.
    RelayAuthorUnknown,
}

impl RejectCode {
    pub const ALL: [RejectCode; 14] = [
        RejectCode::BadChange,
        RejectCode::ForgedActor,
        RejectCode::ForgedAuthor,
        RejectCode::OutOfScope,
        RejectCode::WorkflowRefused,
        RejectCode::InvalidCase,
        RejectCode::InvalidCategory,
        RejectCode::MissingDependency,
        RejectCode::TooLarge,
        RejectCode::SignatureMissing,
        RejectCode::SignatureInvalid,
        RejectCode::SignatureWrongDevice,
        RejectCode::RelaySignatureInvalid,
        RejectCode::RelayAuthorUnknown,
    ];

    pub fn parse(s: &str) -> Option<RejectCode> {
        RejectCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Why a change was refused, for the people who read it (console, app).
    pub fn name_zh(self) -> &'static str {
        match self {
            RejectCode::BadChange => "不是有效的修改数据",
            RejectCode::ForgedActor => "修改不是由这台设备写的",
            RejectCode::ForgedAuthor => "修改署名与登录的账号不符",
            RejectCode::OutOfScope => "超出管辖范围",
            RejectCode::WorkflowRefused => "办理规则不允许这一步",
            RejectCode::InvalidCase => "案件内容不符合要求",
            RejectCode::InvalidCategory => "事项分类不在目录中",
            RejectCode::MissingDependency => "缺少它所依据的修改",
            RejectCode::TooLarge => "内容太大",
            RejectCode::SignatureMissing => "缺少设备签名",
            RejectCode::SignatureInvalid => "设备签名不符",
            RejectCode::SignatureWrongDevice => "签名来自另一台设备",
            RejectCode::RelaySignatureInvalid => "转交的修改与原作者的签名不符",
            RejectCode::RelayAuthorUnknown => "转交的修改署名的原作者设备不符",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::BadChange => "bad_change",
            RejectCode::ForgedActor => "forged_actor",
            RejectCode::ForgedAuthor => "forged_author",
            RejectCode::OutOfScope => "out_of_scope",
            RejectCode::WorkflowRefused => "workflow_refused",
            RejectCode::InvalidCase => "invalid_case",
            RejectCode::InvalidCategory => "invalid_category",
            RejectCode::MissingDependency => "missing_dependency",
            RejectCode::TooLarge => "too_large",
            RejectCode::SignatureMissing => "signature_missing",
            RejectCode::SignatureInvalid => "signature_invalid",
            RejectCode::SignatureWrongDevice => "signature_wrong_device",
            RejectCode::RelaySignatureInvalid => "relay_signature_invalid",
            RejectCode::RelayAuthorUnknown => "relay_author_unknown",
        }
    }
}

/// One refused change. `hash` is empty when the bytes were not a change at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub doc: String,
    pub hash: ByteBuf,
    pub code: RejectCode,
    /// Human-readable, in the language of the server's operators.
    pub reason: String,
}

/// The hashes of one case the server has stored durably.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocAck {
    pub doc: String,
    pub hashes: Vec<ByteBuf>,
}

/// Server → phone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Pushed changes now stored (including ones the server already had).
    pub accepted: Vec<DocAck>,
    pub rejected: Vec<Rejection>,
    /// Feed changes after the request's cursor, from other devices, inside the device's scope.
    pub pull: Vec<DocChanges>,
    /// The cursor to send next time.
    pub cursor: u64,
    /// More of the feed is waiting: sync again.
    pub more: bool,
    /// The server's clock (ms) so the app can show how far off the phone's clock is.
    pub server_time: i64,
    /// The rules in force, when the device holds an older version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesUpdate>,
    /// The account's notices after the request's `notices_after`, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<crate::notice::Notice>,
    /// Keys of pulled cases whose personal data the device's account reads, sealed to the
    /// device's key (ADR 0029); none for an account that does not read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub case_keys: Vec<SealedKey>,
    /// Erasures after the request's `erased_after`, oldest first: drop these keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<Erasure>,
    /// The erasure log read up to (send it as the next `erased_after`); present when the
    /// request asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_upto: Option<u64>,
    /// The server's public Ed25519 key (32 bytes): a phone seals the keys of the cases it
    /// captures to it (ADR 0029). Absent from an older server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<ByteBuf>,
    /// The request's `keys` the server now holds (or refused for good: a key of an erased case
    /// or of one the device may not write): the device stops sending them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys_taken: Vec<KeyId>,
    /// A new device certificate (`peer::Certificate`), when the request's `certificate_until`
    /// runs out soon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<ByteBuf>,
    /// Devices revoked within a certificate's lifetime, when the request carried
    /// `certificate_until`: their certificates get nothing from a peer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<Revocation>,
    /// The server's store generation, when the request named none or another one (ADR 0032).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<Generation>,
    /// The answer to the request's `recover`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Recovered>,
}

/// A device the county revoked, and when: its certificates issued before then are void.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub device: String,
    pub at: i64,
}

/// A case key named without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyId {
    pub doc: String,
    pub id: String,
}

/// Encodes a request into its envelope.
pub fn encode_request(msg: &SyncRequest) -> Result<Vec<u8>> {
    encode(MessageKind::Request, msg)
}

/// Encodes a response into its envelope.
pub fn encode_response(msg: &SyncResponse) -> Result<Vec<u8>> {
    encode(MessageKind::Response, msg)
}

/// Decodes and checks a request from untrusted bytes.
pub fn decode_request(bytes: &[u8]) -> Result<SyncRequest> {
    let msg: SyncRequest = decode(MessageKind::Request, bytes)?;
    check_id("device", &msg.device)?;
    for d in msg
        .push
        .iter()
        .map(|d| &d.doc)
        .chain(msg.want.iter().map(|w| &w.doc))
    {
        crate::vocab::validate_case_id(d).map_err(|_| malformed(format!("bad case id {d:?}")))?;
    }
    for w in &msg.want {
        w.heads.iter().try_for_each(|h| to_hash(h).map(|_| ()))?;
    }
    Ok(msg)
}

/// Decodes and checks a response (the phone trusts its server, but not the bytes in between).
pub fn decode_response(bytes: &[u8]) -> Result<SyncResponse> {
    let msg: SyncResponse = decode(MessageKind::Response, bytes)?;
    for d in msg.accepted.iter() {
        d.hashes.iter().try_for_each(|h| to_hash(h).map(|_| ()))?;
    }
    Ok(msg)
}

/// A change hash from its 32 wire bytes.
pub fn to_hash(bytes: &[u8]) -> Result<ChangeHash> {
    ChangeHash::try_from(bytes)
        .map_err(|_| malformed(format!("a hash is 32 bytes, got {}", bytes.len())))
}

/// A hash as wire bytes.
pub fn hash_bytes(hash: &ChangeHash) -> ByteBuf {
    ByteBuf::from(hash.0.to_vec())
}

pub(crate) fn encode<T: Serialize>(kind: MessageKind, msg: &T) -> Result<Vec<u8>> {
    let mut cbor = Vec::new();
    ciborium::into_writer(msg, &mut cbor).map_err(|e| malformed(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + cbor.len() / 2);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    out.push(kind as u8);
    out.push(FLAG_DEFLATE);
    deflate_into(&cbor, &mut out)?;
    Ok(out)
}

thread_local! {
    /// One compressor per thread, reset for each message: setting one up (its window and hash
    /// tables, a few hundred KB to clear) cost more than compressing a typical sync message.
    static DEFLATE: std::cell::RefCell<Compress> =
        std::cell::RefCell::new(Compress::new(Compression::new(6), false));
}

/// Appends `input` compressed (raw DEFLATE, level 6) to `out`.
fn deflate_into(input: &[u8], out: &mut Vec<u8>) -> Result<()> {
    DEFLATE.with(|cell| {
        let mut z = cell.borrow_mut();
        z.reset();
        loop {
            out.reserve(input.len() / 2 + 1024);
            let consumed = usize::try_from(z.total_in()).unwrap_or(input.len());
            let status = z
                .compress_vec(
                    &input[consumed.min(input.len())..],
                    out,
                    FlushCompress::Finish,
                )
                .map_err(|e| malformed(format!("deflate: {e}")))?;
            if status == Status::StreamEnd {
                return Ok(());
            }
        }
    })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(kind: MessageKind, bytes: &[u8]) -> Result<T> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(Error::TooLarge {
            what: "sync message",
            size: bytes.len(),
            limit: MAX_ENVELOPE_BYTES,
        });
    }
    if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
        return Err(malformed("not a gridsync envelope".into()));
    }
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    if version != PROTOCOL_VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    if bytes[6] != kind as u8 {
        return Err(malformed(format!(
            "expected message kind {}, got {}",
            kind as u8, bytes[6]
        )));
    }
    let flags = bytes[7];
    if flags & !FLAG_DEFLATE != 0 {
        return Err(malformed(format!("unknown flags {flags:#x}")));
    }
    let payload = &bytes[HEADER_LEN..];
    let body = if flags & FLAG_DEFLATE != 0 {
        let mut body = Vec::new();
        let mut inflate = DeflateDecoder::new(payload);
        (&mut inflate)
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| malformed(format!("deflate: {e}")))?;
        if body.len() <= MAX_BODY_BYTES && inflate.total_in() != payload.len() as u64 {
            return Err(malformed("bytes after the compressed body".into()));
        }
        if body.len() > MAX_BODY_BYTES {
            return Err(Error::TooLarge {
                what: "decompressed sync message",
                size: body.len(),
                limit: MAX_BODY_BYTES,
            });
        }
        body
    } else {
        payload.to_vec()
    };
    from_cbor(&body)
}

/// One CBOR value from untrusted bytes: nesting within [`MAX_DEPTH`], nothing after it.
pub(crate) fn from_cbor<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let mut reader = bytes;
    let msg = ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_DEPTH)
        .map_err(|e| malformed(format!("cbor: {e}")))?;
    if !reader.is_empty() {
        return Err(malformed(format!("{} trailing bytes", reader.len())));
    }
    Ok(msg)
}

fn check_id(field: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(malformed(format!("bad {field} id")))
    }
}

fn malformed(what: String) -> Error {
    Error::Malformed(what)
}
