//! What a trader sees: its certificates and where each is recognised.

use aeo_domain::{AdministrationCode, Reason};
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{Caller, UserRole};
use crate::error::{ApiError, ApiResult, Problem};
use crate::recognition::decide;
use crate::store::certificates::{self, Certificate};
use crate::store::mras;

#[derive(Serialize, ToSchema)]
pub struct Recognition {
    pub at: String,
    pub recognized: bool,
    #[schema(value_type = Vec<String>)]
    pub reasons: Vec<Reason>,
}

#[derive(Serialize, ToSchema)]
pub struct TraderCertificate {
    #[serde(flatten)]
    pub certificate: Certificate,
    pub recognition: Vec<Recognition>,
}

/// The certificates held under the caller's identifier, each with its recognition at every
/// administration that has an MRA record with the issuer.
#[utoipa::path(get, path = "/api/v1/me/certificates", tag = "traders", security(("bearer" = [])),
    responses((status = 200, body = Vec<TraderCertificate>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn my_certificates(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TraderCertificate>>> {
    let (UserRole::Trader, Some(identifier)) = (caller.role, caller.operator.as_ref()) else {
        return Err(ApiError::Forbidden);
    };
    let db = &app.store.db;
    let today = certificates::today();
    let mut out = Vec::new();
    for certificate in certificates::find_by_identifier(db, None, identifier).await? {
        let issuer =
            AdministrationCode::parse(&certificate.administration).map_err(anyhow::Error::msg)?;
        let mut recognition = Vec::new();
        for (at, mra) in mras::records_with_partner(db, issuer.as_str()).await? {
            let at = AdministrationCode::parse(&at).map_err(anyhow::Error::msg)?;
            let answer = decide(
                &at,
                &issuer,
                std::slice::from_ref(&certificate),
                Some(&mra),
                today,
            );
            recognition.push(Recognition {
                at: answer.at,
                recognized: answer.recognized,
                reasons: answer.reasons,
            });
        }
        out.push(TraderCertificate {
            certificate,
            recognition,
        });
    }
    Ok(Json(out))
}
