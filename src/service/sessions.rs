//! Web page sessions. Signing in on `/login` opens one: the browser keeps a random secret in
//! the `aeo_session` cookie, the node keeps its SHA-256 (`store::sessions`). A session ends at
//! sign-out, after `session_idle` seconds unused, 12 hours after it opened, or when its user's
//! password changes or the account is disabled. Pages and `/api/v1` alike accept it, with the
//! CSRF token bound to it for every change (`auth`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::later::Deferred;
use super::{After, ServiceResult, Work};
use crate::app::App;
use crate::cache::KnownSession;
use crate::store::sessions;
use crate::store::users::User;

/// The longest a session lasts, however busy.
pub const MAX_LIFE: Duration = Duration::hours(12);

/// How often a session's last use is written down: its idle limit is that much less exact.
const NOTED_EVERY_SECS: i64 = 60;

/// The stored name of a session: the hex SHA-256 of its secret.
fn id_of(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Opens a session for `user` (signed in already); the secret for the cookie. Sessions of
/// anyone that have ended are cleared away on the way.
pub async fn open(app: &App, user: &User) -> ServiceResult<String> {
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now = Utc::now();
    let idle = Duration::seconds(i64::try_from(app.settings.session_idle).unwrap_or(i64::MAX / 2));
    let mut work = Work::begin(app).await?;
    sessions::delete_expired(&*work, now - idle, now - MAX_LIFE).await?;
    sessions::insert(&*work, &id_of(&secret), user.id, user.token_version).await?;
    let administration = user.administration.as_deref().or(user.registered_by.as_deref());
    work.audit(administration, &user.email, "session.opened", format!("users/{}", user.id), json!({}));
    work.commit().await?;
    Ok(secret)
}

/// Ends the session of `secret`, if it is one.
pub async fn close(app: &App, secret: &str) -> ServiceResult<()> {
    let id = id_of(secret);
    let mut work = Work::begin(app).await?;
    sessions::delete(&*work, &id).await?;
    work.then(After::Session(id));
    Ok(work.commit().await?)
}

/// The session of `secret` while it lasts: its user and the user's token version when it
/// opened (the caller checks that against the account).
pub async fn find(app: &App, secret: &str) -> ServiceResult<Option<Arc<KnownSession>>> {
    let id = id_of(secret);
    let Some(session) = app.hot.session(&app.store.db, &id).await? else { return Ok(None) };
    let now = Utc::now().timestamp();
    let idle = i64::try_from(app.settings.session_idle).unwrap_or(i64::MAX / 2);
    let last_seen = session.last_seen.load(Ordering::Relaxed);
    if now - last_seen > idle || now - session.created_at > MAX_LIFE.num_seconds() {
        return Ok(None);
    }
    // Noted now and then, in the background: a page view never waits for the writer.
    if now - last_seen >= NOTED_EVERY_SECS
        && session.last_seen.compare_exchange(last_seen, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        app.later.defer(Deferred::SessionSeen { id, at });
    }
    Ok(Some(session))
}
