//! [`duties`]: who held a case, from when to when, and how each of them did — derived from the
//! event log alone, so phone, server and an independent recount agree.

use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::case::Case;
use crate::vocab::Millis;
use crate::workflow::{CaseEvent, EventType, Rating, WorkflowState, fold};

/// What kind of unit is assessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 职能部门: lead (主办) and assisting (协办) dispatches.
    Department,
    /// 乡镇: the cases of its territory.
    Township,
    /// 村(社区): the cases of its territory.
    Village,
    /// 网格员: the cases a grid worker owned first (首问负责).
    Worker,
    /// 县级指挥中心: named by an accountability record, never ranked.
    County,
}

impl UnitKind {
    /// The kinds a report ranks.
    pub const ASSESSED: [UnitKind; 4] = [
        UnitKind::Department,
        UnitKind::Township,
        UnitKind::Village,
        UnitKind::Worker,
    ];
    pub const ALL: [UnitKind; 5] = [
        UnitKind::Department,
        UnitKind::Township,
        UnitKind::Village,
        UnitKind::Worker,
        UnitKind::County,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::Township => "township",
            UnitKind::Village => "village",
            UnitKind::Worker => "worker",
            UnitKind::County => "county",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            UnitKind::Department => "职能部门",
            UnitKind::Township => "乡镇",
            UnitKind::Village => "村(社区)",
            UnitKind::Worker => "网格员",
            UnitKind::County => "县级指挥中心",
        }
    }
}

/// One assessed unit: a department code, a township's or village's path (`county/township`),
/// or a grid worker's account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unit {
    pub kind: UnitKind,
    pub code: String,
}

/// One unit's hold on one case (承办): received when the case reached it, ended when it was
/// handed on or closed. A unit that gets a case back later holds it again: a second duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duty {
    pub unit: Unit,
    /// An assisting department's part (协办) rather than the lead (主办).
    pub assisting: bool,
    /// Who held it for the unit (signed for it, owned it), when known.
    pub person: Option<String>,
    pub received_at: Millis,
    /// By when it had to be signed for (签收; for a territory or a worker, first answered).
    pub sign_due: Option<Millis>,
    pub signed_at: Option<Millis>,
    /// The handling deadline: the running clock, or the one its latest resolution was judged by.
    pub due: Option<Millis>,
    /// Its latest resolution (or part reported) still standing.
    pub done_at: Option<Millis>,
    /// When the unit stopped holding it (handed on, returned, archived); `None` while it holds it.
    pub ended_at: Option<Millis>,
    /// Times the unit returned it (退回: 推诿).
    pub returned: u32,
    /// Times its resolution failed acceptance (reopened, or rated unsatisfied).
    pub reopened: u32,
    pub rated_by_requester: u32,
    pub satisfied_by_requester: u32,
    pub rated_by_staff: u32,
    pub satisfied_by_staff: u32,
    /// Return visits (回访) made after its resolution.
    pub return_visits: u32,
}

impl Duty {
    fn new(unit: Unit, received_at: Millis) -> Duty {
        Duty {
            unit,
            assisting: false,
            person: None,
            received_at,
            sign_due: None,
            signed_at: None,
            due: None,
            done_at: None,
            ended_at: None,
            returned: 0,
            reopened: 0,
            rated_by_requester: 0,
            satisfied_by_requester: 0,
            rated_by_staff: 0,
            satisfied_by_staff: 0,
            return_visits: 0,
        }
    }

    /// Signed for (or first answered) by its deadline.
    pub fn signed_on_time(&self) -> bool {
        self.signed_at
            .is_some_and(|s| self.sign_due.is_none_or(|d| s <= d))
    }

    /// Resolved (part reported) and standing, by its deadline.
    pub fn resolved_on_time(&self) -> bool {
        self.done_at
            .is_some_and(|t| self.due.is_none_or(|d| t <= d))
    }

    /// Missed a deadline as of `now`: signed late or never by its deadline, resolved late, or
    /// held past the deadline (still, or until handed on).
    pub fn overdue(&self, now: Millis) -> bool {
        let held_until = self.ended_at.unwrap_or(now);
        let sign_late = self
            .sign_due
            .is_some_and(|d| self.signed_at.unwrap_or(held_until) > d);
        let until = self.done_at.unwrap_or(held_until);
        let handle_late = self.due.is_some_and(|d| until > d);
        sign_late || handle_late
    }

    fn rate(&mut self, e: &CaseEvent) {
        let Some(rating) = e.rating else { return };
        let satisfied = u32::from(rating != Rating::Unsatisfied);
        if Rating::is_requesters(e.role) {
            self.rated_by_requester += 1;
            self.satisfied_by_requester += satisfied;
        } else {
            self.rated_by_staff += 1;
            self.satisfied_by_staff += satisfied;
        }
    }
}

/// Every duty on a case: its township and village (by its place), the grid workers who owned
/// it first, each lead department dispatch and each assisting part. Derived by replaying the
/// log through [`fold`], so only steps that took effect count.
pub fn duties(case: &Case) -> Vec<Duty> {
    // Patrols and household records are not matters anyone handles: nothing to assess.
    if case.kind.is_record() {
        return Vec::new();
    }
    let events = &case.events;
    let mut out: Vec<Duty> = Vec::new();
    // Open duties by index into `out`.
    let mut areas: Vec<usize> = Vec::new();
    let mut lead: Option<usize> = None;
    let mut worker: Option<usize> = None;
    let mut parts: Vec<usize> = Vec::new();
    let mut before = WorkflowState::default();
    for (i, e) in events.iter().enumerate() {
        let after = fold(&events[..=i]);
        let applied = after.version > before.version;
        if applied && e.kind == EventType::Reported {
            let place = &case.jurisdiction;
            for (kind, code) in [
                (UnitKind::Township, place.at_level(crate::Level::Township)),
                (UnitKind::Village, place.at_level(crate::Level::Village)),
            ] {
                if let Some(path) = code {
                    let mut d = Duty::new(
                        Unit {
                            kind,
                            code: path.to_string(),
                        },
                        e.at,
                    );
                    d.sign_due = after.due;
                    d.due = after.due;
                    areas.push(out.len());
                    out.push(d);
                }
            }
        }
        // Territories: first answer, then the case clock throughout.
        for &a in &areas {
            let d = &mut out[a];
            if d.signed_at.is_none() {
                d.signed_at = after.first_response_at;
            }
            // 退回 by township staff is the township's; a village's people cannot return.
            if applied
                && e.kind == EventType::Returned
                && e.role == Role::TownshipStaff
                && d.unit.kind == UnitKind::Township
            {
                d.returned += 1;
            }
            follow(d, e, &before, &after, applied, true);
        }
        // The grid worker who owns it first (首问负责): by reporting it, or by taking it on.
        let owner_changed = after.owner != before.owner;
        if let Some(w) = worker
            && owner_changed
        {
            out[w].ended_at = Some(e.at);
            worker = None;
        }
        if applied
            && owner_changed
            && e.role == Role::GridWorker
            && after.owner.as_deref() == Some(e.by.as_str())
        {
            let mut d = Duty::new(
                Unit {
                    kind: UnitKind::Worker,
                    code: e.by.clone(),
                },
                e.at,
            );
            d.person = Some(e.by.clone());
            if e.kind == EventType::Reported {
                d.sign_due = after.due;
            } else {
                d.sign_due = before.due;
                d.signed_at = Some(e.at);
            }
            d.due = after.due;
            worker = Some(out.len());
            out.push(d);
        } else if let Some(w) = worker {
            let d = &mut out[w];
            if d.signed_at.is_none() && after.first_response_at.is_some() {
                d.signed_at = after.first_response_at;
            }
            follow(d, e, &before, &after, applied, true);
        }
        // The lead department: each dispatch a duty of its own.
        let redispatched = applied && e.kind == EventType::Assigned;
        if let Some(l) = lead
            && (redispatched || after.department != before.department)
        {
            let d = &mut out[l];
            if applied && e.kind == EventType::Returned && e.role == Role::DepartmentHandler {
                d.returned += 1;
            }
            d.ended_at = Some(e.at);
            lead = None;
        }
        if redispatched && let Some(dept) = &after.department {
            let mut d = Duty::new(
                Unit {
                    kind: UnitKind::Department,
                    code: dept.clone(),
                },
                e.at,
            );
            d.sign_due = e.due;
            lead = Some(out.len());
            out.push(d);
        } else if let Some(l) = lead {
            let d = &mut out[l];
            let signs = applied
                && before.status == crate::Status::Assigned
                && matches!(e.kind, EventType::InProgress | EventType::Resolved);
            if signs && d.signed_at.is_none() {
                // Resolving at once signs for it too.
                d.signed_at = Some(e.at);
                d.person = Some(e.by.clone());
            }
            // Its handling clock starts when it signs; the sign-for clock is `sign_due`.
            let signed = d.signed_at.is_some();
            follow(d, e, &before, &after, applied, signed);
        }
        // Assisting parts: their own clocks, ended with their dispatch.
        parts.retain(|&p| {
            let d = &mut out[p];
            match after.part(&d.unit.code) {
                Some(now) => {
                    d.signed_at = now.signed_at;
                    if let Some(by) = &now.signed_by {
                        d.person = Some(by.clone());
                    }
                    if now.signed_at.is_some() && now.due.is_some() {
                        d.due = now.due;
                    }
                    if now.done_at.is_some() && d.done_at.is_none() {
                        d.done_at = now.done_at;
                        d.ended_at = now.done_at;
                    }
                    if d.done_at.is_some() {
                        after_done(d, e, applied);
                    }
                    true
                }
                None => {
                    d.ended_at.get_or_insert(e.at);
                    false
                }
            }
        });
        if e.kind == EventType::PartAssigned
            && let Some(dept) = e.department.as_deref()
            && before.part(dept).is_none()
            && let Some(p) = after.part(dept)
        {
            let mut d = Duty::new(
                Unit {
                    kind: UnitKind::Department,
                    code: dept.to_owned(),
                },
                e.at,
            );
            d.assisting = true;
            d.sign_due = p.due;
            parts.push(out.len());
            out.push(d);
        }
        if applied && e.kind == EventType::Archived {
            // Parts too: one never reported stops being held when the case closes.
            for &a in areas.iter().chain(&lead).chain(&worker).chain(&parts) {
                out[a].ended_at.get_or_insert(e.at);
            }
        }
        before = after;
    }
    out
}

/// A holder's handling: resolutions, failed acceptances, ratings and return visits.
fn follow(
    d: &mut Duty,
    e: &CaseEvent,
    before: &WorkflowState,
    after: &WorkflowState,
    applied: bool,
    on_the_clock: bool,
) {
    if !applied {
        if d.done_at.is_some() && e.kind == EventType::ReturnVisit {
            d.return_visits += 1;
        }
        return;
    }
    match e.kind {
        EventType::Resolved => {
            d.done_at = Some(e.at);
            if on_the_clock {
                d.due = before.due;
            }
        }
        EventType::Reopened => {
            d.reopened += 1;
            d.done_at = None;
            d.due = after.due;
        }
        // A resolution sent back (退回 from 办结) no longer stands: handled again.
        EventType::Returned if d.done_at.is_some() => {
            d.done_at = None;
            if on_the_clock {
                d.due = after.due;
            }
        }
        EventType::Evaluated => {
            if d.done_at.is_some() {
                d.rate(e);
            }
            if after.status.is_open() {
                // Rated unsatisfied: a failed acceptance, handled again on a new clock.
                d.reopened += 1;
                d.done_at = None;
                d.due = after.due;
            }
        }
        _ if on_the_clock && d.done_at.is_none() && after.due.is_some() => d.due = after.due,
        _ => {}
    }
}

/// After a part is reported: the case's ratings and return visits count for it too.
fn after_done(d: &mut Duty, e: &CaseEvent, applied: bool) {
    match e.kind {
        EventType::Evaluated if applied => d.rate(e),
        EventType::ReturnVisit => d.return_visits += 1,
        _ => {}
    }
}
