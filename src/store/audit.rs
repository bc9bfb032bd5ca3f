//! The audit log: every write (and, from federation on, every call made or served) is recorded
//! in the same transaction as the change it describes.

use chrono::{DateTime, Utc};
use entity::audit_log::{self, Column, Entity};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

pub async fn record(
    conn: &impl ConnectionTrait,
    administration: Option<&str>,
    actor: &str,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    let entry = audit_log::ActiveModel {
        administration: Set(administration.map(str::to_owned)),
        at: Set(Utc::now()),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target: Set(target.to_owned()),
        details: Set(details.to_string()),
        ..Default::default()
    };
    Entity::insert(entry).exec_without_returning(conn).await.map(|_| ())
}

/// Newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    administration: &str,
    limit: u64,
    before_id: Option<i64>,
) -> Result<(Vec<AuditRecord>, Option<i64>), DbErr> {
    let mut query = Entity::find().filter(Column::Administration.eq(administration));
    if let Some(id) = before_id {
        query = query.filter(Column::Id.lt(id));
    }
    let rows = query.order_by_desc(Column::Id).limit(limit + 1).all(conn).await?;
    let more = rows.len() as u64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more { rows.last().map(|row| row.id) } else { None };
    Ok((
        rows.into_iter()
            .map(|row| AuditRecord {
                at: row.at,
                actor: row.actor,
                action: row.action,
                target: row.target,
                details: serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
        next,
    ))
}
