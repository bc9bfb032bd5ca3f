//! Schema migrations, applied in order by `aeo-registry migrate` and at `serve` start-up.
//! A released migration is never edited: a schema change is a new file.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_core;
mod m20261123_000002_create_federation;
mod m20261201_000003_drop_identifier_value_index;
mod m20261201_000004_certificate_summary_index;
mod m20261202_000005_mirror_per_administration;
mod m20261202_000006_federation_assertions;
mod m20261202_000007_write_probe;
mod m20261202_000008_certificate_name_search;
mod m20261202_000009_key_rollover;
mod m20261204_000010_signed_statements;
mod m20261205_000011_web_sessions;
mod m20261207_000012_signing_rounds;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_core::Migration),
            Box::new(m20261123_000002_create_federation::Migration),
            Box::new(m20261201_000003_drop_identifier_value_index::Migration),
            Box::new(m20261201_000004_certificate_summary_index::Migration),
            Box::new(m20261202_000005_mirror_per_administration::Migration),
            Box::new(m20261202_000006_federation_assertions::Migration),
            Box::new(m20261202_000007_write_probe::Migration),
            Box::new(m20261202_000008_certificate_name_search::Migration),
            Box::new(m20261202_000009_key_rollover::Migration),
            Box::new(m20261204_000010_signed_statements::Migration),
            Box::new(m20261205_000011_web_sessions::Migration),
            Box::new(m20261207_000012_signing_rounds::Migration),
        ]
    }
}
