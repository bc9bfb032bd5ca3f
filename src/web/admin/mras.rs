//! The administration's records of its MRAs: each partner's arrangement, its status, dates and
//! scope; recorded as the API records them.

use aeo_domain::{AdministrationCode, Category, FieldError, MraInput, MraStatus, Role};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::ADMINISTRATION;
use crate::app::AppState;
use crate::auth::{ManageAdministration, Permission};
use crate::service::{ServiceError, mras};
use crate::store::mras::Mra;
use crate::web::page::{Chrome, CsrfForm, PageError};

#[derive(Template)]
#[template(path = "admin/mras.html")]
struct ListPage {
    chrome: Chrome,
    at: String,
    mras: Vec<Mra>,
}

/// `GET /admin/mras`
pub async fn list(State(app): State<AppState>, chrome: Chrome) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(ADMINISTRATION)?;
    let mras = mras::list(&app, at.as_str()).await.map_err(|error| chrome.service_failed(error))?;
    let page = ListPage { chrome, at: at.as_str().to_owned(), mras };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

/// An arrangement's fields as the form holds them.
#[derive(Default)]
struct MraFields {
    partner: String,
    title: String,
    status: String,
    signed_on: String,
    in_force_from: String,
    categories: Vec<String>,
    roles: Vec<String>,
}

impl MraFields {
    fn of(mra: &Mra) -> Self {
        MraFields {
            partner: mra.partner.clone(),
            title: mra.title.clone(),
            status: mra.status.as_str().to_owned(),
            signed_on: mra.signed_on.map(|d| d.to_string()).unwrap_or_default(),
            in_force_from: mra.in_force_from.map(|d| d.to_string()).unwrap_or_default(),
            categories: mra.categories.iter().map(|c| c.as_str().to_owned()).collect(),
            roles: mra.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        }
    }

    fn read(fields: Vec<(String, String)>) -> Self {
        let mut read = MraFields::default();
        for (name, value) in fields {
            match name.as_str() {
                "partner" => read.partner = value.trim().to_uppercase(),
                "title" => read.title = value,
                "status" => read.status = value,
                "signed_on" => read.signed_on = value,
                "in_force_from" => read.in_force_from = value,
                "categories" => read.categories.push(value),
                "roles" => read.roles.push(value),
                _ => {}
            }
        }
        read
    }

    fn input(&self) -> MraInput {
        let optional = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
        MraInput {
            title: optional(&self.title),
            status: optional(&self.status),
            signed_on: optional(&self.signed_on),
            in_force_from: optional(&self.in_force_from),
            categories: Some(self.categories.clone()),
            roles: Some(self.roles.clone()),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/mra_form.html")]
struct FormPage {
    chrome: Chrome,
    /// Editing the record of this partner; `None`: a new one.
    editing: Option<String>,
    fields: MraFields,
    errors: Vec<FieldError>,
}

impl FormPage {
    fn error(&self, field: &str) -> Option<&str> {
        super::message_for(&self.errors, field)
    }

    fn has_category(&self, category: &Category) -> bool {
        self.fields.categories.iter().any(|c| c == category.as_str())
    }

    fn has_role(&self, role: &Role) -> bool {
        self.fields.roles.iter().any(|r| r == role.as_str())
    }

    fn action(&self) -> String {
        match &self.editing {
            Some(partner) => format!("/admin/mras/{partner}"),
            None => "/admin/mras/new".to_owned(),
        }
    }
}

/// `GET /admin/mras/new`
pub async fn new_form(chrome: Chrome) -> Result<Response, PageError> {
    chrome.tenant(ManageAdministration::ROLES)?;
    let fields = MraFields { status: MraStatus::Negotiating.as_str().to_owned(), ..MraFields::default() };
    let page = FormPage { chrome, editing: None, fields, errors: Vec::new() };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

/// `GET /admin/mras/{partner}`
pub async fn edit_form(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(partner): Path<String>,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(ManageAdministration::ROLES)?;
    let mra = mras::find(&app, at.as_str(), &partner).await.map_err(|error| chrome.service_failed(error))?;
    let page = FormPage { chrome, editing: Some(mra.partner.clone()), fields: MraFields::of(&mra), errors: Vec::new() };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

/// `POST /admin/mras/new`
pub async fn create(
    State(app): State<AppState>,
    chrome: Chrome,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    save(app, chrome, None, MraFields::read(fields)).await
}

/// `POST /admin/mras/{partner}`
pub async fn update(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(partner): Path<String>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let mut fields = MraFields::read(fields);
    fields.partner = partner.clone();
    save(app, chrome, Some(partner), fields).await
}

async fn save(
    app: AppState,
    chrome: Chrome,
    editing: Option<String>,
    fields: MraFields,
) -> Result<Response, PageError> {
    let (caller, at) = chrome.tenant(ManageAdministration::ROLES)?;
    let errors = match AdministrationCode::parse(&fields.partner) {
        Err(message) => vec![FieldError::new("partner", message)],
        Ok(partner) => match mras::record(&app, &at, &caller.email, &partner, &fields.input()).await {
            Ok(_) => return Ok(Redirect::to("/admin/mras").into_response()),
            Err(ServiceError::Invalid(errors)) => errors,
            Err(error) => return Err(chrome.service_failed(error)),
        },
    };
    let page = FormPage { chrome, editing, fields, errors };
    Ok(page.chrome.render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}
