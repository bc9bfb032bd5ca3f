//! What a trader may know: the certificates that the administration which registered the
//! account holds under the trader's identifier, and where each is recognised, asked of every
//! partner on another node.

use aeo_domain::{AdministrationCode, OperatorId, Reason};
use futures_util::future::join_all;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ServiceResult;
use crate::app::AppState;
use crate::federation::client::{CallError, FailureKind, read};
use crate::federation::jose;
use crate::federation::protocol::RecognitionAnswer;
use crate::federation::remote::{answer_refused, call_peer, url_encode};
use crate::recognition::{Candidate, decide};
use crate::store::certificates::{self, Certificate};
use crate::store::{administrations, mras, peers};

/// A certificate's recognition at one administration.
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

/// What a partner's signed recognition answer says, of what the trader is shown.
#[derive(Deserialize)]
struct PartnerVerdict {
    recognized: bool,
    #[serde(default)]
    reasons: Vec<Reason>,
}

/// The certificates `vouched_by` holds under `identifier`: only what the administration that
/// registered the account certified, for the same identifier at another administration may
/// belong to someone the account was never checked against.
pub async fn certificates_of(
    app: &AppState,
    vouched_by: &AdministrationCode,
    identifier: &OperatorId,
) -> ServiceResult<Vec<Certificate>> {
    Ok(certificates::find_by_identifier(&app.store.db, Some(vouched_by.as_str()), identifier).await?)
}

/// Where `certificate` is recognised: at every administration hosted here that has an MRA
/// record with its issuer, decided here, and at every partner of the issuer on another node,
/// asked of that node (all at once), which answers signed.
pub async fn recognition_of(app: &AppState, certificate: &Certificate) -> ServiceResult<Vec<Recognition>> {
    let db = &app.store.db;
    let issuer = AdministrationCode::parse(&certificate.administration).map_err(anyhow::Error::msg)?;
    let today = certificates::today();
    let mut recognition = Vec::new();
    for (at, mra) in mras::records_with_partner(db, issuer.as_str()).await? {
        let at = AdministrationCode::parse(&at).map_err(anyhow::Error::msg)?;
        let answer = decide(&at, &issuer, vec![Candidate::from(certificate)], Some(&mra), today);
        recognition.push(Recognition {
            at: answer.at,
            recognized: answer.recognized,
            reasons: answer.reasons,
            source: TraderSource::Local,
            failure: None,
        });
    }
    let mut remote = Vec::new();
    for mra in mras::list(db, issuer.as_str()).await? {
        if administrations::find(db, &mra.partner).await?.is_some() {
            continue; // Hosted here: decided above.
        }
        if let Some(registration) = peers::find(db, issuer.as_str(), &mra.partner).await? {
            remote.push(registration);
        }
    }
    let asked = remote.iter().map(|registration| ask_partner(app, registration, &certificate.number));
    recognition.extend(join_all(asked).await);
    Ok(recognition)
}

/// Asks the partner of `registration` whether it recognises the certificate `number` of the
/// registration's administration.
async fn ask_partner(app: &AppState, registration: &peers::Peer, number: &str) -> Recognition {
    let (issuer, partner) = (registration.administration.as_str(), registration.peer.as_str());
    let path = format!("/recognition?issuer={issuer}&certificate={}", url_encode(number));
    let asked = async {
        let (_, body) = call_peer(app, registration, Method::GET, &path, None).await?;
        let read = || {
            let signed: RecognitionAnswer = read(body)?;
            let claims = jose::verify_answer(&signed.answer, partner, issuer, &registration.jwks)
                .map_err(|error| CallError::Unverified(error.to_string()))?;
            serde_json::from_value::<PartnerVerdict>(serde_json::Value::Object(claims.answer))
                .map_err(|error| CallError::Unverified(format!("not a recognition answer: {error}")))
        };
        read().inspect_err(|error| answer_refused(app, registration, &path, error))
    };
    match asked.await {
        Ok(verdict) => Recognition {
            at: partner.to_owned(),
            recognized: verdict.recognized,
            failure: verdict.reasons.contains(&Reason::IssuerUnreachable).then_some(FailureKind::IssuerUnreachable),
            reasons: verdict.reasons,
            source: TraderSource::Peer,
        },
        Err(error) => Recognition {
            at: partner.to_owned(),
            recognized: false,
            reasons: vec![Reason::IssuerUnreachable],
            source: TraderSource::Unreachable,
            failure: Some(error.kind()),
        },
    }
}
