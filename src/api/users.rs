//! The users of an administration: created by the platform administrator or the
//! administration's customs_admin; disabled or given a new password by the latter.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{ManageAdministration, ManageUsers, ReadAudit, Tenant};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::users::{self, AccountChange, NewAccount};
use crate::store::users::User;

#[derive(Deserialize, ToSchema)]
pub struct NewUser {
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    /// At least 12 characters.
    #[schema(required = true, value_type = String, min_length = 12)]
    pub password: Option<String>,
    /// customs_admin, customs_officer, border_officer, auditor or trader.
    pub role: Option<String>,
    pub display_name: Option<String>,
    /// Traders only: `SCHEME:VALUE`, e.g. `CL-RUT:76086428-5`.
    pub operator_identifier: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub administration: Option<String>,
    pub operator_identifier: Option<String>,
    pub display_name: Option<String>,
    pub disabled: bool,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        UserView {
            operator_identifier: user.operator_scheme.zip(user.operator_value).map(|(s, v)| format!("{s}:{v}")),
            id: user.id,
            email: user.email,
            role: user.role,
            administration: user.administration,
            display_name: user.display_name,
            disabled: user.disabled,
        }
    }
}

/// The administration's users, including the traders it registered.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/users", tag = "users", security(("bearer" = [])),
    params(("code" = String, Path), Page),
    responses((status = 200, body = Paged<UserView>), (status = 404, body = Problem)))]
pub async fn list_users(
    State(app): State<AppState>,
    tenant: Tenant<ReadAudit>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<UserView>>> {
    let _slot = app.classes.reading.enter().await?;
    let rows = users::list(&app, tenant.code()).await?;
    Ok(Json(Paged::of(rows.into_iter().map(Into::into).collect(), &page)?))
}

/// Create a user of the administration, or a trader it registers.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/users", tag = "users", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = NewUser,
    responses((status = 201, body = UserView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(app): State<AppState>,
    tenant: Tenant<ManageUsers>,
    ApiJson(input): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let account = NewAccount {
        email: input.email,
        password: input.password,
        role: input.role,
        display_name: input.display_name,
        operator_identifier: input.operator_identifier,
    };
    let user = users::create(&app, tenant.code(), tenant.actor(), account).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Deserialize, ToSchema)]
pub struct UserUpdate {
    pub disabled: Option<bool>,
    /// A new password (at least 12 characters).
    #[schema(min_length = 12)]
    pub password: Option<String>,
}

/// Disable or re-enable a user, or set a new password; the user's existing tokens stop working.
#[utoipa::path(patch, path = "/api/v1/administrations/{code}/users/{id}", tag = "users", security(("bearer" = [])),
    params(("code" = String, Path), ("id" = i64, Path)), request_body = UserUpdate,
    responses((status = 200, body = UserView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
    Path(path): Path<(String, String)>,
    ApiJson(update): ApiJson<UserUpdate>,
) -> ApiResult<Json<UserView>> {
    let (_, id) = path;
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let change = AccountChange { disabled: update.disabled, password: update.password };
    let user = users::update(&app, tenant.code(), &tenant.caller, id, change).await?;
    Ok(Json(user.into()))
}
