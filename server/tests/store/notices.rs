//! Notices and the SMS outbox on both backends (ADR 0027): a dispatch tells its department in
//! the dispatch's own write, once; notices ride the sync and their read marks come back; SMS
//! rows are written only with a gateway, a number and no opt-out, and are claimed under a
//! lease; the clock reminds once per deadline; the delivery loop backs off after a failure and
//! holds back only the non-urgent in quiet hours or over the daily cap.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use gridsync_core::calendar::Calendar;
use gridsync_core::notice::{self, Audience, NoticeDraft, NoticeKind};
use gridsync_core::protocol::SyncRequest;
use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_core::{CaseKind, Identity, Replica, Role};
use gridsync_server::sms::{Delivery, SmsConfig};
use gridsync_server::store::{
    CaseQuery, CaseRow, HELD_CAP, HELD_QUIET, NoticeRow, Raised, SMS_PENDING, SMS_SENT,
    SMS_SKIPPED, SmsRow, SmsWriting, Store, UserRecord,
};
use gridsync_server::supervision::Supervisor;
use gridsync_testkit::link::read_request;

use crate::*;

const GRID: &str = "130322/101/201/01";
const TOWNSHIP: &str = "130322/101";
const COUNTY: &str = "130322";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Local (China) time `date` at `hh:00`.
fn at(date: &str, hh: i64) -> i64 {
    Calendar::builtin().local_midnight(date).unwrap() + hh * HOUR
}

/// A department handler of `department` for the county.
async fn handler(store: &Store, id: &str, department: &str) {
    store
        .add_user(
            &UserRecord {
                id: id.into(),
                display_name: id.into(),
                role: Role::DepartmentHandler,
                scope: path(COUNTY),
                department: Some(department.into()),
                password_hash: "-".into(),
                disabled: false,
            },
            T0,
        )
        .await
        .unwrap();
}

/// A department handler's console-less device, bound on the store: its identity.
async fn handler_device(store: &Store, id: &str, department: &str, device: &str) -> Identity {
    handler(store, id, department).await;
    let who = Identity::new(
        id,
        Role::DepartmentHandler,
        path(COUNTY),
        Some(department.into()),
        device,
    )
    .unwrap();
    let mut r = Replica::open_in_memory(&KEY).unwrap();
    r.sign_in(who.clone()).unwrap();
    store
        .bind_device(device, id, r.actor_id(), T0)
        .await
        .unwrap();
    who
}

/// The kinds of `user`'s notices on `case`, oldest first.
async fn kinds_on(store: &Store, user: &str, case: &str) -> Vec<String> {
    let mut list: Vec<NoticeRow> = store.notice_list(user, 100).await.unwrap();
    list.reverse();
    list.into_iter()
        .filter(|n| n.notice.case == case)
        .map(|n| n.notice.kind)
        .collect()
}

/// The projection row of `id` as the county sees it, at `now`.
async fn row(store: &Store, id: &str, now: i64) -> CaseRow {
    let county = Identity::new("county", Role::CountyAdmin, path(COUNTY), None, "pc").unwrap();
    let page = store
        .list_cases(&county, &CaseQuery::default(), now)
        .await
        .unwrap();
    page.items.into_iter().find(|r| r.id == id).unwrap()
}

/// A grid worker reports `category` at the grid; the township accepts it and dispatches it to
/// `department`, synced at `t`. Returns the case id and the dispatch event's id.
async fn dispatched(
    store: &Store,
    w: &mut Replica,
    t: &mut Replica,
    category: &str,
    title: &str,
    department: &str,
    at: i64,
) -> (String, String) {
    let id = w
        .capture(&new_case(CaseKind::Incident, GRID, category, title), at)
        .unwrap();
    sync_accepted(store, w, at).await;
    sync_accepted(store, t, at).await;
    t.append_event(&id, EventDraft::new(EventType::Accepted), at + 1)
        .unwrap();
    let event = t
        .append_event(&id, EventDraft::assign_to(department), at + 2)
        .unwrap();
    sync_accepted(store, t, at + 2).await;
    (id, event)
}

/// A sync request of `device` that pushes nothing and asks for notices.
fn notices_request(device: &str, after: Option<u64>, read: Vec<u64>) -> SyncRequest {
    SyncRequest {
        generation: None,
        recover: Vec::new(),
        device: device.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        cursor: 0,
        page_bytes: 0,
        push: vec![],
        want: vec![],
        rules: None,
        notices_after: after,
        notices_read: read,
        erased_after: None,
        keys: Vec::new(),
        certificate_until: None,
    }
}

/// A notice of `kind` for one account, on a case that need not exist.
fn to_user(case: &str, what: &str, kind: NoticeKind, user: &str) -> Raised {
    Raised {
        case_id: case.into(),
        title: format!("案件{case}"),
        place: path(GRID),
        requester_phone: None,
        requester_text: None,
        draft: NoticeDraft {
            key: format!("{case}:{}:{what}", kind.as_str()),
            kind,
            audience: Audience::User(user.into()),
            detail: String::new(),
        },
    }
}

async fn outbox_row(store: &Store, user: &str) -> SmsRow {
    let rows = store.sms_outbox(100).await.unwrap();
    let mine: Vec<SmsRow> = rows
        .into_iter()
        .filter(|r| r.user_id.as_deref() == Some(user))
        .collect();
    assert_eq!(mine.len(), 1, "{user}: {mine:?}");
    mine.into_iter().next().unwrap()
}

conformance!(
    dispatch_notifies_the_department_once_in_the_same_write,
    |store: Store| async move {
        let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let (_, mut t) = phone(&store, "li", Role::TownshipStaff, TOWNSHIP, "pc-li").await;
        handler(&store, "fire1", "fire").await;
        handler(&store, "fire2", "fire").await;
        handler(&store, "water1", "water").await;
        let t0 = at("2026-11-23", 9);
        let (id, event) = dispatched(
            &store,
            &mut w,
            &mut t,
            "fire_hazard",
            "仓库堆放易燃物",
            "fire",
            t0,
        )
        .await;

        // Both fire handlers heard of it in the dispatch's own write (no clock has run), with
        // the dispatch's time and the line they read; the water bureau and the case's own
        // people heard nothing.
        for user in ["fire1", "fire2"] {
            let list = store.notice_list(user, 10).await.unwrap();
            assert_eq!(list.len(), 1, "{user}: {list:?}");
            let n = &list[0];
            assert_eq!(
                (n.notice.kind.as_str(), n.notice.case.as_str()),
                ("dispatched", id.as_str())
            );
            assert_eq!(n.notice.at, t0 + 2);
            assert_eq!(
                n.notice.text,
                notice::text_zh(NoticeKind::Dispatched, "仓库堆放易燃物", "")
            );
            assert!(!n.notice.urgent);
            assert_eq!(n.read_at, None);
            assert_eq!(store.unread_notices(user).await.unwrap(), 1);
        }
        assert_ne!(
            store.notice_list("fire1", 10).await.unwrap()[0].notice.id,
            store.notice_list("fire2", 10).await.unwrap()[0].notice.id
        );
        for user in ["water1", "wang", "li"] {
            assert!(
                store.notice_list(user, 10).await.unwrap().is_empty(),
                "{user}"
            );
            assert_eq!(store.unread_notices(user).await.unwrap(), 0);
        }

        // The same phone syncing again, and the dispatch's notice raised again under its key,
        // add nothing.
        sync_accepted(&store, &mut t, t0 + 10).await;
        let doc = store.case_doc(&id).await.unwrap().unwrap();
        let (case, state) = (doc.read().unwrap(), doc.workflow().unwrap());
        let assign = case.events.iter().find(|e| e.id == event).unwrap();
        let drafts = notice::on_events(&case, &state, &[assign]);
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].audience, Audience::Department("fire".into()));
        let again: Vec<Raised> = drafts.into_iter().map(|d| Raised::of(&case, d)).collect();
        assert_eq!(store.raise_notices(&again, t0 + 20).await.unwrap(), 0);
        for user in ["fire1", "fire2"] {
            assert_eq!(kinds_on(&store, user, &id).await, vec!["dispatched"]);
            assert_eq!(store.unread_notices(user).await.unwrap(), 1);
        }
        assert!(store.notice_list("water1", 10).await.unwrap().is_empty());
    }
);

conformance!(
    notices_ride_the_sync_and_read_marks_come_back,
    |store: Store| async move {
        let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let (_, mut t) = phone(&store, "li", Role::TownshipStaff, TOWNSHIP, "pc-li").await;
        let who = handler_device(&store, "fire1", "fire", "p-fire1").await;
        handler(&store, "fire2", "fire").await;
        let t0 = at("2026-11-23", 9);
        let (first, _) = dispatched(
            &store,
            &mut w,
            &mut t,
            "fire_hazard",
            "楼道堆物",
            "fire",
            t0,
        )
        .await;
        let (second, _) = dispatched(
            &store,
            &mut w,
            &mut t,
            "fire_hazard",
            "加油站违规",
            "fire",
            t0 + HOUR,
        )
        .await;
        let ctx = store.device_context("p-fire1").await.unwrap().unwrap();
        let reader = ctx.users.iter().find(|u| u.user == who.user).unwrap();

        // An app that does not ask gets none, and its read marks are not taken.
        let old = notices_request("p-fire1", None, vec![1, 2, 3]);
        let resp = store.sync(&ctx, reader, &old, t0 + 2 * HOUR).await.unwrap();
        assert!(resp.notices.is_empty());
        assert_eq!(store.unread_notices("fire1").await.unwrap(), 2);

        // From the start: both, oldest first, ids rising.
        let resp = store
            .sync(
                &ctx,
                reader,
                &notices_request("p-fire1", Some(0), vec![]),
                t0 + 2 * HOUR,
            )
            .await
            .unwrap();
        let got: Vec<(&str, &str)> = resp
            .notices
            .iter()
            .map(|n| (n.case.as_str(), n.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (first.as_str(), "dispatched"),
                (second.as_str(), "dispatched")
            ]
        );
        let ids: Vec<u64> = resp.notices.iter().map(|n| n.id).collect();
        assert!(ids[0] < ids[1], "{ids:?}");
        assert!(resp.notices[0].at < resp.notices[1].at);
        // After the first: only the second.
        let resp = store
            .sync(
                &ctx,
                reader,
                &notices_request("p-fire1", Some(ids[0]), vec![]),
                t0 + 2 * HOUR,
            )
            .await
            .unwrap();
        assert_eq!(
            resp.notices.iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![ids[1]]
        );

        // Read marks come back with the next sync: another account's id is ignored.
        let fire2_id = store.notice_list("fire2", 10).await.unwrap()[0].notice.id;
        let read_at = t0 + 3 * HOUR;
        let resp = store
            .sync(
                &ctx,
                reader,
                &notices_request("p-fire1", Some(ids[1]), vec![ids[0], ids[1], fire2_id]),
                read_at,
            )
            .await
            .unwrap();
        assert!(resp.notices.is_empty());
        assert_eq!(store.unread_notices("fire1").await.unwrap(), 0);
        assert_eq!(store.unread_notices("fire2").await.unwrap(), 2);
        let list = store.notice_list("fire1", 10).await.unwrap();
        assert_eq!(
            list.iter().map(|n| n.read_at).collect::<Vec<_>>(),
            vec![Some(read_at), Some(read_at)]
        );
        // Read is read: a later mark does not move the time.
        store
            .mark_notices_read("fire1", None, read_at + HOUR)
            .await
            .unwrap();
        assert!(
            store
                .notice_list("fire1", 10)
                .await
                .unwrap()
                .iter()
                .all(|n| n.read_at == Some(read_at))
        );
    }
);

conformance!(
    sms_rows_only_with_a_gateway_a_number_and_no_opt_out,
    |store: Store| async move {
        for user in ["fire1", "fire2", "fire3", "fire4"] {
            handler(&store, user, "fire").await;
        }
        assert!(
            store
                .set_user_phone("fire1", Some("13800000001"))
                .await
                .unwrap()
        );
        assert!(
            store
                .set_user_phone("fire2", Some("13800000002"))
                .await
                .unwrap()
        );
        // fire3 has no number; fire4 has one and opted out.
        assert!(
            store
                .set_user_phone("fire4", Some("13800000004"))
                .await
                .unwrap()
        );
        assert!(store.set_sms_opt_out("fire4", true).await.unwrap());
        assert!(!store.set_user_phone("nobody", Some("1")).await.unwrap());
        assert_eq!(
            store.user_sms("fire4").await.unwrap(),
            Some((Some("13800000004".into()), true))
        );
        assert_eq!(store.user_sms("fire3").await.unwrap(), Some((None, false)));
        let dispatch = |what: &str| Raised {
            case_id: "c1".into(),
            title: "仓库堆放易燃物".into(),
            place: path(GRID),
            requester_phone: None,
            requester_text: None,
            draft: NoticeDraft {
                key: format!("c1:dispatched:{what}"),
                kind: NoticeKind::Dispatched,
                audience: Audience::Department("fire".into()),
                detail: String::new(),
            },
        };
        let now = T0 + 1_000;

        // No gateway: notices for all four, not one SMS row.
        store.set_sms_writing(None);
        assert_eq!(
            store.raise_notices(&[dispatch("e1")], now).await.unwrap(),
            4
        );
        assert!(store.sms_counts().await.unwrap().is_empty());

        // With a gateway: one pending row per account with a number that did not opt out.
        store.set_sms_writing(Some(SmsWriting {
            track_url: "https://x/track".into(),
        }));
        assert_eq!(
            store.raise_notices(&[dispatch("e2")], now).await.unwrap(),
            4
        );
        // Raised again: neither notices nor rows twice.
        assert_eq!(
            store.raise_notices(&[dispatch("e2")], now).await.unwrap(),
            0
        );
        assert_eq!(
            store.sms_counts().await.unwrap(),
            vec![(SMS_PENDING.to_owned(), 2)]
        );
        let text = notice::text_zh(NoticeKind::Dispatched, "仓库堆放易燃物", "");
        for (user, number) in [("fire1", "13800000001"), ("fire2", "13800000002")] {
            let r = outbox_row(&store, user).await;
            assert_eq!(
                (r.to_number.as_str(), r.body.as_str(), r.kind.as_str()),
                (number, text.as_str(), "dispatched")
            );
            assert_eq!(
                (r.state.as_str(), r.attempts, r.next_at),
                (SMS_PENDING, 0, now)
            );
            assert!(!r.urgent);
        }

        // A requester hears by SMS only: a row with no account, no notice.
        let mut requester = dispatch("r1");
        requester.draft.kind = NoticeKind::Resolved;
        requester.draft.key = "c1:resolved:r1".into();
        requester.draft.audience = Audience::Requester;
        requester.requester_phone = Some("13900000009".into());
        requester.requester_text = Some("您反映的诉求已办结".into());
        assert_eq!(store.raise_notices(&[requester], now).await.unwrap(), 0);
        let rows = store.sms_outbox(100).await.unwrap();
        let to_requester: Vec<&SmsRow> = rows.iter().filter(|r| r.user_id.is_none()).collect();
        assert_eq!(to_requester.len(), 1);
        assert_eq!(
            (
                to_requester[0].to_number.as_str(),
                to_requester[0].body.as_str()
            ),
            ("13900000009", "您反映的诉求已办结")
        );
        let requester_id = to_requester[0].id.clone();

        // Claimed once under a lease: a second claim at the same moment gets nothing.
        let lease = 60_000;
        let claimed = store.claim_sms(now, lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 3);
        assert!(
            claimed
                .iter()
                .all(|r| r.attempts == 1 && r.next_at == now + lease)
        );
        assert!(store.claim_sms(now, lease, 10).await.unwrap().is_empty());
        assert!(
            store
                .claim_sms(now + lease - 1, lease, 10)
                .await
                .unwrap()
                .is_empty()
        );

        // Sent: the text is no longer kept, and the number's count knows it.
        let sent = claimed
            .iter()
            .find(|r| r.user_id.as_deref() == Some("fire1"))
            .unwrap();
        store.sms_sent(&sent.id, now + 10).await.unwrap();
        let r = outbox_row(&store, "fire1").await;
        assert_eq!(
            (r.state.as_str(), r.body.as_str(), r.sent_at),
            (SMS_SENT, "", Some(now + 10))
        );
        assert_eq!(store.sms_sent_since("13800000001", now).await.unwrap(), 1);
        assert_eq!(
            store.sms_sent_since("13800000001", now + 11).await.unwrap(),
            0
        );
        assert_eq!(store.sms_sent_since("13800000002", now).await.unwrap(), 0);
        // Skipped: never sent, not kept either.
        store.sms_skip(&requester_id, "opted out").await.unwrap();

        // The lease runs out: what was not settled is claimed again, once more an attempt.
        let again = store.claim_sms(now + lease, lease, 10).await.unwrap();
        assert_eq!(
            again
                .iter()
                .map(|r| (r.user_id.as_deref(), r.attempts))
                .collect::<Vec<_>>(),
            vec![(Some("fire2"), 2)]
        );
        let mut counts = store.sms_counts().await.unwrap();
        counts.sort();
        assert_eq!(
            counts,
            vec![
                (SMS_PENDING.to_owned(), 1),
                (SMS_SENT.to_owned(), 1),
                (SMS_SKIPPED.to_owned(), 1)
            ]
        );
        let skipped = store
            .sms_outbox(100)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.id == requester_id)
            .unwrap();
        assert_eq!(
            (skipped.body.as_str(), skipped.last_error.as_str()),
            ("", "opted out")
        );
    }
);

conformance!(
    the_clock_reminds_once_per_deadline,
    |store: Store| async move {
        let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let t0 = at("2026-11-23", 9);
        let id = w
            .capture(
                &new_case(CaseKind::Incident, GRID, "water_supply", "村里停水"),
                t0,
            )
            .unwrap();
        w.append_event(&id, EventDraft::new(EventType::Accepted), t0 + 1)
            .unwrap();
        sync_accepted(&store, &mut w, t0 + 1).await;
        // Water supply: 24 hours from the acceptance.
        let due = row(&store, &id, t0 + 1).await.due_at.unwrap();
        assert_eq!(due, t0 + 1 + DAY);

        let clock = Supervisor::new(store.clone(), T0).await.unwrap();
        // More than a day ahead: nothing yet.
        assert_eq!(clock.run_once(due - DAY - 1).await.unwrap().reminded, 0);
        assert!(kinds_on(&store, "wang", &id).await.is_empty());
        // Within the day: the grid worker is reminded, once.
        assert_eq!(clock.run_once(due - HOUR).await.unwrap().reminded, 1);
        assert_eq!(kinds_on(&store, "wang", &id).await, vec!["due_soon"]);
        assert_eq!(clock.run_once(due - HOUR).await.unwrap().reminded, 0);
        assert_eq!(clock.run_once(due - 1).await.unwrap().reminded, 0);
        // A second server on the same database owes nothing either.
        let other = Supervisor::new(store.clone(), T0).await.unwrap();
        assert_eq!(other.run_once(due - 2).await.unwrap().reminded, 0);
        assert_eq!(kinds_on(&store, "wang", &id).await, vec!["due_soon"]);

        // Past the deadline: overdue, once (the supervision tells its own news).
        let pass = clock.run_once(due + 1).await.unwrap();
        assert_eq!((pass.supervised, pass.reminded), (1, 1));
        assert_eq!(clock.run_once(due + 2).await.unwrap().reminded, 0);
        assert_eq!(other.run_once(due + HOUR).await.unwrap().reminded, 0);
        let kinds = kinds_on(&store, "wang", &id).await;
        let count = |k: &str| kinds.iter().filter(|x| x.as_str() == k).count();
        assert_eq!(
            (count("due_soon"), count("overdue"), count("supervised")),
            (1, 1, 1),
            "{kinds:?}"
        );
        assert_eq!(kinds.len(), 3, "{kinds:?}");
    }
);

conformance!(
    a_department_that_has_not_signed_is_reminded_to_sign,
    |store: Store| async move {
        let (_, mut w) = phone(&store, "wang", Role::GridWorker, GRID, "p-wang").await;
        let (_, mut t) = phone(&store, "li", Role::TownshipStaff, TOWNSHIP, "pc-li").await;
        handler(&store, "water1", "water").await;
        handler(&store, "fire1", "fire").await;
        let t0 = at("2026-11-23", 9);
        let (id, _) = dispatched(
            &store,
            &mut w,
            &mut t,
            "water_supply",
            "村里停水",
            "water",
            t0,
        )
        .await;
        // The water bureau signs within four hours.
        let due = row(&store, &id, t0 + 2).await.due_at.unwrap();
        assert_eq!(due, t0 + 2 + 4 * HOUR);
        let clock = Supervisor::new(store.clone(), T0).await.unwrap();
        // Three hours before: further than the signing warning.
        assert_eq!(clock.run_once(due - 3 * HOUR).await.unwrap().reminded, 0);
        assert_eq!(kinds_on(&store, "water1", &id).await, vec!["dispatched"]);
        assert_eq!(clock.run_once(due - HOUR).await.unwrap().reminded, 1);
        assert_eq!(clock.run_once(due - HOUR / 2).await.unwrap().reminded, 0);
        assert_eq!(
            kinds_on(&store, "water1", &id).await,
            vec!["dispatched", "sign_due_soon"]
        );
        // Only the department holds it: the grid, the township and other departments hear
        // nothing of the deadline.
        for user in ["wang", "li", "fire1"] {
            assert!(kinds_on(&store, user, &id).await.is_empty(), "{user}");
        }
    }
);

/// A county gateway on loopback answering the scripted statuses in turn, then 200; it keeps
/// the idempotency key of each request.
struct Gateway {
    url: String,
    script: Arc<Mutex<VecDeque<u16>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    fn start(script: &[u16]) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/send", listener.local_addr().unwrap());
        let gw = Gateway {
            url,
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let (script, seen) = (gw.script.clone(), gw.seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                answer(stream, &script, &seen);
            }
        });
        gw
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// The settings: `quiet` hours ("" for none) and the daily cap.
    fn config(&self, quiet: &str, daily_cap: u32) -> SmsConfig {
        let text = format!(
            r#"[gateway]
url = "{}"
body = '{{"to": "{{to}}", "text": "{{text}}", "id": "{{id}}"}}'
timeout_ms = 5000
[delivery]
quiet_hours = "{quiet}"
daily_cap = {daily_cap}
retry_base_ms = 30000
retry_max_ms = 600000
"#,
            self.url
        );
        SmsConfig::parse(&text, |_| None).unwrap()
    }
}

fn answer(mut stream: TcpStream, script: &Mutex<VecDeque<u16>>, seen: &Mutex<Vec<String>>) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let key = request
        .header("idempotency-key")
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().push(key);
    let status = script.lock().unwrap().pop_front().unwrap_or(200);
    let _ = stream.write_all(
        format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
    );
}

async fn sms_user(store: &Store, id: &str, number: &str) {
    handler(store, id, "fire").await;
    assert!(store.set_user_phone(id, Some(number)).await.unwrap());
}

async fn sms_row(store: &Store, id: &str) -> SmsRow {
    store
        .sms_outbox(100)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap()
}

conformance!(
    quiet_hours_hold_only_the_non_urgent,
    |store: Store| async move {
        store.set_sms_writing(Some(SmsWriting {
            track_url: "https://x/track".into(),
        }));
        sms_user(&store, "a", "13800000001").await;
        sms_user(&store, "b", "13800000002").await;
        // 23:00 in the county, inside 22:00-07:00.
        let night = at("2026-11-23", 23);
        let morning = at("2026-11-24", 7);
        store
            .raise_notices(
                &[
                    to_user("c1", "e1", NoticeKind::UrgentReport, "a"),
                    to_user("c2", "e2", NoticeKind::Dispatched, "b"),
                ],
                night,
            )
            .await
            .unwrap();
        let urgent = outbox_row(&store, "a").await;
        let later = outbox_row(&store, "b").await;
        assert!(urgent.urgent && !later.urgent);

        let gw = Gateway::start(&[]);
        let delivery = Delivery::new(store.clone(), gw.config("22:00-07:00", 20)).unwrap();
        let round = delivery.run_once(night).await.unwrap();
        assert_eq!((round.sent, round.deferred, round.failed), (1, 1, 0));
        assert_eq!(gw.seen(), vec![urgent.id.clone()]);
        let r = sms_row(&store, &urgent.id).await;
        assert_eq!((r.state.as_str(), r.body.as_str()), (SMS_SENT, ""));
        // Held until the quiet hours end; holding is not an attempt.
        let r = sms_row(&store, &later.id).await;
        assert_eq!(
            (
                r.state.as_str(),
                r.last_error.as_str(),
                r.next_at,
                r.attempts
            ),
            (SMS_PENDING, HELD_QUIET, morning, 0)
        );
        assert_eq!(
            delivery.run_once(morning - 1).await.unwrap(),
            Default::default()
        );
        // Settings changed at a restart (no quiet hours): held rows are looked at again now.
        assert_eq!(
            store
                .sms_release_held(night + 10, night + 1_000)
                .await
                .unwrap(),
            1
        );
        assert_eq!(sms_row(&store, &later.id).await.next_at, night + 10);
        let day = Delivery::new(store.clone(), gw.config("", 20)).unwrap();
        assert_eq!(day.run_once(night + 10).await.unwrap().sent, 1);
        assert_eq!(gw.seen(), vec![urgent.id.clone(), later.id.clone()]);
        assert_eq!(
            store.sms_counts().await.unwrap(),
            vec![(SMS_SENT.to_owned(), 2)]
        );
    }
);

conformance!(
    a_gateway_that_fails_backs_off_and_the_cap_holds_the_rest,
    |store: Store| async move {
        store.set_sms_writing(Some(SmsWriting {
            track_url: "https://x/track".into(),
        }));
        sms_user(&store, "a", "13800000001").await;
        sms_user(&store, "c", "13800000003").await;
        let noon = at("2026-11-23", 12);
        store
            .raise_notices(&[to_user("c1", "e1", NoticeKind::Dispatched, "a")], noon)
            .await
            .unwrap();
        let first = outbox_row(&store, "a").await;
        let gw = Gateway::start(&[500]);
        let delivery = Delivery::new(store.clone(), gw.config("", 1)).unwrap();

        // The gateway fails: still pending, one attempt, tried again after the base delay.
        let round = delivery.run_once(noon).await.unwrap();
        assert_eq!((round.sent, round.failed), (0, 1));
        let r = sms_row(&store, &first.id).await;
        assert_eq!(
            (r.state.as_str(), r.attempts, r.next_at),
            (SMS_PENDING, 1, noon + 30_000)
        );
        assert!(r.last_error.contains("500"), "{}", r.last_error);
        assert_eq!(r.body, first.body);
        assert_eq!(
            delivery.run_once(noon + 29_999).await.unwrap(),
            Default::default()
        );
        assert_eq!(delivery.run_once(noon + 30_000).await.unwrap().sent, 1);
        // Sent with the same idempotency key both times.
        assert_eq!(gw.seen(), vec![first.id.clone(), first.id.clone()]);
        let r = sms_row(&store, &first.id).await;
        assert_eq!((r.state.as_str(), r.attempts), (SMS_SENT, 2));

        // A daily cap of one: the number's next non-urgent SMS waits for the next China day;
        // an urgent one does not.
        let t = noon + HOUR;
        store
            .raise_notices(
                &[
                    to_user("c2", "e2", NoticeKind::Dispatched, "a"),
                    to_user("c3", "e3", NoticeKind::UrgentReport, "a"),
                ],
                t,
            )
            .await
            .unwrap();
        let round = delivery.run_once(t).await.unwrap();
        assert_eq!((round.sent, round.deferred), (1, 1));
        let rows = store.sms_outbox(100).await.unwrap();
        let capped = rows.iter().find(|r| r.case_id == "c2").unwrap();
        assert_eq!(
            (
                capped.state.as_str(),
                capped.last_error.as_str(),
                capped.next_at,
                capped.attempts
            ),
            (SMS_PENDING, HELD_CAP, at("2026-11-24", 0), 0)
        );
        let urgent = rows.iter().find(|r| r.case_id == "c3").unwrap();
        assert_eq!(urgent.state, SMS_SENT);
        // Another number is not held by this one's cap, and an urgent SMS (sent first) does
        // not use up the cap of non-urgent ones.
        store
            .raise_notices(
                &[
                    to_user("c6", "e6", NoticeKind::UrgentReport, "c"),
                    to_user("c4", "e4", NoticeKind::Dispatched, "c"),
                ],
                t + 1,
            )
            .await
            .unwrap();
        let round = delivery.run_once(t + 1).await.unwrap();
        assert_eq!((round.sent, round.deferred), (2, 0));

        // An account that opted out after its row was written: skipped, not sent, not kept.
        store
            .raise_notices(&[to_user("c5", "e5", NoticeKind::UrgentReport, "c")], t + 2)
            .await
            .unwrap();
        assert!(store.set_sms_opt_out("c", true).await.unwrap());
        let sent_before = gw.seen().len();
        let round = delivery.run_once(t + 2).await.unwrap();
        assert_eq!((round.sent, round.skipped), (0, 1));
        assert_eq!(gw.seen().len(), sent_before);
        let skipped = store
            .sms_outbox(100)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.case_id == "c5")
            .unwrap();
        assert_eq!(
            (skipped.state.as_str(), skipped.body.as_str()),
            (SMS_SKIPPED, "")
        );
    }
);

conformance!(
    the_parts_of_an_sms_report_are_held_until_their_partner_comes,
    |store: Store| async move {
        let now = T0;
        let held = store.hold_sms_part("L1", "2", "后半", now).await.unwrap();
        assert_eq!(held, vec![("2".to_owned(), "后半".to_owned())]);
        // Another report's part is not this one's partner.
        store.hold_sms_part("L2", "1", "别的", now).await.unwrap();
        let held = store
            .hold_sms_part("L1", "1", "前半", now + 1)
            .await
            .unwrap();
        assert_eq!(
            held,
            vec![
                ("1".to_owned(), "前半".to_owned()),
                ("2".to_owned(), "后半".to_owned())
            ]
        );
        // A part that failed its check is forgotten; a redelivered one replaces its text.
        store.drop_sms_part("L1", "1").await.unwrap();
        let held = store
            .hold_sms_part("L1", "2", "后半新", now + 2)
            .await
            .unwrap();
        assert_eq!(held, vec![("2".to_owned(), "后半新".to_owned())]);
        // After a week the held parts are gone.
        let week = 7 * DAY;
        let held = store
            .hold_sms_part("L1", "1", "前半", now + 2 + week + 1)
            .await
            .unwrap();
        assert_eq!(held, vec![("1".to_owned(), "前半".to_owned())]);
        let held = store
            .hold_sms_part("L2", "2", "别的后半", now + 2 + week + 1)
            .await
            .unwrap();
        assert_eq!(held, vec![("2".to_owned(), "别的后半".to_owned())]);
    }
);
