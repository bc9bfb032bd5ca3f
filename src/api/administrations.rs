//! The administrations (tenants) hosted on this node.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{Caller, UserRole};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::administrations::{self, NewAdministration};
use crate::store::administrations::Administration;

/// Every administration hosted on this node (no authentication needed).
#[utoipa::path(get, path = "/api/v1/administrations", tag = "administrations",
    params(Page), responses((status = 200, body = Paged<Administration>)))]
pub async fn list_administrations(
    State(app): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<Administration>>> {
    Ok(Json(Paged::of(administrations::list(&app).await?, &page)?))
}

#[derive(Deserialize, ToSchema)]
pub struct AdministrationInput {
    /// `^[A-Z]{2}(-[A-Z0-9]{1,8})?$`, e.g. `CL`.
    pub code: Option<String>,
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// The AEO programme's name.
    pub programme: Option<String>,
}

/// Create an administration (platform administrator only).
#[utoipa::path(post, path = "/api/v1/administrations", tag = "administrations", security(("bearer" = [])),
    request_body = AdministrationInput,
    responses((status = 201, body = Administration), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_administration(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<AdministrationInput>,
) -> ApiResult<(StatusCode, Json<Administration>)> {
    if caller.role != UserRole::PlatformAdmin {
        return Err(ApiError::Forbidden);
    }
    let new = NewAdministration {
        code: input.code.as_deref().unwrap_or_default(),
        name: input.name.as_deref().unwrap_or_default(),
        country: input.country.as_deref().unwrap_or_default(),
        programme: input.programme.as_deref().unwrap_or_default(),
    };
    let administration = administrations::create(&app, &caller.email, &new).await?;
    Ok((StatusCode::CREATED, Json(administration)))
}
