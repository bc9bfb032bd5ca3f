//! Throttling of sign-in attempts, so that password guessing is slow whichever of account and
//! client an attacker varies, and so that no stranger can lock a user out.
//!
//! Every attempt is counted *before* its password is checked (a reservation), so guesses sent
//! in parallel are refused as soon as the allowance is used up, not all evaluated; an attempt
//! that succeeds, or was never evaluated, gives its reservation back. Three counts, each with a
//! free allowance and then a wait that doubles with every further failure, up to 15 minutes:
//!
//! - per client address and account: 3 free, the one a stranger cannot touch;
//! - per client address, over all accounts: 20 free, against one client trying many accounts;
//! - per account, over the clients that have never signed in to it: 50 free, against guessing
//!   from many addresses. A client that signed in to the account before is not held back by it,
//!   so the real user from its own address still gets in.
//!
//! The counts live in this process and are forgotten after 30 minutes without attempts.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::ops::compute::Op;
use moka::sync::Cache;

/// A count of failures and until when the next attempt must wait.
#[derive(Clone, Copy)]
struct Attempts {
    failures: u32,
    not_before: Instant,
}

/// How a count grows: attempts allowed before any wait, and the longest wait.
struct Rule {
    free: u32,
    longest: Duration,
}

impl Rule {
    /// The wait after the `failures`-th failure: none within the allowance, then 1 s, 2 s, 4 s...
    fn wait_after(&self, failures: u32) -> Duration {
        match failures.checked_sub(self.free) {
            None => Duration::ZERO,
            Some(beyond) => Duration::from_secs(1u64 << beyond.min(20)).min(self.longest),
        }
    }
}

const LONGEST: Duration = Duration::from_secs(15 * 60);
const PAIR: Rule = Rule { free: 3, longest: LONGEST };
const CLIENT: Rule = Rule { free: 20, longest: LONGEST };
const ACCOUNT: Rule = Rule { free: 50, longest: LONGEST };
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
/// Clients remembered as having signed in to an account.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// One count: what it is kept under, and its rule.
struct Counter {
    counts: Cache<String, Attempts>,
    rule: Rule,
}

impl Counter {
    fn new(rule: Rule) -> Self {
        Counter { counts: Cache::builder().max_capacity(200_000).time_to_idle(FORGET_AFTER).build(), rule }
    }

    /// Counts an attempt under `key` if it may be made now; else how long to wait.
    fn reserve(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut refused = None;
        self.counts.entry_by_ref(key).and_compute_with(|entry| {
            let current = entry.map(|e| e.into_value()).unwrap_or(Attempts { failures: 0, not_before: now });
            if now < current.not_before {
                refused = Some(current.not_before - now);
                return Op::Nop;
            }
            let failures = current.failures.saturating_add(1);
            Op::Put(Attempts { failures, not_before: now + self.rule.wait_after(failures) })
        });
        refused.map_or(Ok(()), Err)
    }

    /// Gives one reservation back (the attempt succeeded, or was not evaluated). The wait it set
    /// stays: giving back never opens the door sooner.
    fn release(&self, key: &str) {
        self.counts.entry_by_ref(key).and_compute_with(|entry| match entry.map(|e| e.into_value()) {
            Some(current) => Op::Put(Attempts { failures: current.failures.saturating_sub(1), ..current }),
            None => Op::Nop,
        });
    }

    fn clear(&self, key: &str) {
        self.counts.invalidate(key);
    }
}

pub struct LoginThrottle {
    pairs: Counter,
    clients: Counter,
    accounts: Counter,
    /// `client account` pairs that signed in successfully.
    known: Cache<String, ()>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            pairs: Counter::new(PAIR),
            clients: Counter::new(CLIENT),
            accounts: Counter::new(ACCOUNT),
            known: Cache::builder().max_capacity(200_000).time_to_live(KNOWN_FOR).build(),
        }
    }
}

/// A counted attempt: say how it ended, or it stays counted as a failure.
#[must_use = "an attempt counts as failed unless it is settled"]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    pair: String,
    client: String,
    account: Option<String>,
}

impl Attempt<'_> {
    /// The password was right: this attempt is not a failure, and the pair's count starts over.
    pub fn succeeded(self) {
        let throttle = self.throttle;
        throttle.pairs.clear(&self.pair);
        throttle.clients.release(&self.client);
        if let Some(account) = &self.account {
            throttle.accounts.release(account);
        }
        throttle.known.insert(self.pair.clone(), ());
    }

    /// The password was never checked (no hashing slot came free): nothing is counted.
    pub fn not_evaluated(self) {
        self.give_back();
    }

    fn give_back(&self) {
        self.throttle.pairs.release(&self.pair);
        self.throttle.clients.release(&self.client);
        if let Some(account) = &self.account {
            self.throttle.accounts.release(account);
        }
    }
}

/// The client a count is kept for: its address, or for IPv6 its /64 network, which one host
/// is usually given whole (counting each of its addresses apart would give it billions of
/// allowances).
pub fn client_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1)))
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)),
        v4 => v4,
    }
}

impl LoginThrottle {
    /// Counts an attempt to sign in to `email` (already lower-cased) from `client`, or says how
    /// many seconds to wait. Failing is the default: an attempt that is not settled otherwise
    /// stays counted. The client's count is taken first, so a refused client leaves nothing of
    /// its attempts in memory.
    pub fn attempt(&self, email: &str, client: IpAddr) -> Result<Attempt<'_>, u64> {
        let client_key = client_of(client).to_string();
        let pair = format!("{client_key} {email}");
        let now = Instant::now();
        let seconds = |wait: Duration| wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.clients.reserve(&client_key, now).map_err(seconds)?;
        if let Err(wait) = self.pairs.reserve(&pair, now) {
            self.clients.release(&client_key);
            return Err(seconds(wait));
        }
        let account = (!self.known.contains_key(&pair)).then(|| email.to_owned());
        if let Some(account) = &account
            && let Err(wait) = self.accounts.reserve(account, now)
        {
            self.pairs.release(&pair);
            self.clients.release(&client_key);
            return Err(seconds(wait));
        }
        Ok(Attempt { throttle: self, pair, client: client_key, account })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn stranger(i: u8) -> IpAddr {
        IpAddr::from([198, 51, 100, i])
    }

    #[test]
    fn waits_grow_from_one_second_after_the_allowance_and_stop_at_fifteen_minutes() {
        let waits: Vec<u64> = (1..=8).map(|n| PAIR.wait_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 1, 2, 4, 8, 16, 32]);
        assert_eq!(PAIR.wait_after(40), LONGEST);
    }

    #[test]
    fn attempts_are_counted_before_they_are_evaluated() {
        let throttle = LoginThrottle::default();
        let held: Vec<_> = (0..3).map(|_| throttle.attempt("a@x.test", HOME).expect("within the allowance")).collect();
        // Three in flight, none settled: the fourth waits a second.
        assert_eq!(throttle.attempt("a@x.test", HOME).err(), Some(1));
        drop(held);
    }

    #[test]
    fn a_stranger_cannot_lock_the_account_for_its_owner() {
        let throttle = LoginThrottle::default();
        throttle.attempt("a@x.test", HOME).expect("first sign-in").succeeded();
        for i in 0..200u8 {
            let _ = throttle.attempt("a@x.test", stranger(i));
        }
        assert!(throttle.attempt("a@x.test", stranger(0)).is_err());
        throttle.attempt("a@x.test", HOME).expect("the owner from its own address").succeeded();
    }

    #[test]
    fn an_unevaluated_attempt_costs_nothing() {
        let throttle = LoginThrottle::default();
        for _ in 0..10 {
            throttle.attempt("a@x.test", HOME).expect("given back each time").not_evaluated();
        }
    }

    #[test]
    fn the_addresses_of_one_ipv6_network_are_one_client() {
        let throttle = LoginThrottle::default();
        let address = |host: u16| IpAddr::from([0x2001, 0x0db8, 0x10, 0x20, 0, 0, 0, host]);
        for host in 1..=3 {
            let _ = throttle.attempt("a@x.test", address(host)).expect("within the allowance");
        }
        assert!(throttle.attempt("a@x.test", address(99)).is_err(), "another address of the same /64");
        assert!(throttle.attempt("a@x.test", IpAddr::from([0x2001, 0x0db8, 0x10, 0x21, 0, 0, 0, 1])).is_ok());
        let mapped = IpAddr::from([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]);
        assert_eq!(client_of(mapped), HOME);
    }

    #[test]
    fn a_client_trying_many_accounts_is_held_back_and_others_are_not() {
        let throttle = LoginThrottle::default();
        for i in 0..20 {
            let _ = throttle.attempt(&format!("user{i}@x.test"), HOME).expect("within the allowance");
        }
        assert!(throttle.attempt("fresh@x.test", HOME).is_err());
        assert!(throttle.attempt("fresh@x.test", stranger(1)).is_ok());
    }
}
