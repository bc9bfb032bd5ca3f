//! Certificate summaries the border question asked about recently, in memory: a bounded cache,
//! not a copy of the registry. Memory stays the same however many certificates a node hosts;
//! what is not cached is read from the database (on SQLite by [`crate::store::fast`], a direct
//! lookup of a few microseconds).
//!
//! The database stays the truth and the cache follows its change sequence: at once after every
//! write on this node, and every second for writes by other processes sharing the database,
//! every certificate that changed is forgotten. A lookup that read the database while a change
//! was being committed keeps nothing: forgetting moves an epoch, and a lookup stores what it read
//! only if the epoch has not moved since it began (checked again after storing).

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};

use compact_str::CompactString;
use moka::sync::Cache;
use sea_orm::{ConnectionTrait, DbErr};
use tokio::sync::Mutex;

use super::pair;
use crate::store::Store;
use crate::store::certificates::{self, Summary};

/// What a committed transaction wrote of an administration's certificates: every position it
/// took in the change sequence (it held the sequence from first to last, so no other write is
/// among them) and the numbers it wrote.
pub struct Written {
    pub administration: String,
    pub positions: Option<RangeInclusive<i64>>,
    pub numbers: Vec<String>,
}

pub struct CertificateIndex {
    cached: Cache<CompactString, Summary>,
    /// Moves whenever something is forgotten.
    epoch: AtomicU64,
    /// Per administration, the last change followed; held while catching up, so that catch-ups
    /// take turns and each position only moves forward.
    followed: Mutex<HashMap<String, i64>>,
}

impl CertificateIndex {
    /// At most `capacity` summaries (about 250 bytes each).
    pub fn new(capacity: u64) -> Self {
        CertificateIndex {
            cached: Cache::builder().max_capacity(capacity).build(),
            epoch: AtomicU64::new(0),
            followed: Mutex::default(),
        }
    }

    /// The summary of a certificate; from the cache when there, else read (and kept).
    pub async fn summary(&self, store: &Store, administration: &str, number: &str) -> Result<Option<Summary>, DbErr> {
        let key = pair(administration, number);
        if let Some(cached) = self.cached.get(&key) {
            return Ok(Some(cached));
        }
        let began = self.epoch.load(Ordering::SeqCst);
        let Some(read) = store.summary(administration, number).await? else { return Ok(None) };
        if self.epoch.load(Ordering::SeqCst) == began {
            self.cached.insert(key.clone(), read.clone());
            // Something forgotten between the check and the insert may have missed this entry.
            if self.epoch.load(Ordering::SeqCst) != began {
                self.cached.invalidate(&key);
            }
        }
        Ok(Some(read))
    }

    fn forget(&self, administration: &str, numbers: impl IntoIterator<Item = impl AsRef<str>>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for number in numbers {
            self.cached.invalidate(&pair(administration, number.as_ref()));
        }
    }

    /// Starts following the administration from its latest change.
    pub async fn follow(&self, conn: &impl ConnectionTrait, administration: &str) -> Result<(), DbErr> {
        let position = certificates::latest_change(conn, administration).await?;
        self.followed.lock().await.entry(administration.to_owned()).or_insert(position);
        Ok(())
    }

    /// Forgets the administration's certificates changed since the cache last followed it.
    pub async fn catch_up(&self, conn: &impl ConnectionTrait, administration: &str) -> Result<(), DbErr> {
        self.catch_up_except(conn, administration, None).await
    }

    /// Forgets what a committed transaction wrote without reading its positions back (an import
    /// may write a million), then catches up with anything else.
    pub async fn took(&self, conn: &impl ConnectionTrait, written: Written) -> Result<(), DbErr> {
        self.forget(&written.administration, &written.numbers);
        self.catch_up_except(conn, &written.administration, written.positions).await
    }

    async fn catch_up_except(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        taken: Option<RangeInclusive<i64>>,
    ) -> Result<(), DbErr> {
        let mut followed = self.followed.lock().await;
        let position = followed.get(administration).copied().unwrap_or(0);
        let through = taken.as_ref().map_or(position, |taken| position.max(*taken.end()));
        let changes = certificates::changed_since(conn, administration, position, taken).await?;
        let latest = changes.last().map_or(through, |(seq, _)| through.max(*seq));
        if !changes.is_empty() {
            self.forget(administration, changes.iter().map(|(_, number)| number));
        }
        followed.insert(administration.to_owned(), latest);
        Ok(())
    }

    /// Forgets every summary.
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cached.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded() {
        let index = CertificateIndex::new(1_000);
        for n in 0..5_000 {
            index.cached.insert(pair("CL", &format!("CL-{n}")), summary());
        }
        index.cached.run_pending_tasks();
        assert!(index.cached.entry_count() <= 1_000, "{} held", index.cached.entry_count());
    }

    #[test]
    fn forgetting_moves_the_epoch_and_drops_the_entries() {
        let index = CertificateIndex::new(1_000);
        index.cached.insert(pair("CL", "CL-1"), summary());
        index.cached.insert(pair("CL", "CL-2"), summary());
        index.forget("CL", ["CL-1"]);
        assert_eq!(index.epoch.load(Ordering::SeqCst), 1);
        assert!(index.cached.get(&pair("CL", "CL-1")).is_none());
        assert!(index.cached.get(&pair("CL", "CL-2")).is_some());
    }

    fn summary() -> Summary {
        use aeo_domain::{Category, Role, Status};
        Summary {
            version: 1,
            stored_status: Status::Active,
            category: Category::Security,
            roles: [Role::Exporter].into_iter().collect(),
            public: true,
            valid_from: chrono::NaiveDate::MIN,
            valid_until: chrono::NaiveDate::MAX,
            operator_name: "Exportadora".into(),
            status_reason: None,
        }
    }
}
