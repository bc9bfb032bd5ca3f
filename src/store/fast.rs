//! The border question's lookup on SQLite, done in place. sqlx runs each SQLite connection on
//! a thread of its own and hands every query over and back; for one indexed lookup of a few
//! microseconds that hand-over cost about 70 µs of CPU (measured with `perf`). Here each thread
//! keeps its own read-only connection to the same file with the statement prepared, and the
//! lookup runs where it is asked. WAL mode lets it read beside the writer, and it sees every
//! committed write.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sea_orm::DbErr;

use super::certificates::{Summary, summary_of};

const SUMMARY: &str = "SELECT number, version, status, category, roles, valid_from, valid_until, status_reason, \
                       operator_name, public FROM certificates WHERE administration = ?1 AND number = ?2";

/// Page cache of each reading connection (KiB).
const CACHE_KIB: i64 = 8 * 1024;

thread_local! {
    static READERS: RefCell<HashMap<PathBuf, Connection>> = RefCell::new(HashMap::new());
}

fn failed(error: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("certificate lookup failed: {error}"))
}

fn open(path: &Path) -> Result<Connection, rusqlite::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.pragma_update(None, "cache_size", -CACHE_KIB)?;
    Ok(connection)
}

/// The summary of a certificate in the SQLite database at `path`.
pub fn summary(path: &Path, administration: &str, number: &str) -> Result<Option<Summary>, DbErr> {
    READERS.with(|readers| {
        let mut readers = readers.borrow_mut();
        if !readers.contains_key(path) {
            let connection = open(path).map_err(failed)?;
            readers.insert(path.to_owned(), connection);
        }
        let connection = readers.get(path).ok_or_else(|| DbErr::Custom("no reading connection".into()))?;
        let mut statement = connection.prepare_cached(SUMMARY).map_err(failed)?;
        let row = statement
            .query_row([administration, number], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i32>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, Option<String>>(7)?,
                    row.get::<_, String>(8)?,
                    row.get::<_, bool>(9)?,
                ))
            })
            .optional()
            .map_err(failed)?;
        let Some((number, version, status, category, roles, from, until, reason, name, public)) = row else {
            return Ok(None);
        };
        let row = (number, version, status, category, roles, date(&from)?, date(&until)?, reason, name, public);
        Ok(Some(summary_of(row)?.1))
    })
}

/// A stored date: `YYYY-MM-DD`, possibly with a time after it.
fn date(text: &str) -> Result<NaiveDate, DbErr> {
    text.get(..10).unwrap_or(text).parse().map_err(|_| DbErr::Custom(format!("stored date is not valid: {text}")))
}
