//! The supervision clock (督办): finds cases past their deadline at their level and appends a
//! `supervised` event one level up (grid → village → township → county), as the server's own
//! actor, so
//! the event reaches the phones on their next sync. Each decision is taken inside the feed lock
//! on the stored document, so repeated runs, and several servers on one database, never
//! supervise the same lateness twice.

use std::time::Duration;

use gridsync_core::workflow::{EventDraft, supervision_due};
use gridsync_core::{Identity, JurisdictionPath, Role, Status};

use crate::store::{DeviceContext, Result, SERVER_DEVICE, Store, StoreError};

/// The account name the server's own events carry.
pub const SYSTEM_USER: &str = "system";

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Late cases looked at.
    pub late: usize,
    /// `supervised` events written.
    pub supervised: usize,
}

#[derive(Debug)]
pub struct Supervisor {
    store: Store,
    device: DeviceContext,
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
            let who = Identity::new(
                SYSTEM_USER,
                Role::System,
                JurisdictionPath::parse(&county)?,
                None,
                SERVER_DEVICE,
            )?;
            let wrote = self
                .store
                .write_case(&self.device, &who, &id, &live.admission, now, |doc| {
                    let wf = doc.workflow()?;
                    let Some(level) = supervision_due(&wf, now) else {
                        return Ok(None);
                    };
                    let late = match wf.status {
                        Status::Reported | Status::Returned => "超时未受理",
                        Status::Assigned => "超时未签收",
                        _ => "超过时限未办结",
                    };
                    let note = format!("{late}，{}督办", level.name_zh());
                    doc.edit(&who, now, |e| {
                        e.append_event_with(EventDraft::supervise(level).note(note), &deadlines)
                            .map(|_| ())
                    })
                })
                .await;
            match wrote {
                Ok(true) => pass.supervised += 1,
                Ok(false) => {}
                // One broken case must not stop the clock for the others; it stays visible.
                Err(StoreError::Refused { code, .. }) => {
                    tracing::warn!(case = %id, code, "supervision refused");
                }
                Err(e) => return Err(e),
            }
        }
        if pass.supervised > 0 {
            tracing::info!(
                late = pass.late,
                supervised = pass.supervised,
                "supervision pass"
            );
        }
        Ok(pass)
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
