//! Short-lived access tokens: HS256 JWTs under a key derived from the node secret, with the
//! algorithm pinned and `iss`, `aud`, `exp` always checked. A token names its user and the user's
//! `token_version`, so that disabling the user or changing the password kills every token.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const AUDIENCE: &str = "aeo-registry-api";

/// Clock skew allowed on `exp`.
const LEEWAY_SECS: u64 = 5;

/// Verified tokens remembered at most.
const VERIFIED_CAPACITY: u64 = 100_000;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The user's token version when the token was issued.
    pub ver: i32,
}

/// Whom a verified token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer {
    pub user_id: i64,
    pub token_version: i32,
    expires: i64,
}

pub struct TokenKeys {
    /// Keys the CSRF token of a cookie session: an HMAC of the session's token.
    csrf: aws_lc_rs::hmac::Key,
    /// Tokens already verified: a border officer's tool sends the same token with every
    /// question, and checking its signature and claims again each time costs more than the
    /// answer. Only genuine tokens get in; expiry is still checked on every use.
    verified: Cache<String, Bearer>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    pub ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(node_secret: &[u8], issuer: &str, ttl_secs: u64) -> Self {
        // A key of its own for tokens, so the node secret can serve other purposes safely.
        let key = Sha256::new().chain_update(b"aeo-registry access token key v1").chain_update(node_secret).finalize();
        let csrf = Sha256::new().chain_update(b"aeo-registry csrf key v1").chain_update(node_secret).finalize();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        TokenKeys {
            csrf: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &csrf),
            verified: Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(Duration::from_secs(ttl_secs.max(1)))
                .build(),
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            issuer: issuer.to_string(),
            ttl_secs,
        }
    }

    pub fn issue(&self, user_id: i64, token_version: i32) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            sub: user_id.to_string(),
            iat: now,
            exp: now + i64::try_from(self.ttl_secs)?,
            jti: uuid::Uuid::new_v4().to_string(),
            ver: token_version,
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The holder of a genuine, unexpired token of this node; `None` for anything else.
    pub fn bearer(&self, token: &str) -> Option<Bearer> {
        let now = chrono::Utc::now().timestamp();
        if let Some(bearer) = self.verified.get(token) {
            return (now <= bearer.expires + LEEWAY_SECS as i64).then_some(bearer);
        }
        let claims = self.verify(token)?;
        let bearer = Bearer { user_id: claims.sub.parse().ok()?, token_version: claims.ver, expires: claims.exp };
        self.verified.insert(token.to_owned(), bearer);
        Some(bearer)
    }

    /// The CSRF token of the session whose access token is `session`: bound to that session, so
    /// one taken from another session (or made up) does not match.
    pub fn csrf_token(&self, session: &str) -> String {
        use base64::Engine;
        let tag = aws_lc_rs::hmac::sign(&self.csrf, session.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `carried` is the CSRF token of `session`, compared in constant time.
    pub fn csrf_matches(&self, session: &str, carried: &str) -> bool {
        use subtle::ConstantTimeEq;
        !carried.is_empty() && bool::from(self.csrf_token(session).as_bytes().ct_eq(carried.as_bytes()))
    }

    /// The claims of a genuine, unexpired token of this node; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef", "http://node.test", 60)
    }

    #[test]
    fn an_issued_token_verifies() {
        let keys = keys();
        let token = keys.issue(7, 2).expect("issue");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!((claims.sub.as_str(), claims.ver), ("7", 2));
    }

    #[test]
    fn a_token_names_its_bearer_every_time_it_is_shown() {
        let keys = keys();
        let token = keys.issue(7, 2).expect("issue");
        let first = keys.bearer(&token).expect("genuine");
        assert_eq!((first.user_id, first.token_version), (7, 2));
        assert_eq!(keys.bearer(&token), Some(first), "remembered, the same answer");
        let mut forged = token.clone();
        forged.pop();
        assert_eq!(keys.bearer(&forged), None);
    }

    #[test]
    fn tokens_of_another_node_or_issuer_are_refused() {
        let token = keys().issue(7, 0).expect("issue");
        assert!(TokenKeys::new(b"another secret entirely........", "http://node.test", 60).verify(&token).is_none());
        assert!(TokenKeys::new(b"0123456789abcdef0123456789abcdef", "http://other.test", 60).verify(&token).is_none());
    }

    #[test]
    fn unsigned_and_tampered_tokens_are_refused() {
        let keys = keys();
        let token = keys.issue(7, 0).expect("issue");
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.verify(&format!("{none_header}.{}.", parts[1])).is_none());
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("utf8");
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("\"sub\":\"7\"", "\"sub\":\"1\""));
        assert!(keys.verify(&format!("{}.{forged}.{}", parts[0], parts[2])).is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", "http://node.test", 0);
        let mut claims = keys.verify(&keys.issue(1, 0).expect("issue")).expect("fresh");
        claims.exp = chrono::Utc::now().timestamp() - 60;
        let stale = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).expect("encode");
        assert!(keys.verify(&stale).is_none());
    }
}
