//! The registry core: administrations, users, certificates with their identifiers and change
//! history, MRA records and the audit log.

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

fn foreign_key(from: (&'static str, &'static str), to: (&'static str, &'static str)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("administrations")
                    .col(string_len("code", 16).primary_key())
                    .col(string_len("name", 300))
                    .col(string_len("country", 2))
                    .col(string_len("programme", 300))
                    // Position of the latest certificate change: every change takes the next one.
                    .col(big_integer("last_seq").default(0))
                    // Counter behind certificate numbers assigned by the registry.
                    .col(big_integer("last_number").default(0))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("email", 320))
                    .col(string_len("password_hash", 200))
                    .col(string_len("role", 32))
                    .col(string_len_null("administration", 16))
                    .col(string_len_null("operator_scheme", 16))
                    .col(string_len_null("operator_value", 80))
                    .col(string_len_null("display_name", 200))
                    // The administration whose admin registered a trader (traders belong to none).
                    .col(string_len_null("registered_by", 16))
                    .col(boolean("disabled").default(false))
                    // Bumped on password change or disabling: tokens carry it and die with it.
                    .col(integer("token_version").default(0))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut foreign_key(("users", "administration"), ("administrations", "code")))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_users_administration", "users", &["administration"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("certificates")
                    .col(big_pk_auto("id"))
                    .col(string_len("administration", 16))
                    .col(string_len("number", 64))
                    // Lifecycle status as set (active, suspended, revoked); `expired` is derived
                    // from the dates when read.
                    .col(string_len("status", 16))
                    .col(text_null("status_reason"))
                    .col(timestamp_with_time_zone_null("status_changed_at"))
                    .col(string_len("category", 16))
                    // Canonically ordered, comma-separated role names.
                    .col(string_len("roles", 300))
                    .col(date("valid_from"))
                    .col(date("valid_until"))
                    .col(string_len("operator_name", 300))
                    // Lower-cased name for case-insensitive search on every database.
                    .col(string_len("search_name", 300))
                    .col(string_len("street", 300))
                    .col(string_len("city", 120))
                    .col(string_len("postal_code", 20))
                    .col(string_len("country", 2))
                    .col(boolean("public"))
                    .col(integer("version"))
                    .col(big_integer("seq"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut foreign_key(("certificates", "administration"), ("administrations", "code")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("uq_certificates_number", "certificates", &["administration", "number"]).unique().to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_certificates_status",
                "certificates",
                &["administration", "status", "valid_until"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("certificate_identifiers")
                    .col(big_pk_auto("id"))
                    .col(big_integer("certificate_id"))
                    .col(string_len("administration", 16))
                    .col(string_len("scheme", 16))
                    .col(string_len("value", 80))
                    // Upper-case alphanumerics of the value: finds "76.086.428-5" as "760864285".
                    .col(string_len("compact", 80))
                    .foreign_key(&mut foreign_key(
                        ("certificate_identifiers", "certificate_id"),
                        ("certificates", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_identifiers_value", "certificate_identifiers", &["scheme", "value"])).await?;
        manager.create_index(index("idx_identifiers_compact", "certificate_identifiers", &["compact"])).await?;
        manager
            .create_index(index("idx_identifiers_certificate", "certificate_identifiers", &["certificate_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("certificate_events")
                    .col(big_pk_auto("id"))
                    .col(string_len("administration", 16))
                    // Position in the administration's change sequence, as peers will see it.
                    .col(big_integer("seq"))
                    .col(big_integer("certificate_id"))
                    .col(string_len("number", 64))
                    .col(timestamp_with_time_zone("at"))
                    .col(string_len("actor", 320))
                    .col(string_len("action", 32))
                    .col(string_len("status", 16))
                    .col(text_null("reason"))
                    .col(text("changes"))
                    // The certificate as it stood after this change (JSON).
                    .col(text("snapshot"))
                    .foreign_key(&mut foreign_key(("certificate_events", "certificate_id"), ("certificates", "id")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("uq_events_seq", "certificate_events", &["administration", "seq"]).unique().to_owned())
            .await?;
        manager.create_index(index("idx_events_certificate", "certificate_events", &["certificate_id", "seq"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("mras")
                    .col(big_pk_auto("id"))
                    .col(string_len("administration", 16))
                    .col(string_len("partner", 16))
                    .col(string_len("title", 200))
                    .col(string_len("status", 16))
                    .col(date_null("signed_on"))
                    .col(date_null("in_force_from"))
                    .col(string_len("categories", 100))
                    .col(string_len("roles", 300))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut foreign_key(("mras", "administration"), ("administrations", "code")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("uq_mras_partner", "mras", &["administration", "partner"]).unique().to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(string_len_null("administration", 16))
                    .col(timestamp_with_time_zone("at"))
                    .col(string_len("actor", 320))
                    .col(string_len("action", 64))
                    .col(string_len("target", 200))
                    .col(text("details"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_audit_administration", "audit_log", &["administration", "id"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_log",
            "mras",
            "certificate_events",
            "certificate_identifiers",
            "certificates",
            "users",
            "administrations",
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
