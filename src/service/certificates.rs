//! An administration's certificates: publish, change, status lifecycle, import, and reads.

use aeo_domain::{
    CertificateDraft, CertificateInput, CertificateNumber, FieldError, Status, TransitionError, check_transition,
};
use serde_json::{Value, json};

use super::import::{self, Format, ImportReport};
use super::{After, ServiceError, ServiceResult, Work};
use crate::app::App;
use crate::cache::summaries::Written;
use crate::store::certificates::{self, Certificate, Change, HistoryEntry, ListFilter};

/// Who acts for which administration.
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    pub administration: &'a str,
    pub actor: &'a str,
}

impl Publisher<'_> {
    fn changed(&self) -> After {
        After::Certificates(Written {
            administration: self.administration.to_owned(),
            positions: None,
            changed: Vec::new(),
        })
    }

    fn target(number: &str) -> String {
        format!("certificates/{number}")
    }
}

/// A number as given; one that cannot exist is a missing certificate.
fn number(raw: &str) -> ServiceResult<CertificateNumber> {
    CertificateNumber::parse(raw).map_err(|_| ServiceError::NotFound)
}

pub async fn find(app: &App, administration: &str, raw_number: &str) -> ServiceResult<Certificate> {
    let number = number(raw_number)?;
    certificates::find(&app.store.db, administration, number.as_str()).await?.ok_or(ServiceError::NotFound)
}

/// A search of the certificates, from its fields as given; every wrong field is named.
pub fn filter(
    status: Option<&str>,
    category: Option<&str>,
    role: Option<&str>,
    q: Option<&str>,
) -> Result<ListFilter, Vec<FieldError>> {
    fn parse<T: std::str::FromStr<Err = String>>(
        field: &str,
        value: Option<&str>,
        errors: &mut Vec<FieldError>,
    ) -> Option<T> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        value.parse().map_err(|message| errors.push(FieldError::new(field, message))).ok()
    }
    let mut errors = Vec::new();
    let filter = ListFilter {
        status: parse("status", status, &mut errors),
        category: parse("category", category, &mut errors),
        role: parse("role", role, &mut errors),
        q: q.map(str::to_owned),
    };
    match q.map(|q| q.trim().chars().count()) {
        Some(length) if length > 300 => errors.push(FieldError::new("q", "must be at most 300 characters")),
        Some(1..3) => errors.push(FieldError::new("q", "must be at least 3 characters")),
        _ => {}
    }
    if errors.is_empty() { Ok(filter) } else { Err(errors) }
}

pub async fn list(
    app: &App,
    administration: &str,
    filter: &ListFilter,
    limit: u64,
    after: Option<i64>,
) -> ServiceResult<(Vec<Certificate>, Option<i64>)> {
    Ok(certificates::list(&app.store, administration, filter, limit, after).await?)
}

/// Every change of a certificate, oldest first.
pub async fn history(app: &App, administration: &str, raw_number: &str) -> ServiceResult<Vec<HistoryEntry>> {
    let certificate = find(app, administration, raw_number).await?;
    Ok(certificates::history(&app.store.db, &certificate).await?)
}

/// Publishes a certificate, `active`; the number is assigned when the input has none.
pub async fn publish(app: &App, by: Publisher<'_>, input: &CertificateInput) -> ServiceResult<Certificate> {
    let draft = CertificateDraft::parse(input).map_err(ServiceError::Invalid)?;
    let mut work = Work::begin(app).await?;
    let certificate = publish_in(&mut work, by, &draft).await?;
    work.commit().await?;
    Ok(certificate)
}

/// Publishes a validated certificate in `work`.
pub async fn publish_in(
    work: &mut Work<'_>,
    by: Publisher<'_>,
    draft: &CertificateDraft,
) -> ServiceResult<Certificate> {
    let change = Change { actor: by.actor, action: "created", reason: None };
    let certificate = certificates::create(&**work, by.administration, draft, &change).await?;
    let details = json!({"version": certificate.version});
    work.audit(
        Some(by.administration),
        by.actor,
        "certificate.created",
        Publisher::target(&certificate.number),
        details,
    );
    work.then(by.changed());
    Ok(certificate)
}

/// Fields a merge patch may not touch: identity, lifecycle and bookkeeping (the API document
/// lists them).
pub const NOT_PATCHABLE: [&str; 6] = ["number", "administration", "status", "status_reason", "version", "updated_at"];

/// Changes a certificate's details with a JSON Merge Patch (RFC 7396); with `expected`, only if
/// the certificate is still at that version. A patch that changes nothing writes nothing.
pub async fn patch(
    app: &App,
    by: Publisher<'_>,
    raw_number: &str,
    expected: Option<i32>,
    patch: &Value,
) -> ServiceResult<Certificate> {
    let number = number(raw_number)?;
    let Value::Object(fields) = patch else {
        return Err(ServiceError::field("body", "a merge patch must be a JSON object"));
    };
    let refused: Vec<FieldError> = NOT_PATCHABLE
        .iter()
        .filter(|name| fields.contains_key(**name))
        .map(|name| {
            let message = if *name == "status" { "is not patchable; use POST .../status" } else { "is not patchable" };
            FieldError::new(*name, message)
        })
        .collect();
    if !refused.is_empty() {
        return Err(ServiceError::Invalid(refused));
    }
    let mut work = Work::begin(app).await?;
    let current = certificates::find_for_update(&*work, by.administration, number.as_str())
        .await?
        .ok_or(ServiceError::NotFound)?;
    if expected.is_some_and(|version| version != current.version) {
        return Err(ServiceError::PreconditionFailed);
    }
    let mut document = current.details();
    json_patch::merge(&mut document, patch);
    let input: CertificateInput = serde_path_to_error::deserialize(document).map_err(|error| {
        let path = error.path().to_string();
        ServiceError::field(if path == "." { "body".to_string() } else { path }, "has the wrong type")
    })?;
    let draft = CertificateDraft::parse(&input).map_err(ServiceError::Invalid)?;
    let change = Change { actor: by.actor, action: "updated", reason: None };
    let Some(updated) = certificates::update(&*work, &current, &draft, &change).await? else {
        return Ok(current);
    };
    let details = json!({"version": updated.version});
    work.audit(Some(by.administration), by.actor, "certificate.updated", Publisher::target(&updated.number), details);
    work.then(by.changed());
    work.commit().await?;
    Ok(updated)
}

/// Suspends, reinstates or revokes a certificate, by the lifecycle's rules.
pub async fn change_status(
    app: &App,
    by: Publisher<'_>,
    raw_number: &str,
    requested: Option<&str>,
    reason: Option<&str>,
) -> ServiceResult<Certificate> {
    let number = number(raw_number)?;
    let requested: Status = requested
        .unwrap_or_default()
        .parse()
        .map_err(|_| ServiceError::field("status", "must be one of active, suspended, revoked"))?;
    let mut work = Work::begin(app).await?;
    let updated = change_status_in(&mut work, by, number.as_str(), requested, reason).await?;
    work.commit().await?;
    Ok(updated)
}

/// Moves certificate `number` to `requested` in `work`.
pub async fn change_status_in(
    work: &mut Work<'_>,
    by: Publisher<'_>,
    number: &str,
    requested: Status,
    reason: Option<&str>,
) -> ServiceResult<Certificate> {
    let current =
        certificates::find_for_update(&**work, by.administration, number).await?.ok_or(ServiceError::NotFound)?;
    let reason = check_transition(current.stored_status, requested, reason).map_err(|error| match error {
        TransitionError::RevokedIsFinal | TransitionError::Unchanged => ServiceError::Conflict(error.to_string()),
        TransitionError::ExpiredIsDerived => ServiceError::field("status", error.to_string()),
        TransitionError::ReasonRequired | TransitionError::ReasonTooLong => {
            ServiceError::field("reason", error.to_string())
        }
    })?;
    let change = Change { actor: by.actor, action: "status_changed", reason: reason.clone() };
    let updated = certificates::set_status(&**work, &current, requested, &change).await?;
    let details = json!({"from": current.stored_status, "to": requested, "reason": reason, "version": updated.version});
    work.audit(
        Some(by.administration),
        by.actor,
        "certificate.status_changed",
        Publisher::target(&updated.number),
        details,
    );
    work.then(by.changed());
    Ok(updated)
}

/// Imports certificates, all or nothing (see [`import`]); a dry run checks everything and
/// applies nothing.
pub async fn import(
    app: &App,
    by: Publisher<'_>,
    format: Format,
    body: &[u8],
    dry_run: bool,
) -> ServiceResult<ImportReport> {
    let started = std::time::Instant::now();
    let drafts = import::validate(format, body)?;
    let validated = started.elapsed();
    let mut work = Work::begin(app).await?;
    let (mut report, written) = import::apply(&*work, by.administration, by.actor, &drafts).await?;
    let applied = started.elapsed();
    report.dry_run = dry_run;
    if dry_run {
        work.rollback().await?;
    } else {
        let details = json!({"created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                             "format": format.as_str()});
        work.audit(Some(by.administration), by.actor, "certificate.imported", "certificates/import", details);
        work.then(After::Certificates(written));
        work.commit().await?;
    }
    tracing::info!(
        administration = by.administration,
        rows = drafts.len(),
        created = report.created,
        updated = report.updated,
        dry_run,
        validated_ms = validated.as_millis(),
        applied_ms = applied.as_millis(),
        total_ms = started.elapsed().as_millis(),
        "import"
    );
    Ok(report)
}
