//! On SQLite, an index holding every column of a certificate's summary, so that the border
//! question's read in place (`store::summaries`) descends one B-tree instead of the number's
//! index and then the table: half the pages, half the reads from the file. PostgreSQL reads the
//! summary through the unique index and the row, and needs no second copy.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_certificates_summary";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let mut index = Index::create();
        index.name(NAME).table("certificates");
        // The lookup's key first, then what the answer needs, in the order it is read.
        for column in [
            "administration",
            "number",
            "status",
            "category",
            "roles",
            "valid_from",
            "valid_until",
            "status_reason",
            "operator_name",
            "public",
        ] {
            index.col(column);
        }
        manager.create_index(index).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager.drop_index(Index::drop().name(NAME).table("certificates").to_owned()).await
    }
}
