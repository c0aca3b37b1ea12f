//! Two colleagues' phones syncing with each other, as steps: sans-I/O (ADR 0030). The app
//! carries the bytes over Bluetooth LE, Wi-Fi Direct, a series of QR codes — or as one bundle
//! file for a USB stick or a messaging app.
//!
//! Four messages: the opener's `Hello` (certificate, nonce); the answerer's `Reply`
//! (certificate, nonce, the cases it may show the opener with their heads, signed over the
//! opener's nonce); the opener's `Give` (its own offer, and what the answerer lacks, sealed to
//! it, signed over its nonce); the answerer's `Give` (what the opener lacks). Nothing is given
//! before the receiver's certificate checked and its key signed a fresh nonce; each side judges
//! what it shows by the other's certificate, and what it takes by its own account.

use crate::evidence::SigningKey;
use crate::peer::{
    Bundle, Offered, Peer, PeerMessage, ProofOf, check_proof, codes, decode_bundle, decode_message,
    encode_bundle, encode_message, nonce, offer_bytes, open_payload, prove, seal_payload,
};
use crate::replica::{PeerTaken, Replica};
use crate::vocab::Millis;
use crate::{Error, Result};
use serde_bytes::ByteBuf;

/// What a session or a bundle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerOutcome {
    /// The colleague met, as their certificate says.
    pub peer_user: String,
    pub peer_device: String,
    /// Cases this phone gave changes of.
    pub sent_cases: usize,
    pub sent_changes: usize,
    /// What this phone took.
    pub taken: PeerTaken,
}

#[derive(Debug)]
enum State {
    /// The opener sent `Hello` with this nonce.
    Opened {
        nonce: Vec<u8>,
    },
    /// The answerer sent `Reply`: its nonce, the opener's, the peer and what it offered.
    Answered {
        nonce: Vec<u8>,
        theirs: Vec<u8>,
        peer: Peer,
        offer: Vec<Offered>,
    },
    /// The opener sent its `Give`.
    Gave {
        nonce: Vec<u8>,
        peer: Peer,
    },
    Done,
}

/// One session with a colleague's phone.
#[derive(Debug)]
pub struct PeerSession {
    state: State,
    outcome: PeerOutcome,
}

fn out_of_order(what: &str) -> Error {
    Error::Peer {
        code: codes::OUT_OF_ORDER,
        reason: format!("expected {what}"),
    }
}

fn key_of(replica: &Replica) -> Result<SigningKey> {
    replica.peer_key().cloned()
}

impl PeerSession {
    /// Opens a session: the bytes to send the colleague's phone.
    pub fn open(replica: &Replica, now: Millis) -> Result<(PeerSession, Vec<u8>)> {
        let certificate = replica.my_certificate(now)?;
        let nonce = nonce();
        let hello = encode_message(&PeerMessage::Hello {
            certificate: ByteBuf::from(certificate),
            nonce: ByteBuf::from(nonce.clone()),
        })?;
        let session = PeerSession {
            state: State::Opened { nonce },
            outcome: PeerOutcome::default(),
        };
        Ok((session, hello))
    }

    /// Answers a colleague's `Hello`: the bytes to send back.
    pub fn answer(replica: &Replica, hello: &[u8], now: Millis) -> Result<(PeerSession, Vec<u8>)> {
        let PeerMessage::Hello {
            certificate: their_cert,
            nonce: theirs,
        } = decode_message(hello)?
        else {
            return Err(out_of_order("a colleague's first message"));
        };
        let peer = replica.check_peer(&their_cert, now)?;
        let certificate = replica.my_certificate(now)?;
        let offer = replica.peer_offer(&peer.identity)?;
        let nonce = nonce();
        let proof = prove(
            &key_of(replica)?,
            ProofOf::Reply,
            &theirs,
            &[&certificate, &nonce, &offer_bytes(&offer)?],
        );
        let reply = encode_message(&PeerMessage::Reply {
            certificate: ByteBuf::from(certificate),
            nonce: ByteBuf::from(nonce.clone()),
            offer: offer.clone(),
            proof,
        })?;
        let outcome = PeerOutcome {
            peer_user: peer.identity.user.clone(),
            peer_device: peer.identity.device.clone(),
            ..PeerOutcome::default()
        };
        let session = PeerSession {
            state: State::Answered {
                nonce,
                theirs: theirs.into_vec(),
                peer,
                offer,
            },
            outcome,
        };
        Ok((session, reply))
    }

    /// Takes the colleague's next message: the bytes to send back, or `None` when the session
    /// is over. A refused message ends the session; nothing of it is kept.
    pub fn step(
        &mut self,
        replica: &mut Replica,
        bytes: &[u8],
        now: Millis,
    ) -> Result<Option<Vec<u8>>> {
        let msg = decode_message(bytes)?;
        match (std::mem::replace(&mut self.state, State::Done), msg) {
            (
                State::Opened { nonce: mine },
                PeerMessage::Reply {
                    certificate,
                    nonce: theirs,
                    offer: their_offer,
                    proof,
                },
            ) => {
                let peer = replica.check_peer(&certificate, now)?;
                check_proof(
                    &peer.key,
                    ProofOf::Reply,
                    &mine,
                    &[&certificate, &theirs, &offer_bytes(&their_offer)?],
                    &proof,
                )?;
                self.outcome.peer_user = peer.identity.user.clone();
                self.outcome.peer_device = peer.identity.device.clone();
                let offer = replica.peer_offer(&peer.identity)?;
                let give = self.give(replica, &peer, &theirs, offer, &their_offer)?;
                self.state = State::Gave { nonce: mine, peer };
                Ok(Some(give))
            }
            (
                State::Answered {
                    nonce: mine,
                    theirs,
                    peer,
                    offer,
                },
                PeerMessage::Give {
                    offer: their_offer,
                    sealed,
                    proof,
                },
            ) => {
                self.take(replica, &peer, &mine, &their_offer, &sealed, &proof, now)?;
                let give = self.give(replica, &peer, &theirs, offer, &their_offer)?;
                Ok(Some(give))
            }
            (
                State::Gave { nonce: mine, peer },
                PeerMessage::Give {
                    offer,
                    sealed,
                    proof,
                },
            ) => {
                self.take(replica, &peer, &mine, &offer, &sealed, &proof, now)?;
                Ok(None)
            }
            (State::Done, _) => Err(out_of_order("nothing more: the session is over")),
            (_, _) => Err(out_of_order("the next step of the session")),
        }
    }

    /// Whether the session is over (this side sent or took its last message).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    pub fn outcome(&self) -> &PeerOutcome {
        &self.outcome
    }

    /// A `Give`: what `peer` lacks of `offer` (its heads in `their_offer`), sealed to it and
    /// signed over its nonce `theirs`; it carries `offer` itself for the answerer to use.
    fn give(
        &mut self,
        replica: &Replica,
        peer: &Peer,
        theirs: &[u8],
        offer: Vec<Offered>,
        their_offer: &[Offered],
    ) -> Result<Vec<u8>> {
        let payload = replica.peer_payload(peer, &offer, their_offer)?;
        self.outcome.sent_cases += payload.cases.len();
        self.outcome.sent_changes += payload.cases.iter().map(|c| c.changes.len()).sum::<usize>();
        let sealed = seal_payload(&peer.key, theirs, &payload)?;
        let proof = prove(
            &key_of(replica)?,
            ProofOf::Give,
            theirs,
            &[&offer_bytes(&offer)?, &sealed],
        );
        encode_message(&PeerMessage::Give {
            offer,
            sealed: ByteBuf::from(sealed),
            proof,
        })
    }

    /// Checks a `Give` bound to this side's nonce `mine` and takes what it gives.
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        replica: &mut Replica,
        peer: &Peer,
        mine: &[u8],
        offer: &[Offered],
        sealed: &[u8],
        proof: &[u8],
        now: Millis,
    ) -> Result<()> {
        check_proof(
            &peer.key,
            ProofOf::Give,
            mine,
            &[&offer_bytes(offer)?, sealed],
            proof,
        )?;
        let payload = open_payload(&key_of(replica)?, mine, sealed)?;
        self.outcome.taken = replica.take_peer_payload(peer, &payload, now)?;
        Ok(())
    }
}

/// The nonce a bundle's sealing and proof are bound to.
fn bundle_nonce(to: &str, made: Millis) -> Vec<u8> {
    format!("bundle\0{to}\0{made}").into_bytes()
}

/// A bundle file for the colleague whose certificate is `to`: everything this phone holds
/// that they may read, sealed to their device and signed.
pub fn export_bundle(replica: &Replica, to: &[u8], now: Millis) -> Result<(Vec<u8>, PeerOutcome)> {
    let peer = replica.check_peer(to, now)?;
    let certificate = replica.my_certificate(now)?;
    let offer = replica.peer_offer(&peer.identity)?;
    let payload = replica.peer_payload(&peer, &offer, &[])?;
    let nonce = bundle_nonce(&peer.identity.device, now);
    let sealed = seal_payload(&peer.key, &nonce, &payload)?;
    let proof = prove(
        &key_of(replica)?,
        ProofOf::Bundle,
        &nonce,
        &[&certificate, &sealed],
    );
    let outcome = PeerOutcome {
        peer_user: peer.identity.user.clone(),
        peer_device: peer.identity.device.clone(),
        sent_cases: payload.cases.len(),
        sent_changes: payload.cases.iter().map(|c| c.changes.len()).sum(),
        taken: PeerTaken::default(),
    };
    let bytes = encode_bundle(&Bundle {
        certificate: ByteBuf::from(certificate),
        to: peer.identity.device,
        made: now,
        sealed: ByteBuf::from(sealed),
        proof,
    })?;
    Ok((bytes, outcome))
}

/// Takes a bundle file a colleague's phone made for this one.
pub fn import_bundle(replica: &mut Replica, bytes: &[u8], now: Millis) -> Result<PeerOutcome> {
    let bundle = decode_bundle(bytes)?;
    let me = replica
        .identity()
        .map(|i| i.device.clone())
        .unwrap_or_default();
    if bundle.to != me {
        return Err(Error::Peer {
            code: codes::OUT_OF_ORDER,
            reason: format!("a bundle for device {}, not this one", bundle.to),
        });
    }
    let peer = replica.check_peer(&bundle.certificate, now)?;
    let nonce = bundle_nonce(&bundle.to, bundle.made);
    check_proof(
        &peer.key,
        ProofOf::Bundle,
        &nonce,
        &[&bundle.certificate, &bundle.sealed],
        &bundle.proof,
    )?;
    let payload = open_payload(&key_of(replica)?, &nonce, &bundle.sealed)?;
    let taken = replica.take_peer_payload(&peer, &payload, now)?;
    Ok(PeerOutcome {
        peer_user: peer.identity.user,
        peer_device: peer.identity.device,
        taken,
        ..PeerOutcome::default()
    })
}
