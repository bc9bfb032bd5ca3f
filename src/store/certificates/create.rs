//! Creating certificates many at a time (an import, or one from the API): a handful of
//! statements per batch, whatever the batch's size.

use std::collections::HashMap;

use aeo_domain::{CertificateDraft, Status};
use chrono::{DateTime, NaiveDate, Utc};
use entity::certificate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use super::{BATCH, Certificate, Change, with_identifiers};
use crate::store::{StoreError, StoreResult, administrations, bulk, join_list, outbox};

/// Existing certificates among `numbers`, rows locked until the transaction ends.
pub async fn find_many_for_update(
    conn: &impl ConnectionTrait,
    administration: &str,
    numbers: &[String],
) -> StoreResult<HashMap<String, Certificate>> {
    let mut found = HashMap::new();
    for chunk in numbers.chunks(BATCH) {
        let models = certificate::Entity::find()
            .filter(certificate::Column::Administration.eq(administration))
            .filter(certificate::Column::Number.is_in(chunk.iter().cloned()))
            .lock_exclusive()
            .all(conn)
            .await?;
        for certificate in with_identifiers(conn, models).await? {
            found.insert(certificate.number.clone(), certificate);
        }
    }
    Ok(found)
}

/// A new certificate's row, as [`bulk`] writes it.
#[derive(Serialize)]
struct NewCertificate<'a> {
    administration: &'a str,
    number: &'a str,
    status: &'static str,
    category: &'static str,
    roles: String,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    operator_name: &'a str,
    search_name: String,
    street: &'a str,
    city: &'a str,
    postal_code: &'a str,
    country: &'a str,
    public: bool,
    version: i32,
    seq: i64,
    #[serde(serialize_with = "bulk::instant")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "bulk::instant")]
    updated_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct NewIdentifier<'a> {
    certificate_id: i64,
    administration: &'a str,
    scheme: String,
    value: &'a str,
    compact: String,
}

#[derive(Serialize)]
struct NewEvent<'a> {
    administration: &'a str,
    seq: i64,
    certificate_id: i64,
    number: &'a str,
    #[serde(serialize_with = "bulk::instant")]
    at: DateTime<Utc>,
    actor: &'a str,
    action: &'a str,
    status: &'static str,
    changes: &'static str,
    snapshot: &'static str,
}

/// Creates `active` certificates in batches (a handful of statements per batch), each with its
/// identifiers, its history event, its position in the change sequence and its outbox entries.
/// Numbers must not exist yet; missing ones are assigned. Returns the numbers, in order.
pub async fn create_many(
    conn: &impl ConnectionTrait,
    administration: &str,
    drafts: &[&CertificateDraft],
    change: &Change<'_>,
) -> StoreResult<Vec<String>> {
    let mut assigned =
        assign_numbers(conn, administration, drafts.iter().filter(|d| d.number.is_none()).count()).await?;
    let recipients = outbox::recipients(conn, administration).await?;
    let mut created = Vec::with_capacity(drafts.len());
    for chunk in drafts.chunks(bulk::batch(conn.get_database_backend())) {
        let count = i64::try_from(chunk.len()).map_err(|e| StoreError::inconsistent(e.to_string()))?;
        let last_seq = administrations::reserve_seqs(conn, administration, count).await?;
        let first_seq = last_seq - count + 1;
        let now = Utc::now();
        let numbers: Vec<String> = chunk
            .iter()
            .map(|draft| match &draft.number {
                Some(number) => number.as_str().to_owned(),
                None => assigned.pop().unwrap_or_default(),
            })
            .collect();
        let rows: Vec<NewCertificate> = chunk
            .iter()
            .zip(&numbers)
            .zip(first_seq..)
            .map(|((draft, number), seq)| {
                let operator = &draft.operator;
                NewCertificate {
                    administration,
                    number,
                    status: Status::Active.as_str(),
                    category: draft.category.as_str(),
                    roles: join_list(draft.roles.iter().map(|r| r.as_str())),
                    valid_from: draft.valid_from,
                    valid_until: draft.valid_until,
                    operator_name: &operator.name,
                    search_name: operator.name.to_lowercase(),
                    street: &operator.address.street,
                    city: &operator.address.city,
                    postal_code: &operator.address.postal_code,
                    country: &operator.address.country,
                    public: operator.public,
                    version: 1,
                    seq,
                    created_at: now,
                    updated_at: now,
                }
            })
            .collect();
        // The new rows' ids come back with the insert: a second lookup by number would be at
        // the mercy of the planner on a table that grew inside this very transaction.
        let ids: HashMap<String, i64> =
            bulk::insert_returning(conn, "certificates", &rows, bulk::Taken::Fail, "id, number")
                .await
                .map_err(|error| {
                    if error.is_unique_violation() {
                        StoreError::Taken("a certificate with this number".into())
                    } else {
                        error
                    }
                })?
                .iter()
                .map(|row| Ok((row.try_get::<String>("", "number")?, row.try_get::<i64>("", "id")?)))
                .collect::<StoreResult<_>>()?;
        let mut identifiers = Vec::with_capacity(chunk.len());
        let mut events = Vec::with_capacity(chunk.len());
        for ((draft, number), seq) in chunk.iter().zip(&numbers).zip(first_seq..) {
            let id = *ids
                .get(number)
                .ok_or_else(|| StoreError::inconsistent(format!("certificate {number} just created")))?;
            identifiers.extend(draft.operator.identifiers.iter().map(|identifier| NewIdentifier {
                certificate_id: id,
                administration,
                scheme: identifier.scheme.as_str(),
                value: &identifier.value,
                compact: identifier.compact(),
            }));
            events.push(NewEvent {
                administration,
                seq,
                certificate_id: id,
                number,
                at: now,
                actor: change.actor,
                action: change.action,
                status: Status::Active.as_str(),
                // A creation keeps neither changes nor snapshot: the certificate row holds both
                // until its first change (see `keep_creation_snapshot`).
                changes: "",
                snapshot: "",
            });
        }
        bulk::insert(conn, "certificate_identifiers", &identifiers).await?;
        bulk::insert(conn, "certificate_events", &events).await?;
        outbox::enqueue_many(conn, administration, &recipients, first_seq..=last_seq).await?;
        created.extend(numbers);
    }
    Ok(created)
}

/// `count` numbers for certificates that came without one, none of them taken.
async fn assign_numbers(conn: &impl ConnectionTrait, administration: &str, count: usize) -> StoreResult<Vec<String>> {
    let mut free = Vec::with_capacity(count);
    while free.len() < count {
        let wanted = count - free.len();
        let last =
            administrations::reserve_numbers(conn, administration, i64::try_from(wanted).unwrap_or(i64::MAX)).await?;
        let candidates: Vec<String> =
            (last - wanted as i64 + 1..=last).map(|n| format!("{administration}-AEO-{n:06}")).collect();
        let mut taken = std::collections::HashSet::new();
        for chunk in candidates.chunks(BATCH) {
            taken.extend(
                certificate::Entity::find()
                    .select_only()
                    .column(certificate::Column::Number)
                    .filter(certificate::Column::Administration.eq(administration))
                    .filter(certificate::Column::Number.is_in(chunk.iter().cloned()))
                    .into_tuple::<String>()
                    .all(conn)
                    .await?,
            );
        }
        free.extend(candidates.into_iter().filter(|c| !taken.contains(c)));
    }
    // Handed out from the end: reverse so the lowest numbers go to the first rows.
    free.reverse();
    Ok(free)
}
