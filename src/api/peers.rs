//! Peer registries and this administration's own signing keys. A peer's keys are pinned when
//! it is registered (fetched once, or given inline) and shown with RFC 7638 thumbprints to be
//! compared out of band; a later change of keys waits for an administrator's consent.

use std::collections::BTreeSet;

use aeo_domain::AdministrationCode;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::JwkSet;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{ManageAdministration, ReadAudit, Tenant};
use crate::error::{ApiError, ApiResult, Problem};
use crate::federation::jose::ed25519_keys;
use crate::federation::keys::{self, KeyInfo, thumbprint};
use crate::store::mirror::{self, Followed};
use crate::store::peers::{self, Peer};
use crate::store::{audit, outbox};

#[derive(Debug, Serialize, ToSchema)]
pub struct PinnedKey {
    pub kid: String,
    /// RFC 7638 SHA-256 thumbprint, base64url: compare it with the peer out of band.
    pub thumbprint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeerView {
    pub peer: String,
    pub base_url: String,
    pub keys: Vec<PinnedKey>,
    /// Keys a re-fetch found that differ from the pinned ones: accept them to use them.
    pub pending_keys: Option<Vec<PinnedKey>>,
    /// Changes not yet delivered to the peer.
    pub backlog: u64,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// How far this node's mirror of the peer's certificates has been brought.
    pub mirror_synced_seq: i64,
    pub mirror_current_until: Option<DateTime<Utc>>,
}

fn pinned(set: &JwkSet) -> Vec<PinnedKey> {
    ed25519_keys(set)
        .map(|jwk| PinnedKey { kid: jwk.common.key_id.clone().unwrap_or_default(), thumbprint: thumbprint(jwk) })
        .collect()
}

fn thumbprints(set: &JwkSet) -> BTreeSet<String> {
    ed25519_keys(set).map(thumbprint).collect()
}

async fn view(app: &AppState, peer: Peer) -> ApiResult<PeerView> {
    let backlog = outbox::backlog(&app.store.db, &peer.administration, &peer.peer).await?;
    let state = mirror::state(&app.store.db, Followed::new(&peer.administration, &peer.peer)).await?;
    Ok(PeerView {
        keys: pinned(&peer.jwks),
        pending_keys: peer.pending_jwks.as_ref().map(pinned),
        backlog,
        mirror_synced_seq: state.synced_seq,
        mirror_current_until: state.current_until(),
        peer: peer.peer,
        base_url: peer.base_url,
        last_success_at: peer.last_success_at,
        last_error_at: peer.last_error_at,
        last_error: peer.last_error,
    })
}

/// Only Ed25519 keys with a `kid` are kept; a set without any is refused.
fn usable(set: JwkSet, field: &str) -> ApiResult<JwkSet> {
    let keys: Vec<_> = ed25519_keys(&set).cloned().collect();
    if keys.is_empty() {
        return Err(ApiError::field(field, "holds no Ed25519 key with a kid"));
    }
    Ok(JwkSet { keys })
}

/// The peer's published keys. Every way this can fail answers alike: the administrator learns
/// that no key set came back, not whether a port was closed, filtered or spoke something else.
async fn fetch_keys(app: &AppState, base_url: &str, peer: &str) -> ApiResult<JwkSet> {
    let url = format!("{base_url}/federation/v1/administrations/{peer}/jwks.json");
    let no_keys = || ApiError::Upstream(format!("no key set could be fetched from {url}"));
    let fetched = app.federation.client.call(None, Method::GET, &url, None, None).await;
    let body = match fetched {
        Ok((status, body)) if status.is_success() => body,
        Ok((status, _)) => {
            tracing::info!(%url, %status, "fetching a peer's keys failed");
            return Err(no_keys());
        }
        Err(error) => {
            tracing::info!(%url, %error, "fetching a peer's keys failed");
            return Err(no_keys());
        }
    };
    let set: JwkSet = serde_json::from_value(body).map_err(|_| no_keys())?;
    usable(set, "base_url").map_err(|_| no_keys())
}

/// A peer's base URL: absolute http(s), nothing but scheme, host, port and path, and (unless
/// the operator allows private peers) on public addresses only.
async fn base_url(app: &AppState, raw: &str) -> ApiResult<String> {
    let invalid = |message: &str| ApiError::field("base_url", message.to_owned());
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| invalid("must be an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("must be an absolute http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must have no credentials, query or fragment"));
    }
    if let Err(error) = app.federation.client.check_host(&url).await {
        tracing::info!(%url, %error, "refused a peer's base URL");
        return Err(invalid(
            "must be reachable at public addresses only (loopback, private and link-local addresses are not allowed here)",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn peer_code(tenant_code: &AdministrationCode, raw: &str) -> ApiResult<AdministrationCode> {
    let code = AdministrationCode::parse(raw).map_err(|message| ApiError::field("peer", message))?;
    if &code == tenant_code {
        return Err(ApiError::field("peer", "an administration is not its own peer"));
    }
    Ok(code)
}

#[derive(Deserialize, ToSchema)]
pub struct PeerRegistration {
    /// The peer node's base URL, e.g. `https://aeo.aduana.cl`.
    pub base_url: Option<String>,
    /// The peer's JWK Set; fetched from its `jwks.json` when omitted.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
}

/// Register a peer administration on another node and pin its keys.
#[utoipa::path(put, path = "/api/v1/administrations/{code}/peers/{peer}", tag = "federation", security(("bearer" = [])),
    params(("code" = String, Path), ("peer" = String, Path)), request_body = PeerRegistration,
    responses((status = 200, body = PeerView), (status = 201, body = PeerView), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn put_peer(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
    Path(path): Path<(String, String)>,
    ApiJson(input): ApiJson<PeerRegistration>,
) -> ApiResult<(StatusCode, Json<PeerView>)> {
    let peer = peer_code(&tenant.code, &path.1)?;
    // An administration hosted here is answered from this node's own records; a registration
    // under its code (with keys of the registrant's choosing) could only ever mislead.
    if app.hot.is_hosted(&app.store.db, peer.as_str()).await? {
        return Err(ApiError::field(
            "peer",
            "is hosted on this node: its certificates are answered here, unregistered",
        ));
    }
    let base =
        base_url(&app, input.base_url.as_deref().ok_or_else(|| ApiError::field("base_url", "is required"))?).await?;
    let given = match input.jwks {
        Some(value) => Some(usable(
            serde_json::from_value(value).map_err(|_| ApiError::field("jwks", "must be a JWK Set"))?,
            "jwks",
        )?),
        None => None,
    };
    let existing = peers::find(&app.store.db, tenant.code(), peer.as_str()).await?;
    let (keys, pending) = match (given, &existing) {
        // Keys given by the administrator are their consent.
        (Some(keys), _) => (keys, None),
        (None, Some(current)) => {
            let fetched = fetch_keys(&app, &base, peer.as_str()).await?;
            if thumbprints(&fetched) == thumbprints(&current.jwks) {
                (current.jwks.clone(), None)
            } else {
                (current.jwks.clone(), Some(fetched))
            }
        }
        (None, None) => (fetch_keys(&app, &base, peer.as_str()).await?, None),
    };
    let rekeyed = existing.as_ref().is_some_and(|current| thumbprints(&current.jwks) != thumbprints(&keys));
    let followed = Followed::new(tenant.code(), peer.as_str());
    let txn = app.store.write().await?;
    let created = peers::upsert(&txn, tenant.code(), peer.as_str(), &base, &keys).await?;
    if rekeyed {
        mirror::forget(&txn, followed).await?;
    }
    if let Some(pending) = &pending {
        let id = peers::find(&txn, tenant.code(), peer.as_str()).await?.map(|p| p.id).unwrap_or_default();
        peers::set_pending(&txn, id, Some(pending)).await?;
    }
    audit::record(
        &txn,
        Some(tenant.code()),
        tenant.actor(),
        if created { "peer.registered" } else { "peer.updated" },
        &format!("peers/{peer}"),
        json!({"base_url": base, "keys": thumbprints(&keys), "pending_keys": pending.as_ref().map(thumbprints)}),
    )
    .await?;
    txn.commit().await?;
    if rekeyed {
        app.hot.held.forgot(followed);
    }
    app.hot.forget_peer(tenant.code(), peer.as_str());
    app.federation.sync_needed.notify_one();
    let registered = peers::find(&app.store.db, tenant.code(), peer.as_str()).await?.ok_or(ApiError::NotFound)?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view(&app, registered).await?)))
}

/// The administration's peers, with the health of the exchange with each.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/peers", tag = "federation", security(("bearer" = [])),
    params(("code" = String, Path), Page), responses((status = 200, body = Paged<PeerView>), (status = 404, body = Problem)))]
pub async fn list_peers(
    State(app): State<AppState>,
    tenant: Tenant<ReadAudit>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<PeerView>>> {
    let _slot = app.classes.reading.enter().await?;
    let mut out = Vec::new();
    for peer in peers::list(&app.store.db, tenant.code()).await? {
        out.push(view(&app, peer).await?);
    }
    Ok(Json(Paged::of(out, &page)?))
}

/// One peer.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/peers/{peer}", tag = "federation", security(("bearer" = [])),
    params(("code" = String, Path), ("peer" = String, Path)), responses((status = 200, body = PeerView), (status = 404, body = Problem)))]
pub async fn get_peer(
    State(app): State<AppState>,
    tenant: Tenant<ReadAudit>,
    Path(path): Path<(String, String)>,
) -> ApiResult<Json<PeerView>> {
    let peer = AdministrationCode::parse(&path.1).map_err(|_| ApiError::NotFound)?;
    let found = peers::find(&app.store.db, tenant.code(), peer.as_str()).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(view(&app, found).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct KeyConsent {
    /// The thumbprints of the pending keys, exactly, as compared out of band.
    pub thumbprints: Vec<String>,
}

/// Accept the keys a re-fetch found: they replace the pinned ones.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/peers/{peer}/keys/accept", tag = "federation", security(("bearer" = [])),
    params(("code" = String, Path), ("peer" = String, Path)), request_body = KeyConsent,
    responses((status = 200, body = PeerView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn accept_peer_keys(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
    Path(path): Path<(String, String)>,
    ApiJson(consent): ApiJson<KeyConsent>,
) -> ApiResult<Json<PeerView>> {
    let peer = AdministrationCode::parse(&path.1).map_err(|_| ApiError::NotFound)?;
    let txn = app.store.write().await?;
    let found = peers::find(&txn, tenant.code(), peer.as_str()).await?.ok_or(ApiError::NotFound)?;
    let pending = found.pending_jwks.clone().ok_or_else(|| ApiError::Conflict("no key change is pending".into()))?;
    if consent.thumbprints.iter().cloned().collect::<BTreeSet<_>>() != thumbprints(&pending) {
        return Err(ApiError::field("thumbprints", "must list exactly the pending keys' thumbprints"));
    }
    peers::upsert(&txn, tenant.code(), peer.as_str(), &found.base_url, &pending).await?;
    // What the old keys verified is not what the administrator now trusts: pulled again.
    let followed = Followed::new(tenant.code(), peer.as_str());
    mirror::forget(&txn, followed).await?;
    audit::record(
        &txn,
        Some(tenant.code()),
        tenant.actor(),
        "peer.keys_accepted",
        &format!("peers/{peer}"),
        json!({"keys": thumbprints(&pending)}),
    )
    .await?;
    txn.commit().await?;
    app.hot.held.forgot(followed);
    app.hot.forget_peer(tenant.code(), peer.as_str());
    // What the peer signed with its new keys can be followed now.
    app.federation.sync_needed.notify_one();
    let updated = peers::find(&app.store.db, tenant.code(), peer.as_str()).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(view(&app, updated).await?))
}

/// This administration's signing keys (public facts only).
#[utoipa::path(get, path = "/api/v1/administrations/{code}/keys", tag = "federation", security(("bearer" = [])),
    params(("code" = String, Path), Page), responses((status = 200, body = Paged<KeyInfo>), (status = 404, body = Problem)))]
pub async fn list_keys(
    State(app): State<AppState>,
    tenant: Tenant<ReadAudit>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<KeyInfo>>> {
    Ok(Json(Paged::of(keys::list(&app.store.db, tenant.code()).await?, &page)?))
}

/// Make a new signing key; the old one stays published until what it signed has expired.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/keys/rotate", tag = "federation", security(("bearer" = [])),
    params(("code" = String, Path)), responses((status = 200, body = Paged<KeyInfo>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn rotate_key(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
) -> ApiResult<Json<Paged<KeyInfo>>> {
    let publish_for = Duration::seconds(app.settings.statement_ttl_secs() + 120);
    let txn = app.store.write().await?;
    let kid = app.federation.keyring.create(&txn, tenant.code(), publish_for).await?;
    audit::record(&txn, Some(tenant.code()), tenant.actor(), "key.rotated", "keys", json!({"kid": kid})).await?;
    txn.commit().await?;
    app.federation.keyring.forget(tenant.code());
    Ok(Json(Paged::new(keys::list(&app.store.db, tenant.code()).await?, None)))
}
