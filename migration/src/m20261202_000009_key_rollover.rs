//! Key rollover without a gap: a new signing key is announced before it signs (`signs_from`),
//! and a follower keeps what an issuer's current key announced of its next ones
//! (`key_announcement`), to show it to administrators.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table("signing_keys").add_column(timestamp_with_time_zone_null("signs_from")).to_owned(),
            )
            .await?;
        manager.alter_table(Table::alter().table("peers").add_column(text_null("key_announcement")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("peers").drop_column("key_announcement").to_owned()).await?;
        manager.alter_table(Table::alter().table("signing_keys").drop_column("signs_from").to_owned()).await
    }
}
