//! Group commit (ADR 0038): pushes stored together in one transaction are each judged against
//! what the ones before them wrote, and concurrent pushes all come back acknowledged.

use gridsync_core::replica::CaseFilter;
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, Role};
use gridsync_server::store::Store;

use crate::*;

conformance!(
    pushes_stored_in_one_transaction_see_each_others_writes,
    |store: Store| async move {
        let (_, mut a) = phone(
            &store,
            "wang",
            Role::GridWorker,
            "130322/101/201/01",
            "phone-a",
        )
        .await;
        let (_, mut b) = phone(&store, "zhao", Role::Mediator, "130322/101/201", "phone-b").await;
        let (_, mut c) = phone(
            &store,
            "li",
            Role::GridWorker,
            "130322/101/201/02",
            "phone-c",
        )
        .await;
        let id = a
            .capture(
                &new_case(
                    CaseKind::Request,
                    "130322/101/201/01",
                    "street_light",
                    "路灯不亮",
                ),
                T0,
            )
            .unwrap();
        sync_accepted(&store, &mut a, T0).await;
        sync_accepted(&store, &mut b, T0).await;
        // Two phones edit the same case, a third opens a new one; phone a's push is also
        // retried within the same group (a second request after a lost answer).
        a.edit(&id, T0 + 1, |e| e.set_title("东街路灯不亮"))
            .unwrap();
        b.edit(&id, T0 + 2, |e| e.set_description("两盏灯都不亮"))
            .unwrap();
        let new = c
            .capture(
                &new_case(
                    CaseKind::Incident,
                    "130322/101/201/02",
                    "road_damage",
                    "路面塌陷",
                ),
                T0 + 3,
            )
            .unwrap();
        let tax = Taxonomy::builtin();
        let mut judged = Vec::new();
        for (r, device) in [
            (&a, "phone-a"),
            (&b, "phone-b"),
            (&c, "phone-c"),
            (&a, "phone-a"),
        ] {
            let req = r.next_sync_request().unwrap();
            let ctx = store.device_context(device).await.unwrap().unwrap();
            let j = store
                .judge_push(&ctx, &ctx.users[0], &req.push, tax)
                .await
                .unwrap();
            judged.push((j, T0 + 10));
        }
        let before = store.change_count().await.unwrap();
        let stored = store.store_pushes(judged).await.unwrap();
        assert_eq!(stored.len(), 4);
        for (acks, refused) in &stored {
            assert!(refused.is_empty(), "{refused:?}");
            assert_eq!(acks.iter().map(|a| a.hashes.len()).sum::<usize>(), 1);
        }
        // Three new changes, the retried one stored once.
        assert_eq!(store.change_count().await.unwrap(), before + 3);
        // The group's receipts (one per device run, written in one statement) chain and verify,
        // and each of its devices is noted as synced at the group's time (one statement).
        let audit = store.audit_verify().await.unwrap();
        assert_eq!(audit.faults, Vec::<String>::new());
        assert_eq!(audit.changes, before as u64 + 3);
        assert_eq!(audit.receipts, 1 + 3, "the first push's, then a, b and c's");
        let synced: Vec<(String, Option<i64>)> = store
            .devices()
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.id, d.last_sync_at))
            .collect();
        for device in ["phone-a", "phone-b", "phone-c"] {
            assert!(
                synced.contains(&(device.to_owned(), Some(T0 + 10))),
                "{device}: {synced:?}"
            );
        }
        let merged = store.case_doc(&id).await.unwrap().unwrap().read().unwrap();
        assert_eq!(
            (merged.title.as_str(), merged.description.as_str()),
            ("东街路灯不亮", "两盏灯都不亮")
        );
        assert!(store.case_doc(&new).await.unwrap().is_some());
        // Every phone then converges on the stored documents.
        for r in [&mut a, &mut b, &mut c] {
            sync_accepted(&store, r, T0 + 20).await;
            assert_eq!(r.pending_count().unwrap(), 0);
        }
        let seen = b.list(&CaseFilter::default()).unwrap();
        assert!(seen.iter().any(|s| s.id == new) && seen.iter().any(|s| s.id == id));
    }
);

conformance!(
    concurrent_pushes_are_all_acknowledged_and_stored,
    |store: Store| async move {
        const PHONES: usize = 12;
        let mut phones = Vec::new();
        for i in 0..PHONES {
            let grid = format!("130322/101/201/{:02}", 1 + i % 20);
            let (_, mut r) = phone(
                &store,
                &format!("gw{i}"),
                Role::GridWorker,
                &grid,
                &format!("phone-{i}"),
            )
            .await;
            for n in 0..2 {
                r.capture(
                    &new_case(
                        CaseKind::Incident,
                        &grid,
                        "road_damage",
                        &format!("第{n}处"),
                    ),
                    T0 + n,
                )
                .unwrap();
            }
            phones.push((format!("phone-{i}"), r));
        }
        let before = store.group_counts();
        let mut tasks = tokio::task::JoinSet::new();
        for (device, r) in &phones {
            let req = r.next_sync_request().unwrap();
            let (store, device) = (store.clone(), device.clone());
            tasks.spawn(async move {
                let ctx = store.device_context(&device).await.unwrap().unwrap();
                store
                    .commit_push(&ctx, &ctx.users[0], &req.push, Taxonomy::builtin(), T0 + 5)
                    .await
                    .unwrap()
            });
        }
        let mut acked = 0;
        while let Some(done) = tasks.join_next().await {
            let (acks, refused) = done.unwrap();
            assert!(refused.is_empty(), "{refused:?}");
            acked += acks.iter().map(|a| a.hashes.len()).sum::<usize>();
        }
        assert_eq!(acked, PHONES * 2);
        assert_eq!(store.change_count().await.unwrap(), (PHONES * 2) as i64);
        let after = store.group_counts();
        assert_eq!(after.writes - before.writes, PHONES as u64);
        assert!((1..=PHONES as u64).contains(&(after.transactions - before.transactions)));
        // What each was told is true: its answers leave nothing pending.
        for (_, r) in &mut phones {
            sync_accepted(&store, r, T0 + 6).await;
            assert_eq!(r.pending_count().unwrap(), 0);
        }
    }
);

conformance!(
    a_sync_that_pushes_nothing_takes_no_feed_lock_and_notes_the_device_once_a_minute,
    |store: Store| async move {
        let (_, mut a) = phone(
            &store,
            "wang",
            Role::GridWorker,
            "130322/101/201/01",
            "phone-a",
        )
        .await;
        let last_sync = |store: Store| async move {
            let devices = store.devices().await.unwrap();
            devices
                .into_iter()
                .find(|d| d.id == "phone-a")
                .unwrap()
                .last_sync_at
        };
        let before = store.group_counts();
        sync_accepted(&store, &mut a, T0).await;
        assert_eq!(store.group_counts(), before, "a pull took the feed lock");
        assert_eq!(last_sync(store.clone()).await, Some(T0));
        // Within a minute a pull does not write; after it, it does.
        sync_accepted(&store, &mut a, T0 + 30_000).await;
        assert_eq!(last_sync(store.clone()).await, Some(T0));
        sync_accepted(&store, &mut a, T0 + 61_000).await;
        assert_eq!(last_sync(store.clone()).await, Some(T0 + 61_000));
        // A push notes its own time, exactly, in its own transaction.
        a.capture(
            &new_case(
                CaseKind::Incident,
                "130322/101/201/01",
                "road_damage",
                "路面塌陷",
            ),
            T0 + 62_000,
        )
        .unwrap();
        sync_accepted(&store, &mut a, T0 + 62_000).await;
        assert_eq!(last_sync(store.clone()).await, Some(T0 + 62_000));
        assert_eq!(store.group_counts().transactions, before.transactions + 1);
        assert_eq!(store.change_count().await.unwrap(), 1);
    }
);
