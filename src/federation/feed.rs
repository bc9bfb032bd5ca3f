//! The change feed between nodes: each change of an issuer as a statement of the certificate
//! as it stood, signed when sent; and applying verified changes to a follower's mirror in `seq`
//! order.

use super::jose::{self, CertificateState};
use super::protocol::ChangeItem;
use crate::app::AppState;
use crate::service::{After, Work};
use crate::store::mirror::{self, Applied, Followed, Held, Origin};
use crate::store::snapshot::Snapshot;

/// How far beyond the position a follower has verified (applied, or seen in a checkpoint) a
/// change may be and still be taken: further than that, a pushed `seq` would be taken on the
/// pusher's word. Such a change is refused; a new checkpoint is fetched and it is pulled then.
pub const MAX_AHEAD: i64 = 10_000;

/// Whether position `seq` lies further beyond `verified` than a change is taken on faith.
pub fn beyond_reach(seq: i64, verified: i64) -> bool {
    seq > verified.saturating_add(MAX_AHEAD)
}

/// Statements for stored changes (seq, snapshot), signed now by the administration's key.
pub async fn sign_changes(app: &AppState, code: &str, rows: Vec<(i64, Snapshot)>) -> anyhow::Result<Vec<ChangeItem>> {
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    rows.into_iter()
        .map(|(seq, snapshot)| {
            let state = CertificateState::from(&snapshot);
            Ok(ChangeItem {
                seq,
                statement: jose::sign_statement(&key, &state, seq, app.settings.statement_ttl_secs())?,
            })
        })
        .collect()
}

/// Why a batch of verified changes was not applied; nothing of it was.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("change {index} claims a position already verified for other facts")]
    Contradicts { index: usize },
    #[error("change {index} is far beyond the last position verified from this issuer")]
    FarAhead { index: usize },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Applies verified changes in `seq` order to the follower's mirror and advances its synced
/// position over every contiguous one; a gap wakes the sync worker to pull what is missing.
/// All or nothing: a change that contradicts the mirror, or lies far beyond what this follower
/// has verified, refuses the whole batch.
pub async fn apply_changes(
    app: &AppState,
    followed: Followed<'_>,
    verified: &[(&ChangeItem, jose::StatementClaims)],
) -> Result<i64, FeedError> {
    let mut work = Work::begin(app).await?;
    let state = mirror::lock_state(&*work, followed).await?;
    let mut synced = state.synced_seq;
    let mut gap = false;
    let mut far_ahead = None;
    for (index, (item, _)) in verified.iter().enumerate() {
        if beyond_reach(item.seq, state.verified_seq().max(synced)) {
            far_ahead = Some(index);
            break;
        }
        if item.seq == synced.saturating_add(1) {
            synced = item.seq;
        } else if item.seq > synced {
            gap = true;
        }
    }
    // What comes before the first change far ahead is applied, so that a contradiction
    // among it is reported first, as when the changes are taken one at a time.
    let held: Vec<Held> = verified[..far_ahead.unwrap_or(verified.len())]
        .iter()
        .map(|(_, claims)| Held::new(claims.clone(), Origin::Feed, app.settings.statement_ttl_secs()))
        .collect();
    let offered: Vec<mirror::Offered<'_>> =
        verified.iter().zip(&held).map(|((item, _), held)| (item.statement.as_str(), held)).collect();
    let applied = mirror::apply_all(&*work, followed, &offered).await?;
    if let Some(index) = applied.iter().position(|applied| *applied == Applied::Contradicts) {
        return Err(FeedError::Contradicts { index });
    }
    if let Some(index) = far_ahead {
        app.federation.sync_needed.notify_one();
        return Err(FeedError::FarAhead { index });
    }
    for (held, applied) in held.into_iter().zip(applied) {
        if applied == Applied::Kept {
            work.then(After::Held {
                administration: followed.administration.to_owned(),
                issuer: followed.issuer.to_owned(),
                held: Box::new(held),
            });
        }
    }
    mirror::set_synced(&*work, followed, synced).await?;
    app.hot.held.syncing(followed, synced);
    work.then(After::Advanced {
        administration: followed.administration.to_owned(),
        issuer: followed.issuer.to_owned(),
        state: mirror::State { synced_seq: synced, ..Default::default() },
    });
    if gap {
        work.then(After::Sync);
    }
    work.commit().await?;
    Ok(synced)
}
