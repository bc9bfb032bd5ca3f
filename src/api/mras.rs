//! An administration's records of its MRAs, one per partner.

use aeo_domain::{AdministrationCode, MraInput};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{ApiJson, ApiQuery, Page, Paged};
use super::schemas::MraInputSchema;
use crate::app::AppState;
use crate::auth::{ManageAdministration, ReadRegistry, Tenant};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::mras;
use crate::store::mras::Mra;

fn partner(raw: &str) -> ApiResult<AdministrationCode> {
    AdministrationCode::parse(raw).map_err(|message| ApiError::field("partner", message))
}

/// Every MRA record of the administration.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/mras", tag = "mras", security(("bearer" = [])),
    params(("code" = String, Path), Page), responses((status = 200, body = Paged<Mra>), (status = 404, body = Problem)))]
pub async fn list_mras(
    State(app): State<AppState>,
    tenant: Tenant<ReadRegistry>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<Mra>>> {
    Ok(Json(Paged::of(mras::list(&app, tenant.code()).await?, &page)?))
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
    Ok(Json(mras::find(&app, tenant.code(), partner.as_str()).await?))
}

/// Create or replace the record of the arrangement with a partner.
///
/// For the `customs_admin` of `{code}`. 201 when the record is new, 200 when it replaced one. Recognition at this administration
/// follows the record at once: only an `in_force` arrangement, from its `in_force_from`,
/// recognises the partner's certificates of the categories and roles it covers.
#[utoipa::path(put, path = "/api/v1/administrations/{code}/mras/{partner}", tag = "mras", security(("bearer" = [])),
    params(("code" = String, Path), ("partner" = String, Path)),
    request_body = MraInputSchema,
    responses((status = 200, description = "The record replaced the one before.", body = Mra),
        (status = 201, description = "The record is new.", body = Mra),
        (status = 422, description = "A field is missing or invalid; `errors` names every one.", body = Problem)))]
pub async fn put_mra(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
    Path(path): Path<(String, String)>,
    ApiJson(input): ApiJson<MraInput>,
) -> ApiResult<(StatusCode, Json<Mra>)> {
    let (_, raw_partner) = path;
    let partner = AdministrationCode::parse(&raw_partner).map_err(|message| ApiError::field("partner", message))?;
    let (mra, created) = mras::record(&app, &tenant.code, tenant.actor(), &partner, &input).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(mra)))
}
