//! `/v1/stats` figures against an independent recomputation from the case documents: a few
//! thousand cases with known outcomes, on both backends.

use std::collections::BTreeMap;

use gridsync_core::calendar::Calendar;
use gridsync_core::case::{MediationSession, NewCase, Party, REQUESTER};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::workflow::{EventDraft, EventType, Rating};
use gridsync_core::{Case, CaseKind, Identity, JurisdictionPath, Level, Replica, Role, Source};
use gridsync_server::residents::requester_identity;
use gridsync_server::stats::{self, Breakdown, Rate};
use gridsync_server::store::Store;

use crate::*;

const CASES: usize = 2_000;
const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

/// A small deterministic generator (no dependency, same sequence on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

struct Desk {
    replica: Replica,
}

async fn desk(store: &Store, user: &str, role: Role, scope: &str) -> Desk {
    let (_, replica) = phone(store, user, role, scope, &format!("dev-{user}")).await;
    Desk { replica }
}

fn numbered(kind: CaseKind, place: &str, category: &str, i: usize) -> NewCase {
    new_case(kind, place, category, &format!("案件 {i}"))
}

async fn push_all(store: &Store, r: &mut Replica, now: i64) {
    sync_accepted(store, r, now).await;
    assert_eq!(r.pending_count().unwrap(), 0);
}

/// Builds the cases: every outcome the loop knows, at known times.
async fn build(store: &Store) -> (Vec<String>, i64) {
    let townships = ["130322/101", "130322/102"];
    let mut workers = BTreeMap::new();
    let mut mediators = BTreeMap::new();
    let mut staff = BTreeMap::new();
    for (t, township) in townships.iter().enumerate() {
        staff.insert(
            t,
            desk(store, &format!("staff{t}"), Role::TownshipStaff, township).await,
        );
        for v in 0..2 {
            let village = format!("{township}/20{v}");
            mediators.insert(
                (t, v),
                desk(store, &format!("med{t}{v}"), Role::Mediator, &village).await,
            );
            for g in 0..2 {
                let grid = format!("{village}/0{g}");
                workers.insert(
                    (t, v, g),
                    desk(store, &format!("gw{t}{v}{g}"), Role::GridWorker, &grid).await,
                );
            }
        }
    }
    let base = Calendar::builtin().local_midnight("2026-10-12").unwrap();
    let mut rng = Lcg(7);
    let mut ids = Vec::new();
    for i in 0..CASES {
        let (t, v, g) = (
            rng.next(2) as usize,
            rng.next(2) as usize,
            rng.next(2) as usize,
        );
        let grid = format!("{}/20{v}/0{g}", townships[t]);
        let village = format!("{}/20{v}", townships[t]);
        let at = base + i as i64 * 20 * MINUTE;
        let outcome = rng.next(10);
        if rng.next(10) < 3 {
            // A dispute the village mediator logs and mediates.
            let m = &mut mediators.get_mut(&(t, v)).unwrap().replica;
            let category = ["dispute_neighbours", "dispute_land_boundary"][rng.next(2) as usize];
            let id = m
                .capture(&numbered(CaseKind::Dispute, &village, category, i), at)
                .unwrap();
            if outcome > 0 {
                m.append_event(&id, EventDraft::new(EventType::Accepted), at + MINUTE)
                    .unwrap();
            }
            if outcome > 2 {
                let success = outcome > 4;
                m.edit(&id, at + 2 * MINUTE, |e| {
                    e.add_mediation_session(&MediationSession {
                        at: at + 2 * MINUTE,
                        mediators: vec!["med".into()],
                        outcome: if success { "agreed" } else { "failed" }.into(),
                        ..Default::default()
                    })?;
                    if success {
                        e.set_mediation_result("success", "")
                    } else {
                        e.set_mediation_result("failure", ["court", "police", "petition"][i % 3])
                    }
                })
                .unwrap();
                if success {
                    // Some late: disputes have 10 to 15 working days.
                    let delay = if rng.next(4) == 0 { 30 * DAY } else { DAY };
                    m.append_event(&id, EventDraft::new(EventType::Resolved), at + delay)
                        .unwrap();
                }
            }
            ids.push(id);
            continue;
        }
        if rng.next(10) < 2 {
            // A resident's matter registered at the township's counter (登记).
            let id = front_door(
                store,
                &mut staff.get_mut(&t).unwrap().replica,
                &mut workers.get_mut(&(t, v, g)).unwrap().replica,
                (&grid, i, at),
                &mut rng,
            )
            .await;
            ids.push(id);
            continue;
        }
        let w = &mut workers.get_mut(&(t, v, g)).unwrap().replica;
        let (kind, category) = [
            (CaseKind::Request, "elevator_repair"),
            (CaseKind::Request, "water_supply"),
            (CaseKind::Incident, "street_light"),
            (CaseKind::Incident, "safety_hazard"),
            (CaseKind::Request, "sanitation"),
        ][rng.next(5) as usize];
        let id = w.capture(&numbered(kind, &grid, category, i), at).unwrap();
        match outcome {
            0 => {} // never answered
            1 | 2 => {
                // The township takes it on (受理 at its level) and resolves it.
                ids.push(id.clone());
                push_all(store, w, at).await;
                let s = &mut staff.get_mut(&t).unwrap().replica;
                push_all(store, s, at).await;
                s.append_event(&id, EventDraft::new(EventType::Accepted), at + MINUTE)
                    .unwrap();
                if outcome == 2 {
                    s.append_event(&id, EventDraft::new(EventType::Resolved), at + 2 * DAY)
                        .unwrap();
                }
                push_all(store, s, at + 2 * DAY).await;
                continue;
            }
            _ => {
                w.append_event(&id, EventDraft::new(EventType::Accepted), at + MINUTE)
                    .unwrap();
                if outcome >= 4 {
                    let delay = if rng.next(3) == 0 {
                        5 * DAY
                    } else {
                        3 * 60 * MINUTE
                    };
                    w.append_event(&id, EventDraft::new(EventType::Resolved), at + delay)
                        .unwrap();
                    let rating = match rng.next(6) {
                        0 => Some(Rating::Unsatisfied),
                        1 => Some(Rating::BasicallySatisfied),
                        2 | 3 => Some(Rating::Satisfied),
                        _ => None,
                    };
                    if let Some(r) = rating {
                        w.append_event(&id, EventDraft::evaluate(r), at + delay + MINUTE)
                            .unwrap();
                        if r == Rating::Unsatisfied && outcome >= 7 {
                            // Handled again, rated unsatisfied again: accountability.
                            w.append_event(
                                &id,
                                EventDraft::new(EventType::Resolved),
                                at + delay + 2 * MINUTE,
                            )
                            .unwrap();
                            w.append_event(
                                &id,
                                EventDraft::evaluate(Rating::Unsatisfied),
                                at + delay + 3 * MINUTE,
                            )
                            .unwrap();
                        }
                    }
                }
            }
        }
        ids.push(id);
    }
    let end = base + CASES as i64 * 20 * MINUTE + 40 * DAY;
    for d in workers
        .values_mut()
        .chain(mediators.values_mut())
        .chain(staff.values_mut())
    {
        push_all(store, &mut d.replica, end).await;
    }
    (ids, end)
}

/// A walk-in, call or letter registered by township staff: sent down to the grid (or taken on at
/// the township), answered or not, visited or not, rated by the requester or by staff or not.
async fn front_door(
    store: &Store,
    s: &mut Replica,
    w: &mut Replica,
    (grid, i, at): (&str, usize, i64),
    rng: &mut Lcg,
) -> String {
    let mut matter = numbered(CaseKind::Request, grid, "water_supply", i);
    matter.people = vec![Party {
        name: "赵桂兰".into(),
        role: REQUESTER.into(),
        phone: "13812345678".into(),
        ..Party::default()
    }];
    let id = s.capture(&matter, at).unwrap();
    let source = Source::COUNTER[i % Source::COUNTER.len()];
    s.edit(&id, at, |e| e.set_source(source)).unwrap();
    let routed = rng.next(3) > 0;
    let handler: &mut Replica = if routed {
        s.append_event(&id, EventDraft::route_to(Level::Grid), at + 30 * MINUTE)
            .unwrap();
        push_all(store, s, at).await;
        push_all(store, w, at).await;
        w.append_event(
            &id,
            EventDraft::new(EventType::Accepted),
            at + 3 * 60 * MINUTE,
        )
        .unwrap();
        w
    } else {
        s.append_event(&id, EventDraft::new(EventType::Accepted), at + 10 * MINUTE)
            .unwrap();
        &mut *s
    };
    let outcome = rng.next(6);
    if outcome > 0 {
        let reply = if outcome > 1 {
            "已修复，已答复群众"
        } else {
            ""
        };
        handler
            .append_event(&id, EventDraft::resolve_with_reply(reply), at + DAY)
            .unwrap();
    }
    push_all(store, handler, at + DAY).await;
    push_all(store, s, at + DAY).await;
    if outcome > 2 {
        s.append_event(
            &id,
            EventDraft::return_visit("phone").note("群众说水通了"),
            at + 2 * DAY,
        )
        .unwrap();
    }
    if outcome == 3 {
        s.append_event(&id, EventDraft::evaluate(Rating::Satisfied), at + 2 * DAY)
            .unwrap();
    }
    push_all(store, s, at + 2 * DAY).await;
    if outcome > 3 {
        // The requester's own rating, as the progress page writes it.
        let rating = [Rating::Satisfied, Rating::Unsatisfied][(outcome - 4) as usize];
        let who = requester_identity(&JurisdictionPath::parse("130322").unwrap()).unwrap();
        let ctx = store.server_device(at).await.unwrap();
        let wrote = store
            .write_case(&ctx, &who, &id, Taxonomy::builtin(), at + 3 * DAY, |doc| {
                doc.edit(&who, at + 3 * DAY, |e| {
                    e.append_event(EventDraft::evaluate(rating).note("自评"))
                        .map(|_| ())
                })
            })
            .await
            .unwrap();
        assert!(wrote);
    }
    id
}

/// What one case's document says, read from its raw events without the workflow fold.
struct Facts {
    created_at: i64,
    category: String,
    area: String,
    kind: CaseKind,
    resolved: bool,
    resolved_at: Option<i64>,
    on_time: bool,
    level: String,
    rating: Option<String>,
    mediation: Option<String>,
    reopens: u64,
    due: Option<i64>,
    source: Source,
    first_response: Option<i64>,
    replied: bool,
    by_requester: bool,
    visited: bool,
}

fn facts(case: &Case, area_depth: usize) -> Facts {
    let mut resolved = false;
    let mut resolved_at = None;
    let mut on_time = false;
    let mut due = None;
    let mut level = String::new();
    let mut rating = None;
    let mut reopens = 0;
    let mut by_requester = false;
    for e in &case.events {
        if e.kind == EventType::Evaluated {
            by_requester = e.role == Role::System;
        }
        if e.due.is_some() {
            due = e.due;
        }
        match e.kind {
            EventType::Reported
            | EventType::Escalated
            | EventType::Accepted
            | EventType::Routed
            | EventType::Assigned => {
                level = e.level.as_str().to_owned();
            }
            _ => {}
        }
        match e.kind {
            EventType::Resolved => {
                resolved = true;
                resolved_at = Some(e.at);
                on_time = due.is_none_or(|d| e.at <= d);
                due = None;
            }
            EventType::Evaluated => {
                rating = e.rating.map(|r| r.as_str().to_owned());
                if e.rating == Some(Rating::Unsatisfied) {
                    resolved = false;
                    resolved_at = None;
                    reopens += 1;
                }
            }
            _ => {}
        }
    }
    let codes = case.jurisdiction.codes();
    Facts {
        created_at: case.created_at,
        category: case.category.clone(),
        area: codes[..area_depth.min(codes.len())].join("/"),
        kind: case.kind,
        resolved,
        resolved_at,
        on_time,
        level,
        rating,
        mediation: (!case.mediation.result.is_empty()).then(|| case.mediation.result.clone()),
        reopens,
        due,
        source: case.source,
        first_response: case
            .events
            .iter()
            .skip(1)
            .find(|e| {
                !matches!(
                    e.kind,
                    EventType::Supervised | EventType::Settled | EventType::ReturnVisit
                )
            })
            .map(|e| e.at),
        replied: case.events.iter().any(|e| {
            e.kind == EventType::Resolved && e.reply.as_deref().is_some_and(|r| !r.is_empty())
        }),
        by_requester,
        visited: case.events.iter().any(|e| e.kind == EventType::ReturnVisit),
    }
}

fn rate(count: usize, of: usize) -> Rate {
    Rate {
        count: count as u64,
        of: of as u64,
        rate: (of > 0).then(|| count as f64 / of as f64),
    }
}

conformance!(
    every_figure_of_the_statistics_matches_a_recount_from_the_documents,
    |store: Store| async move {
        let (ids, now) = build(&store).await;
        let base = Calendar::builtin().local_midnight("2026-10-12").unwrap();
        let (from, to) = (base + 7 * DAY, base + 21 * DAY);
        let county =
            Identity::new("leader", Role::CountyAdmin, path("130322"), None, "pc").unwrap();
        for scope in ["130322", "130322/101"] {
            let scope_path = JurisdictionPath::parse(scope).unwrap();
            let (rows, overdue) = store
                .stats_rows(&county, &scope_path, from, to, now)
                .await
                .unwrap();
            let got = stats::compute(
                scope,
                from,
                to,
                &rows,
                overdue,
                Taxonomy::builtin(),
                Calendar::builtin(),
            );

            // The recount: every document, read directly.
            let depth = scope_path.codes().len() + 1;
            let mut all = Vec::new();
            for id in &ids {
                let case = store.case_doc(id).await.unwrap().unwrap().read().unwrap();
                if case.jurisdiction.is_within(&scope_path) {
                    all.push(facts(&case, depth));
                }
            }
            let cohort: Vec<&Facts> = all
                .iter()
                .filter(|f| (from..to).contains(&f.created_at))
                .collect();
            let resolved: Vec<&&Facts> = cohort.iter().filter(|f| f.resolved).collect();
            let rated: Vec<&str> = cohort.iter().filter_map(|f| f.rating.as_deref()).collect();
            let mediated: Vec<&str> = cohort
                .iter()
                .filter(|f| f.kind == CaseKind::Dispute)
                .filter_map(|f| f.mediation.as_deref())
                .collect();
            let by_level = |l: &str| resolved.iter().filter(|f| f.level == l).count();

            assert!(cohort.len() > 500, "the window holds a real cohort");
            assert_eq!(got.received, cohort.len() as u64);
            assert_eq!(got.resolved, resolved.len() as u64);
            assert_eq!(got.resolution, rate(resolved.len(), cohort.len()));
            assert_eq!(
                got.on_time,
                rate(
                    resolved.iter().filter(|f| f.on_time).count(),
                    resolved.len()
                )
            );
            assert_eq!(
                got.satisfaction,
                rate(
                    rated.iter().filter(|r| **r != "unsatisfied").count(),
                    rated.len()
                )
            );
            assert_eq!(
                got.mediation_success,
                rate(
                    mediated.iter().filter(|m| **m == "success").count(),
                    mediated.len()
                )
            );
            for level in ["grid", "village", "township", "county"] {
                assert_eq!(
                    got.resolved_by_level[level],
                    by_level(level) as u64,
                    "{level}"
                );
            }
            assert_eq!(
                got.resolved_in_village,
                rate(by_level("grid") + by_level("village"), resolved.len())
            );
            assert_eq!(
                got.overdue_now,
                all.iter()
                    .filter(|f| f.due.is_some_and(|d| d < now))
                    .count() as u64
            );
            assert_eq!(got.reopened, cohort.iter().map(|f| f.reopens).sum::<u64>());
            assert_eq!(
                got.accountability,
                cohort.iter().filter(|f| f.reopens >= 2).count() as u64
            );
            let mut categories: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            let mut areas: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            let mut weeks: BTreeMap<String, (u64, u64)> = BTreeMap::new();
            for f in &cohort {
                let c = categories.entry(&f.category).or_default();
                c.0 += 1;
                c.1 += u64::from(f.resolved);
                let a = areas.entry(&f.area).or_default();
                a.0 += 1;
                a.1 += u64::from(f.resolved);
                weeks
                    .entry(Calendar::builtin().week_start(f.created_at))
                    .or_default()
                    .0 += 1;
                if let Some(at) = f.resolved_at.filter(|at| (from..to).contains(at)) {
                    weeks
                        .entry(Calendar::builtin().week_start(at))
                        .or_default()
                        .1 += 1;
                }
            }
            let plain = |b: &[Breakdown]| -> Vec<(String, u64, u64)> {
                b.iter()
                    .map(|x| (x.key.clone(), x.received, x.resolved))
                    .collect()
            };
            let expect = |m: Vec<(String, (u64, u64))>| -> Vec<(String, u64, u64)> {
                m.into_iter().map(|(k, (a, b))| (k, a, b)).collect()
            };
            assert_eq!(
                plain(&got.by_category),
                expect(
                    categories
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                )
            );
            assert_eq!(
                plain(&got.by_area),
                expect(areas.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            );
            assert_eq!(plain(&got.by_week), expect(weeks.into_iter().collect()));
            assert_eq!(
                got.by_category
                    .iter()
                    .find(|b| b.key == "street_light")
                    .and_then(|b| b.name_zh.clone())
                    .as_deref(),
                Some("路灯故障")
            );
            // The front door: by source, whose rating, the reply, the first response, visits.
            let satisfaction = |fs: &mut dyn Iterator<Item = &&Facts>| {
                let rated: Vec<&str> = fs.filter_map(|f| f.rating.as_deref()).collect();
                rate(
                    rated.iter().filter(|r| **r != "unsatisfied").count(),
                    rated.len(),
                )
            };
            for figures in &got.by_source {
                let source = Source::parse(&figures.source).unwrap();
                let of: Vec<&&Facts> = cohort.iter().filter(|f| f.source == source).collect();
                assert_eq!(figures.received, of.len() as u64, "{source}");
                assert_eq!(
                    figures.resolved,
                    of.iter().filter(|f| f.resolved).count() as u64
                );
                assert_eq!(figures.satisfaction, satisfaction(&mut of.iter().copied()));
            }
            assert_eq!(got.by_source.len(), Source::ALL.len());
            assert_eq!(
                got.satisfaction_by_requester,
                satisfaction(&mut cohort.iter().filter(|f| f.by_requester))
            );
            assert_eq!(
                got.satisfaction_by_staff,
                satisfaction(&mut cohort.iter().filter(|f| !f.by_requester))
            );
            let residents: Vec<&&Facts> =
                cohort.iter().filter(|f| f.source.is_residents()).collect();
            assert_eq!(
                got.reply,
                rate(
                    residents.iter().filter(|f| f.replied).count(),
                    residents.len()
                )
            );
            let mut waits: Vec<f64> = cohort
                .iter()
                .filter_map(|f| f.first_response.map(|t| (t - f.created_at) as f64 / 3.6e6))
                .collect();
            waits.sort_by(f64::total_cmp);
            assert_eq!(got.first_response.count, waits.len() as u64);
            let mean = waits.iter().sum::<f64>() / waits.len() as f64;
            assert!((got.first_response.mean_hours.unwrap() - mean).abs() < 1e-9);
            let n = waits.len();
            let median = if n % 2 == 1 {
                waits[n / 2]
            } else {
                (waits[n / 2 - 1] + waits[n / 2]) / 2.0
            };
            assert_eq!(got.first_response.median_hours, Some(median));
            assert_eq!(
                got.return_visited,
                rate(
                    resolved.iter().filter(|f| f.visited).count(),
                    resolved.len()
                )
            );
            assert!(got.reply.count > 0 && got.reply.count < got.reply.of);
            assert!(got.satisfaction_by_requester.count > 0);
            assert!(got.satisfaction_by_requester.count < got.satisfaction_by_requester.of);
            assert!(got.return_visited.count > 0);
            assert!(
                got.by_source
                    .iter()
                    .filter(|f| Source::COUNTER.iter().any(|c| c.as_str() == f.source))
                    .all(|f| f.received > 0),
                "every counter channel is counted"
            );
            // Every kind of outcome is present, so no figure passes by being zero.
            assert!(got.resolution.count > 0 && got.resolution.count < got.received);
            assert!(got.on_time.count > 0 && got.on_time.count < got.on_time.of);
            assert!(got.satisfaction.count > 0 && got.satisfaction.count < got.satisfaction.of);
            assert!(
                got.mediation_success.count > 0
                    && got.mediation_success.count < got.mediation_success.of
            );
            assert!(got.resolved_by_level["township"] > 0 && got.resolved_by_level["grid"] > 0);
            assert!(got.overdue_now > 0 && got.accountability > 0);
        }
    }
);
