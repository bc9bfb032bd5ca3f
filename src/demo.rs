//! The demo data set (`serve --demo`): the four Pacific Alliance administrations, their
//! certificates, their plurilateral MRA and an account of every role. Loading is idempotent:
//! whatever already exists is left alone. The data goes through the same validation as the API.

use aeo_domain::{CertificateDraft, CertificateInput, MraDraft, MraInput, OperatorId, Status};
use anyhow::{Context, bail};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::password;
use crate::service::certificates::Publisher;
use crate::service::{self, After, Work};
use crate::store::administrations::{self, Administration};
use crate::store::{certificates, mras, users};

/// The password of every demo account (the platform administrator's is separate).
pub const DEMO_PASSWORD: &str = "demo-password-2026";

const DATA: &str = include_str!("../demo/demo.json");

#[derive(Deserialize)]
struct DemoData {
    administrations: Vec<DemoAdministration>,
    users: Vec<DemoUser>,
    certificates: Vec<DemoCertificate>,
    mras: Vec<DemoMra>,
}

#[derive(Deserialize)]
struct DemoAdministration {
    code: String,
    name: String,
    country: String,
    programme: String,
}

#[derive(Deserialize)]
struct DemoUser {
    email: String,
    role: String,
    administration: Option<String>,
    display_name: Option<String>,
    operator_identifier: Option<String>,
    /// For a trader: the administration that certified the operator and registers the account.
    #[serde(default)]
    registered_by: Option<String>,
}

#[derive(Deserialize)]
struct DemoCertificate {
    administration: String,
    status: Status,
    status_reason: Option<String>,
    #[serde(flatten)]
    input: CertificateInput,
}

#[derive(Deserialize)]
struct DemoMra {
    administration: String,
    partner: String,
    #[serde(flatten)]
    input: MraInput,
}

/// What was loaded, for printing.
pub struct Report {
    pub administrations: usize,
    pub certificates: usize,
    pub mras: usize,
    pub users: Vec<(String, String, String)>,
}

impl Report {
    pub fn print(&self, url: &str) {
        println!();
        println!(
            "Demo data: {} administrations, {} certificates, {} MRA records added (existing data kept).",
            self.administrations, self.certificates, self.mras
        );
        println!("Open {url}/api/docs for the API. Demo accounts, all with the password {DEMO_PASSWORD}:");
        for (email, role, scope) in &self.users {
            println!("  {email:<32} {role:<16} {scope}");
        }
        println!();
        println!("Try: curl -s {url}/api/v1/auth/login -H 'content-type: application/json' \\");
        println!("       -d '{{\"email\":\"border@pe.demo.aeo\",\"password\":\"{DEMO_PASSWORD}\"}}'");
        println!();
    }
}

/// The first certificate and MRA record of the demo data, as a client sends them (the
/// certificate without its number, which the registry then assigns): the API document's examples,
/// good by construction, as the demo data goes through the API's validation.
pub fn examples() -> (CertificateInput, MraInput) {
    let data: Option<DemoData> = serde_json::from_str(DATA).ok();
    let certificate = data
        .as_ref()
        .and_then(|d| d.certificates.first())
        .map(|c| CertificateInput { number: None, ..c.input.clone() });
    let mra = data.as_ref().and_then(|d| d.mras.first()).map(|m| m.input.clone());
    (certificate.unwrap_or_default(), mra.unwrap_or_default())
}

pub async fn load(state: &AppState) -> anyhow::Result<Report> {
    let data: DemoData = serde_json::from_str(DATA).context("the embedded demo data is invalid")?;
    let mut report = Report { administrations: 0, certificates: 0, mras: 0, users: Vec::new() };
    // Hash outside the transaction: argon2 is slow on purpose.
    let password_hash = password::hash(DEMO_PASSWORD.to_owned()).await?;
    let mut work = Work::begin(state).await?;
    for admin in &data.administrations {
        if administrations::find(&*work, &admin.code).await?.is_none() {
            let administration = Administration {
                code: admin.code.clone(),
                name: admin.name.clone(),
                country: admin.country.clone(),
                programme: admin.programme.clone(),
            };
            service::administrations::create_in(&mut work, "demo", &administration).await?;
            report.administrations += 1;
        }
    }
    for user in &data.users {
        let scope = match (&user.administration, &user.operator_identifier, &user.registered_by) {
            (Some(code), _, _) => code.clone(),
            (None, Some(id), Some(by)) => format!("{id}, registered by {by}"),
            (None, id, _) => id.clone().unwrap_or_default(),
        };
        report.users.push((user.email.clone(), user.role.clone(), scope));
        if users::find_by_email(&*work, &user.email).await?.is_some() {
            continue;
        }
        let operator = match &user.operator_identifier {
            Some(pair) => {
                let id = OperatorId::parse_pair(pair).with_context(|| format!("demo user {}", user.email))?;
                Some((id.scheme.as_str(), id.value))
            }
            None => None,
        };
        let registered_by = user.administration.clone().or_else(|| user.registered_by.clone());
        let new = users::NewUser {
            email: user.email.clone(),
            password_hash: password_hash.clone(),
            role: user.role.clone(),
            administration: user.administration.clone(),
            operator,
            display_name: user.display_name.clone(),
            registered_by: registered_by.clone(),
        };
        service::users::insert_in(&mut work, registered_by.as_deref(), "demo", new).await?;
    }
    for item in &data.certificates {
        let draft = match CertificateDraft::parse(&item.input) {
            Ok(draft) => draft,
            Err(errors) => bail!("demo certificate {:?} is invalid: {errors:?}", item.input.number),
        };
        let number = draft.number.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default();
        if certificates::find_model(&*work, &item.administration, &number).await?.is_some() {
            continue;
        }
        let by = Publisher { administration: &item.administration, actor: "demo" };
        let created = service::certificates::publish_in(&mut work, by, &draft)
            .await
            .map_err(|error| anyhow::anyhow!("demo certificate {number}: {error}"))?;
        if item.status != Status::Active {
            service::certificates::change_status_in(
                &mut work,
                by,
                &created.number,
                item.status,
                item.status_reason.as_deref(),
            )
            .await
            .map_err(|error| anyhow::anyhow!("demo certificate {number}: {error}"))?;
        }
        report.certificates += 1;
    }
    for item in &data.mras {
        if mras::find(&*work, &item.administration, &item.partner).await?.is_some() {
            continue;
        }
        let draft = match MraDraft::parse(&item.input) {
            Ok(draft) => draft,
            Err(errors) => bail!("demo MRA {} → {} is invalid: {errors:?}", item.administration, item.partner),
        };
        service::mras::record_in(&mut work, &item.administration, "demo", &item.partner, &draft).await?;
        report.mras += 1;
    }
    if report.administrations + report.certificates + report.mras > 0 {
        let details = serde_json::json!({"certificates": report.certificates, "mras": report.mras});
        for admin in &data.administrations {
            work.audit(Some(&admin.code), "demo", "demo.loaded", "demo", details.clone());
        }
    }
    work.then(After::Everything);
    work.commit().await?;
    Ok(report)
}
