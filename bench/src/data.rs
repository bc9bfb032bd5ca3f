//! Generated certificates: valid from a year ago for three years, categories security and full,
//! roles exporter (and importer), an opaque tax identifier each, so that every one of them is
//! recognised under the benchmark's MRA records. The same rows feed the import endpoint (CSV)
//! and the plain-insert baseline (sea-orm `insert_many`).

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};

pub const CSV_HEADER: &str =
    "number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public";

pub fn number(code: &str, index: u64) -> String {
    format!("{code}-OEA-{index:07}")
}

struct Row {
    number: String,
    category: &'static str,
    roles: &'static [&'static str],
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    name: String,
    street: String,
    city: &'static str,
    postal_code: &'static str,
    country: String,
    public: bool,
    identifier: String,
}

fn row(code: &str, index: u64) -> Row {
    let today = Utc::now().date_naive();
    let number = number(code, index);
    Row {
        category: if index.is_multiple_of(2) { "security" } else { "full" },
        roles: if index.is_multiple_of(3) { &["exporter", "importer"] } else { &["exporter"] },
        valid_from: today - chrono::Days::new(365),
        valid_until: today + chrono::Days::new(3 * 365),
        name: format!("Operador {index} Comercio Exterior S.A."),
        street: format!("Avenida Libertador {} Oficina {}", index % 9000 + 100, index % 900),
        city: "Santiago",
        postal_code: "8320000",
        country: code[..2].to_owned(),
        public: index.is_multiple_of(2),
        identifier: format!("{}-TIN:TIN{index:08}", &code[..2]),
        number,
    }
}

/// Rows `range` of `code`'s certificates as an import body.
pub fn csv(code: &str, range: std::ops::Range<u64>) -> Vec<u8> {
    let mut text = String::with_capacity((range.end - range.start) as usize * 170 + 200);
    text.push_str(CSV_HEADER);
    text.push('\n');
    for index in range {
        let r = row(code, index);
        use std::fmt::Write;
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            r.number,
            r.category,
            r.roles.join(";"),
            r.valid_from,
            r.valid_until,
            r.name,
            r.identifier,
            r.street,
            r.city,
            r.postal_code,
            r.country,
            r.public
        );
    }
    text.into_bytes()
}

/// Brings an SQLite database to rest after an import: whatever its write-ahead log still holds
/// is copied into the database and the log emptied, so that the node measured next serves a
/// database at rest instead of spending its first seconds on the import's checkpoint.
/// Nothing to do on PostgreSQL.
pub async fn settle(database_url: &str) -> anyhow::Result<()> {
    if !database_url.starts_with("sqlite:") {
        return Ok(());
    }
    let db = sea_orm::Database::connect(database_url).await?;
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    db.close().await?;
    Ok(())
}

/// The baseline of the import: the same rows inserted into the `certificates` table of a fresh
/// database (migrated by the registry itself) through the same driver, 500 rows per statement,
/// in one transaction. Returns the time the inserts and the commit took.
pub async fn plain_insert(database_url: &str, code: &str, count: u64) -> anyhow::Result<Duration> {
    let store = aeo_registry::store::Store::connect(database_url, Duration::from_secs(600), 0).await?;
    store.migrate().await?;
    let db = store.db.inner();
    entity::administration::Entity::insert(entity::administration::ActiveModel {
        code: Set(code.to_owned()),
        name: Set(format!("Aduana {code}")),
        country: Set(code[..2].to_owned()),
        programme: Set("OEA".into()),
        last_seq: Set(0),
        last_number: Set(0),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    let started = Instant::now();
    let txn = db.begin().await?;
    let now = Utc::now();
    let mut index = 0;
    while index < count {
        let end = (index + 500).min(count);
        let rows = (index..end).map(|i| {
            let r = row(code, i);
            entity::certificate::ActiveModel {
                administration: Set(code.to_owned()),
                number: Set(r.number),
                status: Set("active".into()),
                status_reason: Set(None),
                status_changed_at: Set(None),
                category: Set(r.category.into()),
                roles: Set(format!(",{},", r.roles.join(","))),
                valid_from: Set(r.valid_from),
                valid_until: Set(r.valid_until),
                search_name: Set(r.name.to_lowercase()),
                operator_name: Set(r.name),
                street: Set(r.street),
                city: Set(r.city.into()),
                postal_code: Set(r.postal_code.into()),
                country: Set(r.country),
                public: Set(r.public),
                version: Set(1),
                seq: Set(i as i64 + 1),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        });
        entity::certificate::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        index = end;
    }
    txn.commit().await?;
    let took = started.elapsed();
    db.clone().close().await.ok();
    Ok(took)
}
