//! The `/federation/v1` endpoints this node serves to peer registries, and the discovery
//! document. Every call but discovery and key sets carries an assertion checked by `PeerCall`.
//! Each route is described for the API document where it is served, under the tag
//! `federation`, so that a route cannot be served undocumented.

use aeo_domain::{AdministrationCode, CertificateNumber, MraStatus, OperatorId};
use axum::Json;
use axum::extract::{FromRequestParts, Path, RawPathParams, State};
use axum::http::header;
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::feed::{FeedError, apply_changes, sign_changes};
use super::protocol::{
    ChangesAnswer, CheckpointAnswer, DiscoveredAdministration, Discovery, EventsAnswer, EventsRequest, PublishedKeys,
    RecognitionAnswer, StatementAnswer, StatementsAnswer,
};
use super::{jose, signed};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::recognition::{RecognitionQuery, parse_question};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::recognition;
use crate::service::later::Deferred;
use crate::store::mirror::Followed;
use crate::store::{administrations, audit, certificates, outbox, peers};

/// Every federation route with its description for the API document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(jwks))
        .routes(routes!(statements_by_identifier))
        .routes(routes!(statement))
        .routes(routes!(changes))
        .routes(routes!(checkpoint))
        .routes(routes!(receive_events))
        .routes(routes!(signed_recognition))
}

/// The administrations hosted here and where to reach them.
///
/// Public: a peer's administrator reads it to register this node (`base_url`) and to fetch the
/// keys to pin.
#[utoipa::path(get, path = "/.well-known/aeo-registry", tag = "federation",
    responses((status = 200, description = "The hosted administrations.", body = Discovery)))]
async fn discovery(State(app): State<AppState>) -> ApiResult<Json<Discovery>> {
    let base = &app.settings.public_url;
    let administrations = administrations::list(&app.store.db)
        .await?
        .into_iter()
        .map(|a| DiscoveredAdministration {
            federation_url: format!("{base}/federation/v1/administrations/{}", a.code),
            jwks_uri: format!("{base}/federation/v1/administrations/{}/jwks.json", a.code),
            code: a.code,
            name: a.name,
        })
        .collect();
    Ok(Json(Discovery { administrations }))
}

/// The administration's public signing keys.
///
/// Public, and cacheable for a minute. Peers pin these keys when they register this
/// administration (and compare their SHA-256 thumbprints out of band); every statement,
/// checkpoint, answer and assertion this administration signs names one of them in `kid`.
#[utoipa::path(get, path = "/federation/v1/administrations/{code}/jwks.json", tag = "federation",
    params(("code" = String, Path, description = "A hosted administration.")),
    responses((status = 200, description = "The key set.", body = PublishedKeys,
        headers(("Cache-Control" = String, description = "`public, max-age=60`"))),
        (status = 404, description = "No such administration here.", body = Problem)))]
async fn jwks(
    State(app): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<([(header::HeaderName, &'static str); 1], Json<Value>)> {
    let code = hosted(&app, &code).await?;
    let set = super::keys::published(&app.store.db, code.as_str()).await?;
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(serde_json::to_value(set).map_err(anyhow::Error::from)?)))
}

async fn hosted(app: &AppState, raw: &str) -> ApiResult<AdministrationCode> {
    let code = AdministrationCode::parse(raw).map_err(|message| ApiError::field("code", message))?;
    if !app.hot.is_hosted(&app.store.db, code.as_str()).await? {
        return Err(ApiError::NotFound);
    }
    Ok(code)
}

/// A verified call from a peer administration to a hosted one: `asked` is the `{code}` of the
/// path, `caller` the peer whose key signed the assertion, `registration` the asked
/// administration's registration of it (with the keys that verified the assertion).
pub struct PeerCall {
    pub asked: AdministrationCode,
    pub caller: String,
    pub registration: Arc<peers::Peer>,
}

impl FromRequestParts<AppState> for PeerCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, app).await.map_err(|_| ApiError::NotFound)?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == "code")
            .map(|(_, value)| value.to_owned())
            .ok_or(ApiError::NotFound)?;
        let asked = hosted(app, &raw).await?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or(ApiError::Unauthorized)?;
        let caller = jose::claimed_issuer(token).ok_or(ApiError::Unauthorized)?;
        let registration = app.hot.peer(&app.store.db, asked.as_str(), &caller).await?.ok_or(ApiError::Unauthorized)?;
        let claims = jose::verify_assertion(token, &caller, asked.as_str(), &registration.jwks).map_err(|error| {
            tracing::warn!(%caller, asked = %asked, %error, "refused a federation assertion");
            ApiError::Unauthorized
        })?;
        if !app.federation.replays.first_use(&caller, &claims.jti, claims.exp).await? {
            tracing::warn!(%caller, asked = %asked, "refused a replayed federation assertion");
            return Err(ApiError::Unauthorized);
        }
        let allowed = app
            .hot
            .mra(&app.store.db, asked.as_str(), &caller)
            .await?
            .is_some_and(|mra| MraStatus::allows_federation(mra.status));
        if !allowed {
            return Err(ApiError::Forbidden);
        }
        Ok(PeerCall { asked, caller, registration })
    }
}

impl PeerCall {
    fn record(&self, app: &AppState, target: String, details: Value) {
        app.later.defer(Deferred::Audit(audit::Entry {
            administration: Some(self.asked.as_str().to_owned()),
            actor: format!("peer:{}", self.caller),
            action: "federation.served".into(),
            target,
            details,
        }));
    }
}

/// One certificate's status, signed by its issuer.
///
/// The statement is the certificate as it stands: a partner verifies it with the keys it pinned
/// and may hold it until its `exp`. A number that is not one of `{code}`'s certificates answers
/// 404, as a missing one does.
#[utoipa::path(get, path = "/federation/v1/administrations/{code}/certificates/{number}", tag = "federation",
    security(("peer_assertion" = [])),
    params(("code" = String, Path, description = "The asked administration, hosted here."), ("number" = String, Path, description = "The certificate number, e.g. `CL-OEA-0001`.")),
    responses((status = 200, description = "The certificate's statement.", body = StatementAnswer),
        (status = 404, description = "No such administration here, or no such certificate of it.", body = Problem)))]
async fn statement(
    State(app): State<AppState>,
    call: PeerCall,
    Path(path): Path<(String, String)>,
) -> ApiResult<Json<StatementAnswer>> {
    let (_, number) = path;
    let code = call.asked.as_str();
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    let statement = match CertificateNumber::parse(&number) {
        Ok(number) => signed::served(&app, &key, code, number.as_str()).await?,
        Err(_) => None,
    };
    call.record(&app, format!("certificates/{number}"), json!({"found": statement.is_some()}));
    let statement = statement.ok_or(ApiError::NotFound)?;
    Ok(Json(StatementAnswer { statement }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct IdentifierQuery {
    /// The operator's identifier as `SCHEME:VALUE`, e.g. `CL-RUT:76086428-5` (any spelling of
    /// the value: it is normalised).
    #[param(required = true, value_type = String)]
    identifier: Option<String>,
}

/// The signed statuses of every certificate held under an identifier.
///
/// One statement per certificate of `{code}` held under the identifier; none when it holds none.
#[utoipa::path(get, path = "/federation/v1/administrations/{code}/certificates", tag = "federation",
    security(("peer_assertion" = [])),
    params(("code" = String, Path, description = "The asked administration, hosted here."), IdentifierQuery),
    responses((status = 200, description = "The statements, perhaps none.", body = StatementsAnswer),
        (status = 422, description = "`identifier` is missing or not a valid `SCHEME:VALUE`; `errors` names it.", body = Problem)))]
async fn statements_by_identifier(
    State(app): State<AppState>,
    call: PeerCall,
    ApiQuery(query): ApiQuery<IdentifierQuery>,
) -> ApiResult<Json<StatementsAnswer>> {
    let pair = query.identifier.ok_or_else(|| ApiError::field("identifier", "is required"))?;
    let identifier = OperatorId::parse_pair(&pair).map_err(|error| ApiError::field("identifier", error.to_string()))?;
    let code = call.asked.as_str();
    let cache = &app.hot.certificates;
    let read_at = cache.reading();
    let found = certificates::find_by_identifier(&app.store.db, Some(code), &identifier).await?;
    call.record(&app, format!("certificates?identifier={}", identifier.to_pair()), json!({"found": found.len()}));
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    let ttl = app.settings.statement_ttl_secs();
    let statements = found
        .iter()
        .map(|certificate| signed::statement(cache, &key, certificate, ttl, read_at))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Json(StatementsAnswer { statements }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangesQuery {
    /// The last `seq` already held; left out (or empty), from the first change.
    #[param(value_type = Option<i64>, minimum = 0)]
    after: Option<String>,
    /// 1 to 500; left out (or empty), 100.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

/// The change feed: every change after a position, in order.
///
/// Each change is a statement of the certificate as it stood after it, so a mirror replays the
/// feed in order and ends where the issuer is. Page on with `after=` the answer's `next`; the
/// feed is complete up to the `seq` of the latest checkpoint (`GET .../checkpoint`).
#[utoipa::path(get, path = "/federation/v1/administrations/{code}/changes", tag = "federation",
    security(("peer_assertion" = [])),
    params(("code" = String, Path, description = "The asked administration, hosted here."), ChangesQuery),
    responses((status = 200, description = "Up to `limit` changes, and where to go on.", body = ChangesAnswer),
        (status = 422, description = "`after` is not a sequence number, or `limit` is not from 1 to 500.", body = Problem)))]
async fn changes(
    State(app): State<AppState>,
    call: PeerCall,
    ApiQuery(query): ApiQuery<ChangesQuery>,
) -> ApiResult<Json<ChangesAnswer>> {
    let after: i64 = match query.after.as_deref() {
        None | Some("") => 0,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n: &i64| *n >= 0)
            .ok_or_else(|| ApiError::field("after", "must be a sequence number"))?,
    };
    let limit: u64 = match query.limit.as_deref() {
        None | Some("") => 100,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::field("limit", "must be from 1 to 500"))?,
    };
    let code = call.asked.as_str();
    let rows = certificates::changes(&app.store.db, code, after, limit).await?;
    call.record(&app, "changes".into(), json!({"after": after, "count": rows.len()}));
    let items = sign_changes(&app, code, rows).await?;
    let next = items.last().map_or(after, |item| item.seq);
    Ok(Json(ChangesAnswer { items, next }))
}

/// The latest position of the administration's changes, signed.
///
/// A mirror synced to the checkpoint's `seq` is current until its `exp`. While a key rotation
/// is announced, `next_keys` carries the next keys, signed by the current one.
#[utoipa::path(get, path = "/federation/v1/administrations/{code}/checkpoint", tag = "federation",
    security(("peer_assertion" = [])),
    params(("code" = String, Path, description = "The asked administration, hosted here.")),
    responses((status = 200, description = "The signed checkpoint.", body = CheckpointAnswer),
        (status = 404, description = "No such administration here, or it has published no change yet.", body = Problem)))]
async fn checkpoint(State(app): State<AppState>, call: PeerCall) -> ApiResult<Json<CheckpointAnswer>> {
    let code = call.asked.as_str();
    let seq = administrations::last_seq(&app.store.db, code).await?.ok_or(ApiError::NotFound)?;
    call.record(&app, "checkpoint".into(), json!({"seq": seq}));
    // A peer that follows this administration is reachable again: what waits for it goes out
    // now rather than after the backoff or an open circuit.
    if outbox::backlog(&app.store.db, code, &call.caller).await? > 0 {
        app.federation.client.revive(&call.registration.circuit());
        app.later.defer(Deferred::RetryOutbox { administration: code.to_owned(), peer: call.caller.clone() });
    }
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    let ttl = app.settings.statement_ttl_secs();
    let checkpoint = jose::sign_checkpoint(&key, code, seq, ttl)?;
    let next_keys = super::keys::signed_announcement(&app.store.db, code, &key, ttl).await?;
    Ok(Json(CheckpointAnswer { checkpoint, next_keys }))
}

/// Changes pushed by their issuer, the caller, to one administration hosted here.
///
/// Every statement is verified with the keys `{code}` pinned for the caller before anything is
/// applied to its mirror, and the batch is refused whole when one change:
///
/// - does not verify, or its `seq` is not its statement's (422, naming `items[i]`);
/// - contradicts a statement already verified for the same position (422);
/// - lies far beyond the last position a checkpoint vouched for (409: it is pulled later).
#[utoipa::path(post, path = "/federation/v1/administrations/{code}/events", tag = "federation",
    security(("peer_assertion" = [])),
    params(("code" = String, Path, description = "The administration the changes are pushed to, hosted here.")),
    request_body = EventsRequest,
    responses((status = 200, description = "Every change verified and taken.", body = EventsAnswer),
        (status = 409, description = "A change lies far beyond the last position verified from the caller; nothing was applied.", body = Problem),
        (status = 422, description = "A change did not verify, or contradicts one verified before; `errors` names it and nothing was applied.", body = Problem)))]
async fn receive_events(
    State(app): State<AppState>,
    call: PeerCall,
    ApiJson(body): ApiJson<EventsRequest>,
) -> ApiResult<Json<EventsAnswer>> {
    let issuer = call.caller.clone();
    let mut verified = Vec::with_capacity(body.items.len());
    for (index, item) in body.items.iter().enumerate() {
        let claims =
            jose::verify_statement(&item.statement, &issuer, &call.registration.jwks, false).map_err(|error| {
                // Shown to this administration too, not only to the issuer that pushed.
                tracing::warn!(%issuer, administration = call.asked.as_str(), %error, "a pushed change did not verify");
                call.record(&app, "events".into(), json!({"refused": "did not verify", "error": error.to_string()}));
                app.later.defer(Deferred::PeerOutcome {
                    administration: call.asked.as_str().to_owned(),
                    peer: issuer.clone(),
                    error: Some(format!("a change it pushed did not verify with its pinned keys: {error}")),
                });
                ApiError::field(format!("items[{index}].statement"), error.to_string())
            })?;
        if claims.seq != item.seq {
            return Err(ApiError::field(format!("items[{index}].seq"), "differs from the statement's seq"));
        }
        verified.push((index, item, claims));
    }
    verified.sort_by_key(|(_, item, _)| item.seq);
    let (positions, verified): (Vec<usize>, Vec<_>) =
        verified.into_iter().map(|(index, item, claims)| (index, (item, claims))).unzip();
    let followed = Followed::new(call.asked.as_str(), &issuer);
    let synced = apply_changes(&app, followed, &verified).await.map_err(|error| match error {
        FeedError::Contradicts { index } => {
            call.record(&app, "events".into(), json!({"refused": "contradicts the mirror"}));
            ApiError::field(
                format!("items[{}].statement", positions[index]),
                "contradicts a statement already verified for the same position",
            )
        }
        FeedError::FarAhead { index } => {
            call.record(&app, "events".into(), json!({"refused": "beyond the last verified checkpoint"}));
            ApiError::Conflict(format!(
                "items[{}].seq is far beyond the last position verified from this issuer; \
                 it will be pulled once a newer checkpoint vouches for it",
                positions[index]
            ))
        }
        FeedError::Store(error) => error.into(),
    })?;
    call.record(&app, "events".into(), json!({"received": verified.len(), "synced_seq": synced}));
    if let Some(announcement) = &body.next_keys {
        super::sync::learn_next_keys(&app, &call.registration, "/events", announcement).await;
    }
    Ok(Json(EventsAnswer { accepted: verified.len(), synced_seq: synced }))
}

/// The asked administration's recognition answer, signed.
///
/// How a trader's home registry learns whether a partner recognises the trader: the answer is
/// the one `GET /api/v1/administrations/{code}/recognition` gives, signed by `{code}` for the
/// caller. Of a certificate the caller did not issue, it shows only what the public check shows.
#[utoipa::path(get, path = "/federation/v1/administrations/{code}/recognition", tag = "federation",
    security(("peer_assertion" = [])),
    params(("code" = String, Path, description = "The asked administration, hosted here."), RecognitionQuery),
    responses((status = 200, description = "The signed answer.", body = RecognitionAnswer),
        (status = 422, description = "The question is incomplete or invalid; `errors` names every part.", body = Problem)))]
async fn signed_recognition(
    State(app): State<AppState>,
    call: PeerCall,
    ApiQuery(query): ApiQuery<RecognitionQuery>,
) -> ApiResult<Json<RecognitionAnswer>> {
    let (issuer, subject) = parse_question(&query)?;
    let mut answer = recognition::answer(&app, &call.asked, &issuer, &subject).await?;
    // The caller is owed the details of its own certificates only; of a third issuer's, what
    // the public check shows.
    if issuer.as_str() != call.caller {
        answer.public_only(&subject);
    }
    call.record(&app, format!("recognition?issuer={issuer}"), json!({"recognized": answer.recognized}));
    let Value::Object(fields) = serde_json::to_value(&answer).map_err(anyhow::Error::from)? else {
        return Err(ApiError::Internal(anyhow::anyhow!("an answer is an object")));
    };
    let key = app.federation.keyring.active(&app.store.db, call.asked.as_str()).await?;
    let signed = jose::sign_answer(&key, call.asked.as_str(), &call.caller, fields, app.settings.statement_ttl_secs())?;
    Ok(Json(RecognitionAnswer { answer: signed }))
}
