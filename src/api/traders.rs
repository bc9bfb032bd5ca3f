//! What a trader sees: its certificates and where each is recognised.

use aeo_domain::{AdministrationCode, Reason};
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{Caller, UserRole};
use crate::error::{ApiError, ApiResult, Problem};
use crate::federation::client::{CallError, FailureKind, read};
use crate::federation::jose;
use crate::federation::protocol::RecognitionAnswer;
use crate::federation::remote::{answer_refused, call_peer, url_encode};
use crate::recognition::{Candidate, decide};
use crate::store::certificates::{self, Certificate};
use crate::store::{administrations, mras, peers};
use reqwest::Method;

#[derive(Serialize, ToSchema)]
pub struct Recognition {
    pub at: String,
    pub recognized: bool,
    #[schema(value_type = Vec<String>)]
    pub reasons: Vec<Reason>,
    pub source: TraderSource,
    /// Why the partner's answer is missing or incomplete: it could not be reached, refused,
    /// gave an answer that did not verify, or said it could not reach the issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureKind>,
}

/// Where a trader's recognition at one partner came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraderSource {
    /// The partner is hosted on this node.
    Local,
    /// The partner's node answered, signed.
    Peer,
    /// The partner's node gave no usable answer (`failure` says why).
    Unreachable,
}

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
    let db = &app.store.db;
    let today = certificates::today();
    let mut out = Vec::new();
    for certificate in certificates::find_by_identifier(db, Some(vouched_by.as_str()), identifier).await? {
        let issuer = AdministrationCode::parse(&certificate.administration).map_err(anyhow::Error::msg)?;
        let mut recognition = Vec::new();
        for (at, mra) in mras::records_with_partner(db, issuer.as_str()).await? {
            let at = AdministrationCode::parse(&at).map_err(anyhow::Error::msg)?;
            let answer = decide(&at, &issuer, vec![Candidate::from(&certificate)], Some(&mra), today);
            recognition.push(Recognition {
                at: answer.at,
                recognized: answer.recognized,
                reasons: answer.reasons,
                source: TraderSource::Local,
                failure: None,
            });
        }
        recognition.extend(ask_partners(&app, &issuer, &certificate.number).await?);
        out.push(TraderCertificate { certificate, recognition });
    }
    Ok(Json(Paged::of(out, &page)?))
}

/// Asks each partner on another node with which the issuer has an MRA record whether it
/// recognises the certificate; the partner answers signed.
async fn ask_partners(app: &AppState, issuer: &AdministrationCode, number: &str) -> ApiResult<Vec<Recognition>> {
    let db = &app.store.db;
    let mut out = Vec::new();
    for mra in mras::list(db, issuer.as_str()).await? {
        if administrations::find(db, &mra.partner).await?.is_some() {
            continue; // Hosted here: answered locally above.
        }
        let Some(registration) = peers::find(db, issuer.as_str(), &mra.partner).await? else { continue };
        let path = format!("/recognition?issuer={}&certificate={}", issuer.as_str(), url_encode(number));
        let asked = async {
            let (_, body) = call_peer(app, &registration, Method::GET, &path, None).await?;
            let read = || {
                let signed: RecognitionAnswer = read(body)?;
                jose::verify_answer(&signed.answer, &mra.partner, issuer.as_str(), &registration.jwks)
                    .map_err(|error| CallError::Unverified(error.to_string()))
            };
            read().inspect_err(|error| answer_refused(app, &registration, &path, error))
        };
        out.push(match asked.await {
            Ok(claims) => {
                let reasons: Vec<Reason> = claims
                    .answer
                    .get("reasons")
                    .cloned()
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default();
                Recognition {
                    at: mra.partner.clone(),
                    recognized: claims.answer.get("recognized").and_then(|v| v.as_bool()).unwrap_or(false),
                    failure: reasons.contains(&Reason::IssuerUnreachable).then_some(FailureKind::IssuerUnreachable),
                    reasons,
                    source: TraderSource::Peer,
                }
            }
            Err(error) => Recognition {
                at: mra.partner.clone(),
                recognized: false,
                reasons: vec![Reason::IssuerUnreachable],
                source: TraderSource::Unreachable,
                failure: Some(error.kind()),
            },
        });
    }
    Ok(out)
}
