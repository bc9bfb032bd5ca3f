//! `/admin`: the customs administration's pages. Each shows only what the signed-in role may
//! do; the services check again, as for the API.

mod audit;
mod certificates;
mod import;
mod mras;
mod peers;
mod users;

use crate::auth::UserRole;

/// The roles that work in `/admin` (a border officer has `/border`).
const ADMINISTRATION: &[UserRole] = &[UserRole::CustomsAdmin, UserRole::CustomsOfficer, UserRole::Auditor];

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(certificates::list))
        .route("/admin/certificates.csv", get(certificates::export))
        .route("/admin/certificates/new", get(certificates::new_form).post(certificates::create))
        .route("/admin/certificates/{number}", get(certificates::show))
        .route("/admin/certificates/{number}/edit", get(certificates::edit_form).post(certificates::save))
        .route(
            "/admin/certificates/{number}/status",
            get(certificates::confirm_status).post(certificates::change_status),
        )
        .route("/admin/import", get(import::form))
        .route("/admin/mras", get(mras::list))
        .route("/admin/mras/new", get(mras::new_form).post(mras::create))
        .route("/admin/mras/{partner}", get(mras::edit_form).post(mras::update))
        .route("/admin/peers", get(peers::list))
        .route("/admin/peers/{peer}/accept", post(peers::accept))
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/users/{id}", post(users::change))
        .route("/admin/audit", get(audit::list))
}

/// The routes that take a file to import: larger bodies, and the import's time.
pub fn import_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/import", post(import::preview))
        .route("/admin/import/apply", post(import::apply))
        .layer(DefaultBodyLimit::max(import::PAGE_IMPORT_LIMIT * 3))
}

/// The message of `field` among a form's errors (an element's error, `roles[1]`, is its
/// list's).
fn message_for<'a>(errors: &'a [aeo_domain::FieldError], field: &str) -> Option<&'a str> {
    errors.iter().find(|e| e.field.split('[').next() == Some(field)).map(|e| e.message.as_str())
}

/// What an action just did, said on the page it leads back to (`?done=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    Created,
    Saved,
    StatusChanged,
}
