//! Certificates, their identifiers and their change history. Every change takes the next
//! position in the administration's change sequence and leaves an event with the certificate as
//! it stood afterwards: the history users read and the feed partners will follow.
//!
//! Here: the certificate as read, and finding one. Searching is in `search`, changing and its
//! history in `changes`, creating many at once in `create`, the border question's summaries in
//! `summaries`.

mod changes;
mod create;
mod search;
mod summaries;

use std::collections::HashMap;

use aeo_domain::{Category, Role, Status};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{certificate, certificate_identifier};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::Value;

pub use self::changes::{Change, changes, changes_at, create, history, set_status, update};
pub use self::create::{create_many, find_many_for_update};
pub use self::search::{find_by_identifier, list};
pub(super) use self::summaries::SummaryColumns;
pub use self::summaries::{Summary, changed_since, latest_change, summaries_page, summary};
use super::{StoreError, StoreResult, split_list};

/// Rows per multi-row statement built by sea-orm: well under SQLite's and PostgreSQL's
/// bound-parameter limits.
const BATCH: usize = 500;

/// A certificate as the API shows it (the contract's certificate object).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Certificate {
    pub number: String,
    pub administration: String,
    /// `active`, `suspended`, `revoked` or `expired` (derived from the dates).
    #[schema(value_type = String, example = "active")]
    pub status: Status,
    #[schema(value_type = String, example = "security")]
    pub category: Category,
    #[schema(value_type = Vec<String>, example = json!(["exporter"]))]
    pub roles: Vec<Role>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub status_reason: Option<String>,
    pub operator: OperatorView,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    /// The lifecycle status as set, before expiry is derived.
    #[serde(skip)]
    pub stored_status: Status,
    #[serde(skip)]
    pub id: i64,
    /// Position of the latest change in the administration's sequence.
    #[serde(skip)]
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OperatorView {
    pub name: String,
    pub identifiers: Vec<IdentifierView>,
    pub address: AddressView,
    pub public: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct IdentifierView {
    pub scheme: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AddressView {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// One entry of a certificate's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub status: String,
    pub reason: Option<String>,
    /// Field → `{"from", "to"}` for updates; the initial details for a creation.
    #[schema(value_type = Object)]
    pub changes: Value,
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub role: Option<Role>,
    pub q: Option<String>,
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::inconsistent(format!("stored {what} is not valid: {value}"))
}

pub(super) fn build(
    model: certificate::Model,
    identifiers: Vec<certificate_identifier::Model>,
    today: NaiveDate,
) -> StoreResult<Certificate> {
    let stored_status: Status = model.status.parse().map_err(|_| corrupt("status", &model.status))?;
    let category: Category = model.category.parse().map_err(|_| corrupt("category", &model.category))?;
    let roles = split_list(&model.roles)
        .map(|role| role.parse::<Role>().map_err(|_| corrupt("role", role)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Certificate {
        status: Status::effective(stored_status, model.valid_until, today),
        stored_status,
        category,
        roles,
        valid_from: model.valid_from,
        valid_until: model.valid_until,
        status_reason: model.status_reason,
        operator: OperatorView {
            name: model.operator_name,
            identifiers: identifiers
                .into_iter()
                .map(|id| IdentifierView { scheme: id.scheme, value: id.value })
                .collect(),
            address: AddressView {
                street: model.street,
                city: model.city,
                postal_code: model.postal_code,
                country: model.country,
            },
            public: model.public,
        },
        version: model.version,
        updated_at: model.updated_at,
        number: model.number,
        administration: model.administration,
        id: model.id,
        seq: model.seq,
    })
}

/// Loads certificates with their identifiers in two queries, whatever their number.
async fn with_identifiers(
    conn: &impl ConnectionTrait,
    models: Vec<certificate::Model>,
) -> StoreResult<Vec<Certificate>> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = models.iter().map(|m| m.id).collect();
    let mut by_certificate: HashMap<i64, Vec<certificate_identifier::Model>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for row in certificate_identifier::Entity::find()
            .filter(certificate_identifier::Column::CertificateId.is_in(chunk.iter().copied()))
            .order_by_asc(certificate_identifier::Column::Id)
            .all(conn)
            .await?
        {
            by_certificate.entry(row.certificate_id).or_default().push(row);
        }
    }
    let today = today();
    models
        .into_iter()
        .map(|model| {
            let identifiers = by_certificate.remove(&model.id).unwrap_or_default();
            build(model, identifiers, today)
        })
        .collect()
}

pub async fn find_model(
    conn: &impl ConnectionTrait,
    administration: &str,
    number: &str,
) -> StoreResult<Option<certificate::Model>> {
    Ok(certificate::Entity::find()
        .filter(certificate::Column::Administration.eq(administration))
        .filter(certificate::Column::Number.eq(number))
        .one(conn)
        .await?)
}

pub async fn find(conn: &impl ConnectionTrait, administration: &str, number: &str) -> StoreResult<Option<Certificate>> {
    match find_model(conn, administration, number).await? {
        Some(model) => Ok(with_identifiers(conn, vec![model]).await?.pop()),
        None => Ok(None),
    }
}

/// The certificates with these ids, in id order.
pub async fn by_ids(conn: &impl ConnectionTrait, ids: &[i64]) -> StoreResult<Vec<Certificate>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let models = certificate::Entity::find()
            .filter(certificate::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(certificate::Column::Id)
            .all(conn)
            .await?;
        found.extend(with_identifiers(conn, models).await?);
    }
    Ok(found)
}

/// The certificate, its row locked until the transaction ends (`SELECT ... FOR UPDATE` on
/// PostgreSQL; SQLite writers are already serialised): a read-check-write in a write
/// transaction must not race another one on the same certificate.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    administration: &str,
    number: &str,
) -> StoreResult<Option<Certificate>> {
    let model = certificate::Entity::find()
        .filter(certificate::Column::Administration.eq(administration))
        .filter(certificate::Column::Number.eq(number))
        .lock_exclusive()
        .one(conn)
        .await?;
    match model {
        Some(model) => Ok(with_identifiers(conn, vec![model]).await?.pop()),
        None => Ok(None),
    }
}
