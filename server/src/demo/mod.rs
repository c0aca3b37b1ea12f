//! `gridsync serve --demo`: a realistic county on an empty database, so a newcomer sees a working
//! system at once.
//!
//! Everything goes through the real sync path: simulated phones are the very `Replica` the apps
//! embed; they capture cases offline (Chinese titles, categories from the catalogue, device clocks
//! spread over the past weeks), edit the same cases concurrently, and sync through
//! [`Store::sync`], which judges every change exactly as for a real phone.
//!
//! Files: this one (the county, its accounts and the day's work), `reports` (what the phones
//! report), `joint` (joint dispatches, departments' returns and lateness, accountability, a
//! return visit's verdict, the townships' scores of departments).

use std::future::Future;
use std::pin::Pin;

use gridsync_core::case::MediationSession;
use gridsync_core::session::{Answer, Step, SyncSession};
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::workflow::{EventDraft, EventType, Rating};
use gridsync_core::{CaseKind, Identity, JurisdictionPath, Replica, Role};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::auth;
use crate::store::{Result, Store, StoreError, UserRecord};

mod joint;
mod reports;

use reports::{dispute, field_report};

const COUNTY: (&str, &str) = ("130533", "威县");
/// (code, name) of a node.
type Unit = (&'static str, &'static str);

const TOWNSHIPS: [(&str, &str, [Unit; 3]); 3] = [
    (
        "100",
        "洺州镇",
        [("201", "东街村"), ("202", "西关村"), ("203", "南关社区")],
    ),
    (
        "101",
        "梨园屯镇",
        [("201", "梨园屯村"), ("202", "北胡村"), ("203", "前营村")],
    ),
    (
        "102",
        "章台镇",
        [("201", "章台村"), ("202", "后郭村"), ("203", "大寨村")],
    ),
];
const GRIDS_PER_VILLAGE: usize = 2;
const CASES_PER_WORKER: usize = 14;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// The accounts created, with their one-time passwords.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub user: String,
    pub name: String,
    pub role: Role,
    pub scope: String,
    pub password: String,
}

/// What the demo seeded.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub accounts: Vec<DemoAccount>,
    pub cases: usize,
    pub changes: i64,
    pub conflicts: usize,
    /// Residents' matters registered at the counters: (title, receipt number, lookup code), to
    /// try the progress page with.
    pub receipts: Vec<(String, String, String)>,
}

/// A simulated phone.
struct Phone {
    who: Identity,
    replica: Replica,
}

/// Seeds the demo county, unless the database already has accounts (then `None`).
pub async fn seed(store: &Store, taxonomy: &Taxonomy, now: i64) -> Result<Option<DemoSummary>> {
    if !store.users().await?.is_empty() {
        return Ok(None);
    }
    let mut rng = StdRng::seed_from_u64(2026);
    let mut summary = DemoSummary::default();
    let county = path(&[COUNTY.0])?;
    store.add_org_unit(&county, COUNTY.1).await?;

    let admin = account(
        store,
        &mut summary,
        "county.admin",
        "县指挥中心 刘主任",
        Role::CountyAdmin,
        &county,
        None,
        now,
    )
    .await?;
    let handler = account(
        store,
        &mut summary,
        "dept.urban",
        "城管局 张科长",
        Role::DepartmentHandler,
        &county,
        Some("urban_management"),
        now,
    )
    .await?;
    let mut workers: Vec<Phone> = Vec::new();
    let mut mediators: Vec<Phone> = Vec::new();
    let mut staff: Vec<Phone> = Vec::new();
    let surnames = [
        "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡",
        "郭", "何", "林",
    ];
    let mut n = 0;
    for (tcode, tname, villages) in TOWNSHIPS {
        let township = county.child(tcode)?;
        store.add_org_unit(&township, tname).await?;
        staff.push(
            phone(
                store,
                account(
                    store,
                    &mut summary,
                    &format!("ts.{tcode}"),
                    &format!("{tname}综治中心"),
                    Role::TownshipStaff,
                    &township,
                    None,
                    now,
                )
                .await?,
                now,
            )
            .await?,
        );
        for (vcode, vname) in villages {
            let village = township.child(vcode)?;
            store.add_org_unit(&village, vname).await?;
            let med = account(
                store,
                &mut summary,
                &format!("med.{tcode}{vcode}"),
                &format!("{vname}调解员 {}大姐", surnames[n % surnames.len()]),
                Role::Mediator,
                &village,
                None,
                now,
            )
            .await?;
            mediators.push(phone(store, med, now).await?);
            for g in 1..=GRIDS_PER_VILLAGE {
                let grid = village.child(&format!("{g:02}"))?;
                store
                    .add_org_unit(&grid, &format!("{vname}第{g}网格"))
                    .await?;
                n += 1;
                let w = account(
                    store,
                    &mut summary,
                    &format!("gw.{tcode}{vcode}{g:02}"),
                    &format!(
                        "网格员 {}{}",
                        surnames[n % surnames.len()],
                        ["建国", "秀英", "志强", "桂兰", "海涛", "丽娟"][n % 6]
                    ),
                    Role::GridWorker,
                    &grid,
                    None,
                    now,
                )
                .await?;
                workers.push(phone(store, w, now).await?);
            }
        }
    }
    let mut county_desk = phone(store, admin, now).await?;
    let mut department = phone(store, handler, now).await?;

    // Weeks of offline capture, in the field.
    let start = now - 28 * DAY_MS;
    for w in workers.iter_mut() {
        for i in 0..CASES_PER_WORKER {
            let at = start + rng.random_range(0..27 * DAY_MS);
            let new = field_report(&mut rng, &w.who, i, taxonomy);
            w.replica.capture(&new, at)?;
        }
        // Some they verify and handle themselves ("小事不出村").
        for id in w.replica.case_ids()?.into_iter().take(4) {
            let at = start + 27 * DAY_MS;
            let _ = w
                .replica
                .append_event(&id, EventDraft::new(EventType::Accepted), at);
            let _ = w.replica.append_event(
                &id,
                EventDraft::new(EventType::Resolved).note("已现场处理"),
                at + 3_600_000,
            );
            // The requester's rating (评价), as the worker records it.
            let rating = [
                Rating::Satisfied,
                Rating::Satisfied,
                Rating::BasicallySatisfied,
                Rating::Unsatisfied,
            ][rng.random_range(0..4)];
            let _ = w.replica.append_event(
                &id,
                EventDraft::evaluate(rating).note("群众评价"),
                at + 7_200_000,
            );
        }
    }
    for m in mediators.iter_mut() {
        for i in 0..4 {
            let at = start + rng.random_range(0..27 * DAY_MS);
            let id = m.replica.capture(&dispute(&mut rng, &m.who, i), at)?;
            m.replica.edit(&id, at + DAY_MS, |e| {
                e.add_mediation_session(&MediationSession {
                    at: at + DAY_MS,
                    mediators: vec![m.who.user.clone()],
                    notes: "双方到场，调解员释法说理，初步达成一致。".into(),
                    outcome: "partial".into(),
                    ..Default::default()
                })?;
                e.set_agreement("经调解，双方自愿达成如下协议：一、……二、……")
            })?;
            // Most mediations succeed; a failed one goes to court (诉调对接).
            let _ = m.replica.append_event(
                &id,
                EventDraft::new(EventType::Accepted),
                at + DAY_MS + 60_000,
            );
            if i < 3 {
                m.replica.edit(&id, at + 2 * DAY_MS, |e| {
                    e.set_mediation_result("success", "")
                })?;
                let _ = m.replica.append_event(
                    &id,
                    EventDraft::new(EventType::Resolved).note("调解成功"),
                    at + 2 * DAY_MS + 60_000,
                );
            } else {
                m.replica.edit(&id, at + 2 * DAY_MS, |e| {
                    e.set_mediation_result("failure", "court")
                })?;
            }
        }
    }
    for p in workers.iter_mut().chain(mediators.iter_mut()) {
        sync_until_quiet(store, p, now).await?;
    }

    // The township reviews: accepts, dispatches, escalates.
    for s in staff.iter_mut() {
        sync_until_quiet(store, s, now).await?;
        let ids = s.replica.case_ids()?;
        for (k, id) in ids.iter().enumerate() {
            let at = now - rng.random_range(0..3 * DAY_MS);
            match k % 6 {
                0 | 1 => {
                    let _ = s
                        .replica
                        .append_event(id, EventDraft::new(EventType::Accepted), at);
                    let _ = s.replica.append_event(
                        id,
                        EventDraft::assign_to("urban_management"),
                        at + 60_000,
                    );
                }
                2 => {
                    let _ = s
                        .replica
                        .append_event(id, EventDraft::new(EventType::Accepted), at);
                }
                3 => {
                    let _ = s.replica.append_event(
                        id,
                        EventDraft::new(EventType::Supervised).note("超时督办"),
                        at,
                    );
                }
                _ => {}
            }
        }
        sync_until_quiet(store, s, now).await?;
    }
    sync_until_quiet(store, &mut department, now).await?;
    for id in department.replica.case_ids()?.into_iter().step_by(2) {
        let at = now - DAY_MS;
        let _ = department.replica.append_event(
            &id,
            EventDraft::new(EventType::InProgress).note("已签收"),
            at,
        );
        let _ = department.replica.append_event(
            &id,
            EventDraft::new(EventType::Resolved).note("已处置完毕，附照片"),
            at + 7_200_000,
        );
    }
    sync_until_quiet(store, &mut department, now).await?;

    // Residents at each township's counter (登记): some sent to the grid, one answered there.
    for (s, ws) in staff
        .iter_mut()
        .zip(workers.chunks_mut(GRIDS_PER_VILLAGE * 3))
    {
        front_door(store, taxonomy, s, ws, &mut summary, now).await?;
    }

    // Offline edits of the same cases by two people: conflicts for the console to settle.
    for pair in workers.chunks_mut(GRIDS_PER_VILLAGE) {
        if let [a, b] = pair {
            sync_until_quiet(store, a, now).await?;
            sync_until_quiet(store, b, now).await?;
            // Two weeks old and never answered: overdue whatever the weekday or holiday. Not a
            // key-person visit: the mediator who edits it too may not see those.
            let mut report = field_report(&mut rng, &a.who, 99, taxonomy);
            while report.kind == CaseKind::KeyPersonVisit {
                report = field_report(&mut rng, &a.who, 99, taxonomy);
            }
            let shared = a.replica.capture(&report, now - 14 * DAY_MS)?;
            sync_until_quiet(store, a, now).await?;
            // b is in another grid of the same village and does not see a's grid; the mediator does.
            let Some(m) = mediators
                .iter_mut()
                .find(|m| a.who.scope.is_within(&m.who.scope))
            else {
                continue;
            };
            sync_until_quiet(store, m, now).await?;
            a.replica.edit(&shared, now - DAY_MS, |e| {
                e.set_title("村口变压器漏油（已设警示）")
            })?;
            m.replica.edit(&shared, now - DAY_MS + 600_000, |e| {
                e.set_title("村口变压器漏油，群众围观")
            })?;
            sync_until_quiet(store, a, now).await?;
            sync_until_quiet(store, m, now).await?;
            summary.conflicts += 1;
        }
    }
    // Joint dispatches and what assessment counts, in the second township (梨园屯镇).
    let centres: Vec<Identity> = staff.iter().map(|p| p.who.clone()).collect();
    if let (Some(centre), Some(workers)) = (
        staff.get_mut(1),
        workers.chunks_mut(GRIDS_PER_VILLAGE * 3).nth(1),
    ) {
        let township = joint::Township {
            centre,
            workers,
            urban: &mut department,
        };
        joint::seed(store, &mut summary, township, centres, now).await?;
    }
    // The supervision clock's first pass, as `serve` runs it at start: late cases, and late
    // assisting parts each on their own, are supervised (督办).
    first_supervision(store, now).await?;
    sync_until_quiet(store, &mut county_desk, now).await?;
    summary.cases = county_desk.replica.case_ids()?.len();
    summary.changes = store.change_count().await?;
    Ok(Some(summary))
}

/// One pass of the supervision clock, boxed in a plain function so its large future is not
/// built in `seed`'s frame.
fn first_supervision(
    store: &Store,
    now: i64,
) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
    Box::pin(async move {
        let clock = crate::supervision::Supervisor::new(store.clone(), now).await?;
        clock.run_once(now).await.map(|_| ())
    })
}

/// Three matters at the counter of `clerk`'s township, registered as the console does (with a
/// receipt): two sent down to the first grid, whose worker answers one; one taken on at the
/// township; the answered one rated by its requester on the progress page.
async fn front_door(
    store: &Store,
    taxonomy: &Taxonomy,
    clerk: &mut Phone,
    workers: &mut [Phone],
    summary: &mut DemoSummary,
    now: i64,
) -> Result<()> {
    use crate::residents::{Matter, Receipt, requester_identity};
    use crate::store::{DeviceContext, FrontDoorRows};
    use gridsync_core::{Level, Source};
    let Some(worker) = workers.first_mut() else {
        return Ok(());
    };
    let server = store.server_device(now).await?;
    let ctx = DeviceContext {
        device: clerk.who.device.clone(),
        actors: server.actors.clone(),
        users: vec![clerk.who.clone()],
        revoked: false,
        sign_key: server.sign_key,
        synced: Default::default(),
    };
    let deadlines = gridsync_core::workflow::Deadlines {
        taxonomy,
        calendar: gridsync_core::calendar::Calendar::builtin(),
        version: 0,
    };
    let matters = [
        (
            Source::WalkIn,
            "路灯不亮，晚上出行不便",
            "street_light",
            true,
        ),
        (Source::Hotline12345, "自来水管漏水", "water_supply", true),
        (Source::Letter, "反映垃圾清运不及时", "sanitation", false),
    ];
    let mut routed = Vec::new();
    for (i, (source, title, category, to_grid)) in matters.into_iter().enumerate() {
        let at = now - (5 - i as i64) * DAY_MS;
        let matter = Matter {
            source,
            kind: CaseKind::Request,
            place: worker.who.scope.clone(),
            category: category.into(),
            title: title.into(),
            description: "群众来访反映，请核实处理。".into(),
            address: "村委会东侧".into(),
            requester_name: ["赵桂兰", "钱志刚", "孙秀梅"][i].into(),
            requester_phone: format!("1381234{:04}", 5678 + i),
        };
        let (id, mut doc, key) =
            matter.build(&clerk.who, server.actors[0].clone(), at, &deadlines)?;
        store.keep_case_key(&key, at).await?;
        let step = match to_grid {
            true => EventDraft::route_to(Level::Grid),
            false => EventDraft::new(EventType::Accepted),
        };
        doc.edit(&clerk.who, at + 600_000, |e| {
            e.append_event_with(step, &deadlines).map(|_| ())
        })?;
        let receipt = Receipt::fresh(store, at).await?;
        let rows = FrontDoorRows {
            receipt: Some((receipt.number.clone(), receipt.code_hash())),
            order: None,
            lookup_code: Some(receipt.code.clone()),
        };
        store
            .open_case(&ctx, &clerk.who, &id, &mut doc, &rows, taxonomy, at)
            .await?;
        summary
            .receipts
            .push((title.to_owned(), receipt.number, receipt.code));
        if to_grid {
            routed.push(id);
        }
    }
    // The grid worker verifies the first on the spot and answers the requester.
    sync_until_quiet(store, worker, now).await?;
    if let Some(id) = routed.first() {
        let at = now - 2 * DAY_MS;
        worker
            .replica
            .append_event(id, EventDraft::new(EventType::Accepted), at)?;
        worker.replica.append_event(
            id,
            EventDraft::resolve_with_reply("已联系供电所更换灯泡，路灯恢复照明。")
                .note("现场核实，灯泡损坏"),
            at + 3_600_000,
        )?;
        sync_until_quiet(store, worker, now).await?;
        let who = requester_identity(
            &worker
                .who
                .scope
                .at_level(Level::County)
                .unwrap_or_else(|| worker.who.scope.clone()),
        )?;
        store
            .write_case(&server, &who, id, taxonomy, now - DAY_MS, |doc| {
                doc.edit(&who, now - DAY_MS, |e| {
                    e.append_event(EventDraft::evaluate(Rating::Satisfied).note("修得很快"))
                        .map(|_| ())
                })
            })
            .await?;
    }
    sync_until_quiet(store, clerk, now).await
}

/// Syncs a simulated phone through the core's sync session, straight into the store.
async fn sync_until_quiet(store: &Store, p: &mut Phone, now: i64) -> Result<()> {
    let ctx = store
        .device_context(&p.who.device)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("demo device {} vanished", p.who.device)))?;
    let mut session = SyncSession::cases_only();
    while let Step::Sync(req) = session.next(&p.replica)? {
        let resp = store.sync(&ctx, &p.who, &req, now).await?;
        if !resp.rejected.is_empty() {
            tracing::warn!(device = %p.who.device, rejected = resp.rejected.len(), "demo changes refused");
        }
        session.answer(&mut p.replica, Answer::Synced(Box::new(resp)), now)?;
    }
    match session.outcome().more {
        false => Ok(()),
        true => Err(StoreError::Corrupt(format!(
            "demo device {} did not settle",
            p.who.device
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
async fn account(
    store: &Store,
    summary: &mut DemoSummary,
    id: &str,
    name: &str,
    role: Role,
    scope: &JurisdictionPath,
    department: Option<&str>,
    now: i64,
) -> Result<Identity> {
    let (token, _) = auth::new_refresh_token();
    let password: String = token
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let hash =
        auth::hash_password(&password).map_err(|e| StoreError::Corrupt(format!("hashing: {e}")))?;
    store
        .add_user(
            &UserRecord {
                id: id.into(),
                display_name: name.into(),
                role,
                scope: scope.clone(),
                department: department.map(str::to_owned),
                password_hash: hash,
                disabled: false,
            },
            now,
        )
        .await?;
    summary.accounts.push(DemoAccount {
        user: id.into(),
        name: name.into(),
        role,
        scope: scope.to_string(),
        password,
    });
    Ok(Identity::new(
        id,
        role,
        scope.clone(),
        department.map(str::to_owned),
        format!("demo-{id}"),
    )?)
}

async fn phone(store: &Store, who: Identity, now: i64) -> Result<Phone> {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut replica = Replica::open_in_memory(&key)?;
    replica.sign_in(who.clone())?;
    store
        .bind_device(&who.device, &who.user, replica.actor_id(), now)
        .await?;
    if let Some(key) = replica
        .device_key()
        .and_then(|k| gridsync_core::evidence::public_key(&k))
    {
        store.bind_device_key(&who.device, &key).await?;
    }
    // As the sign-in gives it: the demo's people are sealed like a real phone's (ADR 0029).
    let server_key = store.change_key().await?.public();
    replica.set_server_key(&server_key)?;
    Ok(Phone { who, replica })
}

fn path(codes: &[&str]) -> Result<JurisdictionPath> {
    Ok(JurisdictionPath::new(codes.iter().copied())?)
}
