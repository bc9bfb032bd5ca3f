//! Log in, who am I, change my password.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::app::AppState;
use crate::auth::{Caller, UserRole, password};
use crate::error::{ApiError, ApiResult, Problem};
use crate::store::{audit, users};

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Exchange an e-mail and password for a short-lived access token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "sessions", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
pub async fn login(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let email = request.email.trim().to_lowercase();
    // No account has such an address; nothing of it is kept, not even in the throttle.
    if email.len() > crate::api::users::MAX_EMAIL_BYTES {
        return Err(ApiError::Unauthorized);
    }
    let attempt = app
        .login_throttle
        .attempt(&email, client.ip())
        .map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })?;
    let user = match users::find_by_email(&app.store.db, &email).await {
        Ok(user) => user,
        Err(error) => {
            // The database failed, not the client: no attempt was made.
            attempt.not_evaluated();
            return Err(error.into());
        }
    };
    // A disabled account verifies against the dummy hash: the same answer, the same time.
    let stored = user.as_ref().filter(|u| !u.disabled).map(|u| u.password_hash.clone());
    let ok = match password::verify(request.password, stored).await {
        Ok(ok) => ok,
        Err(busy) => {
            attempt.not_evaluated();
            return Err(busy.into());
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::Unauthorized);
    };
    attempt.succeeded();
    Ok(Json(TokenResponse {
        access_token: app.tokens.issue(user.id, user.token_version)?,
        token_type: "Bearer",
        expires_in: app.tokens.ttl_secs,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub email: String,
    pub role: UserRole,
    pub administration: Option<String>,
    /// `SCHEME:VALUE` for traders.
    pub operator_identifier: Option<String>,
    /// When signed in with the session cookie: the token every change must carry in
    /// `X-CSRF-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(State(app): State<AppState>, caller: Caller, headers: HeaderMap) -> Json<Me> {
    Json(Me {
        csrf_token: crate::auth::session_csrf_token(&app, &headers),
        email: caller.email,
        role: caller.role,
        administration: caller.administration.map(|code| code.as_str().to_owned()),
        operator_identifier: caller.operator.map(|id| id.to_pair()),
    })
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change one's own password; every token issued before stops working.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "sessions", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn change_password(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    caller: Caller,
    ApiJson(change): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    password::check_rules(&change.new_password).map_err(|message| ApiError::field("new_password", message))?;
    let user = users::find(&app.store.db, caller.id).await?.ok_or(ApiError::Unauthorized)?;
    // Guessing the current password with a stolen token is throttled like logins.
    let attempt = app
        .login_throttle
        .attempt(&user.email, client.ip())
        .map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })?;
    match password::verify(change.current_password, Some(user.password_hash)).await {
        Ok(true) => attempt.succeeded(),
        Ok(false) => return Err(ApiError::field("current_password", "is not your current password")),
        Err(busy) => {
            attempt.not_evaluated();
            return Err(busy.into());
        }
    }
    let hash = password::hash(change.new_password).await?;
    let txn = app.store.write().await?;
    users::update_credentials(&txn, caller.id, None, Some(hash)).await?;
    let administration = caller.administration.as_ref().map(|c| c.as_str());
    audit::record(
        &txn,
        administration,
        &caller.email,
        "user.password_changed",
        &format!("users/{}", caller.id),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    app.hot.forget_user(caller.id);
    Ok(StatusCode::NO_CONTENT)
}
