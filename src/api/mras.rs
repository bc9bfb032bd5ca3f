//! An administration's records of its MRAs, one per partner.

use aeo_domain::{AdministrationCode, MraDraft, MraInput};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::extract::{ApiJson, ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{ManageAdministration, ReadRegistry, Tenant};
use crate::error::{ApiError, ApiResult, Problem};
use crate::store::audit;
use crate::store::mras::{self, Mra};

fn partner(raw: &str) -> ApiResult<AdministrationCode> {
    AdministrationCode::parse(raw).map_err(|_| ApiError::NotFound)
}

/// Every MRA record of the administration.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/mras", tag = "mras", security(("bearer" = [])),
    params(("code" = String, Path), Page), responses((status = 200, body = Paged<Mra>), (status = 404, body = Problem)))]
pub async fn list_mras(
    State(app): State<AppState>,
    tenant: Tenant<ReadRegistry>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<Mra>>> {
    Ok(Json(Paged::of(mras::list(&app.store.db, tenant.code()).await?, &page)?))
}

/// The record of the arrangement with one partner.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/mras/{partner}", tag = "mras", security(("bearer" = [])),
    params(("code" = String, Path), ("partner" = String, Path)), responses((status = 200, body = Mra), (status = 404, body = Problem)))]
pub async fn get_mra(
    State(app): State<AppState>,
    tenant: Tenant<ReadRegistry>,
    Path(path): Path<(String, String)>,
) -> ApiResult<Json<Mra>> {
    let (_, raw_partner) = path;
    let partner = partner(&raw_partner)?;
    Ok(Json(mras::find(&app.store.db, tenant.code(), partner.as_str()).await?.ok_or(ApiError::NotFound)?))
}

/// Create or replace the record of the arrangement with `partner` (customs_admin).
#[utoipa::path(put, path = "/api/v1/administrations/{code}/mras/{partner}", tag = "mras", security(("bearer" = [])),
    params(("code" = String, Path), ("partner" = String, Path)),
    request_body(content = Object, description = "title, status, signed_on?, in_force_from?, categories, roles (empty: every role)"),
    responses((status = 200, body = Mra), (status = 201, body = Mra), (status = 422, body = Problem)))]
pub async fn put_mra(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
    Path(path): Path<(String, String)>,
    ApiJson(input): ApiJson<MraInput>,
) -> ApiResult<(StatusCode, Json<Mra>)> {
    let (_, raw_partner) = path;
    let partner = AdministrationCode::parse(&raw_partner).map_err(|message| ApiError::field("partner", message))?;
    if partner == tenant.code {
        return Err(ApiError::field("partner", "an administration has no arrangement with itself"));
    }
    let draft = MraDraft::parse(&input).map_err(ApiError::Invalid)?;
    let txn = app.store.write().await?;
    let (mra, created) = mras::upsert(&txn, tenant.code(), partner.as_str(), &draft).await?;
    audit::record(
        &txn,
        Some(tenant.code()),
        tenant.actor(),
        if created { "mra.created" } else { "mra.updated" },
        &format!("mras/{partner}"),
        json!(draft),
    )
    .await?;
    txn.commit().await?;
    app.hot.forget_mra(tenant.code(), partner.as_str());
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(mra)))
}
