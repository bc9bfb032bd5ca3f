//! The public check: anyone may confirm a certificate's status, rate-limited per client. Only
//! the number, administration, status, category, expiry, and the operator's name where it
//! consented, are shown.

use std::net::SocketAddr;

use aeo_domain::{AdministrationCode, CertificateNumber, Status};
use axum::extract::{ConnectInfo, Path, State};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::HotJson;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::store::certificates;

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
    if let Err(not_until) = app.public_limiter.check_key(&crate::auth::throttle::client_of(client.ip())) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        return Err(ApiError::TooManyRequests { retry_after_secs: wait.as_secs().max(1) });
    }
    let code = AdministrationCode::parse(&code).map_err(|message| ApiError::field("code", message))?;
    let number = CertificateNumber::parse(&number).map_err(|_| ApiError::NotFound)?;
    let certificate =
        app.hot.certificates.summary(&app.store, code.as_str(), number.as_str()).await?.ok_or(ApiError::NotFound)?;
    let status = Status::effective(certificate.stored_status, certificate.valid_until, certificates::today());
    Ok(HotJson(PublicCertificate {
        operator_name: certificate.public.then(|| certificate.operator_name.to_string()),
        number: number.as_str().to_owned(),
        administration: code.as_str().to_owned(),
        status: status.as_str().to_owned(),
        category: certificate.category.as_str().to_owned(),
        valid_until: certificate.valid_until,
    }))
}
