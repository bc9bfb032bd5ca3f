//! Federation between registry nodes: each administration signs what it says about its own
//! certificates; peers verify with keys pinned out of band, follow each other's changes, and
//! keep a mirror for when a partner is down.
//!
//! - `keys`: signing keys, sealed at rest, published as JWK Sets
//! - `jose`: assertions, statements, checkpoints and signed answers
//! - `protocol`: the typed bodies of every federation request and answer
//! - `client`: calls to peers with timeouts and a circuit breaker
//! - `routes`: the `/federation/v1` endpoints this node serves (what they answer is
//!   `service::federation`)
//! - `signed`: statements signed once per change and freshness window
//! - `feed`: changes as signed statements, and applying them to the mirror in order
//! - `delivery`: pushes the outbox to peers, with backoff
//! - `sync`: keeps each followed issuer's checkpoint fresh and pulls missed changes
//! - `remote`: answers the border question for an issuer hosted elsewhere
//! - `batch`: asks an issuer's node about many certificates in one call while others wait
//! - `replay`: refuses an assertion's `jti` presented twice, across processes and restarts

pub(crate) mod batch;
pub(crate) mod client;
pub(crate) mod delivery;
pub(crate) mod feed;
pub mod jose;
pub mod keys;
pub(crate) mod protocol;
pub(crate) mod remote;
pub(crate) mod replay;
pub(crate) mod routes;
pub(crate) mod signed;
pub(crate) mod sync;

use tokio::sync::{Notify, watch};

use crate::app::AppState;

pub struct Federation {
    pub keyring: keys::Keyring,
    pub client: client::PeerClient,
    /// Assertion ids already accepted: a replay is refused.
    pub replays: replay::Replays,
    /// Wakes the delivery worker when a change was committed.
    pub outbox_ready: Notify,
    /// Wakes the sync worker when a gap was seen in an issuer's changes.
    pub sync_needed: Notify,
    /// Wakes the signer of statements ahead when a partner or a signing key changed, so that a
    /// new partner finds its statements signed within moments rather than at the next round.
    pub sign_needed: Notify,
    /// Border questions to issuers on other nodes, asked together while calls are in flight.
    pub batches: batch::Batches,
}

impl Federation {
    /// `shared`: whether other processes may serve the same database (PostgreSQL).
    pub fn new(node_secret: &[u8], allow_private: bool, shared: bool) -> anyhow::Result<Self> {
        Ok(Federation {
            keyring: keys::Keyring::new(node_secret)?,
            client: client::PeerClient::new(allow_private)?,
            replays: replay::Replays::new(shared),
            outbox_ready: Notify::new(),
            sync_needed: Notify::new(),
            sign_needed: Notify::new(),
            batches: batch::Batches::default(),
        })
    }
}

/// Starts the background work of a serving node: the deferred writes (the call log among them),
/// the record of accepted assertions, outbox delivery and peer sync.
pub fn start_workers(state: &AppState, stop: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(crate::service::later::write(state.clone(), stop.clone())),
        tokio::spawn(replay::write(state.clone(), stop.clone())),
        tokio::spawn(delivery::run(state.clone(), stop.clone())),
        tokio::spawn(sync::run(state.clone(), stop.clone())),
        tokio::spawn(signed::sign_ahead(state.clone(), stop.clone())),
    ]
}
