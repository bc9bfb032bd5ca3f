//! Federation assertions already accepted, until they expire: a `jti` is refused as a replay by
//! every process sharing the database, and after a restart.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("federation_assertions")
                    // The calling administration, and the assertion's id.
                    .col(string_len("issuer", 16))
                    .col(string_len("jti", 200))
                    .col(timestamp_with_time_zone("expires_at"))
                    .primary_key(Index::create().col("issuer").col("jti"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_federation_assertions_expiry")
                    .table("federation_assertions")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("federation_assertions").to_owned()).await
    }
}
