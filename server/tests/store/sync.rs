use gridsync_core::case::{Location, NewCase};
use gridsync_core::protocol::{decode_request, encode_request};
use gridsync_core::replica::{CaseFilter, SyncOutcome, SyncState};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, Replica, Role};
use gridsync_server::store::Store;

use crate::*;

fn request(title: &str, grid: &str) -> NewCase {
    NewCase {
        kind: CaseKind::Request,
        jurisdiction: path(grid),
        category: "street_light".into(),
        title: title.into(),
        description: "村口路灯不亮".into(),
        location: Location::default(),
        people: vec![],
    }
}

/// One round trip through the store, with the request passing the wire encoding.
/// wang, grid worker of grid 01 (village 201), on phone-a: the reporter of most tests here.
async fn wang(store: &Store) -> Replica {
    phone(
        store,
        "wang",
        Role::GridWorker,
        "130322/101/201/01",
        "phone-a",
    )
    .await
    .1
}

async fn round(store: &Store, r: &mut Replica) -> SyncOutcome {
    let req = decode_request(&encode_request(&r.next_sync_request().unwrap()).unwrap()).unwrap();
    let ctx = store.device_context(&req.device).await.unwrap().unwrap();
    let resp = store.sync(&ctx, &ctx.users[0], &req, T0).await.unwrap();
    r.apply_sync_response(&resp, T0).unwrap()
}

async fn until_quiet(store: &Store, r: &mut Replica) {
    sync_into(store, r, T0).await;
}

conformance!(migrations_are_idempotent, |store: Store| async move {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.change_count().await.unwrap(), 0);
});

conformance!(
    a_push_is_stored_fed_to_others_in_scope_and_retries_are_no_ops,
    |store: Store| async move {
        let mut a = wang(&store).await;
        let (_, mut b) = phone(&store, "zhao", Role::Mediator, "130322/101/201", "phone-b").await;
        let (_, mut other) = phone(
            &store,
            "sun",
            Role::GridWorker,
            "130322/101/202/01",
            "phone-c",
        )
        .await;
        let id = a
            .capture(&request("路灯不亮", "130322/101/201/01"), T0)
            .unwrap();
        a.edit(&id, T0 + 1, |e| e.set_title("东街路灯不亮"))
            .unwrap();

        // The first attempt's response is lost: the push is committed all the same.
        let req = a.next_sync_request().unwrap();
        let ctx = store.device_context("phone-a").await.unwrap().unwrap();
        let lost = store.sync(&ctx, &ctx.users[0], &req, T0).await.unwrap();
        assert_eq!(lost.accepted[0].hashes.len(), 2);
        assert_eq!(store.change_count().await.unwrap(), 2);
        // The retry is acknowledged and stores nothing twice.
        until_quiet(&store, &mut a).await;
        assert_eq!(store.change_count().await.unwrap(), 2);
        assert_eq!(a.pending_count().unwrap(), 0);

        until_quiet(&store, &mut b).await;
        until_quiet(&store, &mut other).await;
        let server = store.case_doc(&id).await.unwrap().unwrap();
        assert_eq!(b.case(&id).unwrap().read().unwrap(), server.read().unwrap());
        assert_eq!(
            b.list(&CaseFilter::default()).unwrap()[0].title,
            "东街路灯不亮"
        );
        assert!(
            other.case_ids().unwrap().is_empty(),
            "another village's worker sees nothing"
        );

        // The mediator edits; the worker gets it; the worker's own changes never come back to it.
        b.edit(&id, T0 + 5, |e| e.set_description("村口两盏路灯不亮"))
            .unwrap();
        until_quiet(&store, &mut b).await;
        let out = round(&store, &mut a).await;
        assert_eq!(out.pulled_changes, 1);
        assert_eq!(
            a.case(&id).unwrap().read().unwrap().description,
            "村口两盏路灯不亮"
        );
    }
);

conformance!(
    refused_changes_are_quarantined_not_merged_and_not_fed,
    |store: Store| async move {
        // The phone believes it covers grid 01; the account says grid 02.
        let (_, mut a) = phone(
            &store,
            "wang",
            Role::GridWorker,
            "130322/101/201/02",
            "phone-a",
        )
        .await;
        a.sign_in(
            gridsync_core::Identity::new(
                "wang",
                Role::GridWorker,
                path("130322/101/201/01"),
                None,
                "phone-a",
            )
            .unwrap(),
        )
        .unwrap();
        let (_, mut t) = phone(&store, "li", Role::TownshipStaff, "130322/101", "pc-t").await;
        let id = a
            .capture(&request("越界上报", "130322/101/201/01"), T0)
            .unwrap();
        let out = round(&store, &mut a).await;
        assert_eq!((out.accepted, out.rejected), (0, 1));
        assert_eq!(
            a.list(&CaseFilter::default()).unwrap()[0].sync_state,
            Some(SyncState::Rejected)
        );
        let q = store.quarantine().await.unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(
            (q[0].0.as_str(), q[0].2.as_str()),
            (id.as_str(), "out_of_scope")
        );
        assert!(store.case_doc(&id).await.unwrap().is_none(), "never merged");
        until_quiet(&store, &mut t).await;
        assert!(t.case_ids().unwrap().is_empty(), "never sent to others");
    }
);

conformance!(a_forged_actor_is_quarantined, |store: Store| async move {
    let mut a = wang(&store).await;
    let (_, _b) = phone(
        &store,
        "liu",
        Role::GridWorker,
        "130322/101/201/01",
        "phone-b",
    )
    .await;
    a.capture(&request("路灯不亮", "130322/101/201/01"), T0)
        .unwrap();
    let mut req = a.next_sync_request().unwrap();
    req.device = "phone-b".into();
    let ctx = store.device_context("phone-b").await.unwrap().unwrap();
    let resp = store.sync(&ctx, &ctx.users[0], &req, T0).await.unwrap();
    assert!(resp.accepted.is_empty());
    assert_eq!(resp.rejected[0].code.as_str(), "forged_actor");
    assert_eq!(store.quarantine().await.unwrap()[0].2, "forged_actor");
    assert_eq!(store.change_count().await.unwrap(), 0);
});

conformance!(
    the_feed_pages_by_bytes_and_loses_nothing,
    |store: Store| async move {
        let mut a = wang(&store).await;
        let (_, mut t) = phone(&store, "li", Role::TownshipStaff, "130322/101", "pc-t").await;
        for i in 0..30 {
            a.capture(
                &request(&format!("巡查发现问题 {i}"), "130322/101/201/01"),
                T0 + i,
            )
            .unwrap();
        }
        until_quiet(&store, &mut a).await;
        let ctx = store.device_context("pc-t").await.unwrap().unwrap();
        let mut cursor = 0;
        let mut pages = 0;
        let mut seen = 0;
        loop {
            let page = store
                .pull(&ctx.users[0], "pc-t", cursor, &[], 2_000)
                .await
                .unwrap();
            seen += page.pull.iter().map(|p| p.changes.len()).sum::<usize>();
            assert!(page.cursor >= cursor);
            cursor = page.cursor;
            pages += 1;
            if !page.more {
                break;
            }
        }
        assert!(pages > 3, "small pages: {pages}");
        assert_eq!(seen, 30);
        until_quiet(&store, &mut t).await;
        assert_eq!(t.case_ids().unwrap().len(), 30);
    }
);

conformance!(
    the_case_list_is_scoped_filtered_and_searched_alike_on_both_backends,
    |store: Store| async move {
        use gridsync_server::store::CaseQuery;
        let mut a = wang(&store).await;
        let (li, _) = phone(&store, "li", Role::TownshipStaff, "130322/101", "pc-t").await;
        let (other, _) = phone(&store, "he", Role::TownshipStaff, "130322/102", "pc-o").await;
        a.capture(&request("路灯不亮 100%", "130322/101/201/01"), T0)
            .unwrap();
        a.capture(&request("道路破损_急", "130322/101/201/01"), T0 + 1)
            .unwrap();
        until_quiet(&store, &mut a).await;
        let all = store
            .list_cases(&li, &CaseQuery::default(), T0)
            .await
            .unwrap();
        assert_eq!(all.total, 2);
        assert_eq!(all.items[0].title, "道路破损_急", "newest first");
        assert_eq!(
            store
                .list_cases(&other, &CaseQuery::default(), T0)
                .await
                .unwrap()
                .total,
            0
        );
        let q = |text: &str| CaseQuery {
            q: Some(text.into()),
            ..Default::default()
        };
        assert_eq!(
            store.list_cases(&li, &q("路灯"), T0).await.unwrap().total,
            1
        );
        assert_eq!(
            store.list_cases(&li, &q("100%"), T0).await.unwrap().total,
            1,
            "a % in the text is literal"
        );
        assert_eq!(
            store.list_cases(&li, &q("_"), T0).await.unwrap().total,
            1,
            "so is an underscore"
        );
        let page = store
            .list_cases(
                &li,
                &CaseQuery {
                    per_page: Some(1),
                    page: Some(2),
                    ..Default::default()
                },
                T0,
            )
            .await
            .unwrap();
        assert_eq!(
            (page.total, page.items.len(), page.items[0].title.as_str()),
            (2, 1, "路灯不亮 100%")
        );
        let by_grid = CaseQuery {
            grid: Some("02".into()),
            ..Default::default()
        };
        assert_eq!(store.list_cases(&li, &by_grid, T0).await.unwrap().total, 0);
    }
);

conformance_db!(
    two_servers_on_one_database_never_serve_stale_documents,
    |one: Store, url: String| async move {
        // A second stateless server on the same database, with its own document cache.
        let two = Store::connect(&url).await.unwrap();
        let mut a = wang(&one).await;
        let (_, mut b) = phone(&one, "zhao", Role::Mediator, "130322/101/201", "phone-b").await;
        let id = a
            .capture(&request("路灯不亮", "130322/101/201/01"), T0)
            .unwrap();
        until_quiet(&one, &mut a).await; // server one caches the case
        until_quiet(&two, &mut b).await; // server two too
        b.edit(&id, T0 + 1, |e| e.set_description("两盏灯都不亮"))
            .unwrap();
        until_quiet(&two, &mut b).await; // the case moves on through server two
        a.edit(&id, T0 + 2, |e| e.set_title("东街路灯不亮"))
            .unwrap();
        until_quiet(&one, &mut a).await; // server one must not build on its cached copy
        let stored = one.case_doc(&id).await.unwrap().unwrap().read().unwrap();
        assert_eq!(
            (stored.title.as_str(), stored.description.as_str()),
            ("东街路灯不亮", "两盏灯都不亮")
        );
        assert_eq!(
            two.case_doc(&id).await.unwrap().unwrap().read().unwrap(),
            stored
        );
        assert_eq!(one.change_count().await.unwrap(), 3);
        until_quiet(&two, &mut b).await;
        assert_eq!(b.case(&id).unwrap().read().unwrap(), stored);
    }
);

conformance!(
    a_push_judged_before_another_was_stored_is_judged_again,
    |store: Store| async move {
        // Pushes are judged before the feed lock. Two phones edit one case; both pushes are
        // judged against the same stored version, then stored one after the other: the second
        // must be judged again on top of the first, or its snapshot would drop the first edit.
        let mut a = wang(&store).await;
        let (_, mut b) = phone(&store, "zhao", Role::Mediator, "130322/101/201", "phone-b").await;
        let id = a
            .capture(&request("路灯不亮", "130322/101/201/01"), T0)
            .unwrap();
        until_quiet(&store, &mut a).await;
        until_quiet(&store, &mut b).await;
        a.edit(&id, T0 + 1, |e| e.set_title("东街路灯不亮"))
            .unwrap();
        b.edit(&id, T0 + 2, |e| e.set_description("两盏灯都不亮"))
            .unwrap();
        let (req_a, req_b) = (
            a.next_sync_request().unwrap(),
            b.next_sync_request().unwrap(),
        );
        let ctx_a = store.device_context("phone-a").await.unwrap().unwrap();
        let ctx_b = store.device_context("phone-b").await.unwrap().unwrap();
        let tax = Taxonomy::builtin();
        let judged_a = store
            .judge_push(&ctx_a, &ctx_a.users[0], &req_a.push, tax)
            .await
            .unwrap();
        let judged_b = store
            .judge_push(&ctx_b, &ctx_b.users[0], &req_b.push, tax)
            .await
            .unwrap();
        let (acks_a, refused_a) = store.store_push(judged_a, T0 + 3).await.unwrap();
        let (acks_b, refused_b) = store.store_push(judged_b, T0 + 4).await.unwrap();
        assert!(refused_a.is_empty() && refused_b.is_empty());
        assert_eq!((acks_a.len(), acks_b.len()), (1, 1));
        let stored = store.case_doc(&id).await.unwrap().unwrap().read().unwrap();
        assert_eq!(
            (stored.title.as_str(), stored.description.as_str()),
            ("东街路灯不亮", "两盏灯都不亮")
        );
        // The projection follows the document, and a second server reading the snapshot (no
        // cache) sees the same.
        let row = store
            .list_cases(&ctx_b.users[0], &Default::default(), T0)
            .await
            .unwrap();
        assert_eq!(row.items[0].title, "东街路灯不亮");
        assert_eq!(store.change_count().await.unwrap(), 3);
    }
);

conformance!(
    a_case_named_twice_in_one_push_is_judged_on_its_first_entry_and_written_once,
    |store: Store| async move {
        // The feed transaction writes its rows at the commit, so the second entry of a case
        // cannot read the first from the database: it must be judged against what this
        // transaction wrote, or the edit would be judged against nothing and refused.
        let mut a = wang(&store).await;
        let id = a
            .capture(&request("路灯不亮", "130322/101/201/01"), T0)
            .unwrap();
        a.edit(&id, T0 + 1, |e| e.set_title("东街路灯不亮"))
            .unwrap();
        let req = a.next_sync_request().unwrap();
        assert_eq!(req.push.len(), 1);
        let changes = req.push[0].changes.clone();
        assert_eq!(changes.len(), 2, "the capture and the edit");
        let entry = |c: Vec<serde_bytes::ByteBuf>| gridsync_core::protocol::DocChanges {
            doc: id.clone(),
            changes: c,
            sigs: Vec::new(),
            by: Vec::new(),
        };
        // The capture, the edit on top of it, and the capture once more.
        let push = vec![
            entry(vec![changes[0].clone()]),
            entry(vec![changes[1].clone()]),
            entry(vec![changes[0].clone()]),
        ];
        let ctx = store.device_context("phone-a").await.unwrap().unwrap();
        let (acks, refused) = store
            .commit_push(&ctx, &ctx.users[0], &push, Taxonomy::builtin(), T0 + 2)
            .await
            .unwrap();
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(acks.len(), 3, "every entry is acknowledged");
        assert_eq!(
            store.change_count().await.unwrap(),
            2,
            "each change stored once"
        );
        assert!(store.quarantine().await.unwrap().is_empty());
        let stored = store.case_doc(&id).await.unwrap().unwrap();
        assert_eq!(stored.read().unwrap().title, "东街路灯不亮");
        let row = store
            .list_cases(&ctx.users[0], &Default::default(), T0)
            .await
            .unwrap();
        assert_eq!(row.items.len(), 1);
        assert_eq!(row.items[0].title, "东街路灯不亮");
    }
);
