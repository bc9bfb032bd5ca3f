//! The border question about an issuer hosted on another node: from a fresh held answer, else
//! by asking the issuer now, else from what the mirror last knew, marked stale. A stale answer
//! is never "recognised" once past freshness plus the configured maximum staleness.

use std::sync::Arc;

use aeo_domain::freshness::{self, Verdict};
use aeo_domain::{AdministrationCode, Reason};
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{CallError, read};
use super::jose::{self, StatementClaims};
use super::protocol::StatementsAnswer;
use crate::app::AppState;
use crate::recognition::{Answer, Candidate, Source, Subject, decide};
use crate::service::ServiceResult;
use crate::service::later::Deferred;
use crate::store::mirror::{self, Followed, Held, Origin};
use crate::store::peers::Peer;
use crate::store::{audit, certificates};

pub async fn answer(
    app: &AppState,
    at: &AdministrationCode,
    issuer: &AdministrationCode,
    subject: &Subject,
) -> ServiceResult<Answer> {
    let db = &app.store.db;
    let now = Utc::now();
    let today = certificates::today();
    // Only what `at` itself was told by the issuer, verified with the keys `at` pinned.
    let followed = Followed::new(at.as_str(), issuer.as_str());
    let mra = app.hot.mra(db, at.as_str(), issuer.as_str()).await?;
    let state = app.hot.held.state(db, followed).await?;
    let held: Vec<Arc<Held>> = match subject {
        Subject::Certificate(number) => app.hot.held.find(db, followed, number.as_str()).await?.into_iter().collect(),
        Subject::Identifier(id) => {
            mirror::find_by_identifier(db, followed, id).await?.into_iter().map(Arc::new).collect()
        }
    };
    let found: Vec<DateTime<Utc>> = held.iter().map(|h| h.statement_exp).collect();
    let allowance = Duration::seconds(i64::try_from(app.settings.max_staleness).unwrap_or(0));
    let verdict = freshness::judge(&found, state.current_until(), now, allowance);
    let from_held = |stale: bool| {
        let mut answer = decide(at, issuer, candidates(&held), mra.as_deref(), today);
        answer.source = if !held.is_empty() && held.iter().all(|h| h.origin == Origin::Live) {
            Source::Cache
        } else {
            Source::Mirror
        };
        answer.as_of = held.iter().map(|h| h.statement_iat).chain(state.checkpoint_iat).max().unwrap_or(now);
        answer.stale = stale;
        answer
    };

    // 1. A fresh held answer for every certificate found.
    if !held.is_empty() && verdict == Verdict::Fresh {
        return Ok(from_held(false));
    }

    // 2. Ask the issuer now, when this administration has registered it. Nothing held is asked
    //    too: a certificate issued a moment ago may not have been pushed yet.
    if let Some(registration) = app.hot.peer(db, at.as_str(), issuer.as_str()).await? {
        match ask_live(app, &registration, subject).await {
            Ok(found) => {
                let live: Vec<Candidate> = found.iter().map(|(_, claims)| Candidate::from(claims)).collect();
                // Kept in the mirror in the background: the border does not wait for the writer.
                let trusted_for = app.settings.statement_ttl_secs();
                let news: Vec<(String, StatementClaims)> =
                    found.into_iter().filter(|(_, claims)| tells_the_mirror(&held, claims, trusted_for, now)).collect();
                if !news.is_empty() {
                    app.later.defer(Deferred::Live {
                        administration: at.as_str().to_owned(),
                        issuer: issuer.as_str().to_owned(),
                        statements: news,
                        trusted_for,
                    });
                }
                let mut answer = decide(at, issuer, live, mra.as_deref(), today);
                answer.source = Source::Peer;
                return Ok(answer);
            }
            Err(error) => tracing::warn!(%issuer, %error, "issuer unreachable; answering from the mirror"),
        }
    }

    // 3. Nothing held, but the mirror is current: "not found" is the mirror's answer.
    let Verdict::Stale { recognisable } = verdict else {
        return Ok(from_held(false));
    };

    // 4. What the mirror last knew, stale: never "recognised" past freshness plus the allowance.
    let mut answer = from_held(true);
    if held.is_empty() {
        // Nothing known: "not found" would be a guess.
        answer.reasons.retain(|reason| *reason != Reason::CertificateNotFound);
    }
    if !recognisable {
        answer.reasons.push(Reason::IssuerUnreachable);
        answer.reasons.sort();
        answer.reasons.dedup();
    }
    answer.recognized = answer.reasons.is_empty();
    Ok(answer)
}

/// Whether a statement asked live tells the mirror something: a change it does not hold, or
/// freshness. One already stale when it came (an issuer whose statements are fresh for no
/// time), of a change the mirror holds, could make no answer fresh: it is not worth a write.
fn tells_the_mirror(held: &[Arc<Held>], claims: &StatementClaims, trusted_for: i64, now: DateTime<Utc>) -> bool {
    mirror::fresh_until(claims.iat, claims.exp, trusted_for) > now
        || !held.iter().any(|h| h.claims.sub == claims.sub && h.claims.seq >= claims.seq)
}

fn candidates(held: &[Arc<Held>]) -> Vec<Candidate> {
    held.iter().map(|h| Candidate::from(&h.claims)).collect()
}

/// Makes an authenticated call from `from` to the peer, recording it and its outcome.
pub async fn call_peer(
    app: &AppState,
    registration: &Peer,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), CallError> {
    let from = registration.administration.as_str();
    let key = app.federation.keyring.active(&app.store.db, from).await.map_err(|e| CallError::Local(e.to_string()))?;
    let assertion =
        jose::sign_assertion(&key, from, &registration.peer).map_err(|e| CallError::Local(e.to_string()))?;
    let url = registration.endpoint(path);
    let circuit = registration.circuit();
    let result = app.federation.client.call(Some(&circuit), method.clone(), &url, Some(&assertion), body).await;
    let outcome = match &result {
        Ok((status, _)) => json!({"status": status.as_u16()}),
        Err(error) => {
            tracing::info!(peer = %registration.peer, by = from, %error, "a call to a peer failed");
            json!({"error": error.public(), "failure": error.kind()})
        }
    };
    app.later.defer(Deferred::Audit(audit::Entry {
        administration: Some(from.to_owned()),
        actor: "system".into(),
        action: "federation.called".into(),
        target: format!("{} {}{path}", method, registration.peer),
        details: outcome,
    }));
    app.later.defer(Deferred::PeerOutcome {
        administration: from.to_owned(),
        peer: registration.peer.clone(),
        error: result.as_ref().err().map(CallError::public),
    });
    result
}

/// Notes that an answer `registration`'s peer gave to `path` was refused here: in the log, in
/// the audit log of the administration that asked, and as the peer's last error.
pub fn answer_refused(app: &AppState, registration: &Peer, path: &str, error: &CallError) {
    let from = registration.administration.as_str();
    tracing::warn!(peer = %registration.peer, by = from, path, %error, "a peer's answer was refused");
    app.later.defer(Deferred::Audit(audit::Entry {
        administration: Some(from.to_owned()),
        actor: "system".into(),
        action: "federation.answer_refused".into(),
        target: format!("GET {}{path}", registration.peer),
        details: json!({"error": error.public(), "failure": error.kind()}),
    }));
    app.later.defer(Deferred::PeerOutcome {
        administration: from.to_owned(),
        peer: registration.peer.clone(),
        error: Some(error.public()),
    });
}

/// Asks the issuer for the statements of the subject; every one is verified, and must be of
/// the certificate asked about. Questions by number are asked together with others waiting for
/// the same issuer (`batch`).
async fn ask_live(
    app: &AppState,
    registration: &Arc<Peer>,
    subject: &Subject,
) -> Result<Vec<(String, StatementClaims)>, CallError> {
    let (path, tokens) = match subject {
        Subject::Certificate(number) => {
            let token = app.federation.batches.statement(app, registration, number.as_str()).await?;
            (format!("/certificates/{}", number.as_str()), token.into_iter().collect())
        }
        Subject::Identifier(id) => {
            let path = format!("/certificates?identifier={}", url_encode(&id.to_pair()));
            let (status, body) = call_peer(app, registration, Method::GET, &path, None).await?;
            let tokens = if status == StatusCode::NOT_FOUND {
                Vec::new()
            } else {
                read::<StatementsAnswer>(body)
                    .inspect_err(|error| answer_refused(app, registration, &path, error))?
                    .statements
            };
            (path, tokens)
        }
    };
    let verify = |token: String| -> Result<(String, StatementClaims), CallError> {
        let claims = jose::verify_statement(&token, &registration.peer, &registration.jwks, false)
            .map_err(|error| CallError::Unverified(error.to_string()))?;
        if let Subject::Certificate(number) = subject
            && claims.sub != number.as_str()
        {
            return Err(CallError::Unverified(format!("a statement of {} where {number} was asked", claims.sub)));
        }
        Ok((token, claims))
    };
    tokens
        .into_iter()
        .map(verify)
        .collect::<Result<_, _>>()
        .inspect_err(|error| answer_refused(app, registration, &path, error))
}

pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use aeo_domain::{Category, Role, Status};

    use super::*;
    use crate::federation::jose::{CertificateFacts, StatementOperator};

    fn claims(sub: &str, seq: i64, iat: i64, exp: i64) -> StatementClaims {
        StatementClaims {
            iss: "CL".into(),
            sub: sub.into(),
            iat,
            exp,
            seq,
            facts: CertificateFacts {
                status: Status::Active,
                category: Category::Security,
                roles: vec![Role::Exporter],
                valid_from: "2024-01-15".parse().expect("date"),
                valid_until: "2027-01-14".parse().expect("date"),
                status_reason: None,
                operator: StatementOperator { name: "Andina SpA".into(), identifiers: Vec::new() },
            },
        }
    }

    #[test]
    fn a_live_statement_is_kept_when_it_is_fresh_or_news_and_not_when_it_is_neither() {
        let now = mirror::instant(1_000_000);
        let ttl = 300;
        let held = [Arc::new(Held::new(claims("CL-1", 5, 999_000, 999_300), Origin::Live, ttl))];
        // Fresh: worth holding, whatever the mirror holds.
        assert!(tells_the_mirror(&held, &claims("CL-1", 5, 999_990, 1_000_290), ttl, now));
        // Stale on arrival but a change the mirror does not hold (a later one, another number).
        assert!(tells_the_mirror(&held, &claims("CL-1", 6, 1_000_000, 1_000_000), ttl, now));
        assert!(tells_the_mirror(&held, &claims("CL-2", 5, 1_000_000, 1_000_000), ttl, now));
        assert!(tells_the_mirror(&[], &claims("CL-1", 5, 1_000_000, 1_000_000), ttl, now));
        // Stale on arrival, of a change held already (or an older one): nothing to write.
        assert!(!tells_the_mirror(&held, &claims("CL-1", 5, 1_000_000, 1_000_000), ttl, now));
        assert!(!tells_the_mirror(&held, &claims("CL-1", 4, 1_000_000, 1_000_000), ttl, now));
        // Fresh for the issuer but not for a node trusting a partner for no time.
        assert!(!tells_the_mirror(&held, &claims("CL-1", 5, 1_000_000, 1_000_300), 0, now));
    }
}
