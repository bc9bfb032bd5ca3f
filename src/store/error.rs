//! What storage functions fail with. Each front end (the HTTP API, the command line, background
//! workers) decides what a failure means for its caller; the store says only which kind it is.

use sea_orm::DbErr;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot serve now (unreachable, past the deadline, out of disk or memory,
    /// read-only, shutting down): the same request may succeed shortly.
    #[error("the database is unavailable: {0}")]
    Unavailable(DbErr),
    /// What is stored cannot be read back as it was written, or a row vanished inside the
    /// transaction that wrote it: a fault to investigate, not an outage.
    #[error("{0}")]
    Inconsistent(String),
    /// A row with the same key exists already (what it is, e.g. "certificate AR-1").
    #[error("{0} already exists")]
    Taken(String),
    /// The database refused or failed the statement.
    #[error(transparent)]
    Failed(DbErr),
}

impl StoreError {
    pub fn inconsistent(message: impl Into<String>) -> Self {
        StoreError::Inconsistent(message.into())
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Whether the database refused a row for the key of another (a unique index).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Failed(error) if matches!(error.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))))
    }
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        if super::timed::is_unavailable(&error) { StoreError::Unavailable(error) } else { StoreError::Failed(error) }
    }
}

impl From<serde_json::Error> for StoreError {
    /// A value that cannot be stored or read back as JSON.
    fn from(error: serde_json::Error) -> Self {
        StoreError::Inconsistent(error.to_string())
    }
}
