use gridsync_core::Level;
use gridsync_server::org::{OrgSummary, parse_org_csv};
use gridsync_server::store::{Backend, Store};

use crate::*;

const SAMPLE: &str = include_str!("../../examples/org-sample.csv");

fn per_level(units: &[(JurisdictionPath, String)]) -> [usize; 4] {
    let s = OrgSummary::of(units);
    [s.counties, s.townships, s.villages, s.grids]
}

conformance!(
    the_sample_imports_with_its_counts_and_reimporting_changes_nothing,
    |store: Store| async move {
        let units = parse_org_csv(SAMPLE.as_bytes()).unwrap();
        store.import_org_units(&units).await.unwrap();
        let stored = store.org_units().await.unwrap();
        assert_eq!(per_level(&stored), [1, 3, 12, 24]);
        assert_eq!(stored, units);
        assert_eq!(stored[0], (path("130533"), "威县".to_owned()));
        let grid = stored
            .iter()
            .find(|(p, _)| p.to_string() == "130533/101/203/02")
            .unwrap();
        assert_eq!(grid.1, "前营村第2网格");
        assert_eq!(grid.0.level(), Level::Grid);
        // Tree order: every node comes after its parent.
        for (i, (p, _)) in stored.iter().enumerate() {
            if let Some(up) = p.level().up() {
                let parent = p.at_level(up).unwrap();
                assert!(stored[..i].iter().any(|(q, _)| *q == parent), "{p}");
            }
        }

        store.import_org_units(&units).await.unwrap();
        assert_eq!(store.org_units().await.unwrap(), stored);
    }
);

conformance!(
    an_import_renames_existing_nodes_and_keeps_the_others,
    |store: Store| async move {
        store
            .add_org_unit(&path("130533/100"), "洺州镇(旧)")
            .await
            .unwrap();
        store
            .add_org_unit(&path("130533/999"), "其他镇")
            .await
            .unwrap();
        let units = parse_org_csv(SAMPLE.as_bytes()).unwrap();
        store.import_org_units(&units).await.unwrap();
        let stored = store.org_units().await.unwrap();
        assert_eq!(per_level(&stored), [1, 4, 12, 24]);
        let name = |p: &str| {
            stored
                .iter()
                .find(|(q, _)| q.to_string() == p)
                .map(|(_, n)| n.clone())
        };
        assert_eq!(name("130533/100").as_deref(), Some("洺州镇"));
        assert_eq!(name("130533/999").as_deref(), Some("其他镇"));
    }
);

conformance!(an_invalid_file_writes_nothing, |store: Store| async move {
    // A good file with one bad row at its end: refused whole, before the store is touched.
    let bad = format!("{SAMPLE}130533,威县,102,章台镇,2/05,坏村,01,坏村第1网格\n");
    let err = parse_org_csv(bad.as_bytes()).unwrap_err();
    assert_eq!(err.line(), Some(26), "{err}");
    assert!(store.org_units().await.unwrap().is_empty());

    // And an import the database refuses part-way (a trigger stands in for a failure on the
    // last row) leaves nothing behind either.
    let trigger: &[&'static str] = match store.backend() {
        Backend::Sqlite => &["CREATE TRIGGER refuse_boom BEFORE INSERT ON org_units
             WHEN NEW.name = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.name = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON org_units
             FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
        ],
    };
    for sql in trigger {
        sqlx::query(*sql).execute(store.pool()).await.unwrap();
    }
    let mut units = parse_org_csv(SAMPLE.as_bytes()).unwrap();
    units.push((path("130533/102/205"), "boom".to_owned()));
    assert!(store.import_org_units(&units).await.is_err());
    assert!(store.org_units().await.unwrap().is_empty());
});
