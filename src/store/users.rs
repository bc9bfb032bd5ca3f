//! User accounts. E-mail addresses are stored lower-cased and unique across the node.

use chrono::Utc;
use entity::user::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::{StoreError, StoreResult};

pub use entity::user::Model as User;

pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub administration: Option<String>,
    pub operator: Option<(String, String)>,
    pub display_name: Option<String>,
    pub registered_by: Option<String>,
}

pub async fn find(conn: &impl ConnectionTrait, id: i64) -> StoreResult<Option<User>> {
    Ok(Entity::find_by_id(id).one(conn).await?)
}

pub async fn find_by_email(conn: &impl ConnectionTrait, email: &str) -> StoreResult<Option<User>> {
    Ok(Entity::find().filter(Column::Email.eq(email.to_lowercase())).one(conn).await?)
}

pub async fn count(conn: &impl ConnectionTrait) -> StoreResult<u64> {
    Ok(Entity::find().count(conn).await?)
}

pub async fn list_for_administration(conn: &impl ConnectionTrait, code: &str) -> StoreResult<Vec<User>> {
    Ok(Entity::find()
        .filter(sea_orm::Condition::any().add(Column::Administration.eq(code)).add(Column::RegisteredBy.eq(code)))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

pub async fn insert(conn: &impl ConnectionTrait, new: NewUser) -> StoreResult<User> {
    let now = Utc::now();
    let (operator_scheme, operator_value) = new.operator.unzip();
    let model = user::ActiveModel {
        email: Set(new.email.to_lowercase()),
        password_hash: Set(new.password_hash),
        role: Set(new.role),
        administration: Set(new.administration),
        operator_scheme: Set(operator_scheme),
        operator_value: Set(operator_value),
        display_name: Set(new.display_name),
        registered_by: Set(new.registered_by),
        disabled: Set(false),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let id = Entity::insert(model).exec(conn).await?.last_insert_id;
    Entity::find_by_id(id).one(conn).await?.ok_or_else(|| StoreError::inconsistent("user just created"))
}

/// Changes what is given and bumps the token version, so every token issued before dies.
pub async fn update_credentials(
    conn: &impl ConnectionTrait,
    id: i64,
    disabled: Option<bool>,
    password_hash: Option<String>,
) -> StoreResult<()> {
    let mut update = Entity::update_many()
        .col_expr(Column::TokenVersion, Expr::col(Column::TokenVersion).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id));
    if let Some(disabled) = disabled {
        update = update.col_expr(Column::Disabled, Expr::value(disabled));
    }
    if let Some(hash) = password_hash {
        update = update.col_expr(Column::PasswordHash, Expr::value(hash));
    }
    update.exec(conn).await?;
    Ok(())
}
