//! Statements signed once per change and freshness window, not once per request: a partner's
//! border asking about the same certificate again and again gets the statement signed a moment
//! ago. A statement is signed again when the certificate changed (its `seq`), the day changed
//! (its derived status may have), the signing key changed, or it has used up a tenth of its
//! freshness (at most 30 s): what a partner holds stays fresh almost as long as if it had been
//! signed for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use compact_str::CompactString;
use quick_cache::sync::Cache;

use super::jose::{self, CertificateState};
use super::keys::SigningKey;
use crate::cache::pair;
use crate::store::certificates::{self, Certificate};

/// Memory for statements kept, in bytes.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;
/// The longest a statement is served again.
const LONGEST_REUSE: Duration = Duration::from_secs(30);

struct Signed {
    seq: i64,
    day: NaiveDate,
    kid: String,
    at: Instant,
    token: String,
}

#[derive(Clone)]
struct Bytes;

impl quick_cache::Weighter<CompactString, Arc<Signed>> for Bytes {
    fn weight(&self, key: &CompactString, signed: &Arc<Signed>) -> u64 {
        (key.len() + signed.kid.len() + signed.token.len() + 96) as u64
    }
}

pub struct SignedStatements {
    held: Cache<CompactString, Arc<Signed>, Bytes>,
}

impl Default for SignedStatements {
    fn default() -> Self {
        // About 2 KiB a statement: the estimate only sizes the cache's bookkeeping.
        let items = (CAPACITY_BYTES / 2048) as usize;
        SignedStatements { held: Cache::with_weighter(items, CAPACITY_BYTES, Bytes) }
    }
}

impl SignedStatements {
    /// The statement of `certificate` as it stands, signed with `key`, fresh for `ttl_secs`.
    pub fn statement(&self, key: &SigningKey, certificate: &Certificate, ttl_secs: i64) -> anyhow::Result<String> {
        let reuse = Duration::from_millis(u64::try_from(ttl_secs).unwrap_or(0) * 100).min(LONGEST_REUSE);
        let today = certificates::today();
        let cache_key = pair(&certificate.administration, &certificate.number);
        if let Some(signed) = self.held.get(&cache_key) {
            let same = signed.seq == certificate.seq && signed.day == today && signed.kid == key.kid;
            if same && signed.at.elapsed() < reuse {
                return Ok(signed.token.clone());
            }
        }
        let token = jose::sign_statement(key, &CertificateState::from(certificate), certificate.seq, ttl_secs)?;
        let signed = Signed { seq: certificate.seq, day: today, kid: key.kid.clone(), at: Instant::now(), token };
        let token = signed.token.clone();
        self.held.insert(cache_key, Arc::new(signed));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use aeo_domain::{Category, Status};
    use chrono::Utc;

    use super::*;
    use crate::store::certificates::{AddressView, OperatorView};

    fn certificate(seq: i64) -> Certificate {
        Certificate {
            number: "CL-1".into(),
            administration: "CL".into(),
            status: Status::Active,
            category: Category::Security,
            roles: Vec::new(),
            valid_from: certificates::today(),
            valid_until: certificates::today() + chrono::Days::new(30),
            status_reason: None,
            operator: OperatorView {
                name: "Exportadora".into(),
                identifiers: Vec::new(),
                address: AddressView {
                    street: "Calle 1".into(),
                    city: "Valparaíso".into(),
                    postal_code: "2340000".into(),
                    country: "CL".into(),
                },
                public: true,
            },
            version: 1,
            updated_at: Utc::now(),
            stored_status: Status::Active,
            id: 1,
            seq,
        }
    }

    #[test]
    fn a_statement_is_signed_again_only_when_its_certificate_key_or_freshness_changed() {
        let statements = SignedStatements::default();
        let (key, _) = SigningKey::ephemeral().expect("key");
        let first = statements.statement(&key, &certificate(7), 300).expect("signed");
        assert_eq!(statements.statement(&key, &certificate(7), 300).expect("signed"), first, "signed again");
        let changed = statements.statement(&key, &certificate(8), 300).expect("signed");
        assert_ne!(changed, first, "a change kept the old statement");
        let (other_key, _) = SigningKey::ephemeral().expect("key");
        assert_ne!(statements.statement(&other_key, &certificate(8), 300).expect("signed"), changed, "a new key");
        // Fresh for one second, a statement is served again for a tenth of one, no longer.
        let once = statements.statement(&key, &certificate(9), 1).expect("signed");
        std::thread::sleep(Duration::from_millis(1100));
        assert_ne!(statements.statement(&key, &certificate(9), 1).expect("signed"), once, "reused past its window");
    }
}
