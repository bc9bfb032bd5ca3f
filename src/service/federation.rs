//! What this node answers its partners' registries (`/federation/v1`): which calls it takes,
//! and the signed statements, feeds, checkpoints and answers it gives. The routes only parse
//! the request and write the answer; every call taken is in the asked administration's audit
//! log. An officer's answer signed for the declaration file is signed here too, alike.

use std::sync::Arc;

use aeo_domain::{AdministrationCode, CertificateNumber, MraStatus, OperatorId};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use sha2::Digest;

use super::later::Deferred;
use super::{ServiceError, ServiceResult};
use crate::app::{App, AppState};
use crate::federation::feed::{FeedError, apply_changes, sign_changes};
use crate::federation::protocol::{ChangesAnswer, CheckpointAnswer, EventsAnswer, EventsRequest};
use crate::federation::{jose, keys, signed, sync};
use crate::recognition::{self, Answer, Subject};
use crate::store::administrations::{self, Administration};
use crate::store::mirror::Followed;
use crate::store::{audit, certificates, outbox, peers};

/// A call taken from a peer administration by a hosted one: `asked` is the administration
/// called, `caller` the peer whose key signed the assertion, `registration` the asked
/// administration's registration of it (with the keys that verified the assertion).
pub struct PeerCall {
    pub asked: AdministrationCode,
    pub caller: String,
    pub registration: Arc<peers::Peer>,
}

/// The administration `raw` names, if it is hosted here.
pub async fn hosted(app: &AppState, raw: &str) -> ServiceResult<AdministrationCode> {
    let code = AdministrationCode::parse(raw).map_err(|message| ServiceError::field("code", message))?;
    if !app.hot.is_hosted(&app.store.db, code.as_str()).await? {
        return Err(ServiceError::NotFound);
    }
    Ok(code)
}

/// Takes a call to `asked` carrying the assertion `token`: the caller must be a peer `asked`
/// registered, the assertion signed by a key pinned for it, for `asked`, unexpired and never
/// seen before (else `Unauthorized`), and `asked`'s arrangement with it must allow federation
/// (else `Forbidden`).
pub async fn take_call(app: &AppState, asked: AdministrationCode, token: &str) -> ServiceResult<PeerCall> {
    let caller = jose::claimed_issuer(token).ok_or(ServiceError::Unauthorized)?;
    let registration = app.hot.peer(&app.store.db, asked.as_str(), &caller).await?.ok_or(ServiceError::Unauthorized)?;
    let claims = jose::verify_assertion(token, &caller, asked.as_str(), &registration.jwks).map_err(|error| {
        tracing::warn!(%caller, asked = %asked, %error, "refused a federation assertion");
        ServiceError::Unauthorized
    })?;
    if !app.federation.replays.first_use(&caller, &claims.jti, claims.exp).await? {
        tracing::warn!(%caller, asked = %asked, "refused a replayed federation assertion");
        return Err(ServiceError::Unauthorized);
    }
    let allowed = app
        .hot
        .mra(&app.store.db, asked.as_str(), &caller)
        .await?
        .is_some_and(|mra| MraStatus::allows_federation(mra.status));
    if !allowed {
        return Err(ServiceError::Forbidden);
    }
    Ok(PeerCall { asked, caller, registration })
}

impl PeerCall {
    /// Records the call in the asked administration's audit log, in the background.
    fn record(&self, app: &App, target: String, details: Value) {
        app.later.defer(Deferred::Audit(audit::Entry {
            administration: Some(self.asked.as_str().to_owned()),
            actor: format!("peer:{}", self.caller),
            action: "federation.served".into(),
            target,
            details,
        }));
    }
}

/// The administrations hosted here.
pub async fn administrations(app: &AppState) -> ServiceResult<Vec<Administration>> {
    Ok(administrations::list(&app.store.db).await?)
}

/// The published signing keys of a hosted administration.
pub async fn published_keys(app: &AppState, code: &AdministrationCode) -> ServiceResult<JwkSet> {
    Ok(keys::published(&app.store.db, code.as_str()).await?)
}

/// The statement of the asked administration's certificate `number`; `None` when it has no
/// such certificate (or `number` is not a certificate number).
pub async fn statement(app: &AppState, call: &PeerCall, number: &str) -> ServiceResult<Option<String>> {
    let code = call.asked.as_str();
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    let statement = served(app, &key, code, number).await?;
    call.record(app, format!("certificates/{number}"), json!({"found": statement.is_some()}));
    Ok(statement)
}

/// The statements of the asked administration's certificates `numbers`, in the same order;
/// `None` for a number that is not one of its certificates.
pub async fn statements_by_number(
    app: &AppState,
    call: &PeerCall,
    numbers: &[&str],
) -> ServiceResult<Vec<Option<String>>> {
    let code = call.asked.as_str();
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    let mut statements = Vec::with_capacity(numbers.len());
    for number in numbers {
        statements.push(served(app, &key, code, number).await?);
    }
    let found = statements.iter().filter(|statement| statement.is_some()).count();
    call.record(app, "statements".into(), json!({"numbers": numbers, "found": found}));
    Ok(statements)
}

async fn served(app: &App, key: &keys::SigningKey, code: &str, number: &str) -> ServiceResult<Option<String>> {
    match CertificateNumber::parse(number) {
        Ok(number) => Ok(signed::served(app, key, code, number.as_str()).await?),
        Err(_) => Ok(None),
    }
}

/// The statements of every certificate of the asked administration held under `identifier`.
pub async fn statements_held_under(
    app: &AppState,
    call: &PeerCall,
    identifier: &OperatorId,
) -> ServiceResult<Vec<String>> {
    let code = call.asked.as_str();
    let cache = &app.hot.certificates;
    let read_at = cache.reading();
    let found = certificates::find_by_identifier(&app.store.db, Some(code), identifier).await?;
    call.record(app, format!("certificates?identifier={}", identifier.to_pair()), json!({"found": found.len()}));
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    let ttl = app.settings.statement_ttl_secs();
    Ok(found
        .iter()
        .map(|certificate| signed::statement(cache, &key, certificate, ttl, read_at))
        .collect::<anyhow::Result<Vec<_>>>()?)
}

/// Up to `limit` of the asked administration's changes after `after`, each signed.
pub async fn changes(app: &AppState, call: &PeerCall, after: i64, limit: u64) -> ServiceResult<ChangesAnswer> {
    let code = call.asked.as_str();
    let rows = certificates::changes(&app.store.db, code, after, limit).await?;
    call.record(app, "changes".into(), json!({"after": after, "count": rows.len()}));
    let items = sign_changes(app, code, rows).await?;
    let next = items.last().map_or(after, |item| item.seq);
    Ok(ChangesAnswer { items, next })
}

/// The asked administration's latest position, signed, with its next keys while a rotation is
/// announced; `NotFound` before its first change.
pub async fn checkpoint(app: &AppState, call: &PeerCall) -> ServiceResult<CheckpointAnswer> {
    let code = call.asked.as_str();
    let seq = administrations::last_seq(&app.store.db, code).await?.ok_or(ServiceError::NotFound)?;
    call.record(app, "checkpoint".into(), json!({"seq": seq}));
    // A peer that follows this administration is reachable again: what waits for it goes out
    // now rather than after the backoff or an open circuit.
    if outbox::backlog(&app.store.db, code, &call.caller).await? > 0 {
        app.federation.client.revive(&call.registration.circuit());
        app.later.defer(Deferred::RetryOutbox { administration: code.to_owned(), peer: call.caller.clone() });
    }
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    let ttl = app.settings.statement_ttl_secs();
    let checkpoint = jose::sign_checkpoint(&key, code, seq, ttl)?;
    let next_keys = keys::signed_announcement(&app.store.db, code, &key, ttl).await?;
    Ok(CheckpointAnswer { checkpoint, next_keys })
}

/// Takes the changes the caller pushed into the asked administration's mirror of it: every
/// statement verified with the keys pinned for the caller before anything is applied, and the
/// batch refused whole when one does not verify, contradicts the mirror (`Invalid`, naming
/// `items[i]`) or lies far beyond the last verified checkpoint (`Conflict`).
pub async fn receive(app: &AppState, call: &PeerCall, body: &EventsRequest) -> ServiceResult<EventsAnswer> {
    let issuer = call.caller.as_str();
    let mut verified = Vec::with_capacity(body.items.len());
    for (index, item) in body.items.iter().enumerate() {
        let claims =
            jose::verify_statement(&item.statement, issuer, &call.registration.jwks, false).map_err(|error| {
                // Shown to this administration too, not only to the issuer that pushed.
                tracing::warn!(%issuer, administration = call.asked.as_str(), %error, "a pushed change did not verify");
                call.record(app, "events".into(), json!({"refused": "did not verify", "error": error.to_string()}));
                app.later.defer(Deferred::PeerOutcome {
                    administration: call.asked.as_str().to_owned(),
                    peer: issuer.to_owned(),
                    error: Some(format!("a change it pushed did not verify with its pinned keys: {error}")),
                });
                ServiceError::field(format!("items[{index}].statement"), error.to_string())
            })?;
        if claims.seq != item.seq {
            return Err(ServiceError::field(format!("items[{index}].seq"), "differs from the statement's seq"));
        }
        verified.push((index, item, claims));
    }
    verified.sort_by_key(|(_, item, _)| item.seq);
    let (positions, verified): (Vec<usize>, Vec<_>) =
        verified.into_iter().map(|(index, item, claims)| (index, (item, claims))).unzip();
    let followed = Followed::new(call.asked.as_str(), issuer);
    let synced = apply_changes(app, followed, &verified).await.map_err(|error| match error {
        FeedError::Contradicts { index } => {
            call.record(app, "events".into(), json!({"refused": "contradicts the mirror"}));
            ServiceError::field(
                format!("items[{}].statement", positions[index]),
                "contradicts a statement already verified for the same position",
            )
        }
        FeedError::FarAhead { index } => {
            call.record(app, "events".into(), json!({"refused": "beyond the last verified checkpoint"}));
            ServiceError::Conflict(format!(
                "items[{}].seq is far beyond the last position verified from this issuer; \
                 it will be pulled once a newer checkpoint vouches for it",
                positions[index]
            ))
        }
        FeedError::Store(error) => error.into(),
    })?;
    call.record(app, "events".into(), json!({"received": verified.len(), "synced_seq": synced}));
    if let Some(announcement) = &body.next_keys {
        sync::learn_next_keys(app, &call.registration, "/events", announcement).await;
    }
    Ok(EventsAnswer { accepted: verified.len(), synced_seq: synced })
}

/// The asked administration's recognition answer to the caller's question, signed for it. Of
/// a certificate the caller did not issue, it shows only what the public check shows.
pub async fn signed_recognition(
    app: &AppState,
    call: &PeerCall,
    issuer: &AdministrationCode,
    subject: &Subject,
) -> ServiceResult<String> {
    let mut answer = recognition::answer(app, &call.asked, issuer, subject).await?;
    if issuer.as_str() != call.caller {
        answer.public_only(subject);
    }
    call.record(app, format!("recognition?issuer={issuer}"), json!({"recognized": answer.recognized}));
    Ok(sign_answer(app, &call.asked, &call.caller, &answer).await?.token)
}

/// A recognition answer signed by the administration that gave it.
pub struct SignedAnswer {
    /// The compact JWS, verifiable with the administration's published keys.
    pub token: String,
    /// The key that signed it.
    pub kid: String,
    /// A short reference to it: the first 16 bytes of its SHA-256, in hex.
    pub reference: String,
}

/// `answer`, given at `at`, signed with `at`'s key for `audience`.
async fn sign_answer(
    app: &AppState,
    at: &AdministrationCode,
    audience: &str,
    answer: &Answer,
) -> ServiceResult<SignedAnswer> {
    let Value::Object(fields) = serde_json::to_value(answer).map_err(anyhow::Error::from)? else {
        return Err(ServiceError::Internal(anyhow::anyhow!("an answer is an object")));
    };
    let key = app.federation.keyring.active(&app.store.db, at.as_str()).await?;
    let token = jose::sign_answer(&key, at.as_str(), audience, fields, app.settings.statement_ttl_secs())?;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let reference = hex::encode(&digest[..16]);
    Ok(SignedAnswer { token, kid: key.kid.clone(), reference })
}

/// The answer an officer of `at` got, signed by `at` for its own records (the declaration
/// file): anyone can check it against `at`'s published keys.
pub async fn signed_record(app: &AppState, at: &AdministrationCode, answer: &Answer) -> ServiceResult<SignedAnswer> {
    sign_answer(app, at, at.as_str(), answer).await
}
