//! Sessions of the web pages: a browser holds a random secret in the `aeo_session` cookie and
//! the node keeps only its SHA-256, so a read of the table cannot sign anyone in. A session ends
//! when its row goes: at sign-out, once idle too long, or when its user's sign-in facts change.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("web_sessions")
                    // Hex SHA-256 of the cookie's secret.
                    .col(string("id").primary_key())
                    .col(big_integer("user_id"))
                    // The user's token version when the session opened: a password change or a
                    // disabled account ends it, as it ends access tokens.
                    .col(integer("token_version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("web_sessions", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("web_sessions_last_seen").table("web_sessions").col("last_seen_at").to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("web_sessions").to_owned()).await
    }
}
