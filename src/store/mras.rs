//! Each administration's records of its mutual recognition arrangements, one per partner.

use aeo_domain::{Category, MraDraft, MraFacts, MraStatus, Role};
use chrono::{DateTime, NaiveDate, Utc};
use entity::mra::{self, Column, Entity};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::{StoreError, StoreResult};
use super::{join_list, split_list};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Mra {
    pub partner: String,
    pub title: String,
    #[schema(value_type = String, example = "in_force")]
    pub status: MraStatus,
    pub signed_on: Option<NaiveDate>,
    pub in_force_from: Option<NaiveDate>,
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Category>,
    /// Empty: every role.
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<Role>,
    pub updated_at: DateTime<Utc>,
}

impl Mra {
    pub fn facts(&self) -> MraFacts {
        MraFacts {
            status: self.status,
            in_force_from: self.in_force_from,
            categories: self.categories.clone(),
            roles: self.roles.clone(),
        }
    }
}

fn build(model: mra::Model) -> StoreResult<Mra> {
    let corrupt = |what: &str| StoreError::inconsistent(format!("stored MRA {what} is not valid"));
    Ok(Mra {
        status: model.status.parse().map_err(|_| corrupt("status"))?,
        categories: split_list(&model.categories)
            .map(|c| c.parse().map_err(|_| corrupt("category")))
            .collect::<Result<_, _>>()?,
        roles: split_list(&model.roles).map(|r| r.parse().map_err(|_| corrupt("role"))).collect::<Result<_, _>>()?,
        partner: model.partner,
        title: model.title,
        signed_on: model.signed_on,
        in_force_from: model.in_force_from,
        updated_at: model.updated_at,
    })
}

pub async fn list(conn: &impl ConnectionTrait, administration: &str) -> StoreResult<Vec<Mra>> {
    Entity::find()
        .filter(Column::Administration.eq(administration))
        .order_by_asc(Column::Partner)
        .all(conn)
        .await?
        .into_iter()
        .map(build)
        .collect()
}

pub async fn find(conn: &impl ConnectionTrait, administration: &str, partner: &str) -> StoreResult<Option<Mra>> {
    Entity::find()
        .filter(Column::Administration.eq(administration))
        .filter(Column::Partner.eq(partner))
        .one(conn)
        .await?
        .map(build)
        .transpose()
}

/// Creates or replaces the record; true when it was created.
pub async fn upsert(
    conn: &impl ConnectionTrait,
    administration: &str,
    partner: &str,
    draft: &MraDraft,
) -> StoreResult<(Mra, bool)> {
    let existing = Entity::find()
        .filter(Column::Administration.eq(administration))
        .filter(Column::Partner.eq(partner))
        .one(conn)
        .await?;
    let now = Utc::now();
    let mut model = mra::ActiveModel {
        title: Set(draft.title.clone()),
        status: Set(draft.status.as_str().to_owned()),
        signed_on: Set(draft.signed_on),
        in_force_from: Set(draft.in_force_from),
        categories: Set(join_list(draft.categories.iter().map(|c| c.as_str()))),
        roles: Set(join_list(draft.roles.iter().map(|r| r.as_str()))),
        updated_at: Set(now),
        ..Default::default()
    };
    let created = existing.is_none();
    match existing {
        Some(row) => {
            model.id = sea_orm::ActiveValue::Unchanged(row.id);
            Entity::update(model).exec(conn).await?;
        }
        None => {
            model.administration = Set(administration.to_owned());
            model.partner = Set(partner.to_owned());
            model.created_at = Set(now);
            Entity::insert(model).exec_without_returning(conn).await?;
        }
    }
    let mra = find(conn, administration, partner).await?.ok_or_else(|| StoreError::inconsistent("MRA just written"))?;
    Ok((mra, created))
}

/// Every hosted administration's record of an arrangement with `partner`: (administration, record).
pub async fn records_with_partner(conn: &impl ConnectionTrait, partner: &str) -> StoreResult<Vec<(String, Mra)>> {
    Entity::find()
        .filter(Column::Partner.eq(partner))
        .order_by_asc(Column::Administration)
        .all(conn)
        .await?
        .into_iter()
        .map(|model| {
            let administration = model.administration.clone();
            build(model).map(|mra| (administration, mra))
        })
        .collect()
}
