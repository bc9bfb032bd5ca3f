//! The outbox: every certificate change to push to each peer, written in the same transaction
//! as the change, so nothing is lost when a peer or this node goes down.

use std::ops::RangeInclusive;

use aeo_domain::MraStatus;
use chrono::{DateTime, Duration, Utc};
use entity::outbox::{self, Column, Entity};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::StoreResult;
use super::{bulk, mras, peers};

/// The registered peers of `administration` whose MRA record allows federation: they get its
/// changes.
pub async fn recipients(conn: &impl ConnectionTrait, administration: &str) -> StoreResult<Vec<String>> {
    let mut out = Vec::new();
    for peer in peers::list(conn, administration).await? {
        if mras::find(conn, administration, &peer.peer)
            .await?
            .is_some_and(|mra| MraStatus::allows_federation(mra.status))
        {
            out.push(peer.peer);
        }
    }
    Ok(out)
}

/// Queues change `seq` of `administration` for every recipient.
pub async fn enqueue(conn: &impl ConnectionTrait, administration: &str, seq: i64) -> StoreResult<()> {
    let recipients = recipients(conn, administration).await?;
    enqueue_many(conn, administration, &recipients, seq..=seq).await
}

/// Queues the changes `seqs` of `administration` for each of `peers`, due now.
pub async fn enqueue_many(
    conn: &impl ConnectionTrait,
    administration: &str,
    peers: &[String],
    seqs: RangeInclusive<i64>,
) -> StoreResult<()> {
    #[derive(Serialize)]
    struct Row<'a> {
        administration: &'a str,
        peer: &'a str,
        seq: i64,
        attempts: i32,
        #[serde(serialize_with = "bulk::instant")]
        next_attempt_at: DateTime<Utc>,
        #[serde(serialize_with = "bulk::instant")]
        created_at: DateTime<Utc>,
    }
    let now = Utc::now();
    let rows: Vec<Row> = seqs
        .flat_map(|seq| {
            peers.iter().map(move |peer| Row {
                administration,
                peer,
                seq,
                attempts: 0,
                next_attempt_at: now,
                created_at: now,
            })
        })
        .collect();
    bulk::insert(conn, "outbox", &rows).await
}

/// Items due for delivery, oldest first per peer.
pub async fn due(conn: &impl ConnectionTrait, limit: u64) -> StoreResult<Vec<outbox::Model>> {
    Ok(Entity::find()
        .filter(Column::NextAttemptAt.lte(Utc::now()))
        .order_by_asc(Column::Administration)
        .order_by_asc(Column::Peer)
        .order_by_asc(Column::Seq)
        .limit(limit)
        .all(conn)
        .await?)
}

pub async fn delivered(conn: &impl ConnectionTrait, ids: &[i64]) -> StoreResult<()> {
    Entity::delete_many().filter(Column::Id.is_in(ids.iter().copied())).exec(conn).await?;
    Ok(())
}

/// Puts the items off: exponential backoff from half a second up to a minute, with jitter.
pub async fn postpone(conn: &impl ConnectionTrait, ids: &[i64], attempts: i32) -> StoreResult<DateTime<Utc>> {
    let next = Utc::now() + backoff(attempts);
    Entity::update_many()
        .col_expr(Column::Attempts, Expr::value(attempts + 1))
        .col_expr(Column::NextAttemptAt, Expr::value(next))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .exec(conn)
        .await?;
    Ok(next)
}

pub fn backoff(attempts: i32) -> Duration {
    let base_ms = 500f64 * 2f64.powi(attempts.clamp(0, 10));
    let capped = base_ms.min(60_000.0);
    // Full jitter between half and all of the delay: peers coming back are not stampeded.
    let jittered = capped * (0.5 + rand::random::<f64>() * 0.5);
    Duration::milliseconds(jittered as i64)
}

/// Makes the postponed items for one peer due now, e.g. when the peer has shown it is back;
/// true when there were any.
pub async fn retry_now(conn: &impl ConnectionTrait, administration: &str, peer: &str) -> StoreResult<bool> {
    let now = Utc::now();
    let result = Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::value(now))
        .filter(Column::Administration.eq(administration))
        .filter(Column::Peer.eq(peer))
        .filter(Column::NextAttemptAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Undelivered changes for one peer.
pub async fn backlog(conn: &impl ConnectionTrait, administration: &str, peer: &str) -> StoreResult<u64> {
    Ok(Entity::find()
        .filter(Column::Administration.eq(administration))
        .filter(Column::Peer.eq(peer))
        .count(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_and_is_capped_at_a_minute() {
        for attempts in 0..20 {
            let delay = backoff(attempts).num_milliseconds();
            let ceiling = (500f64 * 2f64.powi(attempts.min(10))).min(60_000.0) as i64;
            assert!(delay >= ceiling / 2 && delay <= ceiling, "attempt {attempts}: {delay}");
        }
    }
}
