//! The `/federation/v1` endpoints this node serves to peer registries, and the discovery
//! document. Every call but discovery and key sets carries an assertion checked by `PeerCall`.
//! Each route is described for the API document where it is served, under the tag
//! `federation`, so that a route cannot be served undocumented.

use aeo_domain::OperatorId;
use axum::Json;
use axum::extract::{FromRequestParts, Path, RawPathParams, State};
use axum::http::header;
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::protocol::{
    ChangesAnswer, CheckpointAnswer, DiscoveredAdministration, Discovery, EventsAnswer, EventsRequest,
    MAX_NUMBERS_PER_CALL, PublishedKeys, RecognitionAnswer, StatementAnswer, StatementsAnswer,
    StatementsByNumberAnswer,
};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::recognition::{RecognitionQuery, parse_question};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::federation::{self as service, PeerCall};

/// Every federation route with its description for the API document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(jwks))
        .routes(routes!(statements_by_identifier))
        .routes(routes!(statement))
        .routes(routes!(statements_by_number))
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
    let administrations = service::administrations(&app)
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
    let code = service::hosted(&app, &code).await?;
    let set = service::published_keys(&app, &code).await?;
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(serde_json::to_value(set).map_err(anyhow::Error::from)?)))
}

/// A peer's call, taken only once its assertion is verified (see `service::federation::take_call`).
impl FromRequestParts<AppState> for PeerCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, app).await.map_err(|_| ApiError::NotFound)?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == "code")
            .map(|(_, value)| value.to_owned())
            .ok_or(ApiError::NotFound)?;
        let asked = service::hosted(app, &raw).await?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or(ApiError::Unauthorized)?;
        Ok(service::take_call(app, asked, token).await?)
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
    let statement = service::statement(&app, &call, &number).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(StatementAnswer { statement }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NumbersQuery {
    /// 1 to 100 certificate numbers separated by commas, e.g. `CL-OEA-0001,CL-OEA-0002`.
    #[param(required = true, value_type = String, pattern = "^[^,]+(,[^,]+){0,99}$")]
    numbers: Option<String>,
}

/// The signed statuses of several certificates, asked together.
///
/// What a partner's node asks when several of its border questions about `{code}`'s
/// certificates wait at once: one call, with one assertion, for up to 100 numbers. The answer
/// holds one entry per number, in the order asked: the certificate's statement, as
/// `GET .../certificates/{number}` gives it, or `null` when the number is not one of `{code}`'s
/// certificates.
#[utoipa::path(get, path = "/federation/v1/administrations/{code}/statements", tag = "federation",
    security(("peer_assertion" = [])),
    params(("code" = String, Path, description = "The asked administration, hosted here."), NumbersQuery),
    responses((status = 200, description = "One entry per number asked, in order.", body = StatementsByNumberAnswer),
        (status = 404, description = "No such administration here.", body = Problem),
        (status = 422, description = "`numbers` is missing, has an empty item or more than 100; `errors` names it.", body = Problem)))]
async fn statements_by_number(
    State(app): State<AppState>,
    call: PeerCall,
    ApiQuery(query): ApiQuery<NumbersQuery>,
) -> ApiResult<Json<StatementsByNumberAnswer>> {
    let list = query.numbers.unwrap_or_default();
    let numbers: Vec<&str> = list.split(',').collect();
    if list.is_empty() || numbers.iter().any(|number| number.is_empty()) || numbers.len() > MAX_NUMBERS_PER_CALL {
        return Err(ApiError::field(
            "numbers",
            format!("must list 1 to {MAX_NUMBERS_PER_CALL} certificate numbers separated by commas"),
        ));
    }
    let statements = service::statements_by_number(&app, &call, &numbers).await?;
    Ok(Json(StatementsByNumberAnswer { statements }))
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
    let statements = service::statements_held_under(&app, &call, &identifier).await?;
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
    Ok(Json(service::changes(&app, &call, after, limit).await?))
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
    Ok(Json(service::checkpoint(&app, &call).await?))
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
    Ok(Json(service::receive(&app, &call, &body).await?))
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
    let answer = service::signed_recognition(&app, &call, &issuer, &subject).await?;
    Ok(Json(RecognitionAnswer { answer }))
}
