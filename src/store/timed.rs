//! Every database statement with a deadline, and what the process knows of the database's
//! health.
//!
//! A database that stops answering (a cut network, a stuck server) would otherwise hold each
//! request for as long as the outage lasts. Every statement here, on the pool or in a
//! transaction, gives up after `database_timeout` with an error that [`is_unavailable`]
//! recognises, and the request is answered 503 with `Retry-After`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use sea_orm::sqlx;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement};

/// The message of a statement that passed its deadline.
const DEADLINE_PASSED: &str = "the database did not answer within the deadline";

/// How recently this process must have heard from the database for what it holds in memory
/// to stand for what is committed. The caches catch up every second; past this bound, answers
/// from memory could be older than what other processes committed, so none is given.
pub const HEARD_WITHIN: Duration = Duration::from_secs(3);

/// What this process knows of the database's health.
#[derive(Debug)]
pub struct Health {
    /// Whether other processes may write the database (PostgreSQL). A SQLite file has this
    /// process as its one writer, so what it holds is never behind what is committed.
    shared: bool,
    /// When (milliseconds since the epoch) a round of catching up with the database last began
    /// that then completed.
    heard_at: AtomicI64,
    /// Whether the last write failed for want of the database (unreachable, disk full,
    /// read-only), and none has succeeded since.
    writes_failing: AtomicBool,
    /// Whether the last write failed because the disk was full, and none has succeeded since.
    disk_full: AtomicBool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Health {
    pub fn new(shared: bool) -> Self {
        Health {
            shared,
            heard_at: AtomicI64::new(now_ms()),
            writes_failing: AtomicBool::new(false),
            disk_full: AtomicBool::new(false),
        }
    }

    /// Now, as [`Health::heard`] takes it.
    pub fn now() -> i64 {
        now_ms()
    }

    /// A round of catching up that began at `began` (milliseconds since the epoch) completed.
    pub fn heard(&self, began: i64) {
        self.heard_at.fetch_max(began, Ordering::Relaxed);
    }

    /// Whether what the process holds in memory stands for what is committed: it is the
    /// database's one writer, or it heard from the database within [`HEARD_WITHIN`].
    pub fn heard_recently(&self) -> bool {
        !self.shared || now_ms() - self.heard_at.load(Ordering::Relaxed) <= HEARD_WITHIN.as_millis() as i64
    }

    pub fn writes_failing(&self) -> bool {
        self.writes_failing.load(Ordering::Relaxed)
    }

    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    /// A write failed with `error`; what it says of the database is noted.
    pub(super) fn write_failed(&self, error: &DbErr) {
        if is_unavailable(error) {
            self.writes_failing.store(true, Ordering::Relaxed);
        }
        if is_disk_full(error) {
            self.disk_full.store(true, Ordering::Relaxed);
        }
    }

    pub(super) fn write_succeeded(&self) {
        self.writes_failing.store(false, Ordering::Relaxed);
        self.disk_full.store(false, Ordering::Relaxed);
    }
}

/// Whether an error says the database is unavailable (rather than that the statement was
/// wrong): unreachable, past the deadline, out of disk or memory, read-only, shutting down.
pub fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => match runtime {
            RuntimeErr::SqlxError(error) => sqlx_unavailable(error),
            RuntimeErr::Internal(message) => message == DEADLINE_PASSED,
            #[allow(unreachable_patterns)]
            _ => false,
        },
        _ => false,
    }
}

fn sqlx_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// Whether an error says the disk is full: SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`.
pub fn is_disk_full(error: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) = error else {
        return false;
    };
    let sqlx::Error::Database(error) = &**error else { return false };
    error.code().is_some_and(|code| code == "53100" || code.parse::<i32>().is_ok_and(|code| code & 0xff == 13))
}

/// PostgreSQL's SQLSTATE (five characters) or SQLite's extended result code (a number).
pub(super) fn unavailable_code(code: &str) -> bool {
    if code.len() == 5 {
        // Connection exception, insufficient resources (disk full, out of memory), operator
        // intervention (shutdown, cancelled), system error; a read-only transaction.
        return ["08", "53", "57", "58"].iter().any(|class| code.starts_with(class)) || code == "25006";
    }
    // Busy, locked, out of memory, read-only, I/O error, disk full, cannot open, protocol.
    code.parse::<i32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14 | 15))
}

fn deadline_passed() -> DbErr {
    unavailable(DEADLINE_PASSED.into())
}

/// An error that says the database is unavailable, for a failure met outside sea-orm.
pub(crate) fn unavailable(message: String) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(message))
}

/// Runs `work` within `deadline`.
pub async fn within<T>(deadline: Duration, work: impl Future<Output = Result<T, DbErr>>) -> Result<T, DbErr> {
    tokio::time::timeout(deadline, work).await.unwrap_or_else(|_| Err(deadline_passed()))
}

/// A connection (the pool, or a transaction) whose every statement has a deadline. One that
/// writes tells [`Health`] when a statement fails for want of the database.
pub struct Timed<C> {
    inner: C,
    deadline: Duration,
    writes: Option<std::sync::Arc<Health>>,
}

impl<C> Timed<C> {
    pub(super) fn new(inner: C, deadline: Duration, writes: Option<std::sync::Arc<Health>>) -> Self {
        Timed { inner, deadline, writes }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    pub(super) fn into_inner(self) -> C {
        self.inner
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    async fn run<T>(&self, work: impl Future<Output = Result<T, DbErr>>) -> Result<T, DbErr> {
        let result = within(self.deadline, work).await;
        if let (Err(error), Some(health)) = (&result, &self.writes) {
            health.write_failed(error);
        }
        result
    }
}

impl Timed<sea_orm::DatabaseTransaction> {
    /// Ends a transaction that only read.
    pub async fn finish(self) -> Result<(), DbErr> {
        within(self.deadline, self.inner.commit()).await
    }
}

#[async_trait::async_trait]
impl<C: ConnectionTrait + Send + Sync> ConnectionTrait for Timed<C> {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.run(self.inner.execute_raw(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.run(self.inner.execute_unprepared(sql)).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.run(self.inner.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.run(self.inner.query_all_raw(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_codes_of_an_outage_are_told_from_mistakes() {
        for outage in ["08006", "08001", "53100", "57P01", "58030", "25006", "13", "8", "776", "10", "3338", "5", "14"]
        {
            assert!(unavailable_code(outage), "{outage}");
        }
        for mistake in ["23505", "42601", "22001", "40001", "19", "2067", "1", "787"] {
            assert!(!unavailable_code(mistake), "{mistake}");
        }
        assert!(is_unavailable(&deadline_passed()));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
    }
}
