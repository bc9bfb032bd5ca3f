use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mirror_certificates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The hosted administration whose registration of the issuer verified it.
    pub administration: String,
    pub issuer: String,
    pub number: String,
    pub seq: i64,
    pub origin: String,
    pub statement: String,
    pub statement_iat: DateTimeUtc,
    pub statement_exp: DateTimeUtc,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
