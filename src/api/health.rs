//! Liveness and readiness for load balancers and orchestrators.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::app::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready))
}

/// 200 while the process runs.
async fn health() -> &'static str {
    "ok"
}

/// 200 when the database answers, else 503.
async fn ready(State(app): State<AppState>) -> Result<&'static str, ApiError> {
    if app.store.ping().await { Ok("ready") } else { Err(ApiError::database_unavailable()) }
}
