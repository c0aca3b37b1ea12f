//! Reviewers' reads of the case projection and the change history, always through the reader's
//! [`ReadFilter`].

use gridsync_core::access::ReadFilter;
use gridsync_core::evidence;
use gridsync_core::{CaseKind, Identity};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use super::{Result, Store};

/// Filters of the case list; empty ones match everything.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub category: Option<String>,
    /// The channel it came in through (a `Source` value: walk_in, hotline_12345…).
    pub source: Option<String>,
    pub township: Option<String>,
    pub village: Option<String>,
    pub grid: Option<String>,
    /// Only cases with field or workflow conflicts.
    pub conflict: Option<bool>,
    /// Only cases past their deadline now (超时).
    pub overdue: Option<bool>,
    /// Only cases with the accountability flag (问责).
    pub accountability: Option<bool>,
    /// Received at or after this instant (ms since the epoch).
    pub from: Option<i64>,
    /// Received before this instant (ms since the epoch).
    pub to: Option<i64>,
    /// Text searched in titles.
    pub q: Option<String>,
    /// Not yet late, but due before this instant (ms since the epoch): the soon-due list.
    pub due_before: Option<i64>,
    /// newest (default), oldest, due (soonest deadline first) or updated (latest change first).
    pub sort: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// One row of the case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseRow {
    pub id: String,
    pub kind: String,
    pub category: String,
    pub title: String,
    pub status: String,
    pub level: String,
    pub path: String,
    pub department: Option<String>,
    pub reporter: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub field_conflicts: i64,
    pub workflow_conflicts: i64,
    pub reopen_count: i64,
    pub accountability: bool,
    pub rating: Option<String>,
    /// When the current clock runs out (受理, 签收 or 办结 by then); none once resolved.
    pub due_at: Option<i64>,
    /// Past `due_at` now.
    pub overdue: bool,
    pub supervision_count: i64,
    /// The highest level that supervised the case on its current clock.
    pub supervised_level: Option<String>,
    /// The level that resolved it.
    pub resolved_level: Option<String>,
    /// Disputes: `success` or `failure`.
    pub mediation_result: Option<String>,
    /// The channel it came in through (a `Source` value).
    pub source: String,
    /// The first handling step after the report.
    pub first_response_at: Option<i64>,
    /// A resolution answered the requester (答复).
    pub replied: bool,
    /// The standing rating is the requester's own.
    pub rating_by_requester: bool,
    /// After a failed mediation: `court`, `police` or `petition`.
    pub referral: Option<String>,
}

/// A page of the case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CasePage {
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<CaseRow>,
}

/// One accepted change of a case: who, on which device, the device's clock and the server's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub seq: i64,
    pub hash: String,
    pub user: String,
    pub device: String,
    pub device_time: i64,
    pub received_at: i64,
    /// The device (or `server`'s own device) whose kept signature over this change verifies now
    /// (ADR 0028); `None` for an unsigned change (an app older than signing, a released one)
    /// or one whose signature does not verify.
    #[serde(default)]
    pub signed_by: Option<String>,
    /// The colleague's device and account that carried this change to the server, when it
    /// came by relay (ADR 0030); `device` and `user` are still its author's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed_by: Option<Relay>,
}

/// Who carried a relayed change: their device and account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Relay {
    pub device: String,
    pub user: String,
}

pub const MAX_PER_PAGE: u32 = 200;

/// SQL with numbered placeholders and the values to bind, in order.
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) args: Vec<String>,
}

impl Sql {
    pub(super) fn new() -> Sql {
        Sql {
            text: String::new(),
            args: Vec::new(),
        }
    }

    pub(super) fn arg(&mut self, value: impl Into<String>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }

    /// The values to bind, for [`Store::read_rows`].
    pub(super) fn read_args(&self) -> Vec<super::direct::Arg> {
        self.args.iter().map(|a| a.as_str().into()).collect()
    }

    /// The open statuses (`Status::is_open`) as arguments, for `status IN (…)`.
    pub(super) fn open_statuses(&mut self) -> String {
        let open: Vec<String> = gridsync_core::Status::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(|s| self.arg(s.as_str()))
            .collect();
        open.join(", ")
    }
}

/// The reader's filter as a WHERE clause over `cases`.
pub(super) fn scoped(filter: &ReadFilter, sql: &mut Sql) -> String {
    // The path at or below the scope, as equalities on the projection's code columns (a path
    // has at most four codes): index `cases_scope` answers it, where a prefix test on `path`
    // would read every row.
    let s = &filter.scope;
    let codes = [
        ("county", Some(s.county())),
        ("township", s.township()),
        ("village", s.village()),
        ("grid", s.grid()),
    ];
    let mut clause = codes
        .iter()
        .filter_map(|(column, code)| code.map(|c| format!("{column} = {}", sql.arg(c))))
        .collect::<Vec<_>>()
        .join(" AND ");
    clause = format!("({clause})");
    for kind in filter.hidden_kinds {
        clause.push_str(&format!(" AND kind <> {}", sql.arg(kind.as_str())));
    }
    if let Some(d) = &filter.department {
        // Lead or assisting: the projection keeps every department as " lead a b ". (SQLite's
        // LIKE ignores ASCII case; catalogue codes are lowercase.)
        clause.push_str(&format!(
            " AND departments LIKE {} ESCAPE '\\'",
            sql.arg(format!("% {} %", like_escaped(d)))
        ));
    }
    clause
}

/// `text` with LIKE's wildcards escaped by a backslash (portable to both backends): user text
/// may hold `%`, and department codes hold `_`.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    /// The WHERE clause of the case list for `reader` and `q` (paging and sorting aside).
    fn list_clause(reader: &Identity, q: &CaseQuery, now: i64, sql: &mut Sql) -> String {
        let mut clause = scoped(&reader.read_filter(), sql);
        for (column, value) in [
            ("status", &q.status),
            ("kind", &q.kind),
            ("category", &q.category),
            ("source", &q.source),
            ("township", &q.township),
            ("village", &q.village),
            ("grid", &q.grid),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                clause.push_str(&format!(" AND {column} = {}", sql.arg(v)));
            }
        }
        if q.conflict == Some(true) {
            clause.push_str(" AND (field_conflicts > 0 OR workflow_conflicts > 0)");
        }
        // Numbers go inline: the bound arguments are all text, and these are i64s, not user text.
        if q.overdue == Some(true) {
            clause.push_str(&format!(" AND due_at IS NOT NULL AND due_at < {now}"));
        }
        if q.accountability == Some(true) {
            clause.push_str(" AND accountability = 1");
        }
        if let Some(before) = q.due_before {
            clause.push_str(&format!(
                " AND due_at IS NOT NULL AND due_at >= {now} AND due_at < {before}"
            ));
        }
        if let Some(from) = q.from {
            clause.push_str(&format!(" AND created_at >= {from}"));
        }
        if let Some(to) = q.to {
            clause.push_str(&format!(" AND created_at < {to}"));
        }
        if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
            clause.push_str(&format!(
                " AND lower(title) LIKE lower({}) ESCAPE '\\'",
                sql.arg(format!("%{}%", like_escaped(text)))
            ));
        }
        clause
    }

    /// The case list as `reader` may see it, filtered, sorted and paged (newest first unless
    /// `q.sort` says otherwise).
    pub async fn list_cases(&self, reader: &Identity, q: &CaseQuery, now: i64) -> Result<CasePage> {
        let per_page = q.per_page.unwrap_or(50).clamp(1, MAX_PER_PAGE);
        let page = q.page.unwrap_or(1).max(1);
        let (total, items) = self.query_cases(reader, q, now, per_page, page).await?;
        Ok(CasePage {
            total,
            page,
            per_page,
            items,
        })
    }

    /// Every case of the filtered list, up to `max` (exports).
    pub async fn all_cases(
        &self,
        reader: &Identity,
        q: &CaseQuery,
        now: i64,
        max: u32,
    ) -> Result<Vec<CaseRow>> {
        Ok(self.query_cases(reader, q, now, max, 1).await?.1)
    }

    /// How many cases of the filtered list (its status filter aside) stand at each status.
    pub async fn status_counts(
        &self,
        reader: &Identity,
        q: &CaseQuery,
        now: i64,
    ) -> Result<Vec<(String, i64)>> {
        let mut sql = Sql {
            text: String::new(),
            args: Vec::new(),
        };
        let unfiltered = CaseQuery {
            status: None,
            ..q.clone()
        };
        let clause = Self::list_clause(reader, &unfiltered, now, &mut sql);
        let mut query = sqlx::query(AssertSqlSafe(format!(
            "SELECT status, count(*) FROM cases WHERE {clause} GROUP BY status"
        )));
        for a in sql.args {
            query = query.bind(a);
        }
        let mut counts = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<(String, i64)>>>()?;
        // In the workflow's order (已上报, 已受理 …), not the alphabet's.
        counts.sort_by_key(|(s, _)| {
            gridsync_core::Status::ALL
                .iter()
                .position(|x| x.as_str() == s)
                .unwrap_or(usize::MAX)
        });
        Ok(counts)
    }

    async fn query_cases(
        &self,
        reader: &Identity,
        q: &CaseQuery,
        now: i64,
        per_page: u32,
        page: u32,
    ) -> Result<(i64, Vec<CaseRow>)> {
        let mut sql = Sql {
            text: String::new(),
            args: Vec::new(),
        };
        let clause = Self::list_clause(reader, q, now, &mut sql);
        let count_sql = format!("SELECT count(*) FROM cases WHERE {clause}");
        let mut count = sqlx::query(AssertSqlSafe(count_sql));
        for a in &sql.args {
            count = count.bind(a.clone());
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get(0)?;
        // A whitelist: the sort key never comes from the request text.
        let order = match q.sort.as_deref() {
            Some("oldest") => "created_at ASC, id",
            Some("due") => "CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at ASC, id",
            Some("updated") => "updated_at DESC, id",
            _ => "created_at DESC, id",
        };
        sql.text = format!(
            "SELECT id, kind, category, title, status, level, path, department, reporter, created_at, updated_at,
                    field_conflicts, workflow_conflicts, reopen_count, accountability, rating,
                    due_at, supervision_count, supervised_level, resolved_level, mediation_result, referral,
                    source, first_response_at, replied, rating_by_requester
             FROM cases WHERE {clause} ORDER BY {order} LIMIT {per_page} OFFSET {}",
            i64::from(page - 1) * i64::from(per_page)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql.text));
        for a in sql.args {
            query = query.bind(a);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(|r| {
                let accountability: i64 = r.try_get(14)?;
                let due_at: Option<i64> = r.try_get(16)?;
                Ok(CaseRow {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    category: r.try_get(2)?,
                    title: r.try_get(3)?,
                    status: r.try_get(4)?,
                    level: r.try_get(5)?,
                    path: r.try_get(6)?,
                    department: r.try_get(7)?,
                    reporter: r.try_get(8)?,
                    created_at: r.try_get(9)?,
                    updated_at: r.try_get(10)?,
                    field_conflicts: r.try_get(11)?,
                    workflow_conflicts: r.try_get(12)?,
                    reopen_count: r.try_get(13)?,
                    accountability: accountability != 0,
                    rating: r.try_get(15)?,
                    due_at,
                    overdue: due_at.is_some_and(|d| d < now),
                    supervision_count: r.try_get(17)?,
                    supervised_level: r.try_get(18)?,
                    resolved_level: r.try_get(19)?,
                    mediation_result: r.try_get(20)?,
                    referral: r.try_get(21)?,
                    source: r.try_get(22)?,
                    first_response_at: r.try_get(23)?,
                    replied: r.try_get::<i64, _>(24)? != 0,
                    rating_by_requester: r.try_get::<i64, _>(25)? != 0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((total, items))
    }

    /// Every accepted change of a case, in log order.
    pub async fn case_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT c.seq, c.hash, c.user_id, c.device_id, c.device_time, c.received_at, s.signer, s.public_key, s.sig,
                    c.relayed_by, c.relayed_user
             FROM changes c LEFT JOIN change_sigs s ON s.seq = c.seq WHERE c.doc = $1 ORDER BY c.seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let hash: String = r.try_get(1)?;
                let signer: Option<String> = r.try_get(6)?;
                let key: Option<Vec<u8>> = r.try_get(7)?;
                let sig: Option<Vec<u8>> = r.try_get(8)?;
                let verified = match (
                    key.as_deref().and_then(evidence::public_key),
                    sig,
                    hash.parse(),
                ) {
                    (Some(key), Some(sig), Ok(h)) => evidence::verifies(&key, &h, &sig),
                    _ => false,
                };
                Ok(HistoryEntry {
                    seq: r.try_get(0)?,
                    hash,
                    user: r.try_get(2)?,
                    device: r.try_get(3)?,
                    device_time: r.try_get(4)?,
                    received_at: r.try_get(5)?,
                    signed_by: signer.filter(|_| verified),
                    relayed_by: match (
                        r.try_get::<Option<String>, _>(9)?,
                        r.try_get::<Option<String>, _>(10)?,
                    ) {
                        (Some(device), Some(user)) => Some(Relay { device, user }),
                        _ => None,
                    },
                })
            })
            .collect()
    }
}

impl Store {
    /// Cases past their deadline that a level above may still supervise, or with an assisting
    /// part past its own: (id, county code), most overdue first. Cases at the county level, or
    /// supervised by it, have nobody above; their parts may still be late.
    pub async fn late_cases(&self, now: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id, county FROM cases
             WHERE level <> 'county' AND (
                 (due_at IS NOT NULL AND due_at < $1
                  AND (supervised_level IS NULL OR supervised_level <> 'county'))
                 OR (parts_due_at IS NOT NULL AND parts_due_at < $1))
             ORDER BY CASE WHEN due_at IS NULL OR (parts_due_at IS NOT NULL AND parts_due_at < due_at)
                           THEN parts_due_at ELSE due_at END, id",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Open cases the county may have supervised and that are still late: on their current
    /// clock (the case's supervised level is the county's) or with a part past its deadline.
    /// Where the accountability records of "still overdue after the county's supervision" may
    /// arise as time passes.
    pub async fn county_supervised_cases(&self, now: i64) -> Result<Vec<String>> {
        let mut sql = Sql::new();
        let open = sql.open_statuses();
        let county = sql.arg(gridsync_core::Level::County.as_str());
        let text = format!(
            "SELECT id FROM cases
             WHERE status IN ({open}) AND (supervised_level = {county}
                 OR (parts_due_at IS NOT NULL AND parts_due_at < {now}))
             ORDER BY id"
        );
        self.case_ids(text, sql).await
    }

    /// Open cases whose deadline, or a part's, falls in `[from, to)`: where the clock's
    /// reminders (due soon, overdue) may be owed.
    pub async fn cases_due_between(&self, from: i64, to: i64) -> Result<Vec<String>> {
        let mut sql = Sql::new();
        let open = sql.open_statuses();
        let text = format!(
            "SELECT id FROM cases
             WHERE status IN ({open}) AND ((due_at >= {from} AND due_at < {to})
                 OR (parts_due_at >= {from} AND parts_due_at < {to}))
             ORDER BY id"
        );
        self.case_ids(text, sql).await
    }

    /// The ids `text` (a query of one column over `cases`) selects, with `sql`'s arguments.
    async fn case_ids(&self, text: String, sql: Sql) -> Result<Vec<String>> {
        let mut query = sqlx::query(AssertSqlSafe(text));
        for a in sql.args {
            query = query.bind(a);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }
}

impl Store {
    /// The statistics cohort: cases `reader` may read within `scope`, received in
    /// `[from, to)`, patrol and household records left out; and the count of open cases in the
    /// scope past their deadline at `now`.
    pub async fn stats_rows(
        &self,
        reader: &Identity,
        scope: &gridsync_core::JurisdictionPath,
        from: i64,
        to: i64,
        now: i64,
    ) -> Result<(Vec<crate::stats::StatsRow>, u64)> {
        let mut sql = Sql {
            text: String::new(),
            args: Vec::new(),
        };
        let mut clause = scoped(&reader.read_filter(), &mut sql);
        let narrowed = ReadFilter {
            scope: scope.clone(),
            hidden_kinds: &[],
            department: None,
        };
        clause.push_str(&format!(" AND {}", scoped(&narrowed, &mut sql)));
        // Records (patrols, household data) have no deadline to miss.
        for kind in CaseKind::ALL.into_iter().filter(|k| k.is_record()) {
            clause.push_str(&format!(" AND kind <> {}", sql.arg(kind.as_str())));
        }
        let overdue_sql = format!(
            "SELECT count(*) FROM cases WHERE {clause} AND due_at IS NOT NULL AND due_at < {now}"
        );
        let mut q = sqlx::query(AssertSqlSafe(overdue_sql));
        for a in &sql.args {
            q = q.bind(a.clone());
        }
        let overdue: i64 = q.fetch_one(&self.pool).await?.try_get(0)?;
        sql.text = format!(
            "SELECT kind, category, status, path, created_at, resolved_at, resolved_on_time,
                    resolved_level, rating, mediation_result, reopen_count, accountability,
                    source, first_response_at, replied, rating_by_requester, return_visits
             FROM cases WHERE {clause} AND created_at >= {from} AND created_at < {to}"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql.text));
        for a in sql.args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await?;
        // The area one level below the scope: county → township, township → village …
        let area_level = match scope.level() {
            gridsync_core::Level::County => gridsync_core::Level::Township,
            gridsync_core::Level::Township => gridsync_core::Level::Village,
            _ => gridsync_core::Level::Grid,
        };
        let out = rows
            .iter()
            .map(|r| {
                let path = gridsync_core::JurisdictionPath::parse(&r.try_get::<String, _>(3)?)?;
                // A case recorded above that level stands for itself.
                let area = path.at_level(area_level).unwrap_or(path).to_string();
                let on_time: Option<i64> = r.try_get(6)?;
                let accountability: i64 = r.try_get(11)?;
                Ok(crate::stats::StatsRow {
                    kind: r.try_get(0)?,
                    category: r.try_get(1)?,
                    status: r.try_get(2)?,
                    area,
                    created_at: r.try_get(4)?,
                    resolved_at: r.try_get(5)?,
                    resolved_on_time: on_time.map(|v| v != 0),
                    resolved_level: r.try_get(7)?,
                    rating: r.try_get(8)?,
                    mediation_result: r.try_get(9)?,
                    reopen_count: r.try_get(10)?,
                    accountability: accountability != 0,
                    source: r.try_get(12)?,
                    first_response_at: r.try_get(13)?,
                    replied: r.try_get::<i64, _>(14)? != 0,
                    rating_by_requester: r.try_get::<i64, _>(15)? != 0,
                    return_visits: r.try_get(16)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((out, u64::try_from(overdue).unwrap_or(0)))
    }
}

impl Store {
    /// Patrol records in `scope` captured in `[from, to)`: (place, capture time).
    pub async fn patrols(
        &self,
        scope: &gridsync_core::JurisdictionPath,
        from: i64,
        to: i64,
    ) -> Result<Vec<(gridsync_core::JurisdictionPath, i64)>> {
        let mut sql = Sql {
            text: String::new(),
            args: Vec::new(),
        };
        let clause = scoped(
            &ReadFilter {
                scope: scope.clone(),
                hidden_kinds: &[],
                department: None,
            },
            &mut sql,
        );
        sql.text = format!(
            "SELECT path, created_at FROM cases
             WHERE {clause} AND kind = 'patrol' AND created_at >= {from} AND created_at < {to}"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql.text));
        for a in sql.args {
            q = q.bind(a);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let path: String = r.try_get(0)?;
                Ok((
                    gridsync_core::JurisdictionPath::parse(&path)?,
                    r.try_get(1)?,
                ))
            })
            .collect()
    }

    /// The units at `level` within `scope`: from the imported jurisdiction tree (a grid there
    /// implies its village and township), or, before one is imported, from the places cases
    /// were captured at.
    pub async fn units_at(
        &self,
        scope: &gridsync_core::JurisdictionPath,
        level: gridsync_core::Level,
    ) -> Result<std::collections::BTreeSet<gridsync_core::JurisdictionPath>> {
        let mut paths: Vec<String> = self
            .org_units()
            .await?
            .into_iter()
            .map(|(p, _)| p.to_string())
            .collect();
        if paths.is_empty() {
            paths = sqlx::query("SELECT DISTINCT path FROM cases")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<std::result::Result<_, _>>()?;
        }
        let mut units = std::collections::BTreeSet::new();
        for path in &paths {
            if let Some(unit) = gridsync_core::JurisdictionPath::parse(path)?.at_level(level)
                && unit.is_within(scope)
            {
                units.insert(unit);
            }
        }
        Ok(units)
    }
}
