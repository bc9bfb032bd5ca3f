//! The administration's peers: the keys pinned for each (thumbprints to compare out of band), a
//! key change waiting for consent, what the peer announced, the delivery backlog, the last
//! exchange and the last error; and this administration's own keys, for partners to compare.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::auth::{ManageAdministration, Permission};
use crate::federation::keys::KeyInfo;
use crate::service::ServiceError;
use crate::service::peers::{self, PeerStatus, thumbprints};
use crate::web::page::{Chrome, CsrfForm, PageError};

/// A peer as the page shows it.
struct PeerRow {
    status: PeerStatus,
    pinned: Vec<String>,
    /// Thumbprints of keys a re-fetch found that are not pinned yet: to accept, or not.
    pending: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/peers.html")]
struct PeersPage {
    chrome: Chrome,
    peers: Vec<PeerRow>,
    own_keys: Vec<KeyInfo>,
    /// What went wrong accepting a key change, if it did.
    problem: Option<String>,
}

/// `GET /admin/peers`
pub async fn list(State(app): State<AppState>, chrome: Chrome) -> Result<Response, PageError> {
    render(&app, chrome, None, StatusCode::OK).await
}

async fn render(
    app: &AppState,
    chrome: Chrome,
    problem: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (_, at) = chrome.tenant(ManageAdministration::ROLES)?;
    let listed = peers::list(app, at.as_str()).await.map_err(|error| chrome.service_failed(error))?;
    let own_keys = peers::signing_keys(app, at.as_str()).await.map_err(|error| chrome.service_failed(error))?;
    let peers = listed
        .into_iter()
        .map(|status| {
            let pinned = thumbprints(&status.peer.jwks);
            let pending = status
                .peer
                .pending_jwks
                .as_ref()
                .map(|pending| thumbprints(pending).difference(&pinned).cloned().collect())
                .unwrap_or_default();
            PeerRow { pinned: pinned.into_iter().collect(), pending, status }
        })
        .collect();
    let page = PeersPage { chrome, peers, own_keys, problem };
    Ok(page.chrome.render(status, &page))
}

/// `POST /admin/peers/{peer}/accept`: consent to the pending keys, listed by thumbprint as the
/// page showed them (a change that differs from what was shown is refused).
pub async fn accept(
    State(app): State<AppState>,
    chrome: Chrome,
    Path(peer): Path<String>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (caller, at) = chrome.tenant(ManageAdministration::ROLES)?;
    let consent: Vec<String> =
        fields.into_iter().filter(|(name, _)| name == "thumbprints").map(|(_, value)| value).collect();
    match peers::accept_keys(&app, at.as_str(), &caller.email, &peer, &consent).await {
        Ok(_) => Ok(Redirect::to("/admin/peers").into_response()),
        Err(ServiceError::Conflict(message)) => render(&app, chrome, Some(message), StatusCode::CONFLICT).await,
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>();
            render(&app, chrome, Some(message.join("; ")), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(error) => Err(chrome.service_failed(error)),
    }
}
