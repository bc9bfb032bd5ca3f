use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificate_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub administration: String,
    pub seq: i64,
    pub certificate_id: i64,
    pub number: String,
    pub at: DateTimeUtc,
    pub actor: String,
    pub action: String,
    pub status: String,
    pub reason: Option<String>,
    pub changes: String,
    pub snapshot: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
