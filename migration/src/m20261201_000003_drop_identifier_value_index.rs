//! Identifiers are found through their compact form alone: an exact lookup filters the rows of
//! `idx_identifiers_compact` by scheme and value, so the index on (scheme, value) only cost every
//! write a fourth B-tree insert.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_identifiers_value").table("certificate_identifiers").to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_identifiers_value")
                    .table("certificate_identifiers")
                    .col("scheme")
                    .col("value")
                    .to_owned(),
            )
            .await
    }
}
