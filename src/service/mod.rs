//! What the registry does, between its front ends (the HTTP API today, web pages next) and
//! storage: front ends parse and authorise, then call these functions, which never speak HTTP
//! and are the only callers of the store's writes. Every write goes through a [`Work`].

pub mod administrations;
pub(crate) mod audit;
pub(crate) mod certificates;
pub(crate) mod federation;
pub(crate) mod import;
pub(crate) mod later;
pub(crate) mod mras;
pub(crate) mod peers;
pub(crate) mod public;
pub(crate) mod sessions;
pub(crate) mod traders;
pub(crate) mod users;
mod work;

use aeo_domain::FieldError;

pub use work::{After, Work};

use crate::store::StoreError;

pub type ServiceResult<T> = Result<T, ServiceError>;

/// An invalid row of an import: which row, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub message: String,
}

/// Why a service did not do what it was asked; nothing of it was applied.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Credentials that are missing, wrong, or of an account that is disabled.
    #[error("invalid credentials")]
    Unauthorized,
    /// Too many attempts: try again after this many seconds.
    #[error("too many attempts")]
    Throttled { retry_after_secs: u64 },
    /// The caller is known, but not allowed to do this.
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// The request contradicts what is stored (a duplicate, a final state).
    #[error("{0}")]
    Conflict(String),
    /// The caller's version of the resource is not the stored one.
    #[error("the resource has changed since the given version")]
    PreconditionFailed,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("invalid import")]
    InvalidRows(Vec<RowError>),
    /// Input that is not the format it claims to be (malformed JSON, say).
    #[error("{0}")]
    Malformed(String),
    /// Too much of this kind of work at once: try again shortly.
    #[error("{0}")]
    Busy(&'static str),
    /// A peer registry did not give a usable answer.
    #[error("{0}")]
    Upstream(String),
    #[error(transparent)]
    Hashing(#[from] crate::auth::password::HashError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ServiceError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Taken(what) => ServiceError::Conflict(format!("{what} already exists")),
            other => ServiceError::Store(other),
        }
    }
}

impl From<anyhow::Error> for ServiceError {
    /// A database outage met deep inside (signing keys, say) is still an outage.
    fn from(error: anyhow::Error) -> Self {
        match error.downcast::<StoreError>() {
            Ok(store) => store.into(),
            Err(error) => match error.downcast::<sea_orm::DbErr>() {
                Ok(database) => StoreError::from(database).into(),
                Err(error) => ServiceError::Internal(error),
            },
        }
    }
}

/// A JSON document as given, refused as malformed when it is not JSON.
fn json_value(bytes: &[u8]) -> ServiceResult<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|error| {
        ServiceError::Malformed(format!("malformed JSON at line {} column {}", error.line(), error.column()))
    })
}
