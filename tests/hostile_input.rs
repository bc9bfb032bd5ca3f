//! Property tests of every parser of outside input: identifiers of every scheme, CSV and JSON
//! imports, JSON request bodies, merge patches, tokens and assertions, statements, pushed events
//! and query strings. Each input, well-formed or not, must be answered without a panic, and every
//! refusal must be a 4xx that names what is wrong (`aeo_registry::hostile`).
//!
//! Each property runs 256 cases in every test run; `PROPTEST_CASES=100000 cargo test --release
//! --test hostile_input` runs more. The fuzz targets in `fuzz/` run the same checks on millions
//! of inputs (see the README).

use aeo_registry::hostile;
use proptest::prelude::*;
use serde_json::{Value, json};

const SCHEMES: &[&str] = &["CL-RUT", "CO-NIT", "MX-RFC", "PE-RUC", "EORI", "LEI", "AR-TIN", "XX", "", "cl-rut", "TIN"];

/// Text a person or a program might send: printable ASCII, digits and separators, any Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9kK.\\- ]{0,16}", "[ -~]{0,40}", any::<String>(), Just(String::new()), "[A-Z]{2}[0-9A-Z ]{0,20}",]
}

/// Any JSON value, nested a few levels, with the field names the API reads among its keys.
fn json_value() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        prop::sample::select(vec![
            "number",
            "category",
            "roles",
            "valid_from",
            "valid_until",
            "operator",
            "name",
            "identifiers",
            "scheme",
            "value",
            "address",
            "street",
            "city",
            "postal_code",
            "country",
            "public",
            "status",
            "reason",
            "email",
            "password",
            "role",
            "display_name",
            "operator_identifier",
            "title",
            "signed_on",
            "in_force_from",
            "categories",
            "base_url",
            "jwks",
            "keys",
            "thumbprints",
            "items",
            "seq",
            "statement",
            "code",
            "programme",
            "disabled",
            "current_password",
            "new_password",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
        prop::sample::select(vec![
            "2024-01-15",
            "2027-02-30",
            "security",
            "full",
            "simplification",
            "exporter",
            "importer",
            "active",
            "suspended",
            "revoked",
            "in_force",
            "CL-RUT:76086428-5",
            "76.086.428-5",
            "customs_admin",
            "trader",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A CSV import: a header that is usually right, then rows of plausible and hostile fields.
fn csv_body() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        4 => Just("number,category,roles,valid_from,valid_until,operator_name,identifiers,street,city,postal_code,country,public".to_owned()),
        1 => "[a-z_,]{0,80}",
    ];
    let field = prop_oneof![
        text(),
        prop::sample::select(vec![
            "security",
            "exporter;importer",
            "2024-01-01",
            "2030-01-01",
            "CL-RUT:76086428-5",
            "LEI:5493001KJTIIGC8Y1R12",
            "true",
            "false",
            "\"quoted, field\"",
            "\"unterminated",
            "=cmd|' /C calc'!A0",
            "",
        ])
        .prop_map(str::to_owned),
    ];
    let row = prop::collection::vec(field, 0..14).prop_map(|fields| fields.join(","));
    (header, prop::collection::vec(row, 0..6), prop::sample::select(vec!["\n", "\r\n", "\r"]))
        .prop_map(|(header, rows, newline)| format!("{header}{newline}{}", rows.join(newline)).into_bytes())
}

/// A compact JWS-shaped string: three segments of base64url text, or a mutated real statement.
fn token() -> impl Strategy<Value = String> {
    let segment = "[A-Za-z0-9_\\-]{0,60}";
    prop_oneof![
        (segment, segment, segment).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (0usize..400, any::<u8>()).prop_map(|(at, byte)| {
            let mut bytes = hostile::sample_statement().into_bytes();
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }),
        Just(hostile::sample_statement()),
        text(),
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..600)
}

proptest! {
    #[test]
    fn identifiers_of_every_scheme(scheme in prop::sample::select(SCHEMES), value in text(), raw in bytes()) {
        prop_assert_eq!(hostile::identifier(format!("{scheme}:{value}").as_bytes()), Ok(()));
        prop_assert_eq!(hostile::identifier(&raw), Ok(()));
    }

    #[test]
    fn csv_imports(body in csv_body(), raw in bytes()) {
        prop_assert_eq!(hostile::import(&body), Ok(()));
        prop_assert_eq!(hostile::import(&raw), Ok(()));
    }

    #[test]
    fn json_imports(rows in prop::collection::vec(json_value(), 0..4)) {
        prop_assert_eq!(hostile::import(Value::Array(rows).to_string().as_bytes()), Ok(()));
    }

    #[test]
    fn json_request_bodies(value in json_value(), raw in bytes()) {
        prop_assert_eq!(hostile::json_bodies(value.to_string().as_bytes()), Ok(()));
        prop_assert_eq!(hostile::json_bodies(&raw), Ok(()));
    }

    #[test]
    fn merge_patches(patch in json_value()) {
        prop_assert_eq!(hostile::merge_patch(patch.to_string().as_bytes()), Ok(()));
    }

    #[test]
    fn tokens_assertions_and_statements(token in token()) {
        prop_assert_eq!(hostile::tokens(token.as_bytes()), Ok(()));
    }

    #[test]
    fn pushed_events(items in prop::collection::vec((any::<i64>(), token()), 0..4), extra in json_value()) {
        let items: Vec<Value> = items.into_iter().map(|(seq, statement)| json!({"seq": seq, "statement": statement})).collect();
        prop_assert_eq!(hostile::pushed_events(json!({"items": items}).to_string().as_bytes()), Ok(()));
        prop_assert_eq!(hostile::pushed_events(extra.to_string().as_bytes()), Ok(()));
    }

    #[test]
    fn query_strings(pairs in prop::collection::vec((prop::sample::select(vec!["issuer", "certificate", "identifier", "limit", "cursor", "x"]), text()), 0..5)) {
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        prop_assert_eq!(hostile::queries(query.as_bytes()), Ok(()));
    }
}

/// The checks themselves catch what they are meant to: a refusal that names nothing.
#[test]
fn a_refusal_that_names_nothing_is_caught() {
    let unnamed = aeo_registry::error::ApiError::Invalid(Vec::new());
    assert!(hostile::refusal(unnamed).is_err());
    let internal = aeo_registry::error::ApiError::Internal(anyhow_error());
    assert!(hostile::refusal(internal).is_err());
    assert!(hostile::refusal(aeo_registry::error::ApiError::field("q", "is too short")).is_ok());
}

fn anyhow_error() -> anyhow::Error {
    anyhow::anyhow!("an internal failure")
}
