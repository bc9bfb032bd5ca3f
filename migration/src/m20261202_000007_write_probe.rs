//! One row that readiness rewrites to see whether the database takes writes again after one
//! failed (a disk that was full, files made read-only).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("write_probe")
                    .col(integer("id").primary_key())
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        let row = Query::insert()
            .into_table("write_probe")
            .columns(["id", "at"])
            .values_panic([1.into(), Expr::current_timestamp()])
            .to_owned();
        manager.exec_stmt(row).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("write_probe").to_owned()).await
    }
}
