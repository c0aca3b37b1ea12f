//! One case of a push judged by admission, and what it writes if accepted: CPU only, no
//! database.

use gridsync_core::Identity;
use gridsync_core::admission::{DeviceAuthority, RelayDevice, Relays, Signing, Verdict, admit};
use std::collections::HashSet;

use gridsync_core::case::CaseDoc;
use gridsync_core::evidence::SigCheck;
use gridsync_core::notice::{self, NoticeDraft};
use gridsync_core::protocol::{DocChanges, RejectCode};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::workflow::CaseEvent;

use super::projection::Projection;
use crate::store::{DeviceContext, Result};

/// One case of a push, judged: what `admit` said, against the stored version `base` (the feed
/// position of its snapshot; `None` for a case the server does not have).
#[derive(Debug)]
pub(super) struct CaseVerdict {
    pub(super) doc_id: String,
    pub(super) base: Option<i64>,
    pub(super) verdict: Verdict,
    pub(super) written: Option<Written>,
}

/// What an accepted case writes, computed before the feed lock.
#[derive(Debug)]
pub(super) struct Written {
    pub(super) doc: CaseDoc,
    pub(super) snapshot: Vec<u8>,
    pub(super) projection: Projection,
    /// Who hears of the steps this write added (computed here, outside the feed lock).
    pub(super) notices: Vec<NoticeDraft>,
}

/// Runs admission for one case of a push and prepares what it writes (CPU only, no database).
#[allow(clippy::too_many_arguments)]
pub(super) fn judge_case(
    ctx: &DeviceContext,
    writer: &Identity,
    relays: &[DeviceContext],
    mut current: Option<CaseDoc>,
    base: Option<i64>,
    pushed: &DocChanges,
    checked: Option<&[SigCheck]>,
    taxonomy: &Taxonomy,
) -> Result<CaseVerdict> {
    let (doc_id, changes, sigs) = (pushed.doc.as_str(), &pushed.changes, &pushed.sigs);
    // Only the account whose token this is may write: a phone holding another user's offline
    // changes pushes them when that user signs in again. A device with a bound key signs every
    // change (ADR 0028).
    // Colleagues' changes it carries are judged as their author devices' (ADR 0030).
    let relay_devices: Vec<RelayDevice<'_>> = relays
        .iter()
        .map(|r| RelayDevice {
            device: &r.device,
            actors: &r.actors,
            users: &r.users,
            key: r.sign_key.as_ref(),
        })
        .collect();
    let authority = DeviceAuthority {
        actors: &ctx.actors,
        users: std::slice::from_ref(writer),
        signing: ctx
            .sign_key
            .as_ref()
            .map(|key| Signing { key, sigs, checked }),
        relays: (!pushed.by.is_empty()).then_some(Relays {
            own: &ctx.device,
            by: &pushed.by,
            sigs,
            devices: &relay_devices,
        }),
    };
    let before: HashSet<String> = current
        .as_ref()
        .map(|d| d.event_ids().into_iter().collect())
        .unwrap_or_default();
    let mut verdict = admit(current.as_mut(), doc_id, changes, &authority, taxonomy);
    let written = match (verdict.doc.take(), verdict.case.take()) {
        (Some(mut doc), Some(case)) => {
            let projection = Projection::of(&doc, case)?;
            let (case, workflow) = projection.case_and_workflow();
            let added: Vec<&CaseEvent> = case
                .events
                .iter()
                .filter(|e| !before.contains(&e.id))
                .collect();
            let notices = notice::on_events(case, workflow, &added);
            Some(Written {
                snapshot: verdict
                    .snapshot
                    .take()
                    .unwrap_or_else(|| doc.save_uncompressed()),
                projection,
                doc,
                notices,
            })
        }
        _ => None,
    };
    Ok(CaseVerdict {
        doc_id: doc_id.to_owned(),
        base,
        verdict,
        written,
    })
}

/// Tells a signature made with another device's key (`signature_wrong_device`) from one that
/// verifies under no key (`signature_invalid`): only on the refusal path, and for at most
/// [`WRONG_DEVICE_CHECKS`] changes of a push, as each costs a look at every bound key.
pub(super) async fn name_wrong_devices(
    store: &crate::store::Store,
    device: &str,
    verdict: &mut CaseVerdict,
    pushed: &DocChanges,
) -> Result<()> {
    let invalid = verdict
        .verdict
        .refused
        .iter_mut()
        .filter(|r| r.code == RejectCode::SignatureInvalid)
        .take(WRONG_DEVICE_CHECKS);
    for refused in invalid {
        let Some(hash) = refused.hash else { continue };
        let Some(sig) = pushed
            .changes
            .iter()
            .position(|c| c.as_slice() == refused.bytes.as_slice())
            .and_then(|i| pushed.sigs.get(i))
        else {
            continue;
        };
        if let Some(other) = store.signing_device_of(device, &hash, sig).await? {
            refused.code = RejectCode::SignatureWrongDevice;
            refused.reason = format!("signed with the key of another device ({other})");
        }
    }
    Ok(())
}

/// At most this many refused signatures of one case's push are tried against other keys.
const WRONG_DEVICE_CHECKS: usize = 4;
