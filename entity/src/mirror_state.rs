use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mirror_state")]
pub struct Model {
    /// The hosted administration that follows the issuer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub administration: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer: String,
    pub synced_seq: i64,
    pub checkpoint: Option<String>,
    pub checkpoint_seq: i64,
    pub checkpoint_iat: Option<DateTimeUtc>,
    pub checkpoint_exp: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
