//! Following peers: keeps each followed issuer's checkpoint fresh and pulls every change the
//! mirror lacks, at start-up (catching up after downtime), periodically, and as soon as a
//! pushed batch shows a gap.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use tokio::sync::watch;

use super::client::CallError;
use super::feed::{ChangeItem, apply_changes};
use super::jose;
use super::remote::call_peer;
use crate::app::AppState;
use crate::store::peers::Peer;
use crate::store::{administrations, mirror, peers};

pub async fn run(app: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs((app.settings.statement_ttl / 3).clamp(1, 60));
    loop {
        follow_all(&app).await;
        let wait = next_refresh(&app).await.map_or(every, |due| due.min(every));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.federation.sync_needed.notified() => {}
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

/// One round over every followed issuer; each is followed through the first registration that
/// works.
pub async fn follow_all(app: &AppState) {
    let registrations = match peers::all(&app.store.db).await {
        Ok(all) => all,
        Err(error) => {
            tracing::error!(%error, "cannot list peers");
            return;
        }
    };
    let mut by_issuer: BTreeMap<String, Vec<Peer>> = BTreeMap::new();
    for registration in registrations {
        by_issuer.entry(registration.peer.clone()).or_default().push(registration);
    }
    for (issuer, registrations) in by_issuer {
        if matches!(administrations::find(&app.store.db, &issuer).await, Ok(Some(_))) {
            continue; // Hosted here: nothing to mirror.
        }
        for registration in registrations {
            match follow(app, &registration).await {
                Ok(()) => break,
                Err(error) => tracing::debug!(%issuer, via = %registration.administration, %error, "could not follow"),
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("invalid answer: {0}")]
    Invalid(String),
}

async fn follow(app: &AppState, registration: &Peer) -> Result<(), FollowError> {
    let issuer = registration.peer.as_str();
    let (_, body) = call_peer(app, registration, Method::GET, "/checkpoint", None).await?;
    let token = body["checkpoint"].as_str().ok_or_else(|| FollowError::Invalid("no checkpoint".into()))?;
    let checkpoint =
        jose::verify_checkpoint(token, issuer, &registration.jwks).map_err(|e| FollowError::Invalid(e.to_string()))?;
    loop {
        let synced =
            mirror::state(&app.store.db, issuer).await.map_err(|e| FollowError::Invalid(e.to_string()))?.synced_seq;
        if synced >= checkpoint.seq {
            break;
        }
        let (_, page) =
            call_peer(app, registration, Method::GET, &format!("/changes?after={synced}&limit=500"), None).await?;
        let items: Vec<ChangeItem> =
            serde_json::from_value(page["items"].clone()).map_err(|e| FollowError::Invalid(e.to_string()))?;
        if items.is_empty() {
            break;
        }
        let mut verified = Vec::with_capacity(items.len());
        for item in &items {
            let claims = jose::verify_statement(&item.statement, issuer, &registration.jwks, false)
                .map_err(|e| FollowError::Invalid(e.to_string()))?;
            if claims.seq != item.seq {
                return Err(FollowError::Invalid("a change's seq differs from its statement".into()));
            }
            verified.push((item, claims));
        }
        verified.sort_by_key(|(item, _)| item.seq);
        let before = synced;
        let after = apply_changes(app, issuer, &verified).await.map_err(|e| FollowError::Invalid(e.to_string()))?;
        if after == before {
            return Err(FollowError::Invalid("the change feed does not continue the sequence".into()));
        }
    }
    // Through the writer slot: a write beside it makes SQLite refuse a concurrent transaction.
    async {
        let txn = app.store.write().await?;
        mirror::set_checkpoint(&*txn, issuer, token, checkpoint.seq, checkpoint.iat, checkpoint.exp).await?;
        txn.commit().await
    }
    .await
    .map_err(|e| FollowError::Invalid(e.to_string()))?;
    let followed = mirror::State {
        checkpoint_seq: checkpoint.seq,
        checkpoint_iat: Some(mirror::instant(checkpoint.iat)),
        checkpoint_exp: Some(mirror::instant(checkpoint.exp)),
        ..Default::default()
    };
    app.hot.held.advanced(issuer, &followed);
    Ok(())
}
