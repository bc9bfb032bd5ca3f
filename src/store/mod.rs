//! Persistence over sea-orm: the queries and transactions the registry needs, on SQLite or
//! PostgreSQL alike. Functions take a connection or transaction and speak in domain terms.

pub mod administrations;
pub mod assertions;
pub mod audit;
mod bulk;
pub mod certificates;
pub mod mirror;
pub mod mras;
pub mod outbox;
pub mod peers;
pub mod summaries;
pub mod users;

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    IsolationLevel, TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard};

/// The database and the one rule about writing to it.
pub struct Store {
    pub db: DatabaseConnection,
    /// The hot path's read of a certificate's summary.
    summaries: summaries::SummaryReader,
    /// SQLite allows one writer at a time and answers "database is locked" instead of waiting
    /// when a read transaction upgrades; writers queue here instead. Unused on PostgreSQL.
    sqlite_writer: Mutex<()>,
}

/// A write transaction; holds the SQLite writer slot until it is committed or dropped.
pub struct WriteTxn<'a> {
    pub txn: DatabaseTransaction,
    _writer: Option<MutexGuard<'a, ()>>,
}

impl WriteTxn<'_> {
    pub async fn commit(self) -> Result<(), sea_orm::DbErr> {
        self.txn.commit().await
    }
}

impl std::ops::Deref for WriteTxn<'_> {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl Store {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if let Some(path) = sqlite_path(url) {
            owner_only_file(std::path::Path::new(&path))?;
        }
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(16)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // A ping before every query doubles the cost of the hot path; a dead connection
            // fails its query and is replaced instead.
            .test_before_acquire(false)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    // Checkpoints run in the background (`checkpoint_in_background`), not inside
                    // whichever commit crosses the threshold: an import's commit would otherwise
                    // copy its whole write-ahead log into the database before answering.
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("journal_size_limit", (64 * 1024 * 1024).to_string())
            });
        let db = Database::connect(options).await.context("cannot connect to the database")?;
        let summaries = summaries::SummaryReader::new(sqlite_path(url));
        Ok(Store { db, summaries, sqlite_writer: Mutex::new(()) })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.db, None).await.context("migrations failed")
    }

    pub async fn write(&self) -> Result<WriteTxn<'_>, sea_orm::DbErr> {
        let writer = match self.db.get_database_backend() {
            DbBackend::Sqlite => Some(self.sqlite_writer.lock().await),
            _ => None,
        };
        Ok(WriteTxn { txn: self.db.begin().await?, _writer: writer })
    }

    /// The summary of the administration's certificate `number`, read where it is stored, in a
    /// snapshot at least as recent as the moment the caller's count of changes was `as_of`.
    pub async fn summary(
        &self,
        administration: &str,
        number: &str,
        as_of: u64,
    ) -> Result<Option<certificates::Summary>, sea_orm::DbErr> {
        self.summaries.summary(&self.db, administration, number, as_of).await
    }

    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// On SQLite, every second until `stop`: ends the summary readers' old snapshots, then
    /// moves what the write-ahead log holds into the database without waiting for readers or
    /// writers (a passive checkpoint). Nothing on PostgreSQL.
    pub async fn checkpoint_in_background(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
            self.summaries.release_old_snapshots();
            if let Err(error) = self.db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::warn!(%error, "checkpoint of the write-ahead log failed");
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
pub async fn read_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await
        }
        _ => db.begin().await,
    }
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

/// Opaque list cursors: the last row id seen.
pub mod cursor {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub fn encode(id: i64) -> String {
        URL_SAFE_NO_PAD.encode(format!("id:{id}"))
    }

    pub fn decode(cursor: &str) -> Option<i64> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        std::str::from_utf8(&bytes).ok()?.strip_prefix("id:")?.parse().ok()
    }
}
