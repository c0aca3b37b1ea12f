//! The monthly report (考核月报): the ranking the page shows, as XLSX (Chinese headers, codes
//! beside the names, audited like the case export) and as a printable A4 page with lines to
//! sign. Both are built from the page's own [`Line`]s: the same rows, ranks and numbers.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gridsync_core::assessment::{AssessmentRules, Figure, UnitKind};
use maud::{DOCTYPE, html};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::{Asked, Chosen, Line, choose, has_rate, load, table, weights};
use crate::AppState;
use crate::console::{ConsoleError, Lang, Reviewer};

/// The sheet's headers, in Chinese: a spreadsheet is filed and forwarded as it is.
fn headers(rules: &AssessmentRules, kind: UnitKind) -> Vec<String> {
    let mut h = vec!["名次".to_owned(), "单位".to_owned(), "单位编码".to_owned()];
    for f in Figure::ALL {
        h.push(f.name_zh().to_owned());
        if has_rate(rules, f) {
            h.push(format!("{}率", f.name_zh()));
        }
    }
    if kind == UnitKind::Department {
        h.push("基层评议均分".to_owned());
    }
    h.extend(["得分".to_owned(), "红黑榜".to_owned()]);
    h
}

/// One cell of the sheet.
enum Cell<'a> {
    Text(&'a str),
    Count(u32),
    /// A share in percent, shown as `85.0%`.
    Percent(f64),
    /// A number to one decimal.
    Decimal(f64),
    Empty,
}

fn cells<'a>(rules: &AssessmentRules, kind: UnitKind, line: &'a Line) -> Vec<Cell<'a>> {
    let mut c = vec![
        line.rank.map_or(Cell::Empty, Cell::Count),
        Cell::Text(&line.name),
        Cell::Text(&line.unit.code),
    ];
    for (f, count, rate) in &line.counts {
        c.push(Cell::Count(*count));
        if has_rate(rules, *f) {
            c.push(rate.map_or(Cell::Empty, Cell::Percent));
        }
    }
    if kind == UnitKind::Department {
        c.push(line.township_average.map_or(Cell::Empty, Cell::Decimal));
    }
    c.push(line.score.map_or(Cell::Empty, Cell::Decimal));
    c.push(match line.listed {
        Some(listed) => Cell::Text(Lang::Zh.t(listed.key())),
        None => Cell::Empty,
    });
    c
}

fn write_sheet(
    sheet: &mut Worksheet,
    rules: &AssessmentRules,
    kind: UnitKind,
    lines: &[Line],
) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0%");
    let decimal = Format::new().set_num_format("0.0");
    for (c, h) in headers(rules, kind).iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, h, &bold)?;
    }
    for (i, line) in lines.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, cell) in cells(rules, kind, line).into_iter().enumerate() {
            let col = c as u16;
            match cell {
                Cell::Text(s) => sheet.write_string(row, col, s).map(|_| ())?,
                Cell::Count(n) => sheet.write_number(row, col, f64::from(n)).map(|_| ())?,
                // The percent as printed, over 100: the cell shows the page's figure.
                Cell::Percent(p) => sheet
                    .write_number_with_format(row, col, p / 100.0, &percent)
                    .map(|_| ())?,
                Cell::Decimal(x) => sheet
                    .write_number_with_format(row, col, x, &decimal)
                    .map(|_| ())?,
                Cell::Empty => {}
            }
        }
    }
    Ok(())
}

/// The second sheet: the period, the weights in force, who made the file and when.
fn write_notes(
    sheet: &mut Worksheet,
    rules: &AssessmentRules,
    chosen: &Chosen,
    by: &str,
    at: &str,
) -> Result<(), XlsxError> {
    let mut rows: Vec<(String, String)> = vec![
        ("考核期间".into(), chosen.label()),
        ("考核对象".into(), chosen.kind.name_zh().into()),
    ];
    for f in Figure::ALL {
        if let Some(w) = rules.weights.of(f) {
            rows.push((format!("权重：{}", f.name_zh()), w.to_string()));
        }
    }
    if chosen.kind == UnitKind::Department {
        rows.push((
            "权重：基层评议".into(),
            rules.weights.township_rating.to_string(),
        ));
    }
    rows.extend([
        ("红榜名额".into(), rules.red_list.to_string()),
        (
            "黑榜名额（职能部门）".into(),
            rules.black_list_departments.to_string(),
        ),
        (
            "黑榜名额（乡镇、村、网格员）".into(),
            rules.black_list_areas.to_string(),
        ),
        ("说明".into(), Lang::Zh.t("as_weights_note").into()),
        ("导出人".into(), by.into()),
        ("导出时间".into(), at.into()),
    ]);
    for (i, (k, v)) in rows.iter().enumerate() {
        sheet.write_string(i as u32, 0, k)?;
        sheet.write_string(i as u32, 1, v)?;
    }
    Ok(())
}

pub(super) async fn xlsx(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(asked): Query<Asked>,
) -> Result<Response, ConsoleError> {
    let now = crate::now_ms();
    let chosen = match choose(&state, &r, &asked, now) {
        Ok(c) => c,
        Err(refused) => return Ok(refused.answer(&r)),
    };
    let lines = match load(&state, &r, &chosen, now).await? {
        Ok(lines) => lines,
        Err(refused) => return Ok(refused),
    };
    state
        .store
        .audit(
            &r.who.user,
            "assessment_export",
            &format!("{} {}", chosen.kind.as_str(), chosen.label()),
            &lines.len().to_string(),
            now,
        )
        .await?;
    let live = state.store.rules_now();
    let rules = live.rules.assessment();
    let at = live.rules.calendar().local_date_time(now);
    let built = (|| -> Result<Vec<u8>, XlsxError> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name(chosen.kind.name_zh())?;
        write_sheet(sheet, rules, chosen.kind, &lines)?;
        let notes = book.add_worksheet();
        notes.set_name("说明")?;
        write_notes(notes, rules, &chosen, r.names.person(&r.who.user), &at)?;
        book.save_to_buffer()
    })();
    let bytes = built.map_err(|e| ConsoleError::Internal(format!("xlsx report: {e}")))?;
    let file = format!(
        "attachment; filename=\"assessment-{}-{}.xlsx\"",
        chosen.kind.as_str(),
        chosen.label().replace(" — ", "_")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, file),
        ],
        bytes,
    )
        .into_response())
}

/// The report on A4 (landscape): title, period, the lists, the table, the weights, lines to sign.
pub(super) async fn print(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(asked): Query<Asked>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let now = crate::now_ms();
    let chosen = match choose(&state, &r, &asked, now) {
        Ok(c) => c,
        Err(refused) => return Ok(refused.answer(&r)),
    };
    let lines = match load(&state, &r, &chosen, now).await? {
        Ok(lines) => lines,
        Err(refused) => return Ok(refused),
    };
    let live = state.store.rules_now();
    let rules = live.rules.assessment();
    let cal = live.rules.calendar();
    let title = format!(
        "{} {} {}{}",
        r.names.area(r.who.scope.county()),
        chosen.label(),
        l.unit_kind(chosen.kind),
        l.t("as_report")
    );
    let page = html! {
        (DOCTYPE)
        html lang=(l.html()) {
            head {
                meta charset="utf-8";
                title { (title) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/app.css";
            }
            body.print.wide {
                main #print-view {
                    h1 #report-title { (title) }
                    @if let Some(e) = chosen.error { p.error #period-error { (l.t(e)) } }
                    p #period { (l.t("as_period")) "：" (chosen.label()) " · " (l.unit_kind(chosen.kind)) }
                    (super::lists(l, &lines))
                    @if lines.is_empty() {
                        p.empty #no-rows { (l.t("as_no_rows")) }
                    } @else {
                        (table(l, rules, chosen.kind, &lines, None))
                    }
                    (weights(l, rules, chosen.kind, false))
                    div.signatures {
                        span { (l.t("sign_handler")) "：" span.line {} }
                        span { (l.t("sign_head")) "：" span.line {} }
                        span { (l.t("sign_date")) "：" span.line {} }
                    }
                    p.printed { (l.t("printed_by")) " " (r.names.person(&r.who.user)) " · " (cal.local_date_time(now)) }
                }
            }
        }
    };
    Ok(page.into_response())
}
