//! The read audit (ADR 0028): reads appended as a hash chain, paged for the console, and any
//! edit of a stored entry — a flipped byte, a changed column, a deleted row — named by the walk.

use gridsync_core::case::Party;
use gridsync_core::evidence::{ChainEntry, GENESIS, ReadEntry};
use gridsync_server::store::{CaseRead, ReadAuditFilter, Store};

use crate::*;

const GRID: &str = "130322/101/201/01";

/// Five reads: two by `wang` of case `c1`, then one each of others, in three appends.
async fn five_reads(store: &Store) {
    let read = |user, case| CaseRead {
        user,
        case,
        route: "console case page",
        addr: "10.0.0.7",
    };
    store
        .record_reads(&[read("wang", "c1"), read("wang", "c1")], T0)
        .await
        .unwrap();
    store.record_reads(&[], T0 + 1).await.unwrap();
    store
        .record_reads(&[read("li", "c2"), read("wang", "c3")], T0 + 2)
        .await
        .unwrap();
    store
        .record_reads(
            &[CaseRead {
                route: "POST /v1/sync",
                addr: "-",
                ..read("li", "c1")
            }],
            T0 + 3,
        )
        .await
        .unwrap();
}

/// The stored rows (seq, hash, entry) in order.
async fn rows(store: &Store) -> Vec<(i64, Vec<u8>, Vec<u8>)> {
    use sqlx::Row;
    sqlx::query("SELECT seq, hash, entry FROM read_audit ORDER BY seq")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

conformance!(
    reads_append_a_hash_chain_and_page_newest_first,
    |store: Store| async move {
        let empty = store.verify_read_audit().await.unwrap();
        assert_eq!((empty.entries, empty.head, empty.fault), (0, None, None));
        five_reads(&store).await;
        let stored = rows(&store).await;
        assert_eq!(
            stored.len(),
            5,
            "one entry per read, none for an empty append"
        );
        let mut prev = GENESIS;
        for (i, (seq, hash, bytes)) in stored.iter().enumerate() {
            let entry = ReadEntry::decode(bytes).unwrap();
            assert_eq!(*seq, i as i64 + 1);
            assert_eq!(entry.seq, *seq as u64);
            assert_eq!(entry.prev.as_slice(), prev);
            assert_eq!(hash.as_slice(), ReadEntry::hash_of(bytes));
            prev = ReadEntry::hash_of(bytes);
        }
        let last = ReadEntry::decode(&stored[4].2).unwrap();
        assert_eq!(
            (last.user.as_str(), last.case.as_str(), last.route.as_str()),
            ("li", "c1", "POST /v1/sync")
        );
        assert_eq!((last.at, last.addr.as_str()), (T0 + 3, "-"));

        let report = store.verify_read_audit().await.unwrap();
        assert_eq!(report.fault, None);
        assert_eq!(report.entries, 5);
        assert_eq!(report.head, Some((5, prev)));

        let all = store
            .read_audit_page(&ReadAuditFilter::default(), 2, 0)
            .await
            .unwrap();
        assert_eq!(all.total, 5);
        assert_eq!(
            all.rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [5, 4],
            "newest first"
        );
        let next = store
            .read_audit_page(&ReadAuditFilter::default(), 2, 2)
            .await
            .unwrap();
        assert_eq!(next.rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 2]);
        let page = |f: ReadAuditFilter| {
            let store = store.clone();
            async move {
                let p = store.read_audit_page(&f, 50, 0).await.unwrap();
                assert_eq!(p.total as usize, p.rows.len());
                p.rows.iter().map(|r| r.seq).collect::<Vec<_>>()
            }
        };
        let wang = ReadAuditFilter {
            user: Some("wang".into()),
            ..Default::default()
        };
        assert_eq!(page(wang.clone()).await, [4, 2, 1]);
        let wang_c1 = ReadAuditFilter {
            case: Some("c1".into()),
            ..wang
        };
        assert_eq!(page(wang_c1).await, [2, 1]);
        let later = ReadAuditFilter {
            from: Some(T0 + 2),
            to: Some(T0 + 3),
            ..Default::default()
        };
        assert_eq!(page(later).await, [4, 3]);
        // Cases the projection does not know are outside every place.
        let county = ReadAuditFilter {
            within: Some(path("130322")),
            ..Default::default()
        };
        assert_eq!(page(county).await, Vec::<u64>::new());
    }
);

conformance!(
    an_edited_entry_a_changed_column_or_a_deleted_row_is_named,
    |store: Store| async move {
        five_reads(&store).await;
        let stored = rows(&store).await;
        let exec = |sql: &'static str, bytes: Option<Vec<u8>>| {
            let store = store.clone();
            async move {
                let mut q = sqlx::query(sql);
                if let Some(b) = bytes {
                    q = q.bind(b);
                }
                q.execute(store.pool()).await.unwrap();
            }
        };
        let fault = || {
            let store = store.clone();
            async move { store.verify_read_audit().await.unwrap() }
        };

        // One byte of entry 3 flipped.
        let mut flipped = stored[2].2.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        exec(
            "UPDATE read_audit SET entry = $1 WHERE seq = 3",
            Some(flipped),
        )
        .await;
        let report = fault().await;
        let why = report.fault.unwrap();
        assert!(why.starts_with("entry 3"), "{why}");
        assert_eq!((report.entries, report.head.map(|h| h.0)), (2, Some(2)));
        exec(
            "UPDATE read_audit SET entry = $1 WHERE seq = 3",
            Some(stored[2].2.clone()),
        )
        .await;
        assert_eq!(fault().await.fault, None, "restored");

        // A column changed beside its untouched entry.
        exec(
            "UPDATE read_audit SET user_id = 'mallory' WHERE seq = 4",
            None,
        )
        .await;
        let why = fault().await.fault.unwrap();
        assert!(
            why.starts_with("entry 4") && why.contains("columns"),
            "{why}"
        );
        exec("UPDATE read_audit SET user_id = 'wang' WHERE seq = 4", None).await;
        exec("UPDATE read_audit SET addr = '1.2.3.4' WHERE seq = 1", None).await;
        let why = fault().await.fault.unwrap();
        assert!(why.starts_with("entry 1"), "{why}");
        exec(
            "UPDATE read_audit SET addr = '10.0.0.7' WHERE seq = 1",
            None,
        )
        .await;
        assert_eq!(fault().await.fault, None, "restored");

        // A row deleted.
        exec("DELETE FROM read_audit WHERE seq = 2", None).await;
        let why = fault().await.fault.unwrap();
        assert!(why.contains("entry 2 is missing"), "{why}");
    }
);

conformance!(
    concurrent_appends_are_grouped_and_each_returns_once_its_entries_are_chained,
    |store: Store| async move {
        const APPENDS: usize = 16;
        let before = store.read_audit_group_counts();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..APPENDS {
            let store = store.clone();
            tasks.spawn(async move {
                let case = format!("c{i}");
                let read = CaseRead {
                    user: "wang",
                    case: &case,
                    route: "POST /v1/sync",
                    addr: "-",
                };
                // Two entries per append: a group must keep each append's entries together.
                store
                    .record_reads(&[read, read], T0 + i as i64)
                    .await
                    .unwrap();
                // Answered only after the commit: its entries are there to read.
                let page = store
                    .read_audit_page(
                        &ReadAuditFilter {
                            case: Some(case.clone()),
                            ..Default::default()
                        },
                        10,
                        0,
                    )
                    .await
                    .unwrap();
                assert_eq!(page.total, 2, "{case}");
                assert!(page.rows.iter().all(|r| r.at == T0 + i as i64));
                page.rows.iter().map(|r| r.seq).collect::<Vec<_>>()
            });
        }
        while let Some(seqs) = tasks.join_next().await {
            let seqs = seqs.unwrap();
            assert_eq!(
                seqs[0],
                seqs[1] + 1,
                "an append's entries were split: {seqs:?}"
            );
        }
        let report = store.verify_read_audit().await.unwrap();
        assert_eq!((report.entries, report.fault), (2 * APPENDS as u64, None));
        let after = store.read_audit_group_counts();
        assert_eq!(after.writes - before.writes, APPENDS as u64);
        assert!((1..=APPENDS as u64).contains(&(after.transactions - before.transactions)));
    }
);

conformance!(
    the_last_row_deleted_is_not_seen_but_the_next_read_follows_the_one_left,
    |store: Store| async move {
        // The chain's end is what `gridsync audit head` prints elsewhere; inside the database a
        // dropped last entry leaves a shorter, intact chain, and appends continue from it.
        five_reads(&store).await;
        sqlx::query("DELETE FROM read_audit WHERE seq = 5")
            .execute(store.pool())
            .await
            .unwrap();
        store
            .record_reads(
                &[CaseRead {
                    user: "wang",
                    case: "c9",
                    route: "console print",
                    addr: "-",
                }],
                T0 + 9,
            )
            .await
            .unwrap();
        let report = store.verify_read_audit().await.unwrap();
        assert_eq!((report.entries, report.fault), (5, None));
    }
);

conformance!(
    a_sync_reads_in_clear_only_cases_with_people_for_roles_that_handle_them,
    |store: Store| async move {
        let (_, mut worker) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let (mediator, _) = phone(&store, "zhao", Role::Mediator, "130322/101/201", "p-zhao").await;
        let person = Party {
            id: "p1".into(),
            name: "张志强".into(),
            role: "requester".into(),
            phone: "13812345678".into(),
        };
        let with_people = |kind, category: &str, title: &str| {
            let mut c = new_case(kind, GRID, category, title);
            c.people = vec![person.clone()];
            c
        };
        let incident = worker
            .capture(
                &with_people(CaseKind::Incident, "safety_hazard", "有人"),
                T0,
            )
            .unwrap();
        let dispute = worker
            .capture(
                &with_people(CaseKind::Dispute, "dispute_neighbours", "纠纷"),
                T0,
            )
            .unwrap();
        let nobody = worker
            .capture(
                &new_case(CaseKind::Incident, GRID, "safety_hazard", "无人"),
                T0,
            )
            .unwrap();
        sync_accepted(&store, &mut worker, T0 + 1).await;
        let ids = [
            incident.as_str(),
            dispute.as_str(),
            nobody.as_str(),
            "no-such",
        ];
        let who = worker.identity().unwrap().clone();
        let mut read = store.cases_read_in_clear(&who, &ids).await.unwrap();
        read.sort();
        let mut want = vec![incident.clone(), dispute.clone()];
        want.sort();
        assert_eq!(read, want, "the grid worker reads both cases with people");
        // A mediator reads a dispute's people in clear, an incident's masked.
        assert_eq!(
            store.cases_read_in_clear(&mediator, &ids).await.unwrap(),
            [dispute]
        );
    }
);
