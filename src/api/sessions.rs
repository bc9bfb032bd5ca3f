//! Log in, who am I, change my password.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::app::AppState;
use crate::auth::{Caller, UserRole};
use crate::error::{ApiResult, Problem};
use crate::service::users;

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
    let user = users::sign_in(&app, &request.email, request.password, client.ip()).await?;
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
    /// At least 12 characters.
    #[schema(min_length = 12)]
    pub new_password: String,
}

/// Change one's own password; every token issued before stops working.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "sessions", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn change_password(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    caller: Caller,
    ApiJson(change): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    users::change_own_password(&app, &caller, client.ip(), change.current_password, change.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
