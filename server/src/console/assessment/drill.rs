//! The cases behind one figure of one unit (考核明细): exactly the duties the figure counts
//! (`Figure::counts`), each with its clocks. `crate::assessment::drill` refuses a unit the
//! reader may not see (another department's, another township's): `403`, 无权查看.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gridsync_core::assessment::{Figure, Unit, UnitKind};
use maud::html;

use super::{Asked, NAV, choose, unit_name};
use crate::AppState;
use crate::assessment::AssessmentError;
use crate::console::{
    ConsoleError, HOVER_CHARS, LIST_TITLE_CHARS, Reviewer, forbidden_page, page, shorten,
};

pub(super) async fn drill(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    Query(asked): Query<Asked>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let now = crate::now_ms();
    let Some(figure) = Figure::parse(asked.figure.trim()) else {
        return Err(ConsoleError::BadRequest("not a figure"));
    };
    if asked.kind.trim().is_empty() || asked.unit.trim().is_empty() {
        return Err(ConsoleError::BadRequest(
            "a unit kind and a unit are needed",
        ));
    }
    let chosen = match choose(&state, &r, &asked, now) {
        Ok(c) => c,
        Err(refused) => return Ok(refused.answer(&r)),
    };
    let unit = Unit {
        kind: chosen.kind,
        code: asked.unit.trim().to_owned(),
    };
    let rows =
        match crate::assessment::drill(&state.store, &r.who, &unit, figure, chosen.period, now)
            .await
        {
            Ok(rows) => rows,
            Err(AssessmentError::Forbidden) => return Ok(forbidden_page(&r, NAV, "as_forbidden")),
            Err(AssessmentError::Store(e)) => return Err(e.into()),
        };
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    let time = |t: Option<i64>| {
        t.map(|t| cal.local_date_time(t))
            .unwrap_or_else(|| "—".into())
    };
    let name = unit_name(&state, &r, &unit);
    let departments = unit.kind == UnitKind::Department;
    let satisfaction = matches!(figure, Figure::SatisfiedRequester | Figure::SatisfiedStaff);
    let body = html! {
        h1 #drill-title {
            (l.t("as_cases")) " · " span #drill-unit title=(unit.code) { (name) }
            " · " span #drill-figure data-figure=(figure.as_str()) { (l.figure(figure)) }
        }
        p.tools {
            span #period { (l.t("as_period")) "：" (chosen.label()) " · " (l.unit_kind(unit.kind)) }
            " · " span #drill-total data-count=(rows.len()) { (l.t("total")) " " (rows.len()) " " (l.t("items")) }
            " · " a #back href=(chosen.link("/console/assessment", &[])) { (l.t("as_back")) }
        }
        @if let Some(e) = chosen.error { p.error #period-error role="alert" { (l.t(e)) } }
        @if satisfaction { p.explain { (l.t("as_satisfied_note")) } }
        @if rows.is_empty() {
            p.empty #no-cases { (l.t("no_cases")) }
        } @else {
            table #drill-cases {
                thead { tr {
                    th { (l.t("as_case_id")) } th { (l.t("title")) } th { (l.t("place")) } th { (l.t("status")) }
                    @if departments { th { (l.t("as_part")) } }
                    th { (l.t("as_holder")) }
                    th { (l.t("as_received_at")) } th { (l.t("as_sign_due")) } th { (l.t("as_signed_at")) }
                    th { (l.t("as_due")) } th { (l.t("as_done_at")) } th { (l.t("overdue")) }
                } }
                tbody {
                    @for row in &rows {
                        @let d = &row.duty;
                        tr.case data-id=(row.case_id) {
                            td.mono { a.case-link href=(format!("/console/cases/{}", row.case_id)) { (row.case_id) } }
                            td { a.title href=(format!("/console/cases/{}", row.case_id)) title=(shorten(&row.title, HOVER_CHARS)) { (shorten(&row.title, LIST_TITLE_CHARS)) } }
                            td { (r.names.place(&row.place.to_string())) }
                            td.status { (l.status(row.status.as_str())) }
                            @if departments { td { (l.t(if d.assisting { "as_assisting" } else { "as_lead" })) } }
                            td { @match &d.person { Some(p) => (r.names.who(p)), None => "—" } }
                            td { (cal.local_date_time(d.received_at)) }
                            td { (time(d.sign_due)) }
                            td { (time(d.signed_at)) }
                            td { (time(d.due)) }
                            td { (time(d.done_at)) }
                            td.overdue {
                                @if Figure::Overdue.counts(d, now) { span.badge.late { (l.t("overdue")) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok((StatusCode::OK, page(&r, l.t("as_cases"), NAV, body)).into_response())
}
