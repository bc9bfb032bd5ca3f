//! The public check over the API (`service::public`).

use std::net::SocketAddr;

use aeo_domain::{AdministrationCode, CertificateNumber};
use axum::extract::{ConnectInfo, Path, State};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::HotJson;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::public;

#[derive(Serialize, ToSchema)]
pub struct PublicCertificate {
    pub number: String,
    pub administration: String,
    pub status: String,
    pub category: String,
    pub valid_until: NaiveDate,
    /// Only where the operator consented to publication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_name: Option<String>,
}

/// Confirm a certificate's status without logging in.
#[utoipa::path(get, path = "/api/v1/public/administrations/{code}/certificates/{number}", tag = "public",
    params(("code" = String, Path), ("number" = String, Path)),
    responses((status = 200, body = PublicCertificate), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn public_check(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path((code, number)): Path<(String, String)>,
) -> ApiResult<HotJson<PublicCertificate>> {
    public::admit(&app, client.ip())?;
    let code = AdministrationCode::parse(&code).map_err(|message| ApiError::field("code", message))?;
    let number = CertificateNumber::parse(&number).map_err(|_| ApiError::NotFound)?;
    let facts = public::check(&app, &code, &number).await?.ok_or(ApiError::NotFound)?;
    Ok(HotJson(PublicCertificate {
        number: facts.number,
        administration: facts.administration,
        status: facts.status.as_str().to_owned(),
        category: facts.category.as_str().to_owned(),
        valid_until: facts.valid_until,
        operator_name: facts.operator_name,
    }))
}
