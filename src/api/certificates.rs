//! An administration's certificates: publish, read, search, change, status lifecycle, history
//! and bulk import.

use aeo_domain::{
    CertificateDraft, CertificateInput, CertificateNumber, FieldError, Status, TransitionError, check_transition,
};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery, Page, Paged, is_json, parse_json, read_body};
use crate::app::AppState;
use crate::auth::{PublishCertificates, ReadRegistry, Tenant};
use crate::error::{ApiError, ApiResult, Problem};
use crate::import::{self, Format, ImportReport};
use crate::store::audit;
use crate::store::certificates::{self, Certificate, Change, HistoryEntry, ListFilter};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CertificateQuery {
    /// active, suspended, revoked or expired.
    pub status: Option<String>,
    /// security, simplification or full.
    pub category: Option<String>,
    /// One of the roles.
    pub role: Option<String>,
    /// Part of the operator's name (at least 3 characters), or any of its identifiers.
    pub q: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

fn parse_optional<T: std::str::FromStr<Err = String>>(
    field: &str,
    value: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = value.filter(|v| !v.is_empty())?;
    value.parse().map_err(|message| errors.push(FieldError::new(field, message))).ok()
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
    let mut errors = Vec::new();
    let filter = ListFilter {
        status: parse_optional("status", query.status.as_deref(), &mut errors),
        category: parse_optional("category", query.category.as_deref(), &mut errors),
        role: parse_optional("role", query.role.as_deref(), &mut errors),
        q: query.q,
    };
    match filter.q.as_deref().map(|q| q.trim().chars().count()) {
        Some(length) if length > 300 => errors.push(FieldError::new("q", "must be at most 300 characters")),
        Some(1..3) => errors.push(FieldError::new("q", "must be at least 3 characters")),
        _ => {}
    }
    let page = Page { limit: query.limit, cursor: query.cursor };
    let (limit, after) = page.parse()?;
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let _slot = app.classes.reading.enter().await?;
    let (items, next) = certificates::list(&app.store, tenant.code(), &filter, limit, after).await?;
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

/// Publish a certificate (created `active`; the number is assigned when omitted).
#[utoipa::path(post, path = "/api/v1/administrations/{code}/certificates", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path)), request_body(content = Object, description = "A certificate: number?, category, roles, valid_from, valid_until, operator"),
    responses((status = 201, body = Certificate), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_certificate(
    State(app): State<AppState>,
    tenant: Tenant<PublishCertificates>,
    ApiJson(input): ApiJson<CertificateInput>,
) -> ApiResult<Response> {
    let draft = CertificateDraft::parse(&input).map_err(ApiError::Invalid)?;
    let txn = app.store.write().await?;
    let change = Change { actor: tenant.actor(), action: "created", reason: None };
    let certificate = certificates::create(&txn, tenant.code(), &draft, &change).await?;
    audit::record(
        &txn,
        Some(tenant.code()),
        tenant.actor(),
        "certificate.created",
        &format!("certificates/{}", certificate.number),
        json!({"version": certificate.version}),
    )
    .await?;
    txn.commit().await?;
    app.certificates_changed(tenant.code()).await;
    Ok(with_etag(StatusCode::CREATED, certificate))
}

/// A number from the path; one that cannot exist answers like a missing certificate.
fn number(raw: &str) -> ApiResult<CertificateNumber> {
    CertificateNumber::parse(raw).map_err(|_| ApiError::NotFound)
}

async fn load(app: &AppState, code: &str, raw_number: &str) -> ApiResult<Certificate> {
    let number = number(raw_number)?;
    certificates::find(&app.store.db, code, number.as_str()).await?.ok_or(ApiError::NotFound)
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
    Ok(with_etag(StatusCode::OK, load(&app, tenant.code(), &number).await?))
}

const NOT_PATCHABLE: [&str; 6] = ["number", "administration", "status", "status_reason", "version", "updated_at"];

fn if_match(headers: &HeaderMap) -> ApiResult<Option<i32>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map(Some).map_err(|_| ApiError::field("If-Match", "must be the certificate's version, e.g. \"3\""))
}

/// Change a certificate's details with a JSON Merge Patch (RFC 7396). Status changes go through
/// `/status`. With `If-Match: "<version>"`, a stale version answers 412.
#[utoipa::path(patch, path = "/api/v1/administrations/{code}/certificates/{number}", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), ("number" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Object, content_type = "application/merge-patch+json"),
    responses((status = 200, body = Certificate), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn patch_certificate(
    State(app): State<AppState>,
    tenant: Tenant<PublishCertificates>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<Value>,
) -> ApiResult<Response> {
    let (_, raw_number) = path;
    let number = number(&raw_number)?;
    let expected = if_match(&headers)?;
    let Value::Object(fields) = &patch else {
        return Err(ApiError::field("body", "a merge patch must be a JSON object"));
    };
    let refused: Vec<FieldError> = NOT_PATCHABLE
        .iter()
        .filter(|name| fields.contains_key(**name))
        .map(|name| {
            FieldError::new(
                *name,
                if *name == "status" { "is not patchable; use POST .../status" } else { "is not patchable" },
            )
        })
        .collect();
    if !refused.is_empty() {
        return Err(ApiError::Invalid(refused));
    }
    let txn = app.store.write().await?;
    let current =
        certificates::find_for_update(&txn, tenant.code(), number.as_str()).await?.ok_or(ApiError::NotFound)?;
    if expected.is_some_and(|version| version != current.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let mut document = current.details();
    json_patch::merge(&mut document, &patch);
    let input: CertificateInput = parse_json(document.to_string().as_bytes())?;
    let draft = CertificateDraft::parse(&input).map_err(ApiError::Invalid)?;
    let change = Change { actor: tenant.actor(), action: "updated", reason: None };
    let Some(updated) = certificates::update(&txn, &current, &draft, &change).await? else {
        return Ok(with_etag(StatusCode::OK, current));
    };
    audit::record(
        &txn,
        Some(tenant.code()),
        tenant.actor(),
        "certificate.updated",
        &format!("certificates/{}", updated.number),
        json!({"version": updated.version}),
    )
    .await?;
    txn.commit().await?;
    app.certificates_changed(tenant.code()).await;
    Ok(with_etag(StatusCode::OK, updated))
}

#[derive(Deserialize, ToSchema)]
pub struct StatusChange {
    /// active, suspended or revoked.
    pub status: Option<String>,
    /// Required for suspended and revoked.
    pub reason: Option<String>,
}

/// Suspend, reinstate or revoke a certificate. `revoked` is final.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/certificates/{number}/status", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), ("number" = String, Path)), request_body = StatusChange,
    responses((status = 200, body = Certificate), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn change_status(
    State(app): State<AppState>,
    tenant: Tenant<PublishCertificates>,
    Path(path): Path<(String, String)>,
    ApiJson(request): ApiJson<StatusChange>,
) -> ApiResult<Response> {
    let (_, raw_number) = path;
    let number = number(&raw_number)?;
    let requested: Status = request
        .status
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|_| ApiError::field("status", "must be one of active, suspended, revoked"))?;
    let txn = app.store.write().await?;
    let current =
        certificates::find_for_update(&txn, tenant.code(), number.as_str()).await?.ok_or(ApiError::NotFound)?;
    let reason =
        check_transition(current.stored_status, requested, request.reason.as_deref()).map_err(|error| match error {
            TransitionError::RevokedIsFinal | TransitionError::Unchanged => ApiError::Conflict(error.to_string()),
            TransitionError::ExpiredIsDerived => ApiError::field("status", error.to_string()),
            TransitionError::ReasonRequired | TransitionError::ReasonTooLong => {
                ApiError::field("reason", error.to_string())
            }
        })?;
    let change = Change { actor: tenant.actor(), action: "status_changed", reason: reason.clone() };
    let updated = certificates::set_status(&txn, &current, requested, &change).await?;
    audit::record(
        &txn,
        Some(tenant.code()),
        tenant.actor(),
        "certificate.status_changed",
        &format!("certificates/{}", updated.number),
        json!({"from": current.stored_status, "to": requested, "reason": reason, "version": updated.version}),
    )
    .await?;
    txn.commit().await?;
    app.certificates_changed(tenant.code()).await;
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
    let certificate = load(&app, tenant.code(), &number).await?;
    Ok(Json(certificates::history(&app.store.db, &certificate).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true`: check everything, apply nothing.
    pub dry_run: Option<String>,
}

/// Import certificates from CSV or a JSON array, all or nothing: rows are matched by `number`,
/// new ones are created `active`, status is never changed. Any invalid row: 422 with every error.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/certificates/import", tag = "certificates", security(("bearer" = [])),
    params(("code" = String, Path), ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "CSV with the header number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public; or a JSON array of certificates"),
    responses((status = 200, body = ImportReport), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
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
    let started = std::time::Instant::now();
    let drafts = import::validate(if is_csv { Format::Csv } else { Format::Json }, &body)?;
    let validated = started.elapsed();
    let txn = app.store.write().await?;
    let (mut report, written) = import::apply(&txn, tenant.code(), tenant.actor(), &drafts).await?;
    let applied = started.elapsed();
    report.dry_run = dry_run;
    if dry_run {
        txn.rollback().await?;
    } else {
        audit::record(
            &txn,
            Some(tenant.code()),
            tenant.actor(),
            "certificate.imported",
            "certificates/import",
            json!({"created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                   "format": if is_csv { "csv" } else { "json" }}),
        )
        .await?;
        txn.commit().await?;
        app.certificates_written(written).await;
    }
    tracing::info!(
        administration = tenant.code(),
        rows = drafts.len(),
        created = report.created,
        updated = report.updated,
        dry_run,
        validated_ms = validated.as_millis(),
        applied_ms = applied.as_millis(),
        total_ms = started.elapsed().as_millis(),
        "import"
    );
    Ok(Json(report))
}
