//! Route classes that cost more than the border question: each takes one of a few slots, so that
//! however many such requests arrive at once, they cannot take the cores and database
//! connections that recognition, the public check and federation calls need. Past a short wait
//! for a slot, a request is answered 503 with `Retry-After`.
//!
//! - `reading`: searches and lists of certificates, histories, the audit log, users and peers;
//! - `importing`: imports, one at a time (they write in one transaction anyway).

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{ApiError, ApiResult};

/// How long a request waits for a slot.
const WAIT: Duration = Duration::from_secs(5);

pub struct Slots {
    semaphore: Semaphore,
    busy: &'static str,
}

impl Slots {
    fn new(slots: usize, busy: &'static str) -> Self {
        Slots { semaphore: Semaphore::new(slots.max(1)), busy }
    }

    /// A slot, held until the returned permit is dropped.
    pub async fn enter(&self) -> ApiResult<SemaphorePermit<'_>> {
        match tokio::time::timeout(WAIT, self.semaphore.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::Unavailable { detail: self.busy, retry_after_secs: 2 }),
        }
    }
}

pub struct RouteClasses {
    pub reading: Slots,
    pub importing: Slots,
}

impl Default for RouteClasses {
    /// Half the cores for expensive reads (at least one); the rest stay free for the hot paths.
    fn default() -> Self {
        let cores = crate::cores();
        RouteClasses {
            reading: Slots::new(cores / 2, "too many searches and lists at once; try again shortly"),
            importing: Slots::new(1, "another import is under way; try again shortly"),
        }
    }
}
