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
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use sea_orm::ConnectionTrait;

use super::certificates::{self, Summary, SummaryColumns};
use super::{StoreError, StoreResult};

/// Pages each reading connection may cache: with one connection per slot this bounds the
/// memory the lookups use, whatever the size of the database.
const CACHE_KIB_PER_CONNECTION: i64 = 8 * 1024;

/// How long a reading connection may keep one snapshot while it is not in use.
const SNAPSHOT_LIFE: Duration = Duration::from_secs(1);

/// Answered from `idx_certificates_summary` alone, which holds every column it reads.
const SUMMARY: &str = "SELECT status, category, roles, valid_from, valid_until, status_reason, operator_name, \
                       public FROM certificates INDEXED BY idx_certificates_summary \
                       WHERE administration = ?1 AND number = ?2";

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

    /// The summary of the administration's certificate `number`, if it has one, as of a
    /// snapshot taken since the caller's count of changes was `as_of`.
    pub async fn summary(
        &self,
        db: &impl ConnectionTrait,
        administration: &str,
        number: &str,
        as_of: u64,
    ) -> StoreResult<Option<Summary>> {
        match &self.sqlite {
            Some(readers) => readers.summary(administration, number, as_of),
            None => certificates::summary(db, administration, number).await,
        }
    }

    /// Ends the snapshots held longer than `SNAPSHOT_LIFE` by connections not in use: an old
    /// snapshot keeps the write-ahead log from being copied back and started afresh.
    pub fn release_old_snapshots(&self) {
        let Some(readers) = &self.sqlite else { return };
        for slot in &readers.slots {
            let Ok(mut slot) = slot.try_lock() else { continue };
            if let Some(reader) = slot.as_mut().filter(|reader| reader.is_old()) {
                if reader.end().is_err() {
                    *slot = None;
                }
            }
        }
    }
}

thread_local! {
    static THREAD_SLOT: std::cell::OnceCell<usize> = const { std::cell::OnceCell::new() };
}

/// Connections opened on first use, each behind its own lock; a lookup takes the first free one.
struct SqliteReaders {
    path: String,
    slots: Box<[Mutex<Option<Reader>>]>,
    next: AtomicUsize,
}

impl SqliteReaders {
    fn summary(&self, administration: &str, number: &str, as_of: u64) -> StoreResult<Option<Summary>> {
        // Each thread starts from a slot of its own, so that a connection's page cache serves
        // one thread and stays in that core's CPU cache.
        let start = THREAD_SLOT.with(|slot| *slot.get_or_init(|| self.next.fetch_add(1, Ordering::Relaxed)));
        let count = self.slots.len();
        let mut slot = (0..count)
            .find_map(|i| self.slots[(start + i) % count].try_lock().ok())
            .unwrap_or_else(|| self.slots[start % count].lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let reader = match &mut *slot {
            Some(reader) => reader,
            empty => empty.insert(Reader::open(&self.path).map_err(read_failed)?),
        };
        let read = reader.read(administration, number, as_of);
        if read.is_err() {
            // Start afresh next time rather than keep a connection in an unknown state.
            *slot = None;
        }
        read
    }
}

/// A reading connection and the read transaction it keeps open between lookups: beginning
/// and ending one per lookup (file locks, the write-ahead log's read marks) cost as much as the
/// lookup itself.
struct Reader {
    conn: Connection,
    /// The caller's count of changes when the open transaction began, and when that was.
    snapshot: Option<(u64, Instant)>,
}

impl Reader {
    fn open(path: &str) -> rusqlite::Result<Reader> {
        // Opened for writing but kept from it: a read-only connection to a database in WAL mode
        // cannot open it while no other connection holds its shared-memory file.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        // Readers of a database in WAL mode wait only in rare moments (a log being reset).
        conn.busy_timeout(Duration::from_secs(1))?;
        conn.pragma_update(None, "query_only", true)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB_PER_CONNECTION)?;
        Ok(Reader { conn, snapshot: None })
    }

    /// Reads in the open transaction if it began once the caller's count was at least `as_of`,
    /// else in a new one: the count moves on with every change the caller learns of, after the
    /// change is committed, so such a transaction sees every change learnt of by `as_of`.
    fn read(&mut self, administration: &str, number: &str, as_of: u64) -> StoreResult<Option<Summary>> {
        if self.snapshot.is_some_and(|(began, _)| began < as_of) {
            self.end().map_err(read_failed)?;
        }
        if self.snapshot.is_none() {
            // Deferred: the snapshot is taken by the first read, after `as_of` was counted.
            self.conn.prepare_cached("BEGIN").and_then(|mut begin| begin.execute([])).map_err(read_failed)?;
            self.snapshot = Some((as_of, Instant::now()));
        }
        let mut statement = self.conn.prepare_cached(SUMMARY).map_err(read_failed)?;
        let mut rows = statement.query([administration, number]).map_err(read_failed)?;
        match rows.next().map_err(read_failed)? {
            Some(row) => columns(row).map_err(read_failed)?.summary().map(Some),
            None => Ok(None),
        }
    }

    fn is_old(&self) -> bool {
        self.snapshot.is_some_and(|(_, since)| since.elapsed() >= SNAPSHOT_LIFE)
    }

    fn end(&mut self) -> rusqlite::Result<()> {
        if self.snapshot.take().is_some() {
            self.conn.prepare_cached("COMMIT")?.execute([])?;
        }
        Ok(())
    }
}

/// The columns of a row of `SUMMARY`, borrowed from SQLite's own buffers.
fn columns<'a>(row: &'a rusqlite::Row<'_>) -> rusqlite::Result<SummaryColumns<'a>> {
    let text = |column: usize| row.get_ref(column)?.as_str().map_err(rusqlite::Error::from);
    let date = |column: usize| {
        text(column)?
            .parse()
            .map_err(|_| rusqlite::Error::InvalidColumnType(column, "date".into(), rusqlite::types::Type::Text))
    };
    Ok(SummaryColumns {
        status: text(0)?,
        category: text(1)?,
        roles: text(2)?,
        valid_from: date(3)?,
        valid_until: date(4)?,
        status_reason: row.get_ref(5)?.as_str_or_null()?,
        operator_name: text(6)?,
        public: row.get(7)?,
    })
}

fn read_failed(error: rusqlite::Error) -> StoreError {
    // An outage (busy, I/O, a full disk, a file that cannot be opened) reads as one, like any
    // other statement's (`timed::is_unavailable`), and is answered 503.
    let message = format!("cannot read the certificate summary: {error}");
    match error.sqlite_error() {
        Some(code) if super::timed::unavailable_code(&code.extended_code.to_string()) => {
            StoreError::Unavailable(super::timed::unavailable(message))
        }
        _ => StoreError::inconsistent(message),
    }
}
