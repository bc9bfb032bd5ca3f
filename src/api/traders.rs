//! What a trader sees: its certificates and where each is recognised.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{Caller, UserRole};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::traders::{self, Recognition};
use crate::store::certificates::Certificate;

#[derive(Serialize, ToSchema)]
pub struct TraderCertificate {
    #[serde(flatten)]
    pub certificate: Certificate,
    pub recognition: Vec<Recognition>,
}

/// The caller's certificates, each with its recognition.
///
/// The certificates held under the caller's identifier at the administration that registered
/// the account, each with its recognition at every administration that has an MRA record with
/// the issuer.
#[utoipa::path(get, path = "/api/v1/me/certificates", tag = "traders", security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = Paged<TraderCertificate>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn my_certificates(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<TraderCertificate>>> {
    let (UserRole::Trader, Some(identifier)) = (caller.role, caller.operator.as_ref()) else {
        return Err(ApiError::Forbidden);
    };
    // Only what the administration that vouched for the account certified: the same identifier
    // at other administrations may belong to someone this account was never checked against.
    let Some(vouched_by) = caller.vouched_by.as_ref() else {
        return Ok(Json(Paged::of(Vec::new(), &page)?));
    };
    // Only the page is asked about: every certificate asks every partner.
    let Paged { items: certificates, next_cursor } =
        Paged::of(traders::certificates_of(&app, vouched_by, identifier).await?, &page)?;
    let mut items = Vec::with_capacity(certificates.len());
    for certificate in certificates {
        let recognition = traders::recognition_of(&app, &certificate).await?;
        items.push(TraderCertificate { certificate, recognition });
    }
    Ok(Json(Paged { items, next_cursor }))
}
