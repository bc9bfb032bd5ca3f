//! Indexes for the signer's rounds (`federation::signed`), so that a round reads only what it
//! signs instead of every certificate and every kept statement:
//!
//! - the certificates an administration changed since a round, by their place in its change
//!   sequence;
//! - the statements a key signed, oldest first (holding the certificate's id, so the round
//!   reads the index alone).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CHANGED: &str = "idx_certificates_seq";
const OLDEST: &str = "idx_signed_statements_oldest";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().name(CHANGED).table("certificates").col("administration").col("seq").to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OLDEST)
                    .table("signed_statements")
                    .col("kid")
                    .col("signed_at")
                    .col("certificate_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(OLDEST).table("signed_statements").to_owned()).await?;
        manager.drop_index(Index::drop().name(CHANGED).table("certificates").to_owned()).await
    }
}
