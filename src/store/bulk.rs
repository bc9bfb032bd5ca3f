//! Many rows in one statement. The rows travel as one JSON array bound to a single parameter,
//! and the database unpacks it (SQLite's `json_each`, PostgreSQL's `json_populate_recordset`).
//! A multi-row insert with a parameter per value spent more time building, copying and binding
//! its ten thousand values than the database spent inserting the rows.
//!
//! Table and column names are the caller's constants, never input; every value is bound.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};
use serde::{Serialize, Serializer};

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

/// Inserts `rows` (each serialising to an object with exactly `columns` as keys) into `table`.
pub async fn insert<R: Serialize>(
    conn: &impl ConnectionTrait,
    table: &str,
    columns: &[&str],
    rows: &[R],
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    for chunk in rows.chunks(batch(backend)) {
        conn.execute_raw(statement(backend, table, columns, chunk, None)?).await?;
    }
    Ok(())
}

/// Like [`insert`], answering the `returning` columns of every row inserted, in no particular
/// order; `rows` must fit in one statement ([`batch`]).
pub async fn insert_returning<R: Serialize>(
    conn: &impl ConnectionTrait,
    table: &str,
    columns: &[&str],
    rows: &[R],
    returning: &str,
) -> Result<Vec<QueryResult>, DbErr> {
    debug_assert!(rows.len() <= batch(conn.get_database_backend()));
    conn.query_all_raw(statement(conn.get_database_backend(), table, columns, rows, Some(returning))?).await
}

fn statement<R: Serialize>(
    backend: DbBackend,
    table: &str,
    columns: &[&str],
    rows: &[R],
    returning: Option<&str>,
) -> Result<Statement, DbErr> {
    let json = serde_json::to_string(rows).map_err(|error| DbErr::Custom(format!("rows for {table}: {error}")))?;
    let names = columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let mut sql = match backend {
        DbBackend::Postgres => {
            format!(
                "INSERT INTO \"{table}\" ({names}) SELECT {names} FROM json_populate_recordset(NULL::\"{table}\", $1::json)"
            )
        }
        _ => {
            let values = columns.iter().map(|c| format!("value ->> '{c}'")).collect::<Vec<_>>().join(", ");
            format!("INSERT INTO \"{table}\" ({names}) SELECT {values} FROM jsonb_each(?)")
        }
    };
    if let Some(returning) = returning {
        sql.push_str(" RETURNING ");
        sql.push_str(returning);
    }
    Ok(Statement::from_sql_and_values(backend, sql, [json.into()]))
}

/// An instant as the registry stores it on either database (RFC 3339, `+00:00`), for row
/// fields: `#[serde(serialize_with = "bulk::instant")]`.
pub fn instant<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}
