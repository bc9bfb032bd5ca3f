//! Finding certificates: by identifier, and pages of an administration's certificates filtered
//! and searched by name or identifier, each search driven by its own index.

use entity::{certificate, certificate_identifier};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use aeo_domain::{OperatorId, Status};

use super::{Certificate, ListFilter, today, with_identifiers};
use crate::store::{Store, StoreResult};

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
    store: &Store,
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
    store: &Store,
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

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    /// The plan SQLite makes for a statement of the search.
    async fn plan(store: &crate::store::Store, statement: &sea_orm::sea_query::SelectStatement) -> Vec<String> {
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
        let store = crate::store::Store::connect(&url, std::time::Duration::from_secs(5), 0).await.expect("connect");
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
