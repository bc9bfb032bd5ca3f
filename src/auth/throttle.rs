//! Throttling of failed logins, per account and per client address, so that password guessing
//! is slow whichever of the two an attacker varies.

use std::net::IpAddr;
use std::time::Duration;

use moka::sync::Cache;

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_FAILURES_PER_ACCOUNT: u32 = 5;
const MAX_FAILURES_PER_CLIENT: u32 = 20;

pub struct LoginThrottle {
    failures: Cache<String, u32>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle { failures: Cache::builder().max_capacity(100_000).time_to_live(WINDOW).build() }
    }
}

impl LoginThrottle {
    /// Err(seconds to wait) when either the account or the client has failed too often.
    pub fn check(&self, email: &str, client: IpAddr) -> Result<(), u64> {
        let account = self.failures.get(&account_key(email)).unwrap_or(0);
        let from_client = self.failures.get(&client_key(client)).unwrap_or(0);
        if account >= MAX_FAILURES_PER_ACCOUNT || from_client >= MAX_FAILURES_PER_CLIENT {
            Err(WINDOW.as_secs())
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, email: &str, client: IpAddr) {
        for key in [account_key(email), client_key(client)] {
            self.failures.entry(key).and_upsert_with(|entry| entry.map_or(1, |e| e.into_value().saturating_add(1)));
        }
    }

    pub fn record_success(&self, email: &str) {
        self.failures.invalidate(&account_key(email));
    }
}

fn account_key(email: &str) -> String {
    format!("account:{}", email.to_lowercase())
}

fn client_key(client: IpAddr) -> String {
    format!("client:{client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_five_failures_from_anywhere() {
        let throttle = LoginThrottle::default();
        for i in 0..5u8 {
            assert!(throttle.check("a@x.test", IpAddr::from([10, 0, 0, i])).is_ok());
            throttle.record_failure("A@x.test", IpAddr::from([10, 0, 0, i]));
        }
        assert!(throttle.check("a@x.test", IpAddr::from([10, 0, 0, 99])).is_err());
        assert!(throttle.check("b@x.test", IpAddr::from([10, 0, 0, 99])).is_ok());
    }

    #[test]
    fn a_client_is_locked_after_twenty_failures_on_any_accounts() {
        let throttle = LoginThrottle::default();
        let client = IpAddr::from([192, 0, 2, 1]);
        for i in 0..20 {
            throttle.record_failure(&format!("user{i}@x.test"), client);
        }
        assert!(throttle.check("fresh@x.test", client).is_err());
        assert!(throttle.check("fresh@x.test", IpAddr::from([192, 0, 2, 2])).is_ok());
    }
}
