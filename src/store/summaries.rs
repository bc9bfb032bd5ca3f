//! The border question's one read: a certificate's summary, looked up in the database for every
//! question instead of held in memory, so that the node's memory stays flat however large the
//! registry grows, and every answer reflects what is committed, whichever process wrote it.
//!
//! On SQLite the lookup runs on the calling thread, through a few read-only connections of
//! rusqlite over the same SQLite library that sqlx links: an indexed point read that SQLite's
//! page cache (or the kernel's) answers takes microseconds, whereas sqlx hands every statement
//! to a worker thread and back, which costs more than the read itself. On PostgreSQL, and on
//! an in-memory SQLite database that no second connection can open, it is one indexed query
//! through sea-orm.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sea_orm::{DatabaseConnection, DbErr};

use super::certificates::{self, Summary, SummaryRow};

/// Pages each reading connection may cache: with one connection per slot this bounds the
/// memory the lookups use, whatever the size of the database.
const CACHE_KIB_PER_CONNECTION: i64 = 8 * 1024;

const SUMMARY: &str = "SELECT number, status, category, roles, valid_from, valid_until, status_reason, \
                       operator_name, public FROM certificates WHERE administration = ?1 AND number = ?2";

pub struct SummaryReader {
    sqlite: Option<SqliteReaders>,
}

impl SummaryReader {
    /// Reads in place from the SQLite file at `sqlite_path`, or through `db` without one.
    pub fn new(sqlite_path: Option<String>) -> Self {
        let slots = std::thread::available_parallelism().map_or(2, usize::from) * 2;
        SummaryReader {
            sqlite: sqlite_path.map(|path| SqliteReaders {
                path,
                slots: (0..slots).map(|_| Mutex::new(None)).collect(),
                next: AtomicUsize::new(0),
            }),
        }
    }

    /// The summary of the administration's certificate `number`, if it has one.
    pub async fn summary(
        &self,
        db: &DatabaseConnection,
        administration: &str,
        number: &str,
    ) -> Result<Option<Summary>, DbErr> {
        match &self.sqlite {
            Some(readers) => readers.summary(administration, number),
            None => certificates::summary(db, administration, number).await,
        }
    }
}

/// Connections opened on first use, each behind its own lock; a lookup takes the first free one.
struct SqliteReaders {
    path: String,
    slots: Box<[Mutex<Option<Connection>>]>,
    next: AtomicUsize,
}

impl SqliteReaders {
    fn summary(&self, administration: &str, number: &str) -> Result<Option<Summary>, DbErr> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.slots.len();
        let mut slot = (0..count)
            .find_map(|i| self.slots[(start + i) % count].try_lock().ok())
            .unwrap_or_else(|| self.slots[start % count].lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(self.open().map_err(read_failed)?),
        };
        let row = read(conn, administration, number);
        if row.is_err() {
            // Start afresh next time rather than keep a connection in an unknown state.
            *slot = None;
        }
        match row.map_err(read_failed)? {
            Some(row) => Ok(Some(certificates::summary_of(row)?.1)),
            None => Ok(None),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        // Opened for writing but kept from it: a read-only connection to a database in WAL mode
        // cannot open it while no other connection holds its shared-memory file.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        // Readers of a database in WAL mode wait only in rare moments (a log being reset).
        conn.busy_timeout(Duration::from_secs(1))?;
        conn.pragma_update(None, "query_only", true)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB_PER_CONNECTION)?;
        Ok(conn)
    }
}

fn read(conn: &Connection, administration: &str, number: &str) -> rusqlite::Result<Option<SummaryRow>> {
    let mut statement = conn.prepare_cached(SUMMARY)?;
    statement
        .query_row([administration, number], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get::<_, String>(4)?.parse().map_err(|_| bad_date(4))?,
                row.get::<_, String>(5)?.parse().map_err(|_| bad_date(5))?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
            ))
        })
        .optional()
}

fn bad_date(column: usize) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(column, "date".into(), rusqlite::types::Type::Text)
}

fn read_failed(error: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("cannot read the certificate summary: {error}"))
}
