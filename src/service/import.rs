//! Bulk import of certificates from CSV or a JSON array: every row is read and validated first,
//! and every error reported with its row; only a fully valid import is applied, in one
//! transaction, matching rows to certificates by `number`. New certificates are created in
//! batches; status is never changed by an import.

use std::collections::HashMap;

use aeo_domain::{AddressInput, CertificateDraft, CertificateInput, FieldError, IdentifierInput, OperatorInput};
use sea_orm::{ConnectionTrait, DbBackend};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{RowError, ServiceError, ServiceResult};
use crate::cache::summaries::Written;
use crate::store::certificates::{self, Certificate, Change};
use crate::store::{StoreResult, administrations};

/// The header an import in CSV must have (in any order).
pub const CSV_COLUMNS: [&str; 12] = [
    "number",
    "category",
    "roles",
    "valid_from",
    "valid_until",
    "operator_name",
    "identifiers",
    "street",
    "city",
    "postal_code",
    "country",
    "public",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: Vec<RowError>,
    pub dry_run: bool,
}

/// Reads and validates every row; any error anywhere → 422 with all of them.
pub fn validate(format: Format, body: &[u8]) -> ServiceResult<Vec<CertificateDraft>> {
    let rows = match format {
        Format::Csv => csv_rows(body)?,
        Format::Json => json_rows(body)?,
    };
    let mut errors = Vec::new();
    let mut drafts = Vec::with_capacity(rows.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, row) in rows.into_iter().enumerate() {
        let row_number = index + 1;
        errors.extend(row.errors.into_iter().map(|e| RowError { row: row_number, field: e.field, message: e.message }));
        let Some(input) = row.input else { continue };
        match CertificateDraft::parse(&input) {
            Ok(draft) => {
                if let Some(number) = &draft.number
                    && let Some(first) = seen.insert(number.as_str().to_owned(), row_number)
                {
                    errors.push(RowError {
                        row: row_number,
                        field: "number".into(),
                        message: format!("appears already in row {first}"),
                    });
                }
                drafts.push(draft);
            }
            Err(row_errors) => errors.extend(row_errors.into_iter().map(|e| RowError {
                row: row_number,
                field: if format == Format::Csv { row_field(&e.field) } else { e.field },
                message: e.message,
            })),
        }
    }
    if errors.is_empty() { Ok(drafts) } else { Err(ServiceError::InvalidRows(errors)) }
}

/// Applies validated rows: existing numbers are updated where they differ, the rest created.
pub async fn apply(
    conn: &impl ConnectionTrait,
    administration: &str,
    actor: &str,
    drafts: &[CertificateDraft],
) -> StoreResult<(ImportReport, Written)> {
    // Holds the administration's change sequence from here to the commit, so every position
    // taken after `before` is this import's.
    let before = administrations::reserve_seqs(conn, administration, 0).await?;
    let numbers: Vec<String> = drafts.iter().filter_map(|d| d.number.as_ref().map(|n| n.as_str().to_owned())).collect();
    let existing = certificates::find_many_for_update(conn, administration, &numbers).await?;
    let change = Change { actor, action: "imported", reason: None };
    let mut report = ImportReport::default();
    let mut changed = Vec::new();
    let mut new = Vec::new();
    for draft in drafts {
        match draft.number.as_ref().and_then(|n| existing.get(n.as_str())) {
            Some(current) => match certificates::update(conn, current, draft, &change).await? {
                Some(updated) => {
                    report.updated += 1;
                    changed.push(updated.number);
                }
                None => report.unchanged += 1,
            },
            None => new.push(draft),
        }
    }
    let created = certificates::create_many(conn, administration, &new, &change).await?;
    report.created = created.len();
    let after = administrations::reserve_seqs(conn, administration, 0).await?;
    if report.created >= REFRESH_STATISTICS_AFTER && conn.get_database_backend() == DbBackend::Postgres {
        // A table that just grew by many rows still has the planner statistics of its old size;
        // the next import's lookups by number would then scan instead of using the index.
        conn.execute_unprepared("ANALYZE certificates, certificate_identifiers, certificate_events")
            .await
            .map_err(crate::store::StoreError::from)?;
    }
    let positions = (after > before).then_some(before + 1..=after);
    Ok((report, Written { administration: administration.to_owned(), positions, changed }))
}

/// New certificates after which PostgreSQL's statistics are refreshed.
const REFRESH_STATISTICS_AFTER: usize = 10_000;

/// One row as read: its input (when it could be read at all) and the errors found reading it.
struct RowInput {
    input: Option<CertificateInput>,
    errors: Vec<FieldError>,
}

impl RowInput {
    fn unreadable(error: FieldError) -> Self {
        RowInput { input: None, errors: vec![error] }
    }
}

fn json_rows(body: &[u8]) -> ServiceResult<Vec<RowInput>> {
    let values: Vec<Value> = match super::json_value(body)? {
        Value::Array(values) => values,
        _ => {
            return Err(ServiceError::field("body", "must be a JSON array of certificates"));
        }
    };
    Ok(values
        .into_iter()
        .map(|value| match serde_path_to_error::deserialize::<_, CertificateInput>(value) {
            Ok(input) => RowInput { input: Some(input), errors: Vec::new() },
            Err(error) => {
                let path = error.path().to_string();
                RowInput::unreadable(FieldError::new(
                    if path == "." { "row".to_string() } else { path },
                    "has the wrong type",
                ))
            }
        })
        .collect())
}

fn csv_rows(body: &[u8]) -> ServiceResult<Vec<RowInput>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(body);
    let headers =
        reader.headers().map_err(|_| ServiceError::field("header", "the CSV header could not be read"))?.clone();
    let position = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing: Vec<&str> = CSV_COLUMNS.iter().copied().filter(|c| position(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(ServiceError::field("header", format!("missing columns: {}", missing.join(", "))));
    }
    let columns: Vec<usize> = CSV_COLUMNS.iter().filter_map(|c| position(c)).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let message = match error.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("has {len} fields; the header has {expected_len}")
                    }
                    _ => "could not be read as CSV".into(),
                };
                rows.push(RowInput::unreadable(FieldError::new("row", message)));
                continue;
            }
        };
        let get = |i: usize| record.get(columns[i]).unwrap_or_default().to_owned();
        let row = CertificateRow {
            number: get(0),
            category: get(1),
            roles: get(2),
            valid_from: get(3),
            valid_until: get(4),
            operator_name: get(5),
            identifiers: get(6),
            street: get(7),
            city: get(8),
            postal_code: get(9),
            country: get(10),
            public: get(11),
        };
        let (input, errors) = row.to_input();
        rows.push(RowInput { input: Some(input), errors });
    }
    Ok(rows)
}

/// A certificate as one flat row of text: a line of the CSV import and export, and the fields of
/// the pages' certificate form. Lists (roles, identifiers) are separated by `;`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct CertificateRow {
    pub number: String,
    pub category: String,
    pub roles: String,
    pub valid_from: String,
    pub valid_until: String,
    pub operator_name: String,
    /// `SCHEME:VALUE` pairs.
    pub identifiers: String,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    /// `true` or `false` (empty: `false`).
    pub public: String,
}

impl CertificateRow {
    /// The fields of a row, in the CSV's order.
    pub const FIELDS: [&'static str; 12] = CSV_COLUMNS;

    /// The certificate as a row, to export or to edit.
    pub fn of(certificate: &Certificate) -> Self {
        let operator = &certificate.operator;
        let address = &operator.address;
        CertificateRow {
            number: certificate.number.clone(),
            category: certificate.category.as_str().to_owned(),
            roles: certificate.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(";"),
            valid_from: certificate.valid_from.to_string(),
            valid_until: certificate.valid_until.to_string(),
            operator_name: operator.name.clone(),
            identifiers: operator
                .identifiers
                .iter()
                .map(|id| format!("{}:{}", id.scheme, id.value))
                .collect::<Vec<_>>()
                .join(";"),
            street: address.street.clone(),
            city: address.city.clone(),
            postal_code: address.postal_code.clone(),
            country: address.country.clone(),
            public: operator.public.to_string(),
        }
    }

    /// The certificate input the row holds, and what could not be read at all; the input's own
    /// validation is [`CertificateDraft::parse`]'s, whose field paths [`row_field`] maps back
    /// to the row's names.
    pub fn to_input(&self) -> (CertificateInput, Vec<FieldError>) {
        let optional = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
        // A line break separates too: a page's text area holds one identifier per line.
        let list = |text: &str| -> Vec<String> {
            text.split([';', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        };
        let mut errors = Vec::new();
        let public = match self.public.trim().to_ascii_lowercase().as_str() {
            "true" | "on" => true,
            "false" | "" => false,
            _ => {
                errors.push(FieldError::new("public", "must be true or false"));
                false
            }
        };
        let identifiers = list(&self.identifiers)
            .into_iter()
            .map(|pair| match pair.split_once(':') {
                Some((scheme, value)) => {
                    IdentifierInput { scheme: Some(scheme.trim().into()), value: Some(value.trim().into()) }
                }
                None => IdentifierInput { scheme: None, value: Some(pair) },
            })
            .collect();
        let input = CertificateInput {
            number: optional(&self.number),
            category: optional(&self.category),
            roles: Some(list(&self.roles)),
            valid_from: optional(&self.valid_from),
            valid_until: optional(&self.valid_until),
            operator: Some(OperatorInput {
                name: optional(&self.operator_name),
                identifiers: Some(identifiers),
                address: Some(AddressInput {
                    street: optional(&self.street),
                    city: optional(&self.city),
                    postal_code: optional(&self.postal_code),
                    country: optional(&self.country),
                }),
                public: Some(public),
            }),
        };
        (input, errors)
    }
}

/// The certificates as CSV in the import's format: exported, edited and imported back, a row
/// left alone is unchanged.
pub fn export_csv(certificates: &[Certificate], header: bool) -> ServiceResult<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    if header {
        writer.write_record(CSV_COLUMNS).map_err(anyhow::Error::from)?;
    }
    for certificate in certificates {
        writer.serialize(CertificateRow::of(certificate)).map_err(anyhow::Error::from)?;
    }
    Ok(writer.into_inner().map_err(|error| anyhow::anyhow!("{error}"))?)
}

/// The field of a row (a CSV column, a form field) that holds a certificate field.
pub fn row_field(path: &str) -> String {
    let head = path.split('[').next().unwrap_or(path);
    match head {
        "operator.name" => "operator_name",
        "operator.identifiers" => "identifiers",
        "operator.public" => "public",
        "operator.address" | "operator" => "street",
        _ => head.strip_prefix("operator.address.").unwrap_or(head),
    }
    .to_owned()
}
