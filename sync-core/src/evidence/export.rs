//! The verifiable case export: one CBOR file with a case's changes, their signatures, the public
//! keys that signed them and the receipt-log entries that name them, signed as a whole by the
//! server's change key. [`verify`] checks it offline with nothing but this file: any altered byte
//! fails, and what passes says who wrote what, when and on which device.

use std::collections::HashMap;

use ed25519_dalek::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::{
    ChainEntry, EXPORT_DOMAIN, Receipt, SigningKey, VerifyingKey, decode_whole, public_key,
    verifies,
};
use crate::case::{CaseDoc, ChangeAuthor, change_time_ms, parse_change};

/// The format string every export carries.
pub const FORMAT: &str = "gridsync case export v1";
/// The largest export [`verify`] reads (a case is at most 4 MB; its evidence adds little).
pub const MAX_EXPORT_BYTES: usize = 32 * 1024 * 1024;

/// The file: the body's bytes, and the server's signature over them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseExport {
    pub body: ByteBuf,
    pub server_key: ByteBuf,
    pub sig: ByteBuf,
}

/// What the server signs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportBody {
    pub format: String,
    pub case: String,
    pub exported_at: i64,
    pub exported_by: String,
    /// Changes at feed positions after this one must each be named by a receipt; those before
    /// came before the receipt log began.
    pub receipts_from: u64,
    pub changes: Vec<ExportedChange>,
    /// Every key a change here was signed with.
    pub keys: Vec<ExportedKey>,
    /// The receipt entries that name a change here, in chain order.
    pub receipts: Vec<ExportedReceipt>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedChange {
    pub feed: u64,
    pub bytes: ByteBuf,
    /// The device the change was pushed from, as the server recorded it.
    pub device: String,
    /// The id of the key that signed it (an [`ExportedKey::id`]), when signed.
    pub signer: Option<String>,
    pub sig: Option<ByteBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedKey {
    /// The key's fingerprint ([`super::fingerprint`]).
    pub id: String,
    /// Whose key it is: a device id, or the server's.
    pub holder: String,
    pub public_key: ByteBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedReceipt {
    pub hash: ByteBuf,
    pub entry: ByteBuf,
}

impl CaseExport {
    /// Signs `body` with the server's change key and encodes the file.
    pub fn seal(body: &ExportBody, server: &SigningKey) -> Vec<u8> {
        let mut body_bytes = Vec::new();
        ciborium::into_writer(body, &mut body_bytes).expect("CBOR into a Vec cannot fail");
        let sig = server.sign(&export_message(&body_bytes)).to_bytes();
        let file = CaseExport {
            body: ByteBuf::from(body_bytes),
            server_key: ByteBuf::from(server.verifying_key().to_bytes().to_vec()),
            sig: ByteBuf::from(sig.to_vec()),
        };
        let mut out = Vec::new();
        ciborium::into_writer(&file, &mut out).expect("CBOR into a Vec cannot fail");
        out
    }
}

fn export_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(EXPORT_DOMAIN.len() + body.len());
    m.extend_from_slice(EXPORT_DOMAIN);
    m.extend_from_slice(body);
    m
}

/// A change as the verifier found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChange {
    pub hash: String,
    pub feed: u64,
    /// The author recorded in the change (user, device, role), if any.
    pub author: Option<ChangeAuthor>,
    /// The device the server received it from.
    pub device: String,
    /// When the author's device says it was made (ms).
    pub made_at: i64,
    /// When the server's receipt log recorded it (ms); `None` before the log began.
    pub received_at: Option<i64>,
    pub receipt: Option<u64>,
    /// Who signed it, when it carries a signature that verified.
    pub signed_by: Option<String>,
}

/// What a valid export says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCase {
    pub case: String,
    pub exported_at: i64,
    pub exported_by: String,
    /// The fingerprint of the server key that signed the file (compare it with the county's).
    pub server_key: String,
    pub changes: Vec<VerifiedChange>,
    /// The hash of the last receipt entry in the file, hex (compare with a filed chain head).
    pub last_receipt: Option<(u64, String)>,
}

/// Checks an export offline; the error names the first thing that does not hold.
pub fn verify(file: &[u8]) -> Result<VerifiedCase, String> {
    if file.len() > MAX_EXPORT_BYTES {
        return Err(format!(
            "{} bytes; an export is at most {MAX_EXPORT_BYTES}",
            file.len()
        ));
    }
    let outer: CaseExport = decode_whole(file).map_err(|e| format!("not a case export: {e}"))?;
    let server = public_key(&outer.server_key).ok_or("the server key is not an Ed25519 key")?;
    let sig = ed25519_dalek::Signature::from_slice(&outer.sig)
        .map_err(|_| "the server signature is malformed")?;
    server.verify(&export_message(&outer.body), &sig).map_err(
        |_| "the server's signature over the file does not verify: the file was altered",
    )?;
    let body: ExportBody =
        decode_whole(&outer.body).map_err(|e| format!("the body is not readable: {e}"))?;
    if body.format != FORMAT {
        return Err(format!("format {:?}, expected {FORMAT:?}", body.format));
    }
    let mut keys: HashMap<&str, (VerifyingKey, &str)> = HashMap::new();
    for k in &body.keys {
        let pk = public_key(&k.public_key)
            .ok_or_else(|| format!("the key of {} is not an Ed25519 key", k.holder))?;
        if super::fingerprint(&pk) != k.id {
            return Err(format!("key {} is not the key its id names", k.id));
        }
        keys.insert(k.id.as_str(), (pk, k.holder.as_str()));
    }
    // Receipts: each hashes to itself; together they say when each change arrived and from
    // which device, with which key.
    let mut received: HashMap<Vec<u8>, (u64, u64, &Receipt)> = HashMap::new();
    let mut decoded = Vec::with_capacity(body.receipts.len());
    for r in &body.receipts {
        if Receipt::hash_of(&r.entry).as_slice() != r.hash.as_slice() {
            return Err("a receipt entry does not hash to its stated hash".into());
        }
        decoded.push(
            Receipt::decode(&r.entry)
                .map_err(|e| format!("a receipt entry is not readable: {e}"))?,
        );
    }
    for receipt in &decoded {
        for (i, h) in receipt.changes.iter().enumerate() {
            received.insert(
                h.to_vec(),
                (receipt.seq, receipt.first_feed + i as u64, receipt),
            );
        }
    }
    let last_receipt = decoded
        .iter()
        .zip(&body.receipts)
        .max_by_key(|(d, _)| d.seq)
        .map(|(d, r)| (d.seq, super::hex(&r.hash)));
    let mut changes = Vec::with_capacity(body.changes.len());
    let mut parsed = Vec::with_capacity(body.changes.len());
    for c in &body.changes {
        let change = parse_change(&c.bytes)
            .map_err(|e| format!("change at feed {} is not readable: {e}", c.feed))?;
        let hash = change.hash();
        let author = ChangeAuthor::of_change(&change);
        let signed_by = match (&c.signer, &c.sig) {
            (Some(signer), Some(sig)) => {
                let (key, holder) = keys
                    .get(signer.as_str())
                    .ok_or_else(|| format!("no key {signer} in the file"))?;
                if !verifies(key, &hash, sig) {
                    return Err(format!(
                        "change {hash}: its signature by {holder} does not verify"
                    ));
                }
                Some(format!("{holder} ({signer})"))
            }
            (None, None) => None,
            _ => {
                return Err(format!(
                    "change {hash}: a signature without a signer, or a signer without one"
                ));
            }
        };
        let (receipt, received_at) = match received.get(hash.0.as_slice()) {
            Some((seq, feed, r)) => {
                if *feed != c.feed {
                    return Err(format!(
                        "change {hash}: the receipt puts it at feed {feed}, the file at {}",
                        c.feed
                    ));
                }
                if r.device != c.device {
                    return Err(format!(
                        "change {hash}: the receipt says device {}, the file {}",
                        r.device, c.device
                    ));
                }
                // A device that had a key then had every change of the push checked under it.
                if let Some(k) = &r.device_key {
                    let ok = c.sig.is_some()
                        && c.signer
                            .as_deref()
                            .and_then(|s| keys.get(s))
                            .is_some_and(|(pk, _)| pk.as_bytes() == k.as_slice());
                    if !ok {
                        return Err(format!(
                            "change {hash}: its device had a key, but the change is not signed with it"
                        ));
                    }
                }
                (Some(*seq), Some(r.at))
            }
            None if c.feed > body.receipts_from => {
                return Err(format!(
                    "change {hash} at feed {} is named by no receipt",
                    c.feed
                ));
            }
            None => (None, None),
        };
        changes.push(VerifiedChange {
            hash: hash.to_string(),
            feed: c.feed,
            author,
            device: c.device.clone(),
            made_at: change_time_ms(change.timestamp()),
            received_at,
            receipt,
            signed_by,
        });
        parsed.push(change);
    }
    // The changes make the case the file says they make.
    let mut doc = CaseDoc::from_changes(parsed)
        .map_err(|e| format!("the changes do not make a case: {e}"))?;
    if !doc.missing_deps().is_empty() {
        return Err("the changes lack some of their history".into());
    }
    let case = doc
        .read()
        .map_err(|e| format!("the changes do not make a readable case: {e}"))?;
    if case.id != body.case {
        return Err(format!(
            "the changes make case {}, the file names {}",
            case.id, body.case
        ));
    }
    Ok(VerifiedCase {
        case: body.case,
        exported_at: body.exported_at,
        exported_by: body.exported_by,
        server_key: super::fingerprint(&server),
        changes,
        last_receipt,
    })
}
