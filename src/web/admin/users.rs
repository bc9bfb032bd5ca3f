//! The administration's users, and the traders it registered: create, disable and enable, set
//! a new password; each through the same service as the API.

use aeo_domain::FieldError;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{ManageUsers, Permission, UserRole};
use crate::service::ServiceError;
use crate::service::users::{self, AccountChange, NewAccount};
use crate::store::users::User;
use crate::web::page::{Chrome, CsrfForm, PageError};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct NewUserForm {
    email: String,
    password: String,
    role: String,
    display_name: String,
    operator_identifier: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<User>,
    form: NewUserForm,
    errors: Vec<FieldError>,
    /// The account a change was refused for, and why.
    refused: Option<(i64, String)>,
}

impl UsersPage {
    fn error(&self, field: &str) -> Option<&str> {
        super::message_for(&self.errors, field)
    }

    /// The roles an administration gives its users.
    fn roles(&self) -> Vec<UserRole> {
        UserRole::ALL.into_iter().filter(|role| *role != UserRole::PlatformAdmin).collect()
    }

    fn role_words(&self, role: &str) -> String {
        role.parse::<UserRole>().map_or_else(|_| role.to_owned(), |role| self.chrome.lang.user_role(role).to_owned())
    }

    fn operator(&self, user: &User) -> String {
        match (&user.operator_scheme, &user.operator_value) {
            (Some(scheme), Some(value)) => format!("{scheme}:{value}"),
            _ => String::new(),
        }
    }

    fn is_me(&self, user: &User) -> bool {
        self.chrome.user.as_ref().is_some_and(|me| me.id == user.id)
    }
}

/// `GET /admin/users`
pub async fn list(State(app): State<AppState>, chrome: Chrome) -> Result<Response, PageError> {
    render(&app, chrome, NewUserForm::default(), Vec::new(), None, StatusCode::OK).await
}

async fn render(
    app: &AppState,
    chrome: Chrome,
    form: NewUserForm,
    errors: Vec<FieldError>,
    refused: Option<(i64, String)>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(ManageUsers::ROLES)?;
    let users = {
        let _slot = chrome.slot(&app.classes.reading).await?;
        users::list(app, at.as_str()).await.map_err(|error| chrome.service_failed(error))?
    };
    let page = UsersPage { chrome, users, form, errors, refused };
    Ok(page.chrome.render(status, &page))
}

/// `POST /admin/users`: a new account.
pub async fn create(
    State(app): State<AppState>,
    chrome: Chrome,
    CsrfForm(form): CsrfForm<NewUserForm>,
) -> Result<Response, PageError> {
    let (caller, at) = chrome.tenant(ManageUsers::ROLES)?;
    let optional = |text: &str| (!text.trim().is_empty()).then(|| text.to_owned());
    let account = NewAccount {
        email: optional(&form.email),
        password: optional(&form.password),
        role: optional(&form.role),
        display_name: optional(&form.display_name),
        operator_identifier: optional(&form.operator_identifier),
    };
    let errors = match users::create(&app, at.as_str(), &caller.email, account).await {
        Ok(_) => return Ok(Redirect::to("/admin/users").into_response()),
        Err(ServiceError::Invalid(errors)) => errors,
        Err(ServiceError::Conflict(message)) => vec![FieldError::new("email", message)],
        Err(error) => return Err(chrome.service_failed(error)),
    };
    // The password is never sent back.
    let form = NewUserForm { password: String::new(), ..form };
    render(&app, chrome, form, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Deserialize)]
pub struct ChangeForm {
    /// `disable`, `enable` or `password`.
    change: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/users/{id}`: disable, enable, or set a new password.
pub async fn change(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ChangeForm>,
) -> Result<Response, PageError> {
    let (caller, at) = chrome.tenant(ManageUsers::ROLES)?;
    let change = match form.change.as_str() {
        "disable" => AccountChange { disabled: Some(true), password: None },
        "enable" => AccountChange { disabled: Some(false), password: None },
        "password" => AccountChange { disabled: None, password: Some(form.password) },
        _ => return Err(chrome.failed(StatusCode::UNPROCESSABLE_ENTITY, chrome.t.form_unreadable)),
    };
    match users::update(&app, at.as_str(), &caller, id, change).await {
        Ok(_) => Ok(Redirect::to("/admin/users").into_response()),
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ");
            render(
                &app,
                chrome,
                NewUserForm::default(),
                Vec::new(),
                Some((id, message)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(error) => Err(chrome.service_failed(error)),
    }
}
