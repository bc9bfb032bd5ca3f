//! Many rows in one statement. The rows travel as one JSON array bound to a single parameter,
//! and the database unpacks it (SQLite's `json_each`, PostgreSQL's `json_populate_recordset`).
//! A multi-row insert with a parameter per value spent more time building, copying and binding
//! its ten thousand values than the database spent inserting the rows.
//!
//! A row is any `Serialize` struct whose field names are the table's column names: the columns
//! written are read off the row itself, so they cannot drift from it. Table and column names
//! come from code, never from input; every value is bound.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};
use serde::{Serialize, Serializer};

use super::{StoreError, StoreResult};

/// Rows per statement. On SQLite a document stays under glibc's 128 KiB mmap threshold (SQLite
/// converts it to JSONB with the C allocator): 1 000 rows per document spent a tenth of an import
/// in page faults on freshly mapped buffers, and 100 made too many statements. PostgreSQL pays
/// per statement instead: 250 rows ran at a quarter of the speed of 1 000.
pub fn batch(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Postgres => 1_000,
        _ => 250,
    }
}

/// What to do with a row whose key is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Taken<'k> {
    /// The statement fails, and with it the transaction.
    Fail,
    /// The row is left out; the others go in.
    Skip,
    /// The row taking the key (these columns, a unique index) gets the new row's other
    /// columns. No two rows of one statement may share a key (PostgreSQL refuses it).
    Replace(&'k [&'k str]),
}

/// Inserts `rows` into `table`.
pub async fn insert<R: Serialize>(conn: &impl ConnectionTrait, table: &str, rows: &[R]) -> StoreResult<()> {
    execute(conn, table, rows, Taken::Fail).await
}

/// Inserts the `rows` whose key no row of `table` holds yet.
pub async fn insert_new<R: Serialize>(conn: &impl ConnectionTrait, table: &str, rows: &[R]) -> StoreResult<()> {
    execute(conn, table, rows, Taken::Skip).await
}

/// Inserts `rows` into `table`, replacing the row that already holds a row's `key`.
pub async fn upsert<R: Serialize>(
    conn: &impl ConnectionTrait,
    table: &str,
    key: &[&str],
    rows: &[R],
) -> StoreResult<()> {
    execute(conn, table, rows, Taken::Replace(key)).await
}

/// Inserts `rows` into `table` as many at a time as one statement takes.
async fn execute<R: Serialize>(
    conn: &impl ConnectionTrait,
    table: &str,
    rows: &[R],
    taken: Taken<'_>,
) -> StoreResult<()> {
    let backend = conn.get_database_backend();
    for chunk in rows.chunks(batch(backend)) {
        conn.execute_raw(statement(backend, table, chunk, taken, None)?).await?;
    }
    Ok(())
}

/// Like [`insert`], answering the `returning` columns of every row inserted, in no particular
/// order; `rows` must fit in one statement ([`batch`]).
pub async fn insert_returning<R: Serialize>(
    conn: &impl ConnectionTrait,
    table: &str,
    rows: &[R],
    taken: Taken<'_>,
    returning: &str,
) -> StoreResult<Vec<QueryResult>> {
    let backend = conn.get_database_backend();
    debug_assert!(rows.len() <= batch(backend));
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    Ok(conn.query_all_raw(statement(backend, table, rows, taken, Some(returning))?).await?)
}

/// The statement inserting `rows` (at least one).
fn statement<R: Serialize>(
    backend: DbBackend,
    table: &str,
    rows: &[R],
    taken: Taken<'_>,
    returning: Option<&str>,
) -> StoreResult<Statement> {
    let invalid = |error: serde_json::Error| StoreError::inconsistent(format!("rows for {table}: {error}"));
    let columns = match rows.first().map(serde_json::to_value).transpose().map_err(invalid)? {
        Some(serde_json::Value::Object(first)) => first.keys().cloned().collect::<Vec<_>>(),
        _ => return Err(StoreError::inconsistent(format!("rows for {table} must be non-empty structs"))),
    };
    let json = serde_json::to_string(rows).map_err(invalid)?;
    let names = quoted(columns.iter().map(String::as_str));
    let mut sql = match backend {
        DbBackend::Postgres => {
            format!(
                "INSERT INTO \"{table}\" ({names}) SELECT {names} FROM json_populate_recordset(NULL::\"{table}\", $1::json)"
            )
        }
        _ => {
            let values = columns.iter().map(|c| format!("value ->> '{c}'")).collect::<Vec<_>>().join(", ");
            // `WHERE true`: SQLite reads `ON CONFLICT` after a bare `FROM` as a join clause.
            format!("INSERT INTO \"{table}\" ({names}) SELECT {values} FROM jsonb_each(?) WHERE true")
        }
    };
    match taken {
        Taken::Fail => {}
        Taken::Skip => sql.push_str(" ON CONFLICT DO NOTHING"),
        Taken::Replace(key) => {
            let updates = columns
                .iter()
                .filter(|c| !key.contains(&c.as_str()))
                .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
                .collect::<Vec<_>>();
            sql.push_str(&format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                quoted(key.iter().copied()),
                updates.join(", ")
            ));
        }
    }
    if let Some(returning) = returning {
        sql.push_str(" RETURNING ");
        sql.push_str(returning);
    }
    Ok(Statement::from_sql_and_values(backend, sql, [json.into()]))
}

/// Column names, quoted and separated by commas.
fn quoted<'c>(names: impl Iterator<Item = &'c str>) -> String {
    names.map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
}

/// An instant as the registry stores it on either database (RFC 3339, `+00:00`), for row
/// fields: `#[serde(serialize_with = "bulk::instant")]`.
pub fn instant<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}
