//! When what a follower holds of an issuer on another node may stand for the issuer's word.
//!
//! A follower holds signed statements of certificates (each fresh until its own expiry, capped
//! by how long the follower trusts one) and the issuer's latest signed checkpoint, which keeps
//! the whole mirror current while every change up to it has been applied. What is held is
//! fresh when every statement found is fresh, or the mirror is current; when nothing is found,
//! only a current mirror makes "not found" an answer. Past freshness, what is held is stale: it
//! is shown, marked so, and may still be recognised for the follower's allowance, never longer.
//!
//! An issuer, for its part, serves a statement it signed earlier ([`Signing`]) only while what a
//! partner holds of it stays fresh long enough.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// What the follower may say from what it holds, without asking the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// What is held is the issuer's word now.
    Fresh,
    /// What is held is older than the issuer vouches for. `recognisable`: within the allowance,
    /// so a positive answer may still stand (nothing found is never within it).
    Stale { recognisable: bool },
}

/// Judges the statements found for a question (by the expiry each carries, as capped by the
/// follower) against the mirror's currency (`None` when it is not current at all).
pub fn judge(
    found: &[DateTime<Utc>],
    mirror_current_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    allowance: Duration,
) -> Verdict {
    let fresh_until =
        |statement_exp: DateTime<Utc>| mirror_current_until.map_or(statement_exp, |m| m.max(statement_exp));
    let fresh = if found.is_empty() {
        mirror_current_until.is_some_and(|until| until > now)
    } else {
        found.iter().all(|&exp| fresh_until(exp) > now)
    };
    if fresh {
        return Verdict::Fresh;
    }
    let recognisable = !found.is_empty() && found.iter().all(|&exp| fresh_until(exp) + allowance > now);
    Verdict::Stale { recognisable }
}

/// What decides whether a statement an issuer signed earlier may be served again: the key that
/// signed it, when, and until when its certificate is valid (an expiry since changes what the
/// statement should say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    pub kid: String,
    /// Milliseconds since the epoch.
    pub signed_at: i64,
    pub signed_on: NaiveDate,
    pub valid_until: NaiveDate,
}

impl Signing {
    fn age_ms(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.signed_at)
    }

    /// Whether the certificate expired after the statement was signed: it then says `active`
    /// (or `suspended`) of a certificate that is now `expired`.
    fn expired_since(&self, today: NaiveDate) -> bool {
        self.signed_on <= self.valid_until && self.valid_until < today
    }

    /// Whether the statement may be served at `now_ms` on `today`, when `active_kid` signs and
    /// statements are fresh for `ttl_secs`: while it has at least half its freshness left, so
    /// that what a partner holds stays fresh at least half as long as if it had been signed for it.
    pub fn may_serve(&self, active_kid: &str, now_ms: i64, today: NaiveDate, ttl_secs: i64) -> bool {
        self.kid == active_kid && self.age_ms(now_ms) < ttl_secs.saturating_mul(500) && !self.expired_since(today)
    }

    /// Whether an issuer signing ahead signs the statement again now: after a third of its
    /// freshness, a new key or an expiry.
    pub fn due(&self, active_kid: &str, now_ms: i64, today: NaiveDate, ttl_secs: i64) -> bool {
        self.kid != active_kid || now_ms >= self.due_at(ttl_secs) || self.expired_since(today)
    }

    /// When a third of the statement's freshness is used up (milliseconds since the epoch): the
    /// latest it is [`due`](Self::due), while the key and the day stay.
    pub fn due_at(&self, ttl_secs: i64) -> i64 {
        self.signed_at.saturating_add(ttl_secs.saturating_mul(1000) / 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_served_while_it_has_half_its_freshness_and_signed_again_after_a_third() {
        let today = chrono::Utc::now().date_naive();
        let yesterday = today - chrono::Days::new(1);
        let signed = |age_ms: i64, signed_on, valid_until| Signing {
            kid: "k1".into(),
            signed_at: 1_000_000 - age_ms,
            signed_on,
            valid_until,
        };
        let later = today + chrono::Days::new(30);
        // (age in ms, signed on, valid until, active key) → (may serve, due), fresh for 300 s.
        let cases = [
            (0, today, later, "k1", (true, false)),
            (99_999, today, later, "k1", (true, false)),
            (100_000, today, later, "k1", (true, true)),
            (149_999, today, later, "k1", (true, true)),
            (150_000, today, later, "k1", (false, true)),
            (0, today, later, "k2", (false, true)),
            // Signed yesterday of a certificate valid until yesterday: it said `active`, it is
            // `expired` now.
            (0, yesterday, yesterday, "k1", (false, true)),
            // Signed yesterday of one valid until today or later: nothing it derives moved.
            (0, yesterday, today, "k1", (true, false)),
            // Signed after the expiry: it already said `expired`.
            (0, today, yesterday, "k1", (true, false)),
        ];
        for (age, signed_on, valid_until, active, expected) in cases {
            let freshness = signed(age, signed_on, valid_until);
            let got =
                (freshness.may_serve(active, 1_000_000, today, 300), freshness.due(active, 1_000_000, today, 300));
            assert_eq!(got, expected, "age {age} ms, signed on {signed_on}, valid until {valid_until}, key {active}");
            // Under the same key, on a day that changes nothing, it is due exactly from due_at.
            if !freshness.expired_since(today) {
                let due_at = freshness.due_at(300);
                assert!(!freshness.due("k1", due_at - 1, today, 300) && freshness.due("k1", due_at, today, 300));
            }
        }
        // Fresh for no time at all (an issuer always asked live), nothing is served again.
        assert!(!signed(0, today, later).may_serve("k1", 1_000_000, today, 0));
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("a valid instant")
    }

    #[test]
    fn every_case_of_statements_mirror_and_allowance() {
        let now = at(0);
        let none = Duration::zero();
        let minute = Duration::seconds(60);
        let stale = |recognisable| Verdict::Stale { recognisable };
        // (statements' expiries, mirror current until, allowance, verdict)
        let table: &[(&[i64], Option<i64>, Duration, Verdict)] = &[
            // A fresh statement needs no mirror.
            (&[10], None, none, Verdict::Fresh),
            // Every statement must be fresh.
            (&[10, 20], None, none, Verdict::Fresh),
            (&[10, -1], None, none, stale(false)),
            // A current mirror keeps an expired statement fresh.
            (&[-100], Some(5), none, Verdict::Fresh),
            // A mirror that is no longer current does not.
            (&[-100], Some(-1), none, stale(false)),
            // Expiry is exclusive: at the instant, it is over.
            (&[0], None, none, stale(false)),
            // Nothing found: only a current mirror says "not found".
            (&[], Some(5), none, Verdict::Fresh),
            (&[], Some(-5), none, stale(false)),
            (&[], None, none, stale(false)),
            // Nothing found is never recognisable, whatever the allowance.
            (&[], None, minute, stale(false)),
            // The allowance runs from the later of the statement's expiry and the mirror's.
            (&[-30], None, minute, stale(true)),
            (&[-90], None, minute, stale(false)),
            (&[-90], Some(-30), minute, stale(true)),
            (&[-30, -90], None, minute, stale(false)),
        ];
        for (found, mirror, allowance, expected) in table {
            let found: Vec<_> = found.iter().map(|&s| at(s)).collect();
            let verdict = judge(&found, mirror.map(at), now, *allowance);
            assert_eq!(verdict, *expected, "found {found:?}, mirror {mirror:?}, allowance {allowance}");
        }
    }
}
