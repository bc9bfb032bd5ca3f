//! A row written only to see whether the database takes writes (readiness, after a failed write).

use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};

use super::StoreResult;

/// Rewrites the probe row.
pub async fn touch(conn: &impl ConnectionTrait) -> StoreResult<()> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "UPDATE write_probe SET at = $1 WHERE id = 1",
        _ => "UPDATE write_probe SET at = ? WHERE id = 1",
    };
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, [Utc::now().into()])).await?;
    Ok(())
}
