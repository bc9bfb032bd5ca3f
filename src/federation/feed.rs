//! The change feed between nodes: each change of an issuer as a statement of the certificate
//! as it stood, signed when sent; and applying verified changes to the mirror in `seq` order.

use serde::{Deserialize, Serialize};

use super::jose::{self, CertificateState};
use crate::app::AppState;
use crate::error::ApiResult;
use crate::store::mirror;

#[derive(Debug, Serialize, Deserialize)]
pub struct ChangeItem {
    pub seq: i64,
    pub statement: String,
}

/// Statements for stored changes (seq, snapshot), signed now by the administration's key.
pub async fn sign_changes(app: &AppState, code: &str, rows: Vec<(i64, String)>) -> anyhow::Result<Vec<ChangeItem>> {
    let key = app.federation.keyring.active(&app.store.db, code).await?;
    rows.into_iter()
        .map(|(seq, snapshot)| {
            let state: CertificateState = serde_json::from_str(&snapshot)?;
            Ok(ChangeItem {
                seq,
                statement: jose::sign_statement(&key, &state, seq, app.settings.statement_ttl_secs())?,
            })
        })
        .collect()
}

/// Applies verified changes of `issuer` in `seq` order and advances the synced position over
/// every contiguous one; a gap wakes the sync worker to pull what is missing.
pub async fn apply_changes(
    app: &AppState,
    issuer: &str,
    verified: &[(&ChangeItem, jose::StatementClaims)],
) -> ApiResult<i64> {
    let txn = app.store.write().await?;
    let mut synced = mirror::lock_state(&*txn, issuer).await?.synced_seq;
    let mut gap = false;
    let mut kept = Vec::new();
    for (item, claims) in verified {
        if mirror::apply(&*txn, &item.statement, claims, "feed").await? {
            kept.push(mirror::Held::new(claims.clone(), "feed"));
        }
        if item.seq == synced + 1 {
            synced = item.seq;
        } else if item.seq > synced {
            gap = true;
        }
    }
    mirror::set_synced(&*txn, issuer, synced).await?;
    app.hot.held.syncing(issuer, synced);
    txn.commit().await?;
    kept.into_iter().for_each(|held| app.hot.held.applied(held));
    app.hot.held.advanced(issuer, &mirror::State { synced_seq: synced, ..Default::default() });
    if gap {
        app.federation.sync_needed.notify_one();
    }
    Ok(synced)
}
