//! Evidence that holds up (ADR 0028): a device's Ed25519 signature over each change it makes,
//! the hash-chained entries of the server's receipt log and read audit, and the verifiable case
//! export (`export`). Phone, server and the standalone verifier call the same functions, so a
//! signature made on a phone is checked byte for byte as the server and a third party check it.

pub mod export;

use automerge::ChangeHash;
use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// What a change signature covers, before the change hash: a signature made for anything else
/// (a token, a receipt) never passes for one over a change.
pub const CHANGE_DOMAIN: &[u8] = b"gridsync change v1";
/// What a receipt-log entry's hash covers, before its CBOR.
pub const RECEIPT_DOMAIN: &[u8] = b"gridsync receipt v1";
/// What a read-audit entry's hash covers, before its CBOR.
pub const READ_DOMAIN: &[u8] = b"gridsync read v1";
/// What the server's signature over a case export covers, before the export's body.
pub const EXPORT_DOMAIN: &[u8] = b"gridsync export v1";
pub const SIGNATURE_BYTES: usize = 64;
pub const PUBLIC_KEY_BYTES: usize = 32;
/// The `prev` of a chain's first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// The bytes a change signature is made over: the domain, then the change hash.
fn change_message(hash: &ChangeHash) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHANGE_DOMAIN.len() + 32);
    m.extend_from_slice(CHANGE_DOMAIN);
    m.extend_from_slice(&hash.0);
    m
}

/// A device's (or the server's) signature over the change `hash`. Ed25519 is deterministic: the
/// same key and change give the same signature every time it is sent.
pub fn sign_change(key: &SigningKey, hash: &ChangeHash) -> [u8; SIGNATURE_BYTES] {
    key.sign(&change_message(hash)).to_bytes()
}

/// The hash of a change chunk from its bytes alone, without parsing it: SHA-256 over all but
/// the magic number and the checksum (Automerge's definition of a change's hash). For bytes
/// that are a change, this is `Change::hash`; admission still parses them and compares.
pub fn chunk_hash(bytes: &[u8]) -> Option<ChangeHash> {
    bytes
        .get(8..)
        .filter(|rest| !rest.is_empty())
        .map(|rest| ChangeHash(Sha256::digest(rest).into()))
}

/// Whether `sig` is `key`'s signature over the change `hash`.
pub fn verifies(key: &VerifyingKey, hash: &ChangeHash, sig: &[u8]) -> bool {
    let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
        return false;
    };
    key.verify_strict(&change_message(hash), &sig).is_ok()
}

/// A public key from its 32 raw bytes (`None` for anything else, or a point off the curve).
pub fn public_key(bytes: &[u8]) -> Option<VerifyingKey> {
    let raw: [u8; PUBLIC_KEY_BYTES] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&raw).ok()
}

/// A public key as it travels in JSON (the sign-in's `device_key`): base64url, no padding.
pub fn key_text(key: &[u8; PUBLIC_KEY_BYTES]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

/// A public key from its [`key_text`] (`None` for anything else).
pub fn key_from_text(text: &str) -> Option<VerifyingKey> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    public_key(&raw)
}

/// A new key pair from 32 random bytes the caller draws (the core has no randomness of its own).
pub fn signing_key(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

/// How one pushed change's signature stands against the pushing device's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigCheck {
    Valid,
    /// No signature came with the change.
    Missing,
    /// A signature that does not verify under the device's key: altered bytes, a signature
    /// replayed onto other bytes, or another device's key (the server tells those apart).
    Invalid,
}

/// Checks the signatures `sigs` (parallel to `hashes`; short or empty entries are missing)
/// under `key`. The common case, all valid, costs one batch verification.
pub fn check_signatures(
    key: &VerifyingKey,
    hashes: &[ChangeHash],
    sigs: &[ByteBuf],
) -> Vec<SigCheck> {
    let mut out = Vec::with_capacity(hashes.len());
    let mut messages = Vec::new();
    let mut parsed = Vec::new();
    for (i, hash) in hashes.iter().enumerate() {
        match sigs.get(i).map(|s| s.as_slice()).filter(|s| !s.is_empty()) {
            None => out.push(SigCheck::Missing),
            Some(sig) => match ed25519_dalek::Signature::from_slice(sig) {
                Ok(sig) => {
                    out.push(SigCheck::Valid);
                    messages.push(change_message(hash));
                    parsed.push((i, sig));
                }
                Err(_) => out.push(SigCheck::Invalid),
            },
        }
    }
    if parsed.is_empty() {
        return out;
    }
    let msgs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let batch: Vec<ed25519_dalek::Signature> = parsed.iter().map(|(_, s)| *s).collect();
    let keys = vec![*key; batch.len()];
    if ed25519_dalek::verify_batch(&msgs, &batch, &keys).is_err() {
        // Some signature is bad: find which, one by one.
        for ((i, sig), msg) in parsed.iter().zip(&msgs) {
            if key.verify_strict(msg, sig).is_err() {
                out[*i] = SigCheck::Invalid;
            }
        }
    }
    out
}

/// The signatures of a whole push checked in one batch, under `key`: per case, per change, in
/// the order given. Hashes come from the chunk bytes (`chunk_hash`), so nothing is parsed;
/// bytes that are no change count as missing a signature (admission refuses them anyway).
pub fn check_push(key: &VerifyingKey, cases: &[(&[ByteBuf], &[ByteBuf])]) -> Vec<Vec<SigCheck>> {
    let mut hashes = Vec::new();
    let mut sigs = Vec::new();
    for (changes, case_sigs) in cases {
        for (i, change) in changes.iter().enumerate() {
            let hash = chunk_hash(change);
            hashes.push(hash.unwrap_or(ChangeHash([0; 32])));
            sigs.push(match hash {
                Some(_) => case_sigs.get(i).cloned().unwrap_or_default(),
                None => ByteBuf::new(),
            });
        }
    }
    let mut all = check_signatures(key, &hashes, &sigs).into_iter();
    cases
        .iter()
        .map(|(changes, _)| all.by_ref().take(changes.len()).collect())
        .collect()
}

/// SHA-256 over a chain's domain and an entry's bytes: the entry's hash, which the next entry
/// names as its `prev`.
pub fn entry_hash(domain: &[u8], entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(entry);
    h.finalize().into()
}

/// Lower-case hex of some bytes (hashes and keys as people read them).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key's short fingerprint as printed for people to compare: the first 8 bytes of the
/// SHA-256 of its raw bytes, in hex.
pub fn fingerprint(key: &VerifyingKey) -> String {
    hex(&Sha256::digest(key.as_bytes())[..8])
}

/// One entry of the receipt log: a committed push, with what it added to the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The entry's place in the chain, from 1.
    pub seq: u64,
    /// The previous entry's hash ([`GENESIS`] for the first).
    pub prev: ByteBuf,
    /// Server time of the commit, ms since the epoch.
    pub at: i64,
    /// The device the push came from (`server` or `console-…` for the server's own writes).
    pub device: String,
    /// The public key the device had bound then, if any: its changes in this entry were checked
    /// against it.
    pub device_key: Option<ByteBuf>,
    /// The feed position of the first change; the rest follow one by one.
    pub first_feed: u64,
    /// The hashes of the changes stored, in feed order.
    pub changes: Vec<ByteBuf>,
}

/// One entry of the read audit: someone read a case's personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadEntry {
    pub seq: u64,
    pub prev: ByteBuf,
    pub at: i64,
    pub user: String,
    pub case: String,
    /// What was read: the route or page (`GET /v1/cases/{id}`, `console case page`, …).
    pub route: String,
    /// The address the request came from.
    pub addr: String,
}

/// An entry of a hash chain: CBOR in, CBOR out, its hash under its chain's domain.
pub trait ChainEntry: Serialize + for<'de> Deserialize<'de> {
    const DOMAIN: &'static [u8];
    fn seq(&self) -> u64;
    fn prev(&self) -> &[u8];

    /// Canonical CBOR: fields in declaration order, definite lengths.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).expect("CBOR into a Vec cannot fail");
        out
    }

    /// Decodes an entry; trailing bytes are an error.
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        decode_whole(bytes)
    }

    fn hash_of(entry: &[u8]) -> [u8; 32] {
        entry_hash(Self::DOMAIN, entry)
    }
}

impl ChainEntry for Receipt {
    const DOMAIN: &'static [u8] = RECEIPT_DOMAIN;
    fn seq(&self) -> u64 {
        self.seq
    }
    fn prev(&self) -> &[u8] {
        &self.prev
    }
}

impl ChainEntry for ReadEntry {
    const DOMAIN: &'static [u8] = READ_DOMAIN;
    fn seq(&self) -> u64 {
        self.seq
    }
    fn prev(&self) -> &[u8] {
        &self.prev
    }
}

/// Decodes CBOR that must end where the value ends (entries, export files): trailing bytes are
/// an error, so no byte of the input goes unread.
pub(crate) fn decode_whole<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    let mut reader = bytes;
    let value = ciborium::from_reader(&mut reader).map_err(|e| e.to_string())?;
    if !reader.is_empty() {
        return Err(format!("{} bytes after the end", reader.len()));
    }
    Ok(value)
}

/// Walks a chain one stored entry at a time, in order: each entry must decode, hash to its
/// stored hash, carry the next number and name the previous entry's hash. The first fault
/// names the entry.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    next_seq: u64,
    prev: [u8; 32],
}

impl Default for ChainWalk {
    fn default() -> Self {
        ChainWalk {
            next_seq: 1,
            prev: GENESIS,
        }
    }
}

impl ChainWalk {
    /// The number the next entry must carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The hash of the last entry walked (the chain's head), [`GENESIS`] before any.
    pub fn head(&self) -> [u8; 32] {
        self.prev
    }

    /// Checks the entry stored as row `row_seq` with hash `stored_hash` and bytes `entry`.
    pub fn step<E: ChainEntry>(
        &mut self,
        row_seq: u64,
        stored_hash: &[u8],
        entry: &[u8],
    ) -> Result<E, String> {
        if row_seq != self.next_seq {
            return Err(match row_seq > self.next_seq {
                true => format!(
                    "entry {} is missing (the next stored is {row_seq})",
                    self.next_seq
                ),
                false => format!("entry {row_seq} is stored twice or out of order"),
            });
        }
        let hash = E::hash_of(entry);
        if stored_hash != hash {
            return Err(format!(
                "entry {row_seq}: its bytes do not hash to its stored hash"
            ));
        }
        let decoded =
            E::decode(entry).map_err(|e| format!("entry {row_seq} is not readable: {e}"))?;
        if decoded.seq() != row_seq {
            return Err(format!("entry {row_seq} names itself {}", decoded.seq()));
        }
        if decoded.prev() != self.prev {
            return Err(format!(
                "entry {row_seq} does not follow entry {} (a fork or a dropped entry)",
                row_seq - 1
            ));
        }
        self.next_seq += 1;
        self.prev = hash;
        Ok(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        signing_key([n; 32])
    }

    #[test]
    fn a_signature_checks_only_for_its_change_and_key() {
        let a = key(1);
        let b = key(2);
        let h1 = ChangeHash([7; 32]);
        let h2 = ChangeHash([8; 32]);
        let sig = sign_change(&a, &h1);
        assert!(verifies(&a.verifying_key(), &h1, &sig));
        assert!(
            !verifies(&a.verifying_key(), &h2, &sig),
            "replayed onto other bytes"
        );
        assert!(
            !verifies(&b.verifying_key(), &h1, &sig),
            "another device's key"
        );
        let checks = check_signatures(
            &a.verifying_key(),
            &[h1, h2, h2, h1],
            &[
                ByteBuf::from(sig.to_vec()),
                ByteBuf::from(sig.to_vec()),
                ByteBuf::from(sign_change(&b, &h2).to_vec()),
            ],
        );
        assert_eq!(
            checks,
            [
                SigCheck::Valid,
                SigCheck::Invalid,
                SigCheck::Invalid,
                SigCheck::Missing
            ]
        );
        let good = check_signatures(
            &a.verifying_key(),
            &[h1, h2],
            &[
                ByteBuf::from(sig.to_vec()),
                ByteBuf::from(sign_change(&a, &h2).to_vec()),
            ],
        );
        assert_eq!(good, [SigCheck::Valid, SigCheck::Valid]);
    }

    #[test]
    fn a_chunk_hash_is_the_change_hash() {
        let who = crate::Identity::new(
            "wang",
            crate::Role::GridWorker,
            crate::JurisdictionPath::parse("130322/101/201/01").unwrap(),
            None,
            "phone-1",
        )
        .unwrap();
        let case = crate::case::NewCase {
            kind: crate::CaseKind::Incident,
            jurisdiction: crate::JurisdictionPath::parse("130322/101/201/01").unwrap(),
            category: "safety_hazard".into(),
            title: "险情".into(),
            description: "墙体开裂".repeat(20),
            location: Default::default(),
            people: vec![],
        };
        let (mut doc, first) = crate::CaseDoc::create(
            automerge::ActorId::random(),
            &crate::case::new_case_id(),
            &case,
            &who,
            1_790_000_000_000,
        )
        .unwrap();
        let second = doc
            .edit(&who, 1_790_000_000_001, |e| e.set_title("险情（更新）"))
            .unwrap()
            .unwrap();
        for hash in [first, second] {
            let change = doc.change(&hash).unwrap();
            assert_eq!(chunk_hash(change.raw_bytes()), Some(hash));
        }
        assert_eq!(chunk_hash(b"short"), None);
    }

    fn receipt(seq: u64, prev: [u8; 32]) -> Receipt {
        Receipt {
            seq,
            prev: ByteBuf::from(prev.to_vec()),
            at: 1_700_000_000_000 + seq as i64,
            device: "phone-1".into(),
            device_key: None,
            first_feed: seq * 10,
            changes: vec![ByteBuf::from(vec![seq as u8; 32])],
        }
    }

    #[test]
    fn a_chain_walk_names_the_first_bad_entry() {
        let mut rows = Vec::new();
        let mut prev = GENESIS;
        for seq in 1..=4 {
            let entry = receipt(seq, prev).encode();
            prev = Receipt::hash_of(&entry);
            rows.push((seq, prev.to_vec(), entry));
        }
        let walk = |rows: &[(u64, Vec<u8>, Vec<u8>)]| {
            let mut w = ChainWalk::default();
            for (seq, hash, entry) in rows {
                w.step::<Receipt>(*seq, hash, entry)?;
            }
            Ok::<_, String>(w.head())
        };
        assert_eq!(walk(&rows), Ok(prev));
        let mut edited = rows.clone();
        let last = edited[2].2.len() - 1;
        edited[2].2[last] ^= 1;
        assert!(walk(&edited).unwrap_err().starts_with("entry 3"));
        let mut dropped = rows.clone();
        dropped.remove(1);
        assert!(walk(&dropped).unwrap_err().contains("entry 2 is missing"));
        // A re-numbered, re-hashed entry 2 that skips the original still breaks at entry 3.
        let mut forked = rows.clone();
        let other = receipt(2, Receipt::hash_of(&rows[0].2)).encode();
        let mut other_entry = Receipt::decode(&other).unwrap();
        other_entry.at += 1;
        let other = other_entry.encode();
        forked[1] = (2, Receipt::hash_of(&other).to_vec(), other);
        assert!(
            walk(&forked)
                .unwrap_err()
                .contains("entry 3 does not follow")
        );
    }
}
