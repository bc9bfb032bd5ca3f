//! Changing a certificate: every change takes the next position in the administration's
//! sequence and leaves an event with the certificate as it stood afterwards; and reading those
//! changes back, as history and as the feed.

use std::collections::{BTreeMap, HashMap};

use aeo_domain::{Category, CertificateDraft, Role, Status};
use chrono::{NaiveDate, Utc};
use entity::{certificate, certificate_event, certificate_identifier};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    AddressView, BATCH, Certificate, HistoryEntry, IdentifierView, OperatorView, create_many, find, find_model,
    with_identifiers,
};
use crate::store::snapshot::{self, Snapshot};
use crate::store::{Db, StoreError, StoreResult, administrations, join_list, outbox, read_snapshot};

/// The editable details of a certificate, as a flat map for diffs and history.
fn details(draft_like: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&path, inner, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", draft_like, &mut out);
    out
}

/// The editable details of a certificate: what a merge patch applies to, what history diffs,
/// and what a creation's history entry shows.
#[derive(Serialize)]
struct Details<'a> {
    category: Category,
    roles: &'a [Role],
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    operator: &'a OperatorView,
}

impl Certificate {
    fn editable(&self) -> Details<'_> {
        Details {
            category: self.category,
            roles: &self.roles,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            operator: &self.operator,
        }
    }

    /// The editable details as JSON.
    pub fn details(&self) -> Value {
        serde_json::to_value(self.editable()).unwrap_or(Value::Null)
    }
}

fn draft_details(draft: &CertificateDraft) -> Value {
    let operator = operator_view(draft);
    let details = Details {
        category: draft.category,
        roles: &draft.roles,
        valid_from: draft.valid_from,
        valid_until: draft.valid_until,
        operator: &operator,
    };
    serde_json::to_value(details).unwrap_or(Value::Null)
}

fn operator_view(draft: &CertificateDraft) -> OperatorView {
    let operator = &draft.operator;
    OperatorView {
        name: operator.name.clone(),
        identifiers: operator
            .identifiers
            .iter()
            .map(|id| IdentifierView { scheme: id.scheme.as_str(), value: id.value.clone() })
            .collect(),
        address: AddressView {
            street: operator.address.street.clone(),
            city: operator.address.city.clone(),
            postal_code: operator.address.postal_code.clone(),
            country: operator.address.country.clone(),
        },
        public: operator.public,
    }
}

/// `field → {"from", "to"}` for every detail that differs.
fn diff(before: &Value, after: &Value) -> serde_json::Map<String, Value> {
    let (before, after) = (details(before), details(after));
    let mut changes = serde_json::Map::new();
    for key in before.keys().chain(after.keys()) {
        let (old, new) = (before.get(key), after.get(key));
        if old != new && !changes.contains_key(key) {
            changes.insert(key.clone(), json!({"from": old, "to": new}));
        }
    }
    changes
}

fn detail_columns(model: &mut certificate::ActiveModel, draft: &CertificateDraft) {
    let operator = &draft.operator;
    model.category = Set(draft.category.as_str().to_owned());
    model.roles = Set(join_list(draft.roles.iter().map(|r| r.as_str())));
    model.valid_from = Set(draft.valid_from);
    model.valid_until = Set(draft.valid_until);
    model.operator_name = Set(operator.name.clone());
    model.search_name = Set(operator.name.to_lowercase());
    model.street = Set(operator.address.street.clone());
    model.city = Set(operator.address.city.clone());
    model.postal_code = Set(operator.address.postal_code.clone());
    model.country = Set(operator.address.country.clone());
    model.public = Set(operator.public);
}

async fn replace_identifiers(
    conn: &impl ConnectionTrait,
    certificate_id: i64,
    administration: &str,
    draft: &CertificateDraft,
) -> StoreResult<()> {
    certificate_identifier::Entity::delete_many()
        .filter(certificate_identifier::Column::CertificateId.eq(certificate_id))
        .exec(conn)
        .await?;
    let rows = draft.operator.identifiers.iter().map(|id| certificate_identifier::ActiveModel {
        certificate_id: Set(certificate_id),
        administration: Set(administration.to_owned()),
        scheme: Set(id.scheme.as_str()),
        value: Set(id.value.clone()),
        compact: Set(id.compact()),
        ..Default::default()
    });
    certificate_identifier::Entity::insert_many(rows).exec_without_returning(conn).await?;
    Ok(())
}

/// Who made a change and how it should be recorded.
pub struct Change<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub reason: Option<String>,
}

/// Records the change from `before` to `certificate` as the next event of the administration's
/// sequence.
async fn record_event(
    conn: &impl ConnectionTrait,
    before: &Certificate,
    certificate: &Certificate,
    change: &Change<'_>,
    changes: Value,
) -> StoreResult<i64> {
    keep_creation_snapshot(conn, before).await?;
    let seq = administrations::next_seq(conn, &certificate.administration).await?;
    certificate::Entity::update_many()
        .col_expr(certificate::Column::Seq, Expr::value(seq))
        .filter(certificate::Column::Id.eq(certificate.id))
        .exec(conn)
        .await?;
    let event = event_row(certificate, seq, change, changes.to_string())?;
    certificate_event::Entity::insert(event).exec_without_returning(conn).await?;
    outbox::enqueue(conn, &certificate.administration, seq).await?;
    Ok(seq)
}

/// Before a certificate's first change, writes its creation event's snapshot: the certificate
/// as it still stands. Creations are recorded without one (an import would otherwise write
/// every certificate twice), and readers take the certificate row instead until this runs.
async fn keep_creation_snapshot(conn: &impl ConnectionTrait, current: &Certificate) -> StoreResult<()> {
    if current.version != 1 {
        return Ok(());
    }
    use certificate_event::Column as E;
    let snapshot = snapshot::write(&Snapshot::from(current))?;
    certificate_event::Entity::update_many()
        .col_expr(E::Snapshot, Expr::value(snapshot))
        .filter(E::CertificateId.eq(current.id))
        .filter(E::Snapshot.eq(""))
        .exec(conn)
        .await?;
    Ok(())
}

/// The history event of change `seq`, with the certificate as it stands after it.
fn event_row(
    certificate: &Certificate,
    seq: i64,
    change: &Change<'_>,
    changes: String,
) -> StoreResult<certificate_event::ActiveModel> {
    Ok(certificate_event::ActiveModel {
        administration: Set(certificate.administration.clone()),
        seq: Set(seq),
        certificate_id: Set(certificate.id),
        number: Set(certificate.number.clone()),
        at: Set(certificate.updated_at),
        actor: Set(change.actor.to_owned()),
        action: Set(change.action.to_owned()),
        status: Set(certificate.stored_status.as_str().to_owned()),
        reason: Set(change.reason.clone()),
        changes: Set(changes),
        snapshot: Set(snapshot::write(&Snapshot::from(certificate))?),
        ..Default::default()
    })
}

/// Creates an `active` certificate; assigns a number when the draft has none.
pub async fn create(
    conn: &impl ConnectionTrait,
    administration: &str,
    draft: &CertificateDraft,
    change: &Change<'_>,
) -> StoreResult<Certificate> {
    if let Some(number) = &draft.number
        && find_model(conn, administration, number.as_str()).await?.is_some()
    {
        return Err(StoreError::Taken(format!("certificate {number}")));
    }
    // A concurrent create of the same number may still commit first (PostgreSQL); the unique
    // index then decides, and `create_many` answers the loser with a conflict too.
    let created = create_many(conn, administration, &[draft], change).await?;
    let number = created.first().ok_or_else(|| StoreError::inconsistent("certificate just created"))?;
    find(conn, administration, number).await?.ok_or_else(|| StoreError::inconsistent("certificate just created"))
}

/// Replaces the details of a certificate; `None` when nothing differs (no version, no event).
pub async fn update(
    conn: &impl ConnectionTrait,
    current: &Certificate,
    draft: &CertificateDraft,
    change: &Change<'_>,
) -> StoreResult<Option<Certificate>> {
    let changes = diff(&current.details(), &draft_details(draft));
    if changes.is_empty() {
        return Ok(None);
    }
    let mut model = certificate::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(current.id),
        version: Set(current.version + 1),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    detail_columns(&mut model, draft);
    certificate::Entity::update(model).exec(conn).await?;
    replace_identifiers(conn, current.id, &current.administration, draft).await?;
    let updated = find(conn, &current.administration, &current.number)
        .await?
        .ok_or_else(|| StoreError::inconsistent("certificate just updated"))?;
    let seq = record_event(conn, current, &updated, change, Value::Object(changes)).await?;
    Ok(Some(Certificate { seq, ..updated }))
}

/// Sets the lifecycle status (already checked against the rules by the caller).
pub async fn set_status(
    conn: &impl ConnectionTrait,
    current: &Certificate,
    status: Status,
    change: &Change<'_>,
) -> StoreResult<Certificate> {
    let now = Utc::now();
    let model = certificate::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(current.id),
        status: Set(status.as_str().to_owned()),
        status_reason: Set(change.reason.clone()),
        status_changed_at: Set(Some(now)),
        version: Set(current.version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    certificate::Entity::update(model).exec(conn).await?;
    let updated = find(conn, &current.administration, &current.number)
        .await?
        .ok_or_else(|| StoreError::inconsistent("certificate just updated"))?;
    let changes = json!({"status": {"from": current.stored_status, "to": status}});
    let seq = record_event(conn, current, &updated, change, changes).await?;
    Ok(Certificate { seq, ..updated })
}

/// Every change of `certificate`, oldest first.
pub async fn history(conn: &impl ConnectionTrait, certificate: &Certificate) -> StoreResult<Vec<HistoryEntry>> {
    Ok(certificate_event::Entity::find()
        .filter(certificate_event::Column::CertificateId.eq(certificate.id))
        .order_by_asc(certificate_event::Column::Seq)
        .all(conn)
        .await?
        .into_iter()
        .map(|event| HistoryEntry {
            seq: event.seq,
            at: event.at,
            actor: event.actor,
            action: event.action,
            status: event.status,
            reason: event.reason,
            changes: match (event.changes.as_str(), event.snapshot.as_str()) {
                // A creation: the details it was made with, from its snapshot, or from the
                // certificate itself while it has not changed since.
                ("", "") => certificate.details(),
                ("", snapshot) => created_with(snapshot),
                (changes, _) => serde_json::from_str(changes).unwrap_or(Value::Null),
            },
        })
        .collect())
}

/// The details a certificate was created with, from its creation snapshot, shown as the API
/// shows a certificate's details.
fn created_with(stored: &str) -> Value {
    let Ok(created) = snapshot::read(stored) else { return Value::Null };
    let operator = OperatorView {
        name: created.operator.name,
        identifiers: created
            .operator
            .identifiers
            .into_iter()
            .map(|id| IdentifierView { scheme: id.scheme, value: id.value })
            .collect(),
        address: AddressView {
            street: created.operator.address.street,
            city: created.operator.address.city,
            postal_code: created.operator.address.postal_code,
            country: created.operator.address.country,
        },
        public: created.operator.public,
    };
    let details = Details {
        category: created.category,
        roles: &created.roles,
        valid_from: created.valid_from,
        valid_until: created.valid_until,
        operator: &operator,
    };
    serde_json::to_value(details).unwrap_or(Value::Null)
}

/// The administration's changes after `after`, in order: (seq, the certificate as it stood).
pub async fn changes(conn: &Db, administration: &str, after: i64, limit: u64) -> StoreResult<Vec<(i64, Snapshot)>> {
    events(conn, administration, certificate_event::Column::Seq.gt(after), Some(limit)).await
}

/// The changes with these positions, in order: (seq, the certificate as it stood).
pub async fn changes_at(conn: &Db, administration: &str, seqs: &[i64]) -> StoreResult<Vec<(i64, Snapshot)>> {
    events(conn, administration, certificate_event::Column::Seq.is_in(seqs.iter().copied()), None).await
}

/// Events as (seq, the certificate as it stood), read in one snapshot of the database: a creation
/// event without a snapshot of its own (see `keep_creation_snapshot`) stands for the certificate
/// row as read in the same snapshot, which no change has touched yet.
async fn events(
    conn: &Db,
    administration: &str,
    which: sea_orm::sea_query::SimpleExpr,
    limit: Option<u64>,
) -> StoreResult<Vec<(i64, Snapshot)>> {
    use certificate_event::Column as E;
    let txn = read_snapshot(conn).await?;
    let events: Vec<(i64, i64, String)> = certificate_event::Entity::find()
        .select_only()
        .columns([E::Seq, E::CertificateId, E::Snapshot])
        .filter(E::Administration.eq(administration))
        .filter(which)
        .order_by_asc(E::Seq)
        .limit(limit)
        .into_tuple()
        .all(&txn)
        .await?;
    let unchanged: Vec<i64> = events.iter().filter(|(_, _, snapshot)| snapshot.is_empty()).map(|e| e.1).collect();
    let mut current = HashMap::with_capacity(unchanged.len());
    for chunk in unchanged.chunks(BATCH) {
        let models =
            certificate::Entity::find().filter(certificate::Column::Id.is_in(chunk.iter().copied())).all(&txn).await?;
        for certificate in with_identifiers(&txn, models).await? {
            current.insert(certificate.id, Snapshot::from(&certificate));
        }
    }
    txn.finish().await?;
    events
        .into_iter()
        .map(|(seq, id, stored)| match stored.is_empty() {
            false => Ok((seq, snapshot::read(&stored)?)),
            true => current
                .remove(&id)
                .map(|snapshot| (seq, snapshot))
                .ok_or_else(|| StoreError::inconsistent(format!("certificate {id} of change {seq}"))),
        })
        .collect()
}
