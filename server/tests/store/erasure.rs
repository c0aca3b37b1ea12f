//! Personal data sealed per case and erased by destroying its keys (ADR 0029): phones push the
//! keys of what they capture, readers of personal data get them with the case, an erasure
//! destroys them on the server and, at the next sync, on every phone; the history stays.

use gridsync_core::case::sealed::{ERASED_TEXT, sealed_key_id};
use gridsync_core::case::{Party, REQUESTER};
use gridsync_core::evidence::public_key;
use gridsync_server::store::StoreError;

use crate::*;

const VILLAGE: &str = "130322/101/201";
const NAME: &str = "龚翾";

/// A phone as the sign-in leaves it: its key bound to its device, the server's key known.
async fn keyed(store: &Store, r: &Replica, device: &str) {
    let key = public_key(&r.device_key().unwrap()).unwrap();
    assert!(store.bind_device_key(device, &key).await.unwrap());
    r.set_server_key(&store.change_key().await.unwrap().public())
        .unwrap();
}

/// Whether the audit log holds `actor`'s erasure of `case`.
async fn erasure_audited(store: &Store, actor: &str, case: &str) -> bool {
    store
        .audit_log()
        .await
        .unwrap()
        .iter()
        .any(|(a, action, target)| a == actor && action == "case_erased" && target == case)
}

fn dispute() -> NewCase {
    let mut new = new_case(
        CaseKind::Dispute,
        VILLAGE,
        "dispute_land_boundary",
        "宅基地纠纷",
    );
    new.people = vec![Party {
        name: NAME.into(),
        role: REQUESTER.into(),
        phone: "13912345678".into(),
        ..Party::default()
    }];
    new
}

conformance!(
    an_erased_case_keeps_its_history_and_every_copy_loses_the_names,
    |store: Store| async move {
        let (_, mut zhao) = phone(&store, "zhao", Role::Mediator, VILLAGE, "p-zhao").await;
        let (_, mut sun) = phone(&store, "sun", Role::Mediator, VILLAGE, "p-sun").await;
        keyed(&store, &zhao, "p-zhao").await;
        keyed(&store, &sun, "p-sun").await;
        let id = zhao.capture(&dispute(), T0).unwrap();
        // Sealed in the document itself, readable on the phone that holds the key.
        let stored = zhao.case(&id).unwrap().read().unwrap();
        assert!(sealed_key_id(&stored.people[0].name).is_some());
        assert_eq!(zhao.read_case(&id).unwrap().people[0].name, NAME);
        sync_accepted(&store, &mut zhao, T0 + 1).await;
        sync_accepted(&store, &mut sun, T0 + 2).await;
        let keys = store.case_keys(&id).await.unwrap();
        assert_eq!(keys.keys().len(), 1, "the key came with the case");
        assert_eq!(sun.read_case(&id).unwrap().people[0].name, NAME);
        let doc = store.case_doc(&id).await.unwrap().unwrap();
        assert_eq!(doc.read().unwrap().unsealed(&keys).people[0].name, NAME);
        let heads_before = doc.clone().heads();

        let erased = store
            .erase_case(&id, "liu", "当事人申请删除", T0 + 3)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(erased.keys, vec![keys.keys()[0].id().to_owned()]);
        let after = store.case_keys(&id).await.unwrap();
        assert!(after.keys().is_empty() && after.is_erased(&erased.keys[0]));
        let mut doc = store.case_doc(&id).await.unwrap().unwrap();
        assert_eq!(doc.heads(), heads_before, "the history stays");
        assert_eq!(
            doc.read().unwrap().unsealed(&after).people[0].name,
            ERASED_TEXT
        );
        // The phones learn it at their next sync and destroy their copies.
        for r in [&mut zhao, &mut sun] {
            sync_accepted(&store, r, T0 + 4).await;
            assert!(r.case_keys(&id).unwrap().keys().is_empty());
            let case = r.read_case(&id).unwrap();
            assert_eq!(
                (case.people[0].name.as_str(), case.people[0].phone.as_str()),
                (ERASED_TEXT, ERASED_TEXT)
            );
            assert!(!r.readable_texts().unwrap().iter().any(|t| t.contains(NAME)));
        }
        // Audited with its reason; an unknown case is none.
        assert!(erasure_audited(&store, "liu", &id).await);
        assert!(
            store
                .erase_case("nope", "liu", "x", T0)
                .await
                .unwrap()
                .is_none()
        );
    }
);

conformance!(
    a_case_with_names_written_before_sealing_is_not_erased_by_a_key,
    |store: Store| async move {
        // A phone of an app older than sealing (no server key): the names are plain.
        let (_, mut old) = phone(&store, "zhao", Role::Mediator, VILLAGE, "p-old").await;
        let id = old.capture(&dispute(), T0).unwrap();
        sync_accepted(&store, &mut old, T0 + 1).await;
        let stored = store.case_doc(&id).await.unwrap().unwrap();
        assert_eq!(stored.read().unwrap().people[0].name, NAME);
        match store.erase_case(&id, "liu", "x", T0 + 2).await {
            Err(StoreError::Refused { code, .. }) => assert_eq!(code, "not_sealed"),
            other => panic!("expected not_sealed, got {other:?}"),
        }
    }
);

conformance!(
    a_pushed_key_of_an_erased_case_is_not_kept_again,
    |store: Store| async move {
        let (who, mut zhao) = phone(&store, "zhao", Role::Mediator, VILLAGE, "p-zhao").await;
        keyed(&store, &zhao, "p-zhao").await;
        let id = zhao.capture(&dispute(), T0).unwrap();
        sync_accepted(&store, &mut zhao, T0 + 1).await;
        let key = store.case_keys(&id).await.unwrap().keys()[0].clone();
        store.erase_case(&id, "liu", "x", T0 + 2).await.unwrap();
        // The same key sealed to the server again, as a phone that kept it would send it.
        let server = store.change_key().await.unwrap().public();
        let again = gridsync_core::protocol::SealedKey {
            doc: id.clone(),
            id: key.id().to_owned(),
            envelope: gridsync_core::case::sealed::seal_key_to(&server, &key).into(),
        };
        let taken = store.take_case_keys(&who, &[again], T0 + 3).await.unwrap();
        assert_eq!(taken.len(), 1, "answered, so the phone stops sending it");
        assert!(store.case_keys(&id).await.unwrap().keys().is_empty());
    }
);

conformance!(
    the_clock_erases_archived_cases_past_their_retention_period,
    |store: Store| async move {
        use gridsync_core::workflow::{EventDraft, EventType};
        const GRID: &str = "130322/101/201/01";
        const YEAR: i64 = 365 * 24 * 3_600_000;
        let (_, mut wang) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let (_, mut li) = phone(&store, "li", Role::TownshipStaff, "130322/101", "p-li").await;
        keyed(&store, &wang, "p-wang").await;
        keyed(&store, &li, "p-li").await;
        let request = || {
            let mut new = new_case(CaseKind::Request, GRID, "street_light", "路灯不亮");
            new.people = dispute().people;
            new
        };
        let archived = wang.capture(&request(), T0).unwrap();
        let open = wang.capture(&request(), T0).unwrap();
        wang.append_event(&archived, EventDraft::new(EventType::Accepted), T0 + 1)
            .unwrap();
        wang.append_event(&archived, EventDraft::resolve_with_reply("已修好"), T0 + 2)
            .unwrap();
        sync_accepted(&store, &mut wang, T0 + 3).await;
        sync_accepted(&store, &mut li, T0 + 4).await;
        li.append_event(&archived, EventDraft::new(EventType::Archived), T0 + 5)
            .unwrap();
        sync_accepted(&store, &mut li, T0 + 6).await;
        let rules = store.rules().await.unwrap().rules.clone();
        assert_eq!(rules.retention().years(CaseKind::Request), Some(3));

        // Within the period nothing goes; past it the archived case's keys do, the open
        // case's stay, and the erasure names the rule.
        assert_eq!(store.erase_expired(&rules, T0 + 2 * YEAR).await.unwrap(), 0);
        assert_eq!(store.erase_expired(&rules, T0 + 4 * YEAR).await.unwrap(), 1);
        assert!(store.case_keys(&archived).await.unwrap().keys().is_empty());
        assert_eq!(store.case_keys(&open).await.unwrap().keys().len(), 1);
        assert!(erasure_audited(&store, "retention", &archived).await);
        assert_eq!(store.erase_expired(&rules, T0 + 5 * YEAR).await.unwrap(), 0);
        sync_accepted(&store, &mut wang, T0 + 4 * YEAR).await;
        assert_eq!(
            wang.read_case(&archived).unwrap().people[0].name,
            ERASED_TEXT
        );
        assert_eq!(wang.read_case(&open).unwrap().people[0].name, NAME);
    }
);
