//! Accounts: an administration's users and the traders it registers, the platform
//! administrator, signing in and changing one's password.

use std::net::IpAddr;

use aeo_domain::{FieldError, OperatorId, Status};
use serde_json::json;

use super::{After, ServiceError, ServiceResult, Work};
use crate::app::App;
use crate::auth::{Caller, UserRole, password};
use crate::store::users::{self, User};
use crate::store::{administrations, certificates};

/// The longest e-mail address an account may have (RFC 5321's limits, rounded).
pub const MAX_EMAIL_BYTES: usize = 320;

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= MAX_EMAIL_BYTES
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An account as asked for, every field as given.
#[derive(Debug, Default)]
pub struct NewAccount {
    pub email: Option<String>,
    pub password: Option<String>,
    pub role: Option<String>,
    pub display_name: Option<String>,
    pub operator_identifier: Option<String>,
}

/// The administration's users, including the traders it registered.
pub async fn list(app: &App, administration: &str) -> ServiceResult<Vec<User>> {
    Ok(users::list_for_administration(&app.store.db, administration).await?)
}

/// Creates a user of `administration`, or a trader it registers: an administration vouches for
/// a trader only for an operator it certifies (one of its certificates under the identifier,
/// not revoked).
pub async fn create(app: &App, administration: &str, actor: &str, input: NewAccount) -> ServiceResult<User> {
    if administrations::find(&app.store.db, administration).await?.is_none() {
        return Err(ServiceError::NotFound);
    }
    let mut errors = Vec::new();
    let email = input.email.as_deref().unwrap_or_default().trim().to_lowercase();
    if !valid_email(&email) {
        errors.push(FieldError::new("email", "must be an e-mail address"));
    }
    let secret = input.password.unwrap_or_default();
    if let Err(message) = password::check_rules(&secret) {
        errors.push(FieldError::new("password", message));
    }
    let role = match input.role.as_deref().unwrap_or_default().parse::<UserRole>() {
        Ok(UserRole::PlatformAdmin) => {
            errors.push(FieldError::new("role", "platform_admin cannot be created here"));
            None
        }
        Ok(role) => Some(role),
        Err(message) => {
            errors.push(FieldError::new("role", message));
            None
        }
    };
    let operator = match (role, input.operator_identifier.as_deref()) {
        (Some(UserRole::Trader), Some(pair)) => match OperatorId::parse_pair(pair) {
            Ok(id) => Some(id),
            Err(error) => {
                errors.push(FieldError::new("operator_identifier", error.to_string()));
                None
            }
        },
        (Some(UserRole::Trader), None) => {
            errors.push(FieldError::new("operator_identifier", "is required for a trader"));
            None
        }
        (_, Some(_)) => {
            errors.push(FieldError::new("operator_identifier", "only traders have an operator identifier"));
            None
        }
        _ => None,
    };
    let display_name = input.display_name.map(|name| name.trim().to_owned()).filter(|name| !name.is_empty());
    if display_name.as_ref().is_some_and(|name| name.chars().count() > 200) {
        errors.push(FieldError::new("display_name", "must be at most 200 characters"));
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let password_hash = password::hash(secret).await?;
    let mut work = Work::begin(app).await?;
    if let Some(id) = &operator {
        let certified = certificates::find_by_identifier(&*work, Some(administration), id).await?;
        if !certified.iter().any(|certificate| certificate.stored_status != Status::Revoked) {
            return Err(ServiceError::field(
                "operator_identifier",
                format!("no certificate of {administration} that is not revoked is held under this identifier"),
            ));
        }
    }
    let is_trader = role == UserRole::Trader;
    let new = users::NewUser {
        email,
        password_hash,
        role: role.as_str().to_owned(),
        administration: (!is_trader).then(|| administration.to_owned()),
        operator: operator.map(|id| (id.scheme.as_str(), id.value)),
        display_name,
        registered_by: Some(administration.to_owned()),
    };
    let user = insert_in(&mut work, Some(administration), actor, new).await?;
    work.commit().await?;
    Ok(user)
}

/// Creates an account in `work`; an e-mail address already taken is a conflict.
pub async fn insert_in(
    work: &mut Work<'_>,
    administration: Option<&str>,
    actor: &str,
    new: users::NewUser,
) -> ServiceResult<User> {
    if users::find_by_email(&**work, &new.email).await?.is_some() {
        return Err(ServiceError::Conflict("a user with this e-mail already exists".into()));
    }
    let user = users::insert(&**work, new).await?;
    let details = json!({"email": user.email, "role": user.role});
    work.audit(administration, actor, "user.created", format!("users/{}", user.id), details);
    Ok(user)
}

/// A change to an account, as asked.
#[derive(Debug, Default)]
pub struct AccountChange {
    pub disabled: Option<bool>,
    pub password: Option<String>,
}

/// Disables or re-enables one of `administration`'s users, or sets a new password; the user's
/// existing tokens stop working. `by` is the acting user, who cannot disable themselves.
pub async fn update(
    app: &App,
    administration: &str,
    by: &Caller,
    id: i64,
    change: AccountChange,
) -> ServiceResult<User> {
    let user = users::find(&app.store.db, id).await?.ok_or(ServiceError::NotFound)?;
    let ours =
        user.administration.as_deref() == Some(administration) || user.registered_by.as_deref() == Some(administration);
    if !ours {
        return Err(ServiceError::NotFound);
    }
    if change.disabled.is_none() && change.password.is_none() {
        return Err(ServiceError::field("body", "give disabled or password"));
    }
    if change.disabled == Some(true) && user.id == by.id {
        return Err(ServiceError::field("disabled", "you cannot disable yourself"));
    }
    let hash = match change.password {
        Some(secret) => {
            password::check_rules(&secret).map_err(|message| ServiceError::field("password", message))?;
            Some(password::hash(secret).await?)
        }
        None => None,
    };
    let password_changed = hash.is_some();
    let mut work = Work::begin(app).await?;
    users::update_credentials(&*work, id, change.disabled, hash).await?;
    let user = users::find(&*work, id).await?.ok_or(ServiceError::NotFound)?;
    let details = json!({"disabled": change.disabled, "password_changed": password_changed});
    work.audit(Some(administration), &by.email, "user.updated", format!("users/{id}"), details);
    work.then(After::User(id));
    work.commit().await?;
    Ok(user)
}

/// The account of `email` if `secret` is its password and it is not disabled. Attempts are
/// throttled per account and per client (`auth::throttle`).
pub async fn sign_in(app: &App, email: &str, secret: String, client: IpAddr) -> ServiceResult<User> {
    let email = email.trim().to_lowercase();
    // No account has such an address; nothing of it is kept, not even in the throttle.
    if email.len() > MAX_EMAIL_BYTES {
        return Err(ServiceError::Unauthorized);
    }
    let attempt = app
        .login_throttle
        .attempt(&email, client)
        .map_err(|retry_after_secs| ServiceError::Throttled { retry_after_secs })?;
    let user = match users::find_by_email(&app.store.db, &email).await {
        Ok(user) => user,
        Err(error) => {
            // The database failed, not the client: no attempt was made.
            attempt.not_evaluated();
            return Err(error.into());
        }
    };
    // A disabled account verifies against the dummy hash: the same answer, the same time.
    let stored = user.as_ref().filter(|u| !u.disabled).map(|u| u.password_hash.clone());
    let ok = match password::verify(secret, stored).await {
        Ok(ok) => ok,
        Err(busy) => {
            attempt.not_evaluated();
            return Err(password::HashError::from(busy).into());
        }
    };
    let user = user.filter(|_| ok).ok_or(ServiceError::Unauthorized)?;
    attempt.succeeded();
    Ok(user)
}

/// Changes the caller's own password; every token issued before stops working. Guessing the
/// current password with a stolen token is throttled like signing in.
pub async fn change_own_password(
    app: &App,
    caller: &Caller,
    client: IpAddr,
    current: String,
    new: String,
) -> ServiceResult<()> {
    password::check_rules(&new).map_err(|message| ServiceError::field("new_password", message))?;
    let user = users::find(&app.store.db, caller.id).await?.ok_or(ServiceError::Unauthorized)?;
    let attempt = app
        .login_throttle
        .attempt(&user.email, client)
        .map_err(|retry_after_secs| ServiceError::Throttled { retry_after_secs })?;
    match password::verify(current, Some(user.password_hash)).await {
        Ok(true) => attempt.succeeded(),
        Ok(false) => return Err(ServiceError::field("current_password", "is not your current password")),
        Err(busy) => {
            attempt.not_evaluated();
            return Err(password::HashError::from(busy).into());
        }
    }
    let hash = password::hash(new).await?;
    let mut work = Work::begin(app).await?;
    users::update_credentials(&*work, caller.id, None, Some(hash)).await?;
    let administration = caller.administration.as_ref().map(|code| code.as_str());
    work.audit(administration, &caller.email, "user.password_changed", format!("users/{}", caller.id), json!({}));
    work.then(After::User(caller.id));
    Ok(work.commit().await?)
}

/// Creates the platform administrator `email` when no account exists yet; says whether it did.
pub async fn create_platform_admin(app: &App, email: &str, password_hash: String) -> ServiceResult<bool> {
    let mut work = Work::begin(app).await?;
    if users::count(&*work).await? > 0 {
        return Ok(false);
    }
    let new = users::NewUser {
        email: email.to_owned(),
        password_hash,
        role: UserRole::PlatformAdmin.as_str().into(),
        administration: None,
        operator: None,
        display_name: Some("Platform administrator".into()),
        registered_by: None,
    };
    let user = users::insert(&*work, new).await?;
    work.audit(None, "system", "user.created", format!("users/{}", user.id), json!({"role": "platform_admin"}));
    work.commit().await?;
    Ok(true)
}

/// Gives the platform administrator `email` a new password; its tokens stop working.
pub async fn reset_platform_password(app: &App, email: &str, password_hash: String) -> ServiceResult<()> {
    let user = users::find_by_email(&app.store.db, email)
        .await?
        .filter(|user| user.role == UserRole::PlatformAdmin.as_str())
        .ok_or(ServiceError::NotFound)?;
    let mut work = Work::begin(app).await?;
    users::update_credentials(&*work, user.id, None, Some(password_hash)).await?;
    work.audit(None, "system", "user.password_reset", format!("users/{}", user.id), json!({}));
    work.then(After::User(user.id));
    Ok(work.commit().await?)
}
