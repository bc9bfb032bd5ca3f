//! Short-lived in-memory copies of small, hot facts that rarely change: who a token's user is,
//! which administrations this node hosts, and MRA records. The border question reads them on
//! every request, and peer registrations, which every federation call reads. A write on this
//! node forgets the copy at once; the time-to-live bounds how
//! long another node sharing the same database may answer from an older copy.

use std::time::Duration;

use moka::sync::Cache;
use sea_orm::{ConnectionTrait, DbErr};

use crate::auth::Caller;
use crate::store::mras::Mra;
use crate::store::peers::Peer;
use crate::store::{administrations, mras, peers, users};

pub const TIME_TO_LIVE: Duration = Duration::from_secs(10);

/// A user as token checks need it.
#[derive(Debug, Clone)]
pub struct KnownUser {
    pub caller: Caller,
    pub token_version: i32,
    pub disabled: bool,
}

pub struct HotFacts {
    users: Cache<i64, KnownUser>,
    hosted: Cache<String, bool>,
    mras: Cache<(String, String), Option<Mra>>,
    peers: Cache<(String, String), Option<Peer>>,
}

impl Default for HotFacts {
    fn default() -> Self {
        HotFacts {
            users: Cache::builder().max_capacity(100_000).time_to_live(TIME_TO_LIVE).build(),
            hosted: Cache::builder().max_capacity(10_000).time_to_live(TIME_TO_LIVE).build(),
            mras: Cache::builder().max_capacity(100_000).time_to_live(TIME_TO_LIVE).build(),
            peers: Cache::builder().max_capacity(10_000).time_to_live(TIME_TO_LIVE).build(),
        }
    }
}

impl HotFacts {
    /// The user with this id, if any; a stored row that cannot be read is an error.
    pub async fn user(
        &self,
        conn: &impl ConnectionTrait,
        id: i64,
    ) -> Result<Option<KnownUser>, crate::error::ApiError> {
        if let Some(known) = self.users.get(&id) {
            return Ok(Some(known));
        }
        let Some(user) = users::find(conn, id).await? else { return Ok(None) };
        let (token_version, disabled) = (user.token_version, user.disabled);
        let known = KnownUser { caller: crate::auth::caller_of(user)?, token_version, disabled };
        self.users.insert(id, known.clone());
        Ok(Some(known))
    }

    pub fn forget_user(&self, id: i64) {
        self.users.invalidate(&id);
    }

    /// Whether the administration is hosted on this node.
    pub async fn is_hosted(&self, conn: &impl ConnectionTrait, code: &str) -> Result<bool, DbErr> {
        if let Some(hosted) = self.hosted.get(code) {
            return Ok(hosted);
        }
        let hosted = administrations::find(conn, code).await?.is_some();
        self.hosted.insert(code.to_owned(), hosted);
        Ok(hosted)
    }

    pub fn forget_hosted(&self, code: &str) {
        self.hosted.invalidate(code);
    }

    /// `administration`'s record of its arrangement with `partner`.
    pub async fn mra(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        partner: &str,
    ) -> Result<Option<Mra>, DbErr> {
        let key = (administration.to_owned(), partner.to_owned());
        if let Some(mra) = self.mras.get(&key) {
            return Ok(mra);
        }
        let mra = mras::find(conn, administration, partner).await?;
        self.mras.insert(key, mra.clone());
        Ok(mra)
    }

    pub fn forget_mra(&self, administration: &str, partner: &str) {
        self.mras.invalidate(&(administration.to_owned(), partner.to_owned()));
    }

    /// `administration`'s registration of the peer `peer` (its pinned keys and base URL).
    pub async fn peer(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        peer: &str,
    ) -> Result<Option<Peer>, DbErr> {
        let key = (administration.to_owned(), peer.to_owned());
        if let Some(found) = self.peers.get(&key) {
            return Ok(found);
        }
        let found = peers::find(conn, administration, peer).await?;
        self.peers.insert(key, found.clone());
        Ok(found)
    }

    pub fn forget_peer(&self, administration: &str, peer: &str) {
        self.peers.invalidate(&(administration.to_owned(), peer.to_owned()));
    }

    /// Forgets everything, e.g. after loading data behind the API's back.
    pub fn forget_all(&self) {
        self.users.invalidate_all();
        self.hosted.invalidate_all();
        self.mras.invalidate_all();
        self.peers.invalidate_all();
    }
}
