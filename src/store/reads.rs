//! The hot paths' reads of one certificate: its summary for the border question, the whole
//! certificate for a partner's statement. Both are looked up in the database for every question
//! not answered from the caches, instead of the registry being held in memory, so that the
//! node's memory stays flat however large the registry grows, and every answer reflects what is
//! committed, whichever process wrote it.
//!
//! Two implementations of [`CertificateReads`], run against the same data by the same tests:
//!
//! - [`InPlace`], on a SQLite file: the lookup runs on the calling thread, through a few
//!   read-only connections of rusqlite over the same SQLite library that sqlx links. An indexed
//!   point read that SQLite's page cache (or the kernel's) answers takes microseconds, whereas
//!   sqlx hands every statement to a worker thread and back, which costs more than the read.
//! - [`Db`], through sea-orm: on PostgreSQL, and on an in-memory SQLite database that no second
//!   connection can open.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aeo_domain::freshness::Signing;
use chrono::{DateTime, NaiveDate, Utc};
use entity::{certificate, certificate_identifier};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use sea_orm::DbBackend;

use super::certificates::{self, Certificate, Summary, SummaryColumns};
use super::statements::{self, SignedStatement};
use super::{Db, StoreError, StoreResult};

/// Reads of one certificate, each in a snapshot at least as recent as the moment the caller's
/// count of changes was `as_of` (see `cache::summaries`).
pub trait CertificateReads {
    /// The summary of the administration's certificate `number`, if it has one.
    fn summary(
        &self,
        administration: &str,
        number: &str,
        as_of: u64,
    ) -> impl Future<Output = StoreResult<Option<Summary>>> + Send;

    /// The administration's certificate `number` with its identifiers, if it has one.
    fn certificate(
        &self,
        administration: &str,
        number: &str,
        as_of: u64,
    ) -> impl Future<Output = StoreResult<Option<Certificate>>> + Send;

    /// The statement kept of the current change of the administration's certificate `number`,
    /// if one is kept.
    fn statement(
        &self,
        administration: &str,
        number: &str,
        as_of: u64,
    ) -> impl Future<Output = StoreResult<Option<SignedStatement>>> + Send;
}

/// Every query through sea-orm takes a snapshot of its own: always recent enough.
impl CertificateReads for Db {
    async fn summary(&self, administration: &str, number: &str, _as_of: u64) -> StoreResult<Option<Summary>> {
        certificates::summary(self, administration, number).await
    }

    async fn certificate(&self, administration: &str, number: &str, _as_of: u64) -> StoreResult<Option<Certificate>> {
        certificates::find(self, administration, number).await
    }

    async fn statement(&self, administration: &str, number: &str, _as_of: u64) -> StoreResult<Option<SignedStatement>> {
        statements::current(self, administration, number).await
    }
}

/// Pages each reading connection may cache: with one connection per slot this bounds the
/// memory the lookups use, whatever the size of the database.
const CACHE_KIB_PER_CONNECTION: i64 = 8 * 1024;

/// How long a reading connection may keep one snapshot while it is not in use.
const SNAPSHOT_LIFE: Duration = Duration::from_secs(1);

/// Answered from `idx_certificates_summary` alone, which holds every column it reads.
const SUMMARY: &str = "SELECT status, category, roles, valid_from, valid_until, status_reason, operator_name, \
                       public FROM certificates INDEXED BY idx_certificates_summary \
                       WHERE administration = ?1 AND number = ?2";

/// Every column of `certificate::Model`, in its order.
const CERTIFICATE: &str = "SELECT id, administration, number, status, status_reason, status_changed_at, category, \
                           roles, valid_from, valid_until, operator_name, search_name, street, city, postal_code, \
                           country, public, version, seq, created_at, updated_at \
                           FROM certificates WHERE administration = ?1 AND number = ?2";

/// Every column of `certificate_identifier::Model`, in its order, in the order sea-orm reads.
const IDENTIFIERS: &str = "SELECT id, certificate_id, administration, scheme, value, compact \
                           FROM certificate_identifiers WHERE certificate_id = ?1 ORDER BY id";

/// Connections to a SQLite file opened on first use, each behind its own lock; a lookup takes
/// the first free one.
pub struct InPlace {
    path: String,
    slots: Box<[Mutex<Option<Reader>>]>,
    next: AtomicUsize,
}

impl CertificateReads for InPlace {
    async fn summary(&self, administration: &str, number: &str, as_of: u64) -> StoreResult<Option<Summary>> {
        let read = self.read(as_of, |conn| {
            let mut statement = conn.prepare_cached(SUMMARY)?;
            statement.query_row([administration, number], |row| summary_columns(row).map(|c| c.summary())).optional()
        })?;
        read.transpose()
    }

    async fn certificate(&self, administration: &str, number: &str, as_of: u64) -> StoreResult<Option<Certificate>> {
        let read = self.read(as_of, |conn| {
            let mut statement = conn.prepare_cached(CERTIFICATE)?;
            let Some(model) = statement.query_row([administration, number], certificate_model).optional()? else {
                return Ok(None);
            };
            let mut statement = conn.prepare_cached(IDENTIFIERS)?;
            let identifiers = statement.query_map([model.id], identifier_model)?.collect::<rusqlite::Result<_>>()?;
            Ok(Some((model, identifiers)))
        })?;
        read.map(|(model, identifiers)| certificates::build(model, identifiers, certificates::today())).transpose()
    }

    async fn statement(&self, administration: &str, number: &str, as_of: u64) -> StoreResult<Option<SignedStatement>> {
        self.read(as_of, |conn| {
            let mut statement =
                conn.prepare_cached(&statements::placeholders(DbBackend::Sqlite, statements::CURRENT))?;
            statement
                .query_row([administration, number], |row| {
                    Ok(SignedStatement {
                        token: row.get(0)?,
                        seq: row.get(1)?,
                        signing: Signing {
                            kid: row.get(2)?,
                            signed_at: row.get(3)?,
                            signed_on: date(row, 4)?,
                            valid_until: date(row, 5)?,
                        },
                    })
                })
                .optional()
        })
    }
}

thread_local! {
    static THREAD_SLOT: std::cell::OnceCell<usize> = const { std::cell::OnceCell::new() };
}

impl InPlace {
    /// Reads the SQLite file at `path`.
    pub fn new(path: String) -> Self {
        let slots = crate::cores() * 2;
        InPlace { path, slots: (0..slots).map(|_| Mutex::new(None)).collect(), next: AtomicUsize::new(0) }
    }

    /// Runs `read` on a free connection, in a snapshot recent enough for `as_of`.
    fn read<T>(&self, as_of: u64, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
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
        let outcome = reader.in_snapshot(as_of, read).map_err(read_failed);
        if outcome.is_err() {
            // Start afresh next time rather than keep a connection in an unknown state.
            *slot = None;
        }
        outcome
    }

    /// Ends the snapshots held longer than `SNAPSHOT_LIFE` by connections not in use: an old
    /// snapshot keeps the write-ahead log from being copied back and started afresh.
    pub fn release_old_snapshots(&self) {
        for slot in &self.slots {
            let Ok(mut slot) = slot.try_lock() else { continue };
            if let Some(reader) = slot.as_mut().filter(|reader| reader.is_old())
                && reader.end().is_err()
            {
                *slot = None;
            }
        }
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
    fn in_snapshot<T>(
        &mut self,
        as_of: u64,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        if self.snapshot.is_some_and(|(began, _)| began < as_of) {
            self.end()?;
        }
        if self.snapshot.is_none() {
            // Deferred: the snapshot is taken by the first read, after `as_of` was counted.
            self.conn.prepare_cached("BEGIN")?.execute([])?;
            self.snapshot = Some((as_of, Instant::now()));
        }
        read(&self.conn)
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

fn text<'a>(row: &'a rusqlite::Row<'_>, column: usize) -> rusqlite::Result<&'a str> {
    row.get_ref(column)?.as_str().map_err(rusqlite::Error::from)
}

fn unreadable(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(column, what.into(), rusqlite::types::Type::Text)
}

fn date(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<NaiveDate> {
    text(row, column)?.parse().map_err(|_| unreadable(column, "date"))
}

/// An instant as sqlx stores one on SQLite (RFC 3339).
fn instant(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text(row, column)?)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| unreadable(column, "instant"))
}

/// The columns of a row of `SUMMARY`, borrowed from SQLite's own buffers.
fn summary_columns<'a>(row: &'a rusqlite::Row<'_>) -> rusqlite::Result<SummaryColumns<'a>> {
    Ok(SummaryColumns {
        status: text(row, 0)?,
        category: text(row, 1)?,
        roles: text(row, 2)?,
        valid_from: date(row, 3)?,
        valid_until: date(row, 4)?,
        status_reason: row.get_ref(5)?.as_str_or_null()?,
        operator_name: text(row, 6)?,
        public: row.get(7)?,
    })
}

/// A row of `CERTIFICATE`.
fn certificate_model(row: &rusqlite::Row<'_>) -> rusqlite::Result<certificate::Model> {
    let owned = |column: usize| text(row, column).map(str::to_owned);
    Ok(certificate::Model {
        id: row.get(0)?,
        administration: owned(1)?,
        number: owned(2)?,
        status: owned(3)?,
        status_reason: row.get(4)?,
        status_changed_at: row.get_ref(5)?.as_str_or_null()?.map(|_| instant(row, 5)).transpose()?,
        category: owned(6)?,
        roles: owned(7)?,
        valid_from: date(row, 8)?,
        valid_until: date(row, 9)?,
        operator_name: owned(10)?,
        search_name: owned(11)?,
        street: owned(12)?,
        city: owned(13)?,
        postal_code: owned(14)?,
        country: owned(15)?,
        public: row.get(16)?,
        version: row.get(17)?,
        seq: row.get(18)?,
        created_at: instant(row, 19)?,
        updated_at: instant(row, 20)?,
    })
}

/// A row of `IDENTIFIERS`.
fn identifier_model(row: &rusqlite::Row<'_>) -> rusqlite::Result<certificate_identifier::Model> {
    Ok(certificate_identifier::Model {
        id: row.get(0)?,
        certificate_id: row.get(1)?,
        administration: row.get(2)?,
        scheme: row.get(3)?,
        value: row.get(4)?,
        compact: row.get(5)?,
    })
}

fn read_failed(error: rusqlite::Error) -> StoreError {
    // An outage (busy, I/O, a full disk, a file that cannot be opened) reads as one, like any
    // other statement's (`timed::is_unavailable`), and is answered 503.
    let message = format!("cannot read the certificate: {error}");
    match error.sqlite_error() {
        Some(code) if super::timed::unavailable_code(&code.extended_code.to_string()) => {
            StoreError::Unavailable(super::timed::unavailable(message))
        }
        _ => StoreError::inconsistent(message),
    }
}

#[cfg(test)]
mod tests {
    use aeo_domain::{CertificateDraft, CertificateInput, Status};
    use serde_json::json;

    use super::*;
    use crate::store::Store;
    use crate::store::administrations::{self, Administration};
    use crate::store::certificates::Change;

    fn draft(number: &str, identifiers: serde_json::Value) -> CertificateDraft {
        let input: CertificateInput = serde_json::from_value(json!({
            "number": number, "category": "security", "roles": ["exporter", "importer"],
            "valid_from": "2024-01-01", "valid_until": "2030-06-30",
            "operator": {"name": format!("Exportadora {number} Ñuñoa"), "identifiers": identifiers,
                         "address": {"street": "Av. Apoquindo 4501", "city": "Santiago", "country": "CL"}}
        }))
        .expect("input");
        CertificateDraft::parse(&input).expect("draft")
    }

    /// Certificates of every shape the reads must tell apart: one identifier and several (in the
    /// order given), a status with its reason, an expiry, and a number never issued.
    async fn registry(store: &Store) -> Vec<&'static str> {
        let txn = store.write().await.expect("write");
        let cl =
            Administration { code: "CL".into(), name: "Aduana".into(), country: "CL".into(), programme: "OEA".into() };
        administrations::insert(&txn, &cl).await.expect("administration");
        let change = |action| Change { actor: "test", action, reason: None };
        let lei = json!([{"scheme": "LEI", "value": "5493001kjtiigc8y1r12"}]);
        certificates::create(&txn, "CL", &draft("CL-1", lei), &change("certificate.create")).await.expect("CL-1");
        let several =
            json!([{"scheme": "EORI", "value": "CL765432103"}, {"scheme": "CL-RUT", "value": "76.543.210-3"}]);
        certificates::create(&txn, "CL", &draft("CL-2", several), &change("certificate.create")).await.expect("CL-2");
        let one = draft("CL-3", json!([{"scheme": "CL-RUT", "value": "77123456-9"}]));
        let created = change("certificate.create");
        let suspended = certificates::create(&txn, "CL", &one, &created).await.expect("CL-3");
        let reason = Change { reason: Some("auditoría en curso".into()), ..change("certificate.suspend") };
        certificates::set_status(&txn, &suspended, Status::Suspended, &reason).await.expect("suspended");
        let mut expired = draft("CL-4", json!([{"scheme": "CL-RUT", "value": "76543210-3"}]));
        expired.valid_from = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
        expired.valid_until = NaiveDate::from_ymd_opt(2021, 1, 1).expect("date");
        certificates::create(&txn, "CL", &expired, &change("certificate.create")).await.expect("CL-4");
        txn.commit().await.expect("commit");
        vec!["CL-1", "CL-2", "CL-3", "CL-4", "CL-404"]
    }

    /// A store on a new SQLite file in `dir`, migrated, and a reader in place of the same file.
    async fn stores(dir: &tempfile::TempDir) -> (Store, InPlace) {
        let path = dir.path().join("reads.db");
        let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display()), Duration::from_secs(5), 0)
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        (store, InPlace::new(path.display().to_string()))
    }

    /// Statements kept of CL-1 (of its current change) and of CL-3 (of the change before its
    /// current one, which must never be read as current).
    async fn keep_statements(store: &Store) {
        let mut rows = Vec::new();
        for (number, changes_ago) in [("CL-1", 0), ("CL-3", 1)] {
            let certificate = certificates::find(&store.db, "CL", number).await.expect("find").expect(number);
            rows.push((certificate.id, certificate.seq - changes_ago, format!("token of {number}")));
        }
        let kept: Vec<statements::Kept<'_>> = rows
            .iter()
            .map(|(certificate_id, seq, token)| statements::Kept {
                certificate_id: *certificate_id,
                seq: *seq,
                kid: "k1",
                signed_at: 1_700_000_000_123,
                signed_on: NaiveDate::from_ymd_opt(2026, 12, 4).expect("date"),
                token,
            })
            .collect();
        let txn = store.write().await.expect("write");
        statements::keep(&txn, &kept).await.expect("keep");
        txn.commit().await.expect("commit");
    }

    /// What a reader reads of every certificate of `registry`, to compare.
    async fn read_all(
        reads: &impl CertificateReads,
        numbers: &[&str],
    ) -> Vec<(Option<Summary>, String, Option<SignedStatement>)> {
        let mut read = Vec::new();
        for number in numbers {
            let summary = reads.summary("CL", number, 1).await.expect("summary");
            let certificate = reads.certificate("CL", number, 1).await.expect("certificate");
            let statement = reads.statement("CL", number, 1).await.expect("statement");
            read.push((summary, format!("{certificate:?}"), statement));
        }
        read
    }

    #[tokio::test]
    async fn in_place_and_through_sea_orm_read_the_same_certificates() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (store, in_place) = stores(&dir).await;
        let numbers = registry(&store).await;
        keep_statements(&store).await;

        let through_orm = read_all(&store.db, &numbers).await;
        assert_eq!(read_all(&in_place, &numbers).await, through_orm);
        let kept: Vec<_> = through_orm.iter().map(|(_, _, statement)| statement.as_ref().map(|s| &s.token)).collect();
        assert_eq!(
            kept,
            [Some(&"token of CL-1".to_owned()), None, None, None, None],
            "only the statement of a certificate's current change is read"
        );
        let cl1 = through_orm[0].2.as_ref().expect("CL-1's statement");
        assert_eq!((cl1.signing.kid.as_str(), cl1.signing.signed_at), ("k1", 1_700_000_000_123));
        assert_eq!(cl1.signing.valid_until, NaiveDate::from_ymd_opt(2030, 6, 30).expect("date"));

        // And what they agree on is right.
        let several = in_place.certificate("CL", "CL-2", 1).await.expect("read").expect("CL-2");
        let identifiers: Vec<_> = several.operator.identifiers.iter().map(|id| id.scheme.as_str()).collect();
        assert_eq!(identifiers, ["EORI", "CL-RUT"], "identifiers in the order given");
        assert_eq!(several.operator.name, "Exportadora CL-2 Ñuñoa");
        let suspended = in_place.certificate("CL", "CL-3", 1).await.expect("read").expect("CL-3");
        assert_eq!(
            (suspended.status, suspended.status_reason.as_deref()),
            (Status::Suspended, Some("auditoría en curso"))
        );
        assert_eq!((suspended.version, suspended.seq), (2, 4));
        let expired = in_place.summary("CL", "CL-4", 1).await.expect("read").expect("CL-4");
        assert_eq!(
            Status::effective(expired.stored_status, expired.valid_until, certificates::today()),
            Status::Expired
        );
        assert_eq!(in_place.certificate("CL", "CL-404", 1).await.expect("read").map(|c| c.number), None);
        assert_eq!(in_place.summary("CL", "CL-404", 1).await.expect("read"), None);
    }

    /// A read in place keeps its snapshot between lookups only while the caller has learnt of
    /// no change since it began.
    #[tokio::test]
    async fn a_read_in_place_sees_every_change_committed_before_the_count_it_is_given() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (store, in_place) = stores(&dir).await;
        registry(&store).await;
        let status = async |as_of| in_place.certificate("CL", "CL-1", as_of).await.expect("read").expect("CL-1").status;
        assert_eq!(status(1).await, Status::Active);

        let txn = store.write().await.expect("write");
        let current = certificates::find(&txn, "CL", "CL-1").await.expect("find").expect("CL-1");
        let change = Change { actor: "test", action: "certificate.revoke", reason: Some("fraude".into()) };
        certificates::set_status(&txn, &current, Status::Revoked, &change).await.expect("revoked");
        txn.commit().await.expect("commit");

        assert_eq!(status(1).await, Status::Active, "the snapshot of count 1 is kept while the count stays");
        assert_eq!(status(2).await, Status::Revoked, "a later count reads the committed change");
    }
}
