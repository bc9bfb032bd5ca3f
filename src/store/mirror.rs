//! The mirror: the latest verified statement of every certificate of each followed issuer, and
//! how far each issuer's change sequence has been applied, so a border still gets an answer
//! when the issuer's node is down.

use aeo_domain::OperatorId;
use chrono::{DateTime, TimeZone, Utc};
use entity::{mirror_certificate, mirror_identifier, mirror_state};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::federation::jose::StatementClaims;

/// A statement held here, decoded.
#[derive(Debug, Clone)]
pub struct Held {
    pub claims: StatementClaims,
    /// `feed` (pushed or pulled) or `live` (fetched to answer a question).
    pub origin: String,
    pub statement_exp: DateTime<Utc>,
    pub statement_iat: DateTime<Utc>,
}

/// How far an issuer has been followed.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub synced_seq: i64,
    pub checkpoint_seq: i64,
    pub checkpoint_iat: Option<DateTime<Utc>>,
    pub checkpoint_exp: Option<DateTime<Utc>>,
}

impl State {
    /// Until when the whole mirror of this issuer is current: the last checkpoint's expiry,
    /// provided every change up to it has been applied.
    pub fn current_until(&self) -> Option<DateTime<Utc>> {
        self.checkpoint_exp.filter(|_| self.synced_seq >= self.checkpoint_seq)
    }
}

pub fn instant(timestamp: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(timestamp, 0).single().unwrap_or_default()
}

impl Held {
    pub fn new(claims: StatementClaims, origin: &str) -> Self {
        let (statement_exp, statement_iat) = (instant(claims.exp), instant(claims.iat));
        Held { claims, origin: origin.to_owned(), statement_exp, statement_iat }
    }
}

fn decode(model: mirror_certificate::Model) -> Option<Held> {
    // Verified when it arrived; decoding again needs no key.
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<StatementClaims>(&model.statement).ok()?;
    Some(Held { claims, origin: model.origin, statement_exp: model.statement_exp, statement_iat: model.statement_iat })
}

impl From<mirror_state::Model> for State {
    fn from(row: mirror_state::Model) -> Self {
        State {
            synced_seq: row.synced_seq,
            checkpoint_seq: row.checkpoint_seq,
            checkpoint_iat: row.checkpoint_iat,
            checkpoint_exp: row.checkpoint_exp,
        }
    }
}

pub async fn state(conn: &impl ConnectionTrait, issuer: &str) -> Result<State, DbErr> {
    Ok(mirror_state::Entity::find_by_id(issuer.to_owned()).one(conn).await?.map(State::from).unwrap_or_default())
}

/// Every followed issuer's state.
pub async fn states(conn: &impl ConnectionTrait) -> Result<Vec<(String, State)>, DbErr> {
    Ok(mirror_state::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|row| (row.issuer.clone(), State::from(row)))
        .collect())
}

/// Makes the issuer's follow state when it has none yet.
async fn ensure_state(conn: &impl ConnectionTrait, issuer: &str) -> Result<(), DbErr> {
    let fresh = mirror_state::ActiveModel {
        issuer: Set(issuer.to_owned()),
        synced_seq: Set(0),
        checkpoint: Set(None),
        checkpoint_seq: Set(0),
        checkpoint_iat: Set(None),
        checkpoint_exp: Set(None),
        updated_at: Set(Utc::now()),
    };
    mirror_state::Entity::insert(fresh)
        .on_conflict(OnConflict::column(mirror_state::Column::Issuer).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}

/// The issuer's follow state, its row locked until the transaction ends: a pushed batch and a
/// pulled page of the same issuer take turns instead of overwriting each other's progress.
pub async fn lock_state(conn: &impl ConnectionTrait, issuer: &str) -> Result<State, DbErr> {
    ensure_state(conn, issuer).await?;
    mirror_state::Entity::find_by_id(issuer.to_owned())
        .lock_exclusive()
        .one(conn)
        .await?
        .map(State::from)
        .ok_or_else(|| DbErr::RecordNotFound(format!("mirror state of {issuer}")))
}

pub async fn find(conn: &impl ConnectionTrait, issuer: &str, number: &str) -> Result<Option<Held>, DbErr> {
    Ok(mirror_certificate::Entity::find()
        .filter(mirror_certificate::Column::Issuer.eq(issuer))
        .filter(mirror_certificate::Column::Number.eq(number))
        .one(conn)
        .await?
        .and_then(decode))
}

pub async fn find_by_identifier(
    conn: &impl ConnectionTrait,
    issuer: &str,
    id: &OperatorId,
) -> Result<Vec<Held>, DbErr> {
    let numbers = Query::select()
        .column(mirror_identifier::Column::Number)
        .from(mirror_identifier::Entity)
        .and_where(mirror_identifier::Column::Issuer.eq(issuer))
        .and_where(mirror_identifier::Column::Scheme.eq(id.scheme.as_str()))
        .and_where(mirror_identifier::Column::Value.eq(id.value.clone()))
        .to_owned();
    Ok(mirror_certificate::Entity::find()
        .filter(mirror_certificate::Column::Issuer.eq(issuer))
        .filter(mirror_certificate::Column::Number.in_subquery(numbers))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(decode)
        .collect())
}

/// Keeps the statement if it is newer than what is held for its certificate.
pub async fn apply(
    conn: &impl ConnectionTrait,
    token: &str,
    claims: &StatementClaims,
    origin: &str,
) -> Result<bool, DbErr> {
    let existing = mirror_certificate::Entity::find()
        .filter(mirror_certificate::Column::Issuer.eq(&claims.iss))
        .filter(mirror_certificate::Column::Number.eq(&claims.sub))
        .one(conn)
        .await?;
    if existing
        .as_ref()
        .is_some_and(|row| row.seq > claims.seq || (row.seq == claims.seq && row.statement_exp >= instant(claims.exp)))
    {
        return Ok(false);
    }
    let model = mirror_certificate::ActiveModel {
        issuer: Set(claims.iss.clone()),
        number: Set(claims.sub.clone()),
        seq: Set(claims.seq),
        origin: Set(origin.to_owned()),
        statement: Set(token.to_owned()),
        statement_iat: Set(instant(claims.iat)),
        statement_exp: Set(instant(claims.exp)),
        received_at: Set(Utc::now()),
        ..Default::default()
    };
    match existing {
        Some(row) => {
            let mut model = model;
            model.id = sea_orm::ActiveValue::Unchanged(row.id);
            mirror_certificate::Entity::update(model).exec(conn).await?;
        }
        None => {
            mirror_certificate::Entity::insert(model).exec_without_returning(conn).await?;
        }
    }
    mirror_identifier::Entity::delete_many()
        .filter(mirror_identifier::Column::Issuer.eq(&claims.iss))
        .filter(mirror_identifier::Column::Number.eq(&claims.sub))
        .exec(conn)
        .await?;
    let rows: Vec<_> = claims
        .facts
        .operator
        .identifiers
        .iter()
        .map(|id| mirror_identifier::ActiveModel {
            issuer: Set(claims.iss.clone()),
            number: Set(claims.sub.clone()),
            scheme: Set(id.scheme.clone()),
            value: Set(id.value.clone()),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        mirror_identifier::Entity::insert_many(rows).exec_without_returning(conn).await?;
    }
    Ok(true)
}

async fn save_state(
    conn: &impl ConnectionTrait,
    issuer: &str,
    update: impl FnOnce(&mut mirror_state::ActiveModel),
) -> Result<(), DbErr> {
    ensure_state(conn, issuer).await?;
    let mut model = mirror_state::ActiveModel {
        issuer: sea_orm::ActiveValue::Unchanged(issuer.to_owned()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    update(&mut model);
    mirror_state::Entity::update(model).exec(conn).await.map(|_| ())
}

/// Records that every change of `issuer` up to `seq` has been applied.
pub async fn set_synced(conn: &impl ConnectionTrait, issuer: &str, seq: i64) -> Result<(), DbErr> {
    save_state(conn, issuer, |model| model.synced_seq = Set(seq)).await
}

pub async fn set_checkpoint(
    conn: &impl ConnectionTrait,
    issuer: &str,
    token: &str,
    seq: i64,
    iat: i64,
    exp: i64,
) -> Result<(), DbErr> {
    save_state(conn, issuer, |model| {
        model.checkpoint = Set(Some(token.to_owned()));
        model.checkpoint_seq = Set(seq);
        model.checkpoint_iat = Set(Some(instant(iat)));
        model.checkpoint_exp = Set(Some(instant(exp)));
    })
    .await
}
