//! An urgent SMS report arriving through the gateway (`POST /v1/sms/inbound`): read, its two
//! parts joined, its MAC checked with the key of the device its tag names, and the case's first
//! change rebuilt exactly as the phone built it, so the phone's later sync of the full case
//! lands on the same change and merges (docs/PROTOCOL.md, "Urgent report by SMS"). The case is
//! opened through the same admission as a sync: routed, supervised and notified like any other.
//!
//! Held parts stay after their case opened, so a part the gateway delivers again is known as a
//! replay rather than held anew.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gridsync_core::sms::{self, SignedReport, SmsPart, UrgentReport};

use crate::store::{FrontDoorRows, Store, StoreError};

/// The account name refusals are audited under.
const GATEWAY: &str = "sms-gateway";

/// What became of one inbound SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A first part: kept until its partner comes.
    Held,
    Opened {
        case_id: String,
    },
}

/// Why one was refused: a status and a code for the gateway, a reason for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, code: &'static str, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            reason: reason.into(),
        }
    }

    fn forged(reason: &str) -> Refusal {
        Refusal::new(403, "sms_forged", reason)
    }
}

/// Takes one inbound SMS text. Refusals are audited (code and case id, never the text or the
/// sender's number).
pub async fn receive(store: &Store, text: &str, now: i64) -> Result<Inbound, Refusal> {
    let outcome = take(store, text, now).await;
    if let Err(r) = &outcome {
        let case = sms::parse(text)
            .ok()
            .and_then(|p| match p {
                SmsPart::Whole(s) | SmsPart::Head(s) => Some(s.report.case_id),
                SmsPart::Tail { .. } => None,
            })
            .unwrap_or_default();
        if let Err(e) = store
            .audit(GATEWAY, "sms_refused", &case, r.code, now)
            .await
        {
            tracing::warn!(error = %e, "auditing a refused SMS failed");
        }
        tracing::warn!(code = r.code, reason = %r.reason, "inbound SMS refused");
    }
    outcome
}

async fn take(store: &Store, text: &str, now: i64) -> Result<Inbound, Refusal> {
    let part = sms::parse(text).map_err(|e| Refusal::new(400, e.code(), e.to_string()))?;
    let (link, name) = match &part {
        SmsPart::Whole(signed) => return open(store, signed, now).await,
        SmsPart::Head(signed)
            if store
                .has_case(&signed.report.case_id)
                .await
                .map_err(internal)? =>
        {
            return Err(replayed());
        }
        SmsPart::Head(_) => (part.link(), "a"),
        SmsPart::Tail { .. } => (part.link(), "b"),
    };
    let held = store
        .hold_sms_part(&link, name, text, now)
        .await
        .map_err(internal)?;
    let body = |p: &str| held.iter().find(|(n, _)| n == p).map(|(_, b)| b.as_str());
    let (Some(head), Some(tail)) = (body("a"), body("b")) else {
        return Ok(Inbound::Held);
    };
    let (Ok(SmsPart::Head(signed)), Ok(SmsPart::Tail { title, .. })) =
        (sms::parse(head), sms::parse(tail))
    else {
        return Err(Refusal::new(
            400,
            "sms_malformed",
            "a held part no longer reads",
        ));
    };
    let outcome = open(store, &signed.with_title(&title), now).await;
    if outcome.as_ref().is_err_and(|r| r.code != "sms_replayed") {
        // The part that just came failed the pair: forget it, so a genuine one can still join.
        store.drop_sms_part(&link, name).await.map_err(internal)?;
    }
    outcome
}

/// Checks a whole report and opens its case.
async fn open(store: &Store, signed: &SignedReport, now: i64) -> Result<Inbound, Refusal> {
    let report = &signed.report;
    let (device, key) = store
        .device_by_sms_tag(&report.tag)
        .await
        .map_err(internal)?
        .ok_or_else(|| Refusal::forged("no device has this tag"))?;
    let key: [u8; 32] = URL_SAFE_NO_PAD
        .decode(&key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| internal("a device's SMS key is not 32 bytes"))?;
    if !signed.verify(&key) {
        return Err(Refusal::forged("the MAC does not match the device's key"));
    }
    let ctx = store
        .device_context(&device)
        .await
        .map_err(internal)?
        .ok_or_else(|| Refusal::forged("the device is gone"))?;
    if ctx.revoked {
        return Err(Refusal::new(403, "device_revoked", "the device is revoked"));
    }
    if store.has_case(&report.case_id).await.map_err(internal)? {
        return Err(replayed());
    }
    let live = store.rules().await.map_err(internal)?;
    let older;
    let rules = match live.rules.version() == report.rules {
        true => &live.rules,
        false => {
            older = store
                .rules_version(report.rules)
                .await
                .map_err(internal)?
                .ok_or_else(|| mismatch("the report names rules this server never had"))?;
            &older
        }
    };
    // The reporter is one of the device's accounts and the actor one of its actors: the one
    // pair whose first change has the hash the SMS carries. An account that may not report
    // this case at all (out of its scope) builds no change; if no account does, that refusal
    // is the answer. Nothing is lost by it: the case is still on the phone, whose sync will be
    // refused and quarantined like any change.
    let mut refused = None;
    for who in &ctx.users {
        for actor in &ctx.actors {
            let (mut doc, first) = match report.stub(actor.clone(), who, &rules.deadlines()) {
                Ok(built) => built,
                Err(e) => {
                    refused.get_or_insert_with(|| Refusal::new(422, e.code(), e.to_string()));
                    continue;
                }
            };
            if UrgentReport::stub_mark(&first) != report.stub {
                continue;
            }
            let rows = FrontDoorRows::default();
            return match store
                .open_case(
                    &ctx,
                    who,
                    &report.case_id,
                    &mut doc,
                    &rows,
                    &live.admission,
                    now,
                )
                .await
            {
                Ok(()) => {
                    tracing::info!(case = %report.case_id, device = %device, "case opened by SMS");
                    Ok(Inbound::Opened {
                        case_id: report.case_id.clone(),
                    })
                }
                Err(StoreError::Conflict(_)) => Err(replayed()),
                Err(StoreError::Refused { code, reason }) => Err(Refusal::new(422, code, reason)),
                Err(e) => Err(internal(e)),
            };
        }
    }
    Err(refused.unwrap_or_else(|| {
        mismatch("no account of the device builds the change the report describes")
    }))
}

fn replayed() -> Refusal {
    Refusal::new(409, "sms_replayed", "this report's case is open already")
}

fn mismatch(reason: &str) -> Refusal {
    Refusal::new(422, "sms_stub_mismatch", reason)
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "inbound SMS");
    Refusal::new(
        500,
        "internal",
        "the server failed; the gateway may try again",
    )
}
