//! On SQLite, the search by part of a name runs on a thread of its own at the lowest CPU
//! priority, with a connection of its own.
//!
//! A search must read the trigram lists of its text, which are long for a text found in many
//! names: milliseconds of CPU at a million names. Run on sqlx's worker thread it takes a core at the same priority as the threads that answer the border
//! question, and on a machine of two cores those then wait for the scheduler. Here it takes
//! only what they leave: the searches still run flat out when nothing else wants the CPU, and
//! the border question does not notice them. (On PostgreSQL a search runs in the database's
//! own process.)

use std::sync::mpsc;

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
}

impl NameSearch {
    /// Starts the searching thread for the SQLite database at `path`.
    pub fn start(path: &str) -> std::io::Result<NameSearch> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let path = path.to_owned();
        std::thread::Builder::new().name("name-search".into()).spawn(move || {
            lowest_priority();
            let mut conn = None;
            for job in queue {
                let found = run(&path, &mut conn, &job.statement);
                if found.is_err() {
                    conn = None;
                }
                let _ = job.answer.send(found.map_err(|error| failed(&error)));
            }
        })?;
        Ok(NameSearch { jobs })
    }

    /// The ids that `statement` (a query of one integer column) selects.
    pub async fn ids(&self, statement: Statement) -> StoreResult<Vec<i64>> {
        let (answer, answered) = oneshot::channel();
        self.jobs.send(Job { statement, answer }).map_err(|_| timed::unavailable("the search thread ended".into()))?;
        answered.await.map_err(|_| timed::unavailable("the search thread ended".into()))?
    }
}

/// The calling thread under `SCHED_IDLE`, else at nice 19.
///
/// A nice-19 thread that the scheduler has picked may still finish its slice before a thread
/// woken by a border question runs; a `SCHED_IDLE` thread gives the core up at once. Any user may
/// lower its own thread's policy.
fn lowest_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: gettid, sched_setscheduler and setpriority on the calling thread only.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::pid_t;
        if libc::sched_setscheduler(thread, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 19);
        }
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
