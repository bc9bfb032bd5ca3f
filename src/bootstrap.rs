//! The platform administrator: created on the first start of a database with no users, and its
//! password reset from the command line (`aeo-registry admin reset-password`) when it is lost.

use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};

use crate::app::App;
use crate::auth::password;
use crate::config::Settings;
use crate::service::{self, ServiceError};
use crate::store::users;

const DEFAULT_EMAIL: &str = "admin@localhost";

/// Creates the platform administrator when no user exists yet. The password comes from
/// `AEO_ADMIN_PASSWORD`, or is generated and printed once (never logged).
pub async fn platform_admin(app: &App) -> anyhow::Result<()> {
    if users::count(&app.store.db).await? > 0 {
        return Ok(());
    }
    let email = app.settings.admin_email.clone().unwrap_or_else(|| DEFAULT_EMAIL.into()).to_lowercase();
    let (secret, generated) = chosen_password(&app.settings)?;
    let password_hash = password::hash(secret.clone()).await?;
    let created = service::users::create_platform_admin(app, &email, password_hash)
        .await
        .context("cannot create the platform administrator")?;
    if created {
        announce("Created the platform administrator", &email, &secret, generated);
    }
    Ok(())
}

/// Gives the platform administrator `email` (by default `AEO_ADMIN_EMAIL`, else
/// `admin@localhost`) a new password: `AEO_ADMIN_PASSWORD`, or one generated and printed once.
/// Every token issued before dies (at once here, within the user cache's lifetime in a server
/// that is running).
pub async fn reset_platform_password(app: &App, email: Option<String>) -> anyhow::Result<()> {
    let settings = &app.settings;
    let email = email.or_else(|| settings.admin_email.clone()).unwrap_or_else(|| DEFAULT_EMAIL.into()).to_lowercase();
    let (secret, generated) = chosen_password(settings)?;
    let password_hash = password::hash(secret.clone()).await?;
    match service::users::reset_platform_password(app, &email, password_hash).await {
        Err(ServiceError::NotFound) => anyhow::bail!("there is no platform administrator {email} in this database"),
        other => other.context("cannot set the password")?,
    }
    announce("Set a new password for the platform administrator", &email, &secret, generated);
    Ok(())
}

/// `AEO_ADMIN_PASSWORD` if it is set (and follows the rules), else a generated one; and whether
/// it was generated.
fn chosen_password(settings: &Settings) -> anyhow::Result<(String, bool)> {
    let (secret, generated) = match &settings.admin_password {
        Some(given) => (given.clone(), false),
        None => (Alphanumeric.sample_string(&mut rand::rng(), 24), true),
    };
    password::check_rules(&secret).map_err(|message| anyhow::anyhow!("AEO_ADMIN_PASSWORD {message}"))?;
    Ok((secret, generated))
}

/// Tells the operator what was done; a generated password is printed, never logged.
fn announce(done: &str, email: &str, secret: &str, generated: bool) {
    if generated {
        println!("{done} {email} with the password {secret}");
        println!("(shown once; set AEO_ADMIN_EMAIL and AEO_ADMIN_PASSWORD to choose them)");
    } else {
        println!("{done} {email}");
    }
}
