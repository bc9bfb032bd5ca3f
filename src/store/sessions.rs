//! Sessions of the web pages, by the SHA-256 of the cookie's secret (`service::sessions`).

use chrono::{DateTime, Utc};
use entity::web_session::{self, Column, Entity};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoreResult;

pub use entity::web_session::Model as Session;

pub async fn insert(conn: &impl ConnectionTrait, id: &str, user_id: i64, token_version: i32) -> StoreResult<()> {
    let now = Utc::now();
    let model = web_session::ActiveModel {
        id: Set(id.to_owned()),
        user_id: Set(user_id),
        token_version: Set(token_version),
        created_at: Set(now),
        last_seen_at: Set(now),
    };
    Entity::insert(model).exec(conn).await?;
    Ok(())
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> StoreResult<Option<Session>> {
    Ok(Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// Notes that the session was used at `at` (never moving it back).
pub async fn seen(conn: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
    Entity::update_many()
        .col_expr(Column::LastSeenAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::LastSeenAt.lt(at))
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends the session; true when there was one.
pub async fn delete(conn: &impl ConnectionTrait, id: &str) -> StoreResult<bool> {
    Ok(Entity::delete_by_id(id.to_owned()).exec(conn).await?.rows_affected > 0)
}

/// Ends every session last used before `idle_since`, or opened before `opened_before`.
pub async fn delete_expired(
    conn: &impl ConnectionTrait,
    idle_since: DateTime<Utc>,
    opened_before: DateTime<Utc>,
) -> StoreResult<u64> {
    let expired =
        sea_orm::Condition::any().add(Column::LastSeenAt.lt(idle_since)).add(Column::CreatedAt.lt(opened_before));
    Ok(Entity::delete_many().filter(expired).exec(conn).await?.rows_affected)
}
