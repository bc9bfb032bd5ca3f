//! Administrations (tenants) and their per-administration counters.

use chrono::Utc;
use entity::administration::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::{StoreError, StoreResult};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Administration {
    pub code: String,
    pub name: String,
    pub country: String,
    pub programme: String,
}

impl From<administration::Model> for Administration {
    fn from(model: administration::Model) -> Self {
        Administration { code: model.code, name: model.name, country: model.country, programme: model.programme }
    }
}

pub async fn list(conn: &impl ConnectionTrait) -> StoreResult<Vec<Administration>> {
    Ok(Entity::find().order_by_asc(Column::Code).all(conn).await?.into_iter().map(Into::into).collect())
}

pub async fn find(conn: &impl ConnectionTrait, code: &str) -> StoreResult<Option<Administration>> {
    Ok(Entity::find_by_id(code.to_owned()).one(conn).await?.map(Into::into))
}

pub async fn insert(conn: &impl ConnectionTrait, administration: &Administration) -> StoreResult<()> {
    Ok(Entity::insert(administration::ActiveModel {
        code: Set(administration.code.clone()),
        name: Set(administration.name.clone()),
        country: Set(administration.country.clone()),
        programme: Set(administration.programme.clone()),
        last_seq: Set(0),
        last_number: Set(0),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?)
    .map(|_| ())
}

/// Takes the next position in the administration's change sequence. Inside a transaction the
/// row stays locked until commit, so positions are gap-free and in commit order.
pub async fn next_seq(conn: &impl ConnectionTrait, code: &str) -> StoreResult<i64> {
    reserve_seqs(conn, code, 1).await
}

/// Takes the next `count` positions of the change sequence; returns the last one.
pub async fn reserve_seqs(conn: &impl ConnectionTrait, code: &str, count: i64) -> StoreResult<i64> {
    bump_by(conn, code, Column::LastSeq, count).await.map(|row| row.last_seq)
}

/// Takes the next `count` assigned certificate numbers; returns the last one.
pub async fn reserve_numbers(conn: &impl ConnectionTrait, code: &str, count: i64) -> StoreResult<i64> {
    bump_by(conn, code, Column::LastNumber, count).await.map(|row| row.last_number)
}

async fn bump_by(
    conn: &impl ConnectionTrait,
    code: &str,
    column: Column,
    count: i64,
) -> StoreResult<administration::Model> {
    Entity::update_many()
        .col_expr(column, Expr::col(column).add(count))
        .filter(Column::Code.eq(code))
        .exec(conn)
        .await?;
    Entity::find_by_id(code.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::inconsistent(format!("administration {code}")))
}

/// The position of the administration's latest change.
pub async fn last_seq(conn: &impl ConnectionTrait, code: &str) -> StoreResult<Option<i64>> {
    Ok(Entity::find_by_id(code.to_owned()).one(conn).await?.map(|row| row.last_seq))
}
