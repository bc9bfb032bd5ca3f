//! The audit log: every write is recorded in the same transaction as the change it describes
//! (`service::Work`); every federation call made or served, in batches in the background.

use chrono::{DateTime, Utc};
use entity::audit_log::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::{StoreResult, bulk};

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

/// A row of `audit_log`, as `bulk` writes it.
#[derive(Serialize)]
struct Row<'a> {
    administration: Option<&'a str>,
    #[serde(serialize_with = "bulk::instant")]
    at: DateTime<Utc>,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    details: String,
}

/// Writes `entries` (in one statement per batch), stamped now.
pub async fn record(conn: &impl ConnectionTrait, entries: Vec<Entry>) -> StoreResult<()> {
    let at = Utc::now();
    let rows: Vec<Row<'_>> = entries
        .iter()
        .map(|entry| Row {
            administration: entry.administration.as_deref(),
            at,
            actor: &entry.actor,
            action: &entry.action,
            target: &entry.target,
            details: entry.details.to_string(),
        })
        .collect();
    bulk::insert(conn, "audit_log", &rows).await
}

/// Which records to list.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Actions that begin so (`certificate.`, `federation.served`).
    pub action: Option<String>,
    /// One actor exactly (an e-mail, `peer:PE`).
    pub actor: Option<String>,
}

/// Newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    administration: &str,
    filter: &AuditFilter,
    limit: u64,
    before_id: Option<i64>,
) -> StoreResult<(Vec<AuditRecord>, Option<i64>)> {
    let mut query = Entity::find().filter(Column::Administration.eq(administration));
    if let Some(action) = &filter.action {
        query = query.filter(Column::Action.starts_with(action));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(Column::Actor.eq(actor));
    }
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
