//! A certificate as its history keeps it after each change: a type of its own, with its own
//! names and a version, so that the API's view of a certificate can change without rewriting
//! history, and without changing what partners are signed (statements of past changes are made
//! from these snapshots). Every version ever written reads back ([`read`]).
//!
//! - version 0 (no `v`): written until migration 000009, the API view of the certificate as it
//!   then was (`version` and `updated_at` besides, which are not kept);
//! - version 1 (`"v": 1`): [`Snapshot`].

use aeo_domain::{Category, Role, Status};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::certificates::Certificate;
use super::{StoreError, StoreResult};

/// The version written now.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub number: String,
    pub administration: String,
    /// As it stood then, expiry derived.
    pub status: Status,
    pub category: Category,
    pub roles: Vec<Role>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub status_reason: Option<String>,
    pub operator: SnapshotOperator,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotOperator {
    pub name: String,
    pub identifiers: Vec<SnapshotIdentifier>,
    pub address: SnapshotAddress,
    pub public: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotIdentifier {
    pub scheme: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotAddress {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl From<&Certificate> for Snapshot {
    fn from(certificate: &Certificate) -> Self {
        let operator = &certificate.operator;
        Snapshot {
            number: certificate.number.clone(),
            administration: certificate.administration.clone(),
            status: certificate.status,
            category: certificate.category,
            roles: certificate.roles.clone(),
            valid_from: certificate.valid_from,
            valid_until: certificate.valid_until,
            status_reason: certificate.status_reason.clone(),
            operator: SnapshotOperator {
                name: operator.name.clone(),
                identifiers: operator
                    .identifiers
                    .iter()
                    .map(|id| SnapshotIdentifier { scheme: id.scheme.clone(), value: id.value.clone() })
                    .collect(),
                address: SnapshotAddress {
                    street: operator.address.street.clone(),
                    city: operator.address.city.clone(),
                    postal_code: operator.address.postal_code.clone(),
                    country: operator.address.country.clone(),
                },
                public: operator.public,
            },
        }
    }
}

#[derive(Serialize)]
struct Written<'a> {
    v: u32,
    #[serde(flatten)]
    snapshot: &'a Snapshot,
}

#[derive(Deserialize)]
struct Read {
    v: Option<u32>,
    #[serde(flatten)]
    snapshot: Snapshot,
}

/// The stored form of `snapshot`, in the current version.
pub fn write(snapshot: &Snapshot) -> StoreResult<String> {
    Ok(serde_json::to_string(&Written { v: VERSION, snapshot })?)
}

/// A stored snapshot of any version.
pub fn read(stored: &str) -> StoreResult<Snapshot> {
    let read: Read = serde_json::from_str(stored)?;
    match read.v {
        // Version 0 holds the same fields under the same names (and two more, not kept).
        None | Some(VERSION) => Ok(read.snapshot),
        Some(other) => Err(StoreError::inconsistent(format!("a snapshot of unknown version {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Snapshot {
        Snapshot {
            number: "CL-OEA-0001".into(),
            administration: "CL".into(),
            status: Status::Suspended,
            category: Category::Security,
            roles: vec![Role::Exporter, Role::Carrier],
            valid_from: "2024-01-15".parse().expect("date"),
            valid_until: "2027-01-14".parse().expect("date"),
            status_reason: Some("Investigación en curso".into()),
            operator: SnapshotOperator {
                name: "Exportadora Andina SpA".into(),
                identifiers: vec![SnapshotIdentifier { scheme: "CL-RUT".into(), value: "76086428-5".into() }],
                address: SnapshotAddress {
                    street: "Av. Libertad 1200".into(),
                    city: "Viña del Mar".into(),
                    postal_code: "2520000".into(),
                    country: "CL".into(),
                },
                public: true,
            },
        }
    }

    /// Exactly as version 0 was written: the API view of a certificate.
    const VERSION_0: &str = r#"{"number":"CL-OEA-0001","administration":"CL","status":"suspended","category":"security","roles":["exporter","carrier"],"valid_from":"2024-01-15","valid_until":"2027-01-14","status_reason":"Investigación en curso","operator":{"name":"Exportadora Andina SpA","identifiers":[{"scheme":"CL-RUT","value":"76086428-5"}],"address":{"street":"Av. Libertad 1200","city":"Viña del Mar","postal_code":"2520000","country":"CL"},"public":true},"version":3,"updated_at":"2026-12-01T10:00:00Z"}"#;

    /// Exactly as version 1 is written.
    const VERSION_1: &str = r#"{"v":1,"number":"CL-OEA-0001","administration":"CL","status":"suspended","category":"security","roles":["exporter","carrier"],"valid_from":"2024-01-15","valid_until":"2027-01-14","status_reason":"Investigación en curso","operator":{"name":"Exportadora Andina SpA","identifiers":[{"scheme":"CL-RUT","value":"76086428-5"}],"address":{"street":"Av. Libertad 1200","city":"Viña del Mar","postal_code":"2520000","country":"CL"},"public":true}}"#;

    #[test]
    fn every_stored_version_reads_back_to_the_same_certificate() {
        assert_eq!(read(VERSION_0).expect("version 0"), expected());
        assert_eq!(read(VERSION_1).expect("version 1"), expected());
        assert!(read(&VERSION_1.replace(r#""v":1"#, r#""v":2"#)).is_err(), "an unknown version reads as nothing");
    }

    #[test]
    fn what_is_written_is_the_snapshot_type_alone() {
        // Byte for byte: a change to the API's view of a certificate cannot change it.
        assert_eq!(write(&expected()).expect("written"), VERSION_1);
    }
}
