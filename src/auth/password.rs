//! Password hashing with argon2id (OWASP-minimum parameters), always off the async runtime, in a
//! bounded number of slots: each hash holds 19 MiB for tens of milliseconds, so a burst of
//! sign-ins must queue rather than take the process's memory with it.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 1024;

/// How long a request waits for a hashing slot before it is answered 503.
pub const SLOT_WAIT: Duration = Duration::from_secs(2);

/// One hash at a time per core.
static SLOTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(crate::cores())));

/// Verified against when the account does not exist, so that an unknown e-mail costs the same
/// time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default().hash_password(b"aeo-registry dummy password").map(|hash| hash.to_string()).unwrap_or_default()
});

/// Every hashing slot stayed taken for [`SLOT_WAIT`]: try again shortly.
#[derive(Debug, thiserror::Error)]
#[error("every password hashing slot is busy")]
pub struct Busy;

/// Checks the password rules; the message is meant for the `password` field.
pub fn check_rules(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("must be at most {MAX_PASSWORD_LEN} bytes"));
    }
    Ok(())
}

/// Runs `work` on a blocking thread once a hashing slot is free. The slot goes with the work:
/// a request dropped meanwhile (its client went away) cannot free it while the hash still runs.
async fn in_a_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    let slot =
        tokio::time::timeout(SLOT_WAIT, SLOTS.clone().acquire_owned()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    })
    .await
    .map_err(|_| Busy)
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("password hashing failed: {0}")]
    Failed(String),
}

pub async fn hash(password: String) -> Result<String, HashError> {
    in_a_slot(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| HashError::Failed(error.to_string()))
    })
    .await?
}

/// Whether `password` matches `stored`; with no stored hash, burns the same time and fails.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, Busy> {
    let known = stored.is_some();
    let matched = in_a_slot(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
    })
    .await?;
    Ok(known && matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let stored = hash("correct horse battery".into()).await.expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await.expect("slot"));
        assert!(!verify("wrong horse battery".into(), Some(stored)).await.expect("slot"));
        assert!(!verify("anything at all".into(), None).await.expect("slot"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_rules("elevenchars").is_err());
        assert!(check_rules("twelve chars").is_ok());
    }
}
