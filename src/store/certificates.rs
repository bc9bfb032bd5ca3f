//! Certificates, their identifiers and their change history. Every change takes the next
//! position in the administration's change sequence and leaves an event with the certificate as
//! it stood afterwards: the history users read and the feed partners will follow.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use aeo_domain::{Category, CertificateDraft, OperatorId, Role, RoleSet, Status};
use chrono::{DateTime, NaiveDate, Utc};
use compact_str::CompactString;
use entity::{certificate, certificate_event, certificate_identifier};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::{Value, json};

use super::snapshot::{self, Snapshot};
use super::{StoreError, StoreResult};
use super::{administrations, bulk, join_list, split_list};

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

/// Certificates holding exactly this identifier, of one administration or of all.
pub async fn find_by_identifier(
    conn: &impl ConnectionTrait,
    administration: Option<&str>,
    identifier: &OperatorId,
) -> StoreResult<Vec<Certificate>> {
    let mut holders = Query::select()
        .column(certificate_identifier::Column::CertificateId)
        .from(certificate_identifier::Entity)
        // The compact form finds the rows through its index; scheme and value pick the exact ones.
        .and_where(Expr::col(certificate_identifier::Column::Compact).eq(identifier.compact()))
        .and_where(Expr::col(certificate_identifier::Column::Scheme).eq(identifier.scheme.as_str()))
        .and_where(Expr::col(certificate_identifier::Column::Value).eq(identifier.value.clone()))
        .to_owned();
    if let Some(code) = administration {
        holders.and_where(Expr::col(certificate_identifier::Column::Administration).eq(code));
    }
    let models = certificate::Entity::find()
        .filter(certificate::Column::Id.in_subquery(holders))
        .order_by_asc(certificate::Column::Id)
        .all(conn)
        .await?;
    with_identifiers(conn, models).await
}

/// A page of an administration's certificates, in creation order, after the row `after_id`.
pub async fn list(
    store: &super::Store,
    administration: &str,
    filter: &ListFilter,
    limit: u64,
    after_id: Option<i64>,
) -> StoreResult<(Vec<Certificate>, Option<i64>)> {
    let conn = &store.db;
    use certificate::Column as C;
    let today = today();
    let mut query = certificate::Entity::find().filter(C::Administration.eq(administration));
    if let Some(after) = after_id {
        query = query.filter(C::Id.gt(after));
    }
    query = match filter.status {
        Some(Status::Active) => query.filter(C::Status.eq("active")).filter(C::ValidUntil.gte(today)),
        Some(Status::Suspended) => query.filter(C::Status.eq("suspended")).filter(C::ValidUntil.gte(today)),
        Some(Status::Revoked) => query.filter(C::Status.eq("revoked")),
        Some(Status::Expired) => query.filter(C::Status.ne("revoked")).filter(C::ValidUntil.lt(today)),
        None => query,
    };
    if let Some(category) = filter.category {
        query = query.filter(C::Category.eq(category.as_str()));
    }
    if let Some(role) = filter.role {
        query = query.filter(C::Roles.contains(format!(",{},", role.as_str())));
    }
    let models = match filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        None => query.order_by_asc(C::Id).limit(limit + 1).all(conn).await?,
        Some(q) => matching(store, administration, query, q, limit + 1).await?,
    };
    let more = models.len() as u64 > limit;
    let models: Vec<_> = models.into_iter().take(limit as usize).collect();
    let next = if more { models.last().map(|m| m.id) } else { None };
    Ok((with_identifiers(conn, models).await?, next))
}

/// The first `limit` certificates of `query`, in id order, whose operator's name contains `q` or
/// that hold an identifier written as `q`. Each half is driven by its own index, never by the
/// certificates in id order: a part of a name through the index of its trigrams (the migration
/// `certificate_name_search`; `q` has at least three characters), an identifier through
/// `idx_identifiers_compact`.
async fn matching(
    store: &super::Store,
    administration: &str,
    query: sea_orm::Select<certificate::Entity>,
    q: &str,
    limit: u64,
) -> StoreResult<Vec<certificate::Model>> {
    use certificate::Column as C;
    use sea_orm::QueryTrait;
    let conn = &store.db;
    let backend = conn.get_database_backend();
    let compact = aeo_domain::identifier::compact(q);
    let mut ids =
        ids_of(conn, backend.build(&by_identifier(query.clone(), administration, &compact, limit, backend))).await?;
    let name = q.to_lowercase();
    if backend == sea_orm::DbBackend::Sqlite {
        let statement = backend.build(&by_name(query, &name, limit));
        ids.extend(match store.names() {
            Some(search) => search.ids(statement).await?,
            None => ids_of(conn, statement).await?,
        });
    } else {
        // PostgreSQL's trigram index serves LIKE '%...%' itself, and its planner weighs it.
        let pattern = LikeExpr::new(format!("%{}%", escape_like(&name))).escape('\\');
        let by_name = query
            .select_only()
            .column(C::Id)
            .filter(Expr::col(C::SearchName).like(pattern))
            .order_by_asc(C::Id)
            .limit(limit);
        ids.extend(ids_of(conn, backend.build(&by_name.into_query())).await?);
    }
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(certificate::Entity::find().filter(C::Id.is_in(ids)).order_by_asc(C::Id).all(conn).await?)
}

/// The first column of every row `statement` selects, as ids.
async fn ids_of(conn: &impl ConnectionTrait, statement: sea_orm::Statement) -> StoreResult<Vec<i64>> {
    Ok(conn.query_all_raw(statement).await?.iter().map(|row| row.try_get_by_index(0)).collect::<Result<_, _>>()?)
}

/// The ids of the first `limit` certificates of `query`, in id order, that hold an identifier
/// whose compact form is `compact`: the identifiers' index drives the query. (Asked as `id IN
/// (holders)` beside `ORDER BY id LIMIT`, SQLite walks every certificate of the administration.)
fn by_identifier(
    query: sea_orm::Select<certificate::Entity>,
    administration: &str,
    compact: &str,
    limit: u64,
    backend: sea_orm::DbBackend,
) -> sea_orm::sea_query::SelectStatement {
    use certificate::Column as C;
    use certificate_identifier::Column as I;
    use sea_orm::QueryTrait;
    use sea_orm::sea_query::{Alias, JoinType};
    let filtered = Alias::new("filtered");
    // SQLite never reorders a `CROSS JOIN`; PostgreSQL knows no `CROSS JOIN ... ON` and finds the
    // order itself.
    let join = if backend == sea_orm::DbBackend::Sqlite { JoinType::CrossJoin } else { JoinType::InnerJoin };
    Query::select()
        .column((filtered.clone(), C::Id))
        .from(certificate_identifier::Entity)
        .join_subquery(
            join,
            query.into_query(),
            filtered.clone(),
            Expr::col((certificate_identifier::Entity, I::CertificateId)).equals((filtered.clone(), C::Id)),
        )
        .and_where(Expr::col((certificate_identifier::Entity, I::Administration)).eq(administration))
        .and_where(Expr::col((certificate_identifier::Entity, I::Compact)).eq(compact))
        .order_by((filtered, C::Id), sea_orm::sea_query::Order::Asc)
        .limit(limit)
        .to_owned()
}

/// On SQLite, the ids of the first `limit` certificates of `query`, in id order, whose name
/// (lowercased) contains `name`: a query of the names' index, never a scan of the certificates.
fn by_name(query: sea_orm::Select<certificate::Entity>, name: &str, limit: u64) -> sea_orm::sea_query::SelectStatement {
    use certificate::Column as C;
    use sea_orm::QueryTrait;
    use sea_orm::sea_query::{Alias, JoinType, Order};
    // On SQLite the names' index drives the query, in id order, and stops at `limit`: asked as
    // `id IN (matches)`, a part of many names would have every match gathered and sorted first.
    // A phrase of the trigram tokenizer matches exactly the names that contain it.
    // `CROSS JOIN` keeps that order: SQLite never reorders one, and would otherwise read the
    // administration's certificates through their index and ask the names' index of each.
    let (names, filtered) = (Alias::new("certificate_names"), Alias::new("filtered"));
    let rowid = (names.clone(), Alias::new("rowid"));
    let phrase = format!("\"{}\"", name.replace('"', "\"\""));
    Query::select()
        .column((filtered.clone(), C::Id))
        .from(names)
        .join_subquery(
            JoinType::CrossJoin,
            query.into_query(),
            filtered.clone(),
            Expr::col(rowid.clone()).equals((filtered, C::Id)),
        )
        .and_where(Expr::cust_with_values("\"certificate_names\" MATCH ?", [phrase]))
        .order_by(rowid, Order::Asc)
        .limit(limit)
        .to_owned()
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

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
    super::outbox::enqueue(conn, &certificate.administration, seq).await?;
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
    if let Some(number) = &draft.number {
        if find_model(conn, administration, number.as_str()).await?.is_some() {
            return Err(StoreError::Taken(format!("certificate {number}")));
        }
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
pub async fn changes(
    conn: &super::Db,
    administration: &str,
    after: i64,
    limit: u64,
) -> StoreResult<Vec<(i64, Snapshot)>> {
    events(conn, administration, certificate_event::Column::Seq.gt(after), Some(limit)).await
}

/// The changes with these positions, in order: (seq, the certificate as it stood).
pub async fn changes_at(conn: &super::Db, administration: &str, seqs: &[i64]) -> StoreResult<Vec<(i64, Snapshot)>> {
    events(conn, administration, certificate_event::Column::Seq.is_in(seqs.iter().copied()), None).await
}

/// Events as (seq, the certificate as it stood), read in one snapshot of the database: a creation
/// event without a snapshot of its own (see `keep_creation_snapshot`) stands for the certificate
/// row as read in the same snapshot, which no change has touched yet.
async fn events(
    conn: &super::Db,
    administration: &str,
    which: sea_orm::sea_query::SimpleExpr,
    limit: Option<u64>,
) -> StoreResult<Vec<(i64, Snapshot)>> {
    use certificate_event::Column as E;
    let txn = super::read_snapshot(conn).await?;
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

/// Rows per multi-row statement built by sea-orm: well under SQLite's and PostgreSQL's
/// bound-parameter limits.
const BATCH: usize = 500;

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
    let recipients = super::outbox::recipients(conn, administration).await?;
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
        super::outbox::enqueue_many(conn, administration, &recipients, first_seq..=last_seq).await?;
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

/// What the border question needs of a certificate, and nothing more. Compact, because the
/// summary cache holds many: short names and reasons are stored inline.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub stored_status: Status,
    pub category: Category,
    pub roles: RoleSet,
    /// Whether the operator consented to its name being shown publicly.
    pub public: bool,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub operator_name: CompactString,
    pub status_reason: Option<CompactString>,
}

type SummaryRow = (String, String, String, String, NaiveDate, NaiveDate, Option<String>, String, bool);

/// A summary's stored columns, borrowed from wherever they were read.
pub(super) struct SummaryColumns<'a> {
    pub status: &'a str,
    pub category: &'a str,
    pub roles: &'a str,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub status_reason: Option<&'a str>,
    pub operator_name: &'a str,
    pub public: bool,
}

impl SummaryColumns<'_> {
    pub(super) fn summary(&self) -> StoreResult<Summary> {
        Ok(Summary {
            stored_status: self.status.parse().map_err(|_| corrupt("status", self.status))?,
            category: self.category.parse().map_err(|_| corrupt("category", self.category))?,
            roles: split_list(self.roles)
                .map(|role| role.parse::<Role>().map_err(|_| corrupt("role", role)))
                .collect::<Result<_, _>>()?,
            public: self.public,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            operator_name: self.operator_name.into(),
            status_reason: self.status_reason.map(CompactString::from),
        })
    }
}

/// The columns of a [`Summary`] (with the number), of the administration's rows.
fn summaries_of(administration: &str) -> sea_orm::Select<certificate::Entity> {
    use certificate::Column as C;
    certificate::Entity::find()
        .select_only()
        .columns([C::Number, C::Status, C::Category, C::Roles, C::ValidFrom, C::ValidUntil])
        .columns([C::StatusReason, C::OperatorName, C::Public])
        .filter(C::Administration.eq(administration))
}

fn summary_of(row: SummaryRow) -> StoreResult<(String, Summary)> {
    let (number, status, category, roles, valid_from, valid_until, status_reason, operator_name, public) = row;
    let columns = SummaryColumns {
        status: &status,
        category: &category,
        roles: &roles,
        valid_from,
        valid_until,
        status_reason: status_reason.as_deref(),
        operator_name: &operator_name,
        public,
    };
    Ok((number, columns.summary()?))
}

/// One certificate's summary: one indexed lookup of only the columns a recognition answer
/// needs.
pub async fn summary(conn: &impl ConnectionTrait, administration: &str, number: &str) -> StoreResult<Option<Summary>> {
    let Some(row) =
        summaries_of(administration).filter(certificate::Column::Number.eq(number)).into_tuple().one(conn).await?
    else {
        return Ok(None);
    };
    Ok(Some(summary_of(row)?.1))
}

/// A page of the administration's summaries in number order, after the number `after`:
/// (number, summary). Reading a million certificates a page at a time keeps memory flat; the
/// order is that of the unique index on (administration, number), so each page is one range of
/// it rather than a sort of the whole administration.
pub async fn summaries_page(
    conn: &impl ConnectionTrait,
    administration: &str,
    after: &str,
    limit: u64,
) -> StoreResult<Vec<(String, Summary)>> {
    summaries_of(administration)
        .filter(certificate::Column::Number.gt(after))
        .order_by_asc(certificate::Column::Number)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .map(summary_of)
        .collect()
}

/// The latest position in the administration's change sequence that is committed.
pub async fn latest_change(conn: &impl ConnectionTrait, administration: &str) -> StoreResult<i64> {
    Ok(certificate_event::Entity::find()
        .select_only()
        .column_as(certificate_event::Column::Seq.max(), "seq")
        .filter(certificate_event::Column::Administration.eq(administration))
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten()
        .unwrap_or(0))
}

/// Which certificates changed after position `after`, leaving out the positions in `skip`:
/// (seq, number), in order.
pub async fn changed_since(
    conn: &impl ConnectionTrait,
    administration: &str,
    after: i64,
    skip: Option<RangeInclusive<i64>>,
) -> StoreResult<Vec<(i64, String)>> {
    use certificate_event::Column::Seq;
    let mut query = certificate_event::Entity::find()
        .select_only()
        .columns([Seq, certificate_event::Column::Number])
        .filter(certificate_event::Column::Administration.eq(administration))
        .filter(Seq.gt(after));
    if let Some(skip) = skip {
        query = query.filter(Seq.lt(*skip.start()).or(Seq.gt(*skip.end())));
    }
    Ok(query.order_by_asc(certificate_event::Column::Seq).into_tuple().all(conn).await?)
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    /// The plan SQLite makes for a statement of the search.
    async fn plan(store: &super::super::Store, statement: &sea_orm::sea_query::SelectStatement) -> Vec<String> {
        let built = sea_orm::DbBackend::Sqlite.build(statement);
        let explain = Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", built.sql),
            built.values.map(|values| values.0).unwrap_or_default(),
        );
        let rows = store.db.query_all_raw(explain).await.expect("explain");
        rows.iter().map(|row| row.try_get_by_index::<String>(3).expect("detail")).collect()
    }

    /// Both halves of a search are driven by their own index, and the certificates are read by
    /// id only: asked the other way round, SQLite walked all of an administration's certificates
    /// for every search (70 ms at 1M, on a thread of the same priority as the border question's).
    #[tokio::test]
    async fn on_sqlite_a_search_is_driven_by_the_names_and_identifiers_indexes_and_scans_nothing() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("search.db").display());
        let store = super::super::Store::connect(&url, std::time::Duration::from_secs(5), 0).await.expect("connect");
        store.migrate().await.expect("migrate");
        let query = || {
            certificate::Entity::find()
                .filter(certificate::Column::Administration.eq("CL"))
                .filter(certificate::Column::Status.eq("active"))
        };
        let reads_certificates_by_id_only = |plan: &[String]| {
            plan.iter()
                .filter(|step| step.contains(" certificates"))
                .all(|step| step.contains("SEARCH certificates USING INTEGER PRIMARY KEY"))
        };

        let by_name = plan(&store, &by_name(query(), "comercio", 51)).await;
        assert!(by_name[0].contains("SCAN certificate_names VIRTUAL TABLE INDEX"), "{by_name:#?}");
        assert!(reads_certificates_by_id_only(&by_name), "{by_name:#?}");
        assert!(
            !by_name.iter().any(|step| step.contains("TEMP B-TREE")),
            "nothing is gathered and sorted: {by_name:#?}"
        );

        let statement = by_identifier(query(), "CL", "760864285", 51, sea_orm::DbBackend::Sqlite);
        let by_identifier = plan(&store, &statement).await;
        assert!(
            by_identifier[0].contains("SEARCH certificate_identifiers USING INDEX idx_identifiers_compact"),
            "{by_identifier:#?}"
        );
        assert!(reads_certificates_by_id_only(&by_identifier), "{by_identifier:#?}");
    }
}
