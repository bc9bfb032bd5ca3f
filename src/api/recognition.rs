//! The border question, asked at an administration.

use aeo_domain::{AdministrationCode, CertificateNumber, FieldError, OperatorId};
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{ApiQuery, HotJson};
use crate::app::AppState;
use crate::auth::{ReadRegistry, Tenant};
use crate::error::{ApiError, ApiResult, Problem};
use crate::recognition::{self, Answer, Subject};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecognitionQuery {
    /// The administration that issued the certificate, e.g. `CL`.
    pub issuer: Option<String>,
    /// The certificate number; or give `identifier`.
    pub certificate: Option<String>,
    /// The operator's identifier as `SCHEME:VALUE`; or give `certificate`.
    pub identifier: Option<String>,
}

/// Parses the question; every missing or invalid part is named.
pub fn parse_question(query: &RecognitionQuery) -> ApiResult<(AdministrationCode, Subject)> {
    let mut errors = Vec::new();
    let issuer = match query.issuer.as_deref() {
        None | Some("") => {
            errors.push(FieldError::new("issuer", "is required"));
            None
        }
        Some(raw) => {
            AdministrationCode::parse(raw).map_err(|message| errors.push(FieldError::new("issuer", message))).ok()
        }
    };
    let subject = match (
        query.certificate.as_deref().filter(|s| !s.is_empty()),
        query.identifier.as_deref().filter(|s| !s.is_empty()),
    ) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new("certificate", "give either certificate or identifier, not both"));
            None
        }
        (Some(number), None) => CertificateNumber::parse(number)
            .map(Subject::Certificate)
            .map_err(|message| errors.push(FieldError::new("certificate", message)))
            .ok(),
        (None, Some(pair)) => OperatorId::parse_pair(pair)
            .map(Subject::Identifier)
            .map_err(|error| errors.push(FieldError::new("identifier", error.to_string())))
            .ok(),
        (None, None) => {
            errors.push(FieldError::new("certificate", "give certificate or identifier"));
            None
        }
    };
    match (issuer, subject) {
        (Some(issuer), Some(subject)) if errors.is_empty() => Ok((issuer, subject)),
        _ => Err(ApiError::Invalid(errors)),
    }
}

/// Is this certificate (or this operator's certificate) of the issuer recognised here, now?
#[utoipa::path(get, path = "/api/v1/administrations/{code}/recognition", tag = "recognition", security(("bearer" = [])),
    params(("code" = String, Path), RecognitionQuery),
    responses((status = 200, body = Answer), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn ask_recognition(
    State(app): State<AppState>,
    tenant: Tenant<ReadRegistry>,
    ApiQuery(query): ApiQuery<RecognitionQuery>,
) -> ApiResult<HotJson<Answer>> {
    let (issuer, subject) = parse_question(&query)?;
    Ok(HotJson(recognition::answer(&app, &tenant.code, &issuer, &subject).await?))
}
