//! The quarantine with limits on both backends (issue 18): a highly compressible oversized
//! change keeps a KiB, not its size; a burst of refused pushes from one device stays inside its
//! budget (the rest counted, not stored) without touching another device's; a refused change is
//! released into its case once the reason is fixed, and reaches its author's phone.

use gridsync_core::protocol::{DocChanges, SyncRequest};
use gridsync_core::replica::{CaseFilter, SyncState};
use gridsync_core::{CaseKind, Role};
use gridsync_server::store::{
    DEVICE_BUDGET_BYTES, KEEP_HEAD_BYTES, KEEP_WHOLE_BYTES, Released, Store, StoreError,
};
use serde_bytes::ByteBuf;
use sqlx::Row;

use crate::*;

const GRID: &str = "130322/101/201/01";

/// Pushes `changes` as one case's changes from `device`, straight into the store.
async fn push_raw(store: &Store, device: &str, changes: Vec<Vec<u8>>) -> usize {
    let ctx = store.device_context(device).await.unwrap().unwrap();
    let req = SyncRequest {
        generation: None,
        recover: Vec::new(),
        device: device.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        cursor: 0,
        page_bytes: 0,
        push: vec![DocChanges {
            doc: uuid::Uuid::now_v7().to_string(),
            changes: changes.into_iter().map(ByteBuf::from).collect(),
            sigs: Vec::new(),
            by: Vec::new(),
        }],
        want: vec![],
        rules: None,
        notices_after: None,
        notices_read: vec![],
        erased_after: None,
        keys: Vec::new(),
        certificate_until: None,
    };
    let resp = store.sync(&ctx, &ctx.users[0], &req, T0).await.unwrap();
    assert!(resp.accepted.is_empty());
    resp.rejected.len()
}

/// The database's size: SQLite's pages after a checkpoint, PostgreSQL's relations.
async fn database_bytes(url: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let bytes = if url.starts_with("sqlite") {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await
            .unwrap();
        let pages: i64 = sqlx::query("PRAGMA page_count")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        let size: i64 = sqlx::query("PRAGMA page_size")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        pages * size
    } else {
        sqlx::query("SELECT CAST(pg_total_relation_size('quarantine') AS BIGINT)")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0)
    };
    pool.close().await;
    bytes
}

conformance_db!(
    a_compressible_oversized_change_keeps_a_kib_not_its_size,
    |store: Store, url: String| async move {
        let (_, _phone) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        // Warm the table up with one small refusal, so the first row's pages are counted once.
        assert_eq!(push_raw(&store, "p-wang", vec![vec![1; 64]]).await, 1);
        let before = database_bytes(&url).await;
        // 31 MiB of zeros: ~32 KB deflated on the wire, under the 32 MiB inflate cap.
        let bomb = vec![0u8; 31 * 1024 * 1024];
        assert_eq!(push_raw(&store, "p-wang", vec![bomb]).await, 1);
        let grew = database_bytes(&url).await - before;
        assert!(grew <= 16 * 1024, "the database grew by {grew} bytes");

        let entries = store.quarantine_entries(10).await.unwrap();
        let kept = entries.iter().find(|e| e.size > 64).unwrap();
        assert_eq!(kept.size, 31 * 1024 * 1024);
        assert!(!kept.whole);
        assert_eq!(kept.code, "bad_change");
        assert_eq!(
            kept.sha256,
            gridsync_core::attachment::sha256_hex(&vec![0u8; 31 * 1024 * 1024])
        );
        let totals = store.quarantine_totals().await.unwrap();
        assert_eq!(totals.kept, 2);
        assert!(totals.kept_bytes <= (64 + KEEP_HEAD_BYTES + 2 * 512) as i64);
        // The small one was kept whole.
        assert!(entries.iter().any(|e| e.whole && e.size == 64));
    }
);

conformance!(
    a_burst_of_refusals_from_one_device_stays_inside_its_budget,
    |store: Store| async move {
        let (_, _a) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let (_, _b) = phone(&store, "liu", Role::GridWorker, GRID, "p-liu").await;
        // Sixty refused changes of 100 KiB each (6 MB): each is kept whole while the budget lasts.
        const { assert!(KEEP_WHOLE_BYTES >= 100 * 1024) };
        let mut told = 0;
        for i in 0..6u8 {
            let burst = (0..10u8).map(|j| vec![i ^ j ^ 0x55; 100 * 1024]).collect();
            told += push_raw(&store, "p-wang", burst).await;
        }
        assert_eq!(told, 60, "the phone is told of every refusal");
        let shares = store.quarantine_devices().await.unwrap();
        let wang = shares.iter().find(|d| d.device == "p-wang").unwrap();
        assert!(wang.kept_bytes <= DEVICE_BUDGET_BYTES, "{wang:?}");
        assert!(wang.kept >= 30 && wang.kept < 60, "{wang:?}");
        assert_eq!(wang.kept + wang.dropped, 60, "the rest is counted");
        assert_eq!(wang.dropped_bytes, wang.dropped * 100 * 1024);
        assert!(wang.flagged());
        assert_eq!(
            store.quarantine().await.unwrap().len() as i64,
            wang.kept,
            "only what the budget allows is stored"
        );

        // Another device's refusal is still kept: budgets are per device.
        assert_eq!(push_raw(&store, "p-liu", vec![vec![7; 100]]).await, 1);
        let shares = store.quarantine_devices().await.unwrap();
        let liu = shares.iter().find(|d| d.device == "p-liu").unwrap();
        assert_eq!((liu.kept, liu.dropped, liu.flagged()), (1, 0, false));
    }
);

conformance!(
    a_refused_change_is_released_once_its_reason_is_fixed,
    |store: Store| async move {
        // The phone believes it covers grid 01; the account says grid 02 (a typo at the office).
        let (_, mut a) = phone(
            &store,
            "wang",
            Role::GridWorker,
            "130322/101/201/02",
            "p-wang",
        )
        .await;
        a.sign_in(
            gridsync_core::Identity::new("wang", Role::GridWorker, path(GRID), None, "p-wang")
                .unwrap(),
        )
        .unwrap();
        let id = a
            .capture(
                &new_case(CaseKind::Request, GRID, "street_light", "村口路面塌陷"),
                T0,
            )
            .unwrap();
        let out = sync_into(&store, &mut a, T0).await;
        assert_eq!((out.accepted, out.rejected), (0, 1));
        let entry = store.quarantine_entries(1).await.unwrap().remove(0);
        assert_eq!((entry.code.as_str(), entry.whole), ("out_of_scope", true));

        // Released before the fix: refused again, nothing written, the row unchanged.
        match store.release_quarantined(&entry.id, "county", T0 + 1).await {
            Err(StoreError::Refused { code, .. }) => assert_eq!(code, "out_of_scope"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(store.case_doc(&id).await.unwrap().is_none());
        assert!(
            store
                .quarantine_entry(&entry.id)
                .await
                .unwrap()
                .unwrap()
                .released_at
                .is_none()
        );

        // The office corrects the account's grid; the admin releases the change.
        let mut account = store.user("wang").await.unwrap().unwrap();
        account.scope = path(GRID);
        store.update_user(&account).await.unwrap();
        let released = store
            .release_quarantined(&entry.id, "county", T0 + 2)
            .await
            .unwrap();
        assert_eq!(released, Released::Stored);
        let case = store.case_doc(&id).await.unwrap().unwrap().read().unwrap();
        assert_eq!(case.title, "村口路面塌陷");
        let after = store.quarantine_entry(&entry.id).await.unwrap().unwrap();
        assert_eq!(
            (after.released_at, after.released_by.as_deref()),
            (Some(T0 + 2), Some("county"))
        );
        assert_eq!(store.quarantine_totals().await.unwrap().kept_bytes, 0);
        // Twice is refused.
        assert!(matches!(
            store.release_quarantined(&entry.id, "county", T0 + 3).await,
            Err(StoreError::Conflict(_))
        ));

        // The author's phone pulls its own change back and counts it as acknowledged.
        sync_into(&store, &mut a, T0 + 4).await;
        assert_eq!(
            a.list(&CaseFilter::default()).unwrap()[0].sync_state,
            Some(SyncState::Synced)
        );
    }
);

conformance!(
    only_a_change_kept_whole_can_be_released,
    |store: Store| async move {
        let (_, _a) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        push_raw(&store, "p-wang", vec![vec![3; KEEP_WHOLE_BYTES + 1]]).await;
        let entry = store.quarantine_entries(1).await.unwrap().remove(0);
        assert!(!entry.whole);
        match store.release_quarantined(&entry.id, "county", T0).await {
            Err(StoreError::Conflict(why)) => assert!(why.contains("cannot be released"), "{why}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
);
