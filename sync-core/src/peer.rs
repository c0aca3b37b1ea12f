//! Phone to phone (ADR 0030): the device certificate a phone shows a colleague's phone, the
//! messages of a peer session and of a bundle file, and their checks. Sans-I/O and without the
//! store: `peer_session` drives a session over a `Replica`.
//!
//! A certificate is the server's Ed25519 signature over who holds a device (user, role, scope,
//! department, device, device key) until when; a phone checks it offline with the server key it
//! learnt at sign-in. Each message after the first is signed by its sender's device key over the
//! receiver's fresh nonce, and what it gives (case changes, keys, thumbnails) is sealed to the
//! receiver's device key: a replayed or overheard message gives nothing.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

use crate::access::{Identity, Role};
use crate::case::sealed::{open_bytes_with, seal_bytes_to};
use crate::jurisdiction::JurisdictionPath;
use crate::protocol::{self, DocChanges, MessageKind, Revocation, SealedKey, from_cbor};
use crate::{Error, Result};

/// How long a certificate holds: a revoked phone's certificate works on colleagues who have not
/// synced since for at most this long.
pub const CERTIFICATE_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;
/// A phone asks for a new certificate once less than this is left.
pub const RENEW_WITHIN_MS: i64 = CERTIFICATE_LIFETIME_MS / 2;

const CERTIFICATE_DOMAIN: &[u8] = b"gridsync certificate v1";
const PEER_DOMAIN: &[u8] = b"gridsync peer v1";

/// The error codes of refused peers and messages.
pub mod codes {
    /// Not a certificate, or not signed by this county's server.
    pub const CERTIFICATE_INVALID: &str = "certificate_invalid";
    pub const CERTIFICATE_EXPIRED: &str = "certificate_expired";
    pub const CERTIFICATE_REVOKED: &str = "certificate_revoked";
    /// This phone holds no certificate (or no server key to check one): sign in or sync first.
    pub const NO_CERTIFICATE: &str = "no_certificate";
    /// A message's signature does not verify under its sender's certified key.
    pub const PROOF_INVALID: &str = "peer_proof_invalid";
    /// A message that does not follow the one before (or a bundle for another device).
    pub const OUT_OF_ORDER: &str = "peer_out_of_order";
    /// What a message gives does not open for this device.
    pub const SEALED_FOR_ANOTHER: &str = "peer_sealed_for_another";
}

fn refused(code: &'static str, reason: impl Into<String>) -> Error {
    Error::Peer {
        code,
        reason: reason.into(),
    }
}

/// Who holds a device, as the server certified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub user: String,
    pub role: Role,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub device: String,
    /// The device's Ed25519 key (ADR 0028), 32 bytes.
    pub device_key: ByteBuf,
    pub issued: i64,
    pub expires: i64,
}

#[derive(Serialize, Deserialize)]
struct SignedCertificate {
    body: ByteBuf,
    sig: ByteBuf,
}

/// A colleague's phone whose certificate checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub identity: Identity,
    pub key: VerifyingKey,
    pub expires: i64,
}

impl Certificate {
    /// The certificate of `who` on the device holding `device_key`, from `now`.
    pub fn of(who: &Identity, device_key: &VerifyingKey, now: i64) -> Certificate {
        Certificate {
            user: who.user.clone(),
            role: who.role,
            scope: who.scope.to_string(),
            department: who.department.clone(),
            device: who.device.clone(),
            device_key: ByteBuf::from(device_key.to_bytes().to_vec()),
            issued: now,
            expires: now + CERTIFICATE_LIFETIME_MS,
        }
    }

    /// Signed with the server's key: the bytes a phone keeps and shows.
    pub fn sign(&self, server: &SigningKey) -> Result<Vec<u8>> {
        let body = cbor(self)?;
        let sig = server.sign(&domain_hash(CERTIFICATE_DOMAIN, &[&body]));
        cbor(&SignedCertificate {
            body: ByteBuf::from(body),
            sig: ByteBuf::from(sig.to_bytes().to_vec()),
        })
    }

    /// What `bytes` say, unchecked (a phone reading its own certificate's expiry).
    pub fn read(bytes: &[u8]) -> Result<Certificate> {
        let signed: SignedCertificate = from_cbor(bytes)?;
        from_cbor(&signed.body)
    }

    /// Checks a certificate shown by a colleague's phone: signed by `server`, not expired at
    /// `now`, its device not revoked after it was issued, its identity sound.
    pub fn check(
        bytes: &[u8],
        server: &VerifyingKey,
        now: i64,
        revoked: &[Revocation],
    ) -> Result<Peer> {
        let invalid = |why: &str| refused(codes::CERTIFICATE_INVALID, why.to_owned());
        let signed: SignedCertificate =
            from_cbor(bytes).map_err(|_| invalid("not a device certificate"))?;
        let sig = Signature::from_slice(&signed.sig).map_err(|_| invalid("a bad signature"))?;
        server
            .verify(&domain_hash(CERTIFICATE_DOMAIN, &[&signed.body]), &sig)
            .map_err(|_| invalid("not signed by this county's server"))?;
        let cert: Certificate = from_cbor(&signed.body).map_err(|_| invalid("unreadable"))?;
        if cert.expires <= now {
            return Err(refused(
                codes::CERTIFICATE_EXPIRED,
                format!("the certificate of device {} has expired", cert.device),
            ));
        }
        if revoked
            .iter()
            .any(|r| r.device == cert.device && r.at >= cert.issued)
        {
            return Err(refused(
                codes::CERTIFICATE_REVOKED,
                format!("device {} was revoked", cert.device),
            ));
        }
        let key = crate::evidence::public_key(&cert.device_key).ok_or_else(|| invalid("key"))?;
        let scope = JurisdictionPath::parse(&cert.scope).map_err(|_| invalid("scope"))?;
        let identity = Identity::new(cert.user, cert.role, scope, cert.department, cert.device)
            .map_err(|_| invalid("identity"))?;
        Ok(Peer {
            identity,
            key,
            expires: cert.expires,
        })
    }
}

/// One step of a peer session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PeerMessage {
    /// Opener → answerer: who I am, and a nonce to sign.
    Hello {
        certificate: ByteBuf,
        nonce: ByteBuf,
    },
    /// Answerer → opener: who I am, my nonce, the cases I may show you with their heads,
    /// signed over your nonce.
    Reply {
        certificate: ByteBuf,
        nonce: ByteBuf,
        offer: Vec<Offered>,
        proof: ByteBuf,
    },
    /// What the other lacks, sealed to it (the opener's adds its own offer), signed over the
    /// receiver's nonce.
    Give {
        offer: Vec<Offered>,
        sealed: ByteBuf,
        proof: ByteBuf,
    },
}

/// A case one phone may show another, and exactly which changes of it the phone holds: every
/// ancestor of `base` (what the server acknowledged to it) and the changes in `have` (those it
/// holds beyond). The giver sends the changes it holds outside that set — no more, though the
/// two phones' latest changes are unknown to each other (a bare list of heads would leave the
/// giver to send the whole case whenever the receiver edited it too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offered {
    pub doc: String,
    pub base: Vec<ByteBuf>,
    pub have: Vec<ByteBuf>,
    /// The case's photos it holds (taken or as thumbnails): no thumbnail of them is sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
    /// The ids of the case's keys it holds (or knows erased): not sent again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

/// What one phone gives another: changes, keys, thumbnails. Travels sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Per case, changes the receiver lacks. `by` names, per change, the device that made it
    /// when the server may not have it yet (its signature in `sigs`; the receiver carries it);
    /// an empty name: the server has it.
    pub cases: Vec<DocChanges>,
    /// Case keys sealed to the receiver, only of cases whose personal data it reads.
    #[serde(default)]
    pub keys: Vec<SealedKey>,
    #[serde(default)]
    pub thumbnails: Vec<PeerThumbnail>,
}

/// A JPEG thumbnail of an attached photo, named by the photo's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerThumbnail {
    pub sha256: String,
    pub bytes: ByteBuf,
}

/// A bundle file: one phone's cases for one named colleague's device, for a USB stick or a
/// messaging app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub certificate: ByteBuf,
    /// The device it is for.
    pub to: String,
    pub made: i64,
    pub sealed: ByteBuf,
    pub proof: ByteBuf,
}

/// Which message a proof signs: a signature over one cannot pass for another.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub enum ProofOf {
    Reply = 1,
    Give = 2,
    Bundle = 3,
}

pub fn encode_message(msg: &PeerMessage) -> Result<Vec<u8>> {
    protocol::encode(MessageKind::Peer, msg)
}

pub fn decode_message(bytes: &[u8]) -> Result<PeerMessage> {
    protocol::decode(MessageKind::Peer, bytes)
}

pub fn encode_bundle(bundle: &Bundle) -> Result<Vec<u8>> {
    protocol::encode(MessageKind::Bundle, bundle)
}

pub fn decode_bundle(bytes: &[u8]) -> Result<Bundle> {
    protocol::decode(MessageKind::Bundle, bytes)
}

/// The sender's signature over a message's body, bound to what it proves and the receiver's
/// `nonce` (or, for a bundle, its device id).
pub fn prove(me: &SigningKey, what: ProofOf, nonce: &[u8], body: &[&[u8]]) -> ByteBuf {
    let digest = proof_digest(what, nonce, body);
    ByteBuf::from(me.sign(&digest).to_bytes().to_vec())
}

/// Checks a proof made by [`prove`] under the sender's certified key.
pub fn check_proof(
    key: &VerifyingKey,
    what: ProofOf,
    nonce: &[u8],
    body: &[&[u8]],
    proof: &[u8],
) -> Result<()> {
    let bad = || {
        refused(
            codes::PROOF_INVALID,
            "the message is not signed by the certified device",
        )
    };
    let sig = Signature::from_slice(proof).map_err(|_| bad())?;
    key.verify(&proof_digest(what, nonce, body), &sig)
        .map_err(|_| bad())
}

/// An offer's bytes, as a proof covers them.
pub fn offer_bytes(offer: &[Offered]) -> Result<Vec<u8>> {
    cbor(&offer)
}

/// `payload` sealed to `to` for the message bound to `nonce`: deflated first, as sealed bytes
/// no longer compress (the envelope's own deflate gains nothing on them).
pub fn seal_payload(to: &VerifyingKey, nonce: &[u8], payload: &Payload) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    z.write_all(&cbor(payload)?)
        .map_err(|e| Error::Malformed(format!("deflate: {e}")))?;
    let packed = z
        .finish()
        .map_err(|e| Error::Malformed(format!("deflate: {e}")))?;
    Ok(seal_bytes_to(to, &packed, &payload_aad(nonce)))
}

/// Opens a payload sealed to `me` for the message bound to `nonce` (inflating at most
/// `protocol::MAX_BODY_BYTES`).
pub fn open_payload(me: &SigningKey, nonce: &[u8], sealed: &[u8]) -> Result<Payload> {
    use std::io::Read;
    let packed = open_bytes_with(me, sealed, &payload_aad(nonce)).ok_or_else(|| {
        refused(
            codes::SEALED_FOR_ANOTHER,
            "what the message gives is sealed for another device",
        )
    })?;
    let mut plain = Vec::new();
    flate2::bufread::DeflateDecoder::new(packed.as_slice())
        .take(protocol::MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| Error::Malformed(format!("deflate: {e}")))?;
    if plain.len() > protocol::MAX_BODY_BYTES {
        return Err(Error::TooLarge {
            what: "peer payload",
            size: plain.len(),
            limit: protocol::MAX_BODY_BYTES,
        });
    }
    from_cbor(&plain)
}

fn payload_aad(nonce: &[u8]) -> Vec<u8> {
    let mut aad = PEER_DOMAIN.to_vec();
    aad.extend_from_slice(b"\0payload\0");
    aad.extend_from_slice(nonce);
    aad
}

fn proof_digest(what: ProofOf, nonce: &[u8], body: &[&[u8]]) -> [u8; 32] {
    let kind = [what as u8];
    let mut parts: Vec<&[u8]> = vec![&kind, nonce];
    parts.extend_from_slice(body);
    domain_hash(PEER_DOMAIN, &parts)
}

/// SHA-256 over the domain and each part, length-prefixed (no two splits hash alike).
fn domain_hash(domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain);
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// A fresh 32-byte nonce.
pub fn nonce() -> Vec<u8> {
    use rand::RngCore;
    let mut n = vec![0u8; 32];
    rand::rng().fill_bytes(&mut n);
    n
}

fn cbor<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).map_err(|e| Error::Malformed(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> Identity {
        Identity::new(
            "wang",
            Role::GridWorker,
            JurisdictionPath::parse("130322/101/201/01").unwrap(),
            None,
            "phone-wang",
        )
        .unwrap()
    }

    #[test]
    fn a_certificate_checks_until_it_expires_or_its_device_is_revoked() {
        let server = SigningKey::from_bytes(&[1; 32]);
        let device = SigningKey::from_bytes(&[2; 32]);
        let bytes = Certificate::of(&worker(), &device.verifying_key(), 1_000)
            .sign(&server)
            .unwrap();
        let peer = Certificate::check(&bytes, &server.verifying_key(), 2_000, &[]).unwrap();
        assert_eq!(peer.identity, worker());
        assert_eq!(peer.key, device.verifying_key());
        let code = |r: Result<Peer>| r.unwrap_err().code();
        let late = 1_000 + CERTIFICATE_LIFETIME_MS;
        assert_eq!(
            code(Certificate::check(
                &bytes,
                &server.verifying_key(),
                late,
                &[]
            )),
            codes::CERTIFICATE_EXPIRED
        );
        let revoked = [Revocation {
            device: "phone-wang".into(),
            at: 1_500,
        }];
        assert_eq!(
            code(Certificate::check(
                &bytes,
                &server.verifying_key(),
                2_000,
                &revoked
            )),
            codes::CERTIFICATE_REVOKED
        );
        // Issued after the revocation (the device was given back): good.
        let later = Certificate::of(&worker(), &device.verifying_key(), 1_600)
            .sign(&server)
            .unwrap();
        assert!(Certificate::check(&later, &server.verifying_key(), 2_000, &revoked).is_ok());
        // Another server's signature, or one bit changed: refused.
        let other = SigningKey::from_bytes(&[3; 32]);
        assert_eq!(
            code(Certificate::check(
                &bytes,
                &other.verifying_key(),
                2_000,
                &[]
            )),
            codes::CERTIFICATE_INVALID
        );
        for i in 0..bytes.len() {
            let mut bent = bytes.clone();
            bent[i] ^= 0x10;
            assert!(Certificate::check(&bent, &server.verifying_key(), 2_000, &[]).is_err());
        }
    }

    #[test]
    fn a_proof_binds_its_kind_nonce_and_body() {
        let me = SigningKey::from_bytes(&[4; 32]);
        let key = me.verifying_key();
        let p = prove(&me, ProofOf::Give, b"n1", &[b"body"]);
        assert!(check_proof(&key, ProofOf::Give, b"n1", &[b"body"], &p).is_ok());
        assert!(check_proof(&key, ProofOf::Reply, b"n1", &[b"body"], &p).is_err());
        assert!(check_proof(&key, ProofOf::Give, b"n2", &[b"body"], &p).is_err());
        assert!(check_proof(&key, ProofOf::Give, b"n1", &[b"bodY"], &p).is_err());
        assert!(check_proof(&key, ProofOf::Give, b"n1", &[b"bo", b"dy"], &p).is_err());
    }

    #[test]
    fn a_payload_opens_only_for_its_device_and_message() {
        let to = SigningKey::from_bytes(&[5; 32]);
        let other = SigningKey::from_bytes(&[6; 32]);
        let payload = Payload {
            thumbnails: vec![PeerThumbnail {
                sha256: "ab".into(),
                bytes: ByteBuf::from(vec![1, 2, 3]),
            }],
            ..Payload::default()
        };
        let sealed = seal_payload(&to.verifying_key(), b"n", &payload).unwrap();
        assert_eq!(open_payload(&to, b"n", &sealed).unwrap(), payload);
        let code = |r: Result<Payload>| r.unwrap_err().code();
        assert_eq!(
            code(open_payload(&other, b"n", &sealed)),
            codes::SEALED_FOR_ANOTHER
        );
        assert_eq!(
            code(open_payload(&to, b"m", &sealed)),
            codes::SEALED_FOR_ANOTHER
        );
    }

    #[test]
    fn messages_round_trip_and_refuse_other_kinds() {
        let msg = PeerMessage::Hello {
            certificate: ByteBuf::from(vec![1]),
            nonce: ByteBuf::from(nonce()),
        };
        let bytes = encode_message(&msg).unwrap();
        assert_eq!(decode_message(&bytes).unwrap(), msg);
        assert!(decode_bundle(&bytes).is_err());
        assert!(decode_message(&bytes[..bytes.len() - 1]).is_err());
    }
}
