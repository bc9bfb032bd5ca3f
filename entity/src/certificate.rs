use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub administration: String,
    pub number: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub status_changed_at: Option<DateTimeUtc>,
    pub category: String,
    pub roles: String,
    pub valid_from: Date,
    pub valid_until: Date,
    pub operator_name: String,
    pub search_name: String,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    pub public: bool,
    pub version: i32,
    pub seq: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
