//! Pushes the outbox to peers: each peer gets its changes in `seq` order, in batches; a failed
//! batch is retried with exponential backoff and jitter until it is delivered.

use std::time::Duration;

use reqwest::Method;
use tokio::sync::watch;

use super::feed::sign_changes;
use super::keys;
use super::protocol::EventsRequest;
use super::remote::call_peer;
use crate::app::AppState;
use crate::service::Work;
use crate::store::{certificates, outbox, peers};

const BATCH: usize = 100;
const IDLE_POLL: Duration = Duration::from_millis(500);

pub async fn run(app: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = deliver_due(&app).await {
            tracing::error!(%error, "outbox delivery failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = app.federation.outbox_ready.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// Delivers every due item once; returns when each peer has had its chance.
pub async fn deliver_due(app: &AppState) -> anyhow::Result<()> {
    let due = outbox::due(&app.store.db, 1000).await?;
    let mut groups: Vec<((String, String), Vec<entity::outbox::Model>)> = Vec::new();
    for item in due {
        let key = (item.administration.clone(), item.peer.clone());
        match groups.last_mut() {
            Some((last, items)) if *last == key => items.push(item),
            _ => groups.push((key, vec![item])),
        }
    }
    for ((administration, peer), items) in groups {
        let Some(registration) = peers::find(&app.store.db, &administration, &peer).await? else {
            let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
            let work = Work::begin_when_free(app).await?;
            outbox::delivered(&*work, &ids).await?;
            work.commit().await?;
            continue;
        };
        for chunk in items.chunks(BATCH) {
            let ids: Vec<i64> = chunk.iter().map(|i| i.id).collect();
            let seqs: Vec<i64> = chunk.iter().map(|i| i.seq).collect();
            let changes = certificates::changes_at(&app.store.db, &administration, &seqs).await?;
            let statements = sign_changes(app, &administration, changes).await?;
            let key = app.federation.keyring.active(&app.store.db, &administration).await?;
            let ttl = app.settings.statement_ttl_secs();
            let next_keys = keys::signed_announcement(&app.store.db, &administration, &key, ttl).await?;
            let body = serde_json::to_value(EventsRequest { items: statements, next_keys })?;
            let result = call_peer(app, &registration, Method::POST, "/events", Some(&body)).await;
            let work = Work::begin_when_free(app).await?;
            match result {
                Ok((status, _)) if status.is_success() => {
                    outbox::delivered(&*work, &ids).await?;
                    work.commit().await?;
                }
                other => {
                    let attempts = chunk.iter().map(|i| i.attempts).max().unwrap_or(0);
                    let next = outbox::postpone(&*work, &ids, attempts).await?;
                    work.commit().await?;
                    tracing::info!(%administration, %peer, ?other, %next, "push postponed");
                    break; // Keep this peer's changes in order: the rest waits too.
                }
            }
        }
    }
    Ok(())
}
