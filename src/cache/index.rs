//! The recognition index: the summary of every certificate this node hosts, in memory, so that
//! the border question is answered without a database round trip however large the registry.
//!
//! The database stays the truth; the index follows it. It is loaded at start-up, then catches up
//! with each administration's change sequence: at once after every write on this node, and
//! every second for writes by other processes sharing the database. Catching up re-reads the
//! certificates that changed, and an entry is only ever replaced by a higher version, so a
//! lookup that filled an entry from an older read can never hide a newer change.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use compact_str::CompactString;
use dashmap::DashMap;
use sea_orm::{ConnectionTrait, DbErr};
use tokio::sync::Mutex;

use super::pair;
use crate::store::certificates::{self, Summary};

/// Rows read per query when loading an administration.
const PAGE: u64 = 10_000;

/// What a committed transaction wrote of an administration's certificates: every position it
/// took in the change sequence (it held the sequence from first to last, so no other write is
/// among them) and the summaries it left.
pub struct Written {
    pub administration: String,
    pub positions: Option<RangeInclusive<i64>>,
    pub summaries: Vec<(String, Summary)>,
}

#[derive(Default)]
pub struct CertificateIndex {
    entries: DashMap<CompactString, Summary>,
    /// Per administration, the last change applied; held while catching up, so that catch-ups
    /// take turns and each position only moves forward.
    followed: Mutex<HashMap<String, i64>>,
}

impl CertificateIndex {
    /// The summary of a certificate; from the index when held, else read (and kept).
    pub async fn summary(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        number: &str,
    ) -> Result<Option<Summary>, DbErr> {
        if let Some(held) = self.entries.get(pair(administration, number).as_str()) {
            return Ok(Some(held.clone()));
        }
        let Some(read) = certificates::summary(conn, administration, number).await? else { return Ok(None) };
        self.offer(administration, number, read.clone());
        Ok(Some(read))
    }

    /// Keeps `summary` unless a newer version is already held.
    fn offer(&self, administration: &str, number: &str, summary: Summary) {
        self.entries
            .entry(pair(administration, number))
            .and_modify(|held| {
                if summary.version > held.version {
                    *held = summary.clone();
                }
            })
            .or_insert(summary);
    }

    /// Loads every certificate of the administration, a page at a time, then catches up with
    /// what changed while it was read. Returns how many are held.
    pub async fn load(&self, conn: &impl ConnectionTrait, administration: &str) -> Result<usize, DbErr> {
        let mut followed = self.followed.lock().await;
        // Read before the rows: every row read is at least this recent, and catching up from
        // here re-reads whatever changed meanwhile.
        let position = certificates::latest_change(conn, administration).await?;
        let (mut after, mut count) = (0, 0);
        loop {
            let page = certificates::summaries_page(conn, administration, after, PAGE).await?;
            let Some((last, _, _)) = page.last() else { break };
            after = *last;
            count += page.len();
            for (_, number, summary) in page {
                self.offer(administration, &number, summary);
            }
        }
        followed.insert(administration.to_owned(), position);
        drop(followed);
        self.catch_up(conn, administration).await?;
        Ok(count)
    }

    /// Applies the administration's changes since the index last followed it.
    pub async fn catch_up(&self, conn: &impl ConnectionTrait, administration: &str) -> Result<(), DbErr> {
        self.catch_up_except(conn, administration, None).await
    }

    /// Takes what a committed transaction wrote, without reading it back: a large import would
    /// otherwise read every certificate it just wrote. Then catches up with anything else.
    pub async fn took(&self, conn: &impl ConnectionTrait, written: Written) -> Result<(), DbErr> {
        for (number, summary) in written.summaries {
            self.offer(&written.administration, &number, summary);
        }
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
        let Some(&(latest, _)) = changes.last() else {
            followed.insert(administration.to_owned(), through);
            return Ok(());
        };
        let mut numbers: Vec<String> = changes.into_iter().map(|(_, number)| number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        for (number, summary) in certificates::summaries(conn, administration, &numbers).await? {
            self.offer(administration, &number, summary);
        }
        followed.insert(administration.to_owned(), latest.max(through));
        Ok(())
    }

    /// The administrations followed so far.
    pub async fn followed(&self) -> Vec<String> {
        self.followed.lock().await.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
