//! What the hot paths read from memory instead of the database.
//!
//! - [`summaries`]: hosted certificates' summaries asked about lately, in a bounded cache that
//!   forgets what the change sequence says changed.
//! - [`held`]: the mirror's statements and follow states.
//! - Short-lived copies of small facts that rarely change: who a token's user is, which
//!   administrations this node hosts, MRA records (read by every border question) and peer
//!   registrations (read by every federation call), the issuers each administration's border
//!   page offers. A write on this node forgets the copy at
//!   once; the time-to-live bounds how long another process sharing the same database may
//!   answer from an older copy.

pub(crate) mod held;
pub(crate) mod summaries;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use compact_str::CompactString;
use moka::sync::Cache;
use sea_orm::ConnectionTrait;

use crate::auth::Caller;
use crate::store::mras::Mra;
use crate::store::peers::Peer;
use crate::store::{administrations, mras, peers, sessions, users};

/// Two codes as one key, kept inline: looking up costs no allocation.
pub fn pair(first: &str, second: &str) -> CompactString {
    let mut key = CompactString::with_capacity(first.len() + 1 + second.len());
    key.push_str(first);
    key.push('/');
    key.push_str(second);
    key
}

/// How a cache of database rows keeps a read from bringing back what it forgot: the count moves
/// on before anything is forgotten, and a row read is kept only if the count has not moved since
/// before the read began. A change committed after the read began is forgotten after the count
/// moves: either that comes before the check, which then drops the read, or after the read is
/// kept, which it then forgets.
#[derive(Default)]
pub struct Forgetting(AtomicU64);

impl Forgetting {
    /// The count now: taken before reading the database.
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Whether nothing was forgotten since the count was `then`.
    pub fn unmoved_since(&self, then: u64) -> bool {
        self.now() == then
    }

    /// Moves the count on; before forgetting anything.
    pub fn move_on(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub const TIME_TO_LIVE: Duration = Duration::from_secs(10);

/// A user as token checks need it.
#[derive(Debug, Clone)]
pub struct KnownUser {
    pub caller: Arc<Caller>,
    pub token_version: i32,
    pub disabled: bool,
}

/// A web page session as each request checks it.
#[derive(Debug)]
pub struct KnownSession {
    pub user_id: i64,
    pub token_version: i32,
    pub created_at: i64,
    /// When it was last used, in seconds since the epoch; noted in the database at most once
    /// a minute.
    pub last_seen: AtomicI64,
    /// Its CSRF token, once a page has needed it (an HMAC of the secret: kept, not redone).
    pub csrf: OnceLock<String>,
}

pub struct HotFacts {
    pub certificates: summaries::SummaryCache,
    pub held: held::HeldStatements,
    users: Cache<i64, KnownUser>,
    /// By the SHA-256 of the session's secret; a session ended here is forgotten at once, and
    /// one read while a session ended is not kept ([`Forgetting`]).
    sessions: Cache<String, Arc<KnownSession>>,
    sessions_forgetting: Forgetting,
    hosted: Cache<String, bool>,
    mras: Cache<CompactString, Option<Arc<Mra>>>,
    peers: Cache<CompactString, Option<Arc<Peer>>>,
    /// By administration: the issuers its border officers may ask about.
    issuers: Cache<CompactString, Arc<Vec<Issuer>>>,
}

/// An administration a border officer may ask about: hosted here (with its name) or on another
/// node (known by its code only).
#[derive(Debug, Clone)]
pub struct Issuer {
    pub code: String,
    pub name: String,
}

impl HotFacts {
    /// With room for about `summary_cache_bytes` of certificate summaries and
    /// `statement_cache_bytes` of the statements signed of them.
    pub fn new(summary_cache_bytes: u64, statement_cache_bytes: u64) -> Self {
        HotFacts {
            certificates: summaries::SummaryCache::new(summary_cache_bytes, statement_cache_bytes),
            held: held::HeldStatements::default(),
            users: Cache::builder().max_capacity(100_000).time_to_live(TIME_TO_LIVE).build(),
            sessions: Cache::builder().max_capacity(100_000).time_to_live(TIME_TO_LIVE).build(),
            sessions_forgetting: Forgetting::default(),
            hosted: Cache::builder().max_capacity(10_000).time_to_live(TIME_TO_LIVE).build(),
            mras: Cache::builder().max_capacity(100_000).time_to_live(TIME_TO_LIVE).build(),
            peers: Cache::builder().max_capacity(10_000).time_to_live(TIME_TO_LIVE).build(),
            issuers: Cache::builder().max_capacity(10_000).time_to_live(TIME_TO_LIVE).build(),
        }
    }

    /// The user with this id, if any; a stored row that cannot be read is an error.
    pub async fn user(&self, conn: &impl ConnectionTrait, id: i64) -> crate::store::StoreResult<Option<KnownUser>> {
        if let Some(known) = self.users.get(&id) {
            return Ok(Some(known));
        }
        let Some(user) = users::find(conn, id).await? else { return Ok(None) };
        let (token_version, disabled) = (user.token_version, user.disabled);
        let known = KnownUser { caller: Arc::new(crate::auth::caller_of(user)?), token_version, disabled };
        self.users.insert(id, known.clone());
        Ok(Some(known))
    }

    pub fn forget_user(&self, id: i64) {
        self.users.invalidate(&id);
    }

    /// The web page session whose secret hashes to `id`, if it is stored.
    pub async fn session(
        &self,
        conn: &impl ConnectionTrait,
        id: &str,
    ) -> crate::store::StoreResult<Option<Arc<KnownSession>>> {
        if let Some(known) = self.sessions.get(id) {
            return Ok(Some(known));
        }
        let before = self.sessions_forgetting.now();
        let Some(stored) = sessions::find(conn, id).await? else { return Ok(None) };
        let known = Arc::new(KnownSession {
            user_id: stored.user_id,
            token_version: stored.token_version,
            created_at: stored.created_at.timestamp(),
            last_seen: AtomicI64::new(stored.last_seen_at.timestamp()),
            csrf: OnceLock::new(),
        });
        if self.sessions_forgetting.unmoved_since(before) {
            self.sessions.insert(id.to_owned(), known.clone());
        }
        Ok(Some(known))
    }

    pub fn forget_session(&self, id: &str) {
        self.sessions_forgetting.move_on();
        self.sessions.invalidate(id);
    }

    /// Whether the administration is hosted on this node.
    pub async fn is_hosted(&self, conn: &impl ConnectionTrait, code: &str) -> crate::store::StoreResult<bool> {
        if let Some(hosted) = self.hosted.get(code) {
            return Ok(hosted);
        }
        let hosted = administrations::find(conn, code).await?.is_some();
        self.hosted.insert(code.to_owned(), hosted);
        Ok(hosted)
    }

    pub fn forget_hosted(&self, code: &str) {
        self.hosted.invalidate(code);
        // Every administration may ask about one hosted here.
        self.issuers.invalidate_all();
    }

    /// The issuers an officer of `administration` may ask about: every administration hosted
    /// here, and every partner it has an arrangement record with, by code.
    pub async fn issuers(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
    ) -> crate::store::StoreResult<Arc<Vec<Issuer>>> {
        if let Some(issuers) = self.issuers.get(administration) {
            return Ok(issuers);
        }
        let mut issuers: Vec<Issuer> = administrations::list(conn)
            .await?
            .into_iter()
            .map(|hosted| Issuer { code: hosted.code, name: hosted.name })
            .collect();
        for mra in mras::list(conn, administration).await? {
            if !issuers.iter().any(|issuer| issuer.code == mra.partner) {
                // Hosted elsewhere: its code says it (an arrangement's title is no name).
                issuers.push(Issuer { code: mra.partner, name: String::new() });
            }
        }
        issuers.sort_by(|a, b| a.code.cmp(&b.code));
        let issuers = Arc::new(issuers);
        self.issuers.insert(administration.into(), issuers.clone());
        Ok(issuers)
    }

    /// `administration`'s record of its arrangement with `partner`.
    pub async fn mra(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        partner: &str,
    ) -> crate::store::StoreResult<Option<Arc<Mra>>> {
        let key = pair(administration, partner);
        if let Some(mra) = self.mras.get(&key) {
            return Ok(mra);
        }
        let mra = mras::find(conn, administration, partner).await?.map(Arc::new);
        self.mras.insert(key, mra.clone());
        Ok(mra)
    }

    pub fn forget_mra(&self, administration: &str, partner: &str) {
        self.mras.invalidate(&pair(administration, partner));
        self.issuers.invalidate(administration);
    }

    /// `administration`'s registration of the peer `peer` (its pinned keys and base URL).
    pub async fn peer(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        peer: &str,
    ) -> crate::store::StoreResult<Option<Arc<Peer>>> {
        let key = pair(administration, peer);
        if let Some(found) = self.peers.get(&key) {
            return Ok(found);
        }
        let found = peers::find(conn, administration, peer).await?.map(Arc::new);
        self.peers.insert(key, found.clone());
        Ok(found)
    }

    pub fn forget_peer(&self, administration: &str, peer: &str) {
        self.peers.invalidate(&pair(administration, peer));
    }

    /// Starts following every hosted administration's certificates.
    pub async fn load(&self, conn: &impl ConnectionTrait) -> crate::store::StoreResult<()> {
        let started = std::time::Instant::now();
        for administration in administrations::list(conn).await? {
            self.certificates.follow(conn, &administration.code).await?;
        }
        let (held, elapsed_ms) = (self.certificates.len(), started.elapsed().as_millis());
        tracing::info!(held, elapsed_ms, "certificate summaries cached");
        Ok(())
    }

    /// Catches up with writes made by other processes sharing the database: every hosted
    /// administration's certificate changes, and every followed issuer's mirror.
    pub async fn follow(&self, conn: &impl ConnectionTrait) -> crate::store::StoreResult<()> {
        for administration in administrations::list(conn).await? {
            self.certificates.catch_up(conn, &administration.code).await?;
        }
        self.held.refresh(conn).await
    }

    /// Forgets the small facts, e.g. after loading data behind the API's back.
    pub fn forget_all(&self) {
        self.users.invalidate_all();
        self.sessions_forgetting.move_on();
        self.sessions.invalidate_all();
        self.hosted.invalidate_all();
        self.mras.invalidate_all();
        self.peers.invalidate_all();
        self.issuers.invalidate_all();
    }
}

/// Every second, the summaries and held statements catch up with what other processes sharing
/// the database wrote; a round that completes is what lets this process answer from memory
/// (`store::timed::HEARD_WITHIN`).
pub async fn follow_other_processes(app: crate::AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        let began = chrono::Utc::now().timestamp_millis();
        match app.hot.follow(&app.store.db).await {
            // What was committed before the round began is held now.
            Ok(()) => app.store.health.heard(began),
            Err(error) => tracing::warn!(%error, "cannot catch up with the database"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{Backend, TestStore};

    #[tokio::test]
    async fn forgetting_every_fact_forgets_the_issuers_a_border_page_offers() {
        let test = TestStore::new(Backend::Sqlite).await;
        let db = &test.store.db;
        let hot = HotFacts::new(1 << 20, 1 << 20);
        let codes = async || -> Vec<String> {
            hot.issuers(db, "PE").await.expect("issuers").iter().map(|issuer| issuer.code.clone()).collect()
        };
        assert!(codes().await.is_empty());
        // Written behind the caches' back, as the demo loader does before it forgets everything.
        let chile = administrations::Administration {
            code: "CL".into(),
            name: "Aduana de Chile".into(),
            country: "CL".into(),
            programme: "OEA".into(),
        };
        administrations::insert(db, &chile).await.expect("insert");
        hot.forget_all();
        assert_eq!(codes().await, ["CL"]);
    }
}
