use std::collections::BTreeSet;

use gridsync_core::calendar::Calendar;
use gridsync_core::case::{Location, NewCase};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{CaseKind, Level, Role};
use gridsync_server::patrol::coverage;
use gridsync_server::store::Store;

use crate::*;

fn patrol(grid: &str) -> NewCase {
    NewCase {
        kind: CaseKind::Patrol,
        jurisdiction: path(grid),
        category: "patrol_routine".into(),
        title: "日常巡查".into(),
        description: String::new(),
        location: Location::default(),
        people: vec![],
    }
}

conformance!(
    patrol_coverage_lists_the_units_nobody_patrolled_in_each_period,
    |store: Store| async move {
        let cal = Calendar::builtin();
        let day = |d: &str| cal.local_midnight(d).unwrap();
        let (_, mut a) = phone(&store, "wang", Role::GridWorker, "130322/101/201/01", "p1").await;
        let (_, mut b) = phone(&store, "liu", Role::GridWorker, "130322/101/201/02", "p2").await;
        // Grid 01 is patrolled Monday and Wednesday, grid 02 only Monday; the tree also knows
        // grid 03, which nobody patrols, and a grid of another village.
        for (who, grid, date) in [
            (0, "130322/101/201/01", "2026-11-23"),
            (0, "130322/101/201/01", "2026-11-25"),
            (1, "130322/101/201/02", "2026-11-23"),
        ] {
            let r = if who == 0 { &mut a } else { &mut b };
            let at = day(date) + 9 * 3_600_000;
            let id = r.capture(&patrol(grid), at).unwrap();
            r.edit(&id, at + 1, |e| {
                for item in Taxonomy::builtin().patrol_checklist() {
                    e.set_extra(&format!("check.{}", item.code), "ok")?;
                }
                Ok(())
            })
            .unwrap();
            let req = r.next_sync_request().unwrap();
            let ctx = store.device_context(&req.device).await.unwrap().unwrap();
            let resp = store.sync(&ctx, &ctx.users[0], &req, at).await.unwrap();
            assert!(resp.rejected.is_empty());
            r.apply_sync_response(&resp, at).unwrap();
        }
        for grid in [
            "130322/101/201/01",
            "130322/101/201/02",
            "130322/101/201/03",
            "130322/101/202/01",
        ] {
            store.add_org_unit(&path(grid), "网格").await.unwrap();
        }
        // Patrol records never get a deadline: they are records, not requests.
        assert!(
            store
                .late_cases(day("2026-12-31"))
                .await
                .unwrap()
                .is_empty()
        );

        let village = path("130322/101/201");
        let (from, to) = (day("2026-11-23"), day("2026-11-26"));
        let units = store.units_at(&village, Level::Grid).await.unwrap();
        assert_eq!(units.len(), 3, "the village's grids from the tree");
        let patrols = store.patrols(&village, from, to).await.unwrap();
        let daily = coverage(&village, Level::Grid, &units, &patrols, from, to, cal);
        let unpatrolled: Vec<(&str, Vec<&str>)> = daily
            .periods
            .iter()
            .map(|p| {
                (
                    p.start.as_str(),
                    p.unpatrolled.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            unpatrolled,
            vec![
                ("2026-11-23", vec!["130322/101/201/03"]),
                (
                    "2026-11-24",
                    vec![
                        "130322/101/201/01",
                        "130322/101/201/02",
                        "130322/101/201/03"
                    ]
                ),
                ("2026-11-25", vec!["130322/101/201/02", "130322/101/201/03"]),
            ]
        );
        assert_eq!(daily.cadence, "daily");
        // Weekly, the village itself was patrolled.
        let villages: BTreeSet<_> = store
            .units_at(&path("130322/101"), Level::Village)
            .await
            .unwrap();
        let township_patrols = store.patrols(&path("130322/101"), from, to).await.unwrap();
        let weekly = coverage(
            &path("130322/101"),
            Level::Village,
            &villages,
            &township_patrols,
            from,
            to,
            cal,
        );
        assert_eq!(weekly.periods.len(), 1);
        assert_eq!(
            weekly.periods[0].unpatrolled,
            vec!["130322/101/202".to_owned()]
        );
    }
);
