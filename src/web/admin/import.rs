//! Import of a CSV file from a page: the file is checked in full first (a dry run of the same
//! import as the API's) and every row error listed before anything is applied; only then an
//! explicit apply, with the same file carried back by the preview page, checked again and
//! applied all or nothing.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{Permission, PublishCertificates};
use crate::service::certificates::{self, Publisher};
use crate::service::import::{CSV_COLUMNS, Format, ImportReport};
use crate::service::{RowError, ServiceError};
use crate::web::page::{Chrome, CsrfForm, CsrfUpload, PageError};

/// The largest file a page imports (about 20,000 certificates): the preview carries it back in
/// a form (URL-encoded, up to three times as long), so larger files go through the API.
pub const PAGE_IMPORT_LIMIT: usize = 4 * 1024 * 1024;

/// What the import page shows.
enum Stage {
    /// Choosing a file.
    Choose,
    /// Checked, nothing applied: the file's errors (none: it can be applied) and what applying
    /// it would do.
    Checked { csv: String, report: ImportReport, errors: Vec<RowError> },
    /// Applied.
    Applied { report: ImportReport },
}

#[derive(Template)]
#[template(path = "admin/import.html")]
struct ImportPage {
    chrome: Chrome,
    stage: Stage,
    /// What is wrong with the file as a whole (no header, not UTF-8, too large).
    problem: Option<String>,
}

impl ImportPage {
    fn columns(&self) -> String {
        CSV_COLUMNS.join(",")
    }
}

/// `GET /admin/import`
pub async fn form(chrome: Chrome) -> Result<Response, PageError> {
    chrome.tenant(PublishCertificates::ROLES)?;
    let page = ImportPage { chrome, stage: Stage::Choose, problem: None };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

/// `POST /admin/import` (the file): the preview.
pub async fn preview(State(app): State<AppState>, chrome: Chrome, upload: CsrfUpload) -> Result<Response, PageError> {
    run(app, chrome, upload.file, true).await
}

#[derive(Deserialize)]
pub struct ApplyForm {
    #[serde(default)]
    csv: String,
}

/// `POST /admin/import/apply` (the previewed file, carried back).
pub async fn apply(
    State(app): State<AppState>,
    chrome: Chrome,
    CsrfForm(form): CsrfForm<ApplyForm, { PAGE_IMPORT_LIMIT * 3 }>,
) -> Result<Response, PageError> {
    run(app, chrome, form.csv.into_bytes(), false).await
}

async fn run(app: AppState, chrome: Chrome, file: Vec<u8>, dry_run: bool) -> Result<Response, PageError> {
    let (caller, at) = chrome.tenant(PublishCertificates::ROLES)?;
    let t = chrome.t;
    let problem = |chrome: Chrome, message: String| {
        let page = ImportPage { chrome, stage: Stage::Choose, problem: Some(message) };
        Ok(page.chrome.render(StatusCode::UNPROCESSABLE_ENTITY, &page))
    };
    if file.is_empty() {
        return problem(chrome, t.choose_a_file.to_owned());
    }
    if file.len() > PAGE_IMPORT_LIMIT {
        return problem(chrome, t.file_too_large.to_owned());
    }
    let Ok(csv) = String::from_utf8(file) else {
        return problem(chrome, t.not_utf8.to_owned());
    };
    let by = Publisher { administration: at.as_str(), actor: &caller.email };
    let imported = {
        let _slot = chrome.slot(&app.classes.importing).await?;
        certificates::import(&app, by, Format::Csv, csv.as_bytes(), dry_run).await
    };
    let (stage, status) = match imported {
        Ok(report) if dry_run => (Stage::Checked { csv, report, errors: Vec::new() }, StatusCode::OK),
        Ok(report) => (Stage::Applied { report }, StatusCode::OK),
        Err(ServiceError::InvalidRows(errors)) => {
            (Stage::Checked { csv, report: ImportReport::default(), errors }, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
            return problem(chrome, message);
        }
        Err(error) => return Err(chrome.service_failed(error)),
    };
    let page = ImportPage { chrome, stage, problem: None };
    Ok(page.chrome.render(status, &page))
}
