//! The border question about an issuer hosted on another node: from a fresh held answer, else
//! by asking the issuer now, else from what the mirror last knew, marked stale. A stale answer
//! is never "recognised" once past freshness plus the configured maximum staleness.

use std::sync::Arc;

use aeo_domain::{AdministrationCode, Reason};
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::CallRecord;
use super::client::CallError;
use super::jose::{self, StatementClaims};
use crate::app::AppState;
use crate::error::ApiResult;
use crate::recognition::{Answer, Candidate, Source, Subject, decide};
use crate::store::mirror::{self, Followed, Held, Origin};
use crate::store::peers::Peer;
use crate::store::{certificates, peers};

pub async fn answer(
    app: &AppState,
    at: &AdministrationCode,
    issuer: &AdministrationCode,
    subject: &Subject,
) -> ApiResult<Answer> {
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
    let mirror_until = state.current_until();
    let mirror_current = mirror_until.is_some_and(|until| until > now);
    let fresh_until = |held: &Held| -> DateTime<Utc> {
        mirror_until.map_or(held.statement_exp, |until| until.max(held.statement_exp))
    };
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
    if !held.is_empty() && held.iter().all(|h| fresh_until(h) > now) {
        return Ok(from_held(false));
    }

    // 2. Ask the issuer now, when this administration has registered it. Nothing held is asked
    //    too: a certificate issued a moment ago may not have been pushed yet.
    if let Some(registration) = app.hot.peer(db, at.as_str(), issuer.as_str()).await? {
        match ask_live(app, &registration, subject).await {
            Ok(found) => {
                let trusted_for = app.settings.statement_ttl_secs();
                let txn = app.store.write().await?;
                // Takes turns with pushed and pulled changes of the same issuer, which would
                // otherwise insert the same certificate's statement at the same time.
                let verified = mirror::lock_state(&txn, followed).await?.verified_seq();
                let mut kept = Vec::new();
                for (token, claims) in &found {
                    // It answers this question; it is kept only within reach of what was verified.
                    if super::feed::beyond_reach(claims.seq, verified) {
                        continue;
                    }
                    let held = Held::new(claims.clone(), Origin::Live, trusted_for);
                    match mirror::apply(&txn, followed, token, &held).await? {
                        mirror::Applied::Kept => kept.push(held),
                        mirror::Applied::Older => {}
                        mirror::Applied::Contradicts => {
                            tracing::warn!(%issuer, number = %claims.sub, "a live statement contradicts the mirror");
                        }
                    }
                }
                txn.commit().await?;
                kept.into_iter().for_each(|held| app.hot.held.applied(followed, held));
                let live: Vec<Candidate> = found.iter().map(|(_, claims)| Candidate::from(claims)).collect();
                let mut answer = decide(at, issuer, live, mra.as_deref(), today);
                answer.source = Source::Peer;
                return Ok(answer);
            }
            Err(error) => tracing::warn!(%issuer, %error, "issuer unreachable; answering from the mirror"),
        }
    }

    // 3. Nothing held, but the mirror is current: "not found" is the mirror's answer.
    if held.is_empty() && mirror_current {
        return Ok(from_held(false));
    }

    // 4. What the mirror last knew, stale: never "recognised" past freshness plus the allowance.
    let mut answer = from_held(true);
    let allowance = Duration::seconds(i64::try_from(app.settings.max_staleness).unwrap_or(0));
    let tolerated = !held.is_empty() && held.iter().all(|h| fresh_until(h) + allowance > now);
    if held.is_empty() {
        // Nothing known: "not found" would be a guess.
        answer.reasons.retain(|reason| *reason != Reason::CertificateNotFound);
    }
    if !tolerated {
        answer.reasons.push(Reason::IssuerUnreachable);
        answer.reasons.sort();
        answer.reasons.dedup();
    }
    answer.recognized = answer.reasons.is_empty();
    Ok(answer)
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
            json!({"error": error.public()})
        }
    };
    app.federation.record_call(CallRecord {
        administration: from.to_owned(),
        actor: "system".into(),
        action: "federation.called",
        target: format!("{} {}{path}", method, registration.peer),
        details: outcome,
    });
    // Through the writer slot: a write beside it makes SQLite refuse a concurrent transaction.
    let recorded = async {
        let txn = app.store.write().await?;
        match &result {
            Ok(_) => peers::record_success(&txn, from, &registration.peer).await?,
            Err(error) => peers::record_error(&txn, from, &registration.peer, error.public()).await?,
        }
        txn.commit().await
    }
    .await;
    if let Err(error) = recorded {
        tracing::warn!(%error, "could not record the exchange with a peer");
    }
    result
}

/// Asks the issuer for the statements of the subject; every one is verified.
async fn ask_live(
    app: &AppState,
    registration: &Peer,
    subject: &Subject,
) -> Result<Vec<(String, StatementClaims)>, CallError> {
    let path = match subject {
        Subject::Certificate(number) => format!("/certificates/{}", number.as_str()),
        Subject::Identifier(id) => format!("/certificates?identifier={}", url_encode(&id.to_pair())),
    };
    let (status, body) = call_peer(app, registration, Method::GET, &path, None).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    let tokens: Vec<String> = match subject {
        Subject::Certificate(_) => {
            body["statement"].as_str().map(|s| vec![s.to_owned()]).ok_or(CallError::Unreadable)?
        }
        Subject::Identifier(_) => body["statements"]
            .as_array()
            .ok_or(CallError::Unreadable)?
            .iter()
            .map(|s| s.as_str().map(str::to_owned).ok_or(CallError::Unreadable))
            .collect::<Result<_, _>>()?,
    };
    tokens
        .into_iter()
        .map(|token| {
            let claims =
                jose::verify_statement(&token, &registration.peer, &registration.jwks, false).map_err(|error| {
                    tracing::warn!(peer = %registration.peer, %error, "a peer's statement did not verify");
                    CallError::Unreadable
                })?;
            Ok((token, claims))
        })
        .collect()
}

pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
