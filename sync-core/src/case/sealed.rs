//! Personal values sealed per case (ADR 0029): a case's people's names and phone numbers are
//! written into its document as `gsp1:<key id>:<base64url(nonce ‖ XChaCha20-Poly1305)>` under one
//! of the case's own keys, bound to the case, the field and the key. A history never forgets,
//! so forgetting is destroying the key: every copy of the value, in every replica, export and
//! backup, is then ciphertext nobody can open.
//!
//! Case keys travel sealed to one recipient: the server's or a device's X25519 key, the
//! Montgomery form of its Ed25519 key (ADR 0028), with an ephemeral key per envelope.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// What a reader sees where the case's personal data was erased.
pub const ERASED_TEXT: &str = "个人信息已删除";
/// What a reader sees where a value is sealed under a key this copy does not hold.
pub const LOCKED_TEXT: &str = "（加密）";

const PREFIX: &str = "gsp1:";
const NONCE: usize = 24;
const TAG: usize = 16;
/// An envelope: the ephemeral X25519 public key, the nonce, the sealed 32-byte key and its tag.
pub const ENVELOPE_BYTES: usize = 32 + NONCE + 32 + TAG;
/// A key wrapped at rest ([`wrap_key`]): the nonce, the sealed 32-byte key and its tag.
pub const WRAPPED_BYTES: usize = NONCE + 32 + TAG;

/// The personal fields of a person, as named in a sealed value's associated data.
pub const PERSON_NAME: &str = "people.name";
pub const PERSON_PHONE: &str = "people.phone";

/// The sealed field a conflict path such as `people.2.name` names, if any.
pub fn personal_field(path: &str) -> Option<&'static str> {
    let mut parts = path.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("people"), Some(_), Some("name"), None) => Some(PERSON_NAME),
        (Some("people"), Some(_), Some("phone"), None) => Some(PERSON_PHONE),
        _ => None,
    }
}

/// One data key of one case.
#[derive(Clone)]
pub struct CaseKey {
    case: String,
    id: String,
    secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for CaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaseKey({}, {})", self.case, self.id)
    }
}

impl CaseKey {
    /// A fresh random key for `case`.
    pub fn generate(case: &str) -> CaseKey {
        let mut secret = Zeroizing::new([0u8; 32]);
        let mut id = [0u8; 8];
        rand::rng().fill_bytes(secret.as_mut());
        rand::rng().fill_bytes(&mut id);
        CaseKey {
            case: case.to_owned(),
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            secret,
        }
    }

    /// A key read back from storage or an envelope; the id must be 16 lowercase hex digits.
    pub fn from_parts(case: &str, id: &str, secret: [u8; 32]) -> Result<CaseKey> {
        check_key_id(id)?;
        Ok(CaseKey {
            case: case.to_owned(),
            id: id.to_owned(),
            secret: Zeroizing::new(secret),
        })
    }

    pub fn case(&self) -> &str {
        &self.case
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// `plain` sealed for `field` of this key's case; an empty value stays empty (nothing to hide,
    /// and "no phone number" reads the same to everyone).
    pub fn seal(&self, field: &str, plain: &str) -> String {
        if plain.is_empty() {
            return String::new();
        }
        let aad = value_aad(&self.case, field, &self.id);
        let body = aead_seal(&self.secret, plain.as_bytes(), &aad);
        format!("{PREFIX}{}:{}", self.id, B64.encode(body))
    }

    fn open(&self, field: &str, body: &str) -> Option<String> {
        let bytes = B64.decode(body).ok()?;
        let aad = value_aad(&self.case, field, &self.id);
        let plain = aead_open(&self.secret, &bytes, &aad)?;
        String::from_utf8(plain).ok()
    }
}

/// The key id a sealed value names, or `None` for a plain value.
pub fn sealed_key_id(value: &str) -> Option<&str> {
    let rest = value.strip_prefix(PREFIX)?;
    let (id, _) = rest.split_once(':')?;
    Some(id)
}

/// The keys of one case a copy holds, and the ids of its keys that were erased.
#[derive(Debug, Clone, Default)]
pub struct CaseKeys {
    keys: Vec<CaseKey>,
    erased: BTreeSet<String>,
}

impl CaseKeys {
    pub fn new(keys: Vec<CaseKey>, erased: impl IntoIterator<Item = String>) -> CaseKeys {
        CaseKeys {
            keys,
            erased: erased.into_iter().collect(),
        }
    }

    pub fn keys(&self) -> &[CaseKey] {
        &self.keys
    }

    pub fn is_erased(&self, id: &str) -> bool {
        self.erased.contains(id)
    }

    /// The ids of the erased keys.
    pub fn erased_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.erased.iter().cloned()
    }

    /// The key new personal values are sealed under: the newest one held.
    pub fn for_writing(&self) -> Option<&CaseKey> {
        self.keys.last()
    }

    /// `value` of `field` as a reader with these keys sees it: plain values as they are, sealed
    /// ones opened, [`ERASED_TEXT`] where the key was erased, [`LOCKED_TEXT`] where it is not
    /// held (or the value was altered).
    pub fn open(&self, field: &str, value: &str) -> String {
        let Some(rest) = value.strip_prefix(PREFIX) else {
            return value.to_owned();
        };
        let Some((id, body)) = rest.split_once(':') else {
            return LOCKED_TEXT.to_owned();
        };
        if self.erased.contains(id) {
            return ERASED_TEXT.to_owned();
        }
        self.keys
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| k.open(field, body))
            .unwrap_or_else(|| LOCKED_TEXT.to_owned())
    }
}

/// Whether `value` is one of the texts a reader sees in place of a value it cannot open.
pub fn is_withheld(value: &str) -> bool {
    value == ERASED_TEXT || value == LOCKED_TEXT
}

/// Seals case keys to the holder of one Ed25519 key (a device's or the server's): ephemeral
/// X25519 against its Montgomery form, the shared secret hashed into an XChaCha20-Poly1305 key,
/// the case and key id bound as associated data. One ephemeral key per sealer — one per
/// message — so a response with hundreds of keys costs one key agreement, not hundreds, and
/// one that seals none (most syncs) costs none: the agreement is made at the first seal. Each
/// envelope still carries the ephemeral public key and its own nonce, [`ENVELOPE_BYTES`] long.
pub struct KeySealer {
    their: MontgomeryPoint,
    /// The ephemeral public key and the envelope key, once something was sealed.
    agreed: std::sync::OnceLock<(MontgomeryPoint, Zeroizing<[u8; 32]>)>,
}

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySealer(..)")
    }
}

impl std::fmt::Debug for KeyOpener<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyOpener(..)")
    }
}

impl KeySealer {
    pub fn to(recipient: &VerifyingKey) -> KeySealer {
        KeySealer {
            their: recipient.to_montgomery(),
            agreed: std::sync::OnceLock::new(),
        }
    }

    pub fn seal(&self, key: &CaseKey) -> Vec<u8> {
        let (eph_pub, wrap) = self.agreed();
        let mut out = eph_pub.to_bytes().to_vec();
        out.extend(seal_secret(wrap, key));
        out
    }

    /// The ephemeral public key and the envelope key, agreed at the first call.
    fn agreed(&self) -> &(MontgomeryPoint, Zeroizing<[u8; 32]>) {
        self.agreed.get_or_init(|| {
            let mut eph = Zeroizing::new([0u8; 32]);
            rand::rng().fill_bytes(eph.as_mut());
            let eph_pub = MontgomeryPoint::mul_base_clamped(*eph);
            let shared = Zeroizing::new(self.their.mul_clamped(*eph).to_bytes());
            (eph_pub, envelope_key(&shared, &eph_pub, &self.their))
        })
    }
}

/// Opens envelopes sealed to the holder of `me`, remembering the key agreement per ephemeral
/// key (the envelopes of one message share one).
pub struct KeyOpener<'a> {
    me: &'a SigningKey,
    mine: MontgomeryPoint,
    agreed: Vec<([u8; 32], Zeroizing<[u8; 32]>)>,
}

impl<'a> KeyOpener<'a> {
    pub fn new(me: &'a SigningKey) -> KeyOpener<'a> {
        KeyOpener {
            me,
            mine: me.verifying_key().to_montgomery(),
            agreed: Vec::new(),
        }
    }

    /// The key in `envelope`, which must name `case` and `id`.
    pub fn open(&mut self, case: &str, id: &str, envelope: &[u8]) -> Result<CaseKey> {
        let bad = || Error::Storage("a case key's envelope does not open".into());
        if envelope.len() != ENVELOPE_BYTES {
            return Err(bad());
        }
        check_key_id(id)?;
        let eph: [u8; 32] = envelope[..32].try_into().map_err(|_| bad())?;
        let wrap = match self.agreed.iter().find(|(e, _)| *e == eph) {
            Some((_, wrap)) => wrap.clone(),
            None => {
                let eph_pub = MontgomeryPoint(eph);
                let shared =
                    Zeroizing::new(eph_pub.mul_clamped(self.me.to_scalar_bytes()).to_bytes());
                let wrap = envelope_key(&shared, &eph_pub, &self.mine);
                // A message holds one ephemeral key; a few are remembered, not unboundedly many.
                if self.agreed.len() < 8 {
                    self.agreed.push((eph, wrap.clone()));
                }
                wrap
            }
        };
        open_secret(&wrap, case, id, &envelope[32..]).ok_or_else(bad)
    }
}

/// `key` sealed alone to the holder of `recipient` ([`KeySealer`] for many).
pub fn seal_key_to(recipient: &VerifyingKey, key: &CaseKey) -> Vec<u8> {
    KeySealer::to(recipient).seal(key)
}

/// Opens one envelope made for the holder of `me`, naming `case` and `id` ([`KeyOpener`] for
/// many).
pub fn open_key_with(me: &SigningKey, case: &str, id: &str, envelope: &[u8]) -> Result<CaseKey> {
    KeyOpener::new(me).open(case, id, envelope)
}

/// Any bytes sealed to the holder of `recipient`, bound to `aad`: ephemeral X25519 key ‖
/// nonce ‖ ciphertext ‖ tag. What a phone gives a colleague's phone travels this way (ADR 0030).
pub fn seal_bytes_to(recipient: &VerifyingKey, plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let sealer = KeySealer::to(recipient);
    let (eph_pub, wrap) = sealer.agreed();
    let mut out = eph_pub.to_bytes().to_vec();
    out.extend(aead_seal(wrap, plain, aad));
    out
}

/// What [`seal_bytes_to`] sealed for the holder of `me` with `aad`, or `None`.
pub fn open_bytes_with(me: &SigningKey, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    let eph: [u8; 32] = sealed.get(..32)?.try_into().ok()?;
    let eph_pub = MontgomeryPoint(eph);
    let shared = Zeroizing::new(eph_pub.mul_clamped(me.to_scalar_bytes()).to_bytes());
    let wrap = envelope_key(&shared, &eph_pub, &me.verifying_key().to_montgomery());
    aead_open(&wrap, &sealed[32..], aad)
}

/// A key kept at rest under a deployment's (or store's) 32-byte key: nonce ‖ ciphertext.
pub fn wrap_key(under: &[u8; 32], key: &CaseKey) -> Vec<u8> {
    seal_secret(under, key)
}

/// Opens a key made by [`wrap_key`].
pub fn unwrap_key(under: &[u8; 32], case: &str, id: &str, wrapped: &[u8]) -> Result<CaseKey> {
    open_secret(under, case, id, wrapped).ok_or_else(|| {
        Error::Storage(format!(
            "case key {id} of {case} does not open: wrong data key?"
        ))
    })
}

/// `key`'s secret sealed under `wrap`, bound to its case and id: nonce ‖ ciphertext ‖ tag
/// (what an envelope carries after its ephemeral key, and what is kept at rest).
fn seal_secret(wrap: &[u8; 32], key: &CaseKey) -> Vec<u8> {
    aead_seal(wrap, key.secret.as_ref(), &envelope_aad(&key.case, &key.id))
}

/// The key [`seal_secret`] sealed, if `sealed` opens under `wrap` as key `id` of `case`.
fn open_secret(wrap: &[u8; 32], case: &str, id: &str, sealed: &[u8]) -> Option<CaseKey> {
    if sealed.len() != WRAPPED_BYTES {
        return None;
    }
    let plain = Zeroizing::new(aead_open(wrap, sealed, &envelope_aad(case, id))?);
    let secret: [u8; 32] = plain.as_slice().try_into().ok()?;
    CaseKey::from_parts(case, id, secret).ok()
}

/// XChaCha20-Poly1305 with a random nonce: nonce ‖ ciphertext ‖ tag.
fn aead_seal(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE];
    rand::rng().fill_bytes(&mut nonce);
    // Encryption with a valid key and nonce length cannot fail.
    let ct = cipher(key)
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    out
}

/// What [`aead_seal`] sealed, if it opens under `key` with `aad`.
fn aead_open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE + TAG {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE);
    cipher(key)
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

/// A key id is 16 lowercase hex digits.
pub fn check_key_id(id: &str) -> Result<()> {
    if id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: "key_id".into(),
            reason: "expected 16 lowercase hex digits".into(),
        })
    }
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

fn value_aad(case: &str, field: &str, id: &str) -> Vec<u8> {
    format!("gridsync personal v1\0{case}\0{field}\0{id}").into_bytes()
}

fn envelope_aad(case: &str, id: &str) -> Vec<u8> {
    format!("gridsync case key v1\0{case}\0{id}").into_bytes()
}

fn envelope_key(
    shared: &[u8; 32],
    eph: &MontgomeryPoint,
    recipient: &MontgomeryPoint,
) -> Zeroizing<[u8; 32]> {
    let mut h = Sha256::new();
    h.update(b"gridsync key envelope v1");
    h.update(shared);
    h.update(eph.as_bytes());
    h.update(recipient.as_bytes());
    Zeroizing::new(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_case_and_field() {
        let key = CaseKey::generate("c1");
        let sealed = key.seal(PERSON_NAME, "鑫淼");
        assert!(sealed.starts_with("gsp1:") && !sealed.contains("鑫"));
        assert_eq!(sealed_key_id(&sealed), Some(key.id()));
        let held = CaseKeys::new(vec![key.clone()], []);
        assert_eq!(held.open(PERSON_NAME, &sealed), "鑫淼");
        // Moved to another field, or read under another case's key of the same id: refused.
        assert_eq!(held.open(PERSON_PHONE, &sealed), LOCKED_TEXT);
        let other = CaseKey::from_parts("c2", key.id(), *key.secret()).unwrap();
        assert_eq!(
            CaseKeys::new(vec![other], []).open(PERSON_NAME, &sealed),
            LOCKED_TEXT
        );
        assert_eq!(CaseKeys::default().open(PERSON_NAME, &sealed), LOCKED_TEXT);
        let erased = CaseKeys::new(vec![], [key.id().to_owned()]);
        assert_eq!(erased.open(PERSON_NAME, &sealed), ERASED_TEXT);
        assert_eq!(held.open(PERSON_NAME, "plain"), "plain");
        assert_eq!(key.seal(PERSON_PHONE, ""), "");
    }

    #[test]
    fn an_envelope_opens_for_its_recipient_only() {
        let device = SigningKey::from_bytes(&[7u8; 32]);
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let key = CaseKey::generate("c1");
        let env = seal_key_to(&device.verifying_key(), &key);
        assert_eq!(env.len(), ENVELOPE_BYTES);
        let opened = open_key_with(&device, "c1", key.id(), &env).unwrap();
        assert_eq!(opened.secret(), key.secret());
        assert!(open_key_with(&other, "c1", key.id(), &env).is_err());
        assert!(open_key_with(&device, "c2", key.id(), &env).is_err());
        let mut bent = env.clone();
        bent[40] ^= 1;
        assert!(open_key_with(&device, "c1", key.id(), &bent).is_err());
        assert!(open_key_with(&device, "c1", key.id(), &env[..50]).is_err());
    }

    #[test]
    fn one_sealer_makes_one_key_agreement_for_all_its_envelopes() {
        let device = SigningKey::from_bytes(&[7u8; 32]);
        let (k1, k2) = (CaseKey::generate("c1"), CaseKey::generate("c2"));
        let sealer = KeySealer::to(&device.verifying_key());
        let (e1, e2) = (sealer.seal(&k1), sealer.seal(&k2));
        // One ephemeral key for both envelopes, each still opening on its own.
        assert_eq!(e1[..32], e2[..32]);
        assert_eq!(
            open_key_with(&device, "c2", k2.id(), &e2).unwrap().secret(),
            k2.secret()
        );
        assert_eq!(
            open_key_with(&device, "c1", k1.id(), &e1).unwrap().secret(),
            k1.secret()
        );
        // Another sealer (another message) agrees afresh.
        let e3 = KeySealer::to(&device.verifying_key()).seal(&k1);
        assert_ne!(e1[..32], e3[..32]);
    }

    #[test]
    fn a_wrapped_key_opens_under_its_data_key_only() {
        let key = CaseKey::generate("c1");
        let w = wrap_key(&[1u8; 32], &key);
        assert_eq!(
            unwrap_key(&[1u8; 32], "c1", key.id(), &w).unwrap().secret(),
            key.secret()
        );
        assert!(unwrap_key(&[2u8; 32], "c1", key.id(), &w).is_err());
        assert!(unwrap_key(&[1u8; 32], "c1", key.id(), &[]).is_err());
    }

    #[test]
    fn conflict_paths_name_their_sealed_field() {
        assert_eq!(personal_field("people.3.name"), Some(PERSON_NAME));
        assert_eq!(personal_field("people.0.phone"), Some(PERSON_PHONE));
        assert_eq!(personal_field("people.0.role"), None);
        assert_eq!(personal_field("title"), None);
    }
}
