//! The signed objects of the federation protocol, all compact JWS with `EdDSA` only:
//! assertions (who calls whom), status statements, checkpoints and recognition answers.

use aeo_domain::{Category, Role, Status};
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDate, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys::SigningKey;
use crate::store::certificates::Certificate;
use crate::store::snapshot::Snapshot;

pub const STATEMENT_TYP: &str = "aeo-status+jwt";
pub const CHECKPOINT_TYP: &str = "aeo-checkpoint+jwt";
pub const ANSWER_TYP: &str = "aeo-recognition+jwt";
pub const KEYS_TYP: &str = "aeo-keys+jwt";
pub const ASSERTION_TYP: &str = "JWT";

/// An assertion lives at most this long.
pub const ASSERTION_LIFETIME_SECS: i64 = 60;
/// Clock difference tolerated between nodes.
pub const CLOCK_SKEW_SECS: u64 = 5;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoseError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("unexpected token type")]
    WrongType,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid signature or claims: {0}")]
    Invalid(String),
}

/// A compact JWS of `claims`, of type `typ`, signed with `key`. Written here rather than by
/// `jsonwebtoken::encode`, which reads its key again from PKCS#8 for every token: that derives
/// the public key each time, which costs as much as the signature itself.
fn sign<T: Serialize>(key: &SigningKey, typ: &str, claims: &T) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct JwsHeader<'a> {
        typ: &'a str,
        alg: &'a str,
        kid: &'a str,
    }
    let header = serde_json::to_vec(&JwsHeader { typ, alg: "EdDSA", kid: &key.kid })?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// Only Ed25519 public keys can ever verify anything here, whatever a JWK Set holds.
pub fn ed25519_keys(set: &JwkSet) -> impl Iterator<Item = &Jwk> {
    set.keys.iter().filter(|jwk| {
        matches!(&jwk.algorithm, AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519)
            && jwk.common.key_id.is_some()
    })
}

/// What a token must say of itself besides its type and signature.
struct Expected<'a> {
    issuer: &'a str,
    audience: Option<&'a str>,
    subject: Option<&'a str>,
    /// Whether a token past its `exp` (and the clock skew) still verifies.
    allow_expired: bool,
}

/// The registered claims of a token type, as [`verify`] checks them.
trait Registered {
    fn iss(&self) -> &str;
    fn exp(&self) -> i64;
    fn aud(&self) -> Option<&str> {
        None
    }
    fn sub(&self) -> Option<&str> {
        None
    }
}

/// Implements [`Registered`] for a claims type of fields `iss` and `exp`, and of those of
/// `aud` and `sub` named.
macro_rules! registered {
    ($claims:ty $(, $optional:ident)*) => {
        impl Registered for $claims {
            fn iss(&self) -> &str {
                &self.iss
            }
            fn exp(&self) -> i64 {
                self.exp
            }
            $(fn $optional(&self) -> Option<&str> {
                Some(&self.$optional)
            })*
        }
    };
}

registered!(AssertionClaims, aud, sub);
registered!(StatementClaims, sub);
registered!(CheckpointClaims);
registered!(KeysClaims);
registered!(AnswerClaims, aud);

/// Verifies a compact JWS of type `typ` with the key of `keys` its header names, then reads
/// and checks its claims. Written here rather than through `jsonwebtoken::decode`, which reads
/// the header twice (once by the caller, to find the key), builds a verifier, and reads the
/// claims twice (once untyped, to validate them) for every token: on the federation's hot paths
/// that took a tenth of what the Ed25519 verification itself takes.
fn verify<T: DeserializeOwned + Registered>(
    token: &str,
    typ: &str,
    keys: &JwkSet,
    expected: Expected,
) -> Result<T, JoseError> {
    #[derive(Deserialize)]
    struct JwsHeader {
        alg: String,
        typ: Option<String>,
        kid: Option<String>,
        /// Extensions a verifier must understand (RFC 7515, 4.1.11): this one knows none.
        crit: Option<serde::de::IgnoredAny>,
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(JoseError::Malformed)?;
    let (header, payload) =
        signing_input.split_once('.').filter(|(_, payload)| !payload.contains('.')).ok_or(JoseError::Malformed)?;
    let header: JwsHeader = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(JoseError::Malformed)?;
    if header.crit.is_some() {
        return Err(JoseError::Invalid("critical header extensions are not understood".into()));
    }
    if header.alg != "EdDSA" {
        return Err(JoseError::Invalid("algorithm must be EdDSA".into()));
    }
    if header.typ.as_deref() != Some(typ) {
        return Err(JoseError::WrongType);
    }
    let kid = header.kid.ok_or(JoseError::UnknownKey)?;
    let public_key = ed25519_keys(keys)
        .find(|jwk| jwk.common.key_id.as_deref() == Some(kid.as_str()))
        .and_then(|jwk| match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) => URL_SAFE_NO_PAD.decode(&okp.x).ok(),
            _ => None,
        })
        .ok_or(JoseError::UnknownKey)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| JoseError::Malformed)?;
    UnparsedPublicKey::new(&ED25519, &public_key)
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| JoseError::Invalid("invalid signature".into()))?;
    let claims: T = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| JoseError::Invalid("claims missing or malformed".into()))?;
    if claims.iss() != expected.issuer {
        return Err(JoseError::Invalid("wrong issuer".into()));
    }
    if expected.audience.is_some_and(|audience| claims.aud() != Some(audience)) {
        return Err(JoseError::Invalid("wrong audience".into()));
    }
    if expected.subject.is_some_and(|subject| claims.sub() != Some(subject)) {
        return Err(JoseError::Invalid("wrong subject".into()));
    }
    if !expected.allow_expired && claims.exp() < Utc::now().timestamp() - CLOCK_SKEW_SECS as i64 {
        return Err(JoseError::Invalid("expired".into()));
    }
    Ok(claims)
}

/// The `iss` a token claims, before anything is verified: only to find whose keys to use.
pub fn claimed_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: String,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Issuer>(token).ok().map(|claims| claims.iss)
}

/// Who calls whom: `iss` = `sub` = the calling administration, `aud` = the asked one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

pub fn sign_assertion(key: &SigningKey, from: &str, to: &str) -> anyhow::Result<String> {
    let iat = Utc::now().timestamp();
    let claims = AssertionClaims {
        iss: from.to_owned(),
        sub: from.to_owned(),
        aud: to.to_owned(),
        iat,
        exp: iat + ASSERTION_LIFETIME_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    sign(key, ASSERTION_TYP, &claims)
}

/// Verifies an assertion from `issuer` (whose pinned keys are given) to `audience`. Replay is
/// checked by the caller, which remembers `jti`.
pub fn verify_assertion(
    token: &str,
    issuer: &str,
    audience: &str,
    keys: &JwkSet,
) -> Result<AssertionClaims, JoseError> {
    let expected = Expected { issuer, audience: Some(audience), subject: Some(issuer), allow_expired: false };
    let claims: AssertionClaims = verify(token, ASSERTION_TYP, keys, expected)?;
    let now = Utc::now().timestamp();
    let skew = CLOCK_SKEW_SECS as i64;
    if claims.exp - claims.iat > ASSERTION_LIFETIME_SECS
        || claims.iat > now + skew
        || claims.jti.is_empty()
        || claims.jti.len() > 200
    {
        return Err(JoseError::Invalid("assertion lifetime, issue time or jti out of bounds".into()));
    }
    Ok(claims)
}

/// The operator as a statement shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementOperator {
    pub name: String,
    pub identifiers: Vec<StatementIdentifier>,
}

/// An identifier as a statement shows it: the protocol's own type, whatever the API's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementIdentifier {
    pub scheme: String,
    pub value: String,
}

/// What a statement says of a certificate: the fields of the contract's statement claims
/// besides `iss`, `sub`, `iat`, `exp` and `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateFacts {
    pub status: Status,
    pub category: Category,
    pub roles: Vec<Role>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub status_reason: Option<String>,
    pub operator: StatementOperator,
}

impl CertificateFacts {
    /// Whether two statements of one change say the same thing. The status a statement carries
    /// is derived for the day it was signed (`expired` once `valid_until` has passed), so the
    /// same change signed before and after that day differs there and nowhere else: compared
    /// as of today, they agree.
    pub fn same_change(&self, other: &CertificateFacts, today: NaiveDate) -> bool {
        let effective = |facts: &CertificateFacts| Status::effective(facts.status, facts.valid_until, today);
        effective(self) == effective(other) && CertificateFacts { status: other.status, ..self.clone() } == *other
    }
}

/// A certificate's status, signed by its issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementClaims {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub seq: i64,
    #[serde(flatten)]
    pub facts: CertificateFacts,
}

/// A certificate as a statement says it: who issued it, its number and its facts.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateState {
    pub number: String,
    pub administration: String,
    pub facts: CertificateFacts,
}

impl From<&Snapshot> for CertificateState {
    fn from(snapshot: &Snapshot) -> Self {
        CertificateState {
            number: snapshot.number.clone(),
            administration: snapshot.administration.clone(),
            facts: CertificateFacts {
                status: snapshot.status,
                category: snapshot.category,
                roles: snapshot.roles.clone(),
                valid_from: snapshot.valid_from,
                valid_until: snapshot.valid_until,
                status_reason: snapshot.status_reason.clone(),
                operator: StatementOperator {
                    name: snapshot.operator.name.clone(),
                    identifiers: snapshot
                        .operator
                        .identifiers
                        .iter()
                        .map(|id| StatementIdentifier { scheme: id.scheme.clone(), value: id.value.clone() })
                        .collect(),
                },
            },
        }
    }
}

impl From<&Certificate> for CertificateState {
    fn from(certificate: &Certificate) -> Self {
        CertificateState {
            number: certificate.number.clone(),
            administration: certificate.administration.clone(),
            facts: CertificateFacts {
                status: certificate.status,
                category: certificate.category,
                roles: certificate.roles.clone(),
                valid_from: certificate.valid_from,
                valid_until: certificate.valid_until,
                status_reason: certificate.status_reason.clone(),
                operator: StatementOperator {
                    name: certificate.operator.name.clone(),
                    identifiers: certificate
                        .operator
                        .identifiers
                        .iter()
                        .map(|id| StatementIdentifier { scheme: id.scheme.clone(), value: id.value.clone() })
                        .collect(),
                },
            },
        }
    }
}

pub fn sign_statement(key: &SigningKey, state: &CertificateState, seq: i64, ttl_secs: i64) -> anyhow::Result<String> {
    let iat = Utc::now().timestamp();
    let claims = StatementClaims {
        iss: state.administration.clone(),
        sub: state.number.clone(),
        iat,
        exp: iat + ttl_secs,
        seq,
        facts: state.facts.clone(),
    };
    sign(key, STATEMENT_TYP, &claims)
}

/// Verifies a statement of `issuer`. With `allow_expired`, a statement past its freshness still
/// verifies (the mirror keeps the last known status; freshness is judged when it is used).
pub fn verify_statement(
    token: &str,
    issuer: &str,
    keys: &JwkSet,
    allow_expired: bool,
) -> Result<StatementClaims, JoseError> {
    let expected = Expected { issuer, audience: None, subject: None, allow_expired };
    let claims: StatementClaims = verify(token, STATEMENT_TYP, keys, expected)?;
    issued_by_now(claims.iat)?;
    Ok(claims)
}

/// Something signed "in the future" would stay fresh longer than its issuer could have meant.
fn issued_by_now(iat: i64) -> Result<(), JoseError> {
    if iat > Utc::now().timestamp() + CLOCK_SKEW_SECS as i64 {
        return Err(JoseError::Invalid("issued in the future".into()));
    }
    Ok(())
}

/// What an issuer signs for anyone (no audience), unexpired.
fn issued_by(issuer: &str) -> Expected<'_> {
    Expected { issuer, audience: None, subject: None, allow_expired: false }
}

/// The latest position of an issuer's change sequence, signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointClaims {
    pub iss: String,
    pub seq: i64,
    pub iat: i64,
    pub exp: i64,
}

pub fn sign_checkpoint(key: &SigningKey, issuer: &str, seq: i64, ttl_secs: i64) -> anyhow::Result<String> {
    let iat = Utc::now().timestamp();
    sign(key, CHECKPOINT_TYP, &CheckpointClaims { iss: issuer.to_owned(), seq, iat, exp: iat + ttl_secs })
}

pub fn verify_checkpoint(token: &str, issuer: &str, keys: &JwkSet) -> Result<CheckpointClaims, JoseError> {
    let claims: CheckpointClaims = verify(token, CHECKPOINT_TYP, keys, issued_by(issuer))?;
    issued_by_now(claims.iat)?;
    Ok(claims)
}

/// An issuer's next signing keys, announced before they sign and signed by a key that signs now:
/// a follower that trusts the signing key can trust them without a new comparison out of band.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysClaims {
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    /// The public keys to come.
    pub keys: JwkSet,
    /// When they start signing (seconds since the epoch); the current key signs until then.
    pub signs_from: i64,
}

pub fn sign_keys(
    key: &SigningKey,
    issuer: &str,
    next: JwkSet,
    signs_from: i64,
    ttl_secs: i64,
) -> anyhow::Result<String> {
    let iat = Utc::now().timestamp();
    sign(key, KEYS_TYP, &KeysClaims { iss: issuer.to_owned(), iat, exp: iat + ttl_secs, keys: next, signs_from })
}

pub fn verify_keys(token: &str, issuer: &str, keys: &JwkSet) -> Result<KeysClaims, JoseError> {
    let claims: KeysClaims = verify(token, KEYS_TYP, keys, issued_by(issuer))?;
    issued_by_now(claims.iat)?;
    Ok(claims)
}

/// A recognition answer signed by the administration that gave it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The recognition answer's own fields (`recognized`, `at`, `issuer`, `reasons`, ...).
    #[serde(flatten)]
    pub answer: serde_json::Map<String, serde_json::Value>,
}

pub fn sign_answer(
    key: &SigningKey,
    at: &str,
    audience: &str,
    answer: serde_json::Map<String, serde_json::Value>,
    ttl_secs: i64,
) -> anyhow::Result<String> {
    let iat = Utc::now().timestamp();
    sign(
        key,
        ANSWER_TYP,
        &AnswerClaims { iss: at.to_owned(), aud: audience.to_owned(), iat, exp: iat + ttl_secs, answer },
    )
}

pub fn verify_answer(token: &str, at: &str, audience: &str, keys: &JwkSet) -> Result<AnswerClaims, JoseError> {
    verify(
        token,
        ANSWER_TYP,
        keys,
        Expected { issuer: at, audience: Some(audience), subject: None, allow_expired: false },
    )
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    use super::*;

    fn facts(status: Status, valid_until: &str, name: &str) -> CertificateFacts {
        CertificateFacts {
            status,
            category: Category::Security,
            roles: vec![Role::Exporter],
            valid_from: "2020-01-01".parse().expect("date"),
            valid_until: valid_until.parse().expect("date"),
            status_reason: None,
            operator: StatementOperator { name: name.into(), identifiers: Vec::new() },
        }
    }

    #[test]
    fn one_change_signed_before_and_after_its_expiry_says_the_same() {
        let today: NaiveDate = "2026-12-02".parse().expect("date");
        let before = facts(Status::Active, "2026-06-30", "Andina SpA");
        let after = facts(Status::Expired, "2026-06-30", "Andina SpA");
        assert!(before.same_change(&after, today) && after.same_change(&before, today));
        // Before the date, active and expired are different facts; so are other changes.
        assert!(
            !facts(Status::Active, "2027-06-30", "A").same_change(&facts(Status::Expired, "2027-06-30", "A"), today)
        );
        assert!(!before.same_change(&facts(Status::Active, "2026-06-30", "Otra SpA"), today));
        assert!(
            !facts(Status::Active, "2027-06-30", "A").same_change(&facts(Status::Suspended, "2027-06-30", "A"), today)
        );
        assert!(
            !facts(Status::Revoked, "2026-06-30", "A").same_change(&facts(Status::Expired, "2026-06-30", "A"), today)
        );
    }

    #[test]
    fn a_statement_says_what_the_protocol_names_whatever_the_api_view_calls_it() {
        let snapshot: crate::store::snapshot::Snapshot = serde_json::from_str(
            r#"{"number":"CL-OEA-0001","administration":"CL","status":"suspended","category":"security",
                "roles":["exporter"],"valid_from":"2024-01-15","valid_until":"2027-01-14","status_reason":"Auditoría",
                "operator":{"name":"Exportadora Andina SpA","identifiers":[{"scheme":"CL-RUT","value":"76086428-5"}],
                "address":{"street":"Av. Libertad 1200","city":"Viña del Mar","postal_code":"2520000","country":"CL"},"public":false}}"#,
        )
        .expect("snapshot");
        let (key, keys) = SigningKey::ephemeral().expect("key");
        let token = sign_statement(&key, &CertificateState::from(&snapshot), 7, 300).expect("signed");
        let claims = verify_statement(&token, "CL", &keys, false).expect("verified");
        let mut said = serde_json::to_value(&claims).expect("json");
        let object = said.as_object_mut().expect("object");
        assert!(object.remove("iat").is_some() && object.remove("exp").is_some());
        // Field for field the contract's statement claims, and nothing the API view adds
        // (address, consent, version).
        assert_eq!(
            said,
            serde_json::json!({"iss": "CL", "sub": "CL-OEA-0001", "seq": 7, "status": "suspended",
                "category": "security", "roles": ["exporter"], "valid_from": "2024-01-15",
                "valid_until": "2027-01-14", "status_reason": "Auditoría",
                "operator": {"name": "Exportadora Andina SpA",
                             "identifiers": [{"scheme": "CL-RUT", "value": "76086428-5"}]}})
        );
    }

    /// Every way a token can fail to be what it must be is refused, and each for its reason.
    #[test]
    fn a_token_verifies_only_with_its_type_key_signature_issuer_audience_subject_and_time() {
        let (key, keys) = SigningKey::ephemeral().expect("key");
        let (other, other_keys) = SigningKey::ephemeral().expect("other key");
        let token = sign_assertion(&key, "CL", "PE").expect("signed");
        assert_eq!(verify_assertion(&token, "CL", "PE", &keys).expect("verifies").aud, "PE");
        // Another key, or none of the set: unknown. Another issuer or audience: invalid.
        assert_eq!(verify_assertion(&token, "CL", "PE", &other_keys).err(), Some(JoseError::UnknownKey));
        assert!(matches!(verify_assertion(&token, "AR", "PE", &keys), Err(JoseError::Invalid(_))));
        assert!(matches!(verify_assertion(&token, "CL", "AR", &keys), Err(JoseError::Invalid(_))));
        // A statement is not an assertion, whoever signed it.
        let state = CertificateState {
            number: "CL-1".into(),
            administration: "CL".into(),
            facts: facts(Status::Active, "2030-01-01", "A"),
        };
        let statement = sign_statement(&key, &state, 1, 300).expect("signed");
        assert_eq!(verify_assertion(&statement, "CL", "PE", &keys).err(), Some(JoseError::WrongType));
        assert!(matches!(verify_statement(&statement, "AR", &keys, false), Err(JoseError::Invalid(_))));
        // A changed byte anywhere, a part too many or too few: refused.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = jws(
            parts[0],
            &URL_SAFE_NO_PAD.encode(br#"{"iss":"CL","sub":"CL","aud":"PE","iat":1,"exp":9999999999,"jti":"x"}"#),
            parts[2],
        );
        assert!(matches!(verify_assertion(&forged, "CL", "PE", &keys), Err(JoseError::Invalid(_))));
        for malformed in [parts[..2].join("."), format!("{token}.{}", parts[2]), "a.b".into(), String::new()] {
            assert!(verify_assertion(&malformed, "CL", "PE", &keys).is_err(), "{malformed}");
        }
        // Another algorithm named in the header, or none: refused before any key is looked at.
        for alg in ["none", "HS256", "ES256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"typ":"JWT","alg":"{alg}","kid":"{}"}}"#, key.kid));
            let token = jws(&header, parts[1], parts[2]);
            assert!(matches!(verify_assertion(&token, "CL", "PE", &keys), Err(JoseError::Invalid(_))), "{alg}");
        }
        // A critical extension this verifier does not know: refused, even when well signed.
        let header = URL_SAFE_NO_PAD
            .encode(format!(r#"{{"typ":"JWT","alg":"EdDSA","kid":"{}","crit":["b64"],"b64":false}}"#, key.kid));
        let input = format!("{header}.{}", parts[1]);
        let critical = format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes())));
        assert!(matches!(verify_assertion(&critical, "CL", "PE", &keys), Err(JoseError::Invalid(_))));
        // Signed by another key under this key's kid: the signature fails.
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"typ":"JWT","alg":"EdDSA","kid":"{}"}}"#, key.kid));
        let input = format!("{header}.{}", parts[1]);
        let signature = URL_SAFE_NO_PAD.encode(other.sign(input.as_bytes()));
        assert!(matches!(
            verify_assertion(&format!("{input}.{signature}"), "CL", "PE", &keys),
            Err(JoseError::Invalid(_))
        ));
        // An assertion for someone else than its issuer.
        let now = Utc::now().timestamp();
        let claims = AssertionClaims {
            iss: "CL".into(),
            sub: "AR".into(),
            aud: "PE".into(),
            iat: now,
            exp: now + 30,
            jti: "j".into(),
        };
        let token = sign(&key, ASSERTION_TYP, &claims).expect("signed");
        assert!(matches!(verify_assertion(&token, "CL", "PE", &keys), Err(JoseError::Invalid(_))));
        // Expired past the clock skew: refused; within it: accepted; a statement may be let expire.
        let expired_at = |exp: i64| {
            let claims = AssertionClaims { sub: "CL".into(), iat: exp - 30, exp, ..claims.clone() };
            verify_assertion(&sign(&key, ASSERTION_TYP, &claims).expect("signed"), "CL", "PE", &keys)
        };
        assert!(expired_at(now - 2).is_ok());
        assert!(matches!(expired_at(now - CLOCK_SKEW_SECS as i64 - 2), Err(JoseError::Invalid(_))));
        let stale = sign_statement(&key, &state, 1, -60).expect("signed");
        assert!(verify_statement(&stale, "CL", &keys, false).is_err());
        assert_eq!(verify_statement(&stale, "CL", &keys, true).expect("kept").sub, "CL-1");
    }

    fn jws(header: &str, payload: &str, signature: &str) -> String {
        format!("{header}.{payload}.{signature}")
    }

    /// The compact JWS made here is the standard one: a general library verifies it with the
    /// published key alone, and its header says its type, algorithm and key; a changed byte of
    /// any part fails.
    #[test]
    fn a_signed_token_verifies_with_a_general_jws_library_and_fails_when_changed() {
        let (key, keys) = SigningKey::ephemeral().expect("key");
        let token = sign_assertion(&key, "CL", "PE").expect("signed");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(
            (header.alg, header.typ.as_deref(), header.kid.as_deref()),
            (Algorithm::EdDSA, Some(ASSERTION_TYP), Some(key.kid.as_str()))
        );
        let decoding = DecodingKey::from_jwk(&keys.keys[0]).expect("public key");
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["PE"]);
        let claims = jsonwebtoken::decode::<AssertionClaims>(&token, &decoding, &validation).expect("verifies");
        assert_eq!((claims.claims.iss.as_str(), claims.claims.aud.as_str()), ("CL", "PE"));
        for part in 0..3 {
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            let flipped = if parts[part].starts_with('A') { "B" } else { "A" };
            parts[part].replace_range(0..1, flipped);
            let changed = parts.join(".");
            assert!(jsonwebtoken::decode::<AssertionClaims>(&changed, &decoding, &validation).is_err(), "part {part}");
        }
    }
}
