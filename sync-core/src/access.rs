//! Roles, the identity of whoever writes a change, and what each role may see and do.
//!
//! Deny by default: every check here answers "no" unless a rule says "yes". Each gate a role
//! passes is a named function here, so the core and the server ask the same question the same
//! way instead of comparing roles where they stand.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::jurisdiction::{JurisdictionPath, Level};
use crate::vocab::{CaseKind, Source};
use crate::{Error, Result};

/// What a user does in the case loop. Each role has one kind of scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员: one grid.
    GridWorker,
    /// 调解员: one village.
    Mediator,
    /// 乡镇综治中心: one township.
    TownshipStaff,
    /// 县级指挥中心: the county.
    CountyAdmin,
    /// 职能部门: the cases assigned to its department within a county.
    DepartmentHandler,
    /// The server's own actor (the supervision clock); never a person.
    System,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::GridWorker,
        Role::Mediator,
        Role::TownshipStaff,
        Role::CountyAdmin,
        Role::DepartmentHandler,
        Role::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::Mediator => "mediator",
            Role::TownshipStaff => "township_staff",
            Role::CountyAdmin => "county_admin",
            Role::DepartmentHandler => "department_handler",
            Role::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Role::GridWorker => "网格员",
            Role::Mediator => "调解员",
            Role::TownshipStaff => "乡镇工作人员",
            Role::CountyAdmin => "县级管理员",
            Role::DepartmentHandler => "部门承办人",
            Role::System => "系统",
        }
    }

    /// The level of the node a user of this role is scoped to.
    pub fn scope_level(self) -> Level {
        match self {
            Role::GridWorker => Level::Grid,
            Role::Mediator => Level::Village,
            Role::TownshipStaff => Level::Township,
            Role::CountyAdmin | Role::DepartmentHandler | Role::System => Level::County,
        }
    }

    /// Whether this role sees photos as taken, EXIF included (where the camera stood, which
    /// may be a mediator's or a reporter's home): the township and county centres that weigh
    /// evidence. Others get the same picture without its metadata.
    pub fn sees_photo_metadata(self) -> bool {
        matches!(self, Role::TownshipStaff | Role::CountyAdmin)
    }

    /// Whether this role moves a case to another place (corrects its jurisdiction): the
    /// township and county centres.
    pub fn moves_cases(self) -> bool {
        matches!(self, Role::TownshipStaff | Role::CountyAdmin)
    }

    /// Whether this role gets reports (statistics, patrol coverage, the dashboard). Figures are
    /// kept by jurisdiction, so departments get none.
    pub fn sees_reports(self) -> bool {
        matches!(
            self,
            Role::GridWorker | Role::Mediator | Role::TownshipStaff | Role::CountyAdmin
        )
    }

    /// Whether this role exports a case's verifiable record (its whole signed history, personal
    /// data included, for a dispute or an accountability hearing): the township and county
    /// centres, for cases whose personal data they read (ADR 0028).
    pub fn exports_evidence(self) -> bool {
        matches!(self, Role::TownshipStaff | Role::CountyAdmin)
    }

    /// Whether this role manages the county's devices and accounts (lists them, revokes a
    /// device): county admins only.
    pub fn manages_devices(self) -> bool {
        matches!(self, Role::CountyAdmin)
    }

    /// Whether this role sees the quarantine (refused changes, each device's share) and releases
    /// a refused change once its reason is fixed: county admins only, as it shows what other
    /// people wrote and puts it into a case on their behalf.
    pub fn manages_quarantine(self) -> bool {
        matches!(self, Role::CountyAdmin)
    }

    /// Whether this role changes the county's rules (catalogue, time limits, departments,
    /// calendar) and is warned when the calendar lacks a year: county admins only.
    pub fn manages_rules(self) -> bool {
        matches!(self, Role::CountyAdmin)
    }

    /// Whether this role registers residents' matters at the counter (登记) and sends them on
    /// (研判分流): the township and county centres.
    pub fn registers_matters(self) -> bool {
        matches!(self, Role::TownshipStaff | Role::CountyAdmin)
    }

    /// Whether this role sees assessment figures (考核): county admins all of them, township
    /// staff their township's, a department its own (`Identity::sees_figures_of_*`).
    pub fn sees_assessment(self) -> bool {
        matches!(
            self,
            Role::CountyAdmin | Role::TownshipStaff | Role::DepartmentHandler
        )
    }

    /// Whether this role sees accountability records and decides on them (通报, 约谈, 诫勉):
    /// county admins only.
    pub fn decides_accountability(self) -> bool {
        matches!(self, Role::CountyAdmin)
    }

    /// Whether this role sees the SMS outbox's delivery state (numbers masked, attempts, the
    /// gateway's errors): county admins only, who configured the gateway.
    pub fn sees_sms_delivery(self) -> bool {
        matches!(self, Role::CountyAdmin)
    }

    /// Whether this role sees and exports the read audit (查阅审计: who read which case's
    /// personal data, when, from where; ADR 0028): county admins only, as it shows every
    /// account's reads across the county.
    pub fn reads_audit(self) -> bool {
        matches!(self, Role::CountyAdmin)
    }

    /// Whether this role scores the departments that serve its township each month (基层评议):
    /// township staff.
    pub fn rates_departments(self) -> bool {
        matches!(self, Role::TownshipStaff)
    }

    /// Whether this role is held by a person: `System` is the server's own actor.
    pub fn is_person(self) -> bool {
        self != Role::System
    }

    /// The channel a case this role captures came in through, unless the writer names another
    /// (a clerk registering a walk-in, an intake channel).
    pub fn capture_source(self) -> Source {
        match self {
            Role::GridWorker => Source::GridWorker,
            Role::Mediator => Source::Mediator,
            _ => Source::Other,
        }
    }

    /// The level at which this role handles cases in the loop ("小事不出村、大事不出乡").
    /// Departments and the system do not own a level.
    pub fn handling_level(self) -> Option<Level> {
        match self {
            Role::GridWorker | Role::Mediator | Role::TownshipStaff | Role::CountyAdmin => {
                Some(self.scope_level())
            }
            Role::DepartmentHandler | Role::System => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is acting: the authenticated user, their role and scope, and the device they use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user: String,
    pub role: Role,
    pub scope: JurisdictionPath,
    /// The department code for department handlers.
    pub department: Option<String>,
    pub device: String,
}

impl Identity {
    /// Builds an identity, checking that the scope fits the role.
    pub fn new(
        user: impl Into<String>,
        role: Role,
        scope: JurisdictionPath,
        department: Option<String>,
        device: impl Into<String>,
    ) -> Result<Self> {
        let id = Identity {
            user: user.into(),
            role,
            scope,
            department,
            device: device.into(),
        };
        id.validate()?;
        Ok(id)
    }

    /// The invariants every identity must hold (checked again on anything read from disk).
    pub fn validate(&self) -> Result<()> {
        let field = |f: &str, reason: String| Error::InvalidInput {
            field: f.into(),
            reason,
        };
        if !valid_token(&self.user) {
            return Err(field("user", format!("bad user id {:?}", self.user)));
        }
        if !valid_token(&self.device) {
            return Err(field("device", format!("bad device id {:?}", self.device)));
        }
        if self.scope.level() != self.role.scope_level() {
            return Err(field(
                "scope",
                format!(
                    "a {} is scoped to a {}, not a {}",
                    self.role,
                    self.role.scope_level(),
                    self.scope.level()
                ),
            ));
        }
        match (&self.role, &self.department) {
            (Role::DepartmentHandler, Some(d)) if valid_token(d) => Ok(()),
            (Role::DepartmentHandler, _) => Err(field(
                "department",
                "a department handler needs a department".into(),
            )),
            (_, None) => Ok(()),
            (_, Some(_)) => Err(field(
                "department",
                "only department handlers have a department".into(),
            )),
        }
    }

    /// May this identity see a case of `kind` at `place`, currently with `departments` (the
    /// lead one and the assisting ones of a joint dispatch; none when not dispatched)?
    pub fn may_read(&self, kind: CaseKind, place: &JurisdictionPath, departments: &[&str]) -> bool {
        self.read_filter().admits(kind, place, departments)
    }

    /// The read rule as data, so a store can turn it into a query; [`Identity::may_read`] is
    /// this filter applied to one case.
    pub fn read_filter(&self) -> ReadFilter {
        let (hidden_kinds, department): (&'static [CaseKind], _) = match self.role {
            // Departments see only what is assigned to them (lead or assisting), and never key
            // persons.
            Role::DepartmentHandler => (
                &[CaseKind::KeyPersonVisit],
                Some(self.department.clone().unwrap_or_default()),
            ),
            // Key-person data is sensitive: mediators do not see it.
            Role::Mediator => (&[CaseKind::KeyPersonVisit], None),
            Role::GridWorker | Role::TownshipStaff | Role::CountyAdmin | Role::System => {
                (&[], None)
            }
        };
        ReadFilter {
            scope: self.scope.clone(),
            hidden_kinds,
            department,
        }
    }

    /// Whether this is the handler of `department` (the lead department a case is assigned to,
    /// or one part's).
    pub fn handles_department(&self, department: Option<&str>) -> bool {
        self.role == Role::DepartmentHandler
            && department.is_some()
            && department == self.department.as_deref()
    }

    /// Whether this identity reads a case's personal data (names, phone numbers) in clear: only
    /// those who handle it — the township and county centres, the grid worker on the spot, the
    /// department it is assigned to, the mediator of a dispute. Everyone else who may read the
    /// case sees it masked (`case::personal`).
    pub fn reads_personal_data(
        &self,
        kind: CaseKind,
        place: &JurisdictionPath,
        departments: &[&str],
    ) -> bool {
        if !self.may_read(kind, place, departments) {
            return false;
        }
        match self.role {
            Role::GridWorker | Role::TownshipStaff | Role::CountyAdmin | Role::System => true,
            Role::DepartmentHandler => departments.iter().any(|d| self.handles_department(Some(d))),
            Role::Mediator => kind == CaseKind::Dispute,
        }
    }

    /// May this identity see a department's assessment figures (and the cases behind them)? County
    /// admins any; a department only its own.
    pub fn sees_figures_of_department(&self, department: &str) -> bool {
        match self.role {
            Role::CountyAdmin => true,
            Role::DepartmentHandler => self.department.as_deref() == Some(department),
            _ => false,
        }
    }

    /// May this identity see the figures of a territory or grid worker for cases at `place` (and
    /// the cases behind them)? County admins any; township staff within their township.
    pub fn sees_figures_of_area(&self, place: &JurisdictionPath) -> bool {
        matches!(self.role, Role::CountyAdmin | Role::TownshipStaff) && place.is_within(&self.scope)
    }

    /// May this identity open a new case of `kind` at `place`?
    pub fn may_report(&self, kind: CaseKind, place: &JurisdictionPath) -> bool {
        let role_may = match self.role {
            Role::GridWorker | Role::TownshipStaff | Role::CountyAdmin => true,
            Role::Mediator => kind != CaseKind::KeyPersonVisit,
            // The server opens a case in an intake channel's name (12345, WeChat): a resident's
            // matter, never a record or a key person.
            Role::System => matches!(
                kind,
                CaseKind::Incident | CaseKind::Request | CaseKind::Dispute
            ),
            Role::DepartmentHandler => false,
        };
        role_may && place.is_within(&self.scope)
    }
}

/// Which cases an identity may read: those at or below `scope`, not of a hidden kind, and (for a
/// department) dispatched to `department`, as the lead or an assisting one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFilter {
    pub scope: JurisdictionPath,
    pub hidden_kinds: &'static [CaseKind],
    /// `Some`: only cases currently with this department (lead or assisting).
    pub department: Option<String>,
}

impl ReadFilter {
    pub fn admits(&self, kind: CaseKind, place: &JurisdictionPath, departments: &[&str]) -> bool {
        place.is_within(&self.scope)
            && !self.hidden_kinds.contains(&kind)
            && self
                .department
                .as_deref()
                .is_none_or(|d| !d.is_empty() && departments.contains(&d))
    }
}

/// User, device and department ids are ASCII tokens so they can travel in change metadata.
fn valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> JurisdictionPath {
        JurisdictionPath::parse(s).unwrap()
    }

    #[test]
    fn scope_must_fit_the_role() {
        assert!(Identity::new("w1", Role::GridWorker, path("1/2/3/4"), None, "d1").is_ok());
        assert!(Identity::new("w1", Role::GridWorker, path("1/2/3"), None, "d1").is_err());
        assert!(Identity::new("h1", Role::DepartmentHandler, path("1"), None, "d1").is_err());
        assert!(Identity::new("u;x", Role::CountyAdmin, path("1"), None, "d1").is_err());
    }

    #[test]
    fn mediators_do_not_see_key_persons_and_departments_see_only_their_cases() {
        let m = Identity::new("m1", Role::Mediator, path("1/2/3"), None, "d").unwrap();
        assert!(m.may_read(CaseKind::Dispute, &path("1/2/3/4"), &[]));
        assert!(!m.may_read(CaseKind::KeyPersonVisit, &path("1/2/3/4"), &[]));
        assert!(!m.may_read(CaseKind::Dispute, &path("1/2/9/4"), &[]));
        let h = water_handler();
        assert!(h.may_read(CaseKind::Request, &path("1/2/3/4"), &["water"]));
        assert!(!h.may_read(CaseKind::Request, &path("1/2/3/4"), &["housing"]));
        assert!(!h.may_read(CaseKind::Request, &path("1/2/3/4"), &[]));
        // An assisting part of a joint dispatch is enough.
        assert!(h.may_read(CaseKind::Request, &path("1/2/3/4"), &["housing", "water"]));
    }

    /// A handler of the water department, county-wide.
    fn water_handler() -> Identity {
        Identity::new(
            "h1",
            Role::DepartmentHandler,
            path("1"),
            Some("water".into()),
            "d",
        )
        .unwrap()
    }

    #[test]
    fn role_gates() {
        let h = water_handler();
        assert!(h.handles_department(Some("water")));
        assert!(!h.handles_department(Some("housing")) && !h.handles_department(None));
        let admin = Identity::new("a1", Role::CountyAdmin, path("1"), None, "d").unwrap();
        assert!(!admin.handles_department(Some("water")));
        assert!(!Role::DepartmentHandler.sees_reports() && !Role::System.sees_reports());
        assert!(Role::GridWorker.sees_reports() && Role::CountyAdmin.sees_reports());
        let admins: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.manages_devices())
            .collect();
        assert_eq!(admins, [Role::CountyAdmin]);
        let movers: Vec<Role> = Role::ALL.into_iter().filter(|r| r.moves_cases()).collect();
        assert_eq!(movers, [Role::TownshipStaff, Role::CountyAdmin]);
        assert!(!Role::System.is_person() && Role::DepartmentHandler.is_person());
    }

    #[test]
    fn assessment_figures_by_role_and_jurisdiction() {
        let h = water_handler();
        assert!(h.sees_figures_of_department("water"));
        assert!(!h.sees_figures_of_department("housing"));
        assert!(!h.sees_figures_of_area(&path("1/2")));
        let t = Identity::new("t1", Role::TownshipStaff, path("1/2"), None, "d").unwrap();
        assert!(t.sees_figures_of_area(&path("1/2/3/4")));
        assert!(!t.sees_figures_of_area(&path("1/9")));
        assert!(!t.sees_figures_of_department("water"));
        let a = Identity::new("a1", Role::CountyAdmin, path("1"), None, "d").unwrap();
        assert!(a.sees_figures_of_department("water") && a.sees_figures_of_area(&path("1/9")));
        let w = Identity::new("w1", Role::GridWorker, path("1/2/3/4"), None, "d").unwrap();
        assert!(!w.sees_figures_of_area(&path("1/2/3/4")) && !w.role.sees_assessment());
        let deciders: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.decides_accountability())
            .collect();
        assert_eq!(deciders, [Role::CountyAdmin]);
        let auditors: Vec<Role> = Role::ALL.into_iter().filter(|r| r.reads_audit()).collect();
        assert_eq!(auditors, [Role::CountyAdmin]);
    }

    #[test]
    fn personal_data_in_clear_only_for_those_who_handle_the_case() {
        let place = path("1/2/3/4");
        let m = Identity::new("m1", Role::Mediator, path("1/2/3"), None, "d").unwrap();
        assert!(m.may_read(CaseKind::Request, &place, &[]));
        assert!(!m.reads_personal_data(CaseKind::Request, &place, &[]));
        assert!(m.reads_personal_data(CaseKind::Dispute, &place, &[]));
        let h = water_handler();
        assert!(h.reads_personal_data(CaseKind::Request, &place, &["water"]));
        assert!(h.reads_personal_data(CaseKind::Request, &place, &["housing", "water"]));
        assert!(!h.reads_personal_data(CaseKind::Request, &place, &["housing"]));
        let w = Identity::new("w1", Role::GridWorker, path("1/2/3/4"), None, "d").unwrap();
        assert!(w.reads_personal_data(CaseKind::Request, &place, &[]));
        assert!(!w.reads_personal_data(CaseKind::Request, &path("1/2/3/5"), &[]));
    }
}
