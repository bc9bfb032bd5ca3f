//! The users of an administration: created by the platform administrator or the
//! administration's customs_admin; disabled or given a new password by the latter.

use aeo_domain::{FieldError, OperatorId};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{ManageAdministration, ManageUsers, ReadAudit, Tenant, UserRole, password};
use crate::error::{ApiError, ApiResult, Problem};
use crate::store::{administrations, audit, certificates, users};

#[derive(Deserialize, ToSchema)]
pub struct NewUser {
    pub email: Option<String>,
    /// At least 12 characters.
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

impl From<users::User> for UserView {
    fn from(user: users::User) -> Self {
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

/// The longest e-mail address an account may have (RFC 5321's limits, rounded).
pub const MAX_EMAIL_BYTES: usize = 320;

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= MAX_EMAIL_BYTES
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
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
    let rows = users::list_for_administration(&app.store.db, tenant.code()).await?;
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
    if administrations::find(&app.store.db, tenant.code()).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let mut errors = Vec::new();
    let email = input.email.as_deref().unwrap_or_default().trim().to_lowercase();
    if !valid_email(&email) {
        errors.push(FieldError::new("email", "must be an e-mail address"));
    }
    let password = input.password.unwrap_or_default();
    if let Err(message) = password::check_rules(&password) {
        errors.push(FieldError::new("password", message));
    }
    let role = match input.role.as_deref().unwrap_or_default().parse::<UserRole>() {
        Ok(UserRole::PlatformAdmin) => {
            errors.push(FieldError::new("role", "platform_admin cannot be created here"));
            None
        }
        Ok(role) => Some(role),
        Err(message) => {
            errors.push(FieldError::new("role", message));
            None
        }
    };
    let operator = match (role, input.operator_identifier.as_deref()) {
        (Some(UserRole::Trader), Some(pair)) => match OperatorId::parse_pair(pair) {
            Ok(id) => Some(id),
            Err(error) => {
                errors.push(FieldError::new("operator_identifier", error.to_string()));
                None
            }
        },
        (Some(UserRole::Trader), None) => {
            errors.push(FieldError::new("operator_identifier", "is required for a trader"));
            None
        }
        (_, Some(_)) => {
            errors.push(FieldError::new("operator_identifier", "only traders have an operator identifier"));
            None
        }
        _ => None,
    };
    let display_name = input.display_name.map(|name| name.trim().to_owned()).filter(|name| !name.is_empty());
    if display_name.as_ref().is_some_and(|name| name.chars().count() > 200) {
        errors.push(FieldError::new("display_name", "must be at most 200 characters"));
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let password_hash = password::hash(password).await?;
    let txn = app.store.write().await?;
    // An administration vouches for a trader account only for an operator it certifies: one of
    // its certificates under the identifier, not revoked.
    if let Some(id) = &operator {
        let certified = certificates::find_by_identifier(&txn, Some(tenant.code()), id).await?;
        if !certified.iter().any(|certificate| certificate.stored_status != aeo_domain::Status::Revoked) {
            return Err(ApiError::field(
                "operator_identifier",
                format!("no certificate of {} that is not revoked is held under this identifier", tenant.code()),
            ));
        }
    }
    if users::find_by_email(&txn, &email).await?.is_some() {
        return Err(ApiError::Conflict("a user with this e-mail already exists".into()));
    }
    let is_trader = role == UserRole::Trader;
    let user = users::insert(
        &txn,
        users::NewUser {
            email,
            password_hash,
            role: role.as_str().to_owned(),
            administration: (!is_trader).then(|| tenant.code().to_owned()),
            operator: operator.map(|id| (id.scheme.as_str(), id.value)),
            display_name,
            registered_by: Some(tenant.code().to_owned()),
        },
    )
    .await?;
    audit::record(
        &txn,
        Some(tenant.code()),
        tenant.actor(),
        "user.created",
        &format!("users/{}", user.id),
        serde_json::json!({"email": user.email, "role": user.role}),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Deserialize, ToSchema)]
pub struct UserUpdate {
    pub disabled: Option<bool>,
    /// A new password (at least 12 characters).
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
    let user = users::find(&app.store.db, id).await?.ok_or(ApiError::NotFound)?;
    let ours =
        user.administration.as_deref() == Some(tenant.code()) || user.registered_by.as_deref() == Some(tenant.code());
    if !ours {
        return Err(ApiError::NotFound);
    }
    if update.disabled.is_none() && update.password.is_none() {
        return Err(ApiError::field("body", "give disabled or password"));
    }
    if update.disabled == Some(true) && user.id == tenant.caller.id {
        return Err(ApiError::field("disabled", "you cannot disable yourself"));
    }
    let hash = match update.password {
        Some(password) => {
            password::check_rules(&password).map_err(|message| ApiError::field("password", message))?;
            Some(password::hash(password).await?)
        }
        None => None,
    };
    let txn = app.store.write().await?;
    let password_changed = hash.is_some();
    users::update_credentials(&txn, id, update.disabled, hash).await?;
    audit::record(
        &txn,
        Some(tenant.code()),
        tenant.actor(),
        "user.updated",
        &format!("users/{id}"),
        serde_json::json!({"disabled": update.disabled, "password_changed": password_changed}),
    )
    .await?;
    let user = users::find(&txn, id).await?.ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    app.hot.forget_user(id);
    Ok(Json(user.into()))
}
