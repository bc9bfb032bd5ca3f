//! First start: a database with no users gets its platform administrator.

use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};

use crate::app::AppState;
use crate::auth::{UserRole, password};
use crate::store::{audit, users};

/// Creates the platform administrator when no user exists yet. The password comes from
/// `AEO_ADMIN_PASSWORD`, or is generated and printed once (never logged).
pub async fn platform_admin(state: &AppState) -> anyhow::Result<()> {
    if users::count(&state.store.db).await? > 0 {
        return Ok(());
    }
    let email = state.settings.admin_email.clone().unwrap_or_else(|| "admin@localhost".into()).to_lowercase();
    let (secret, generated) = match &state.settings.admin_password {
        Some(given) => (given.clone(), false),
        None => (Alphanumeric.sample_string(&mut rand::rng(), 24), true),
    };
    password::check_rules(&secret).map_err(|message| anyhow::anyhow!("AEO_ADMIN_PASSWORD {message}"))?;
    let password_hash = password::hash(secret.clone()).await?;
    let txn = state.store.write().await?;
    let user = users::insert(
        &txn,
        users::NewUser {
            email: email.clone(),
            password_hash,
            role: UserRole::PlatformAdmin.as_str().into(),
            administration: None,
            operator: None,
            display_name: Some("Platform administrator".into()),
            registered_by: None,
        },
    )
    .await
    .context("cannot create the platform administrator")?;
    audit::record(
        &txn,
        None,
        "system",
        "user.created",
        &format!("users/{}", user.id),
        serde_json::json!({"role": "platform_admin"}),
    )
    .await?;
    txn.commit().await?;
    if generated {
        println!("Created the platform administrator {email} with the password {secret}");
        println!("(shown once; set AEO_ADMIN_EMAIL and AEO_ADMIN_PASSWORD to choose them)");
    } else {
        println!("Created the platform administrator {email}");
    }
    Ok(())
}
