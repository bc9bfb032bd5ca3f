//! An administration's certificates: publish, read, search, change, status lifecycle, history
//! and bulk import.

use aeo_domain::CertificateInput;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::extract::{ApiJson, ApiQuery, Page, Paged, is_json, read_body};
use super::schemas::{CertificateInputSchema, CertificatePatchSchema, StatusChangeSchema};
use crate::app::AppState;
use crate::auth::{PublishCertificates, ReadRegistry, Tenant};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::certificates::{self, Publisher};
use crate::service::import::{Format, ImportReport};
use crate::store::certificates::{Certificate, HistoryEntry};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CertificateQuery {
    /// active, suspended, revoked or expired.
    #[param(pattern = "^(active|suspended|revoked|expired)$")]
    pub status: Option<String>,
    /// security, simplification or full.
    #[param(pattern = "^(security|simplification|full)$")]
    pub category: Option<String>,
    /// One of the roles.
    #[param(
        pattern = "^(manufacturer|importer|exporter|customs_broker|carrier|freight_forwarder|warehouse_operator|port_operator|terminal_operator|logistics_operator)$"
    )]
    pub role: Option<String>,
    /// Part of the operator's name (at least 3 characters), or any of its identifiers.
    #[param(min_length = 3)]
    pub q: Option<String>,
    /// 1 to 500, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Search the administration's certificates.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/certificates", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), CertificateQuery),
    responses((status = 200, body = Paged<Certificate>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_certificates(
    State(app): State<AppState>,
    tenant: Tenant<ReadRegistry>,
    ApiQuery(query): ApiQuery<CertificateQuery>,
) -> ApiResult<Json<Paged<Certificate>>> {
    let filter = certificates::filter(
        query.status.as_deref(),
        query.category.as_deref(),
        query.role.as_deref(),
        query.q.as_deref(),
    );
    let page = Page { limit: query.limit, cursor: query.cursor };
    let (limit, after) = page.parse()?;
    let filter = filter.map_err(ApiError::Invalid)?;
    let _slot = app.classes.reading.enter().await?;
    let (items, next) = certificates::list(&app, tenant.code(), &filter, limit, after).await?;
    Ok(Json(Paged::new(items, next)))
}

/// A certificate with its version as the entity tag, for `If-Match` on PATCH.
fn with_etag(status: StatusCode, certificate: Certificate) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", certificate.version)).ok();
    let mut response = (status, Json(certificate)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Publish a certificate.
///
/// It is created `active`; without a `number`, the registry assigns the next free one. The
/// answer carries the certificate's version as its `ETag`, for `If-Match` on `PATCH`.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/certificates", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = CertificateInputSchema,
    responses((status = 201, description = "Published, with its version as the `ETag`.", body = Certificate),
        (status = 409, description = "The number is taken.", body = Problem),
        (status = 422, description = "A field is missing or invalid; `errors` names every one.", body = Problem)))]
pub async fn create_certificate(
    State(app): State<AppState>,
    tenant: Tenant<PublishCertificates>,
    ApiJson(input): ApiJson<CertificateInput>,
) -> ApiResult<Response> {
    let certificate = certificates::publish(&app, publisher(&tenant), &input).await?;
    Ok(with_etag(StatusCode::CREATED, certificate))
}

fn publisher(tenant: &Tenant<PublishCertificates>) -> Publisher<'_> {
    Publisher { administration: tenant.code(), actor: tenant.actor() }
}

/// One certificate.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/certificates/{number}", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), ("number" = String, Path)),
    responses((status = 200, body = Certificate), (status = 404, body = Problem)))]
pub async fn get_certificate(
    State(app): State<AppState>,
    tenant: Tenant<ReadRegistry>,
    Path(path): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, number) = path;
    Ok(with_etag(StatusCode::OK, certificates::find(&app, tenant.code(), &number).await?))
}

fn if_match(headers: &HeaderMap) -> ApiResult<Option<i32>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map(Some).map_err(|_| ApiError::field("If-Match", "must be the certificate's version, e.g. \"3\""))
}

/// Change a certificate's details.
///
/// The body is a JSON Merge Patch ([RFC 7396](https://www.rfc-editor.org/rfc/rfc7396)) of the
/// details; the status changes only through `POST .../status`. With `If-Match: "<version>"`
/// (the `ETag` of the certificate as last read), a stale version answers 412 and changes
/// nothing. A patch that changes nothing writes nothing and answers the certificate as it is.
#[utoipa::path(patch, path = "/api/v1/administrations/{code}/certificates/{number}", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), ("number" = String, Path), ("If-Match" = Option<String>, Header, pattern = r#"^(W/)?"[0-9]{1,9}"$"#, description = "The version from the certificate's `ETag`; a stale one answers 412.")),
    request_body(content = CertificatePatchSchema, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The certificate as it is now, with its version as the `ETag`.", body = Certificate),
        (status = 404, body = Problem),
        (status = 412, description = "`If-Match` names a version older than the certificate's; nothing changed.", body = Problem),
        (status = 422, description = "The patch names a member that is not patchable, or leaves the certificate invalid; `errors` names every field.", body = Problem)))]
pub async fn patch_certificate(
    State(app): State<AppState>,
    tenant: Tenant<PublishCertificates>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<Value>,
) -> ApiResult<Response> {
    let (_, number) = path;
    let expected = if_match(&headers)?;
    let updated = certificates::patch(&app, publisher(&tenant), &number, expected, &patch).await?;
    Ok(with_etag(StatusCode::OK, updated))
}

/// Its schema is written out in `api::schemas` (`StatusChange`).
#[derive(Default, Deserialize, serde::Serialize)]
pub struct StatusChange {
    pub status: Option<String>,
    pub reason: Option<String>,
}

/// Suspend, reinstate or revoke a certificate.
///
/// A reason is required to suspend or revoke. `revoked` is final: a change out of it answers
/// 409, as does a change to the status the certificate already has.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/certificates/{number}/status", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), ("number" = String, Path)), request_body = StatusChangeSchema,
    responses((status = 200, description = "The certificate with its new status.", body = Certificate),
        (status = 404, body = Problem),
        (status = 409, description = "The certificate is revoked, or already has this status.", body = Problem),
        (status = 422, description = "The status is not one of `active`, `suspended`, `revoked`, or a reason is missing or too long.", body = Problem)))]
pub async fn change_status(
    State(app): State<AppState>,
    tenant: Tenant<PublishCertificates>,
    Path(path): Path<(String, String)>,
    ApiJson(request): ApiJson<StatusChange>,
) -> ApiResult<Response> {
    let (_, number) = path;
    let by = publisher(&tenant);
    let updated =
        certificates::change_status(&app, by, &number, request.status.as_deref(), request.reason.as_deref()).await?;
    Ok(with_etag(StatusCode::OK, updated))
}

/// Every change of a certificate, oldest first.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/certificates/{number}/history", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), ("number" = String, Path)),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 404, body = Problem)))]
pub async fn certificate_history(
    State(app): State<AppState>,
    tenant: Tenant<ReadRegistry>,
    Path(path): Path<(String, String)>,
) -> ApiResult<Json<Vec<HistoryEntry>>> {
    let (_, number) = path;
    let _slot = app.classes.reading.enter().await?;
    Ok(Json(certificates::history(&app, tenant.code(), &number).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true`: check everything, apply nothing.
    pub dry_run: Option<String>,
}

/// Import certificates from CSV or a JSON array, all or nothing.
///
/// Rows are matched to certificates by `number`: new ones are created `active`, existing ones
/// updated, and no status is ever changed by an import. When any row is invalid, the answer is
/// 422 with every error (`row`, `field`, `message`) and nothing is applied; with
/// `?dry_run=true`, everything is checked and nothing applied either way.
///
/// A CSV body has the header
/// `number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public`,
/// rows numbered from 1 after it, `roles` and `identifiers` separated by `;` (identifiers as
/// `SCHEME:VALUE`) and `public` `true` or `false`. A JSON body is an array of certificates as
/// `POST .../certificates` takes them.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/certificates/import", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), ImportQuery),
    request_body(description = "Up to 64 MiB of CSV, or a JSON array of certificates.",
        content((String = "text/csv"), (Vec<CertificateInputSchema> = "application/json"))),
    responses((status = 200, description = "Every row is valid: what was (or, with `dry_run`, would be) created, updated and left unchanged.", body = ImportReport),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, description = "At least one row is invalid: `errors` holds every error (`row`, `field`, `message`) and nothing was applied.", body = Problem)))]
pub async fn import_certificates(
    State(app): State<AppState>,
    tenant: Tenant<PublishCertificates>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    request: Request,
) -> ApiResult<Json<ImportReport>> {
    let dry_run = match query.dry_run.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") | Some("") => true,
        Some(_) => return Err(ApiError::field("dry_run", "must be true or false")),
    };
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    let is_csv = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("text/csv"));
    if !is_csv && !is_json(content_type.as_ref()) {
        return Err(ApiError::UnsupportedMediaType("send text/csv or a JSON array (application/json)".into()));
    }
    let _slot = app.classes.importing.enter().await?;
    let body = read_body(request, super::IMPORT_BODY_LIMIT).await?;
    let format = if is_csv { Format::Csv } else { Format::Json };
    let report = certificates::import(&app, publisher(&tenant), format, &body, dry_run).await?;
    Ok(Json(report))
}
