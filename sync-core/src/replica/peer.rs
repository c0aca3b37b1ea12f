//! What this phone shows and gives a colleague's phone, and takes from it (ADR 0030): the
//! device certificate and the revocations it learnt from the server, the cases a peer may read
//! with their heads, the changes it lacks (each with who made it and its signature while the
//! server may lack it), and, on receipt, the merge — a colleague's changes the server may lack
//! go into the outbox tagged with their author, so this phone carries them at its next sync.

use std::collections::{HashMap, HashSet};

use automerge::ChangeHash;
use rusqlite::Connection;
use serde_bytes::ByteBuf;

use super::cases::{load_doc, rejected_hashes, store_doc};
use super::keys::{case_keys_in, take_keys};
use super::outbox::{Queued, RelayedBy, queue_change, queued_changes};
use super::seal::Sealer;
use super::store::{put_secret, secret_in};
use super::{BlobCopy, Replica, storage};
use crate::access::Identity;
use crate::attachment::{has_thumbnail, make_thumbnail};
use crate::case::sealed::KeySealer;
use crate::case::{Case, CaseDoc, ChangeAuthor, parse_change};
use crate::peer::{Certificate, Offered, Payload, Peer, PeerThumbnail, codes};
use crate::protocol::{DocChanges, Revocation, SealedKey, hash_bytes, to_hash};
use crate::vocab::{Millis, validate_case_id};
use crate::workflow;
use crate::{Error, Result};

const CERTIFICATE: &str = "certificate";
const REVOKED: &str = "revoked";
/// The largest thumbnail taken from a peer (the server's are 320 px JPEGs, a few tens of KB).
const MAX_THUMBNAIL_BYTES: usize = 256 * 1024;

/// What a peer's payload did here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerTaken {
    /// Cases that changed here, sorted.
    pub cases: Vec<String>,
    /// Changes new to this phone.
    pub changes: usize,
    /// Of them, colleagues' changes this phone now carries to the server.
    pub to_carry: usize,
    /// Cases refused whole: outside this account's reading, unreadable, or a change the peer
    /// signed that does not verify.
    pub refused: usize,
    pub thumbnails: usize,
}

/// Keeps a certificate and revocations from a sync response, in the response's transaction.
/// `revoked` is `None` unless the request asked (`certificate_until`); asked, the response's
/// list is the whole of what a certificate in force may need, so it replaces the one held.
pub(super) fn take_certificate(
    conn: &Connection,
    seal: &Sealer,
    certificate: Option<&[u8]>,
    revoked: Option<&[Revocation]>,
) -> Result<()> {
    if let Some(bytes) = certificate {
        // Unreadable bytes are not kept: the next sync asks again.
        if Certificate::read(bytes).is_ok() {
            put_secret(conn, seal, CERTIFICATE, bytes)?;
        }
    }
    if let Some(revoked) = revoked {
        let mut bytes = Vec::new();
        ciborium::into_writer(&revoked, &mut bytes).map_err(|e| Error::Storage(e.to_string()))?;
        put_secret(conn, seal, REVOKED, &bytes)?;
    }
    Ok(())
}

fn revocations_in(conn: &Connection, seal: &Sealer) -> Result<Vec<Revocation>> {
    match secret_in(conn, seal, REVOKED)? {
        None => Ok(Vec::new()),
        Some(plain) => {
            ciborium::from_reader(plain.as_slice()).map_err(|e| Error::Storage(e.to_string()))
        }
    }
}

/// The ids of a case's keys, held or erased.
fn key_ids(keys: &crate::case::sealed::CaseKeys) -> Vec<String> {
    keys.keys()
        .iter()
        .map(|k| k.id().to_owned())
        .chain(keys.erased_ids())
        .collect()
}

/// Whether `who` may read `case`, and its personal data, by the same rule as the hub's pull.
fn reads(who: &Identity, case: &Case) -> (bool, bool) {
    let wf = workflow::fold(&case.events);
    let departments = wf.departments();
    (
        who.may_read(case.kind, &case.jurisdiction, &departments),
        who.reads_personal_data(case.kind, &case.jurisdiction, &departments),
    )
}

impl Replica {
    /// The device certificate this phone holds (from its sign-in or last sync), to show a colleague's
    /// phone or to put on a QR code for a bundle.
    pub fn certificate(&self) -> Result<Option<Vec<u8>>> {
        self.secret(CERTIFICATE)
    }

    /// Keeps a certificate (from a sign-in, or a test's hub).
    pub fn set_certificate(&self, bytes: &[u8]) -> Result<()> {
        Certificate::read(bytes)?;
        self.set_secret(CERTIFICATE, bytes)
    }

    /// When the held certificate expires (0: none), for the server to renew it; `None` for a
    /// store without a device key (it cannot meet peers).
    pub(super) fn certificate_until(&self) -> Result<Option<i64>> {
        if self.sign_key.is_none() {
            return Ok(None);
        }
        let until = self
            .certificate()?
            .and_then(|b| Certificate::read(&b).ok())
            .map_or(0, |c| c.expires);
        Ok(Some(until))
    }

    /// Checks a colleague's certificate with the server's key and the revocations known here.
    pub fn check_peer(&self, certificate: &[u8], now: Millis) -> Result<Peer> {
        let me = self.who()?;
        let server = self.server_key()?.ok_or_else(|| Error::Peer {
            code: codes::NO_CERTIFICATE,
            reason: "this phone has not synced with the server yet".into(),
        })?;
        let peer = Certificate::check(
            certificate,
            &server,
            now,
            &revocations_in(&self.conn, &self.seal)?,
        )?;
        if peer.identity.device == me.device {
            return Err(Error::Peer {
                code: codes::OUT_OF_ORDER,
                reason: "a phone cannot meet itself".into(),
            });
        }
        Ok(peer)
    }

    /// This phone's own certificate, to show a colleague's phone: refused `no_certificate`
    /// when it holds none in force (sync to get or renew it).
    pub fn my_certificate(&self, now: Millis) -> Result<Vec<u8>> {
        let none = |why: &str| Error::Peer {
            code: codes::NO_CERTIFICATE,
            reason: why.to_owned(),
        };
        let bytes = self.certificate()?.ok_or_else(|| {
            none("this phone holds no certificate yet: sign in or sync once first")
        })?;
        let cert = Certificate::read(&bytes)?;
        if cert.expires <= now {
            return Err(none(
                "this phone's certificate has expired: sync to renew it",
            ));
        }
        Ok(bytes)
    }

    /// The device key this phone proves itself with to a colleague's phone.
    pub fn peer_key(&self) -> Result<&crate::evidence::SigningKey> {
        self.sign_key.as_ref().ok_or_else(|| Error::Peer {
            code: codes::NO_CERTIFICATE,
            reason: "this store has no device key".into(),
        })
    }

    /// The cases this phone may show `peer`, with what it holds of each: those `peer` may
    /// read, judged here on this phone's copy by the hub's own rule.
    pub fn peer_offer(&self, peer: &Identity) -> Result<Vec<Offered>> {
        let mut offer = Vec::new();
        for id in self.case_ids()? {
            let (mut doc, acked) = load_doc(&self.conn, &self.seal, &id)?;
            let Ok(case) = doc.read() else { continue };
            if reads(peer, &case).0 {
                let keys = key_ids(&case_keys_in(&self.conn, &self.seal, &id)?);
                offer.push(Offered {
                    doc: id,
                    have: doc.hashes_since(&acked).iter().map(hash_bytes).collect(),
                    base: acked.iter().map(hash_bytes).collect(),
                    photos: self.photos_held(&case)?,
                    keys,
                });
            }
        }
        Ok(offer)
    }

    /// What `peer` lacks of the cases in `offer` (what this phone may show it), given what it
    /// holds (`theirs`): the changes outside its base and its own (the whole case when it
    /// holds none), with who made each and its signature while the server may lack it; the
    /// case keys of cases whose personal data `peer` reads, sealed to it; photos' thumbnails.
    pub fn peer_payload(
        &self,
        peer: &Peer,
        offer: &[Offered],
        theirs: &[Offered],
    ) -> Result<Payload> {
        let me = self.who()?;
        let theirs: HashMap<&str, &Offered> = theirs.iter().map(|o| (o.doc.as_str(), o)).collect();
        let sealer = KeySealer::to(&peer.key);
        let mut payload = Payload::default();
        for o in offer {
            let (mut doc, acked) = load_doc(&self.conn, &self.seal, &o.doc)?;
            let Ok(case) = doc.read() else { continue };
            let (may, personal) = reads(&peer.identity, &case);
            if !may {
                continue;
            }
            // What it holds, as far as this phone knows those changes: none of their
            // ancestors is sent.
            let mut known: Vec<ChangeHash> = Vec::new();
            if let Some(held) = theirs.get(o.doc.as_str()) {
                for h in held.base.iter().chain(&held.have) {
                    let h = to_hash(h)?;
                    if doc.has_change(&h) {
                        known.push(h);
                    }
                }
            }
            let changes = doc.changes_since(&known);
            if changes.is_empty() {
                continue;
            }
            payload
                .cases
                .push(self.attributed(&mut doc, &acked, &o.doc, &me, changes)?);
            let seen = theirs.get(o.doc.as_str());
            if personal {
                let held = case_keys_in(&self.conn, &self.seal, &o.doc)?;
                let given = held
                    .keys()
                    .iter()
                    .filter(|k| !seen.is_some_and(|t| t.keys.iter().any(|id| id == k.id())));
                for key in given {
                    payload.keys.push(SealedKey {
                        doc: o.doc.clone(),
                        id: key.id().to_owned(),
                        envelope: ByteBuf::from(sealer.seal(key)),
                    });
                }
            }
            for a in case.attachments.iter().filter(|a| has_thumbnail(&a.mime)) {
                let held = seen.is_some_and(|t| t.photos.contains(&a.sha256));
                if held || payload.thumbnails.iter().any(|t| t.sha256 == a.sha256) {
                    continue;
                }
                let thumb = match self.copy(&a.sha256, BlobCopy::Thumbnail)? {
                    Some(t) => Some(t),
                    None => self.blob(&a.sha256)?.and_then(|b| make_thumbnail(&b)),
                };
                if let Some(bytes) = thumb {
                    payload.thumbnails.push(PeerThumbnail {
                        sha256: a.sha256.clone(),
                        bytes: ByteBuf::from(bytes),
                    });
                }
            }
        }
        Ok(payload)
    }

    /// The photos of `case` this phone holds in some form.
    fn photos_held(&self, case: &Case) -> Result<Vec<String>> {
        let mut held = Vec::new();
        for a in &case.attachments {
            let here = self.blob_here(&a.sha256)?;
            if here.original || here.thumbnail {
                held.push(a.sha256.clone());
            }
        }
        Ok(held)
    }

    /// `changes` of case `id` with, for each the server may lack, the device that made it and
    /// its signature: this phone's own signed now, a carried one's as it came.
    fn attributed(
        &self,
        doc: &mut CaseDoc,
        acked: &[ChangeHash],
        id: &str,
        me: &Identity,
        changes: Vec<automerge::Change>,
    ) -> Result<DocChanges> {
        let unacked: HashSet<ChangeHash> = doc.hashes_since(acked).into_iter().collect();
        let outbox: HashMap<ChangeHash, Option<RelayedBy>> =
            queued_changes(&self.conn, &self.seal, id)?
                .into_iter()
                .map(|q| (q.hash, q.relayed))
                .collect();
        let mut out = DocChanges {
            doc: id.to_owned(),
            changes: Vec::with_capacity(changes.len()),
            sigs: Vec::with_capacity(changes.len()),
            by: Vec::with_capacity(changes.len()),
        };
        for c in changes {
            let hash = c.hash();
            let (by, sig) = match outbox.get(&hash) {
                _ if !unacked.contains(&hash) => (String::new(), ByteBuf::new()),
                Some(Some(r)) => (r.device.clone(), r.sig.clone()),
                _ if c.actor_id() == &self.actor => (
                    me.device.clone(),
                    self.sign(std::slice::from_ref(&hash))
                        .pop()
                        .unwrap_or_default(),
                ),
                // Neither ours nor carried with a signature: its author pushes it.
                _ => (String::new(), ByteBuf::new()),
            };
            out.changes.push(ByteBuf::from(c.raw_bytes().to_vec()));
            out.sigs.push(sig);
            out.by.push(by);
        }
        Ok(out)
    }

    /// Takes what `peer` gave, in one transaction: each case merged only when this phone's
    /// account may read the result and every change `peer` signed verifies; colleagues'
    /// changes the server may lack queued to be carried; keys of the cases taken; thumbnails of
    /// their photos.
    pub fn take_peer_payload(
        &mut self,
        peer: &Peer,
        payload: &Payload,
        now: Millis,
    ) -> Result<PeerTaken> {
        let me = self.who()?;
        let mut taken = PeerTaken::default();
        let mut photos: HashSet<String> = HashSet::new();
        let mut keys: Vec<SealedKey> = Vec::new();
        let tx = self.conn.transaction().map_err(storage)?;
        for given in &payload.cases {
            validate_case_id(&given.doc)?;
            let Some(merged) = merge_given(&tx, &self.seal, &self.actor, &me, peer, given)? else {
                taken.refused += 1;
                continue;
            };
            let Merged {
                mut doc,
                acked,
                new_changes,
                carry,
                attachments,
            } = merged;
            if new_changes == 0 {
                continue;
            }
            for q in carry {
                queue_change(&tx, &self.seal, &given.doc, q)?;
                taken.to_carry += 1;
            }
            let rejected = rejected_hashes(&tx, &given.doc)?;
            store_doc(
                &tx, &self.seal, &given.doc, &mut doc, &acked, &rejected, now,
            )?;
            taken.changes += new_changes;
            taken.cases.push(given.doc.clone());
            photos.extend(attachments);
            keys.extend(payload.keys.iter().filter(|k| k.doc == given.doc).cloned());
        }
        take_keys(&tx, &self.seal, self.sign_key.as_ref(), &keys)?;
        tx.commit().map_err(storage)?;
        for t in &payload.thumbnails {
            let here = self.blob_here(&t.sha256)?;
            let held = here.original || here.thumbnail;
            let jpeg = t.bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
            if photos.contains(&t.sha256) && !held && jpeg && t.bytes.len() <= MAX_THUMBNAIL_BYTES {
                self.keep_copy(&t.sha256, BlobCopy::Thumbnail, &t.bytes)?;
                taken.thumbnails += 1;
            }
        }
        taken.cases.sort();
        Ok(taken)
    }
}

/// A case as merged from a peer's changes, before it is stored.
struct Merged {
    doc: CaseDoc,
    acked: Vec<ChangeHash>,
    new_changes: usize,
    carry: Vec<Queued>,
    /// The photos the merged case references.
    attachments: Vec<String>,
}

/// Merges the changes a peer gave for one case into this phone's copy; `None` when the case is
/// refused whole.
fn merge_given(
    conn: &Connection,
    seal: &Sealer,
    actor: &automerge::ActorId,
    me: &Identity,
    peer: &Peer,
    given: &DocChanges,
) -> Result<Option<Merged>> {
    let Ok(changes) = given
        .changes
        .iter()
        .map(|b| parse_change(b))
        .collect::<Result<Vec<_>>>()
    else {
        return Ok(None);
    };
    let (mut doc, mut acked) = match load_doc(conn, seal, &given.doc) {
        Ok(found) => found,
        Err(Error::UnknownCase(_)) => (CaseDoc::empty(actor.clone()), Vec::new()),
        Err(e) => return Err(e),
    };
    let mut carry = Vec::new();
    let mut fresh = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let hash = change.hash();
        if doc.has_change(&hash) {
            continue;
        }
        let by = given.by.get(i).map(String::as_str).unwrap_or_default();
        let sig = given.sigs.get(i).cloned().unwrap_or_default();
        // What the peer signed as its own must verify: a forged change refuses the case.
        if by == peer.identity.device && !crate::evidence::verifies(&peer.key, &hash, &sig) {
            return Ok(None);
        }
        if by.is_empty() || by == me.device {
            // The server has it (the peer says so): nothing to carry, and it counts as
            // acknowledged — only for changes new here, never this phone's own.
            acked.push(hash);
        } else {
            carry.push(Queued {
                hash,
                author: ChangeAuthor::of_change(change).map(|a| a.user),
                bytes: change.raw_bytes().to_vec(),
                relayed: Some(RelayedBy {
                    device: by.to_owned(),
                    sig,
                }),
            });
        }
        fresh.push(change.clone());
    }
    let new_changes = fresh.len();
    if new_changes > 0 {
        let base = doc.heads();
        // Hostile changes Automerge takes but cannot rebuild (ADR 0014) refuse the case.
        if doc.apply(fresh).is_err() || doc.read_back_since(&base).is_err() {
            return Ok(None);
        }
    }
    let case = match doc.read() {
        Ok(case) => case,
        Err(_) => return Ok(None),
    };
    if !reads(me, &case).0 {
        return Ok(None);
    }
    let attachments = case.attachments.iter().map(|a| a.sha256.clone()).collect();
    Ok(Some(Merged {
        doc,
        acked,
        new_changes,
        carry,
        attachments,
    }))
}
