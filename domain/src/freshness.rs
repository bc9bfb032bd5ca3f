//! When what a follower holds of an issuer on another node may stand for the issuer's word.
//!
//! A follower holds signed statements of certificates (each fresh until its own expiry, capped
//! by how long the follower trusts one) and the issuer's latest signed checkpoint, which keeps
//! the whole mirror current while every change up to it has been applied. What is held is
//! fresh when every statement found is fresh, or the mirror is current; when nothing is found,
//! only a current mirror makes "not found" an answer. Past freshness, what is held is stale: it
//! is shown, marked so, and may still be recognised for the follower's allowance, never longer.

use chrono::{DateTime, Duration, Utc};

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

#[cfg(test)]
mod tests {
    use super::*;

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
