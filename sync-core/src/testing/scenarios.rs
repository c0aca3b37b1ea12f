//! The hub's behaviour as scenarios any hub must pass: [`MemoryHub`] here, and the server's
//! `Store` on SQLite and on PostgreSQL in the server's tests, so the two hubs cannot drift apart.
//! Phones are real replicas syncing through the [`session`](crate::session) driver.

use automerge::ActorId;

use super::MemoryHub;
use crate::access::{Identity, Role};
use crate::case::{Case, Location, NewCase};
use crate::jurisdiction::JurisdictionPath;
use crate::protocol::{SyncRequest, SyncResponse, decode_response, encode_request};
use crate::replica::Replica;
use crate::session::{SessionOutcome, sync_cases};
use crate::vocab::CaseKind;
use crate::{Error, Result};

/// The clock of every scenario (2026-09-21).
pub const T0: i64 = 1_790_000_000_000;
const KEY: [u8; 32] = [3; 32];
const GRID: &str = "130322/101/201/01";

/// A hub under test.
pub trait Hub {
    /// Creates the account of `who` and binds its device to `actor`.
    fn enrol(&mut self, who: &Identity, actor: &ActorId);
    /// One sync round trip of `who`'s device; the request crosses the wire encoding.
    fn exchange(&mut self, who: &Identity, request: &[u8], now: i64) -> Result<SyncResponse>;
    /// The hub's copy of a case.
    fn case(&mut self, id: &str) -> Option<Case>;
    /// The code of every refused change the hub keeps, in any order.
    fn quarantined(&mut self) -> Vec<String>;
}

impl Hub for MemoryHub {
    fn enrol(&mut self, who: &Identity, actor: &ActorId) {
        self.register_device(who.clone(), actor.clone());
    }

    fn exchange(&mut self, who: &Identity, request: &[u8], now: i64) -> Result<SyncResponse> {
        decode_response(&self.handle(&who.device, request, now)?)
    }

    fn case(&mut self, id: &str) -> Option<Case> {
        self.doc(id).and_then(|d| d.read().ok())
    }

    fn quarantined(&mut self) -> Vec<String> {
        self.quarantine()
            .iter()
            .map(|(_, r)| r.code.as_str().to_owned())
            .collect()
    }
}

/// A phone enrolled on a hub.
#[derive(Debug)]
pub struct Phone {
    pub who: Identity,
    pub replica: Replica,
}

impl Phone {
    pub fn enrol(hub: &mut impl Hub, user: &str, role: Role, scope: &str) -> Result<Phone> {
        let who = Identity::new(
            user,
            role,
            JurisdictionPath::parse(scope)?,
            None,
            format!("phone-{user}"),
        )?;
        let mut replica = Replica::open_in_memory(&KEY)?;
        hub.enrol(&who, replica.actor_id());
        replica.sign_in(who.clone())?;
        Ok(Phone { who, replica })
    }

    /// Syncs through the session driver until it is done.
    pub fn sync(&mut self, hub: &mut impl Hub) -> Result<SessionOutcome> {
        let who = self.who.clone();
        sync_cases(&mut self.replica, T0, |req: &SyncRequest| {
            hub.exchange(&who, &encode_request(req)?, T0)
        })
    }
}

/// A street-light request in `grid`.
pub fn report(title: &str, grid: &str) -> Result<NewCase> {
    Ok(NewCase {
        kind: CaseKind::Request,
        jurisdiction: JurisdictionPath::parse(grid)?,
        category: "street_light".into(),
        title: title.into(),
        description: "村口路灯不亮".into(),
        location: Location::default(),
        people: vec![],
    })
}

fn check(ok: bool, what: &str) -> Result<()> {
    match ok {
        true => Ok(()),
        false => Err(Error::InvalidInput {
            field: "scenario".into(),
            reason: what.into(),
        }),
    }
}

/// Every scenario, in order, each on a fresh hub from `fresh`.
pub fn run_all<H: Hub>(mut fresh: impl FnMut() -> H) -> Result<()> {
    push_lands_once_and_a_retry_changes_nothing(&mut fresh())?;
    pull_brings_colleagues_cases_within_scope_only(&mut fresh())?;
    a_pull_larger_than_a_page_arrives_whole_over_several_rounds(&mut fresh())?;
    refused_changes_are_quarantined_and_never_fed(&mut fresh())?;
    Ok(())
}

/// A push is stored in one round trip; the same request sent again (a lost answer) is
/// acknowledged again and stores nothing twice.
pub fn push_lands_once_and_a_retry_changes_nothing(hub: &mut impl Hub) -> Result<()> {
    let mut wang = Phone::enrol(hub, "wang", Role::GridWorker, GRID)?;
    let id = wang.replica.capture(&report("路灯不亮", GRID)?, T0)?;
    wang.replica
        .edit(&id, T0 + 1, |e| e.set_title("东街路灯不亮"))?;
    let request = encode_request(&wang.replica.next_sync_request()?)?;
    let first = hub.exchange(&wang.who, &request, T0)?;
    let again = hub.exchange(&wang.who, &request, T0)?;
    let acked = |r: &SyncResponse| r.accepted.iter().map(|a| a.hashes.len()).sum::<usize>();
    check(acked(&first) == 2, "both changes accepted")?;
    check(acked(&again) == 2, "a retry is acknowledged again")?;
    check(again.rejected.is_empty(), "a retry is not refused")?;
    let title = hub.case(&id).map(|c| c.title);
    check(
        title.as_deref() == Some("东街路灯不亮"),
        "the hub holds the edit",
    )?;
    // A colleague pulls each change once.
    let mut zhao = Phone::enrol(hub, "zhao", Role::Mediator, "130322/101/201")?;
    let out = zhao.sync(hub)?;
    check(out.pulled_changes == 2, "each change fed once")?;
    check(out.rounds == 1, "one round trip when everything fits")?;
    Ok(())
}

/// A colleague of the same village receives the cases; a worker of another village does not.
pub fn pull_brings_colleagues_cases_within_scope_only(hub: &mut impl Hub) -> Result<()> {
    let mut wang = Phone::enrol(hub, "wang", Role::GridWorker, GRID)?;
    let ids = [
        wang.replica.capture(&report("路灯不亮", GRID)?, T0)?,
        wang.replica.capture(&report("井盖缺失", GRID)?, T0)?,
    ];
    check(wang.sync(hub)?.accepted == 2, "pushed")?;
    let mut zhao = Phone::enrol(hub, "zhao", Role::Mediator, "130322/101/201")?;
    let mut sun = Phone::enrol(hub, "sun", Role::GridWorker, "130322/101/202/01")?;
    zhao.sync(hub)?;
    sun.sync(hub)?;
    let mut got = zhao.replica.case_ids()?;
    got.sort();
    let mut want = ids.to_vec();
    want.sort();
    check(got == want, "the village mediator has both cases")?;
    check(
        sun.replica.case_ids()?.is_empty(),
        "another village sees none",
    )?;
    // Her edit comes back to him.
    zhao.replica
        .edit(&ids[0], T0 + 2, |e| e.set_description("两盏路灯不亮"))?;
    zhao.sync(hub)?;
    let out = wang.sync(hub)?;
    check(
        out.updated_cases == vec![ids[0].clone()],
        "the edit is pulled",
    )?;
    let description = wang.replica.case(&ids[0])?.read()?.description;
    check(description == "两盏路灯不亮", "merged on the phone")
}

/// More than a page of changes waiting: the hub says "more" and the phone gets everything in
/// several rounds, nothing twice.
pub fn a_pull_larger_than_a_page_arrives_whole_over_several_rounds(
    hub: &mut impl Hub,
) -> Result<()> {
    let mut wang = Phone::enrol(hub, "wang", Role::GridWorker, GRID)?;
    // Descriptions of ~12 KiB each: 40 cases are about twice a pull page (256 KiB).
    let long: String = "村口路灯不亮，".repeat(600);
    for n in 0..40 {
        let mut case = report(&format!("路灯不亮 {n}"), GRID)?;
        case.description = format!("{n} {long}");
        wang.replica.capture(&case, T0)?;
    }
    let pushed = wang.sync(hub)?;
    check(pushed.accepted == 40, "all pushed")?;
    let mut zhao = Phone::enrol(hub, "zhao", Role::Mediator, "130322/101/201")?;
    let out = zhao.sync(hub)?;
    check(out.rounds > 1, "the pull was paged")?;
    check(!out.more, "and finished")?;
    check(out.pulled_changes == 40, "every change once")?;
    check(zhao.replica.case_ids()?.len() == 40, "every case")
}

/// A case written outside the writer's grid (the county moved her; her phone has not heard) is
/// refused, kept in quarantine, and never reaches anyone; the phone keeps it, marked refused.
pub fn refused_changes_are_quarantined_and_never_fed(hub: &mut impl Hub) -> Result<()> {
    const MOVED_TO: &str = "130322/101/201/02";
    let moved = Identity::new(
        "wang",
        Role::GridWorker,
        JurisdictionPath::parse(MOVED_TO)?,
        None,
        "phone-wang",
    )?;
    let mut replica = Replica::open_in_memory(&KEY)?;
    hub.enrol(&moved, replica.actor_id());
    replica.sign_in(Identity {
        scope: JurisdictionPath::parse(GRID)?,
        ..moved.clone()
    })?;
    let mut wang = Phone {
        who: moved,
        replica,
    };
    let outside = wang.replica.capture(&report("路灯不亮", GRID)?, T0)?;
    let out = wang.sync(hub)?;
    check(
        (out.accepted, out.rejected) == (0, 1),
        "the change is refused",
    )?;
    check(
        hub.quarantined() == vec!["out_of_scope".to_owned()],
        "the refused change is quarantined with its reason",
    )?;
    check(hub.case(&outside).is_none(), "not stored as a case")?;
    check(
        !wang.replica.rejections(&outside)?.is_empty(),
        "the phone keeps it, refused",
    )?;
    check(
        wang.replica.pending_count()? == 0,
        "and does not push it again",
    )?;
    let mut li = Phone::enrol(hub, "li", Role::GridWorker, MOVED_TO)?;
    let inside = li.replica.capture(&report("井盖缺失", MOVED_TO)?, T0)?;
    li.sync(hub)?;
    let mut sun = Phone::enrol(hub, "sun", Role::TownshipStaff, "130322/101")?;
    sun.sync(hub)?;
    check(
        sun.replica.case_ids()? == vec![inside],
        "the township sees only the accepted case",
    )
}
