//! The mirror: for each hosted administration and each issuer it follows, the latest verified
//! statement of every certificate and how far the issuer's change sequence has been applied, so
//! a border still gets an answer when the issuer's node is down.
//!
//! Everything here is keyed by the follower ([`Followed`]): a statement was verified with the
//! keys that one administration pinned, so only that administration's answers may rest on it.

use aeo_domain::OperatorId;
use chrono::{DateTime, TimeZone, Utc};
use entity::{mirror_certificate, mirror_identifier, mirror_state};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{StoreError, StoreResult};
use crate::federation::jose::StatementClaims;

/// Whose mirror: the hosted administration that follows, and the issuer it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Followed<'a> {
    pub administration: &'a str,
    pub issuer: &'a str,
}

impl<'a> Followed<'a> {
    pub fn new(administration: &'a str, issuer: &'a str) -> Self {
        Followed { administration, issuer }
    }
}

/// How a held statement came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Pushed by the issuer, or pulled from its feed.
    Feed,
    /// Fetched to answer a question.
    Live,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Feed => "feed",
            Origin::Live => "live",
        }
    }

    /// The stored spelling read back; anything else counts as the feed's, which claims less
    /// (a live answer may be reported as `cache`).
    fn stored(text: &str) -> Self {
        if text == "live" { Origin::Live } else { Origin::Feed }
    }
}

/// A statement held here, decoded.
#[derive(Debug, Clone)]
pub struct Held {
    pub claims: StatementClaims,
    pub origin: Origin,
    /// Until when it is fresh: its `exp`, but never later than the follower trusts it for.
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

    /// The furthest position this follower has verified: applied, or vouched for by a
    /// checkpoint. A pushed change far beyond it is not taken on the pusher's word.
    pub fn verified_seq(&self) -> i64 {
        self.synced_seq.max(self.checkpoint_seq)
    }
}

pub fn instant(timestamp: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(timestamp, 0).single().unwrap_or_default()
}

/// Until when something signed at `iat` to expire at `exp` is fresh to a follower that trusts
/// a partner's word for at most `trusted_for_secs`: a partner cannot make its statements (or a
/// forged one) stand for longer than this node's own statements do.
pub fn fresh_until(iat: i64, exp: i64, trusted_for_secs: i64) -> DateTime<Utc> {
    instant(exp.min(iat.saturating_add(trusted_for_secs)))
}

impl Held {
    pub fn new(claims: StatementClaims, origin: Origin, trusted_for_secs: i64) -> Self {
        let statement_exp = fresh_until(claims.iat, claims.exp, trusted_for_secs);
        let statement_iat = instant(claims.iat);
        Held { claims, origin, statement_exp, statement_iat }
    }
}

fn decode(model: mirror_certificate::Model) -> Option<Held> {
    // Verified when it arrived; decoding again needs no key.
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<StatementClaims>(&model.statement).ok()?;
    let origin = Origin::stored(&model.origin);
    Some(Held { claims, origin, statement_exp: model.statement_exp, statement_iat: model.statement_iat })
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

pub async fn state(conn: &impl ConnectionTrait, followed: Followed<'_>) -> StoreResult<State> {
    Ok(mirror_state::Entity::find_by_id((followed.administration.to_owned(), followed.issuer.to_owned()))
        .one(conn)
        .await?
        .map(State::from)
        .unwrap_or_default())
}

/// Every follow state: ((administration, issuer), state).
pub async fn states(conn: &impl ConnectionTrait) -> StoreResult<Vec<((String, String), State)>> {
    Ok(mirror_state::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|row| ((row.administration.clone(), row.issuer.clone()), State::from(row)))
        .collect())
}

/// Makes the follow state when there is none yet.
async fn ensure_state(conn: &impl ConnectionTrait, followed: Followed<'_>) -> StoreResult<()> {
    let fresh = mirror_state::ActiveModel {
        administration: Set(followed.administration.to_owned()),
        issuer: Set(followed.issuer.to_owned()),
        synced_seq: Set(0),
        checkpoint: Set(None),
        checkpoint_seq: Set(0),
        checkpoint_iat: Set(None),
        checkpoint_exp: Set(None),
        updated_at: Set(Utc::now()),
    };
    Ok(mirror_state::Entity::insert(fresh)
        .on_conflict(
            OnConflict::columns([mirror_state::Column::Administration, mirror_state::Column::Issuer])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?)
    .map(|_| ())
}

/// The follow state, its row locked until the transaction ends: a pushed batch and a pulled
/// page of the same issuer take turns instead of overwriting each other's progress.
pub async fn lock_state(conn: &impl ConnectionTrait, followed: Followed<'_>) -> StoreResult<State> {
    ensure_state(conn, followed).await?;
    mirror_state::Entity::find_by_id((followed.administration.to_owned(), followed.issuer.to_owned()))
        .lock_exclusive()
        .one(conn)
        .await?
        .map(State::from)
        .ok_or_else(|| StoreError::inconsistent(format!("mirror state of {}", followed.issuer)))
}

fn of(followed: Followed<'_>) -> sea_orm::Select<mirror_certificate::Entity> {
    mirror_certificate::Entity::find()
        .filter(mirror_certificate::Column::Administration.eq(followed.administration))
        .filter(mirror_certificate::Column::Issuer.eq(followed.issuer))
}

pub async fn find(conn: &impl ConnectionTrait, followed: Followed<'_>, number: &str) -> StoreResult<Option<Held>> {
    Ok(of(followed).filter(mirror_certificate::Column::Number.eq(number)).one(conn).await?.and_then(decode))
}

pub async fn find_by_identifier(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    id: &OperatorId,
) -> StoreResult<Vec<Held>> {
    let numbers = Query::select()
        .column(mirror_identifier::Column::Number)
        .from(mirror_identifier::Entity)
        .and_where(mirror_identifier::Column::Administration.eq(followed.administration))
        .and_where(mirror_identifier::Column::Issuer.eq(followed.issuer))
        .and_where(mirror_identifier::Column::Scheme.eq(id.scheme.as_str()))
        .and_where(mirror_identifier::Column::Value.eq(id.value.clone()))
        .to_owned();
    Ok(of(followed)
        .filter(mirror_certificate::Column::Number.in_subquery(numbers))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(decode)
        .collect())
}

/// What became of a verified statement offered to the mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It is newer than what was held, and is kept.
    Kept,
    /// What is held is as new or newer; nothing changed.
    Older,
    /// It claims a position already verified for other facts (another certificate, or the same
    /// certificate as it stood otherwise): the issuer cannot have signed both honestly, and the
    /// verified one stays.
    Contradicts,
}

/// Keeps the statement if it is newer than what is held for its certificate, unless it
/// contradicts what is held.
pub async fn apply(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    token: &str,
    held: &Held,
) -> StoreResult<Applied> {
    let claims = &held.claims;
    let existing = of(followed).filter(mirror_certificate::Column::Number.eq(&claims.sub)).one(conn).await?;
    if let Some(row) = &existing {
        if row.seq == claims.seq {
            let today = Utc::now().date_naive();
            let same = decode(row.clone()).is_some_and(|known| known.claims.facts.same_change(&claims.facts, today));
            return Ok(match same {
                false => Applied::Contradicts,
                true if row.statement_exp >= held.statement_exp => Applied::Older,
                true => {
                    write(conn, followed, token, held, Some(row.id)).await?;
                    Applied::Kept
                }
            });
        }
        if row.seq > claims.seq {
            return Ok(Applied::Older);
        }
    }
    let taken = of(followed)
        .filter(mirror_certificate::Column::Seq.eq(claims.seq))
        .filter(mirror_certificate::Column::Number.ne(&claims.sub))
        .one(conn)
        .await?;
    if taken.is_some() {
        return Ok(Applied::Contradicts);
    }
    write(conn, followed, token, held, existing.map(|row| row.id)).await?;
    Ok(Applied::Kept)
}

async fn write(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    token: &str,
    held: &Held,
    existing: Option<i64>,
) -> StoreResult<()> {
    let claims = &held.claims;
    let model = mirror_certificate::ActiveModel {
        administration: Set(followed.administration.to_owned()),
        issuer: Set(followed.issuer.to_owned()),
        number: Set(claims.sub.clone()),
        seq: Set(claims.seq),
        origin: Set(held.origin.as_str().to_owned()),
        statement: Set(token.to_owned()),
        statement_iat: Set(held.statement_iat),
        statement_exp: Set(held.statement_exp),
        received_at: Set(Utc::now()),
        ..Default::default()
    };
    match existing {
        Some(id) => {
            let mut model = model;
            model.id = sea_orm::ActiveValue::Unchanged(id);
            mirror_certificate::Entity::update(model).exec(conn).await?;
        }
        None => {
            mirror_certificate::Entity::insert(model).exec_without_returning(conn).await?;
        }
    }
    mirror_identifier::Entity::delete_many()
        .filter(mirror_identifier::Column::Administration.eq(followed.administration))
        .filter(mirror_identifier::Column::Issuer.eq(followed.issuer))
        .filter(mirror_identifier::Column::Number.eq(&claims.sub))
        .exec(conn)
        .await?;
    let rows: Vec<_> = claims
        .facts
        .operator
        .identifiers
        .iter()
        .map(|id| mirror_identifier::ActiveModel {
            administration: Set(followed.administration.to_owned()),
            issuer: Set(followed.issuer.to_owned()),
            number: Set(claims.sub.clone()),
            scheme: Set(id.scheme.clone()),
            value: Set(id.value.clone()),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        mirror_identifier::Entity::insert_many(rows).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// Forgets everything the follower holds of the issuer (statements, identifiers, its follow
/// state): what was verified with keys it no longer pins is no longer its to rely on. It is
/// pulled again, with the keys pinned now.
pub async fn forget(conn: &impl ConnectionTrait, followed: Followed<'_>) -> StoreResult<()> {
    use sea_orm::ModelTrait;
    mirror_identifier::Entity::delete_many()
        .filter(mirror_identifier::Column::Administration.eq(followed.administration))
        .filter(mirror_identifier::Column::Issuer.eq(followed.issuer))
        .exec(conn)
        .await?;
    mirror_certificate::Entity::delete_many()
        .filter(mirror_certificate::Column::Administration.eq(followed.administration))
        .filter(mirror_certificate::Column::Issuer.eq(followed.issuer))
        .exec(conn)
        .await?;
    if let Some(state) =
        mirror_state::Entity::find_by_id((followed.administration.to_owned(), followed.issuer.to_owned()))
            .one(conn)
            .await?
    {
        state.delete(conn).await?;
    }
    Ok(())
}

async fn save_state(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    update: impl FnOnce(&mut mirror_state::ActiveModel),
) -> StoreResult<()> {
    ensure_state(conn, followed).await?;
    let mut model = mirror_state::ActiveModel {
        administration: sea_orm::ActiveValue::Unchanged(followed.administration.to_owned()),
        issuer: sea_orm::ActiveValue::Unchanged(followed.issuer.to_owned()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    update(&mut model);
    mirror_state::Entity::update(model).exec(conn).await?;
    Ok(())
}

/// Records that every change of the issuer up to `seq` has been applied.
pub async fn set_synced(conn: &impl ConnectionTrait, followed: Followed<'_>, seq: i64) -> StoreResult<()> {
    save_state(conn, followed, |model| model.synced_seq = Set(seq)).await
}

/// A verified checkpoint: the issuer's position `seq`, current from `iat` until `until`.
pub struct Checkpoint<'a> {
    pub token: &'a str,
    pub seq: i64,
    pub iat: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

pub async fn set_checkpoint(
    conn: &impl ConnectionTrait,
    followed: Followed<'_>,
    checkpoint: &Checkpoint<'_>,
) -> StoreResult<()> {
    save_state(conn, followed, |model| {
        model.checkpoint = Set(Some(checkpoint.token.to_owned()));
        model.checkpoint_seq = Set(checkpoint.seq);
        model.checkpoint_iat = Set(Some(checkpoint.iat));
        model.checkpoint_exp = Set(Some(checkpoint.until));
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn every_origin_reads_back_as_it_was_stored() {
        for origin in [Origin::Feed, Origin::Live] {
            assert_eq!(Origin::stored(origin.as_str()), origin);
        }
        assert_eq!(Origin::stored("anything else"), Origin::Feed, "an unknown origin claims the least");
    }
}
