//! The case list exported as CSV or XLSX: the same filters, up to `MAX_EXPORT` rows, Chinese
//! headers, audited.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use gridsync_core::workflow::Rating;

use super::list::Filters;
use super::{category_name, department_name};
use crate::AppState;
use crate::console::names::Names;
use crate::console::{ConsoleError, Lang, Reviewer};
use crate::store::CaseRow;

/// Rows an export holds at most.
const MAX_EXPORT: u32 = 10_000;

/// The export's columns, Chinese headers first: names for reading, codes beside them for
/// whoever joins the sheet with other data.
const COLUMNS: [(&str, &str); COLUMN_COUNT] = [
    ("案件编号", "id"),
    ("标题", "title"),
    ("类型", "kind"),
    ("事项分类", "category"),
    ("地点", "place"),
    ("地点编码", "path"),
    ("状态", "status"),
    ("层级", "level"),
    ("承办部门", "department"),
    ("上报人", "reporter_name"),
    ("上报账号", "reporter"),
    ("上报时间", "created_at"),
    ("办理时限", "due_at"),
    ("是否超时", "overdue"),
    ("满意度", "rating"),
    ("评价来源", "rating_by"),
    ("来源", "source"),
    ("首次响应时间", "first_response_at"),
    ("是否答复", "replied"),
];
const COLUMN_COUNT: usize = 19;

fn export_rows(state: &AppState, names: &Names, rows: &[CaseRow]) -> Vec<[String; COLUMN_COUNT]> {
    let l = Lang::Zh;
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    rows.iter()
        .map(|c| {
            [
                c.id.clone(),
                c.title.clone(),
                l.kind(&c.kind),
                category_name(state, l, &c.category),
                names.area(&c.path),
                c.path.clone(),
                l.status(&c.status),
                l.level(&c.level),
                c.department
                    .as_deref()
                    .map(|d| department_name(state, l, d))
                    .unwrap_or_default(),
                names.person(&c.reporter).to_owned(),
                c.reporter.clone(),
                cal.local_date_time(c.created_at),
                c.due_at.map(|d| cal.local_date_time(d)).unwrap_or_default(),
                if c.overdue { "是" } else { "否" }.to_owned(),
                c.rating
                    .as_deref()
                    .map(|r| {
                        Rating::parse(r)
                            .map(|r| l.rating(r))
                            .unwrap_or_else(|| r.to_owned())
                    })
                    .unwrap_or_default(),
                match (&c.rating, c.rating_by_requester) {
                    (None, _) => String::new(),
                    (Some(_), true) => "群众自评".to_owned(),
                    (Some(_), false) => "工作人员代评".to_owned(),
                },
                l.source(&c.source),
                c.first_response_at
                    .map(|t| cal.local_date_time(t))
                    .unwrap_or_default(),
                if c.replied { "是" } else { "否" }.to_owned(),
            ]
        })
        .collect()
}

async fn exported(
    state: &AppState,
    r: &Reviewer,
    f: &Filters,
) -> Result<Vec<[String; COLUMN_COUNT]>, ConsoleError> {
    let q = f.query(state.store.rules_now().rules.calendar());
    let rows = state
        .store
        .all_cases(&r.who, &q, crate::now_ms(), MAX_EXPORT)
        .await?;
    state
        .store
        .audit(
            &r.who.user,
            "console_export",
            &r.who.scope.to_string(),
            &rows.len().to_string(),
            crate::now_ms(),
        )
        .await?;
    Ok(export_rows(state, &r.names, &rows))
}

fn csv_field(s: &str) -> String {
    // Quote everything; a leading formula character is defused so a spreadsheet shows text.
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(super) async fn export_csv(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let rows = exported(&state, &r, &f).await?;
    // A byte-order mark: Excel on Chinese Windows opens UTF-8 CSV correctly only with it.
    let mut out = String::from("\u{feff}");
    out.push_str(
        &COLUMNS
            .iter()
            .map(|(zh, _)| csv_field(zh))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for row in rows {
        out.push_str(
            &row.iter()
                .map(|v| csv_field(v))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"cases.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

pub(super) async fn export_xlsx(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(f): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let rows = exported(&state, &r, &f).await?;
    let built = (|| -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("案件")?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (c, (zh, _)) in COLUMNS.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, *zh, &bold)?;
        }
        for (i, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                sheet.write_string(i as u32 + 1, c as u16, v)?;
            }
        }
        book.save_to_buffer()
    })();
    let bytes = built.map_err(|e| ConsoleError::Internal(format!("xlsx export: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"cases.xlsx\"",
            ),
        ],
        bytes,
    )
        .into_response())
}
