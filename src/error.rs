//! The HTTP API's error type and its RFC 9457 problem+json form. Services and storage have
//! their own error types, turned into `ApiError` here; the detail of an internal failure is
//! logged, never shown.

use aeo_domain::FieldError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::ServiceError;
use crate::store::StoreError;

pub type ApiResult<T> = Result<T, ApiError>;

pub use crate::service::RowError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    /// A change authenticated by the session cookie without its CSRF token, or from another site.
    #[error("forbidden")]
    CsrfRefused,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the resource has changed since the given version")]
    PreconditionFailed,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("invalid import")]
    InvalidRows(Vec<RowError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// Not now, for a reason of the node's (the database, the password hashing slots): say when
    /// to try again.
    #[error("{detail}")]
    Unavailable { detail: &'static str, retry_after_secs: u64 },
    /// A peer registry did not give a usable answer.
    #[error("{0}")]
    Upstream(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ApiError {
    /// The database cannot be reached or refuses writes.
    pub fn database_unavailable() -> Self {
        ApiError::Unavailable { detail: "the database is unavailable; try again shortly", retry_after_secs: 5 }
    }

    /// A single invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::CsrfRefused => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::Invalid(_) | ApiError::InvalidRows(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::auth::password::Busy> for ApiError {
    fn from(_: crate::auth::password::Busy) -> Self {
        ApiError::Unavailable { detail: "too many sign-ins at once; try again shortly", retry_after_secs: 1 }
    }
}

impl From<crate::auth::password::HashError> for ApiError {
    fn from(error: crate::auth::password::HashError) -> Self {
        match error {
            crate::auth::password::HashError::Busy(busy) => busy.into(),
            failed => ApiError::Internal(failed.into()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    /// A database outage met deep inside (signing keys, change feeds) is still an outage.
    fn from(error: anyhow::Error) -> Self {
        match error.downcast::<StoreError>() {
            Ok(store) => store.into(),
            Err(error) => match error.downcast::<sea_orm::DbErr>() {
                Ok(database) => StoreError::from(database).into(),
                Err(error) => ApiError::Internal(error),
            },
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Unauthorized => ApiError::Unauthorized,
            ServiceError::Throttled { retry_after_secs } => ApiError::TooManyRequests { retry_after_secs },
            ServiceError::Forbidden => ApiError::Forbidden,
            ServiceError::NotFound => ApiError::NotFound,
            ServiceError::Conflict(message) => ApiError::Conflict(message),
            ServiceError::PreconditionFailed => ApiError::PreconditionFailed,
            ServiceError::Invalid(errors) => ApiError::Invalid(errors),
            ServiceError::InvalidRows(errors) => ApiError::InvalidRows(errors),
            ServiceError::Malformed(message) => ApiError::BadRequest(message),
            ServiceError::Upstream(message) => ApiError::Upstream(message),
            ServiceError::Busy(detail) => ApiError::Unavailable { detail, retry_after_secs: 2 },
            ServiceError::Hashing(error) => error.into(),
            ServiceError::Store(error) => error.into(),
            ServiceError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "the database is unavailable");
            return ApiError::database_unavailable();
        }
        ApiError::Internal(error.into())
    }
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
        }
    }

    pub fn into_response_with(self, extra: Option<(header::HeaderName, HeaderValue)>) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some((name, value)) = extra {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

fn retry_after(seconds: u64) -> Option<(header::HeaderName, HeaderValue)> {
    HeaderValue::from_str(&seconds.to_string()).ok().map(|value| (header::RETRY_AFTER, value))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut problem = Problem::new(status, self.to_string());
        let mut extra = None;
        match &self {
            ApiError::Unauthorized => {
                problem.detail = "missing, malformed, expired or invalid credentials".into();
                extra = Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::Forbidden => problem.detail = "your role does not allow this".into(),
            ApiError::CsrfRefused => {
                problem.detail =
                    "a change made with the session cookie must carry the session's CSRF token in X-CSRF-Token".into()
            }
            ApiError::NotFound => problem.detail = "no such resource".into(),
            ApiError::Invalid(errors) => {
                problem.kind = "https://aeo-registry.dev/problems/invalid-input".into();
                problem.detail = match errors.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    _ => format!("{} fields are invalid", errors.len()),
                };
                problem.errors = serde_json::to_value(errors).ok();
            }
            ApiError::InvalidRows(errors) => {
                problem.kind = "https://aeo-registry.dev/problems/invalid-import".into();
                problem.detail = format!("{} errors; nothing was applied", errors.len());
                problem.errors = serde_json::to_value(errors).ok();
            }
            ApiError::UnsupportedMediaType(detail) => problem.detail = detail.clone(),
            ApiError::TooManyRequests { retry_after_secs } => {
                problem.detail = "too many requests; try again later".into();
                extra = retry_after(*retry_after_secs);
            }
            ApiError::Unavailable { retry_after_secs, .. } => extra = retry_after(*retry_after_secs),
            ApiError::Internal(error) => {
                tracing::error!(error = ?error, "internal error");
                problem.detail = "an internal error occurred; it has been logged".into();
            }
            _ => {}
        }
        problem.into_response_with(extra)
    }
}
