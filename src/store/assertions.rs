//! Federation assertions accepted so far, kept until they expire (see `federation::replay`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::federation_assertion::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use super::StoreResult;
use super::bulk;

/// An assertion: who made it, its id, and when it expires.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub issuer: String,
    pub jti: String,
    #[serde(serialize_with = "bulk::instant")]
    pub expires_at: DateTime<Utc>,
}

/// Records the assertions not recorded yet.
pub async fn record(conn: &impl ConnectionTrait, accepted: &[Accepted]) -> StoreResult<()> {
    bulk::insert_new(conn, "federation_assertions", accepted).await
}

/// Records the assertions not recorded yet; answers which of them were new, as `(issuer, jti)`.
pub async fn record_new(conn: &impl ConnectionTrait, accepted: &[Accepted]) -> StoreResult<HashSet<(String, String)>> {
    let mut new = HashSet::with_capacity(accepted.len());
    for chunk in accepted.chunks(bulk::batch(conn.get_database_backend())) {
        for row in
            bulk::insert_returning(conn, "federation_assertions", chunk, bulk::Taken::Skip, "issuer, jti").await?
        {
            new.insert((row.try_get::<String>("", "issuer")?, row.try_get::<String>("", "jti")?));
        }
    }
    Ok(new)
}

/// Every assertion that has not expired at `now`.
pub async fn unexpired(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> StoreResult<Vec<Accepted>> {
    Ok(Entity::find()
        .filter(Column::ExpiresAt.gte(now))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| Accepted { issuer: row.issuer, jti: row.jti, expires_at: row.expires_at })
        .collect())
}

/// Forgets the assertions that expired before `before`.
pub async fn prune(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> StoreResult<u64> {
    Ok(Entity::delete_many().filter(Column::ExpiresAt.lt(before)).exec(conn).await?.rows_affected)
}
