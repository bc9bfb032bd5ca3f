//! Statements signed ahead of the questions (see `federation::signed`): one row per
//! certificate, which stands only while its `seq` is the certificate's. A change needs no
//! write here: the row it leaves behind is of an older `seq`, and nothing reads it again.

use aeo_domain::freshness::Signing;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, Statement};
use serde::Serialize;

use super::{StoreResult, bulk};

/// A statement to keep of a certificate, with what it was signed with and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept<'a> {
    pub certificate_id: i64,
    pub seq: i64,
    pub kid: &'a str,
    /// Milliseconds since the epoch.
    pub signed_at: i64,
    pub signed_on: NaiveDate,
    pub token: &'a str,
}

/// A certificate's statement as signed of its change `seq`, with what decides whether it may be
/// served again (its `valid_until` is the certificate's now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedStatement {
    pub token: String,
    pub seq: i64,
    pub signing: Signing,
}

/// What is kept of a certificate's statement (without the token), beside the certificate's
/// own change: what the signer needs to know whether to sign it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub certificate_id: i64,
    pub number: String,
    pub seq: i64,
    /// The change the kept statement is of, and how it was signed (with the certificate's
    /// `valid_until`).
    pub kept: Option<(i64, Signing)>,
}

/// The statement kept of the administration's certificate `number`, if one is kept of its
/// current change, with the certificate's `valid_until`: one indexed lookup of each table.
pub const CURRENT: &str = "SELECT s.token, s.seq, s.kid, s.signed_at, s.signed_on, c.valid_until \
                           FROM certificates c JOIN signed_statements s \
                           ON s.certificate_id = c.id AND s.seq = c.seq \
                           WHERE c.administration = $1 AND c.number = $2";

/// Keeps these statements, each in place of the one kept of its certificate.
pub async fn keep(conn: &impl ConnectionTrait, statements: &[Kept<'_>]) -> StoreResult<()> {
    bulk::upsert(conn, "signed_statements", &["certificate_id"], statements).await
}

/// Whether this transaction may keep statements signed ahead: on PostgreSQL, where many
/// processes may share the database, only one at a time does (a transaction's advisory lock);
/// the others leave the round to it.
pub async fn claim_signing(conn: &impl ConnectionTrait) -> StoreResult<bool> {
    /// The lock's key: "AEO-SIGN" in ASCII.
    const SIGNING: i64 = 0x4145_4f2d_5349_474e;
    if conn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(true);
    }
    let statement = Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_try_advisory_xact_lock($1)",
        [SIGNING.into()],
    );
    let row = conn.query_one_raw(statement).await?;
    Ok(row.map(|row| row.try_get_by_index::<bool>(0)).transpose()?.unwrap_or(false))
}

/// The last place in the administration's change sequence any of its certificates holds (0
/// when it has none).
pub async fn last_change(conn: &impl ConnectionTrait, administration: &str) -> StoreResult<i64> {
    let sql = "SELECT COALESCE(MAX(seq), 0) FROM certificates WHERE administration = $1";
    let rows = query(conn, sql, [administration.into()]).await?;
    Ok(rows.first().map(|row| row.try_get_by_index(0)).transpose()?.unwrap_or(0))
}

/// Up to `limit` of the administration's certificates changed after its change `after`, in
/// the order of their changes: each one's id and change.
pub async fn changed_since(
    conn: &impl ConnectionTrait,
    administration: &str,
    after: i64,
    limit: u64,
) -> StoreResult<Vec<(i64, i64)>> {
    let sql = "SELECT id, seq FROM certificates WHERE administration = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    let rows = query(conn, sql, [administration.into(), after.into(), clamped(limit).into()]).await?;
    rows.iter().map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))).collect()
}

/// How many statements signed with `kid` are kept, and how many of them were signed at or
/// before `signed_by` (milliseconds since the epoch): counted in the key's index alone.
pub async fn kept_with(conn: &impl ConnectionTrait, kid: &str, signed_by: i64) -> StoreResult<(u64, u64)> {
    let sql = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN signed_at <= $2 THEN 1 ELSE 0 END), 0) \
               FROM signed_statements WHERE kid = $1";
    let rows = query(conn, sql, [kid.into(), signed_by.into()]).await?;
    let Some(row) = rows.first() else { return Ok((0, 0)) };
    let count = |index| row.try_get_by_index::<i64>(index).map(|n| u64::try_from(n).unwrap_or(0));
    Ok((count(0)?, count(1)?))
}

/// The administration's certificates of the `limit` statements signed with `kid` longest ago,
/// oldest first. A `kid` names one administration's key, but the certificates are taken of the
/// administration asked all the same: no round ever signs another's with its key.
pub async fn oldest(conn: &impl ConnectionTrait, administration: &str, kid: &str, limit: u64) -> StoreResult<Vec<i64>> {
    let sql = "SELECT s.certificate_id FROM signed_statements s JOIN certificates c ON c.id = s.certificate_id \
               WHERE s.kid = $1 AND c.administration = $2 ORDER BY s.signed_at, s.certificate_id LIMIT $3";
    let rows = query(conn, sql, [kid.into(), administration.into(), clamped(limit).into()]).await?;
    rows.iter().map(|row| Ok(row.try_get_by_index(0)?)).collect()
}

/// A page of the administration's certificates in id order, after the id `after`, with what is
/// kept of their statements.
pub async fn standing(
    conn: &impl ConnectionTrait,
    administration: &str,
    after: i64,
    limit: u64,
) -> StoreResult<Vec<Standing>> {
    let sql = "SELECT c.id, c.number, c.seq, c.valid_until, s.seq, s.kid, s.signed_at, s.signed_on \
               FROM certificates c LEFT JOIN signed_statements s ON s.certificate_id = c.id \
               WHERE c.administration = $1 AND c.id > $2 ORDER BY c.id LIMIT $3";
    query(conn, sql, [administration.into(), after.into(), clamped(limit).into()])
        .await?
        .iter()
        .map(|row| {
            let valid_until: NaiveDate = row.try_get_by_index(3)?;
            let kept = match row.try_get_by_index::<Option<i64>>(4)? {
                Some(seq) => Some((
                    seq,
                    Signing {
                        kid: row.try_get_by_index(5)?,
                        signed_at: row.try_get_by_index(6)?,
                        signed_on: row.try_get_by_index(7)?,
                        valid_until,
                    },
                )),
                None => None,
            };
            Ok(Standing {
                certificate_id: row.try_get_by_index(0)?,
                number: row.try_get_by_index(1)?,
                seq: row.try_get_by_index(2)?,
                kept,
            })
        })
        .collect()
}

/// The statement kept of the certificate's current change, through sea-orm (see [`CURRENT`]).
pub async fn current(
    conn: &impl ConnectionTrait,
    administration: &str,
    number: &str,
) -> StoreResult<Option<SignedStatement>> {
    let rows = query(conn, CURRENT, [administration.into(), number.into()]).await?;
    let Some(row) = rows.first() else { return Ok(None) };
    Ok(Some(SignedStatement {
        token: row.try_get_by_index(0)?,
        seq: row.try_get_by_index(1)?,
        signing: Signing {
            kid: row.try_get_by_index(2)?,
            signed_at: row.try_get_by_index(3)?,
            signed_on: row.try_get_by_index(4)?,
            valid_until: row.try_get_by_index(5)?,
        },
    }))
}

/// The rows `sql` (with PostgreSQL's placeholders) answers with `values`.
async fn query<const N: usize>(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: [sea_orm::Value; N],
) -> StoreResult<Vec<sea_orm::QueryResult>> {
    let backend = conn.get_database_backend();
    Ok(conn.query_all_raw(Statement::from_sql_and_values(backend, placeholders(backend, sql), values)).await?)
}

/// A row limit as the databases take it.
fn clamped(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// `sql` with PostgreSQL's numbered placeholders (`$1`), written as SQLite reads them (`?1`)
/// when it runs there.
pub fn placeholders(backend: sea_orm::DbBackend, sql: &str) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    }
}
