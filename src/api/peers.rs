//! Peer registries and this administration's own signing keys (`service::peers`), as the API
//! shows them: every pinned key with its RFC 7638 thumbprint, to be compared out of band.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery, Page, Paged};
use crate::app::AppState;
use crate::auth::{ManageAdministration, ReadAudit, Tenant};
use crate::error::{ApiResult, Problem};
use crate::federation::jose::ed25519_keys;
use crate::federation::keys::{KeyInfo, thumbprint};
use crate::service::peers::{self, PeerStatus};

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
    /// The next keys the peer announced, signed by a pinned key: pinned already, they verify what
    /// it signs from `signs_from` on.
    pub announced_keys: Option<AnnouncedKeys>,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnouncedKeys {
    /// RFC 7638 thumbprints.
    pub thumbprints: Vec<String>,
    pub signs_from: DateTime<Utc>,
}

fn view(status: PeerStatus) -> PeerView {
    let PeerStatus { peer, backlog, mirror } = status;
    PeerView {
        keys: pinned(&peer.jwks),
        pending_keys: peer.pending_jwks.as_ref().map(pinned),
        announced_keys: peer
            .key_announcement
            .map(|announced| AnnouncedKeys { thumbprints: announced.thumbprints, signs_from: announced.signs_from }),
        backlog,
        mirror_synced_seq: mirror.synced_seq,
        mirror_current_until: mirror.current_until(),
        peer: peer.peer,
        base_url: peer.base_url,
        last_success_at: peer.last_success_at,
        last_error_at: peer.last_error_at,
        last_error: peer.last_error,
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PeerRegistration {
    /// The peer node's base URL, e.g. `https://aeo.aduana.cl`.
    #[schema(required = true, value_type = String, pattern = "^https?://")]
    pub base_url: Option<String>,
    /// The peer's JWK Set; fetched from its `jwks.json` when omitted.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
}

/// Register a peer administration on another node and pin its keys.
#[utoipa::path(put, path = "/api/v1/administrations/{code}/peers/{peer}", tag = "peers", security(("bearer" = [])),
    params(("code" = String, Path), ("peer" = String, Path)), request_body = PeerRegistration,
    responses((status = 200, body = PeerView), (status = 201, body = PeerView), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn put_peer(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
    Path(path): Path<(String, String)>,
    ApiJson(input): ApiJson<PeerRegistration>,
) -> ApiResult<(StatusCode, Json<PeerView>)> {
    let (status, created) =
        peers::register(&app, &tenant.code, tenant.actor(), &path.1, input.base_url.as_deref(), input.jwks).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view(status))))
}

/// The administration's peers, with the health of the exchange with each.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/peers", tag = "peers", security(("bearer" = [])),
    params(("code" = String, Path), Page), responses((status = 200, body = Paged<PeerView>), (status = 404, body = Problem)))]
pub async fn list_peers(
    State(app): State<AppState>,
    tenant: Tenant<ReadAudit>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<PeerView>>> {
    let _slot = app.classes.reading.enter().await?;
    let out = peers::list(&app, tenant.code()).await?.into_iter().map(view).collect();
    Ok(Json(Paged::of(out, &page)?))
}

/// One peer.
#[utoipa::path(get, path = "/api/v1/administrations/{code}/peers/{peer}", tag = "peers", security(("bearer" = [])),
    params(("code" = String, Path), ("peer" = String, Path)), responses((status = 200, body = PeerView), (status = 404, body = Problem)))]
pub async fn get_peer(
    State(app): State<AppState>,
    tenant: Tenant<ReadAudit>,
    Path(path): Path<(String, String)>,
) -> ApiResult<Json<PeerView>> {
    Ok(Json(view(peers::find(&app, tenant.code(), &path.1).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct KeyConsent {
    /// The thumbprints of the pending keys that are not pinned yet, exactly, as compared out of
    /// band.
    pub thumbprints: Vec<String>,
}

/// Accept the keys a re-fetch found: they replace the pinned ones.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/peers/{peer}/keys/accept", tag = "peers", security(("bearer" = [])),
    params(("code" = String, Path), ("peer" = String, Path)), request_body = KeyConsent,
    responses((status = 200, body = PeerView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn accept_peer_keys(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
    Path(path): Path<(String, String)>,
    ApiJson(consent): ApiJson<KeyConsent>,
) -> ApiResult<Json<PeerView>> {
    Ok(Json(view(peers::accept_keys(&app, tenant.code(), tenant.actor(), &path.1, &consent.thumbprints).await?)))
}

/// This administration's signing keys (public facts only).
#[utoipa::path(get, path = "/api/v1/administrations/{code}/keys", tag = "peers", security(("bearer" = [])),
    params(("code" = String, Path), Page), responses((status = 200, body = Paged<KeyInfo>), (status = 404, body = Problem)))]
pub async fn list_keys(
    State(app): State<AppState>,
    tenant: Tenant<ReadAudit>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Paged<KeyInfo>>> {
    Ok(Json(Paged::of(peers::signing_keys(&app, tenant.code()).await?, &page)?))
}

/// Make a new signing key; the old one stays published until what it signed has expired.
#[utoipa::path(post, path = "/api/v1/administrations/{code}/keys/rotate", tag = "peers", security(("bearer" = [])),
    params(("code" = String, Path)), responses((status = 200, body = Paged<KeyInfo>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rotate_key(
    State(app): State<AppState>,
    tenant: Tenant<ManageAdministration>,
) -> ApiResult<Json<Paged<KeyInfo>>> {
    Ok(Json(Paged::new(peers::rotate_key(&app, tenant.code(), tenant.actor()).await?, None)))
}
