//! The county's rules on both backends (issue 19): a year's calendar and a changed time limit
//! imported on the server reach a phone on sync; a deadline counted over a week-long holiday
//! falls after it on the phone and on the server, and the supervision clock stays quiet during
//! the holiday.

use gridsync_core::calendar::Calendar;
use gridsync_core::protocol::{SyncRequest, encode_request, encode_response};
use gridsync_core::taxonomy::TimeLimit;
use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_core::{CaseKind, Role};
use gridsync_server::store::Store;
use gridsync_server::supervision::Supervisor;

use crate::*;

const VILLAGE: &str = "130322/101/201";
const HOUR: i64 = 3_600_000;

/// A Spring Festival week (Saturday 6 to Friday 12 February 2027) with make-up Saturdays on
/// 30 January and 13 February, as a State Council notice lists them.
const CALENDAR_2027: &str = r#"version = 1
utc_offset_minutes = 480
years = [2027]

[[holiday]]
name = "春节"
days = ["2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]
workdays = ["2027-01-30", "2027-02-13"]
"#;

fn at(date: &str, hh: i64) -> i64 {
    Calendar::builtin().local_midnight(date).unwrap() + hh * HOUR
}

conformance!(
    a_three_working_day_limit_started_before_the_holiday_falls_due_after_it,
    |store: Store| async move {
        store.ensure_rules(T0).await.unwrap();
        let (_, mut m) = phone(&store, "zhao", Role::Mediator, VILLAGE, "p-zhao").await;
        sync_accepted(&store, &mut m, T0).await;
        assert_eq!(m.rules().version(), 0);

        // The county imports 2027's calendar, then cuts neighbours' disputes to 3 working days.
        let (v1, new) = store
            .import_rules(CALENDAR_2027, "county", T0)
            .await
            .unwrap();
        assert!(new && v1 == 1);
        let live = store.rules().await.unwrap();
        let catalogue = live
            .rules
            .taxonomy()
            .with_limit("dispute_neighbours", TimeLimit::WorkingDays(3))
            .unwrap();
        let (v2, _) = store
            .save_rules(
                &live.rules.with_taxonomy(catalogue),
                "county",
                "时限 3wd",
                T0,
            )
            .await
            .unwrap();
        assert_eq!(v2, 2);
        // Importing the same calendar again changes nothing.
        assert_eq!(
            store
                .import_rules(CALENDAR_2027, "county", T0)
                .await
                .unwrap(),
            (2, false)
        );
        // The sync that brings the rules carries them once (the whole file, deflated); after
        // the phone confirmed them, a sync carries no rules bytes either way: the fields are
        // left out, so the envelope is byte for byte what it was before rules travelled.
        let req = m.next_sync_request().unwrap();
        assert_eq!(
            req.rules, None,
            "the server recorded version 0 at the first sync"
        );
        let ctx = store.device_context("p-zhao").await.unwrap().unwrap();
        let who = m.identity().unwrap().clone();
        let resp = store.sync(&ctx, &who, &req, T0 + 1).await.unwrap();
        let with_rules = encode_response(&resp).unwrap().len();
        let update = resp.rules.clone().expect("the rules ride this response");
        assert_eq!(update.version, 2);
        m.apply_sync_response(&resp, T0 + 1).unwrap();
        assert_eq!(m.rules().version(), 2);
        let req = m.next_sync_request().unwrap();
        assert_eq!(req.rules, Some(2), "once, to confirm");
        let resp = store.sync(&ctx, &who, &req, T0 + 1).await.unwrap();
        assert!(resp.rules.is_none());
        m.apply_sync_response(&resp, T0 + 1).unwrap();
        // Read again, as each request does: the context carries the version recorded.
        let ctx = store.device_context("p-zhao").await.unwrap().unwrap();
        assert_eq!(ctx.synced.rules_held, Some(2));
        let req = m.next_sync_request().unwrap();
        let resp = store.sync(&ctx, &who, &req, T0 + 1).await.unwrap();
        assert!(req.rules.is_none() && resp.rules.is_none());
        let (req_bytes, resp_bytes) = (
            encode_request(&req).unwrap().len(),
            encode_response(&resp).unwrap().len(),
        );
        let stripped = SyncRequest {
            rules: None,
            ..req.clone()
        };
        assert_eq!(req_bytes, encode_request(&stripped).unwrap().len());
        println!(
            "rules bytes: the response carrying version 2: {with_rules} B; an unchanged sync: \
             request {req_bytes} B, response {resp_bytes} B, no rules field"
        );

        // Accepted on Thursday 4 February: Friday the 5th, the make-up Saturday the 13th and
        // Monday the 15th are the three working days; on plain weekdays it would be the 9th.
        let thu = at("2027-02-04", 10);
        let id = m
            .capture(
                &new_case(CaseKind::Dispute, VILLAGE, "dispute_neighbours", "邻里纠纷"),
                thu,
            )
            .unwrap();
        m.append_event(&id, EventDraft::new(EventType::Accepted), thu + 1)
            .unwrap();
        let due = at("2027-02-16", 0);
        let wf = m.case(&id).unwrap().workflow().unwrap();
        assert_eq!(wf.due, Some(due));
        let accepted = m.case(&id).unwrap().read().unwrap().events;
        let accepted = accepted
            .iter()
            .find(|e| e.kind == EventType::Accepted)
            .unwrap();
        assert_eq!((accepted.rules, accepted.due_guessed), (Some(2), false));

        // The server keeps that deadline and computes the same one with its rules.
        sync_accepted(&store, &mut m, thu + 2).await;
        let live = store.rules().await.unwrap();
        assert_eq!(
            live.rules
                .calendar()
                .due(thu + 1, TimeLimit::WorkingDays(3)),
            due
        );
        let clock = Supervisor::new(store.clone(), thu).await.unwrap();
        for during in [
            at("2027-02-06", 9),
            at("2027-02-09", 12),
            at("2027-02-12", 23),
        ] {
            assert_eq!(clock.run_once(during).await.unwrap().supervised, 0);
        }
        assert_eq!(clock.run_once(due - 1).await.unwrap().supervised, 0);
        assert_eq!(clock.run_once(due + 1).await.unwrap().supervised, 1);
    }
);

conformance!(
    a_deadline_over_a_year_the_calendar_lacks_is_flagged,
    |store: Store| async move {
        store.ensure_rules(T0).await.unwrap();
        let (_, mut m) = phone(&store, "zhao", Role::Mediator, VILLAGE, "p-zhao").await;
        let late_dec = at("2026-12-30", 10);
        let id = m
            .capture(
                &new_case(CaseKind::Dispute, VILLAGE, "dispute_neighbours", "跨年纠纷"),
                late_dec,
            )
            .unwrap();
        m.append_event(&id, EventDraft::new(EventType::Accepted), late_dec + 1)
            .unwrap();
        let events = m.case(&id).unwrap().read().unwrap().events;
        let accepted = events
            .iter()
            .find(|e| e.kind == EventType::Accepted)
            .unwrap();
        assert!(
            accepted.due_guessed,
            "ten working days from 30 December reach 2027"
        );
        sync_accepted(&store, &mut m, late_dec + 2).await;
        let out = sync_into(&store, &mut m, late_dec + 3).await;
        assert_eq!(
            out.calendar_warning.map(|w| w.year),
            Some(2027),
            "the phone's sync outcome warns"
        );
    }
);
