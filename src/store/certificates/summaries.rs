//! What the border question reads of a certificate, and which certificates changed since a
//! position: the summary cache's reads.

use std::ops::RangeInclusive;

use aeo_domain::{Category, Role, RoleSet, Status};
use chrono::NaiveDate;
use compact_str::CompactString;
use entity::{certificate, certificate_event};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::corrupt;
use crate::store::{StoreResult, split_list};

/// What the border question needs of a certificate, and nothing more. Compact, because the
/// summary cache holds many: short names and reasons are stored inline.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub stored_status: Status,
    pub category: Category,
    pub roles: RoleSet,
    /// Whether the operator consented to its name being shown publicly.
    pub public: bool,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub operator_name: CompactString,
    pub status_reason: Option<CompactString>,
}

type SummaryRow = (String, String, String, String, NaiveDate, NaiveDate, Option<String>, String, bool);

/// A summary's stored columns, borrowed from wherever they were read.
pub(in crate::store) struct SummaryColumns<'a> {
    pub status: &'a str,
    pub category: &'a str,
    pub roles: &'a str,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub status_reason: Option<&'a str>,
    pub operator_name: &'a str,
    pub public: bool,
}

impl SummaryColumns<'_> {
    pub(in crate::store) fn summary(&self) -> StoreResult<Summary> {
        Ok(Summary {
            stored_status: self.status.parse().map_err(|_| corrupt("status", self.status))?,
            category: self.category.parse().map_err(|_| corrupt("category", self.category))?,
            roles: split_list(self.roles)
                .map(|role| role.parse::<Role>().map_err(|_| corrupt("role", role)))
                .collect::<Result<_, _>>()?,
            public: self.public,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            operator_name: self.operator_name.into(),
            status_reason: self.status_reason.map(CompactString::from),
        })
    }
}

/// The columns of a [`Summary`] (with the number), of the administration's rows.
fn summaries_of(administration: &str) -> sea_orm::Select<certificate::Entity> {
    use certificate::Column as C;
    certificate::Entity::find()
        .select_only()
        .columns([C::Number, C::Status, C::Category, C::Roles, C::ValidFrom, C::ValidUntil])
        .columns([C::StatusReason, C::OperatorName, C::Public])
        .filter(C::Administration.eq(administration))
}

fn summary_of(row: SummaryRow) -> StoreResult<(String, Summary)> {
    let (number, status, category, roles, valid_from, valid_until, status_reason, operator_name, public) = row;
    let columns = SummaryColumns {
        status: &status,
        category: &category,
        roles: &roles,
        valid_from,
        valid_until,
        status_reason: status_reason.as_deref(),
        operator_name: &operator_name,
        public,
    };
    Ok((number, columns.summary()?))
}

/// One certificate's summary: one indexed lookup of only the columns a recognition answer
/// needs.
pub async fn summary(conn: &impl ConnectionTrait, administration: &str, number: &str) -> StoreResult<Option<Summary>> {
    let Some(row) =
        summaries_of(administration).filter(certificate::Column::Number.eq(number)).into_tuple().one(conn).await?
    else {
        return Ok(None);
    };
    Ok(Some(summary_of(row)?.1))
}

/// A page of the administration's summaries in number order, after the number `after`:
/// (number, summary). Reading a million certificates a page at a time keeps memory flat; the
/// order is that of the unique index on (administration, number), so each page is one range of
/// it rather than a sort of the whole administration.
pub async fn summaries_page(
    conn: &impl ConnectionTrait,
    administration: &str,
    after: &str,
    limit: u64,
) -> StoreResult<Vec<(String, Summary)>> {
    summaries_of(administration)
        .filter(certificate::Column::Number.gt(after))
        .order_by_asc(certificate::Column::Number)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .map(summary_of)
        .collect()
}

/// The latest position in the administration's change sequence that is committed.
pub async fn latest_change(conn: &impl ConnectionTrait, administration: &str) -> StoreResult<i64> {
    Ok(certificate_event::Entity::find()
        .select_only()
        .column_as(certificate_event::Column::Seq.max(), "seq")
        .filter(certificate_event::Column::Administration.eq(administration))
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten()
        .unwrap_or(0))
}

/// Which certificates changed after position `after`, leaving out the positions in `skip`:
/// (seq, number), in order.
pub async fn changed_since(
    conn: &impl ConnectionTrait,
    administration: &str,
    after: i64,
    skip: Option<RangeInclusive<i64>>,
) -> StoreResult<Vec<(i64, String)>> {
    use certificate_event::Column::Seq;
    let mut query = certificate_event::Entity::find()
        .select_only()
        .columns([Seq, certificate_event::Column::Number])
        .filter(certificate_event::Column::Administration.eq(administration))
        .filter(Seq.gt(after));
    if let Some(skip) = skip {
        query = query.filter(Seq.lt(*skip.start()).or(Seq.gt(*skip.end())));
    }
    Ok(query.order_by_asc(certificate_event::Column::Seq).into_tuple().all(conn).await?)
}
