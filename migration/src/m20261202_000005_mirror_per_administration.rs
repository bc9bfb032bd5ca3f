//! The mirror becomes per administration: what a node holds of a foreign issuer is keyed by the
//! hosted administration that follows it (and pinned the keys that verified it), so one
//! administration's peer registration can never change another's answers.
//!
//! The node-wide mirror tables are dropped and made again with an `administration` column:
//! which administration's keys verified a held row was never recorded, so no row can be kept.
//! Each administration's mirror is pulled again from its peers' change feeds on the next sync.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn index(name: &str, table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

const TABLES: [&str; 3] = ["mirror_state", "mirror_identifiers", "mirror_certificates"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("mirror_certificates")
                    .col(big_pk_auto("id"))
                    // The hosted administration whose registration of the issuer verified it.
                    .col(string_len("administration", 16))
                    .col(string_len("issuer", 16))
                    .col(string_len("number", 64))
                    .col(big_integer("seq"))
                    // "feed" (pushed or pulled change) or "live" (the answer to a question asked now).
                    .col(string_len("origin", 8))
                    // The verified statement as received (compact JWS).
                    .col(text("statement"))
                    .col(timestamp_with_time_zone("statement_iat"))
                    // Until when it is fresh: its `exp`, bounded by the follower's own trust.
                    .col(timestamp_with_time_zone("statement_exp"))
                    .col(timestamp_with_time_zone("received_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("uq_mirror_followed_number", "mirror_certificates", &["administration", "issuer", "number"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Finds a held statement claiming a position, to refuse one that contradicts it.
        manager
            .create_index(index("idx_mirror_followed_seq", "mirror_certificates", &["administration", "issuer", "seq"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("mirror_identifiers")
                    .col(big_pk_auto("id"))
                    .col(string_len("administration", 16))
                    .col(string_len("issuer", 16))
                    .col(string_len("number", 64))
                    .col(string_len("scheme", 16))
                    .col(string_len("value", 80))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_mirror_followed_identifier",
                "mirror_identifiers",
                &["administration", "issuer", "scheme", "value"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_mirror_followed_identifier_number",
                "mirror_identifiers",
                &["administration", "issuer", "number"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("mirror_state")
                    .col(string_len("administration", 16))
                    .col(string_len("issuer", 16))
                    // Every change up to here has been applied, with no gap.
                    .col(big_integer("synced_seq").default(0))
                    // The latest verified checkpoint (compact JWS) and what it says.
                    .col(text_null("checkpoint"))
                    .col(big_integer("checkpoint_seq").default(0))
                    .col(timestamp_with_time_zone_null("checkpoint_iat"))
                    .col(timestamp_with_time_zone_null("checkpoint_exp"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("administration").col("issuer"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the node-wide mirror cannot be restored: its rows were never tied to keys".into()))
    }
}
