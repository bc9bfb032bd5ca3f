//! The administrations (tenants) hosted on this node.

use std::sync::Arc;

use aeo_domain::{AdministrationCode, FieldError};
use serde_json::json;

use super::{After, ServiceError, ServiceResult, Work};
use crate::app::App;
use crate::cache::Issuer;
use crate::store::administrations::{self, Administration};

/// What is asked for a new administration, as given.
#[derive(Debug, Default)]
pub struct NewAdministration<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub country: &'a str,
    pub programme: &'a str,
}

impl NewAdministration<'_> {
    /// Checks every field; all errors at once.
    pub fn parse(&self) -> ServiceResult<Administration> {
        let mut errors = Vec::new();
        let code = match AdministrationCode::parse(self.code) {
            Ok(code) => code.as_str().to_owned(),
            Err(message) => {
                errors.push(FieldError::new("code", message));
                String::new()
            }
        };
        let name = required_text(&mut errors, "name", self.name, 300);
        let programme = required_text(&mut errors, "programme", self.programme, 300);
        let country = self.country.trim().to_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            errors.push(FieldError::new("country", "must be a two-letter country code"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        Ok(Administration { code, name, country, programme })
    }
}

fn required_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.push(FieldError::new(field, "is required"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
    }
    value.to_owned()
}

/// The issuers a border officer of `at` may ask about (see [`crate::cache::HotFacts::issuers`]).
pub async fn issuers(app: &App, at: &AdministrationCode) -> ServiceResult<Arc<Vec<Issuer>>> {
    Ok(app.hot.issuers(&app.store.db, at.as_str()).await?)
}

pub async fn list(app: &App) -> ServiceResult<Vec<Administration>> {
    Ok(administrations::list(&app.store.db).await?)
}

/// Creates an administration with its first signing key.
pub async fn create(app: &App, actor: &str, new: &NewAdministration<'_>) -> ServiceResult<Administration> {
    let administration = new.parse()?;
    let mut work = Work::begin(app).await?;
    create_in(&mut work, actor, &administration).await?;
    work.commit().await?;
    Ok(administration)
}

/// Creates `administration` with its first signing key, in `work`.
pub async fn create_in(work: &mut Work<'_>, actor: &str, administration: &Administration) -> ServiceResult<()> {
    let code = &administration.code;
    if administrations::find(&**work, code).await?.is_some() {
        return Err(ServiceError::Conflict(format!("administration {code} already exists")));
    }
    administrations::insert(&**work, administration).await?;
    work.app().federation.keyring.create(&**work, code).await?;
    let details =
        json!({"name": administration.name, "country": administration.country, "programme": administration.programme});
    work.audit(Some(code), actor, "administration.created", format!("administrations/{code}"), details);
    work.then(After::Hosted(code.clone()));
    work.then(After::Keys(code.clone()));
    Ok(())
}
