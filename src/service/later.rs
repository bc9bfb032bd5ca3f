//! Writes that a read causes but need not wait for: the audit records of federation calls, the
//! health of the exchange with each peer, statements an issuer gave when asked live, an outbox
//! to retry at once, and when a web page session was last used. A GET never takes the writer
//! slot for them; they are queued here and written in batches, one unit of work per batch, by
//! [`write`]. What is queued when the node stops is written before it exits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{After, ServiceResult, Work};
use crate::app::{App, AppState};
use crate::federation::jose::StatementClaims;
use crate::store::mirror::{self, Followed, Held, Origin};
use crate::store::{audit, outbox, peers, sessions};

/// Most writes taken into one unit of work.
const BATCH: usize = 500;

/// How long a batch waits for more once its first write came: under load a transaction then
/// writes hundreds of records instead of a few, and the writer's cost per record falls tenfold.
pub const LINGER: Duration = Duration::from_millis(50);

/// Waits for the next batch of at most `most` items into `batch`: the first, then more for up to
/// `linger`. True when the node is stopping (or nothing can come any more): the caller then
/// takes what is left without waiting, writes it and returns.
pub async fn gather<T>(
    receiver: &mut mpsc::UnboundedReceiver<T>,
    batch: &mut Vec<T>,
    most: usize,
    linger: Duration,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let received = tokio::select! {
        received = receiver.recv_many(batch, most) => received,
        _ = stop.changed() => return true,
    };
    if received == 0 {
        return true;
    }
    let deadline = tokio::time::Instant::now() + linger;
    while batch.len() < most && !linger.is_zero() {
        tokio::select! {
            received = receiver.recv_many(batch, most - batch.len()) => if received == 0 { return true },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = stop.changed() => return true,
        }
    }
    false
}

/// One write that may come a moment later.
#[derive(Debug)]
pub enum Deferred {
    Audit(audit::Entry),
    /// How the last call from `administration` to `peer` went: `None` for a success, else the
    /// error shown to administrators.
    PeerOutcome {
        administration: String,
        peer: String,
        error: Option<String>,
    },
    /// Statements the issuer gave when asked live, verified with the keys `administration`
    /// pinned, and until when `administration` trusts them.
    Live {
        administration: String,
        issuer: String,
        statements: Vec<(String, StatementClaims)>,
        trusted_for: i64,
    },
    /// A peer that follows `administration` is reachable again: what waits for it goes now.
    RetryOutbox {
        administration: String,
        peer: String,
    },
    /// A web page session (by the hash of its secret) was used at this instant.
    SessionSeen {
        id: String,
        at: chrono::DateTime<chrono::Utc>,
    },
}

pub struct Later {
    queue: mpsc::UnboundedSender<Deferred>,
    /// Taken by the writer when the node starts serving, handed back when it stops.
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Deferred>>>,
}

impl Default for Later {
    fn default() -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        Later { queue, receiver: Mutex::new(Some(receiver)) }
    }
}

impl Later {
    pub fn defer(&self, write: Deferred) {
        let _ = self.queue.send(write);
    }
}

/// Writes what is deferred, in batches, until `stop`; then what is left.
pub async fn write(state: AppState, mut stop: watch::Receiver<bool>) {
    let Some(mut receiver) = state.later.receiver.lock().ok().and_then(|mut slot| slot.take()) else { return };
    let mut batch = Vec::new();
    loop {
        let stopping = gather(&mut receiver, &mut batch, BATCH, LINGER, &mut stop).await;
        if stopping {
            while let Ok(write) = receiver.try_recv() {
                batch.push(write);
            }
        }
        if !batch.is_empty() {
            let count = batch.len();
            if let Err(error) = apply(&state, std::mem::take(&mut batch)).await {
                tracing::error!(%error, count, "deferred writes were lost");
            }
        }
        if stopping {
            // Handed back so that a node that serves again keeps writing.
            if let Ok(mut slot) = state.later.receiver.lock() {
                *slot = Some(receiver);
            }
            return;
        }
    }
}

async fn apply(app: &App, batch: Vec<Deferred>) -> ServiceResult<()> {
    let mut work = Work::begin_when_free(app).await?;
    // Of many outcomes with the same peer, the last one is its health now.
    let mut outcomes: HashMap<(String, String), Option<String>> = HashMap::new();
    // Statements asked live, per administration and issuer: each group takes the issuer's
    // mirror state once, not once per statement.
    let mut live: HashMap<(String, String), Vec<LiveStatement>> = HashMap::new();
    for write in batch {
        match write {
            Deferred::Audit(entry) => {
                work.audit(entry.administration.as_deref(), &entry.actor, &entry.action, entry.target, entry.details)
            }
            Deferred::PeerOutcome { administration, peer, error } => {
                outcomes.insert((administration, peer), error);
            }
            Deferred::Live { administration, issuer, statements, trusted_for } => {
                let group = live.entry((administration, issuer)).or_default();
                group.extend(statements.into_iter().map(|(token, claims)| (token, claims, trusted_for)));
            }
            Deferred::RetryOutbox { administration, peer } => {
                if outbox::retry_now(&*work, &administration, &peer).await? {
                    work.then(After::Outbox);
                }
            }
            Deferred::SessionSeen { id, at } => sessions::seen(&*work, &id, at).await?,
        }
    }
    for ((administration, issuer), statements) in live {
        keep_live(&mut work, &administration, &issuer, statements).await?;
    }
    for ((administration, peer), error) in outcomes {
        match error {
            None => peers::record_success(&*work, &administration, &peer).await?,
            Some(error) => peers::record_error(&*work, &administration, &peer, &error).await?,
        }
    }
    Ok(work.commit().await?)
}

/// A statement asked live: the token, its verified claims, and until when it is trusted.
type LiveStatement = (String, StatementClaims, i64);

/// Keeps statements asked live in the follower's mirror, within reach of what it verified,
/// each with until when the follower trusts it.
async fn keep_live(
    work: &mut Work<'_>,
    administration: &str,
    issuer: &str,
    statements: Vec<LiveStatement>,
) -> ServiceResult<()> {
    let followed = Followed::new(administration, issuer);
    // Takes turns with pushed and pulled changes of the same issuer, which would otherwise
    // insert the same certificate's statement at the same time.
    let verified = mirror::lock_state(&**work, followed).await?.verified_seq();
    let statements: Vec<(String, Held)> = statements
        .into_iter()
        .filter(|(_, claims, _)| !crate::federation::feed::beyond_reach(claims.seq, verified))
        .map(|(token, claims, trusted_for)| (token, Held::new(claims, Origin::Live, trusted_for)))
        .collect();
    let offered: Vec<mirror::Offered<'_>> = statements.iter().map(|(token, held)| (token.as_str(), held)).collect();
    let applied = mirror::apply_all(&**work, followed, &offered).await?;
    for ((_, held), applied) in statements.into_iter().zip(applied) {
        match applied {
            mirror::Applied::Kept => work.then(After::Held {
                administration: administration.to_owned(),
                issuer: issuer.to_owned(),
                held: Box::new(held),
            }),
            mirror::Applied::Older => {}
            mirror::Applied::Contradicts => {
                tracing::warn!(%issuer, number = %held.claims.sub, "a live statement contradicts the mirror");
            }
        }
    }
    Ok(())
}
