//! The administrations (tenants) hosted on this node.

use aeo_domain::{AdministrationCode, FieldError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{Caller, UserRole};
use crate::error::{ApiError, ApiResult, Problem};
use crate::store::administrations::{self, Administration};
use crate::store::audit;

/// Every administration hosted on this node (no authentication needed).
#[utoipa::path(get, path = "/api/v1/administrations", tag = "administrations",
    params(Page), responses((status = 200, body = Paged<Administration>)))]
pub async fn list_administrations(
    State(app): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<Administration>>> {
    Ok(Json(Paged::of(administrations::list(&app.store.db).await?, &page)?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewAdministration {
    /// `^[A-Z]{2}(-[A-Z0-9]{1,8})?$`, e.g. `CL`.
    pub code: Option<String>,
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// The AEO programme's name.
    pub programme: Option<String>,
}

fn required_text(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>, max: usize) -> String {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        errors.push(FieldError::new(field, "is required"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
    }
    value.to_owned()
}

/// Create an administration (platform administrator only).
#[utoipa::path(post, path = "/api/v1/administrations", tag = "administrations", security(("bearer" = [])),
    request_body = NewAdministration,
    responses((status = 201, body = Administration), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_administration(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewAdministration>,
) -> ApiResult<(StatusCode, Json<Administration>)> {
    if caller.role != UserRole::PlatformAdmin {
        return Err(ApiError::Forbidden);
    }
    let mut errors = Vec::new();
    let code = match AdministrationCode::parse(input.code.as_deref().unwrap_or_default()) {
        Ok(code) => code.as_str().to_owned(),
        Err(message) => {
            errors.push(FieldError::new("code", message));
            String::new()
        }
    };
    let name = required_text(&mut errors, "name", input.name.as_deref(), 300);
    let programme = required_text(&mut errors, "programme", input.programme.as_deref(), 300);
    let country = input.country.as_deref().unwrap_or_default().trim().to_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        errors.push(FieldError::new("country", "must be a two-letter country code"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let administration = Administration { code, name, country, programme };
    let txn = app.store.write().await?;
    if administrations::find(&txn, &administration.code).await?.is_some() {
        return Err(ApiError::Conflict(format!("administration {} already exists", administration.code)));
    }
    administrations::insert(&txn, &administration).await?;
    app.federation.keyring.create(&txn, &administration.code, chrono::Duration::zero()).await?;
    audit::record(
        &txn,
        Some(&administration.code),
        &caller.email,
        "administration.created",
        &format!("administrations/{}", administration.code),
        serde_json::json!({"name": administration.name, "country": administration.country, "programme": administration.programme}),
    )
    .await?;
    txn.commit().await?;
    app.hot.forget_hosted(&administration.code);
    Ok((StatusCode::CREATED, Json(administration)))
}
