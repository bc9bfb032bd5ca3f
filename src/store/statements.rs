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

/// A page of the administration's certificates in id order, after the id `after`, with what is
/// kept of their statements.
pub async fn standing(
    conn: &impl ConnectionTrait,
    administration: &str,
    after: i64,
    limit: u64,
) -> StoreResult<Vec<Standing>> {
    let backend = conn.get_database_backend();
    let sql = "SELECT c.id, c.number, c.seq, c.valid_until, s.seq, s.kid, s.signed_at, s.signed_on \
               FROM certificates c LEFT JOIN signed_statements s ON s.certificate_id = c.id \
               WHERE c.administration = $1 AND c.id > $2 ORDER BY c.id LIMIT $3";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let statement = Statement::from_sql_and_values(
        backend,
        placeholders(backend, sql),
        [administration.into(), after.into(), limit.into()],
    );
    conn.query_all_raw(statement)
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
    let backend = conn.get_database_backend();
    let statement =
        Statement::from_sql_and_values(backend, placeholders(backend, CURRENT), [administration.into(), number.into()]);
    let Some(row) = conn.query_one_raw(statement).await? else { return Ok(None) };
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

/// `sql` with PostgreSQL's numbered placeholders (`$1`), written as SQLite reads them (`?1`)
/// when it runs there.
pub fn placeholders(backend: sea_orm::DbBackend, sql: &str) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    }
}
