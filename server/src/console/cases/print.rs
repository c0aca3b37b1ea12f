//! The print view of a case (办理单, A4): what the township's paper file keeps — the case, the
//! people, the mediation, every workflow step, and lines to sign. No navigation, no buttons.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};

use super::conflicts::step_name;
use super::detail::{has_mediation, mediation, open_case, people, rated_by};
use super::{category_name, department_name};
use crate::AppState;
use crate::console::{ConsoleError, Reviewer};
use crate::reads::{self, ClientAddr};

pub(super) async fn print(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    addr: ClientAddr,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let l = r.lang;
    let (_, case, wf) = match open_case(&state, &r, &id).await? {
        Ok(opened) => opened,
        Err(not_found) => return Ok(not_found),
    };
    // Personal data printed in clear: recorded in the read audit first (ADR 0028).
    if case.read_is_audited(&r.who, &wf.departments()) {
        reads::record(&state.store, &r.who.user, &id, reads::CONSOLE_PRINT, &addr).await?;
    }
    let live = state.store.rules_now();
    let cal = live.rules.calendar();
    let n = &r.names;
    let receipt = state.store.receipt_of_case(&id).await?;
    let page = html! {
        (DOCTYPE)
        html lang=(l.html()) {
            head {
                meta charset="utf-8";
                title { (case.title) " · " (l.t("print_title")) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/app.css";
            }
            body.print {
                main #print-view {
                    h1 { (n.area(case.jurisdiction.county())) " " (l.t("print_title")) }
                    table.sheet {
                        tr { th { (l.t("title")) } td colspan="3" #print-title { (case.title) } }
                        tr {
                            th { (l.t("kind")) } td { (l.kind(case.kind.as_str())) }
                            th { (l.t("category")) } td { (category_name(&state, l, &case.category)) }
                        }
                        tr {
                            th { (l.t("place")) } td { (n.place(&case.jurisdiction.to_string())) }
                            th { (l.t("address")) } td { (case.location.address) }
                        }
                        tr {
                            th { (l.t("case_source")) } td #print-source { (l.source(case.source.as_str())) }
                            th { (l.t("case_receipt")) } td.mono { (receipt.as_deref().unwrap_or("—")) }
                        }
                        // The requester as this reader may see them (masked unless they handle it).
                        @if let Some(p) = case.requester() {
                            tr { th { (l.t("requester")) } td colspan="3" #print-requester {
                                (p.name) @if !p.phone.is_empty() { " · " (p.phone) }
                            } }
                        }
                        tr {
                            th { (l.t("reporter")) } td { (n.who(&case.reporter.user)) }
                            th { (l.t("reported_at")) } td { (cal.local_date_time(case.created_at)) }
                        }
                        tr {
                            th { (l.t("status")) } td { (l.status(wf.status.as_str())) " · " (l.level(wf.level.as_str())) }
                            th { (l.t("due")) } td { @if let Some(d) = wf.due { (cal.local_date_time(d)) } @else { "—" } }
                        }
                        tr {
                            th { (l.t("department")) } td { @match &wf.department { Some(d) => (department_name(&state, l, d)), None => "—" } }
                            th { (l.t("owner")) } td { @match &wf.owner { Some(o) => (n.who(o)), None => "—" } }
                        }
                        tr { th { (l.t("description")) } td.pre colspan="3" { (case.description) } }
                        @if let Some(reply) = &wf.reply {
                            tr { th { (l.t("reply")) } td.pre colspan="3" { (reply) } }
                        }
                        @if !case.people.is_empty() {
                            tr { th { (l.t("people")) } td colspan="3" {
                                (people(l, &case.people))
                            } }
                        }
                        @for (k, v) in &case.extra { tr { th { (l.field(&format!("extra.{k}"))) } td colspan="3" { (v) } } }
                        @if !case.attachments.is_empty() {
                            tr { th { (l.t("photos")) } td colspan="3" {
                                @for a in &case.attachments { div { (a.caption) " · " (a.mime) " · " (a.bytes / 1024) " KiB" } }
                            } }
                        }
                    }
                    @if has_mediation(&case.mediation) {
                        h2 { (l.t("mediation")) }
                        (mediation(l, n, cal, &case.mediation))
                    }
                    h2 { (l.t("steps")) }
                    table.steps {
                        thead { tr { th { (l.t("device_time")) } th { (l.t("step")) } th { (l.t("person")) } th { (l.t("note")) } } }
                        tbody {
                            @for e in &case.events {
                                tr {
                                    td { (cal.local_date_time(e.at)) }
                                    td { (step_name(l, e.kind))
                                        @if let Some(d) = &e.department { " → " (department_name(&state, l, d)) }
                                        @if e.kind == gridsync_core::EventType::Routed { " → " (l.level(e.level.as_str())) }
                                        @if let Some(v) = &e.via { "（" (l.word(gridsync_core::case::words::RETURN_VISIT_WAYS, v)) "）" }
                                        @if let Some(rt) = e.rating { "：" (l.rating(rt)) "（" (rated_by(l, e.role)) "）" } }
                                    td { (n.who(&e.by)) }
                                    td { (e.note) }
                                }
                            }
                        }
                    }
                    div.signatures {
                        span { (l.t("sign_handler")) "：" span.line {} }
                        span { (l.t("sign_head")) "：" span.line {} }
                        span { (l.t("sign_date")) "：" span.line {} }
                    }
                    p.printed { (l.t("printed_by")) " " (n.person(&r.who.user)) " · " (cal.local_date_time(crate::now_ms())) }
                }
            }
        }
    };
    Ok(page.into_response())
}
