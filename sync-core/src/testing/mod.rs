//! An in-memory hub speaking the real protocol, for tests of replicas and convergence.
//!
//! It does what the server does, minus durability and HTTP: decodes the envelope, judges each
//! case's push with [`admit`], appends accepted changes to a change feed with a monotonic
//! sequence, keeps refused ones in a quarantine, and answers with the feed after the device's
//! cursor, filtered to what the device may read and without the device's own changes.

#[cfg(feature = "replica")]
pub mod scenarios;

use std::collections::{BTreeMap, HashMap};

use automerge::ActorId;
use serde_bytes::ByteBuf;

use crate::access::Identity;
use crate::admission::{DeviceAuthority, Refused, RelayDevice, Relays, admit};
use crate::case::CaseDoc;
use crate::protocol::{
    DocAck, DocChanges, Rejection, SyncResponse, decode_request, encode_response, hash_bytes,
    to_hash,
};
use crate::taxonomy::Taxonomy;
use crate::workflow;
use crate::{Error, Result};

#[derive(Debug, Clone)]
struct FeedEntry {
    seq: u64,
    doc: String,
    device: String,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Device {
    /// Everyone who signed in on the device, latest first (phones are shared).
    users: Vec<Identity>,
    actors: Vec<ActorId>,
}

/// A hub held in memory. Not for production: nothing survives the process.
#[derive(Debug)]
pub struct MemoryHub {
    docs: BTreeMap<String, CaseDoc>,
    feed: Vec<FeedEntry>,
    devices: HashMap<String, Device>,
    quarantine: Vec<(String, Refused)>,
    /// The hub's key: it signs device certificates (ADR 0030).
    key: crate::evidence::SigningKey,
}

impl Default for MemoryHub {
    fn default() -> Self {
        MemoryHub {
            docs: BTreeMap::new(),
            feed: Vec::new(),
            devices: HashMap::new(),
            quarantine: Vec::new(),
            key: crate::evidence::signing_key([0x5e; 32]),
        }
    }
}

impl MemoryHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// The hub's public key: phones check colleagues' certificates with it.
    pub fn public_key(&self) -> crate::evidence::VerifyingKey {
        self.key.verifying_key()
    }

    /// A device certificate for `who` on the device holding `device_key`, from `now`.
    pub fn certify(&self, who: &Identity, device_key: &[u8; 32], now: i64) -> Result<Vec<u8>> {
        let key = crate::evidence::public_key(device_key).ok_or_else(|| Error::InvalidInput {
            field: "device_key".into(),
            reason: "not an Ed25519 key".into(),
        })?;
        crate::peer::Certificate::of(who, &key, now).sign(&self.key)
    }

    /// Binds a device (and its actor) to the identity signed in on it.
    pub fn register_device(&mut self, identity: Identity, actor: ActorId) {
        let entry = self
            .devices
            .entry(identity.device.clone())
            .or_insert(Device {
                users: Vec::new(),
                actors: Vec::new(),
            });
        entry.users.retain(|u| u.user != identity.user);
        entry.users.insert(0, identity);
        if !entry.actors.contains(&actor) {
            entry.actors.push(actor);
        }
    }

    /// Handles one sync request from `device` (as authenticated by the transport).
    pub fn handle(&mut self, device: &str, request: &[u8], now: i64) -> Result<Vec<u8>> {
        let req = decode_request(request)?;
        let dev = self
            .devices
            .get(device)
            .cloned()
            .ok_or_else(|| Error::InvalidInput {
                field: "device".into(),
                reason: "unknown device".into(),
            })?;
        if req.device != device {
            return Err(Error::InvalidInput {
                field: "device".into(),
                reason: "not the authenticated device".into(),
            });
        }
        // The one signed in now writes and decides what the device may read; other users' changes
        // wait on the phone until they sign in again (as on the server).
        let reader = &dev.users[0];
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        // Colleagues' devices whose changes a push carries: known here without keys (this hub
        // checks no signatures), each with its actors and accounts.
        let carried: Vec<(String, Device)> = req
            .push
            .iter()
            .flat_map(|p| p.by.iter())
            .filter(|d| !d.is_empty() && d.as_str() != device)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|d| self.devices.get(d).map(|dev| (d.clone(), dev.clone())))
            .collect();
        let relay_devices: Vec<RelayDevice<'_>> = carried
            .iter()
            .map(|(id, dev)| RelayDevice {
                device: id,
                actors: &dev.actors,
                users: &dev.users,
                key: None,
            })
            .collect();
        for push in &req.push {
            let authority = DeviceAuthority {
                actors: &dev.actors,
                users: std::slice::from_ref(reader),
                signing: None,
                relays: Some(Relays {
                    own: device,
                    by: &push.by,
                    sigs: &push.sigs,
                    devices: &relay_devices,
                }),
            };
            let verdict = admit(
                self.docs.get_mut(&push.doc),
                &push.doc,
                &push.changes,
                &authority,
                Taxonomy::builtin(),
            );
            let mut hashes: Vec<ByteBuf> = verdict.duplicates.iter().map(hash_bytes).collect();
            for (i, change) in verdict.accepted.iter().enumerate() {
                let seq = self.feed.len() as u64 + 1;
                // A carried change is its author device's: that device's pulls skip it.
                let author = verdict.relayed.get(i).cloned().flatten();
                self.feed.push(FeedEntry {
                    seq,
                    doc: push.doc.clone(),
                    device: author.map_or_else(|| device.to_owned(), |r| r.device),
                    bytes: change.raw_bytes().to_vec(),
                });
                hashes.push(hash_bytes(&change.hash()));
            }
            if let Some(doc) = verdict.doc {
                self.docs.insert(push.doc.clone(), doc);
            }
            for r in verdict.refused {
                rejected.push(Rejection {
                    doc: push.doc.clone(),
                    hash: r.hash.as_ref().map(hash_bytes).unwrap_or_default(),
                    code: r.code,
                    reason: r.reason.clone(),
                });
                self.quarantine.push((push.doc.clone(), r));
            }
            if !hashes.is_empty() {
                accepted.push(DocAck {
                    doc: push.doc.clone(),
                    hashes,
                });
            }
        }
        let mut pull: Vec<DocChanges> = Vec::new();
        for want in &req.want {
            let heads = want
                .heads
                .iter()
                .map(|h| to_hash(h))
                .collect::<Result<Vec<_>>>()?;
            if !self.may_read(reader, &want.doc) {
                continue;
            }
            if let Some(doc) = self.docs.get_mut(&want.doc) {
                let changes = doc
                    .changes_since(&heads)
                    .iter()
                    .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                    .collect();
                pull.push(DocChanges {
                    doc: want.doc.clone(),
                    changes,
                    sigs: Vec::new(),
                    by: Vec::new(),
                });
            }
        }
        let page = if req.page_bytes == 0 {
            256 * 1024
        } else {
            req.page_bytes as usize
        };
        let mut cursor = req.cursor;
        let mut size = 0usize;
        let mut more = false;
        let start = usize::try_from(req.cursor)
            .unwrap_or(usize::MAX)
            .min(self.feed.len());
        for entry in &self.feed[start..] {
            if size >= page {
                more = true;
                break;
            }
            cursor = entry.seq;
            if entry.device == device || !self.may_read(reader, &entry.doc) {
                continue;
            }
            size += entry.bytes.len();
            match pull.iter_mut().find(|p| p.doc == entry.doc) {
                Some(p) => p.changes.push(ByteBuf::from(entry.bytes.clone())),
                None => pull.push(DocChanges {
                    doc: entry.doc.clone(),
                    changes: vec![ByteBuf::from(entry.bytes.clone())],
                    sigs: Vec::new(),
                    by: Vec::new(),
                }),
            }
        }
        encode_response(&SyncResponse {
            generation: None,
            recovered: None,
            accepted,
            rejected,
            pull,
            cursor,
            more,
            server_time: now,
            rules: None,
            notices: Vec::new(),
            case_keys: Vec::new(),
            erased: Vec::new(),
            server_key: None,
            keys_taken: Vec::new(),
            erased_upto: None,
            certificate: None,
            revoked: Vec::new(),
        })
    }

    fn may_read(&self, who: &Identity, doc: &str) -> bool {
        let Some(d) = self.docs.get(doc) else {
            return false;
        };
        let (Ok(case), Ok(wf)) = (d.read(), d.workflow()) else {
            return false;
        };
        who.may_read(case.kind, &case.jurisdiction, &wf.departments())
    }

    /// The hub's copy of a case.
    pub fn doc(&mut self, id: &str) -> Option<&mut CaseDoc> {
        self.docs.get_mut(id)
    }

    pub fn doc_ids(&self) -> Vec<String> {
        self.docs.keys().cloned().collect()
    }

    /// Number of accepted changes in the feed.
    pub fn feed_len(&self) -> usize {
        self.feed.len()
    }

    /// Refused changes, kept whole.
    pub fn quarantine(&self) -> &[(String, Refused)] {
        &self.quarantine
    }

    /// Whether `who` may see case `id` here.
    pub fn visible_to(&self, who: &Identity, id: &str) -> bool {
        self.may_read(who, id)
    }

    /// Status derived from the hub's copy.
    pub fn workflow(&self, id: &str) -> Option<workflow::WorkflowState> {
        self.docs.get(id).and_then(|d| d.workflow().ok())
    }
}

/// xorshift64*, for test harnesses whose random choices (kill moments, injected faults) must be
/// replayable from a printed seed. Not for anything else.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// Any seed works (it is made odd: xorshift never leaves zero).
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// An independent generator, seeded from this one.
    pub fn fork(&mut self) -> SeededRng {
        SeededRng::new(self.next_u64())
    }
}
