//! The mirror's hot part in memory: the statements border officers ask about and each follow
//! state, so a held answer costs no database round trip. Keyed like the mirror itself, by the
//! administration that follows the issuer (see `store::mirror`).
//!
//! A statement is only ever replaced by a newer one (higher `seq`, or the same `seq` valid
//! longer), and a follow state only moves forward, so a lookup that read the database before a
//! write cannot undo it. This process's own mirror writes are handed over after they commit.
//! Another process sharing the database shows up as a synced position moving without this
//! process knowing; its statements are then read again.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use compact_str::CompactString;
use moka::ops::compute::Op;
use moka::sync::Cache;
use sea_orm::ConnectionTrait;

use super::Forgetting;
use crate::store::mirror::{self, Followed, Held, State};

/// Statements kept in memory; beyond this the least used are read again when asked.
const CAPACITY: u64 = 200_000;

/// A follower and an issuer as one key.
type FollowKey = (String, String);

fn follow_key(followed: Followed<'_>) -> FollowKey {
    (followed.administration.to_owned(), followed.issuer.to_owned())
}

/// The follower, the issuer and the certificate number as one key, kept inline when short.
fn statement_key(followed: Followed<'_>, number: &str) -> CompactString {
    let mut key =
        CompactString::with_capacity(followed.administration.len() + followed.issuer.len() + number.len() + 2);
    for part in [followed.administration, "/", followed.issuer, "/", number] {
        key.push_str(part);
    }
    key
}

pub struct HeldStatements {
    statements: Cache<CompactString, Arc<Held>>,
    states: RwLock<HashMap<FollowKey, State>>,
    /// Per follow, the furthest synced position this process is writing or has written: the
    /// mirror moving that far is this process's own doing, whenever its commit is seen.
    syncing: RwLock<HashMap<FollowKey, i64>>,
    /// Moves when statements are forgotten: a lookup that read the database before keeps
    /// nothing.
    forgetting: Forgetting,
}

impl Default for HeldStatements {
    fn default() -> Self {
        HeldStatements {
            statements: Cache::builder().max_capacity(CAPACITY).build(),
            states: RwLock::default(),
            syncing: RwLock::default(),
            forgetting: Forgetting::default(),
        }
    }
}

fn merge(state: &mut State, read: &State) {
    state.synced_seq = state.synced_seq.max(read.synced_seq);
    if read.checkpoint_iat > state.checkpoint_iat {
        state.checkpoint_seq = read.checkpoint_seq;
        state.checkpoint_iat = read.checkpoint_iat;
        state.checkpoint_exp = read.checkpoint_exp;
    }
}

fn newer(candidate: &Held, held: &Held) -> bool {
    (candidate.claims.seq, candidate.statement_exp) > (held.claims.seq, held.statement_exp)
}

impl HeldStatements {
    /// The statement held for a certificate of the followed issuer, if any.
    pub async fn find(
        &self,
        conn: &impl ConnectionTrait,
        followed: Followed<'_>,
        number: &str,
    ) -> crate::store::StoreResult<Option<Arc<Held>>> {
        let key = statement_key(followed, number);
        if let Some(held) = self.statements.get(&key) {
            return Ok(Some(held));
        }
        let before = self.forgetting.now();
        let Some(read) = mirror::find(conn, followed, number).await? else { return Ok(None) };
        let read = Arc::new(read);
        self.keep(key, read.clone(), Some(before));
        Ok(Some(read))
    }

    /// Takes a statement this process has just committed to the follower's mirror.
    pub fn applied(&self, followed: Followed<'_>, held: Held) {
        self.keep(statement_key(followed, &held.claims.sub), Arc::new(held), None);
    }

    fn keep(&self, key: CompactString, candidate: Arc<Held>, read_at: Option<u64>) {
        self.statements.entry(key).and_compute_with(|current| {
            if read_at.is_some_and(|before| !self.forgetting.unmoved_since(before)) {
                return Op::Nop;
            }
            match current {
                Some(entry) if !newer(&candidate, entry.value()) => Op::Nop,
                _ => Op::Put(candidate),
            }
        });
    }

    /// How far the follower has followed the issuer.
    pub async fn state(&self, conn: &impl ConnectionTrait, followed: Followed<'_>) -> crate::store::StoreResult<State> {
        if let Some(state) = self.read_states().get(&follow_key(followed)) {
            return Ok(state.clone());
        }
        let read = mirror::state(conn, followed).await?;
        Ok(self.advance(follow_key(followed), read))
    }

    /// Takes a whole follow state read from the database; keeps whichever parts of it and of
    /// what is held are further along.
    fn advance(&self, key: FollowKey, read: State) -> State {
        let mut states = self.states.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = states.entry(key).or_insert_with(|| read.clone());
        merge(state, &read);
        state.clone()
    }

    /// Takes what this process has just committed of a follow state (the synced position or a
    /// checkpoint); a state not held yet is read whole when first asked for.
    pub fn advanced(&self, followed: Followed<'_>, committed: &State) {
        let mut states = self.states.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(state) = states.get_mut(&follow_key(followed)) {
            merge(state, committed);
        }
    }

    /// Says, before committing, how far this process is moving the follower's synced position.
    pub fn syncing(&self, followed: Followed<'_>, seq: i64) {
        let mut syncing = self.syncing.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let furthest = syncing.entry(follow_key(followed)).or_default();
        *furthest = (*furthest).max(seq);
    }

    /// Forgets what is held of a follow whose mirror was just emptied (its pinned keys changed).
    pub fn forgot(&self, followed: Followed<'_>) {
        self.forgetting.move_on();
        self.statements.invalidate_all();
        let key = follow_key(followed);
        self.states.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&key);
        self.syncing.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&key);
    }

    /// Re-reads every follow state. Where another process moved a mirror, this process
    /// forgets the statements it held.
    pub async fn refresh(&self, conn: &impl ConnectionTrait) -> crate::store::StoreResult<()> {
        for (key, read) in mirror::states(conn).await? {
            let own = self.syncing.read().map_or(0, |syncing| syncing.get(&key).copied().unwrap_or(0));
            let moved = self.read_states().get(&key).is_some_and(|known| read.synced_seq > known.synced_seq.max(own));
            if moved {
                self.forgetting.move_on();
                self.statements.invalidate_all();
            }
            self.advance(key, read);
        }
        Ok(())
    }

    fn read_states(&self) -> std::sync::RwLockReadGuard<'_, HashMap<FollowKey, State>> {
        self.states.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
