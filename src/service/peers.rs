//! Peer registries and this administration's own signing keys. A peer's keys are pinned when
//! it is registered (fetched once, or given inline) and shown with RFC 7638 thumbprints to be
//! compared out of band; a later change of keys waits for an administrator's consent.

use std::collections::BTreeSet;

use aeo_domain::AdministrationCode;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::JwkSet;
use reqwest::Method;
use serde_json::{Value, json};

use super::{After, ServiceError, ServiceResult, Work};
use crate::app::App;
use crate::federation::jose::{self, ed25519_keys};
use crate::federation::keys::{self, KeyInfo, thumbprint};
use crate::store::mirror::{self, Followed, State};
use crate::store::outbox;
use crate::store::peers::{self, KeyAnnouncement, Peer};

/// A registration with the health of the exchange with the peer.
pub struct PeerStatus {
    pub peer: Peer,
    /// Changes not yet delivered to the peer.
    pub backlog: u64,
    /// How far the administration's mirror of the peer's certificates has been brought.
    pub mirror: State,
}

pub fn thumbprints(set: &JwkSet) -> BTreeSet<String> {
    ed25519_keys(set).map(thumbprint).collect()
}

async fn status(app: &App, peer: Peer) -> ServiceResult<PeerStatus> {
    let backlog = outbox::backlog(&app.store.db, &peer.administration, &peer.peer).await?;
    let mirror = mirror::state(&app.store.db, Followed::new(&peer.administration, &peer.peer)).await?;
    Ok(PeerStatus { peer, backlog, mirror })
}

pub async fn list(app: &App, administration: &str) -> ServiceResult<Vec<PeerStatus>> {
    let mut out = Vec::new();
    for peer in peers::list(&app.store.db, administration).await? {
        out.push(status(app, peer).await?);
    }
    Ok(out)
}

pub async fn find(app: &App, administration: &str, raw_peer: &str) -> ServiceResult<PeerStatus> {
    let peer = AdministrationCode::parse(raw_peer).map_err(|message| ServiceError::field("peer", message))?;
    let found = peers::find(&app.store.db, administration, peer.as_str()).await?.ok_or(ServiceError::NotFound)?;
    status(app, found).await
}

/// Only Ed25519 keys with a `kid` are kept; a set without any is refused.
fn usable(set: JwkSet, field: &str) -> ServiceResult<JwkSet> {
    let keys: Vec<_> = ed25519_keys(&set).cloned().collect();
    if keys.is_empty() {
        return Err(ServiceError::field(field, "holds no Ed25519 key with a kid"));
    }
    Ok(JwkSet { keys })
}

/// The peer's published keys. Every way this can fail answers alike: the administrator learns
/// that no key set came back, not whether a port was closed, filtered or spoke something else.
async fn fetch_keys(app: &App, base_url: &str, peer: &str) -> ServiceResult<JwkSet> {
    let url = format!("{base_url}/federation/v1/administrations/{peer}/jwks.json");
    let no_keys = || ServiceError::Upstream(format!("no key set could be fetched from {url}"));
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
async fn base_url(app: &App, raw: &str) -> ServiceResult<String> {
    let invalid = |message: &str| ServiceError::field("base_url", message.to_owned());
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

fn peer_code(administration: &AdministrationCode, raw: &str) -> ServiceResult<AdministrationCode> {
    let code = AdministrationCode::parse(raw).map_err(|message| ServiceError::field("peer", message))?;
    if &code == administration {
        return Err(ServiceError::field("peer", "an administration is not its own peer"));
    }
    Ok(code)
}

/// Registers (or updates) `administration`'s peer `raw_peer` at `base_url`, pinning `jwks` when
/// given (the administrator's consent), else the keys fetched from it; a re-registration whose
/// fetched keys differ keeps the pinned ones and holds the new ones pending. Says whether the
/// registration is new.
pub async fn register(
    app: &App,
    administration: &AdministrationCode,
    actor: &str,
    raw_peer: &str,
    base_url_given: Option<&str>,
    jwks: Option<Value>,
) -> ServiceResult<(PeerStatus, bool)> {
    let peer = peer_code(administration, raw_peer)?;
    let administration = administration.as_str();
    // An administration hosted here is answered from this node's own records; a registration
    // under its code (with keys of the registrant's choosing) could only ever mislead.
    if app.hot.is_hosted(&app.store.db, peer.as_str()).await? {
        return Err(ServiceError::field(
            "peer",
            "is hosted on this node: its certificates are answered here, unregistered",
        ));
    }
    let base = base_url(app, base_url_given.ok_or_else(|| ServiceError::field("base_url", "is required"))?).await?;
    let given = match jwks {
        Some(value) => Some(usable(
            serde_json::from_value(value).map_err(|_| ServiceError::field("jwks", "must be a JWK Set"))?,
            "jwks",
        )?),
        None => None,
    };
    let existing = peers::find(&app.store.db, administration, peer.as_str()).await?;
    let (keys, pending) = match (given, &existing) {
        // Keys given by the administrator are their consent.
        (Some(keys), _) => (keys, None),
        (None, Some(current)) => {
            let fetched = fetch_keys(app, &base, peer.as_str()).await?;
            if thumbprints(&fetched) == thumbprints(&current.jwks) {
                (current.jwks.clone(), None)
            } else {
                (current.jwks.clone(), Some(fetched))
            }
        }
        (None, None) => (fetch_keys(app, &base, peer.as_str()).await?, None),
    };
    let rekeyed = existing.as_ref().is_some_and(|current| thumbprints(&current.jwks) != thumbprints(&keys));
    let mut work = Work::begin(app).await?;
    let created = peers::upsert(&*work, administration, peer.as_str(), &base, &keys).await?;
    if rekeyed {
        forget_mirror_in(&mut work, administration, peer.as_str()).await?;
    }
    if let Some(pending) = &pending {
        let id = peers::find(&*work, administration, peer.as_str()).await?.map(|p| p.id).unwrap_or_default();
        peers::set_pending(&*work, id, Some(pending)).await?;
    }
    let action = if created { "peer.registered" } else { "peer.updated" };
    let details =
        json!({"base_url": base, "keys": thumbprints(&keys), "pending_keys": pending.as_ref().map(thumbprints)});
    work.audit(Some(administration), actor, action, format!("peers/{peer}"), details);
    work.then(After::Peer { administration: administration.to_owned(), peer: peer.as_str().to_owned() });
    work.commit().await?;
    Ok((find(app, administration, peer.as_str()).await?, created))
}

/// What the old keys verified is not what the administrator now trusts: it is pulled again.
async fn forget_mirror_in(work: &mut Work<'_>, administration: &str, peer: &str) -> ServiceResult<()> {
    mirror::forget(&**work, Followed::new(administration, peer)).await?;
    work.then(After::MirrorForgotten { administration: administration.to_owned(), issuer: peer.to_owned() });
    Ok(())
}

/// Accepts the keys a re-fetch found, the new ones given exactly by their thumbprints: the
/// fetched set replaces the pinned one.
pub async fn accept_keys(
    app: &App,
    administration: &str,
    actor: &str,
    raw_peer: &str,
    consent: &[String],
) -> ServiceResult<PeerStatus> {
    let peer = AdministrationCode::parse(raw_peer).map_err(|message| ServiceError::field("peer", message))?;
    let mut work = Work::begin(app).await?;
    let found = peers::find(&*work, administration, peer.as_str()).await?.ok_or(ServiceError::NotFound)?;
    let pending =
        found.pending_jwks.clone().ok_or_else(|| ServiceError::Conflict("no key change is pending".into()))?;
    let new: BTreeSet<String> = thumbprints(&pending).difference(&thumbprints(&found.jwks)).cloned().collect();
    if consent.iter().cloned().collect::<BTreeSet<_>>() != new {
        return Err(ServiceError::field(
            "thumbprints",
            "must list exactly the thumbprints of the pending keys not pinned yet",
        ));
    }
    peers::upsert(&*work, administration, peer.as_str(), &found.base_url, &pending).await?;
    forget_mirror_in(&mut work, administration, peer.as_str()).await?;
    let details = json!({"keys": thumbprints(&pending)});
    work.audit(Some(administration), actor, "peer.keys_accepted", format!("peers/{peer}"), details);
    // What the peer signed with its new keys can be followed now.
    work.then(After::Peer { administration: administration.to_owned(), peer: peer.as_str().to_owned() });
    work.commit().await?;
    find(app, administration, peer.as_str()).await
}

/// More next keys than a rotation makes are not taken from anyone.
const MAX_ANNOUNCED_KEYS: usize = 4;
/// Nor are keys pinned by announcement beyond this many in all: a peer announcing key after key
/// would otherwise grow what every verification of its signatures looks through.
const MAX_PINNED_KEYS: usize = 8;

/// Pins the next keys `registration`'s peer announced in `token`, signed by a key pinned for it:
/// they verify what it signs once they take over, with no gap and no new comparison out of band.
/// The change is shown in the peer's view and recorded in the audit log. An announcement that
/// is refused (it does not verify, or holds too many keys) changes nothing: `Ok(Err(why))`.
pub async fn pin_announced_keys(app: &App, registration: &Peer, token: &str) -> ServiceResult<Result<(), String>> {
    let claims = match jose::verify_keys(token, &registration.peer, &registration.jwks) {
        Ok(claims) => claims,
        Err(error) => return Ok(Err(format!("the announcement of the next keys did not verify: {error}"))),
    };
    let announced: Vec<_> = ed25519_keys(&claims.keys).cloned().collect();
    if announced.is_empty() || announced.len() > MAX_ANNOUNCED_KEYS {
        return Ok(Err(format!("an announcement must hold from 1 to {MAX_ANNOUNCED_KEYS} Ed25519 keys with a kid")));
    }
    let announcement = KeyAnnouncement {
        thumbprints: announced.iter().map(thumbprint).collect(),
        signs_from: DateTime::from_timestamp(claims.signs_from, 0).unwrap_or_default(),
    };
    let pinned = thumbprints(&registration.jwks);
    let new: Vec<_> = announced.into_iter().filter(|jwk| !pinned.contains(&thumbprint(jwk))).collect();
    if new.is_empty() && registration.key_announcement.as_ref() == Some(&announcement) {
        return Ok(Ok(()));
    }
    if pinned.len() + new.len() > MAX_PINNED_KEYS {
        return Ok(Err(format!("announced keys would make more than {MAX_PINNED_KEYS} keys pinned")));
    }
    let mut keys = registration.jwks.clone();
    keys.keys.extend(new);
    let (administration, peer) = (registration.administration.as_str(), registration.peer.as_str());
    let mut work = Work::begin(app).await?;
    peers::pin_announced(&*work, registration.id, &keys, &announcement).await?;
    let details = json!({"keys": announcement.thumbprints, "signs_from": announcement.signs_from});
    work.audit(Some(administration), "system", "peer.keys_announced", format!("peers/{peer}"), details);
    work.then(After::Peer { administration: administration.to_owned(), peer: peer.to_owned() });
    work.commit().await?;
    tracing::info!(%peer, by = administration, signs_from = %announcement.signs_from, "pinned a peer's announced keys");
    Ok(Ok(()))
}

/// This administration's signing keys (public facts only).
pub async fn signing_keys(app: &App, administration: &str) -> ServiceResult<Vec<KeyInfo>> {
    Ok(keys::list(&app.store.db, administration).await?)
}

/// Makes the next signing key and announces it: it signs once partners have had
/// `key_announce_secs` to learn it from the current key, which signs until then and stays
/// published until what it signed has expired.
pub async fn rotate_key(app: &App, administration: &str, actor: &str) -> ServiceResult<Vec<KeyInfo>> {
    // At most `MAX_KEY_ANNOUNCE_SECS`: the settings refuse more.
    let signs_from = Utc::now() + Duration::seconds(i64::try_from(app.settings.key_announce_secs).unwrap_or(0));
    let publish_old_until = signs_from + Duration::seconds(app.settings.statement_ttl_secs() + 120);
    let mut work = Work::begin(app).await?;
    let kid = app.federation.keyring.announce(&*work, administration, signs_from, publish_old_until).await?.map_err(
        |pending| ServiceError::Conflict(format!("a key change is announced already: its key signs from {pending}")),
    )?;
    let details = json!({"kid": kid, "signs_from": signs_from});
    work.audit(Some(administration), actor, "key.rotated", "keys", details);
    work.then(After::Keys(administration.to_owned()));
    work.commit().await?;
    signing_keys(app, administration).await
}
