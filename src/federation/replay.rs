//! Refusing replayed federation assertions: an assertion's `jti` is accepted once, by every
//! process sharing the database and across restarts, until the assertion expires.
//!
//! This process remembers what it accepted, so its own replays are refused without asking the
//! database. Every accepted `jti` is also recorded in the database, in batches by one writer:
//!
//! - On PostgreSQL, where several processes may serve, a call waits for its batch: the
//!   database's primary key decides which process saw a `jti` first.
//! - On SQLite only one process serves a file, so what it remembers is the whole truth; the
//!   record is written behind, for the next start (which loads what has not expired), and a
//!   call never waits for the single writer (an import may hold it for minutes).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};

use super::jose;
use crate::app::AppState;
use crate::service::Work;
use crate::store::assertions::{self, Accepted};
use crate::store::{StoreError, StoreResult};

const BATCH: usize = 500;
/// Accepted assertions between two sweeps of the expired ones from memory.
const SWEEP_EVERY: usize = 4096;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

struct Pending {
    accepted: Accepted,
    /// Given on PostgreSQL: whether the database saw it first.
    answer: Option<oneshot::Sender<bool>>,
}

/// The assertions this process accepted, until they expire: every one is kept (no cache that
/// could evict one, or decline to keep it, and so let its replay through), and the expired are
/// swept out as new ones come.
#[derive(Default)]
struct Seen {
    expiries: Mutex<HashMap<String, i64>>,
}

impl Seen {
    /// True when `key` is not held unexpired, and holds it until `expires` (epoch seconds).
    fn first(&self, key: String, expires: i64) -> bool {
        let now = Utc::now().timestamp();
        let mut expiries = self.expiries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if expiries.len().is_multiple_of(SWEEP_EVERY) {
            expiries.retain(|_, until| *until >= now);
        }
        match expiries.get(&key) {
            Some(until) if *until >= now => false,
            _ => {
                expiries.insert(key, expires);
                true
            }
        }
    }
}

pub struct Replays {
    seen: Seen,
    /// Whether other processes may share the database, so the database must decide.
    shared: bool,
    queue: mpsc::UnboundedSender<Pending>,
    /// Taken by the writer when the node starts serving.
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Pending>>>,
}

impl Replays {
    pub fn new(shared: bool) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        Replays { seen: Seen::default(), shared, queue, receiver: Mutex::new(Some(receiver)) }
    }

    /// Remembers the assertions recorded before this process started and not expired yet.
    pub async fn load(&self, conn: &impl sea_orm::ConnectionTrait) -> StoreResult<()> {
        for accepted in assertions::unexpired(conn, Utc::now()).await? {
            self.seen.first(key(&accepted.issuer, &accepted.jti), accepted.expires_at.timestamp());
        }
        Ok(())
    }

    /// True the first time an assertion id is presented by `issuer`.
    pub async fn first_use(&self, issuer: &str, jti: &str, expires: i64) -> StoreResult<bool> {
        let expires = expires.saturating_add(jose::CLOCK_SKEW_SECS as i64);
        if !self.seen.first(key(issuer, jti), expires) {
            return Ok(false);
        }
        let accepted = Accepted {
            issuer: issuer.to_owned(),
            jti: jti.to_owned(),
            expires_at: crate::store::mirror::instant(expires),
        };
        if !self.shared {
            let _ = self.queue.send(Pending { accepted, answer: None });
            return Ok(true);
        }
        let (answer, answered) = oneshot::channel();
        self.queue.send(Pending { accepted, answer: Some(answer) }).map_err(|_| writer_gone())?;
        answered.await.map_err(|_| writer_gone())
    }
}

/// The writer that records assertions is not running (the node is stopping): whether one was
/// seen first cannot be known now.
fn writer_gone() -> StoreError {
    StoreError::Unavailable(sea_orm::DbErr::Custom("the writer of accepted assertions is not running".into()))
}

fn key(issuer: &str, jti: &str) -> String {
    format!("{issuer} {jti}")
}

/// Records accepted assertions in batches until `stop`, then what is left; forgets expired
/// ones every minute.
pub async fn write(state: AppState, mut stop: watch::Receiver<bool>) {
    let replays = &state.federation.replays;
    let Some(mut receiver) = replays.receiver.lock().ok().and_then(|mut slot| slot.take()) else { return };
    let mut batch = Vec::new();
    let mut pruned_at: Option<DateTime<Utc>> = None;
    loop {
        // Callers wait for their batch on PostgreSQL; on SQLite nobody does.
        let linger = if replays.shared { Duration::ZERO } else { crate::service::later::LINGER };
        let stopping = crate::service::later::gather(&mut receiver, &mut batch, BATCH, linger, &mut stop).await;
        if stopping {
            while let Ok(pending) = receiver.try_recv() {
                batch.push(pending);
            }
        }
        if !batch.is_empty() {
            record(&state, std::mem::take(&mut batch)).await;
        }
        let now = Utc::now();
        if pruned_at.is_none_or(|at| now - at > chrono::Duration::from_std(PRUNE_EVERY).unwrap_or_default()) {
            pruned_at = Some(now);
            let pruned = async {
                let work = Work::begin_when_free(&state).await?;
                assertions::prune(&*work, now).await?;
                work.commit().await
            };
            if let Err(error) = pruned.await {
                tracing::warn!(%error, "could not forget expired federation assertions");
            }
        }
        if stopping {
            if let Ok(mut slot) = replays.receiver.lock() {
                *slot = Some(receiver);
            }
            return;
        }
    }
}

async fn record(state: &AppState, batch: Vec<Pending>) {
    let rows: Vec<Accepted> = batch.iter().map(|pending| pending.accepted.clone()).collect();
    // Which rows were new is asked only where callers wait for it.
    let asked = batch.iter().any(|pending| pending.answer.is_some());
    let written = async {
        let work = Work::begin_when_free(state).await?;
        let new = if asked {
            assertions::record_new(&*work, &rows).await?
        } else {
            assertions::record(&*work, &rows).await?;
            HashSet::new()
        };
        work.commit().await?;
        Ok::<_, crate::store::StoreError>(new)
    }
    .await;
    match written {
        Ok(new) => {
            for pending in batch {
                if let Some(answer) = pending.answer {
                    let _ = answer.send(new.contains(&(pending.accepted.issuer, pending.accepted.jti)));
                }
            }
        }
        // The callers waiting get no answer, and are refused as the database being unavailable.
        Err(error) => tracing::error!(%error, "could not record federation assertions"),
    }
}
