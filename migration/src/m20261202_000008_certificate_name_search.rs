//! Search by part of an operator's name through an index of its trigrams, not a scan of every
//! certificate: SQLite's FTS5 with the trigram tokenizer (an external-content table kept by
//! triggers), PostgreSQL's `pg_trgm` (a GIN index that `LIKE '%...%'` uses).
//! `search_name` is the name in lower case; a search needs at least three characters.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: [&str; 5] = [
    "CREATE VIRTUAL TABLE certificate_names USING fts5(search_name, content='certificates', content_rowid='id', \
     tokenize='trigram')",
    "CREATE TRIGGER certificate_names_insert AFTER INSERT ON certificates BEGIN \
     INSERT INTO certificate_names(rowid, search_name) VALUES (new.id, new.search_name); END",
    "CREATE TRIGGER certificate_names_delete AFTER DELETE ON certificates BEGIN \
     INSERT INTO certificate_names(certificate_names, rowid, search_name) VALUES ('delete', old.id, old.search_name); END",
    "CREATE TRIGGER certificate_names_update AFTER UPDATE OF search_name ON certificates BEGIN \
     INSERT INTO certificate_names(certificate_names, rowid, search_name) VALUES ('delete', old.id, old.search_name); \
     INSERT INTO certificate_names(rowid, search_name) VALUES (new.id, new.search_name); END",
    // The certificates already there.
    "INSERT INTO certificate_names(certificate_names) VALUES ('rebuild')",
];

const SQLITE_DOWN: [&str; 4] = [
    "DROP TRIGGER certificate_names_insert",
    "DROP TRIGGER certificate_names_delete",
    "DROP TRIGGER certificate_names_update",
    "DROP TABLE certificate_names",
];

const POSTGRES_UP: [&str; 2] = [
    // A trusted extension: the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX idx_certificates_search_name_trigrams ON certificates USING gin (search_name gin_trgm_ops)",
];

const POSTGRES_DOWN: [&str; 1] = ["DROP INDEX idx_certificates_search_name_trigrams"];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for statement in statements {
        manager.get_connection().execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, &SQLITE_UP).await,
            DbBackend::Postgres => run(manager, &POSTGRES_UP).await,
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, &SQLITE_DOWN).await,
            DbBackend::Postgres => run(manager, &POSTGRES_DOWN).await,
            _ => Ok(()),
        }
    }
}
