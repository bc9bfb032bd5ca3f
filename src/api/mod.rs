//! HTTP: the `/api/v1` resources (one module each), the public check, health, the OpenAPI
//! document, and the layers every request passes through.

pub(crate) mod administrations;
pub(crate) mod audit;
pub(crate) mod certificates;
pub(crate) mod docs;
pub(crate) mod extract;
mod gate;
pub(crate) mod health;
pub(crate) mod mras;
pub(crate) mod peers;
pub(crate) mod public;
pub(crate) mod recognition;
pub(crate) mod schemas;
pub(crate) mod sessions;
pub(crate) mod slots;
pub(crate) mod traders;
pub(crate) mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use tower::ServiceBuilder;
use tower::util::MapResponseLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{PROBLEM_JSON, Problem};

pub const BODY_LIMIT: usize = 1024 * 1024;
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids unique to this process and run: a random prefix drawn at start, then a counter.
/// As good as a UUID for finding a request in the log, and cheaper on every request.
#[derive(Clone)]
struct RequestIds {
    prefix: u32,
    next: Arc<AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds { prefix: rand::random(), next: Arc::default() }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::try_from(format!("{:08x}-{n:012x}", self.prefix)).ok().map(RequestId::new)
    }
}

/// Every `/api/v1` route with its OpenAPI description. Requests time out after `timeout`,
/// imports (large bodies, many rows) after `import_timeout`.
pub fn routes(timeout: Duration, import_timeout: Duration) -> OpenApiRouter<AppState> {
    let imports = OpenApiRouter::new()
        .routes(routes!(certificates::import_certificates))
        .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT))
        .layer(timeout_after(import_timeout));
    OpenApiRouter::with_openapi(docs::api_doc())
        .routes(routes!(sessions::login))
        .routes(routes!(sessions::me))
        .routes(routes!(sessions::change_password))
        .routes(routes!(administrations::list_administrations, administrations::create_administration))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::update_user))
        .routes(routes!(certificates::list_certificates, certificates::create_certificate))
        .routes(routes!(certificates::get_certificate, certificates::patch_certificate))
        .routes(routes!(certificates::change_status))
        .routes(routes!(certificates::certificate_history))
        .routes(routes!(mras::list_mras))
        .routes(routes!(mras::get_mra, mras::put_mra))
        .routes(routes!(recognition::ask_recognition))
        .routes(routes!(traders::my_certificates))
        .routes(routes!(public::public_check))
        .routes(routes!(audit::list_audit))
        .routes(routes!(peers::list_peers))
        .routes(routes!(peers::get_peer, peers::put_peer))
        .routes(routes!(peers::accept_peer_keys))
        .routes(routes!(peers::list_keys))
        .routes(routes!(peers::rotate_key))
        .layer(timeout_after(timeout))
        .merge(imports)
}

/// Every route the API document describes: the `/api/v1` ones, then the federation routes and
/// discovery, each described where it is served.
pub(crate) fn documented(timeout: Duration, import_timeout: Duration) -> OpenApiRouter<AppState> {
    routes(timeout, import_timeout).merge(crate::federation::routes::routes().layer(timeout_after(timeout)))
}

/// A request the node did not answer in time is the node's failure, not the client's: 503 with
/// `Retry-After` (408 would tell the client it was too slow to send it).
pub(crate) fn timeout_after(limit: Duration) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limit)
}

pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.settings.request_timeout);
    let health = state.store.health.clone();
    let import_timeout = Duration::from_secs(state.settings.import_timeout);
    let (api, openapi) = documented(timeout, import_timeout).split_for_parts();
    let routes = Router::new()
        .merge(api)
        .merge(docs::router(openapi).layer(timeout_after(timeout)))
        .merge(health::router().layer(timeout_after(timeout)))
        .merge(crate::web::routes(timeout, import_timeout))
        .fallback(|| async { crate::error::ApiError::NotFound })
        .with_state(state);
    // Around the whole router once, outermost first: `Router::layer` would wrap every route
    // apart and clone each wrapped route per request, which the border question pays for.
    let layered = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), RequestIds::default()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(MapResponseLayer::new(finish))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(gate::DatabaseGate::layer(health))
        .service(routes);
    Router::new().fallback_service(layered)
}

/// The headers every answer gets unless its handler chose otherwise: kept out of caches and
/// frames, never sniffed, and nothing loaded or run on its account. The HTTP edge writes them on
/// the answers it makes itself, too (`server`).
pub const SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    ),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
];

/// What every response gets on its way out, in one pass rather than a layer each: errors as
/// problem+json, and the [`SECURITY_HEADERS`].
fn finish(response: Response) -> Response {
    let mut response = ensure_problem(response);
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    }
    response
}

/// Every error leaves as problem+json, whichever layer produced it (405, 408, 413, ...).
fn ensure_problem(response: Response) -> Response {
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).map(HeaderValue::as_bytes).unwrap_or_default();
    // A page's error is a page (`web`), in the reader's language.
    let answered = content_type.starts_with(PROBLEM_JSON.as_bytes()) || content_type.starts_with(b"text/html");
    if !(status.is_client_error() || status.is_server_error()) || answered {
        return response;
    }
    let (parts, _) = response.into_parts();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this resource",
        StatusCode::SERVICE_UNAVAILABLE => "the request could not be answered in time; try again shortly",
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        _ => status.canonical_reason().unwrap_or("error"),
    };
    let mut fresh = Problem::new(status, detail).into_response_with(None);
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = parts.headers.get(&name) {
            fresh.headers_mut().insert(name, value.clone());
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE && !fresh.headers().contains_key(header::RETRY_AFTER) {
        fresh.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    fresh
}
