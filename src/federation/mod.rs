//! Federation between registry nodes: each administration signs what it says about its own
//! certificates; peers verify with keys pinned out of band, follow each other's changes, and
//! keep a mirror for when a partner is down.
//!
//! - `keys`: signing keys, sealed at rest, published as JWK Sets
//! - `jose`: assertions, statements, checkpoints and signed answers
//! - `client`: calls to peers with timeouts and a circuit breaker
//! - `routes`: the `/federation/v1` endpoints this node serves
//! - `feed`: changes as signed statements, and applying them to the mirror in order
//! - `delivery`: pushes the outbox to peers, with backoff
//! - `sync`: keeps each followed issuer's checkpoint fresh and pulls missed changes
//! - `remote`: answers the border question for an issuer hosted elsewhere
//! - `replay`: refuses an assertion's `jti` presented twice, across processes and restarts

pub mod client;
pub mod delivery;
pub mod feed;
pub mod jose;
pub mod keys;
pub mod remote;
pub mod replay;
pub mod routes;
pub mod sync;

use chrono::Utc;
use tokio::sync::{Notify, mpsc, watch};

use crate::app::AppState;

/// An audit record of a federation call, written in the background in batches so that calls
/// between nodes do not wait on the database.
pub struct CallRecord {
    pub administration: String,
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub details: serde_json::Value,
}

pub struct Federation {
    pub keyring: keys::Keyring,
    pub client: client::PeerClient,
    /// Assertion ids already accepted: a replay is refused.
    pub replays: replay::Replays,
    /// Wakes the delivery worker when a change was committed.
    pub outbox_ready: Notify,
    /// Wakes the sync worker when a gap was seen in an issuer's changes.
    pub sync_needed: Notify,
    calls: mpsc::UnboundedSender<CallRecord>,
    /// Taken by the call-log writer when the node starts serving.
    pub call_log: std::sync::Mutex<Option<mpsc::UnboundedReceiver<CallRecord>>>,
}

impl Federation {
    /// `shared`: whether other processes may serve the same database (PostgreSQL).
    pub fn new(node_secret: &[u8], allow_private: bool, shared: bool) -> anyhow::Result<Self> {
        let (calls, receiver) = mpsc::unbounded_channel();
        Ok(Federation {
            keyring: keys::Keyring::new(node_secret)?,
            client: client::PeerClient::new(allow_private)?,
            replays: replay::Replays::new(shared),
            outbox_ready: Notify::new(),
            sync_needed: Notify::new(),
            calls,
            call_log: std::sync::Mutex::new(Some(receiver)),
        })
    }

    pub fn record_call(&self, record: CallRecord) {
        let _ = self.calls.send(record);
    }
}

/// Writes federation call records to the audit log, up to 500 at a time, until `stop`.
pub async fn write_call_log(state: AppState, mut stop: watch::Receiver<bool>) {
    use entity::audit_log;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let Some(mut receiver) = state.federation.call_log.lock().ok().and_then(|mut slot| slot.take()) else { return };
    let mut batch = Vec::new();
    loop {
        let stopping = tokio::select! {
            received = receiver.recv_many(&mut batch, 500) => received == 0,
            _ = stop.changed() => true,
        };
        if stopping {
            while let Ok(record) = receiver.try_recv() {
                batch.push(record);
            }
        }
        if !batch.is_empty() {
            let rows: Vec<_> = batch
                .drain(..)
                .map(|record| audit_log::ActiveModel {
                    administration: Set(Some(record.administration)),
                    at: Set(Utc::now()),
                    actor: Set(record.actor),
                    action: Set(record.action.to_owned()),
                    target: Set(record.target),
                    details: Set(record.details.to_string()),
                    ..Default::default()
                })
                .collect();
            let written = async {
                let txn = state.store.write_when_free().await?;
                audit_log::Entity::insert_many(rows).exec_without_returning(&txn).await?;
                txn.commit().await
            }
            .await;
            if let Err(error) = written {
                tracing::error!(%error, "could not write federation calls to the audit log");
            }
        }
        if stopping {
            // Hand the receiver back so a node that serves again keeps logging.
            if let Ok(mut slot) = state.federation.call_log.lock() {
                *slot = Some(receiver);
            }
            return;
        }
    }
}

/// Starts the background work of a serving node: the call log, the record of accepted
/// assertions, outbox delivery and peer sync.
pub fn start_workers(state: &AppState, stop: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(write_call_log(state.clone(), stop.clone())),
        tokio::spawn(replay::write(state.clone(), stop.clone())),
        tokio::spawn(delivery::run(state.clone(), stop.clone())),
        tokio::spawn(sync::run(state.clone(), stop.clone())),
    ]
}
