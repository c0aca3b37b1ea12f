//! Evidence on both backends (ADR 0028): every committed push is a receipt entry chained to the
//! one before; a keyed phone's changes and the server's own are kept with signatures that
//! verify; a case's export verifies offline; `audit_verify` names a dropped entry and an
//! altered signature.

use gridsync_core::evidence::{self, export};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::workflow::{EventDraft, Rating};
use gridsync_core::{CaseKind, Role};
use sqlx::Row;

use crate::*;

const GRID: &str = "130322/101/201/01";

conformance!(
    receipts_chain_signed_changes_and_name_tampering,
    |store: Store| async move {
        let (_, mut keyed) = phone(&store, "wang", Role::GridWorker, GRID, "phone-wang").await;
        let key = evidence::public_key(&keyed.device_key().unwrap()).unwrap();
        assert!(store.bind_device_key("phone-wang", &key).await.unwrap());
        let (_, mut keyless) = phone(&store, "li", Role::GridWorker, GRID, "phone-li").await;
        keyless.set_signing(false).unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let case = new_case(
                CaseKind::Incident,
                GRID,
                "safety_hazard",
                &format!("险情 {i}"),
            );
            ids.push(keyed.capture(&case, T0 + i).unwrap());
            sync_accepted(&store, &mut keyed, T0 + 10 + i).await;
        }
        let case = new_case(CaseKind::Incident, GRID, "safety_hazard", "旧版应用上报");
        keyless.capture(&case, T0 + 20).unwrap();
        sync_accepted(&store, &mut keyless, T0 + 21).await;
        // The server's own change, signed with its key.
        let county = gridsync_core::JurisdictionPath::parse("130322").unwrap();
        let who = gridsync_server::residents::requester_identity(&county).unwrap();
        let ctx = store.server_device(T0 + 30).await.unwrap();
        let wrote = store
            .write_case(&ctx, &who, &ids[0], Taxonomy::builtin(), T0 + 30, |doc| {
                doc.edit(&who, T0 + 30, |e| {
                    e.append_event(EventDraft::evaluate(Rating::Satisfied))
                        .map(|_| ())
                })
            })
            .await;
        // Whether the requester may rate now is the workflow's business; a refusal writes nothing.
        let server_changes = u64::from(wrote.unwrap_or(false));
        let report = store.audit_verify().await.unwrap();
        assert_eq!(report.faults, Vec::<String>::new());
        assert_eq!(report.changes, 4 + server_changes);
        assert_eq!(
            report.signed,
            3 + server_changes,
            "the keyless phone's change is unsigned"
        );
        assert_eq!(report.receipts, 4 + server_changes);
        let head = store.receipt_head().await.unwrap().unwrap();
        assert_eq!(Some(head.clone()), report.head);
        // The export of the first case verifies offline.
        let file = store
            .case_export(&ids[0], "cli", T0 + 40)
            .await
            .unwrap()
            .unwrap();
        let verified = export::verify(&file).unwrap();
        assert_eq!(verified.case, ids[0]);
        assert_eq!(verified.changes.len() as u64, 1 + server_changes);
        assert!(
            verified.changes[0]
                .signed_by
                .as_deref()
                .unwrap()
                .starts_with("phone-wang (")
        );
        assert_eq!(
            store.case_export("no-such-case", "cli", T0).await.unwrap(),
            None
        );
        // An altered signature is named with its feed position.
        let sig: Vec<u8> = sqlx::query("SELECT sig FROM change_sigs WHERE seq = 2")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
        let mut bad = sig.clone();
        bad[10] ^= 1;
        sqlx::query("UPDATE change_sigs SET sig = $1 WHERE seq = 2")
            .bind(bad)
            .execute(store.pool())
            .await
            .unwrap();
        let report = store.audit_verify().await.unwrap();
        assert_eq!(
            report.faults,
            vec!["change at feed 2 (receipt 2): its signature does not verify".to_owned()]
        );
        sqlx::query("UPDATE change_sigs SET sig = $1 WHERE seq = 2")
            .bind(sig)
            .execute(store.pool())
            .await
            .unwrap();
        // A dropped entry breaks the chain where it was.
        sqlx::query("DELETE FROM receipt_log WHERE seq = 3")
            .execute(store.pool())
            .await
            .unwrap();
        let report = store.audit_verify().await.unwrap();
        assert_eq!(report.faults.len(), 1, "{:?}", report.faults);
        assert!(
            report.faults[0].contains("entry 3 is missing"),
            "{:?}",
            report.faults
        );
    }
);
