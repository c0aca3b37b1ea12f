//! The counter's 登记 (township and county centres, `Role::registers_matters`): a walk-in, a
//! call or a letter registered as a case in the clerk's name, with its source and its requester,
//! and sent on at once (研判分流) — to the grid of the place (待核实 on the grid worker's phone),
//! accepted and dispatched to a department, or accepted at the township. The case and its
//! receipt are stored in one transaction (`Store::open_case`); the lookup code is shown once,
//! on the answer to the POST, never in a URL.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gridsync_core::workflow::{EventDraft, EventType};
use gridsync_core::{CaseKind, JurisdictionPath, Level, Source};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleError, Lang, Reviewer, SameOrigin, console_device, forbidden_page, page};
use crate::AppState;
use crate::blobs::{Part, Uploader};
use crate::limit::MAX_BLOB_REQUEST_BYTES;
use crate::residents::{Matter, Receipt};
use crate::store::{FrontDoorRows, LiveRules, StoreError};

const NAV: &str = "register";

/// The kinds a resident's matter may be, in the form's order.
const KINDS: [CaseKind; 3] = [CaseKind::Request, CaseKind::Incident, CaseKind::Dispute];

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route(
        "/console/register",
        get(form_page)
            .post(register)
            // Photos: the whole form at most as large as one blob upload.
            .layer(DefaultBodyLimit::max(MAX_BLOB_REQUEST_BYTES)),
    )
}

/// Photos one registration takes at most (all of them within the form's body limit).
const MAX_PHOTOS: usize = 5;

/// A photo sent with the form: its file name (the caption) and bytes.
#[derive(Debug)]
struct Photo {
    name: String,
    bytes: Vec<u8>,
}

/// The form as the browser sent it: `multipart/form-data` with photos, or urlencoded without.
struct Submitted(RegisterForm, Vec<Photo>);

impl<S: Send + Sync> FromRequest<S> for Submitted {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let Form(f) = Form::<RegisterForm>::from_request(req, state)
                .await
                .map_err(|_| ConsoleError::BadRequest("malformed form"))?;
            return Ok(Submitted(f, Vec::new()));
        }
        let mut parts = Multipart::from_request(req, state)
            .await
            .map_err(|_| ConsoleError::BadRequest("malformed form"))?;
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut photos = Vec::new();
        let bad = |_: axum::extract::multipart::MultipartError| {
            ConsoleError::BadRequest("malformed form")
        };
        while let Some(field) = parts.next_field().await.map_err(bad)? {
            let key = field.name().unwrap_or_default().to_owned();
            if key == "photo" {
                let name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(bad)?;
                // A file input left empty still sends a part, with no name and no bytes.
                if !bytes.is_empty() {
                    photos.push(Photo {
                        name,
                        bytes: bytes.to_vec(),
                    });
                }
            } else {
                fields.push((key, field.text().await.map_err(bad)?));
            }
        }
        // The text fields read as the urlencoded form reads them (one set of defaults).
        let malformed = |_| ConsoleError::BadRequest("malformed form");
        let encoded = serde_urlencoded::to_string(&fields).map_err(|_| malformed(()))?;
        let f = serde_urlencoded::from_str(&encoded).map_err(|_| malformed(()))?;
        Ok(Submitted(f, photos))
    }
}

/// The form as filled in (all text: a refused form is shown again as it was).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct RegisterForm {
    source: String,
    requester_name: String,
    requester_phone: String,
    area: String,
    address: String,
    kind: String,
    category: String,
    description: String,
    title: String,
    /// 研判分流: `grid`, `department` or `township`.
    triage: String,
    /// Overrides the category's department when sending to a department.
    department: String,
}

/// Why the form was not taken: a code (`data-code`) and the field it concerns.
#[derive(Debug)]
struct Refused {
    code: String,
    field: String,
}

impl Refused {
    fn new(code: &str, field: &str) -> Refused {
        Refused {
            code: code.to_owned(),
            field: field.to_owned(),
        }
    }
}

async fn form_page(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
) -> Result<Response, ConsoleError> {
    if !r.who.role.registers_matters() {
        return Ok(forbidden_page(&r, NAV, "register_only"));
    }
    let live = state.store.rules().await?;
    let f = RegisterForm {
        source: Source::WalkIn.as_str().to_owned(),
        kind: CaseKind::Request.as_str().to_owned(),
        triage: "grid".to_owned(),
        ..RegisterForm::default()
    };
    let body = form(&r, &live, &f, None);
    Ok(page(&r, r.lang.t("reg_title"), NAV, body).into_response())
}

async fn register(
    State(state): State<Arc<AppState>>,
    r: Reviewer,
    _: SameOrigin,
    headers: HeaderMap,
    Submitted(f, photos): Submitted,
) -> Result<Response, ConsoleError> {
    if !r.who.role.registers_matters() {
        return Ok(forbidden_page(&r, NAV, "register_only"));
    }
    let live = state.store.rules().await?;
    match open(&state, &r, &live, &f, &photos).await? {
        Ok((id, receipt)) => {
            // The address the requester types: this server as the clerk reached it.
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            let body = receipt_page(r.lang, &id, &receipt, &format!("{host}/track"));
            Ok(page(&r, r.lang.t("receipt"), NAV, body).into_response())
        }
        Err(refused) => {
            let body = form(&r, &live, &f, Some(&refused));
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&r, r.lang.t("reg_title"), NAV, body),
            )
                .into_response())
        }
    }
}

/// The triage's steps after the report, checked against what the form says.
fn triage(
    r: &Reviewer,
    live: &LiveRules,
    f: &RegisterForm,
    place: &JurisdictionPath,
) -> Result<Vec<EventDraft>, Refused> {
    match f.triage.as_str() {
        "grid" if place.level() != Level::Grid => Err(Refused::new("grid_required", "area")),
        "grid" => Ok(vec![EventDraft::route_to(Level::Grid)]),
        "department" => {
            let taxonomy = live.rules.taxonomy();
            let dep = match f.department.trim() {
                "" => taxonomy
                    .category(&f.category)
                    .and_then(|c| c.department.clone())
                    .ok_or_else(|| Refused::new("department_required", "department"))?,
                d => d.to_owned(),
            };
            if taxonomy.department(&dep).is_none() {
                return Err(Refused::new("unknown_department", "department"));
            }
            Ok(vec![
                EventDraft::new(EventType::Accepted),
                EventDraft::assign_to(dep),
            ])
        }
        // The township's own centre accepts it; the county's sends it down to the township.
        "township" => match r.who.role.handling_level() {
            Some(Level::Township) => Ok(vec![EventDraft::new(EventType::Accepted)]),
            _ => Ok(vec![EventDraft::route_to(Level::Township)]),
        },
        _ => Err(Refused::new("triage_required", "triage")),
    }
}

/// Checks the form, builds the case with its triage and stores it with its receipt: the case id
/// and the receipt, or why not (nothing stored).
async fn open(
    state: &AppState,
    r: &Reviewer,
    live: &LiveRules,
    f: &RegisterForm,
    photos: &[Photo],
) -> Result<Result<(String, Receipt), Refused>, ConsoleError> {
    let Some(source) = Source::parse(&f.source).filter(|s| Source::COUNTER.contains(s)) else {
        return Ok(Err(Refused::new("bad_source", "source")));
    };
    let Some(kind) = CaseKind::parse(&f.kind) else {
        return Ok(Err(Refused::new("unsupported_kind", "kind")));
    };
    if f.area.trim().is_empty() {
        return Ok(Err(Refused::new("missing_field", "area")));
    }
    let Ok(place) = JurisdictionPath::parse(f.area.trim()) else {
        return Ok(Err(Refused::new("bad_area", "area")));
    };
    let matter = Matter {
        source,
        kind,
        place: place.clone(),
        category: f.category.clone(),
        title: f.title.clone(),
        description: f.description.clone(),
        address: f.address.clone(),
        requester_name: f.requester_name.clone(),
        requester_phone: f.requester_phone.clone(),
    };
    let who = &r.who;
    let county = who
        .scope
        .at_level(Level::County)
        .unwrap_or_else(|| who.scope.clone());
    if let Err(e) = matter.check(live.rules.taxonomy(), &county) {
        return Ok(Err(Refused::new(e.code, e.field)));
    }
    if !place.is_within(&who.scope) {
        return Ok(Err(Refused::new("out_of_scope", "area")));
    }
    let drafts = match triage(r, live, f, &place) {
        Ok(d) => d,
        Err(refused) => return Ok(Err(refused)),
    };
    if photos.len() > MAX_PHOTOS {
        return Ok(Err(Refused::new("too_many_photos", "photos")));
    }
    // Photos are what the phone would attach: sniffed, named by their SHA-256.
    let mut attachments = Vec::new();
    for p in photos {
        match gridsync_core::attachment::check_attachment(&p.bytes) {
            Ok((sha256, mime)) => attachments.push(gridsync_core::case::Attachment {
                sha256,
                mime: mime.to_owned(),
                bytes: p.bytes.len() as u64,
                caption: p.name.chars().take(100).collect(),
                captured_at: crate::now_ms(),
                lat: None,
                lon: None,
            }),
            Err(e) => return Ok(Err(Refused::new(&format!("photo_{}", e.code()), "photos"))),
        }
    }
    let ctx = console_device(state, who).await?;
    let Some(actor) = ctx.actors.first().cloned() else {
        return Err(ConsoleError::Internal(
            "the server device has no actor".into(),
        ));
    };
    let now = crate::now_ms();
    let deadlines = live.rules.deadlines();
    let built = matter
        .build(who, actor, now, &deadlines)
        .and_then(|(id, mut doc, key)| {
            doc.edit(who, now, |e| {
                for a in &attachments {
                    e.add_attachment(a)?;
                }
                for d in drafts {
                    e.append_event_with(d, &deadlines)?;
                }
                Ok(())
            })?;
            Ok((id, doc, key))
        });
    let (id, mut doc) = match built {
        Ok((id, doc, key)) => {
            state.store.keep_case_key(&key, now).await?;
            (id, doc)
        }
        Err(e) => return Ok(Err(Refused::new(e.code(), ""))),
    };
    // The bytes first, held by the clerk as a phone's upload would be; the case that lists them
    // follows. A case refused after this leaves photos nobody lists (readable by no one).
    for (p, a) in photos.iter().zip(&attachments) {
        let part = Part {
            start: 0,
            total: p.bytes.len() as i64,
            bytes: &p.bytes,
            cut: false,
        };
        let from = Uploader {
            device: &who.device,
            user: &who.user,
        };
        if let Err(e) = state
            .blobs
            .put(&state.store, &a.sha256, part, from, now)
            .await
        {
            return Ok(Err(Refused::new(&format!("photo_{}", e.code()), "photos")));
        }
    }
    let receipt = Receipt::fresh(&state.store, now).await?;
    let code_hash = receipt
        .code_hash_off_thread()
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let number = receipt.number.clone();
    let rows = FrontDoorRows {
        receipt: Some((number, code_hash)),
        order: None,
        lookup_code: Some(receipt.code.clone()),
    };
    match state
        .store
        .open_case(&ctx, who, &id, &mut doc, &rows, &live.admission, now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Refused { code, .. }) => return Ok(Err(Refused::new(code, ""))),
        Err(StoreError::Core(e)) => return Ok(Err(Refused::new(e.code(), ""))),
        Err(e) => return Err(e.into()),
    }
    state
        .store
        .audit(&who.user, "console_register", &id, source.as_str(), now)
        .await?;
    Ok(Ok((id, receipt)))
}

/// Every area within the clerk's scope below the county, in tree order: (path, name).
fn areas(r: &Reviewer) -> Vec<(String, String)> {
    fn walk(r: &Reviewer, parent: &JurisdictionPath, out: &mut Vec<(String, String)>) {
        for (code, _) in r.names.children(parent, &r.who.scope) {
            let Ok(child) = parent.child(code) else {
                continue;
            };
            if child.is_within(&r.who.scope) {
                out.push((child.to_string(), r.names.area(&child.to_string())));
            }
            if child.level() != Level::Grid {
                walk(r, &child, out);
            }
        }
    }
    let mut out = Vec::new();
    if let Some(county) = r.who.scope.at_level(Level::County) {
        walk(r, &county, &mut out);
    }
    out
}

/// The words of a refusal, in the reviewer's language.
fn refusal_words(l: Lang, refused: &Refused) -> String {
    let key = match refused.code.as_str() {
        "missing_field" => "reg_err_missing_field",
        "unknown_category" => "reg_err_unknown_category",
        "unsupported_kind" => "reg_err_unsupported_kind",
        "area_outside_county" => "reg_err_area_outside_county",
        "out_of_scope" => "reg_err_out_of_scope",
        "text_too_long" => "reg_err_text_too_long",
        "bad_phone" => "reg_err_bad_phone",
        "bad_source" => "reg_err_bad_source",
        "bad_area" => "reg_err_bad_area",
        "grid_required" => "reg_err_grid_required",
        "department_required" => "reg_err_department_required",
        "unknown_department" => "reg_err_unknown_department",
        "triage_required" => "reg_err_triage_required",
        "too_many_photos" => "reg_err_too_many_photos",
        photo if photo.starts_with("photo_") => "reg_err_photo",
        other => {
            return l.refusal(other).unwrap_or(l.t("reg_err_other")).to_owned();
        }
    };
    let words = l.t(key);
    match field_label(refused.field.as_str()) {
        Some(f) if matches!(refused.code.as_str(), "missing_field" | "text_too_long") => {
            format!("{words}{}{}", l.pick("：", ": "), l.t(f))
        }
        _ => words.to_owned(),
    }
}

/// The label key of a field a refusal names.
fn field_label(field: &str) -> Option<&'static str> {
    Some(match field {
        "title" => "title",
        "description" => "description",
        "address" => "address",
        "area" => "reg_area",
        "requester.name" => "requester_name",
        "requester.phone" => "requester_phone",
        "category" => "category",
        "kind" => "kind",
        _ => return None,
    })
}

fn form(r: &Reviewer, live: &LiveRules, f: &RegisterForm, refused: Option<&Refused>) -> Markup {
    let l = r.lang;
    let taxonomy = live.rules.taxonomy();
    let dept_name = |code: &str| {
        taxonomy
            .department(code)
            .map(|d| l.pick(&d.name_zh, &d.name_en).to_owned())
            .unwrap_or_else(|| code.to_owned())
    };
    let areas = areas(r);
    html! {
        h1 { (l.t("reg_title")) }
        p.explain { (l.t("reg_explain")) }
        @if let Some(refused) = refused {
            p.error #register-error role="alert" data-code=(refused.code) data-field=(refused.field) {
                (l.t("refused")) "：" (refusal_words(l, refused))
            }
        }
        form.card #register-form method="post" action="/console/register" enctype="multipart/form-data" {
            label { (l.t("source"))
                select #r-source name="source" {
                    @for s in Source::COUNTER {
                        option value=(s.as_str()) selected[f.source == s.as_str()] { (l.source(s.as_str())) }
                    }
                }
            }
            label { (l.t("requester_name")) input #r-name name="requester_name" value=(f.requester_name) required maxlength="50" autocomplete="off"; }
            label { (l.t("requester_phone")) input #r-phone name="requester_phone" type="tel" value=(f.requester_phone) required maxlength="20" autocomplete="off"; }
            @if areas.is_empty() {
                // No jurisdiction tree imported: the code is typed.
                label { (l.t("reg_area"))
                    input #r-area name="area" value=(f.area) required placeholder=(r.who.scope.to_string());
                    span.muted { (l.t("reg_area_typed")) }
                }
            } @else {
                label { (l.t("reg_area"))
                    select #r-area name="area" required {
                        option value="" { (l.t("reg_pick")) }
                        @for (path, name) in &areas {
                            option value=(path) selected[f.area == *path] title=(path) { (name) }
                        }
                    }
                }
            }
            label { (l.t("address")) input #r-address name="address" value=(f.address) maxlength="200"; }
            label { (l.t("kind"))
                select #r-kind name="kind" {
                    @for k in KINDS {
                        option value=(k.as_str()) selected[f.kind == k.as_str()] { (l.kind(k.as_str())) }
                    }
                }
            }
            label { (l.t("cat_dept"))
                select #r-category name="category" required {
                    option value="" { (l.t("reg_pick")) }
                    @for k in KINDS {
                        optgroup label=(l.kind(k.as_str())) {
                            @for c in taxonomy.categories_for_kind(k.as_str()) {
                                option value=(c.code) selected[f.category == c.code && f.kind == k.as_str()] {
                                    (l.pick(&c.name_zh, &c.name_en)) " — "
                                    @match &c.department { Some(d) => (dept_name(d)), None => (l.t("self_handled")) }
                                }
                            }
                        }
                    }
                }
            }
            label { (l.t("title")) input #r-title name="title" value=(f.title) required maxlength="200"; }
            label { (l.t("description")) textarea #r-description name="description" rows="5" { (f.description) } }
            label { (l.t("reg_photos")) input #r-photos type="file" name="photo" multiple accept="image/jpeg,image/png,image/webp,image/heic,application/pdf"; }
            fieldset #r-triage {
                legend { (l.t("triage")) }
                @for (value, key) in [("grid", "triage_grid"), ("department", "triage_department"), ("township", "triage_township")] {
                    label.check {
                        input type="radio" name="triage" value=(value) id=(format!("r-triage-{value}")) checked[f.triage == value];
                        (l.t(key))
                    }
                }
                label { (l.t("dept_override"))
                    select #r-department name="department" {
                        option value="" { (l.t("dept_default")) }
                        @for d in taxonomy.departments() {
                            option value=(d.code) selected[f.department == d.code] { (l.pick(&d.name_zh, &d.name_en)) }
                        }
                    }
                }
            }
            p.muted { (l.t("reg_no_photos")) }
            button #r-submit type="submit" { (l.t("reg_submit")) }
        }
    }
}

/// The answer to a registration: the receipt to hand over, the code shown this once.
fn receipt_page(l: Lang, id: &str, receipt: &Receipt, track: &str) -> Markup {
    html! {
        h1 { (l.t("receipt")) }
        p.ok #register-done { (l.t("reg_done")) }
        section.receipt #receipt {
            table {
                tr { th { (l.t("receipt_no")) } td.mono #receipt-no { (receipt.number) } }
                tr { th { (l.t("receipt_code")) } td.mono #receipt-code { (receipt.code) } }
            }
            p #receipt-hand { (l.t("receipt_hand")) " " span.mono #receipt-track { (track) } }
            p.muted { (l.t("receipt_once")) }
        }
        p {
            a #receipt-case href=(format!("/console/cases/{id}")) { (l.t("open_case")) }
            " · "
            a #register-another href="/console/register" { (l.t("register_another")) }
        }
    }
}
