//! `/admin`: the customs administration's pages. Each shows only what the signed-in role may
//! do; the services check again, as for the API.

mod certificates;
mod import;

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
}

/// The routes that take a file to import: larger bodies, and the import's time.
pub fn import_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/import", post(import::preview))
        .route("/admin/import/apply", post(import::apply))
        .layer(DefaultBodyLimit::max(import::PAGE_IMPORT_LIMIT * 3))
}

/// What an action just did, said on the page it leads back to (`?done=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    Created,
    Saved,
    StatusChanged,
}
