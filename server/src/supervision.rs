//! The supervision clock (督办): finds cases past their deadline at their level and appends a
//! `supervised` event one level up (grid → village → township → county), as the server's own
//! actor, so the event reaches the phones on their next sync. An assisting department's part
//! (协办) late on its own clock is supervised for that department alone. Each decision is taken
//! inside the feed lock on the stored document, so repeated runs, and several servers on one
//! database, never supervise the same lateness twice.
//!
//! After the supervisions the pass raises the accountability records that only time raises
//! (still not done N working days after the county supervised); the projection raises the others
//! as the cases change. Records are keyed, so no pass raises one twice.

use std::time::Duration;

use gridsync_core::assessment::{self, Trigger};
use gridsync_core::notice;
use gridsync_core::rules::Rules;
use gridsync_core::workflow::{EventDraft, WorkflowState, part_supervision_due, supervision_due};
use gridsync_core::{Identity, JurisdictionPath, Role, Status};

use crate::store::{DeviceContext, Raised, Result, SERVER_DEVICE, Store, StoreError};

/// The account name the server's own events carry.
pub const SYSTEM_USER: &str = "system";

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Late cases looked at.
    pub late: usize,
    /// `supervised` events written (the case's own and its parts').
    pub supervised: usize,
    /// Reminder notices written (signing or deadline near, overdue).
    pub reminded: usize,
    /// Archived cases whose personal data was erased, their retention period past (ADR 0029).
    pub erased: usize,
}

/// How far back a pass still owes an overdue reminder: a pass missed for a while (a server
/// down over a weekend) still reminds, while cases long overdue are not read at every pass.
const REMIND_OVERDUE_WITHIN_MS: i64 = 3 * 24 * 3_600_000;

#[derive(Debug)]
pub struct Supervisor {
    store: Store,
    device: DeviceContext,
}

/// The supervisions due on a case now: the case's own, then each late part's.
fn drafts(wf: &WorkflowState, rules: &Rules, now: i64) -> Vec<EventDraft> {
    let mut out = Vec::new();
    if let Some(level) = supervision_due(wf, now) {
        let late = match wf.status {
            Status::Reported | Status::Returned => "超时未受理",
            Status::Assigned => "超时未签收",
            _ => "超过时限未办结",
        };
        out.push(EventDraft::supervise(level).note(format!("{late}，{}督办", level.name_zh())));
    }
    for (dept, level) in part_supervision_due(wf, now) {
        let name = rules
            .taxonomy()
            .department(dept)
            .map_or(dept, |d| d.name_zh.as_str());
        let late = match wf.part(dept).is_some_and(|p| p.signed_at.is_some()) {
            true => "超时未反馈",
            false => "超时未签收",
        };
        out.push(
            EventDraft::supervise_part(level, dept)
                .note(format!("协办部门{name}{late}，{}督办", level.name_zh())),
        );
    }
    out
}

impl Supervisor {
    /// Registers this process's server actor on the store.
    pub async fn new(store: Store, now: i64) -> Result<Supervisor> {
        let device = store.server_device(now).await?;
        Ok(Supervisor::with_device(store, device))
    }

    /// A supervisor writing from a server device registered already (shared with the console).
    pub fn with_device(store: Store, device: DeviceContext) -> Supervisor {
        Supervisor { store, device }
    }

    /// One pass over the late cases, as of `now`.
    pub async fn run_once(&self, now: i64) -> Result<Pass> {
        let late = self.store.late_cases(now).await?;
        let mut pass = Pass::default();
        // The rules in force now: a supervision is a step taken now (ADR 0020).
        let live = self.store.rules().await?;
        let deadlines = live.rules.deadlines();
        for (id, county) in late {
            pass.late += 1;
            // A part the county supervised stays late until it is done: judged on the stored
            // document first, so the feed lock is taken only when something is due.
            let Some(stored) = self.store.case_doc(&id).await? else {
                continue;
            };
            if drafts(&stored.workflow()?, &live.rules, now).is_empty() {
                continue;
            }
            let who = Identity::new(
                SYSTEM_USER,
                Role::System,
                JurisdictionPath::parse(&county)?,
                None,
                SERVER_DEVICE,
            )?;
            let mut written = 0;
            let wrote = self
                .store
                .write_case(&self.device, &who, &id, &live.admission, now, |doc| {
                    let due = drafts(&doc.workflow()?, &live.rules, now);
                    if due.is_empty() {
                        return Ok(None);
                    }
                    written = due.len();
                    doc.edit(&who, now, |e| {
                        due.into_iter()
                            .try_for_each(|d| e.append_event_with(d, &deadlines).map(|_| ()))
                    })
                })
                .await;
            match wrote {
                Ok(true) => pass.supervised += written,
                Ok(false) => {}
                // One broken case must not stop the clock for the others; it stays visible.
                Err(StoreError::Refused { code, .. }) => {
                    tracing::warn!(case = %id, code, "supervision refused");
                }
                Err(e) => return Err(e),
            }
        }
        let raised = self.raise_overdue_after_county(&live.rules, now).await?;
        pass.reminded = self.remind(now).await?;
        pass.erased = self.store.erase_expired(&live.rules, now).await?;
        if pass.supervised > 0 || raised > 0 || pass.reminded > 0 || pass.erased > 0 {
            tracing::info!(
                late = pass.late,
                supervised = pass.supervised,
                raised,
                reminded = pass.reminded,
                erased = pass.erased,
                "supervision pass"
            );
        }
        Ok(pass)
    }

    /// Reminds the holders of cases (and parts) whose deadline is near or just passed. Notices
    /// are keyed by case, kind and deadline, so a reminder already written is not written again.
    async fn remind(&self, now: i64) -> Result<usize> {
        let ids = self
            .store
            .cases_due_between(now - REMIND_OVERDUE_WITHIN_MS, now + notice::DUE_WARNING_MS)
            .await?;
        let mut raised = Vec::new();
        for id in ids {
            let Some(doc) = self.store.case_doc(&id).await? else {
                continue;
            };
            let case = doc.read()?;
            let state = doc.workflow()?;
            raised.extend(
                notice::on_clock(&case, &state, now)
                    .into_iter()
                    .map(|d| Raised::of(&case, d)),
            );
        }
        self.store.raise_notices(&raised, now).await
    }

    /// Records the open cases still not done N working days after the county supervised them
    /// (a finding that only the passing of time raises); returns how many records are new.
    async fn raise_overdue_after_county(&self, rules: &Rules, now: i64) -> Result<u64> {
        let triggers = &rules.assessment().triggers;
        if triggers.overdue_after_county_days == 0 {
            return Ok(0);
        }
        let mut found = Vec::new();
        for id in self.store.county_supervised_cases(now).await? {
            let Some(doc) = self.store.case_doc(&id).await? else {
                continue;
            };
            let case = doc.read()?;
            found.extend(
                assessment::findings(&case, triggers, rules.calendar(), now)
                    .into_iter()
                    .filter(|f| f.trigger == Trigger::OverdueAfterCounty)
                    .map(|f| (case.clone(), f)),
            );
        }
        self.store.raise_findings(&found, now).await
    }

    /// Runs a pass every `every` until the process ends; a failed pass is logged and retried.
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.run_once(crate::now_ms()).await {
                    tracing::warn!(error = %e, "supervision pass failed");
                }
            }
        })
    }
}
