//! The administration's certificates: the list with search, filters and paging; one
//! certificate with its history; create and edit (the form is the CSV import's row, so both
//! read and refuse alike); suspend, reinstate and revoke after a confirmation that names the
//! certificate; the export in the import's format.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use aeo_domain::{Category, FieldError, Role, Status};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{ADMINISTRATION, Done};
use crate::app::AppState;
use crate::auth::{Permission, PublishCertificates};
use crate::service::ServiceError;
use crate::service::certificates::{self, Publisher};
use crate::service::import::{CertificateRow, export_csv, row_field};
use crate::store::certificates::{Certificate, HistoryEntry, ListFilter};
use crate::web::page::{Chrome, CsrfForm, PageError};

/// Certificates on one page of the list.
const PAGE_SIZE: u64 = 50;

#[derive(Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    category: Option<String>,
    role: Option<String>,
    cursor: Option<String>,
}

impl ListQuery {
    /// The search, as the API reads it (an empty search box searches nothing).
    fn filter(&self) -> Result<ListFilter, Vec<FieldError>> {
        certificates::filter(
            self.status.as_deref(),
            self.category.as_deref(),
            self.role.as_deref(),
            self.q.as_deref().filter(|q| !q.trim().is_empty()),
        )
    }
}

#[derive(Template)]
#[template(path = "admin/certificates.html")]
struct ListPage {
    chrome: Chrome,
    query: ListQuery,
    items: Vec<Certificate>,
    /// The query of the next page, if there is one.
    next: Option<String>,
    errors: Vec<FieldError>,
}

impl ListPage {
    fn value<'a>(&self, field: &'a Option<String>) -> &'a str {
        field.as_deref().unwrap_or_default()
    }

    fn error(&self, field: &str) -> Option<&str> {
        super::message_for(&self.errors, field)
    }

    /// The search of this page, for the export.
    fn export_query(&self) -> String {
        search_query(&self.query, None)
    }
}

/// `GET /admin?q=&status=&category=&role=&cursor=`
pub async fn list(
    State(app): State<AppState>,
    chrome: Chrome,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(ADMINISTRATION)?;
    let filter = query.filter();
    let after = query.cursor.as_deref().filter(|c| !c.is_empty()).and_then(crate::store::cursor::decode);
    let (items, next, errors) = match filter {
        Ok(filter) => {
            let _slot = chrome.slot(&app.classes.reading).await?;
            let listed = certificates::list(&app, at.as_str(), &filter, PAGE_SIZE, after).await;
            let (items, next) = listed.map_err(|error| chrome.service_failed(error))?;
            (items, next.map(|next| search_query(&query, Some(next))), Vec::new())
        }
        Err(errors) => (Vec::new(), None, errors),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = ListPage { chrome, query, items, next, errors };
    Ok(page.chrome.render(status, &page))
}

/// The query of a search, with the position to continue after.
fn search_query(query: &ListQuery, after: Option<i64>) -> String {
    let cursor = after.map(crate::store::cursor::encode);
    let fields = [("q", &query.q), ("status", &query.status), ("category", &query.category), ("role", &query.role)];
    let mut pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter_map(|(name, value)| value.as_deref().filter(|v| !v.is_empty()).map(|v| (*name, v)))
        .collect();
    pairs.extend(cursor.as_deref().map(|cursor| ("cursor", cursor)));
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

#[derive(Deserialize)]
pub struct ShowQuery {
    done: Option<Done>,
}

#[derive(Template)]
#[template(path = "admin/certificate.html")]
struct CertificatePage {
    chrome: Chrome,
    certificate: Certificate,
    history: Vec<HistoryEntry>,
    done: Option<Done>,
}

impl CertificatePage {
    /// The status changes the lifecycle allows from here, with their words.
    fn actions(&self) -> Vec<(&'static str, &'static str)> {
        let t = self.chrome.t;
        match self.certificate.stored_status {
            Status::Active => vec![("suspended", t.suspend), ("revoked", t.revoke)],
            Status::Suspended => vec![("active", t.reinstate), ("revoked", t.revoke)],
            Status::Revoked | Status::Expired => Vec::new(),
        }
    }

    fn done_words(&self) -> Option<&'static str> {
        let t = self.chrome.t;
        self.done.map(|done| match done {
            Done::Created => t.done_created,
            Done::Saved => t.done_saved,
            Done::StatusChanged => t.done_status_changed,
        })
    }
}

/// `GET /admin/certificates/{number}`
pub async fn show(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(number): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(ADMINISTRATION)?;
    let certificate =
        certificates::find(&app, at.as_str(), &number).await.map_err(|error| chrome.service_failed(error))?;
    let history = {
        let _slot = chrome.slot(&app.classes.reading).await?;
        certificates::history(&app, at.as_str(), &number).await.map_err(|error| chrome.service_failed(error))?
    };
    let page = CertificatePage { chrome, certificate, history, done: query.done };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "admin/certificate_form.html")]
struct FormPage {
    chrome: Chrome,
    /// The certificate being edited; `None` for a new one.
    editing: Option<String>,
    version: Option<i32>,
    row: CertificateRow,
    errors: Vec<FieldError>,
}

impl FormPage {
    fn error(&self, field: &str) -> Option<&str> {
        super::message_for(&self.errors, field)
    }

    /// Errors of fields the form does not show (the body as a whole, say).
    fn other_errors(&self) -> Vec<&FieldError> {
        let shown = |field: &str| CertificateRow::FIELDS.contains(&field) || field == "version";
        self.errors.iter().filter(|e| !shown(&e.field)).collect()
    }

    fn has_role(&self, role: &Role) -> bool {
        self.row.roles.split(';').any(|r| r.trim() == role.as_str())
    }

    /// The identifiers, one per line.
    fn identifier_lines(&self) -> String {
        self.row.identifiers.split(';').map(str::trim).filter(|id| !id.is_empty()).collect::<Vec<_>>().join("\n")
    }

    fn is_public(&self) -> bool {
        matches!(self.row.public.trim(), "true" | "on")
    }

    fn action(&self) -> String {
        match &self.editing {
            Some(number) => format!("/admin/certificates/{number}/edit"),
            None => "/admin/certificates/new".to_owned(),
        }
    }
}

/// The form's fields: a certificate row, roles as checkboxes (one `roles` field each), the
/// version being edited.
fn read_form(fields: Vec<(String, String)>) -> (CertificateRow, Option<i32>) {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    let mut roles = Vec::new();
    for (name, value) in fields {
        if name == "roles" {
            roles.push(value);
        } else {
            map.insert(name, value);
        }
    }
    let version = map.remove("version").and_then(|v| v.parse().ok());
    let mut row: CertificateRow =
        serde_json::to_value(&map).ok().and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default();
    row.roles = roles.join(";");
    (row, version)
}

/// `GET /admin/certificates/new`
pub async fn new_form(chrome: Chrome) -> Result<Response, PageError> {
    chrome.tenant(PublishCertificates::ROLES)?;
    let row = CertificateRow { public: "false".into(), ..CertificateRow::default() };
    let page = FormPage { chrome, editing: None, version: None, row, errors: Vec::new() };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

/// `POST /admin/certificates/new`
pub async fn create(
    State(app): State<AppState>,
    chrome: Chrome,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (caller, at) = chrome.tenant(PublishCertificates::ROLES)?;
    let (row, _) = read_form(fields);
    let (input, mut errors) = row.to_input();
    if errors.is_empty() {
        let by = Publisher { administration: at.as_str(), actor: &caller.email };
        match certificates::publish(&app, by, &input).await {
            Ok(created) => return Ok(to_certificate(&created.number, Done::Created)),
            Err(error) => errors = form_errors(&chrome, error)?,
        }
    }
    let page = FormPage { chrome, editing: None, version: None, row, errors };
    Ok(page.chrome.render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `GET /admin/certificates/{number}/edit`
pub async fn edit_form(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(number): Path<String>,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(PublishCertificates::ROLES)?;
    let certificate =
        certificates::find(&app, at.as_str(), &number).await.map_err(|error| chrome.service_failed(error))?;
    let page = FormPage {
        editing: Some(certificate.number.clone()),
        version: Some(certificate.version),
        row: CertificateRow::of(&certificate),
        errors: Vec::new(),
        chrome,
    };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

/// `POST /admin/certificates/{number}/edit`: the certificate as the form shows it, if no one
/// changed it since the form was opened.
pub async fn save(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(number): Path<String>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (caller, at) = chrome.tenant(PublishCertificates::ROLES)?;
    let (mut row, version) = read_form(fields);
    row.number = number.clone();
    let (input, mut errors) = row.to_input();
    if errors.is_empty() {
        let by = Publisher { administration: at.as_str(), actor: &caller.email };
        // Every field of the form, as a merge patch: an emptied field is removed.
        let mut patch = serde_json::to_value(&input).unwrap_or_default();
        if let Some(fields) = patch.as_object_mut() {
            fields.remove("number");
        }
        match certificates::patch(&app, by, &number, version, &patch).await {
            Ok(saved) => return Ok(to_certificate(&saved.number, Done::Saved)),
            Err(ServiceError::PreconditionFailed) => {
                errors = vec![FieldError::new("version", chrome.t.changed_meanwhile)];
            }
            Err(error) => errors = form_errors(&chrome, error)?,
        }
    }
    let page = FormPage { chrome, editing: Some(number), version, row, errors };
    Ok(page.chrome.render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// A refusal of the form's content, under the form's field names; any other failure is a page
/// of its own.
fn form_errors(chrome: &Chrome, error: ServiceError) -> Result<Vec<FieldError>, PageError> {
    match error {
        ServiceError::Invalid(errors) => {
            Ok(errors.into_iter().map(|e| FieldError::new(row_field(&e.field), e.message)).collect())
        }
        ServiceError::Conflict(message) => Ok(vec![FieldError::new("number", message)]),
        other => Err(chrome.service_failed(other)),
    }
}

fn to_certificate(number: &str, done: Done) -> Response {
    let query = serde_urlencoded::to_string([("done", done)]).unwrap_or_default();
    Redirect::to(&format!("/admin/certificates/{number}?{query}")).into_response()
}

#[derive(Deserialize)]
pub struct StatusQuery {
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/status.html")]
struct StatusPage {
    chrome: Chrome,
    certificate: Certificate,
    to: Status,
    reason: String,
    errors: Vec<FieldError>,
}

impl StatusPage {
    fn question(&self) -> &'static str {
        let t = self.chrome.t;
        match self.to {
            Status::Suspended => t.confirm_suspend,
            Status::Revoked => t.confirm_revoke,
            _ => t.confirm_reinstate,
        }
    }

    fn button(&self) -> &'static str {
        let t = self.chrome.t;
        match self.to {
            Status::Suspended => t.suspend,
            Status::Revoked => t.revoke,
            _ => t.reinstate,
        }
    }

    fn error(&self, field: &str) -> Option<&str> {
        super::message_for(&self.errors, field)
    }
}

/// The status asked for, as the lifecycle names it.
fn wanted(chrome: &Chrome, to: Option<&str>) -> Result<Status, PageError> {
    match to.unwrap_or_default().parse() {
        Ok(status @ (Status::Active | Status::Suspended | Status::Revoked)) => Ok(status),
        _ => Err(chrome.failed(StatusCode::NOT_FOUND, chrome.t.not_found)),
    }
}

/// `GET /admin/certificates/{number}/status?to=`: the confirmation, naming the certificate.
pub async fn confirm_status(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(number): Path<String>,
    Query(query): Query<StatusQuery>,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(PublishCertificates::ROLES)?;
    let to = wanted(&chrome, query.to.as_deref())?;
    let certificate =
        certificates::find(&app, at.as_str(), &number).await.map_err(|error| chrome.service_failed(error))?;
    let page = StatusPage { chrome, certificate, to, reason: String::new(), errors: Vec::new() };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct StatusForm {
    to: Option<String>,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/certificates/{number}/status`
pub async fn change_status(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(number): Path<String>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    let (caller, at) = chrome.tenant(PublishCertificates::ROLES)?;
    let to = wanted(&chrome, form.to.as_deref())?;
    let by = Publisher { administration: at.as_str(), actor: &caller.email };
    let reason = Some(form.reason.trim()).filter(|reason| !reason.is_empty());
    let errors = match certificates::change_status(&app, by, &number, Some(to.as_str()), reason).await {
        Ok(changed) => return Ok(to_certificate(&changed.number, Done::StatusChanged)),
        Err(ServiceError::Conflict(message)) => vec![FieldError::new("to", message)],
        Err(error) => form_errors(&chrome, error)?,
    };
    let certificate =
        certificates::find(&app, at.as_str(), &number).await.map_err(|error| chrome.service_failed(error))?;
    let page = StatusPage { chrome, certificate, to, reason: form.reason, errors };
    Ok(page.chrome.render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `GET /admin/certificates.csv?q=&status=&category=&role=`: the listed certificates, every
/// page of them, as CSV in the import's format; written as it is read, a page at a time, so
/// that a registry of a million certificates is exported in little memory.
pub async fn export(
    State(app): State<AppState>,
    chrome: Chrome,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(ADMINISTRATION)?;
    let filter =
        query.filter().map_err(|_| chrome.failed(StatusCode::UNPROCESSABLE_ENTITY, chrome.t.invalid_question))?;
    let disposition = format!("attachment; filename=\"certificates-{}.csv\"", at.as_str());
    // The first page is read before answering, so that a failure is still a page of its own.
    let first = export_page(&app, at.as_str(), &filter, None, true).await.map_err(|e| chrome.service_failed(e))?;
    let rest = futures_util::stream::try_unfold(first.1, move |after| {
        let (app, at, filter) = (app.clone(), at.clone(), filter.clone());
        async move {
            let Some(after) = after else { return Ok(None) };
            let (csv, next) = export_page(&app, at.as_str(), &filter, Some(after), false).await.map_err(|error| {
                tracing::error!(%error, "the export stopped");
                std::io::Error::other("the export stopped")
            })?;
            Ok::<_, std::io::Error>(Some((axum::body::Bytes::from(csv), next)))
        }
    });
    let body = futures_util::stream::once(async move { Ok(axum::body::Bytes::from(first.0)) }).chain(rest);
    let mut response = (StatusCode::OK, axum::body::Body::from_stream(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// One page of the export, in a reading slot, and the position after it if there is more.
async fn export_page(
    app: &AppState,
    at: &str,
    filter: &ListFilter,
    after: Option<i64>,
    header: bool,
) -> crate::service::ServiceResult<(Vec<u8>, Option<i64>)> {
    let _slot =
        app.classes.reading.enter().await.map_err(|_| ServiceError::Busy("too many searches and lists at once"))?;
    let (items, next) = certificates::list(app, at, filter, EXPORT_PAGE, after).await?;
    Ok((export_csv(&items, header)?, next))
}

/// Certificates read at a time by the export.
const EXPORT_PAGE: u64 = 500;
