//! Statements signed ahead of the questions: one per certificate, kept by the node's signer
//! (`federation::signed`) so that a partner's question reads one row instead of reading the
//! certificate and signing. A row stands only while its `seq` is the certificate's.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signed_statements")
                    .col(big_integer("certificate_id").primary_key())
                    .col(big_integer("seq"))
                    .col(string("kid"))
                    // Milliseconds since the epoch: a statement is served again for part of its
                    // freshness, which may be a second or less.
                    .col(big_integer("signed_at"))
                    .col(date("signed_on"))
                    .col(text("token"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("signed_statements", "certificate_id")
                            .to("certificates", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("signed_statements").to_owned()).await
    }
}
