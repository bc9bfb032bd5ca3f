//! `/trader`: a trader's certificates, where each is recognised (asked of every partner's
//! registry, as the API's `/me/certificates`) and each one's history.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::future::try_join_all;

use super::page::{Chrome, PageError};
use crate::app::AppState;
use crate::auth::UserRole;
use crate::federation::client::FailureKind;
use crate::service::traders::{self, Recognition, TraderSource};
use crate::service::{ServiceResult, certificates};
use crate::store::certificates::{Certificate, HistoryEntry};

/// One of the trader's certificates, where it is recognised, and what happened to it.
struct Held {
    certificate: Certificate,
    recognition: Vec<Recognition>,
    history: Vec<HistoryEntry>,
}

#[derive(Template)]
#[template(path = "trader.html")]
struct TraderPage {
    chrome: Chrome,
    held: Vec<Held>,
}

impl TraderPage {
    /// Why a partner's answer is missing, in words.
    fn failure(&self, recognition: &Recognition) -> Option<&'static str> {
        let t = self.chrome.t;
        match recognition.failure? {
            FailureKind::PartnerUnreachable | FailureKind::Local => Some(t.partner_unreachable),
            FailureKind::PartnerRefused => Some(t.partner_refused),
            FailureKind::AnswerUnverified => Some(t.answer_unverified),
            FailureKind::IssuerUnreachable => None, // Its reason says it.
        }
    }

    fn asked_there(&self, recognition: &Recognition) -> bool {
        recognition.source == TraderSource::Peer
    }
}

/// `GET /trader`
pub async fn page(State(app): State<AppState>, chrome: Chrome) -> Result<Response, PageError> {
    let caller = chrome.require(&[UserRole::Trader])?;
    let held = match (caller.vouched_by.as_ref(), caller.operator.as_ref()) {
        // Only what the administration that vouched for the account certified (see the API).
        (Some(vouched_by), Some(identifier)) => {
            let found = traders::certificates_of(&app, vouched_by, identifier).await;
            let found = found.map_err(|error| chrome.service_failed(error))?;
            try_join_all(found.into_iter().map(|certificate| held(&app, certificate)))
                .await
                .map_err(|error| chrome.service_failed(error))?
        }
        _ => Vec::new(),
    };
    let page = TraderPage { chrome, held };
    Ok(page.chrome.render(StatusCode::OK, &page))
}

async fn held(app: &AppState, certificate: Certificate) -> ServiceResult<Held> {
    let (recognition, history) = tokio::try_join!(
        traders::recognition_of(app, &certificate),
        certificates::history(app, &certificate.administration, &certificate.number),
    )?;
    Ok(Held { certificate, recognition, history })
}
