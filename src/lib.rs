//! aeo-registry: a federated registry of Authorized Economic Operators and mutual recognition
//! arrangements. `main.rs` is a thin command line over this library; tests build the same
//! application through [`start`] and [`serve`].

pub(crate) mod api;
pub(crate) mod app;
pub(crate) mod auth;
pub mod bootstrap;
pub(crate) mod cache;
pub mod config;
pub mod demo;
pub mod error;
pub mod federation;
pub mod hostile;
pub(crate) mod idle;
pub(crate) mod recognition;
pub(crate) mod server;
pub mod service;
pub mod store;
pub(crate) mod web;
pub(crate) mod wire;

use std::future::Future;

pub use app::AppState;
pub use config::Settings;

/// The cores this process may run on (2 when the system cannot tell): what the pools and slots
/// sized by the machine are sized by.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Connects, migrates and prepares the application.
pub async fn start(settings: Settings) -> anyhow::Result<AppState> {
    AppState::start(settings).await
}

/// Serves HTTP on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = federation::start_workers(&state, &stopped);
    workers.push(tokio::spawn(cache::follow_other_processes(state.clone(), stopped.clone())));
    let (app, stop_checkpoints) = (state.clone(), stopped.clone());
    workers.push(tokio::spawn(async move { app.store.checkpoint_in_background(stop_checkpoints).await }));
    workers.push(tokio::spawn(forget_quiet_clients(state.clone(), stopped.clone())));
    let limits = server::Limits::new(
        state.settings.max_connections,
        std::time::Duration::from_secs(state.settings.header_read_timeout),
    );
    let drain = std::time::Duration::from_secs(state.settings.request_timeout);
    let router = api::router(state);
    let served = server::serve(listener, router, limits, shutdown, drain).await;
    let _ = stop.send(true);
    for worker in workers {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), worker).await;
    }
    served
}

/// Every minute, the public check's rate limiter forgets the clients it has not seen lately,
/// so that its memory follows the clients of the last minute, not every client ever seen.
async fn forget_quiet_clients(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
        state.public_limiter.retain_recent();
        state.public_limiter.shrink_to_fit();
    }
}
