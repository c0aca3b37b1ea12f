//! The assessment side of the store (issue 23): the units' duties kept by the projection, the
//! townships' monthly scores of departments, and the accountability records with the county's
//! decisions.

use gridsync_core::assessment::{
    Decision, Duty, Finding, Period, TownshipRating, Trigger, Unit, UnitKind,
};
use gridsync_core::case::Case;
use gridsync_core::notice;
use gridsync_core::{Identity, JurisdictionPath, Level, Status};
use sqlx::{Any, Row, Transaction};

use super::notices::{Raised, write_notices};
use super::sync::placeholders;
use super::{Backend, Result, Store, StoreError};

/// One duty with what a list shows of its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyRow {
    pub case_id: String,
    pub place: JurisdictionPath,
    pub title: String,
    pub status: Status,
    pub duty: Duty,
}

/// A township's score of a department for a month, as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentRatingRow {
    /// "2026-11"
    pub month: String,
    /// The township's path ("130322/101").
    pub township: String,
    pub department: String,
    pub score: u8,
    pub comment: String,
    pub by: String,
    pub at: i64,
}

/// Which accountability records to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountabilityFilter {
    /// `Some(false)`: waiting for the county's decision; `Some(true)`: decided.
    pub decided: Option<bool>,
    pub case_id: Option<String>,
}

/// One accountability record (问责记录) and the county's decision on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountabilityRecord {
    pub id: String,
    pub case_id: String,
    pub trigger: Trigger,
    pub unit: Unit,
    pub person: Option<String>,
    /// The events that prove it, in log order.
    pub events: Vec<String>,
    pub raised_at: i64,
    pub decision: Option<Decision>,
    pub note: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// Longest comment on a township's score, in characters.
pub const RATING_COMMENT_CHARS: usize = 500;
/// Longest note on a decision, in characters.
pub const DECISION_NOTE_CHARS: usize = 2000;

/// Duty rows per statement: 19 values each, well within both backends' parameter limits.
const DUTY_ROWS_PER_STATEMENT: usize = 500;
const FINDING_ROWS_PER_STATEMENT: usize = 200;
const DUTY_COLUMNS: &str =
    "case_id, seq, unit_kind, unit, assisting, person, received_at, sign_due,
     signed_at, due, done_at, ended_at, returned, reopened, rated_by_requester,
     satisfied_by_requester, rated_by_staff, satisfied_by_staff, return_visits";
const RECORD_COLUMNS: &str =
    "id, case_id, trigger_kind, unit_kind, unit, person, events, raised_at,
     decision, note, decided_by, decided_at";

/// Replaces the duties of the cases of a batch with those their documents give now: one delete
/// and a few multi-row inserts for the whole batch.
pub(in crate::store) async fn write_duties(
    tx: &mut Transaction<'static, Any>,
    cases: Vec<(&str, &[Duty])>,
) -> Result<()> {
    if cases.is_empty() {
        return Ok(());
    }
    let backend = Backend::of(tx);
    let sql = format!(
        "DELETE FROM duties WHERE case_id IN {}",
        placeholders(backend, 1, cases.len())
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (id, _) in &cases {
        query = query.bind(*id);
    }
    query.execute(&mut **tx).await?;
    let rows: Vec<(&str, i64, &Duty)> = cases
        .iter()
        .flat_map(|(id, duties)| duties.iter().zip(0i64..).map(move |(d, seq)| (*id, seq, d)))
        .collect();
    for chunk in rows.chunks(DUTY_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO duties ({DUTY_COLUMNS}) VALUES {}",
            placeholders(backend, chunk.len(), 19)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &(id, seq, d) in chunk {
            query = query
                .bind(id)
                .bind(seq)
                .bind(d.unit.kind.as_str())
                .bind(d.unit.code.as_str())
                .bind(i64::from(d.assisting))
                .bind(d.person.as_deref())
                .bind(d.received_at)
                .bind(d.sign_due)
                .bind(d.signed_at)
                .bind(d.due)
                .bind(d.done_at)
                .bind(d.ended_at)
                .bind(i64::from(d.returned))
                .bind(i64::from(d.reopened))
                .bind(i64::from(d.rated_by_requester))
                .bind(i64::from(d.satisfied_by_requester))
                .bind(i64::from(d.rated_by_staff))
                .bind(i64::from(d.satisfied_by_staff))
                .bind(i64::from(d.return_visits));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The record key of a finding of case `case_id`: the same situation found again is the same
/// record (the finding's own key names its trigger, unit and last proving event).
fn record_key(case_id: &str, f: &Finding) -> String {
    format!("{case_id}:{}", f.key())
}

/// Records findings not recorded yet (keyed, so every pass may find them again); returns how
/// many were new.
pub(in crate::store) async fn write_findings(
    tx: &mut Transaction<'static, Any>,
    found: &[(&str, Finding)],
) -> Result<Vec<NewRecord>> {
    let mut keyed: Vec<(String, &str, &Finding)> = found
        .iter()
        .map(|(id, f)| (record_key(id, f), *id, f))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    let mut new = Vec::new();
    for chunk in keyed.chunks(FINDING_ROWS_PER_STATEMENT) {
        // Which are new decides who hears of them (ADR 0027): asked first, under the feed lock.
        let mut ask = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT record_key FROM accountability WHERE record_key IN {}",
            placeholders(Backend::of(tx), 1, chunk.len())
        )));
        for (k, _, _) in chunk {
            ask = ask.bind(k.as_str());
        }
        let known: std::collections::HashSet<String> = ask
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        let sql = format!(
            "INSERT INTO accountability (id, case_id, record_key, trigger_kind, unit_kind, unit, person,
                 events, raised_at)
             VALUES {}
             ON CONFLICT (record_key) DO NOTHING",
            placeholders(Backend::of(tx), chunk.len(), 9)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (key, id, f) in chunk {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(*id)
                .bind(key.as_str())
                .bind(f.trigger.as_str())
                .bind(f.unit.kind.as_str())
                .bind(f.unit.code.as_str())
                .bind(f.person.as_deref())
                .bind(f.events.join(" "))
                .bind(f.at);
        }
        query.execute(&mut **tx).await?;
        new.extend(
            chunk
                .iter()
                .filter(|(k, _, _)| !known.contains(k))
                .map(|(k, id, f)| NewRecord {
                    case_id: (*id).to_owned(),
                    record_key: k.clone(),
                    person: f.person.clone(),
                }),
        );
    }
    Ok(new)
}

/// The notices of new accountability records, on the cases among `cases`.
pub(in crate::store) fn record_notices<'c>(
    cases: impl Iterator<Item = &'c Case>,
    new: &[NewRecord],
) -> Vec<Raised> {
    let by_id: std::collections::HashMap<&str, &Case> = cases.map(|c| (c.id.as_str(), c)).collect();
    new.iter()
        .filter_map(|r| by_id.get(r.case_id.as_str()).map(|c| (c, r)))
        .flat_map(|(c, r)| {
            notice::on_record(c, &r.record_key, r.person.as_deref())
                .into_iter()
                .map(|d| Raised::of(c, d))
        })
        .collect()
}

/// An accountability record this transaction raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::store) struct NewRecord {
    pub(in crate::store) case_id: String,
    pub(in crate::store) record_key: String,
    pub(in crate::store) person: Option<String>,
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn invalid(field: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Core(gridsync_core::Error::InvalidInput {
        field: field.into(),
        reason: reason.into(),
    })
}

fn count(r: &sqlx::any::AnyRow, i: usize) -> Result<u32> {
    Ok(u32::try_from(r.try_get::<i64, _>(i)?).unwrap_or(0))
}

fn unit_kind(s: &str) -> Result<UnitKind> {
    UnitKind::parse(s).ok_or_else(|| corrupt("unit kind", s))
}

/// A duty row: case_id, path, title, status (0–3), then the `DUTY_COLUMNS` after case_id and seq.
fn duty_row(r: &sqlx::any::AnyRow) -> Result<DutyRow> {
    let status: String = r.try_get(3)?;
    Ok(DutyRow {
        case_id: r.try_get(0)?,
        place: JurisdictionPath::parse(&r.try_get::<String, _>(1)?)?,
        title: r.try_get(2)?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        duty: Duty {
            unit: Unit {
                kind: unit_kind(&r.try_get::<String, _>(4)?)?,
                code: r.try_get(5)?,
            },
            assisting: r.try_get::<i64, _>(6)? != 0,
            person: r.try_get(7)?,
            received_at: r.try_get(8)?,
            sign_due: r.try_get(9)?,
            signed_at: r.try_get(10)?,
            due: r.try_get(11)?,
            done_at: r.try_get(12)?,
            ended_at: r.try_get(13)?,
            returned: count(r, 14)?,
            reopened: count(r, 15)?,
            rated_by_requester: count(r, 16)?,
            satisfied_by_requester: count(r, 17)?,
            rated_by_staff: count(r, 18)?,
            satisfied_by_staff: count(r, 19)?,
            return_visits: count(r, 20)?,
        },
    })
}

fn record_row(r: &sqlx::any::AnyRow) -> Result<AccountabilityRecord> {
    let trigger: String = r.try_get(2)?;
    let decision: Option<String> = r.try_get(8)?;
    Ok(AccountabilityRecord {
        id: r.try_get(0)?,
        case_id: r.try_get(1)?,
        trigger: Trigger::parse(&trigger).ok_or_else(|| corrupt("trigger", &trigger))?,
        unit: Unit {
            kind: unit_kind(&r.try_get::<String, _>(3)?)?,
            code: r.try_get(4)?,
        },
        person: r.try_get(5)?,
        events: r
            .try_get::<String, _>(6)?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        raised_at: r.try_get(7)?,
        decision: decision
            .map(|d| Decision::parse(&d).ok_or_else(|| corrupt("decision", &d)))
            .transpose()?,
        note: r.try_get(9)?,
        decided_by: r.try_get(10)?,
        decided_at: r.try_get(11)?,
    })
}

/// "2026-11" as (year, month), or `None`.
fn parse_month(month: &str) -> Option<(i32, u32)> {
    let (y, m) = month.split_once('-')?;
    let valid =
        y.len() == 4 && m.len() == 2 && (y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit());
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    (valid && (1..=12).contains(&m)).then_some((y, m))
}

/// A calendar month ("2026-11") as a period on `calendar`: from the local midnight of its first
/// day to that of the next month's.
pub fn calendar_month(calendar: &gridsync_core::calendar::Calendar, month: &str) -> Option<Period> {
    let (y, m) = parse_month(month)?;
    let (ny, nm) = match m {
        12 => (y + 1, 1),
        _ => (y, m + 1),
    };
    Some(Period {
        from: calendar.local_midnight(&format!("{y:04}-{m:02}-01"))?,
        to: calendar.local_midnight(&format!("{ny:04}-{nm:02}-01"))?,
    })
}

impl Store {
    /// Records the findings of cases (id, finding) not recorded yet; returns how many were new.
    pub(crate) async fn raise_findings(&self, found: &[(Case, Finding)], now: i64) -> Result<u64> {
        if found.is_empty() {
            return Ok(0);
        }
        let keyed: Vec<(&str, Finding)> = found
            .iter()
            .map(|(c, f)| (c.id.as_str(), f.clone()))
            .collect();
        let mut tx = self.begin_write().await?;
        // The feed lock: the records' notices are numbered in commit order.
        sqlx::query("UPDATE counters SET value = value WHERE name = 'feed'")
            .execute(&mut *tx)
            .await?;
        let new = write_findings(&mut tx, &keyed).await?;
        let raised = record_notices(found.iter().map(|(c, _)| c), &new);
        let sms = self.sms_writing();
        let data_key = self.data_key_loaded();
        write_notices(&mut tx, &raised, sms.as_ref(), data_key.as_deref(), now).await?;
        tx.commit().await?;
        Ok(new.len() as u64)
    }

    /// Duties of `kind` received in `period`, every unit (callers filter by what a reader sees),
    /// oldest first.
    pub async fn duties(&self, kind: UnitKind, period: Period) -> Result<Vec<DutyRow>> {
        let rows = sqlx::query(
            "SELECT d.case_id, c.path, c.title, c.status, d.unit_kind, d.unit, d.assisting, d.person,
                    d.received_at, d.sign_due, d.signed_at, d.due, d.done_at, d.ended_at, d.returned,
                    d.reopened, d.rated_by_requester, d.satisfied_by_requester, d.rated_by_staff,
                    d.satisfied_by_staff, d.return_visits
             FROM duties d JOIN cases c ON c.id = d.case_id
             WHERE d.unit_kind = $1 AND d.received_at >= $2 AND d.received_at < $3
             ORDER BY d.received_at, d.case_id, d.seq",
        )
        .bind(kind.as_str())
        .bind(period.from)
        .bind(period.to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(duty_row).collect()
    }

    /// Townships' monthly scores of departments whose month starts in `period`.
    pub async fn township_ratings(&self, period: Period) -> Result<Vec<TownshipRating>> {
        let rows = sqlx::query(
            "SELECT month_start, township, department, score FROM department_ratings
             WHERE month_start >= $1 AND month_start < $2
             ORDER BY month_start, township, department",
        )
        .bind(period.from)
        .bind(period.to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TownshipRating {
                    month_start: r.try_get(0)?,
                    township: r.try_get(1)?,
                    department: r.try_get(2)?,
                    score: u8::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// A township's score (1–5, comment ≤ 500 chars) of a department for a month ("2026-11"):
    /// township staff only, their own township, a department of the catalogue in force; entered
    /// again for the same month, it replaces the first. Audited.
    pub async fn rate_department(
        &self,
        who: &Identity,
        month: &str,
        department: &str,
        score: u8,
        comment: &str,
        now: i64,
    ) -> Result<()> {
        if !who.role.rates_departments() {
            return Err(invalid("role", "only a township centre scores departments"));
        }
        let Some(township) = who.scope.at_level(Level::Township) else {
            return Err(invalid(
                "scope",
                "a township centre's account has a township",
            ));
        };
        let live = self.rules().await?;
        let Some(Period { from: start, .. }) = calendar_month(live.rules.calendar(), month) else {
            return Err(invalid(
                "month",
                format!("{month:?} is not a month (2026-11)"),
            ));
        };
        if live.rules.taxonomy().department(department).is_none() {
            return Err(invalid(
                "department",
                format!("{department:?} is not a department of the catalogue"),
            ));
        }
        if !(1..=5).contains(&score) {
            return Err(invalid("score", "a score is 1 to 5"));
        }
        if comment.chars().count() > RATING_COMMENT_CHARS {
            return Err(invalid(
                "comment",
                format!("at most {RATING_COMMENT_CHARS} characters"),
            ));
        }
        let township = township.to_string();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO department_ratings (month, month_start, township, department, score, comment, by_user, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (month, township, department) DO UPDATE SET score = excluded.score,
                 comment = excluded.comment, by_user = excluded.by_user, at = excluded.at,
                 month_start = excluded.month_start",
        )
        .bind(month)
        .bind(start)
        .bind(&township)
        .bind(department)
        .bind(i64::from(score))
        .bind(comment)
        .bind(&who.user)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            &who.user,
            "department_rating",
            &format!("{township} {department} {month}"),
            &format!("{score} {comment}"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The scores a township (its path) entered, newest month first.
    pub async fn ratings_by_township(&self, township: &str) -> Result<Vec<DepartmentRatingRow>> {
        let rows = sqlx::query(
            "SELECT month, township, department, score, comment, by_user, at FROM department_ratings
             WHERE township = $1 ORDER BY month DESC, department",
        )
        .bind(township)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DepartmentRatingRow {
                    month: r.try_get(0)?,
                    township: r.try_get(1)?,
                    department: r.try_get(2)?,
                    score: u8::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                    comment: r.try_get(4)?,
                    by: r.try_get(5)?,
                    at: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Accountability records, newest first.
    pub async fn accountability(
        &self,
        filter: AccountabilityFilter,
    ) -> Result<Vec<AccountabilityRecord>> {
        let mut clause = String::from("1 = 1");
        match filter.decided {
            Some(true) => clause.push_str(" AND decision IS NOT NULL"),
            Some(false) => clause.push_str(" AND decision IS NULL"),
            None => {}
        }
        if filter.case_id.is_some() {
            clause.push_str(" AND case_id = $1");
        }
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM accountability WHERE {clause} ORDER BY raised_at DESC, id DESC"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(case) = filter.case_id {
            query = query.bind(case);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record_row)
            .collect()
    }

    pub async fn accountability_record(&self, id: &str) -> Result<Option<AccountabilityRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM accountability WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(record_row)
        .transpose()
    }

    /// The county's decision on a record: one per record, a second is refused
    /// (`StoreError::Conflict`, "already_decided"); an unknown id is `NotFound`. Audited.
    pub async fn decide_accountability(
        &self,
        id: &str,
        decision: Decision,
        note: &str,
        who: &Identity,
        now: i64,
    ) -> Result<AccountabilityRecord> {
        if !who.role.decides_accountability() {
            return Err(invalid("role", "only the county decides on accountability"));
        }
        if note.chars().count() > DECISION_NOTE_CHARS {
            return Err(invalid(
                "note",
                format!("at most {DECISION_NOTE_CHARS} characters"),
            ));
        }
        let mut tx = self.begin_write().await?;
        // Only an undecided record takes it: two reviewers deciding at once cannot both win.
        let done = sqlx::query(
            "UPDATE accountability SET decision = $1, note = $2, decided_by = $3, decided_at = $4
             WHERE id = $5 AND decision IS NULL",
        )
        .bind(decision.as_str())
        .bind(note)
        .bind(&who.user)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM accountability WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound(format!("accountability record {id}")));
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "already_decided: accountability record {id} has its decision"
            )));
        }
        let record = record_row(&row)?;
        audit(
            &mut tx,
            &who.user,
            "accountability_decision",
            id,
            &format!("{} {note}", decision.as_str()),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }
}

/// An audit entry written with the action it records (both or neither).
async fn audit(
    tx: &mut Transaction<'static, Any>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
