//! Cases as JavaScript Automerge 3 writes them, built with the Rust API: every string a Text
//! (list items too), whole numbers as ints, change times in seconds. The schema's rules for
//! strings, times, numbers and the title, judged by `read` and by admission.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, Change, ObjId, ObjType, ReadDoc, ScalarValue};
use gridsync_core::admission::{DeviceAuthority, Verdict, admit};
use gridsync_core::case::{CaseDoc, NewCase};
use gridsync_core::protocol::RejectCode;
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, Error, EventType, Identity, JurisdictionPath, Role, Status};

const ID: &str = "0190a6c4-7d4e-7c3a-9a51-1b2c3d4e5f60";
const GRID: &str = "130322/101/201/01";
/// 2026-09-21 in ms, as `Date.now()` gives it.
const NOW: i64 = 1_790_000_000_000;

fn wang() -> Identity {
    let grid = JurisdictionPath::parse(GRID).unwrap();
    Identity::new("wang", Role::GridWorker, grid, None, "js-phone").unwrap()
}

/// A string as JavaScript writes it: a Text object.
fn text(d: &mut AutoCommit, obj: &ObjId, key: &str, s: &str) {
    let t = d.put_object(obj, key, ObjType::Text).unwrap();
    d.splice_text(&t, 0, 0, s).unwrap();
}

fn text_list(d: &mut AutoCommit, obj: &ObjId, key: &str, items: &[&str]) {
    let list = d.put_object(obj, key, ObjType::List).unwrap();
    for (i, s) in items.iter().enumerate() {
        let t = d.insert_object(&list, i, ObjType::Text).unwrap();
        d.splice_text(&t, 0, 0, s).unwrap();
    }
}

/// An event map as the JavaScript app writes it, appended to the log.
fn js_event(d: &mut AutoCommit, id: &str, kind: &str, at: i64, deps: &[&str], level: &str) {
    let events = match d.get(ObjId::Root, "events").unwrap() {
        Some((_, id)) => id,
        None => d.put_object(ObjId::Root, "events", ObjType::List).unwrap(),
    };
    let n = d.length(&events);
    let e = d.insert_object(&events, n, ObjType::Map).unwrap();
    for (k, v) in [
        ("id", id),
        ("type", kind),
        ("by", "wang"),
        ("role", "grid_worker"),
        ("device", "js-phone"),
        ("level", level),
        ("note", ""),
    ] {
        text(d, &e, k, v);
    }
    d.put(&e, "at", at).unwrap();
    text_list(d, &e, "deps", deps);
}

/// The creating change of a case as the JavaScript app writes it; `tweak` changes the document
/// before the commit (to break a rule).
fn js_case(at: i64, tweak: impl FnOnce(&mut AutoCommit)) -> (AutoCommit, Change) {
    let mut d = AutoCommit::new().with_actor(ActorId::random());
    let root = ObjId::Root;
    d.put(&root, "schema", 1).unwrap();
    text(&mut d, &root, "id", ID);
    text(&mut d, &root, "kind", "incident");
    d.put(&root, "created_at", at).unwrap();
    let jur = d.put_object(&root, "jurisdiction", ObjType::Map).unwrap();
    for (k, v) in ["county", "township", "village", "grid"]
        .into_iter()
        .zip(GRID.split('/'))
    {
        text(&mut d, &jur, k, v);
    }
    text(&mut d, &root, "category", "street_light");
    text(&mut d, &root, "title", "村口路灯不亮");
    text(&mut d, &root, "description", "晚上出行不便");
    let loc = d.put_object(&root, "location", ObjType::Map).unwrap();
    d.put(&loc, "lat", 36.98).unwrap();
    d.put(&loc, "lon", 115).unwrap(); // a whole number: JavaScript writes an int
    text(&mut d, &loc, "address", "东街村村口");
    let rep = d.put_object(&root, "reporter", ObjType::Map).unwrap();
    text(&mut d, &rep, "user", "wang");
    text(&mut d, &rep, "device", "js-phone");
    let people = d.put_object(&root, "people", ObjType::List).unwrap();
    let p = d.insert_object(&people, 0, ObjType::Map).unwrap();
    for (k, v) in [
        ("id", "p1"),
        ("name", "李四"),
        ("role", "requester"),
        ("phone", ""),
    ] {
        text(&mut d, &p, k, v);
    }
    d.put_object(&root, "attachments", ObjType::List).unwrap();
    let med = d.put_object(&root, "mediation", ObjType::Map).unwrap();
    let sessions = d.put_object(&med, "sessions", ObjType::List).unwrap();
    let s = d.insert_object(&sessions, 0, ObjType::Map).unwrap();
    text(&mut d, &s, "id", "s1");
    d.put(&s, "at", at).unwrap();
    text_list(&mut d, &s, "mediators", &["赵调解"]);
    text(&mut d, &s, "notes", "");
    text(&mut d, &s, "outcome", "adjourned");
    text(&mut d, &med, "agreement", "");
    text(&mut d, &med, "result", "");
    text(&mut d, &med, "referral", "");
    let extra = d.put_object(&root, "extra", ObjType::Map).unwrap();
    text(&mut d, &extra, "source", "js");
    js_event(&mut d, "e1", "reported", at, &[], "grid");
    tweak(&mut d);
    let change = commit_js(&mut d, at);
    (d, change)
}

/// Commits as JavaScript does by default: the change time in seconds.
fn commit_js(d: &mut AutoCommit, at: i64) -> Change {
    d.commit_with(
        CommitOptions::default()
            .with_message("gs1 wang js-phone grid_worker")
            .with_time(at / 1000),
    )
    .unwrap();
    d.get_last_local_change().unwrap()
}

fn push(current: Option<&mut CaseDoc>, change: &Change) -> Verdict {
    let users = [wang()];
    let actors = [change.actor_id().clone()];
    let device = DeviceAuthority {
        actors: &actors,
        users: &users,
        signing: None,
        relays: None,
    };
    admit(
        current,
        ID,
        &[change.raw_bytes()],
        &device,
        Taxonomy::builtin(),
    )
}

/// The one refusal of a push, as (code, reason).
fn refusal(v: &Verdict) -> (RejectCode, String) {
    assert!(v.accepted.is_empty(), "accepted: {v:?}");
    (v.refused[0].code, v.refused[0].reason.clone())
}

#[test]
fn a_case_and_its_steps_written_as_javascript_writes_them_are_admitted() {
    let (mut d, change) = js_case(NOW, |_| {});
    let v = push(None, &change);
    assert!(v.refused.is_empty(), "{:?}", v.refused);
    let case = v.case.unwrap();
    assert_eq!(case.title, "村口路灯不亮");
    assert_eq!(case.kind, CaseKind::Incident);
    assert_eq!(case.location.lon, Some(115.0));
    assert_eq!(case.mediation.sessions[0].mediators, ["赵调解"]);
    assert_eq!(case.extra["source"], "js");
    let mut stored = v.doc.unwrap();

    // The next step: its `deps` are a list of Text, its type and role Text compared by content.
    js_event(&mut d, "e2", "accepted", NOW + 60_000, &["e1"], "grid");
    let step = commit_js(&mut d, NOW + 60_000);
    let v = push(Some(&mut stored), &step);
    assert!(v.refused.is_empty(), "{:?}", v.refused);
    let case = v.case.unwrap();
    assert_eq!(case.events[1].deps, ["e1"]);
    assert_eq!(case.events[1].kind, EventType::Accepted);
    assert_eq!(v.doc.unwrap().workflow().unwrap().status, Status::Accepted);
}

#[test]
fn a_list_item_that_is_no_string_is_refused() {
    let (_, change) = js_case(NOW, |d| {
        let (_, events) = d.get(ObjId::Root, "events").unwrap().unwrap();
        let (_, e) = d.get(&events, 0).unwrap().unwrap();
        let deps = d.put_object(&e, "deps", ObjType::List).unwrap();
        d.insert(&deps, 0, 7).unwrap();
    });
    let (code, reason) = refusal(&push(None, &change));
    assert_eq!(code, RejectCode::InvalidCase);
    assert!(reason.contains("deps[0] is not a string"), "{reason}");
}

#[test]
fn document_times_in_seconds_are_refused_naming_the_field() {
    // The event's `at` in seconds; everything else in ms.
    let (_, change) = js_case(NOW, |d| {
        let (_, events) = d.get(ObjId::Root, "events").unwrap().unwrap();
        let (_, e) = d.get(&events, 0).unwrap().unwrap();
        d.put(&e, "at", NOW / 1000).unwrap();
    });
    let (code, reason) = refusal(&push(None, &change));
    assert_eq!(code, RejectCode::InvalidCase);
    assert!(reason.contains("events[0].at"), "{reason}");
    assert!(reason.contains("looks like seconds"), "{reason}");

    // The whole case in seconds: `created_at` is named first.
    let (_, change) = js_case(NOW / 1000, |_| {});
    let (_, reason) = refusal(&push(None, &change));
    assert!(reason.contains("created_at"), "{reason}");
    assert!(reason.contains("looks like seconds"), "{reason}");

    // A time far off is refused without the guess.
    let (_, change) = js_case(NOW, |d| {
        let (_, med) = d.get(ObjId::Root, "mediation").unwrap().unwrap();
        let (_, sessions) = d.get(&med, "sessions").unwrap().unwrap();
        let (_, s) = d.get(&sessions, 0).unwrap().unwrap();
        d.put(&s, "at", 5).unwrap();
    });
    let (_, reason) = refusal(&push(None, &change));
    assert!(reason.contains("mediation.sessions[0].at"), "{reason}");
    assert!(!reason.contains("seconds"), "{reason}");
}

#[test]
fn non_finite_and_off_globe_numbers_are_refused() {
    for (key, value, expect) in [
        ("lat", f64::NAN, "lat is not a finite number"),
        ("lon", f64::INFINITY, "lon is not a finite number"),
        (
            "accuracy_m",
            f64::NEG_INFINITY,
            "accuracy_m is not a finite number",
        ),
        ("lat", 91.0, "location.lat: not a latitude"),
        ("lon", -180.5, "location.lon: not a longitude"),
        ("accuracy_m", -1.0, "location.accuracy_m: not a distance"),
    ] {
        let (_, change) = js_case(NOW, |d| {
            let (_, loc) = d.get(ObjId::Root, "location").unwrap().unwrap();
            d.put(&loc, key, ScalarValue::F64(value)).unwrap();
        });
        let (code, reason) = refusal(&push(None, &change));
        assert_eq!(code, RejectCode::InvalidCase, "{key} = {value}");
        assert!(reason.contains(expect), "{key} = {value}: {reason}");
    }

    // Nor does the editor write one, settling a field either.
    let (_, change) = js_case(NOW, |_| {});
    let mut doc = CaseDoc::from_changes(vec![change]).unwrap();
    let nan = doc.edit(&wang(), NOW + 1_000, |e| {
        e.resolve_conflict("location.lat", "NaN")
    });
    assert!(
        matches!(&nan, Err(Error::InvalidInput { reason, .. }) if reason.contains("finite")),
        "{nan:?}"
    );
}

#[test]
fn a_case_without_a_title_is_refused_and_cannot_be_captured() {
    for title in [None, Some(""), Some(" \t　")] {
        let (_, change) = js_case(NOW, |d| match title {
            None => d.delete(ObjId::Root, "title").unwrap(),
            Some(t) => text(d, &ObjId::Root, "title", t),
        });
        let (code, reason) = refusal(&push(None, &change));
        assert_eq!(code, RejectCode::InvalidCase, "{title:?}");
        assert!(reason.contains("title"), "{title:?}: {reason}");
    }

    let new = NewCase {
        kind: CaseKind::Incident,
        jurisdiction: JurisdictionPath::parse(GRID).unwrap(),
        category: "street_light".into(),
        title: "  ".into(),
        description: String::new(),
        location: Default::default(),
        people: vec![],
    };
    let made = CaseDoc::create(ActorId::random(), ID, &new, &wang(), NOW);
    assert!(
        matches!(&made, Err(Error::InvalidInput { field, .. }) if field == "title"),
        "{made:?}"
    );
    let made = CaseDoc::create(
        ActorId::random(),
        ID,
        &NewCase {
            title: "路灯".into(),
            ..new
        },
        &wang(),
        NOW / 1000,
    );
    assert!(
        matches!(&made, Err(Error::InvalidInput { field, reason }) if field == "created_at" && reason.contains("seconds")),
        "{made:?}"
    );
}

#[test]
fn conflicting_javascript_titles_show_their_times_in_ms_and_settle_as_text() {
    let (mut base, change) = js_case(NOW, |_| {});
    let mut mine = CaseDoc::from_changes(vec![change]).unwrap();
    let mut a = base.fork().with_actor(ActorId::random());
    let mut b = base.fork().with_actor(ActorId::random());
    text(&mut a, &ObjId::Root, "title", "东街路灯不亮");
    text(&mut b, &ObjId::Root, "title", "西街路灯不亮");
    let ca = commit_js(&mut a, NOW + 5_000);
    let cb = commit_js(&mut b, NOW + 9_000);
    mine.apply(vec![ca, cb]).unwrap();
    let conflicts = mine.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, "title");
    let mut times: Vec<i64> = conflicts[0].values.iter().map(|v| v.at).collect();
    times.sort();
    assert_eq!(times, [NOW + 5_000, NOW + 9_000]);

    mine.edit(&wang(), NOW + 20_000, |e| {
        e.resolve_conflict("title", "东街路灯不亮")
    })
    .unwrap();
    assert!(mine.conflicts().is_empty());
    assert_eq!(mine.read().unwrap().title, "东街路灯不亮");
    let blank = mine.edit(&wang(), NOW + 30_000, |e| e.resolve_conflict("title", " "));
    assert!(blank.is_err());
}

#[test]
fn each_event_is_tied_to_the_change_that_wrote_it() {
    let (mut d, change) = js_case(NOW, |_| {});
    js_event(&mut d, "e2", "accepted", NOW + 60_000, &["e1"], "grid");
    let step = commit_js(&mut d, NOW + 60_000);
    let doc = CaseDoc::from_changes(vec![change.clone(), step.clone()]).unwrap();
    let tied = doc.event_changes();
    assert_eq!(tied["e1"], change.hash());
    assert_eq!(tied["e2"], step.hash());
}

#[test]
fn a_description_held_as_a_plain_string_is_edited_as_text() {
    let (_, change) = js_case(NOW, |d| {
        d.put(ObjId::Root, "description", "旧的描述").unwrap();
    });
    let mut doc = CaseDoc::from_changes(vec![change]).unwrap();
    assert_eq!(doc.read().unwrap().description, "旧的描述");
    doc.edit(&wang(), NOW + 1_000, |e| e.set_description("新的描述"))
        .unwrap();
    assert_eq!(doc.read().unwrap().description, "新的描述");
}
