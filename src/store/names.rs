//! On SQLite, the search by part of a name runs on a thread of its own at the lowest CPU
//! priority, with a connection of its own.
//!
//! A search must read the trigram lists of its text, which are long for a text found in many
//! names: milliseconds of CPU at a million names. Run on sqlx's worker thread it takes a core at the same priority as the threads that answer the border
//! question, and on a machine of two cores those then wait for the scheduler. Here it takes
//! only what they leave: the searches still run flat out when nothing else wants the CPU, and
//! the border question does not notice them. (On PostgreSQL a search runs in the database's
//! own process.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use rusqlite::types::Value as SqliteValue;
use rusqlite::{Connection, OpenFlags};
use sea_orm::Statement;
use tokio::sync::oneshot;

use super::timed;
use super::{StoreError, StoreResult};

struct Job {
    statement: Statement,
    answer: oneshot::Sender<StoreResult<Vec<i64>>>,
}

/// The searching thread; dropped, it ends.
pub struct NameSearch {
    jobs: mpsc::Sender<Job>,
    /// Searches run so far.
    #[cfg_attr(not(test), expect(dead_code, reason = "counted for the tests"))]
    ran: Arc<AtomicU64>,
}

impl NameSearch {
    /// Starts the searching thread for the SQLite database at `path`.
    pub fn start(path: &str) -> std::io::Result<NameSearch> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let path = path.to_owned();
        let ran = Arc::new(AtomicU64::new(0));
        let counted = ran.clone();
        std::thread::Builder::new().name("name-search".into()).spawn(move || {
            crate::idle::lowest_priority();
            let mut conn = None;
            for job in queue {
                // Nobody waits for the answer any more (the client went away): a backlog of
                // searches abandoned under load would otherwise run on for minutes.
                if job.answer.is_closed() {
                    continue;
                }
                counted.fetch_add(1, Ordering::Relaxed);
                let found = run(&path, &mut conn, &job.statement);
                if found.is_err() {
                    conn = None;
                }
                let _ = job.answer.send(found.map_err(|error| failed(&error)));
            }
        })?;
        Ok(NameSearch { jobs, ran })
    }

    /// The ids that `statement` (a query of one integer column) selects.
    pub async fn ids(&self, statement: Statement) -> StoreResult<Vec<i64>> {
        let (answer, answered) = oneshot::channel();
        self.jobs.send(Job { statement, answer }).map_err(|_| timed::unavailable("the search thread ended".into()))?;
        answered.await.map_err(|_| timed::unavailable("the search thread ended".into()))?
    }
}

fn run(path: &str, conn: &mut Option<Connection>, statement: &Statement) -> rusqlite::Result<Vec<i64>> {
    let conn = match conn {
        Some(conn) => conn,
        empty => {
            let opened =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            opened.busy_timeout(std::time::Duration::from_secs(1))?;
            opened.pragma_update(None, "query_only", true)?;
            empty.insert(opened)
        }
    };
    let values: Vec<SqliteValue> =
        statement.values.iter().flat_map(|values| values.0.iter()).map(bound).collect::<Result<_, _>>()?;
    let mut prepared = conn.prepare_cached(&statement.sql)?;
    let rows = prepared.query_map(rusqlite::params_from_iter(values), |row| row.get::<_, i64>(0))?;
    rows.collect()
}

/// A value sea-query bound, as SQLite takes it (dates as sqlx writes them: `YYYY-MM-DD`).
fn bound(value: &sea_orm::Value) -> rusqlite::Result<SqliteValue> {
    use sea_orm::Value as V;
    Ok(match value {
        V::String(Some(text)) => SqliteValue::Text(text.to_string()),
        V::BigInt(Some(n)) => SqliteValue::Integer(*n),
        V::Int(Some(n)) => SqliteValue::Integer(i64::from(*n)),
        V::BigUnsigned(Some(n)) => SqliteValue::Integer(i64::try_from(*n).unwrap_or(i64::MAX)),
        V::Bool(Some(b)) => SqliteValue::Integer(i64::from(*b)),
        V::ChronoDate(Some(date)) => SqliteValue::Text(date.format("%Y-%m-%d").to_string()),
        other => return Err(rusqlite::Error::ToSqlConversionFailure(format!("unbound value {other:?}").into())),
    })
}

fn failed(error: &rusqlite::Error) -> StoreError {
    let message = format!("the search failed: {error}");
    match error.sqlite_error() {
        Some(code) if timed::unavailable_code(&code.extended_code.to_string()) => {
            StoreError::Unavailable(timed::unavailable(message))
        }
        _ => StoreError::inconsistent(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_search_nobody_waits_for_is_not_run() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("names.db");
        rusqlite::Connection::open(&path).expect("create").execute_batch("CREATE TABLE t (id INTEGER)").expect("table");
        let search = NameSearch::start(&path.display().to_string()).expect("start");
        let select = || Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT id FROM t");
        // Abandoned before the thread takes it, as by a client that went away.
        let (answer, answered) = oneshot::channel();
        drop(answered);
        search.jobs.send(Job { statement: select(), answer }).expect("queued");
        assert_eq!(search.ids(select()).await.expect("searched"), Vec::<i64>::new());
        assert_eq!(search.ran.load(Ordering::Relaxed), 1, "the abandoned search ran");
    }
}
