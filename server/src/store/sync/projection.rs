//! The case projection: a case's row of `cases`, its attachment references, its units' duties
//! and the accountability records its log raises, derived from its document only (and, for the
//! records, the triggers of the rules in force).

use gridsync_core::assessment::{self, Duty};
use gridsync_core::case::{Case, CaseDoc};
use gridsync_core::rules::Rules;
use gridsync_core::workflow::{self, WorkflowState};
use sqlx::{Any, Transaction};

use super::placeholders;
use crate::store::Raised;
use crate::store::assessment::{record_notices, write_duties, write_findings};
use crate::store::{Backend, Result};

/// Writes the case's row of the projection, derived from its document only.
pub(in crate::store) async fn project(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    doc: &CaseDoc,
    seq: i64,
    updated_at: i64,
    rules: &Rules,
) -> Result<()> {
    Projection::of(doc, doc.read()?)?
        .write(tx, id, seq, updated_at, rules)
        .await
}

/// A case's row of the projection (and its attachment references and duties), computed from its
/// document.
#[derive(Debug)]
pub(super) struct Projection {
    case: Case,
    workflow: WorkflowState,
    field_conflicts: i64,
    /// Computed with the rest before the feed lock (it replays the log): the lock only writes.
    duties: Vec<Duty>,
}

impl Projection {
    pub(super) fn of(doc: &CaseDoc, case: Case) -> Result<Projection> {
        Ok(Projection {
            workflow: workflow::fold(&case.events),
            field_conflicts: doc.conflicts().len() as i64,
            duties: assessment::duties(&case),
            case,
        })
    }

    pub(super) fn case_and_workflow(&self) -> (&Case, &WorkflowState) {
        (&self.case, &self.workflow)
    }

    async fn write(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
        seq: i64,
        updated_at: i64,
        rules: &Rules,
    ) -> Result<()> {
        self.write_blobs(tx, id).await?;
        // A rebuild of the projection tells nobody anything: its notices are not written.
        Projection::write_all(tx, [(id, seq, self)], updated_at, rules).await?;
        Ok(())
    }

    /// The projection rows of several cases, one statement (at most
    /// [`DOC_ROWS_PER_STATEMENT`](super::DOC_ROWS_PER_STATEMENT)), then their duties and the
    /// accountability records their logs raise under `rules` as of `updated_at` (a few
    /// statements for the whole batch). Returns the notices of the records that are new.
    pub(super) async fn write_all<'p>(
        tx: &mut Transaction<'static, Any>,
        rows: impl IntoIterator<Item = (&'p str, i64, &'p Projection)>,
        updated_at: i64,
        rules: &Rules,
    ) -> Result<Vec<Raised>> {
        let rows: Vec<(&str, i64, &Projection)> = rows.into_iter().collect();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        Projection::write_rows(tx, &rows, updated_at).await?;
        write_duties(
            tx,
            rows.iter()
                .map(|(id, _, p)| (*id, p.duties.as_slice()))
                .collect(),
        )
        .await?;
        let triggers = &rules.assessment().triggers;
        let found: Vec<(&str, assessment::Finding)> = rows
            .iter()
            .flat_map(|(id, _, p)| {
                assessment::findings(&p.case, triggers, rules.calendar(), updated_at)
                    .into_iter()
                    .map(move |f| (*id, f))
            })
            .collect();
        let new = write_findings(tx, &found).await?;
        Ok(record_notices(rows.iter().map(|(_, _, p)| &p.case), &new))
    }

    /// The `cases` rows, one statement.
    async fn write_rows(
        tx: &mut Transaction<'static, Any>,
        rows: &[(&str, i64, &Projection)],
        updated_at: i64,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO cases (id, kind, category, title, status, level, path, county, township, village, grid,
                 department, departments, parts_due_at, reporter, created_at, updated_at, field_conflicts, workflow_conflicts, reopen_count,
                 accountability, supervision_count, rating, last_seq, due_at, clock_started_at, supervised_level,
                 accepted_at, resolved_at, resolved_on_time, resolved_level, mediation_result, referral,
                 source, first_response_at, replied, rating_by_requester, return_visits)
             VALUES {}
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, category = excluded.category, title = excluded.title,
                 status = excluded.status, level = excluded.level, path = excluded.path, county = excluded.county,
                 township = excluded.township, village = excluded.village, grid = excluded.grid,
                 department = excluded.department, departments = excluded.departments,
                 parts_due_at = excluded.parts_due_at, updated_at = excluded.updated_at,
                 field_conflicts = excluded.field_conflicts, workflow_conflicts = excluded.workflow_conflicts,
                 reopen_count = excluded.reopen_count, accountability = excluded.accountability,
                 supervision_count = excluded.supervision_count, rating = excluded.rating, last_seq = excluded.last_seq,
                 due_at = excluded.due_at, clock_started_at = excluded.clock_started_at,
                 supervised_level = excluded.supervised_level, accepted_at = excluded.accepted_at,
                 resolved_at = excluded.resolved_at, resolved_on_time = excluded.resolved_on_time,
                 resolved_level = excluded.resolved_level, mediation_result = excluded.mediation_result,
                 referral = excluded.referral, source = excluded.source,
                 first_response_at = excluded.first_response_at, replied = excluded.replied,
                 rating_by_requester = excluded.rating_by_requester, return_visits = excluded.return_visits",
            placeholders(Backend::of(tx), rows.len(), 38)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &(id, seq, p) in rows {
            let (case, wf, field_conflicts) = (&p.case, &p.workflow, p.field_conflicts);
            let j = &case.jurisdiction;
            let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            query = query
                .bind(id.to_owned())
                .bind(case.kind.as_str())
                .bind(case.category.clone())
                .bind(case.title.clone())
                .bind(wf.status.as_str())
                .bind(wf.level.as_str())
                .bind(j.to_string())
                .bind(j.county().to_owned())
                .bind(j.township().map(str::to_owned))
                .bind(j.village().map(str::to_owned))
                .bind(j.grid().map(str::to_owned))
                .bind(wf.department.clone())
                .bind(departments(wf))
                .bind(workflow::parts_due(wf))
                .bind(case.reporter.user.clone())
                .bind(case.created_at)
                .bind(updated_at)
                .bind(field_conflicts)
                .bind(i64::try_from(wf.conflicts.len()).unwrap_or(i64::MAX))
                .bind(i64::from(wf.reopen_count))
                .bind(i64::from(wf.accountability))
                .bind(i64::from(wf.supervision_count))
                .bind(wf.rating.map(|r| r.as_str().to_owned()))
                .bind(seq)
                .bind(wf.due)
                .bind(wf.clock_started)
                .bind(wf.supervised_level.map(|l| l.as_str().to_owned()))
                .bind(wf.accepted_at)
                .bind(wf.resolved_at)
                .bind(wf.resolved_on_time.map(i64::from))
                .bind(wf.resolved_level.map(|l| l.as_str().to_owned()))
                .bind(nonempty(&case.mediation.result))
                .bind(nonempty(&case.mediation.referral))
                .bind(case.source.as_str())
                .bind(wf.first_response_at)
                .bind(i64::from(
                    wf.reply.as_deref().is_some_and(|r| !r.trim().is_empty()),
                ))
                .bind(i64::from(wf.rating_by_requester))
                .bind(i64::from(wf.return_visits));
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }

    /// The case's attachment references.
    pub(super) async fn write_blobs(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
    ) -> Result<()> {
        let case = &self.case;
        // Attachments only grow (a list in the document): the references are added, never removed.
        for a in &case.attachments {
            sqlx::query(
                "INSERT INTO case_blobs (case_id, sha256) VALUES ($1, $2) ON CONFLICT (case_id, sha256) DO NOTHING",
            )
            .bind(id)
            .bind(&a.sha256)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

/// Every department the case is with, " lead a b ": spaces around each, so a department's read
/// filter is one `LIKE '% code %'`. A code with a space in it could never be a handler's
/// (account departments are tokens) and would spoil the list, so it is left out.
fn departments(wf: &WorkflowState) -> String {
    let codes: Vec<&str> = wf
        .departments()
        .into_iter()
        .filter(|d| !d.is_empty() && !d.contains(char::is_whitespace))
        .collect();
    match codes.is_empty() {
        true => String::new(),
        false => format!(" {} ", codes.join(" ")),
    }
}
