//! The audit log: every write is recorded in the same transaction as the change it describes
//! (`service::Work`); every federation call made or served, in batches in the background.

use chrono::{DateTime, Utc};
use entity::audit_log::{self, Column, Entity};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::StoreResult;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// An audit record to be written; `administration` is `None` for the platform's own records.
#[derive(Debug, Clone)]
pub struct Entry {
    pub administration: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
}

/// Writes `entries` (in one statement per batch), stamped now.
pub async fn record(conn: &impl ConnectionTrait, entries: Vec<Entry>) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let at = Utc::now();
    for chunk in entries.chunks(500) {
        let rows = chunk.iter().map(|entry| audit_log::ActiveModel {
            administration: Set(entry.administration.clone()),
            at: Set(at),
            actor: Set(entry.actor.clone()),
            action: Set(entry.action.clone()),
            target: Set(entry.target.clone()),
            details: Set(entry.details.to_string()),
            ..Default::default()
        });
        Entity::insert_many(rows).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// Newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    administration: &str,
    limit: u64,
    before_id: Option<i64>,
) -> StoreResult<(Vec<AuditRecord>, Option<i64>)> {
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
