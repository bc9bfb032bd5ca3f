//! Persistence over sea-orm: the queries and transactions the registry needs, on SQLite or
//! PostgreSQL alike. Functions take a connection or transaction and speak in domain terms.

pub mod administrations;
pub(crate) mod assertions;
pub mod audit;
mod bulk;
pub(crate) mod certificates;
mod error;
pub(crate) mod mirror;
pub(crate) mod mras;
mod names;
pub(crate) mod outbox;
pub(crate) mod peers;
mod probe;
pub(crate) mod reads;
mod reserve;
pub(crate) mod sessions;
pub(crate) mod snapshot;
pub(crate) mod statements;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod timed;
pub(crate) mod users;

pub use error::{StoreError, StoreResult};

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    IsolationLevel, TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard};

use reads::CertificateReads;
pub use timed::{Health, Timed};

/// The database, with a deadline on every statement ([`timed`]).
pub type Db = Timed<DatabaseConnection>;

/// The database and the one rule about writing to it.
pub struct Store {
    pub db: Db,
    /// What this process knows of the database's health.
    pub health: Arc<Health>,
    /// On a SQLite file, the hot paths' reads of one certificate, in place.
    in_place: Option<reads::InPlace>,
    /// SQLite allows one writer at a time and answers "database is locked" instead of waiting
    /// when a read transaction upgrades; writers queue here instead. Unused on PostgreSQL.
    sqlite_writer: Mutex<()>,
    /// On a SQLite file: disk space kept for when the disk fills, and the free space watched.
    reserve: Option<reserve::Reserve>,
    /// On a SQLite file: the search by part of a name, at the lowest CPU priority.
    names: Option<names::NameSearch>,
}

/// A write transaction; holds the SQLite writer slot until it is committed or dropped. Its
/// statements have the store's deadline, and a failure for want of the database is noted in
/// [`Health`].
pub struct WriteTxn<'a> {
    txn: Timed<DatabaseTransaction>,
    health: &'a Health,
    _writer: Option<MutexGuard<'a, ()>>,
}

impl WriteTxn<'_> {
    pub async fn commit(self) -> StoreResult<()> {
        let deadline = self.txn.deadline();
        let committed = timed::within(deadline, self.txn.into_inner().commit()).await;
        match &committed {
            Ok(()) => self.health.write_succeeded(),
            Err(error) => {
                tracing::warn!(%error, "a commit failed");
                self.health.write_failed(error);
            }
        }
        Ok(committed?)
    }

    /// Undoes everything the transaction wrote (a dry run).
    pub async fn rollback(self) -> StoreResult<()> {
        let deadline = self.txn.deadline();
        Ok(timed::within(deadline, self.txn.into_inner().rollback()).await?)
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: sea_orm::Statement) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: sea_orm::Statement) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// Connections to a SQLite file through sea-orm, at most: two per core, from 4 to 8. One writes
/// at a time and the hot reads go in place (`reads`), so these serve the other reads; each is a
/// thread with a page cache of its own (2 MiB), and sixteen of them, opened by a burst of
/// questions at start and kept, held a tenth of a million-certificate node's memory.
fn sqlite_connections() -> u32 {
    u32::try_from(crate::cores() * 2).unwrap_or(u32::MAX).clamp(4, 8)
}

impl Store {
    /// Connects; every statement will have `deadline`. On a SQLite file, `reserve_bytes` of disk
    /// are kept beside it for when the disk fills.
    pub async fn connect(url: &str, deadline: Duration, reserve_bytes: u64) -> anyhow::Result<Self> {
        if let Some(path) = sqlite_path(url) {
            owner_only_file(std::path::Path::new(&path))?;
        }
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(if sqlite_path(url).is_some() { sqlite_connections() } else { 16 })
            .min_connections(1)
            .connect_timeout(deadline)
            .acquire_timeout(deadline)
            // A ping before every query doubles the cost of the hot path; a dead connection
            // fails its query and is replaced instead.
            .test_before_acquire(false)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(move |opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(deadline)
                    // Checkpoints run in the background (`checkpoint_in_background`), not inside
                    // whichever commit crosses the threshold: an import's commit would otherwise
                    // copy its whole write-ahead log into the database before answering.
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("journal_size_limit", (64 * 1024 * 1024).to_string())
            });
        let db = Database::connect(options).await.context("cannot connect to the database")?;
        let in_place = sqlite_path(url).map(reads::InPlace::new);
        let health = Arc::new(Health::new(db.get_database_backend() == DbBackend::Postgres));
        let reserve = sqlite_path(url).map(|path| reserve::Reserve::beside(path.as_ref(), reserve_bytes));
        if let Some(reserve) = &reserve {
            reserve.refill();
        }
        let names = sqlite_path(url).map(|path| names::NameSearch::start(&path)).transpose()?;
        Ok(Store {
            db: Timed::new(db, deadline, None),
            health,
            in_place,
            sqlite_writer: Mutex::new(()),
            reserve,
            names,
        })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(self.db.inner(), None).await.context("migrations failed")
    }

    /// A write transaction, for a request: waiting for the writer (on SQLite, behind an import,
    /// say) counts against the deadline, like any statement.
    pub(crate) async fn write(&self) -> StoreResult<WriteTxn<'_>> {
        Ok(timed::within(self.db.deadline(), self.begin_write()).await?)
    }

    /// A write transaction, for background work that may wait for the writer as long as it
    /// takes; its statements still have the deadline.
    pub(crate) async fn write_when_free(&self) -> StoreResult<WriteTxn<'_>> {
        Ok(self.begin_write().await?)
    }

    async fn begin_write(&self) -> Result<WriteTxn<'_>, sea_orm::DbErr> {
        let sqlite = self.db.get_database_backend() == DbBackend::Sqlite;
        let writer = if sqlite { Some(self.sqlite_writer.lock().await) } else { None };
        // On SQLite the write lock is taken at BEGIN, where the busy timeout applies: a write
        // transaction abandoned a moment ago is rolled back on its connection after its writer
        // slot is free, and a deferred transaction upgrading then would be refused at once
        // ("database is locked") instead of waiting for that rollback.
        let options = sea_orm::TransactionOptions {
            sqlite_transaction_mode: sqlite.then_some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = timed::within(self.db.deadline(), self.db.inner().begin_with_options(options)).await?;
        Ok(WriteTxn {
            txn: Timed::new(txn, self.db.deadline(), Some(self.health.clone())),
            health: &self.health,
            _writer: writer,
        })
    }

    /// The searching thread of a SQLite file.
    pub(crate) fn names(&self) -> Option<&names::NameSearch> {
        self.names.as_ref()
    }

    /// The summary of the administration's certificate `number`, read where it is stored, in a
    /// snapshot at least as recent as the moment the caller's count of changes was `as_of`.
    pub async fn summary(
        &self,
        administration: &str,
        number: &str,
        as_of: u64,
    ) -> StoreResult<Option<certificates::Summary>> {
        match &self.in_place {
            Some(in_place) => in_place.summary(administration, number, as_of).await,
            None => self.db.summary(administration, number, as_of).await,
        }
    }

    /// The administration's certificate `number`, read like [`Store::summary`].
    pub async fn certificate(
        &self,
        administration: &str,
        number: &str,
        as_of: u64,
    ) -> StoreResult<Option<certificates::Certificate>> {
        match &self.in_place {
            Some(in_place) => in_place.certificate(administration, number, as_of).await,
            None => self.db.certificate(administration, number, as_of).await,
        }
    }

    /// The statement kept of the current change of the administration's certificate
    /// `number`, read like [`Store::summary`].
    pub async fn statement(
        &self,
        administration: &str,
        number: &str,
        as_of: u64,
    ) -> StoreResult<Option<statements::SignedStatement>> {
        match &self.in_place {
            Some(in_place) => in_place.statement(administration, number, as_of).await,
            None => self.db.statement(administration, number, as_of).await,
        }
    }

    /// Whether the database answers now, has room to write (on SQLite, a disk with at least
    /// 1 MiB free), and takes writes if the last one failed for want of it: a write is tried then.
    pub async fn ready(&self) -> StoreResult<()> {
        timed::within(self.db.deadline(), self.db.inner().ping()).await?;
        if self.reserve.as_ref().is_some_and(|reserve| !reserve.has_room()) {
            return Err(StoreError::Unavailable(timed::unavailable("the disk is full".into())));
        }
        if self.health.writes_failing() {
            let txn = self.write().await?;
            probe::touch(&txn).await?;
            txn.commit().await?;
        }
        Ok(())
    }

    /// On SQLite, every second until `stop`: ends the summary readers' old snapshots, then
    /// moves what the write-ahead log holds into the database without waiting for readers or
    /// writers (a passive checkpoint). When the disk is full (a write or a checkpoint failed
    /// for want of space), gives up the disk reserve ([`reserve`]), completes the checkpoint and
    /// truncates the log; makes the reserve again when there is room. Nothing on PostgreSQL.
    pub async fn checkpoint_in_background(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
            if let Some(in_place) = &self.in_place {
                in_place.release_old_snapshots();
            }
            let checkpointed = self.db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await;
            let full = match &checkpointed {
                Ok(_) => self.health.disk_full(),
                Err(error) => {
                    tracing::warn!(%error, "checkpoint of the write-ahead log failed");
                    timed::is_disk_full(error)
                }
            };
            let Some(reserve) = &self.reserve else { continue };
            if full && reserve.release() {
                match self.db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await {
                    Ok(_) => tracing::warn!("the write-ahead log was copied back and truncated"),
                    Err(error) => tracing::error!(%error, "the write-ahead log could not be truncated"),
                }
            } else if !full {
                reserve.refill();
            }
        }
    }
}

/// Makes `path`'s directory (owner-only, when it is made here) and the file itself, readable and
/// writable by its owner only: a registry's database holds password hashes and every
/// administration's data. SQLite gives its write-ahead log and shared-memory files the mode of
/// the database file. A database file found readable by others is made owner-only, and said.
pub fn owner_only_file(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "made owner-only");
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(())
        }
        Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// A read-only transaction that sees one snapshot of the database throughout: repeatable read
/// on PostgreSQL; any SQLite transaction already does.
pub async fn read_snapshot(db: &Db) -> StoreResult<Timed<DatabaseTransaction>> {
    let inner = db.inner();
    let begun = match db.get_database_backend() {
        DbBackend::Postgres => {
            timed::within(
                db.deadline(),
                inner.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)),
            )
            .await?
        }
        _ => timed::within(db.deadline(), inner.begin()).await?,
    };
    Ok(Timed::new(begun, db.deadline(), None))
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// Role and category lists are stored as ",a,b," so that "contains a" is a plain LIKE on any
/// database.
pub fn join_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from(",");
    for item in items {
        out.push_str(item);
        out.push(',');
    }
    out
}

pub fn split_list(stored: &str) -> impl Iterator<Item = &str> {
    stored.split(',').filter(|item| !item.is_empty())
}

/// Opaque list cursors: the last row id seen, as 8 big-endian bytes in base64url. Every string
/// of `PATTERN` is a position to continue after, so a client (or the API document) can tell a
/// cursor from garbage without asking.
pub mod cursor {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// 11 characters carry 66 bits; the last two are zero in every 8-byte value. Empty: the start.
    pub const PATTERN: &str = "^([A-Za-z0-9_-]{10}[AEIMQUYcgkosw048])?$";

    pub fn encode(id: i64) -> String {
        URL_SAFE_NO_PAD.encode(id.max(0).to_be_bytes())
    }

    pub fn decode(cursor: &str) -> Option<i64> {
        let bytes: [u8; 8] = URL_SAFE_NO_PAD.decode(cursor).ok()?.try_into().ok()?;
        Some(i64::try_from(u64::from_be_bytes(bytes)).unwrap_or(i64::MAX))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn every_cursor_reads_back_and_matches_the_pattern_and_only_those_decode() {
            // PATTERN, spelled out: ten base64url characters, then one whose low two bits are zero.
            let matches = |c: &str| {
                let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
                !c.is_empty() && c.len() == 11 && c.bytes().all(url_safe) && "AEIMQUYcgkosw048".contains(&c[10..])
            };
            assert!(super::PATTERN.contains("AEIMQUYcgkosw048"));
            for id in [0, 1, 49, 50, 4095, 1 << 40, i64::MAX] {
                let cursor = super::encode(id);
                assert!(matches(&cursor), "{cursor}");
                assert_eq!(super::decode(&cursor), Some(id));
            }
            // Trailing bits that an 8-byte value never sets, the wrong length, other alphabets.
            for bad in ["AAAAAAAAAAB", "AAAAAAAAAA", "AAAAAAAAAAAA", "AAAAAAAAAA+", "not-a-cursor", ""] {
                assert_eq!(super::decode(bad), None, "{bad}");
                assert!(!matches(bad), "{bad}");
            }
            assert_eq!(super::decode("__________w"), Some(i64::MAX), "beyond every id: nothing after it");
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    use super::sqlite_connections;
    use super::testing::{Backend, TestStore};

    /// A burst of reads through sea-orm on SQLite opens no more connections than the bound: the
    /// sixteen a burst opened before, each a thread with a page cache of its own, stayed open
    /// and held a tenth of a million-certificate node's memory.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_reads_opens_at_most_the_bounded_sqlite_connections() {
        let test = TestStore::new(Backend::Sqlite).await;
        let db = &test.store.db;
        // Long enough (milliseconds) that the reads overlap and each wants a connection.
        let slow = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) \
                    SELECT count(*) FROM n";
        let reads = (0..32).map(|_| db.execute_unprepared(slow));
        let done = futures_util::future::join_all(reads).await;
        assert!(done.iter().all(Result::is_ok), "every read is answered: {done:?}");
        let open = db.inner().get_sqlite_connection_pool().size();
        let bound = sqlite_connections();
        assert!(open <= bound, "{open} connections open, more than {bound}");
        assert!(open > 1, "the reads did not overlap ({open} connection): the test shows nothing");
    }
}
