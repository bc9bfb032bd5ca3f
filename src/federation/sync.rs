//! Following peers: keeps each hosted administration's mirror of every issuer it registered
//! fresh, and pulls every change that mirror lacks, at start-up (catching up after downtime),
//! periodically, and as soon as a pushed batch shows a gap. Each registration is followed on its
//! own, with its own pinned keys, into its own mirror.

use std::time::Duration;

use reqwest::Method;
use tokio::sync::watch;

use super::client::{CallError, read};
use super::feed::{FeedError, apply_changes};
use super::jose;
use super::protocol::{ChangesAnswer, CheckpointAnswer};
use super::remote::{answer_refused, call_peer};
use crate::app::AppState;
use crate::service::{After, Work};
use crate::store::mirror::{self, Followed};
use crate::store::peers;
use crate::store::peers::Peer;

/// Pages of a feed pulled from one peer in one round: a peer whose checkpoint claims more than
/// this (honestly, after a long absence, or to keep the worker busy) is taken up again in the
/// next round, after every other registration had its turn.
const PAGES_PER_ROUND: usize = 20;
/// Rounds start at least this far apart, however often a push asks for one.
const ROUNDS_APART: Duration = Duration::from_secs(1);

pub async fn run(app: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs((app.settings.statement_ttl / 3).clamp(1, 60));
    loop {
        let began = tokio::time::Instant::now();
        follow_all(&app).await;
        let wait = next_refresh(&app).await.map_or(every, |due| due.min(every));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.federation.sync_needed.notified() => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep_until(began + ROUNDS_APART) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How long until the first held checkpoint that is still current reaches two thirds of its
/// life: an issuer's checkpoints may live shorter than this node's own statements, and the mirror
/// should stay current while the issuer is up. At least a second.
async fn next_refresh(app: &AppState) -> Option<Duration> {
    let states = mirror::states(&app.store.db).await.ok()?;
    let now = chrono::Utc::now();
    states
        .iter()
        .filter_map(|(_, state)| {
            let (iat, exp) = (state.checkpoint_iat?, state.checkpoint_exp?);
            let due = iat + (exp - iat) * 2 / 3;
            (exp > now).then(|| (due - now).to_std().unwrap_or(Duration::ZERO))
        })
        .min()
        .map(|due| due.max(Duration::from_secs(1)))
}

/// One round over every registration of a peer hosted elsewhere.
pub async fn follow_all(app: &AppState) {
    let registrations = match peers::all(&app.store.db).await {
        Ok(all) => all,
        Err(error) => {
            tracing::error!(%error, "cannot list peers");
            return;
        }
    };
    for registration in registrations {
        if matches!(app.hot.is_hosted(&app.store.db, &registration.peer).await, Ok(true)) {
            continue; // Hosted here: nothing to mirror.
        }
        if let Err(error) = follow(app, &registration).await {
            tracing::debug!(issuer = %registration.peer, by = %registration.administration, %error, "could not follow");
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("invalid answer: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<FeedError> for FollowError {
    fn from(error: FeedError) -> Self {
        FollowError::Invalid(error.to_string())
    }
}

/// Pins the next keys a peer announced; one that does not verify is noted, and the rest goes on.
pub async fn learn_next_keys(app: &AppState, registration: &Peer, path: &str, announcement: &str) {
    match crate::service::peers::pin_announced_keys(app, registration, announcement).await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => answer_refused(app, registration, path, &CallError::Unverified(why)),
        Err(error) => tracing::warn!(peer = %registration.peer, %error, "could not pin a peer's announced keys"),
    }
}

/// A signature of the peer's that did not verify: noted for the administration that follows it.
fn unverified(app: &AppState, registration: &Peer, path: &str, error: impl std::fmt::Display) -> FollowError {
    let error = CallError::Unverified(error.to_string());
    answer_refused(app, registration, path, &error);
    FollowError::Call(error)
}

async fn follow(app: &AppState, registration: &Peer) -> Result<(), FollowError> {
    let followed = Followed::new(&registration.administration, &registration.peer);
    let issuer = registration.peer.as_str();
    let (_, body) = call_peer(app, registration, Method::GET, "/checkpoint", None).await?;
    let CheckpointAnswer { checkpoint: token, next_keys } = read(body)?;
    if let Some(announcement) = next_keys {
        learn_next_keys(app, registration, "/checkpoint", &announcement).await;
    }
    let token = token.as_str();
    let claims = jose::verify_checkpoint(token, issuer, &registration.jwks)
        .map_err(|error| unverified(app, registration, "/checkpoint", error))?;
    let checkpoint = mirror::Checkpoint {
        token,
        seq: claims.seq,
        iat: mirror::instant(claims.iat),
        until: mirror::fresh_until(claims.iat, claims.exp, app.settings.statement_ttl_secs()),
    };
    // Kept before pulling: what it vouches for may be taken while the pull catches up to it,
    // and the mirror is only current once every change up to it has been applied.
    let known = mirror::State {
        checkpoint_seq: checkpoint.seq,
        checkpoint_iat: Some(checkpoint.iat),
        checkpoint_exp: Some(checkpoint.until),
        ..Default::default()
    };
    let mut work = Work::begin_when_free(app).await?;
    mirror::set_checkpoint(&*work, followed, &checkpoint).await?;
    work.then(After::Advanced {
        administration: followed.administration.to_owned(),
        issuer: issuer.to_owned(),
        state: known,
    });
    work.commit().await?;
    for _ in 0..PAGES_PER_ROUND {
        let synced = mirror::state(&app.store.db, followed).await?.synced_seq;
        if synced >= checkpoint.seq {
            return Ok(());
        }
        let (_, page) =
            call_peer(app, registration, Method::GET, &format!("/changes?after={synced}&limit=500"), None).await?;
        let ChangesAnswer { items, .. } = read(page)?;
        if items.is_empty() {
            return Ok(());
        }
        let mut verified = Vec::with_capacity(items.len());
        for item in &items {
            let claims = jose::verify_statement(&item.statement, issuer, &registration.jwks, false)
                .map_err(|error| unverified(app, registration, "/changes", error))?;
            if claims.seq != item.seq {
                return Err(FollowError::Invalid("a change's seq differs from its statement".into()));
            }
            verified.push((item, claims));
        }
        verified.sort_by_key(|(item, _)| item.seq);
        if apply_changes(app, followed, &verified).await? == synced {
            return Err(FollowError::Invalid("the change feed does not continue the sequence".into()));
        }
    }
    // More to pull: in the next round, after the other registrations.
    app.federation.sync_needed.notify_one();
    Ok(())
}
