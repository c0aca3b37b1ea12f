//! The conflict panel: one sentence on what happened, each field by its name, each value with
//! who wrote it and when, and what each button does.

use gridsync_core::CaseEvent;
use gridsync_core::calendar::Calendar;
use gridsync_core::case::FieldConflict;
use gridsync_core::workflow::{EventType, WorkflowConflict};
use maud::{Markup, html};

use crate::console::Lang;
use crate::console::names::Names;

/// What a clerk meets on a case in conflict.
pub(super) struct Panel<'a> {
    pub id: &'a str,
    pub names: &'a Names,
    pub lang: Lang,
    pub calendar: &'a Calendar,
    pub fields: &'a [FieldConflict],
    pub steps: &'a [WorkflowConflict],
    pub events: &'a [CaseEvent],
}

impl Panel<'_> {
    pub fn render(&self) -> Markup {
        let (l, id) = (self.lang, self.id);
        if self.fields.is_empty() && self.steps.is_empty() {
            return html! {};
        }
        html! {
            section.conflicts #conflicts {
                h2 { (l.t("conflicts")) }
                @if !self.fields.is_empty() {
                    p.explain #conflict-explain { (l.t("conflict_explain")) }
                }
                @for c in self.fields {
                    div.conflict data-field=(c.field) {
                        h3 title=(c.field) { (l.field(&c.field)) }
                        table.values {
                            thead { tr { th { (l.t("value")) } th { (l.t("set_by")) } th { (l.t("device")) } th { (l.t("device_time")) } th {} } }
                            tbody {
                                @for v in &c.values {
                                    tr {
                                        td.value { (v.value) }
                                        td.by { @match &v.author { Some(a) => (self.names.who(&a.user)), None => "—" } }
                                        td { @match &v.author { Some(a) => (device_label(l, &a.device)), None => "—" } }
                                        td { @if v.at == 0 { "—" } @else { (self.calendar.local_date_time(v.at)) } }
                                        td {
                                            form.inline method="post" action=(format!("/console/cases/{id}/settle")) {
                                                input type="hidden" name="field" value=(c.field);
                                                input type="hidden" name="value" value=(v.value);
                                                button.keep type="submit" { (l.t("keep")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        form.write method="post" action=(format!("/console/cases/{id}/settle")) {
                            input type="hidden" name="field" value=(c.field);
                            label { (l.t("write_new_label")) input.new-value name="value" required; }
                            button.write type="submit" { (l.t("write_new")) }
                        }
                    }
                }
                @if !self.steps.is_empty() {
                    p.explain #workflow-conflict-explain { (l.t("workflow_conflict_explain")) }
                }
                @for wc in self.steps {
                    div.conflict.workflow {
                        h3 { (l.t("workflow_conflict")) }
                        @for (eid, kind) in wc.applied.iter().map(|a| (a.as_str(), self.kind_of(a))).chain(std::iter::once((wc.pending.as_str(), Some(wc.pending_kind)))) {
                            form.inline.choice method="post" action=(format!("/console/cases/{id}/action")) {
                                input type="hidden" name="kind" value="settled";
                                input type="hidden" name="chosen" value=(eid);
                                span.value { (kind.map(|k| step_name(l, k)).unwrap_or_else(|| "?".into())) }
                                @if let Some(e) = self.events.iter().find(|e| e.id == eid) {
                                    " " span.by { (self.names.who(&e.by)) " · " (self.calendar.local_date_time(e.at)) }
                                }
                                " "
                                button.choose type="submit" { (l.t("choose")) }
                            }
                        }
                    }
                }
            }
        }
    }

    fn kind_of(&self, event: &str) -> Option<EventType> {
        self.events.iter().find(|e| e.id == event).map(|e| e.kind)
    }
}

/// A workflow step by its name (受理, 转办 …).
pub(super) fn step_name(l: Lang, k: EventType) -> String {
    match l {
        Lang::Zh => k.name_zh().to_owned(),
        Lang::En => l.status(k.as_str()),
    }
}

/// Where a change was made, as a clerk tells devices apart: a phone, the console, the server's
/// clock; the device id on hover.
pub(in crate::console) fn device_label(l: Lang, device: &str) -> Markup {
    use crate::store::{SERVER_DEVICE, is_server_device};
    let key = match (device == SERVER_DEVICE, is_server_device(device)) {
        (true, _) => "device_server",
        (false, true) => "device_console",
        (false, false) => "device_phone",
    };
    html! { span.device title=(device) { (l.t(key)) } }
}
