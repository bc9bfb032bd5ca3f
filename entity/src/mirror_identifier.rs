use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mirror_identifiers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The hosted administration whose registration of the issuer verified it.
    pub administration: String,
    pub issuer: String,
    pub number: String,
    pub scheme: String,
    pub value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
