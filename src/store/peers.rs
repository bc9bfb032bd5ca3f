//! Peer registrations: a hosted administration's partners on other nodes, with their base URL
//! and pinned keys, and the health of the exchange with them.

use chrono::{DateTime, Utc};
use entity::peer::{self, Column, Entity};
use jsonwebtoken::jwk::JwkSet;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct Peer {
    pub id: i64,
    pub administration: String,
    pub peer: String,
    pub base_url: String,
    pub jwks: JwkSet,
    pub pending_jwks: Option<JwkSet>,
    /// The next keys the peer's current key announced, pinned already.
    pub key_announcement: Option<KeyAnnouncement>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Keys a peer announced, signed by a key pinned for it, before they sign.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyAnnouncement {
    /// RFC 7638 thumbprints of the announced keys.
    pub thumbprints: Vec<String>,
    /// When the peer said they start signing.
    pub signs_from: DateTime<Utc>,
}

fn build(model: peer::Model) -> StoreResult<Peer> {
    let parse = |text: &str| {
        serde_json::from_str::<JwkSet>(text)
            .map_err(|_| StoreError::inconsistent(format!("stored keys of peer {} are invalid", model.peer)))
    };
    Ok(Peer {
        jwks: parse(&model.jwks)?,
        pending_jwks: model.pending_jwks.as_deref().map(parse).transpose()?,
        key_announcement: model.key_announcement.as_deref().map(serde_json::from_str).transpose()?,
        id: model.id,
        administration: model.administration.clone(),
        peer: model.peer.clone(),
        base_url: model.base_url.clone(),
        last_success_at: model.last_success_at,
        last_error_at: model.last_error_at,
        last_error: model.last_error.clone(),
    })
}

impl Peer {
    /// The name of this registration's circuit breaker: its own, whatever its URL.
    pub fn circuit(&self) -> String {
        format!("{}/{}", self.administration, self.peer)
    }

    /// The peer administration's federation endpoints.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/federation/v1/administrations/{}{path}", self.base_url, self.peer)
    }
}

pub async fn find(conn: &impl ConnectionTrait, administration: &str, peer: &str) -> StoreResult<Option<Peer>> {
    Entity::find()
        .filter(Column::Administration.eq(administration))
        .filter(Column::Peer.eq(peer))
        .one(conn)
        .await?
        .map(build)
        .transpose()
}

pub async fn list(conn: &impl ConnectionTrait, administration: &str) -> StoreResult<Vec<Peer>> {
    Entity::find()
        .filter(Column::Administration.eq(administration))
        .order_by_asc(Column::Peer)
        .all(conn)
        .await?
        .into_iter()
        .map(build)
        .collect()
}

/// Every registration on this node, e.g. to follow each peer's changes.
pub async fn all(conn: &impl ConnectionTrait) -> StoreResult<Vec<Peer>> {
    Entity::find().order_by_asc(Column::Id).all(conn).await?.into_iter().map(build).collect()
}

/// Creates the registration or changes its base URL and pinned keys; true when created.
pub async fn upsert(
    conn: &impl ConnectionTrait,
    administration: &str,
    peer: &str,
    base_url: &str,
    jwks: &JwkSet,
) -> StoreResult<bool> {
    let keys = serde_json::to_string(jwks).map_err(|e| StoreError::inconsistent(e.to_string()))?;
    let now = Utc::now();
    match find(conn, administration, peer).await? {
        Some(existing) => {
            Entity::update(peer::ActiveModel {
                id: sea_orm::ActiveValue::Unchanged(existing.id),
                base_url: Set(base_url.to_owned()),
                jwks: Set(keys),
                pending_jwks: Set(None),
                // Keys given or accepted by the administrator replace what was announced.
                key_announcement: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec(conn)
            .await?;
            Ok(false)
        }
        None => {
            Entity::insert(peer::ActiveModel {
                administration: Set(administration.to_owned()),
                peer: Set(peer.to_owned()),
                base_url: Set(base_url.to_owned()),
                jwks: Set(keys),
                pending_jwks: Set(None),
                last_success_at: Set(None),
                last_error_at: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec_without_returning(conn)
            .await?;
            Ok(true)
        }
    }
}

/// Pins `jwks` (the keys pinned so far and those announced) with what announced them.
pub async fn pin_announced(
    conn: &impl ConnectionTrait,
    id: i64,
    jwks: &JwkSet,
    announcement: &KeyAnnouncement,
) -> StoreResult<()> {
    Entity::update_many()
        .col_expr(Column::Jwks, Expr::value(serde_json::to_string(jwks)?))
        .col_expr(Column::KeyAnnouncement, Expr::value(serde_json::to_string(announcement)?))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Keys a re-fetch found, held until an administrator accepts them.
pub async fn set_pending(conn: &impl ConnectionTrait, id: i64, pending: Option<&JwkSet>) -> StoreResult<()> {
    let pending =
        pending.map(serde_json::to_string).transpose().map_err(|e| StoreError::inconsistent(e.to_string()))?;
    Ok(Entity::update_many()
        .col_expr(Column::PendingJwks, Expr::value(pending))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(id))
        .exec(conn)
        .await?)
    .map(|_| ())
}

/// A call to the peer succeeded: the last error, if any, is over.
pub async fn record_success(conn: &impl ConnectionTrait, administration: &str, peer: &str) -> StoreResult<()> {
    Ok(Entity::update_many()
        .col_expr(Column::LastSuccessAt, Expr::value(Utc::now()))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(Column::LastErrorAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .filter(Column::Administration.eq(administration))
        .filter(Column::Peer.eq(peer))
        .exec(conn)
        .await?)
    .map(|_| ())
}

pub async fn record_error(
    conn: &impl ConnectionTrait,
    administration: &str,
    peer: &str,
    error: &str,
) -> StoreResult<()> {
    let message: String = error.chars().take(500).collect();
    Ok(Entity::update_many()
        .col_expr(Column::LastErrorAt, Expr::value(Utc::now()))
        .col_expr(Column::LastError, Expr::value(message))
        .filter(Column::Administration.eq(administration))
        .filter(Column::Peer.eq(peer))
        .exec(conn)
        .await?)
    .map(|_| ())
}
