//! The public check: anyone may confirm a certificate's status, rate-limited per client. Only
//! the number, administration, status, category, expiry, and the operator's name where it
//! consented, are shown. The API's `GET /public/...` and the `/check` page ask here.

use std::net::IpAddr;

use aeo_domain::{AdministrationCode, Category, CertificateNumber, Status};
use chrono::NaiveDate;

use super::{ServiceError, ServiceResult};
use crate::app::App;
use crate::store::certificates;

/// What anyone may know of a certificate.
pub struct PublicFacts {
    pub number: String,
    pub administration: String,
    /// As of today (an expired certificate says so).
    pub status: Status,
    pub category: Category,
    pub valid_until: NaiveDate,
    /// Only where the operator consented to publication.
    pub operator_name: Option<String>,
}

/// Counts one check for `client`; refused when it asked too often of late.
pub fn admit(app: &App, client: IpAddr) -> ServiceResult<()> {
    app.public_limiter.check_key(&crate::auth::throttle::client_of(client)).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        ServiceError::Throttled { retry_after_secs: wait.as_secs().max(1) }
    })
}

/// The public facts of `code`'s certificate `number`, if there is one.
pub async fn check(
    app: &App,
    code: &AdministrationCode,
    number: &CertificateNumber,
) -> ServiceResult<Option<PublicFacts>> {
    let Some(certificate) = app.hot.certificates.summary(&app.store, code.as_str(), number.as_str()).await? else {
        return Ok(None);
    };
    Ok(Some(PublicFacts {
        number: number.as_str().to_owned(),
        administration: code.as_str().to_owned(),
        status: Status::effective(certificate.stored_status, certificate.valid_until, certificates::today()),
        category: certificate.category,
        valid_until: certificate.valid_until,
        operator_name: certificate.public.then(|| certificate.operator_name.to_string()),
    }))
}
