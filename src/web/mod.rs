//! The web pages, for people who will never write `curl`: the border officer (`/border`), the
//! trader (`/trader`), the customs administration (`/admin`) and anyone (`/check`). Pages are
//! rendered on the server (askama, every output escaped) and need no script; they call the same
//! services as the API and never touch the store. Sessions, CSRF tokens and the language are in
//! [`page`]; assets are built into the binary ([`assets`]).

mod admin;
pub(crate) mod assets;
mod border;
mod check;
pub(crate) mod i18n;
mod page;
mod sign_in;
mod trader;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

use crate::api::timeout_after;
use crate::app::AppState;

/// Every page, and the assets they use; a request times out after `timeout`, an import after
/// `import_timeout`.
pub fn routes(timeout: Duration, import_timeout: Duration) -> Router<AppState> {
    Router::new()
        .route("/", get(sign_in::home))
        .route("/login", get(sign_in::form).post(sign_in::sign_in))
        .route("/logout", post(sign_in::sign_out))
        .route("/check", get(check::page))
        .route("/border", get(border::page))
        .route("/trader", get(trader::page))
        .route("/assets/{name}", get(assets::serve))
        .merge(admin::routes())
        .layer(timeout_after(timeout))
        .merge(admin::import_routes().layer(timeout_after(import_timeout)))
}
