//! How every parser of outside input must answer whatever it is given: never a panic, and every
//! refusal a client error (4xx) that names what is wrong (a field, or a row and a field). Each
//! check takes the bytes an outsider controls and says what it found wrong, if anything.
//!
//! Run by the property tests (`tests/hostile_input.rs`, part of every test run) and by the fuzz
//! targets (`fuzz/`, millions of inputs; see the README).

use std::sync::LazyLock;

use aeo_domain::{CertificateDraft, CertificateInput, MraDraft, MraInput, OperatorId};
use axum::response::IntoResponse;
use jsonwebtoken::jwk::JwkSet;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::extract::parse_json;
use crate::error::ApiError;
use crate::federation::jose;
use crate::service::import::Format;

/// What a check found wrong.
pub type Found = Result<(), String>;

/// A refusal must be a 4xx problem that names every invalid field (and row, for an import).
pub fn refusal(error: ApiError) -> Found {
    let described = format!("{error:?}");
    let named = match &error {
        ApiError::Invalid(errors) => {
            !errors.is_empty() && errors.iter().all(|e| !e.field.is_empty() && !e.message.is_empty())
        }
        ApiError::InvalidRows(errors) => {
            !errors.is_empty() && errors.iter().all(|e| e.row >= 1 && !e.field.is_empty() && !e.message.is_empty())
        }
        ApiError::BadRequest(detail) | ApiError::Conflict(detail) => !detail.is_empty(),
        ApiError::Unauthorized | ApiError::NotFound | ApiError::PayloadTooLarge => true,
        _ => false,
    };
    let status = error.into_response().status();
    if !status.is_client_error() || !named {
        return Err(format!("refused as {status}, naming nothing: {described}"));
    }
    Ok(())
}

/// An identifier as `SCHEME:VALUE`, and as a scheme and a value apart.
pub fn identifier(input: &[u8]) -> Found {
    let text = String::from_utf8_lossy(input);
    let (scheme, value) = text.split_once(':').unwrap_or((&text, ""));
    for parsed in [OperatorId::parse_pair(&text), OperatorId::parse(scheme, value)] {
        match parsed {
            // What is accepted is stored normalised: reading it back gives the same identifier.
            Ok(id) => {
                let again = OperatorId::parse_pair(&id.to_pair()).map_err(|e| format!("{id:?} reads back as {e}"))?;
                if again != id {
                    return Err(format!("{id:?} reads back as {again:?}"));
                }
            }
            Err(error) if error.to_string().is_empty() => return Err(format!("{text:?}: a refusal without a reason")),
            Err(_) => {}
        }
    }
    Ok(())
}

/// An import body, as CSV and as JSON.
pub fn import(input: &[u8]) -> Found {
    for format in [Format::Csv, Format::Json] {
        if let Err(error) = crate::service::import::validate(format, input) {
            refusal(error.into())?;
        }
    }
    Ok(())
}

fn body<T: DeserializeOwned>(input: &[u8]) -> Result<Option<T>, String> {
    match parse_json::<T>(input) {
        Ok(value) => Ok(Some(value)),
        Err(error) => refusal(error).map(|()| None),
    }
}

fn fields(errors: Vec<aeo_domain::FieldError>) -> Found {
    refusal(ApiError::Invalid(errors))
}

/// Every JSON request body the API reads, into its type and then through its validation.
pub fn json_bodies(input: &[u8]) -> Found {
    if let Some(certificate) = body::<CertificateInput>(input)?
        && let Err(errors) = CertificateDraft::parse(&certificate)
    {
        fields(errors)?;
    }
    if let Some(mra) = body::<MraInput>(input)?
        && let Err(errors) = MraDraft::parse(&mra)
    {
        fields(errors)?;
    }
    body::<crate::api::sessions::LoginRequest>(input)?;
    body::<crate::api::sessions::PasswordChange>(input)?;
    body::<crate::api::users::NewUser>(input)?;
    body::<crate::api::users::UserUpdate>(input)?;
    body::<crate::api::administrations::AdministrationInput>(input)?;
    body::<crate::api::certificates::StatusChange>(input)?;
    body::<crate::api::peers::PeerRegistration>(input)?;
    body::<crate::api::peers::KeyConsent>(input)?;
    Ok(())
}

/// A certificate's details, as a merge patch applies to them.
static DETAILS: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "category": "security", "roles": ["exporter"], "valid_from": "2024-01-15", "valid_until": "2027-01-14",
        "operator": {"name": "Exportadora Andina SpA", "identifiers": [{"scheme": "CL-RUT", "value": "76086428-5"}],
                     "address": {"street": "Av. Apoquindo 4501", "city": "Santiago", "postal_code": "7550000",
                                 "country": "CL"}, "public": false}
    })
});

/// A JSON Merge Patch of a certificate, applied as `PATCH .../certificates/{number}` does.
pub fn merge_patch(input: &[u8]) -> Found {
    let Some(patch) = body::<Value>(input)? else { return Ok(()) };
    let mut document = DETAILS.clone();
    json_patch::merge(&mut document, &patch);
    if let Some(certificate) = body::<CertificateInput>(document.to_string().as_bytes())?
        && let Err(errors) = CertificateDraft::parse(&certificate)
    {
        fields(errors)?;
    }
    Ok(())
}

/// Keys that the token checks verify with, and the statement a mutated token starts from.
struct Keys {
    set: JwkSet,
    statement: String,
    tokens: crate::auth::token::TokenKeys,
}

static KEYS: LazyLock<Option<Keys>> = LazyLock::new(|| {
    let (key, set) = crate::federation::keys::SigningKey::ephemeral().ok()?;
    let snapshot: crate::store::snapshot::Snapshot = serde_json::from_value(json!({
        "number": "CL-OEA-0001", "administration": "CL", "status": "active", "category": "security",
        "roles": ["exporter"], "valid_from": "2024-01-15", "valid_until": "2027-01-14", "status_reason": null,
        "operator": {"name": "Exportadora Andina SpA", "identifiers": [], "public": true,
                     "address": {"street": "Av. Libertad 1200", "city": "Viña del Mar", "postal_code": "2520000", "country": "CL"}}
    }))
    .ok()?;
    let state = jose::CertificateState::from(&snapshot);
    let statement = jose::sign_statement(&key, &state, 1, 300).ok()?;
    let tokens = crate::auth::token::TokenKeys::new(b"hostile input checks: a node secret", "http://node.test", 60);
    Some(Keys { set, statement, tokens })
});

/// A signed statement of `CL`, valid, to mutate.
pub fn sample_statement() -> String {
    KEYS.as_ref().map(|keys| keys.statement.clone()).unwrap_or_default()
}

/// A bearer token, a federation assertion, a statement, a checkpoint, a key announcement or a
/// signed answer: every check of one refuses it or verifies it, and none panics. Only what the
/// key signed verifies: the one statement it signed, byte for byte, and nothing of another type.
pub fn tokens(input: &[u8]) -> Found {
    let keys = KEYS.as_ref().ok_or("no keys for the token checks")?;
    let text = String::from_utf8_lossy(input);
    let _ = keys.tokens.bearer(&text);
    let _ = jose::claimed_issuer(&text);
    let _ = jsonwebtoken::dangerous::insecure_decode_claims::<jose::StatementClaims>(&*text);
    let never_signed = [
        jose::verify_assertion(&text, "CL", "PE", &keys.set).is_ok(),
        jose::verify_checkpoint(&text, "CL", &keys.set).is_ok(),
        jose::verify_keys(&text, "CL", &keys.set).is_ok(),
        jose::verify_answer(&text, "CL", "PE", &keys.set).is_ok(),
    ];
    if never_signed.contains(&true) {
        return Err(format!("{text:?} verified, though no such token was signed"));
    }
    for allow_expired in [false, true] {
        if jose::verify_statement(&text, "CL", &keys.set, allow_expired).is_ok() && text != keys.statement {
            return Err(format!("{text:?} verified as a statement, though only another one was signed"));
        }
    }
    Ok(())
}

/// Changes pushed by a peer: the body, then each statement verified as the receiver does.
pub fn pushed_events(input: &[u8]) -> Found {
    let keys = KEYS.as_ref().ok_or("no keys for the token checks")?;
    let Some(events) = body::<crate::federation::protocol::EventsRequest>(input)? else { return Ok(()) };
    for item in &events.items {
        if let Ok(claims) = jose::verify_statement(&item.statement, "CL", &keys.set, false)
            && claims.iss != "CL"
        {
            return Err(format!("a statement of {} verified as CL's", claims.iss));
        }
    }
    Ok(())
}

/// The query strings the API reads: the border question, lists and their pages.
pub fn queries(input: &[u8]) -> Found {
    let text = String::from_utf8_lossy(input);
    if let Ok(question) = serde_urlencoded::from_str::<crate::api::recognition::RecognitionQuery>(&text)
        && let Err(error) = crate::api::recognition::parse_question(&question)
    {
        refusal(error)?;
    }
    if let Ok(page) = serde_urlencoded::from_str::<crate::api::extract::Page>(&text)
        && let Err(error) = page.parse()
    {
        refusal(error)?;
    }
    Ok(())
}
