use gridsync_core::case::Location;
use gridsync_core::testing::MemoryHub;

use crate::*;

#[test]
fn offline_edits_of_different_fields_both_survive() {
    let (mut hub, mut a, mut b, id) = shared_case();

    // Both offline: the worker fixes the address, the township staff retitles.
    a.edit(&id, T0 + 10, |e| {
        e.set_location(&Location {
            address: "东街村三组村口".into(),
            ..Default::default()
        })
    })
    .unwrap();
    b.edit(&id, T0 + 20, |e| e.set_title("东街村路灯故障"))
        .unwrap();
    sync_until_quiet(&mut hub, &mut a);
    sync_until_quiet(&mut hub, &mut b);
    sync_until_quiet(&mut hub, &mut a);

    for doc in [
        a.case(&id).unwrap(),
        b.case(&id).unwrap(),
        hub.doc(&id).unwrap().clone(),
    ] {
        let case = doc.read().unwrap();
        assert_eq!(case.title, "东街村路灯故障");
        assert_eq!(case.location.address, "东街村三组村口");
        assert_eq!(
            case.location.lat,
            Some(36.1),
            "an untouched key keeps its value"
        );
        assert!(doc.conflicts().is_empty());
    }
}

#[test]
fn concurrent_description_edits_interleave() {
    let (mut hub, mut a, mut b, id) = shared_case();
    a.edit(&id, T0 + 1, |e| {
        e.set_description("村口路灯不亮，晚上出行不便。已拍照。")
    })
    .unwrap();
    b.edit(&id, T0 + 2, |e| {
        e.set_description("【紧急】村口路灯不亮，晚上出行不便。")
    })
    .unwrap();
    sync_until_quiet(&mut hub, &mut a);
    sync_until_quiet(&mut hub, &mut b);
    sync_until_quiet(&mut hub, &mut a);
    let text = a.case(&id).unwrap().read().unwrap().description;
    assert_eq!(text, "【紧急】村口路灯不亮，晚上出行不便。已拍照。");
    assert_eq!(b.case(&id).unwrap().read().unwrap().description, text);
}

#[test]
fn concurrent_edits_of_one_field_are_a_conflict_with_both_values_and_authors() {
    let mut hub = MemoryHub::new();
    let mut a = replica_for(&mut hub, worker("wang", "phone-a"));
    let mut b = replica_for(&mut hub, mediator("zhao", "phone-b"));
    let id = a.capture(&new_request("路灯不亮"), T0).unwrap();
    sync_until_quiet(&mut hub, &mut a);
    sync_until_quiet(&mut hub, &mut b);

    a.edit(&id, T0 + 5, |e| e.set_title("东街路灯坏了"))
        .unwrap();
    b.edit(&id, T0 + 6, |e| e.set_title("村口两盏路灯不亮"))
        .unwrap();
    sync_until_quiet(&mut hub, &mut a);
    sync_until_quiet(&mut hub, &mut b);
    sync_until_quiet(&mut hub, &mut a);

    let conflicts = a.case(&id).unwrap().conflicts();
    assert_eq!(
        conflicts,
        b.case(&id).unwrap().conflicts(),
        "both phones see the same conflict"
    );
    assert_eq!(
        conflicts,
        hub.doc(&id).unwrap().conflicts(),
        "and so does the hub"
    );
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(c.field, "title");
    let mut seen: Vec<(String, String, String)> = c
        .values
        .iter()
        .map(|v| {
            let who = v.author.clone().unwrap();
            (v.value.clone(), who.user, who.device)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("东街路灯坏了".into(), "wang".into(), "phone-a".into()),
            ("村口两盏路灯不亮".into(), "zhao".into(), "phone-b".into()),
        ]
    );
    let listed = a.list(&Default::default()).unwrap();
    assert!(listed[0].in_conflict(), "the case list flags the conflict");
    assert!(hub.doc(&id).unwrap().in_conflict());

    // Settling: writing the field again after seeing both leaves one value, everywhere.
    a.edit(&id, T0 + 9, |e| e.set_title("村口两盏路灯不亮"))
        .unwrap();
    sync_until_quiet(&mut hub, &mut a);
    sync_until_quiet(&mut hub, &mut b);
    assert!(!b.case(&id).unwrap().in_conflict());
    assert_eq!(
        b.case(&id).unwrap().read().unwrap().title,
        "村口两盏路灯不亮"
    );
}

#[test]
fn a_reviewer_settles_a_conflict_by_writing_over_every_value() {
    let mut hub = MemoryHub::new();
    let mut a = replica_for(&mut hub, worker("wang", "phone-a"));
    let mut b = replica_for(&mut hub, mediator("zhao", "phone-b"));
    let mut t = replica_for(&mut hub, township("li", "pc-li"));
    let id = a.capture(&new_request("路灯不亮"), T0).unwrap();
    sync_until_quiet(&mut hub, &mut a);
    sync_until_quiet(&mut hub, &mut b);
    a.edit(&id, T0 + 5, |e| {
        e.set_title("东街路灯坏了")?;
        e.set_location(&gridsync_core::case::Location {
            lat: Some(37.1),
            ..Default::default()
        })
    })
    .unwrap();
    b.edit(&id, T0 + 6, |e| {
        e.set_title("村口两盏路灯不亮")?;
        e.set_location(&gridsync_core::case::Location {
            lat: Some(37.2),
            ..Default::default()
        })
    })
    .unwrap();
    for r in [&mut a, &mut b, &mut t] {
        sync_until_quiet(&mut hub, r);
    }
    let fields: Vec<String> = t
        .case(&id)
        .unwrap()
        .conflicts()
        .into_iter()
        .map(|c| c.field)
        .collect();
    assert!(fields.contains(&"title".to_owned()) && fields.contains(&"location.lat".to_owned()));
    t.edit(&id, T0 + 7, |e| {
        e.resolve_conflict("title", "村口东街两盏路灯不亮")?;
        e.resolve_conflict("location.lat", "37.15")?;
        e.resolve_conflict("location.address", "东街")
    })
    .unwrap();
    let err = t
        .edit(&id, T0 + 8, |e| e.resolve_conflict("kind", "dispute"))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(
        t.edit(&id, T0 + 8, |e| e.resolve_conflict("location.lat", "north"))
            .is_err()
    );
    for r in [&mut t, &mut a, &mut b] {
        sync_until_quiet(&mut hub, r);
    }
    for r in [&a, &b, &t] {
        let doc = r.case(&id).unwrap();
        assert!(doc.conflicts().is_empty());
        let case = doc.read().unwrap();
        assert_eq!(
            (
                case.title.as_str(),
                case.location.lat,
                case.location.address.as_str()
            ),
            ("村口东街两盏路灯不亮", Some(37.15), "东街")
        );
    }
}

#[test]
fn has_change_answers_as_the_rebuilt_change_does_even_with_changes_held_back() {
    let (mut hub, mut a, _b, id) = shared_case();
    let mut stored = hub.doc(&id).unwrap().clone();
    let held = stored.changes_since(&[]);
    for c in &held {
        assert!(stored.has_change(&c.hash()));
    }
    // Two later changes on a phone; only the second reaches a copy of the stored document,
    // which holds it back for its missing dependency.
    a.edit(&id, T0 + 30, |e| e.set_title("第一次改")).unwrap();
    a.edit(&id, T0 + 31, |e| e.set_title("第二次改")).unwrap();
    let later = a.case(&id).unwrap().changes_since(&stored.heads());
    assert_eq!(later.len(), 2);
    let mut copy = stored.fork();
    copy.apply(vec![later[1].clone()]).unwrap();
    assert!(!copy.missing_deps().is_empty());
    for c in &later {
        assert_eq!(copy.has_change(&c.hash()), copy.change(&c.hash()).is_some());
        assert!(!copy.has_change(&c.hash()));
    }
    for c in &held {
        assert!(copy.has_change(&c.hash()));
    }
}
