//! Who is calling and what they may do. `Caller` authenticates a request; `Tenant<P>` is the one
//! place where administration scope and role are checked: a handler that touches an
//! administration's data takes a `Tenant<P>` and gets the administration code from it, so it
//! cannot forget the check.

pub(crate) mod password;
pub(crate) mod role;
pub(crate) mod throttle;
pub(crate) mod token;

use std::marker::PhantomData;
use std::sync::Arc;

use aeo_domain::{AdministrationCode, OperatorId};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::error::ApiError;
use crate::store;
pub use role::UserRole;

/// The name of the session cookie the web pages use instead of a bearer header
/// (`service::sessions`).
pub const SESSION_COOKIE: &str = "aeo_session";

/// An authenticated user, as of this request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: i64,
    pub email: String,
    pub role: UserRole,
    pub administration: Option<AdministrationCode>,
    pub operator: Option<OperatorId>,
    /// For a trader: the administration that registered the account, having certified the
    /// operator. The trader sees that administration's certificates only.
    pub vouched_by: Option<AdministrationCode>,
}

/// The header that carries the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a request presented its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presented {
    /// `Authorization: Bearer`: sent on purpose by the client, so no cross-site request can.
    Bearer,
    /// The session cookie: a browser sends it with any request to this origin, including one a
    /// hostile page makes, so a change must also carry the session's CSRF token.
    Cookie,
}

fn credentials(headers: &axum::http::HeaderMap) -> Option<(&str, Presented)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| (token.trim(), Presented::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .map(|token| (token, Presented::Cookie))
}

/// The CSRF token of the request's cookie session, when it is authenticated by the cookie.
pub fn session_csrf_token(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    match credentials(headers)? {
        (token, Presented::Cookie) => Some(state.tokens.csrf_token(token)),
        (_, Presented::Bearer) => None,
    }
}

/// A request that changes something with the session cookie carries the session's CSRF token,
/// and does not come from another site.
fn check_csrf(parts: &Parts, state: &AppState, token: &str) -> Result<(), ApiError> {
    if parts.method.is_safe() {
        return Ok(());
    }
    let cross_site = parts.headers.get("sec-fetch-site").is_some_and(|site| site.as_bytes() == b"cross-site");
    let carried = parts.headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if cross_site || !state.tokens.csrf_matches(token, carried) {
        return Err(ApiError::CsrfRefused);
    }
    Ok(())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Caller::clone(&*authenticated(parts, state).await?))
    }
}

/// The caller named by the request's token, shared with the cached user it was found as.
async fn authenticated(parts: &Parts, state: &AppState) -> Result<Arc<Caller>, ApiError> {
    let (token, presented) = credentials(&parts.headers).ok_or(ApiError::Unauthorized)?;
    let (user_id, token_version) = match presented {
        Presented::Bearer => {
            let bearer = state.tokens.bearer(token).ok_or(ApiError::Unauthorized)?;
            (bearer.user_id, bearer.token_version)
        }
        Presented::Cookie => {
            let session = crate::service::sessions::find(state, token).await?.ok_or(ApiError::Unauthorized)?;
            check_csrf(parts, state, token)?;
            (session.user_id, session.token_version)
        }
    };
    let user = state.hot.user(&state.store.db, user_id).await?.ok_or(ApiError::Unauthorized)?;
    if user.disabled || user.token_version != token_version {
        return Err(ApiError::Unauthorized);
    }
    Ok(user.caller)
}

/// Who a page request's session cookie signs in, and their session's CSRF token.
pub struct SignedIn {
    pub caller: Arc<Caller>,
    pub csrf: String,
}

/// Who the request's session cookie signs in, if it names a session that lasts; for the web
/// pages, which check the CSRF token of a form themselves.
pub async fn signed_in(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Option<SignedIn>, ApiError> {
    let Some((secret, Presented::Cookie)) = credentials(headers) else { return Ok(None) };
    let Some(session) = crate::service::sessions::find(state, secret).await? else { return Ok(None) };
    let Some(user) = state.hot.user(&state.store.db, session.user_id).await? else { return Ok(None) };
    if user.disabled || user.token_version != session.token_version {
        return Ok(None);
    }
    // Derived from the secret, which is the same for as long as the session is known.
    let csrf = session.csrf.get_or_init(|| state.tokens.csrf_token(secret)).clone();
    Ok(Some(SignedIn { caller: user.caller, csrf }))
}

/// The caller of a stored account; a corrupt row is an internal error, not a login.
pub fn caller_of(user: store::users::User) -> store::StoreResult<Caller> {
    let corrupt = |what: &str| store::StoreError::inconsistent(format!("user {} has an invalid {what}", user.id));
    let role: UserRole = user.role.parse().map_err(|_| corrupt("role"))?;
    let administration = match &user.administration {
        Some(code) => Some(AdministrationCode::parse(code).map_err(|_| corrupt("administration"))?),
        None => None,
    };
    let operator = match (&user.operator_scheme, &user.operator_value) {
        (Some(scheme), Some(value)) => {
            Some(OperatorId::parse(scheme, value).map_err(|_| corrupt("operator identifier"))?)
        }
        _ => None,
    };
    let vouched_by = match (&user.registered_by, role) {
        (Some(code), UserRole::Trader) => Some(AdministrationCode::parse(code).map_err(|_| corrupt("registrar"))?),
        _ => None,
    };
    Ok(Caller { id: user.id, email: user.email, role, administration, operator, vouched_by })
}

/// What a `Tenant<P>` route requires: which roles of the administration may use it.
pub trait Permission: Send + Sync + 'static {
    const ROLES: &'static [UserRole];
    /// The platform administrator may also act on any administration.
    const PLATFORM_ADMIN: bool = false;
}

/// Read certificates and MRA records, ask the border question.
pub struct ReadRegistry;
impl Permission for ReadRegistry {
    const ROLES: &'static [UserRole] =
        &[UserRole::CustomsAdmin, UserRole::CustomsOfficer, UserRole::BorderOfficer, UserRole::Auditor];
}

/// Publish and change certificates.
pub struct PublishCertificates;
impl Permission for PublishCertificates {
    const ROLES: &'static [UserRole] = &[UserRole::CustomsAdmin, UserRole::CustomsOfficer];
}

/// MRA records, users and peers of the administration.
pub struct ManageAdministration;
impl Permission for ManageAdministration {
    const ROLES: &'static [UserRole] = &[UserRole::CustomsAdmin];
}

/// Create the administration's users.
pub struct ManageUsers;
impl Permission for ManageUsers {
    const ROLES: &'static [UserRole] = &[UserRole::CustomsAdmin];
    const PLATFORM_ADMIN: bool = true;
}

/// Read the audit log.
pub struct ReadAudit;
impl Permission for ReadAudit {
    const ROLES: &'static [UserRole] = &[UserRole::CustomsAdmin, UserRole::Auditor];
}

/// A caller acting on the administration named by the `{code}` path segment, with permission
/// `P`. Rejects with 401 (not authenticated), 404 (another administration's data: answered as if
/// missing) or 403 (the administration's own user, without the role).
pub struct Tenant<P: Permission> {
    pub code: AdministrationCode,
    pub caller: Arc<Caller>,
    _permission: PhantomData<P>,
}

impl<P: Permission> FromRequestParts<AppState> for Tenant<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticated(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        let raw = params.iter().find(|(name, _)| *name == "code").map(|(_, value)| value).ok_or(ApiError::NotFound)?;
        // A code that cannot exist is a malformed request, answered as one wherever it appears.
        let code = AdministrationCode::parse(raw).map_err(|message| ApiError::field("code", message))?;
        let allowed = if P::PLATFORM_ADMIN && caller.role == UserRole::PlatformAdmin {
            true
        } else if caller.administration.as_ref() != Some(&code) {
            return Err(ApiError::NotFound);
        } else {
            P::ROLES.contains(&caller.role)
        };
        if !allowed {
            return Err(ApiError::Forbidden);
        }
        Ok(Tenant { code, caller, _permission: PhantomData })
    }
}

impl<P: Permission> Tenant<P> {
    pub fn code(&self) -> &str {
        self.code.as_str()
    }

    pub fn actor(&self) -> &str {
        &self.caller.email
    }
}
