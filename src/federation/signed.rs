//! Statements signed once per change and freshness window, not once per request: a partner's
//! border asking about the same certificate again and again gets the statement signed a moment
//! ago, without the certificate being read again. A statement is signed again when the
//! certificate changed (the summary cache forgets the statement with the summary, and its `seq`
//! must match a certificate in hand), the day changed (its derived status may have), the
//! signing key changed, or it has used up a tenth of its freshness (at most 30 s): what a
//! partner holds stays fresh almost as long as if it had been signed for it.

use std::time::{Duration, Instant};

use super::jose::{self, CertificateState};
use super::keys::SigningKey;
use crate::cache::summaries::{Signed, SummaryCache};
use crate::store::certificates::{self, Certificate};

/// The longest a statement is served again.
const LONGEST_REUSE: Duration = Duration::from_secs(30);

/// How long a statement fresh for `ttl_secs` is served again.
fn reuse(ttl_secs: i64) -> Duration {
    Duration::from_millis(u64::try_from(ttl_secs).unwrap_or(0) * 100).min(LONGEST_REUSE)
}

/// Whether a kept statement may be served again now, signed as it is with `key`.
fn still_good(signed: &Signed, key: &SigningKey, ttl_secs: i64) -> bool {
    signed.day == certificates::today() && signed.kid == key.kid && signed.at.elapsed() < reuse(ttl_secs)
}

/// The statement kept of the administration's certificate `number`, if it may be served again.
pub fn kept(
    cache: &SummaryCache,
    key: &SigningKey,
    administration: &str,
    number: &str,
    ttl_secs: i64,
) -> Option<String> {
    cache
        .signed(administration, number)
        .filter(|signed| still_good(signed, key, ttl_secs))
        .map(|signed| signed.token.clone())
}

/// The statement of `certificate`, read once the cache's count was `read_at`, signed with
/// `key` and fresh for `ttl_secs`: the one kept when it is of the same change and still good,
/// else signed now and kept.
pub fn statement(
    cache: &SummaryCache,
    key: &SigningKey,
    certificate: &Certificate,
    ttl_secs: i64,
    read_at: u64,
) -> anyhow::Result<String> {
    let (administration, number) = (&certificate.administration, &certificate.number);
    if let Some(signed) = cache.signed(administration, number) {
        if signed.seq == certificate.seq && still_good(&signed, key, ttl_secs) {
            return Ok(signed.token.clone());
        }
    }
    let token = jose::sign_statement(key, &CertificateState::from(certificate), certificate.seq, ttl_secs)?;
    let signed =
        Signed { seq: certificate.seq, day: certificates::today(), kid: key.kid.clone(), at: Instant::now(), token };
    let token = signed.token.clone();
    cache.keep_signed(administration, number, signed, read_at);
    Ok(token)
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
        let cache = SummaryCache::new(1 << 20, 1 << 20);
        let sign =
            |key: &SigningKey, seq: i64, ttl: i64| statement(&cache, key, &certificate(seq), ttl, cache.reading());
        let (key, _) = SigningKey::ephemeral().expect("key");
        let first = sign(&key, 7, 300).expect("signed");
        assert_eq!(sign(&key, 7, 300).expect("signed"), first, "signed again");
        assert_eq!(kept(&cache, &key, "CL", "CL-1", 300).as_deref(), Some(first.as_str()), "not kept");
        let changed = sign(&key, 8, 300).expect("signed");
        assert_ne!(changed, first, "a change kept the old statement");
        let (other_key, _) = SigningKey::ephemeral().expect("key");
        assert_eq!(kept(&cache, &other_key, "CL", "CL-1", 300), None, "kept across a new key");
        assert_ne!(sign(&other_key, 8, 300).expect("signed"), changed, "a new key");
        // Fresh for one second, a statement is served again for a tenth of one, no longer.
        let once = sign(&key, 9, 1).expect("signed");
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(kept(&cache, &key, "CL", "CL-1", 1), None, "kept past its window");
        assert_ne!(sign(&key, 9, 1).expect("signed"), once, "reused past its window");
    }

    #[test]
    fn a_statement_signed_from_a_read_older_than_a_change_is_not_kept() {
        let cache = SummaryCache::new(1 << 20, 1 << 20);
        let (key, _) = SigningKey::ephemeral().expect("key");
        let read_at = cache.reading();
        // A change to some certificate is forgotten between the read and the keeping.
        cache.forget("CL", &["CL-2".to_owned()]);
        statement(&cache, &key, &certificate(7), 300, read_at).expect("signed");
        assert_eq!(kept(&cache, &key, "CL", "CL-1", 300), None, "a read from before a change was kept");
        statement(&cache, &key, &certificate(7), 300, cache.reading()).expect("signed");
        assert!(kept(&cache, &key, "CL", "CL-1", 300).is_some(), "a current read was not kept");
        cache.forget("CL", &["CL-1".to_owned()]);
        assert_eq!(kept(&cache, &key, "CL", "CL-1", 300), None, "a change did not forget the statement");
    }
}
