//! Federation: signing keys, peers with pinned keys, the outbox of changes to push, the mirror
//! of peers' certificates, and each followed issuer's sync position.

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signing_keys")
                    .col(big_pk_auto("id"))
                    .col(string_len("administration", 16))
                    .col(string_len("kid", 64))
                    // The public half as a JWK (JSON).
                    .col(text("public_jwk"))
                    // The PKCS#8 private half, sealed under the node key (base64 of nonce ‖ ciphertext).
                    .col(text("sealed_private_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    // Set when a newer key took over; the key is still published until `publish_until`.
                    .col(timestamp_with_time_zone_null("retired_at"))
                    .col(timestamp_with_time_zone_null("publish_until"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("signing_keys", "administration")
                            .to("administrations", "code")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("uq_signing_keys_kid", "signing_keys", &["administration", "kid"]).unique().to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("peers")
                    .col(big_pk_auto("id"))
                    // The hosted administration that registered the peer.
                    .col(string_len("administration", 16))
                    .col(string_len("peer", 16))
                    .col(string_len("base_url", 500))
                    // The peer's pinned JWK Set (JSON).
                    .col(text("jwks"))
                    // Keys a re-fetch found that differ from the pinned ones, awaiting consent.
                    .col(text_null("pending_jwks"))
                    .col(timestamp_with_time_zone_null("last_success_at"))
                    .col(timestamp_with_time_zone_null("last_error_at"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("peers", "administration")
                            .to("administrations", "code")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("uq_peers_peer", "peers", &["administration", "peer"]).unique().to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table("outbox")
                    .col(big_pk_auto("id"))
                    // The issuing (hosted) administration and the peer to deliver to.
                    .col(string_len("administration", 16))
                    .col(string_len("peer", 16))
                    .col(big_integer("seq"))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("uq_outbox_item", "outbox", &["administration", "peer", "seq"]).unique().to_owned())
            .await?;
        manager.create_index(index("idx_outbox_due", "outbox", &["next_attempt_at"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("mirror_certificates")
                    .col(big_pk_auto("id"))
                    .col(string_len("issuer", 16))
                    .col(string_len("number", 64))
                    .col(big_integer("seq"))
                    // "feed" (pushed or pulled change) or "live" (the answer to a question asked now).
                    .col(string_len("origin", 8))
                    // The verified statement as received (compact JWS).
                    .col(text("statement"))
                    .col(timestamp_with_time_zone("statement_iat"))
                    .col(timestamp_with_time_zone("statement_exp"))
                    .col(timestamp_with_time_zone("received_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("uq_mirror_number", "mirror_certificates", &["issuer", "number"]).unique().to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("mirror_identifiers")
                    .col(big_pk_auto("id"))
                    .col(string_len("issuer", 16))
                    .col(string_len("number", 64))
                    .col(string_len("scheme", 16))
                    .col(string_len("value", 80))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_mirror_identifier", "mirror_identifiers", &["issuer", "scheme", "value"]))
            .await?;
        manager
            .create_index(index("idx_mirror_identifier_number", "mirror_identifiers", &["issuer", "number"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("mirror_state")
                    .col(string_len("issuer", 16).primary_key())
                    // Every change up to here has been applied, with no gap.
                    .col(big_integer("synced_seq").default(0))
                    // The latest verified checkpoint (compact JWS) and what it says.
                    .col(text_null("checkpoint"))
                    .col(big_integer("checkpoint_seq").default(0))
                    .col(timestamp_with_time_zone_null("checkpoint_iat"))
                    .col(timestamp_with_time_zone_null("checkpoint_exp"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["mirror_state", "mirror_identifiers", "mirror_certificates", "outbox", "peers", "signing_keys"] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
