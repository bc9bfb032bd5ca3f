//! `/check`: the public check, for anyone, without signing in.

use std::net::SocketAddr;

use aeo_domain::{AdministrationCode, CertificateNumber};
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::page::{Chrome, PageError};
use crate::app::AppState;
use crate::service::public::{self, PublicFacts};
use crate::service::{ServiceError, administrations};
use crate::store::administrations::Administration;

#[derive(Deserialize)]
pub struct CheckQuery {
    administration: Option<String>,
    number: Option<String>,
}

#[derive(Template)]
#[template(path = "check.html")]
struct CheckPage {
    chrome: Chrome,
    administrations: Vec<Administration>,
    administration: String,
    number: String,
    /// Asked and answered: the facts, or `None` when there is no such certificate.
    answer: Option<Option<PublicFacts>>,
}

/// `GET /check?administration=&number=`
pub async fn page(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    chrome: Chrome,
    Query(query): Query<CheckQuery>,
) -> Result<Response, PageError> {
    let administrations = administrations::list(&app).await.map_err(|error| chrome.service_failed(error))?;
    let administration = query.administration.unwrap_or_default().trim().to_uppercase();
    let number = query.number.unwrap_or_default().trim().to_owned();
    let mut answer = None;
    if !administration.is_empty() && !number.is_empty() {
        public::admit(&app, client.ip()).map_err(|error| chrome.service_failed(error))?;
        let code = AdministrationCode::parse(&administration);
        let parsed = CertificateNumber::parse(&super::border::as_typed(&number));
        answer = Some(match (code, parsed) {
            (Ok(code), Ok(parsed)) => match public::check(&app, &code, &parsed).await {
                Ok(facts) => facts,
                Err(ServiceError::NotFound) => None,
                Err(error) => return Err(chrome.service_failed(error)),
            },
            _ => None,
        });
    }
    let status = if matches!(answer, Some(None)) { StatusCode::NOT_FOUND } else { StatusCode::OK };
    let page = CheckPage { chrome, administrations, administration, number, answer };
    Ok(page.chrome.render(status, &page))
}
