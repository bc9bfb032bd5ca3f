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

/// How long readiness may take: a load balancer that waits longer for it than for a request
/// keeps sending requests to a node that cannot answer them.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// 200 when this process has heard from the database lately, the database answers now, and it
/// takes writes again if the last one failed; else 503, within a second.
async fn ready(State(app): State<AppState>) -> Result<&'static str, ApiError> {
    let store = &app.store;
    let answered = tokio::time::timeout(READY_WITHIN, store.ready()).await;
    match answered {
        Ok(Ok(())) if store.health.heard_recently() => Ok("ready"),
        _ => Err(ApiError::database_unavailable()),
    }
}
