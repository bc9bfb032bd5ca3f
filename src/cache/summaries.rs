//! Certificate summaries the border question asked about lately, in a cache of bounded size:
//! the node's memory does not grow with the registry, and a question about a certificate not
//! held is answered by one read in place (`Store::summary`).
//!
//! The database stays the truth; the cache forgets what changed. After every write on this node
//! it catches up with the administration's change sequence at once, and every second with
//! writes by other processes sharing the database, forgetting each certificate that changed.
//! A read that was under way while something was forgotten is not kept ([`Forgetting`]), since
//! it may be older than the change. The same count tells the read in place whether the snapshot
//! it holds is recent enough (see `store::reads`), so it also moves with every write this
//! node takes, even one that changed nothing held.
//!
//! Beside each summary it keeps the statement signed lately of the same certificate (see
//! `federation::signed`), forgotten with it: a partner asking again is answered from memory,
//! and never with a statement of the certificate as it stood before a change this node knows.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use compact_str::CompactString;
use quick_cache::sync::Cache;
use sea_orm::ConnectionTrait;
use tokio::sync::Mutex;

use super::{Forgetting, pair};
use crate::store::Store;
use crate::store::certificates::{self, Summary};
use crate::store::statements::SignedStatement;

/// Rows read per query when filling the cache at start-up.
const PAGE: u64 = 10_000;

/// What an entry costs beyond its strings: the summary itself, the cache's own bookkeeping.
const ENTRY_OVERHEAD: u64 = 150;

/// Weighs an entry by the memory it holds.
#[derive(Clone)]
struct Bytes;

impl quick_cache::Weighter<CompactString, Arc<Summary>> for Bytes {
    fn weight(&self, key: &CompactString, summary: &Arc<Summary>) -> u64 {
        let heap = |text: &CompactString| if text.is_heap_allocated() { text.len() as u64 } else { 0 };
        ENTRY_OVERHEAD + heap(key) + heap(&summary.operator_name) + summary.status_reason.as_ref().map_or(0, heap)
    }
}

/// What a committed transaction wrote of an administration's certificates: every position it
/// took in the change sequence (it held the sequence from first to last, so no other write is
/// among them) and the certificates it changed that may be held. Certificates it created cannot
/// be: the cache keeps only certificates that were found.
#[derive(Debug)]
pub struct Written {
    pub administration: String,
    pub positions: Option<RangeInclusive<i64>>,
    pub changed: Vec<String>,
}

/// Weighs a kept statement by the memory it holds.
#[derive(Clone)]
struct SignedBytes;

impl quick_cache::Weighter<CompactString, Arc<SignedStatement>> for SignedBytes {
    fn weight(&self, key: &CompactString, signed: &Arc<SignedStatement>) -> u64 {
        (key.len() + signed.signing.kid.len() + signed.token.len() + 96) as u64
    }
}

/// About what a statement weighs: the estimate only sizes the cache's bookkeeping.
const STATEMENT_BYTES: u64 = 900;

pub struct SummaryCache {
    held: Cache<CompactString, Arc<Summary>, Bytes>,
    signed: Cache<CompactString, Arc<SignedStatement>, SignedBytes>,
    /// Moves on before anything is forgotten, and with every write this node takes.
    forgetting: Forgetting,
    /// Per administration, the last change caught up with; held while catching up, so that
    /// catch-ups take turns and each position only moves forward.
    followed: Mutex<HashMap<String, i64>>,
}

impl SummaryCache {
    /// A cache of about `capacity_bytes` of summaries and `statement_bytes` of statements.
    pub fn new(capacity_bytes: u64, statement_bytes: u64) -> Self {
        let items = |bytes: u64, each: u64| usize::try_from(bytes / each).unwrap_or(usize::MAX);
        SummaryCache {
            held: Cache::with_weighter(items(capacity_bytes, ENTRY_OVERHEAD), capacity_bytes, Bytes),
            signed: Cache::with_weighter(items(statement_bytes, STATEMENT_BYTES), statement_bytes, SignedBytes),
            forgetting: Forgetting::default(),
            followed: Mutex::default(),
        }
    }

    /// The summary of a certificate; from the cache when held, else read in place (and kept).
    pub async fn summary(
        &self,
        store: &Store,
        administration: &str,
        number: &str,
    ) -> crate::store::StoreResult<Option<Arc<Summary>>> {
        let key = pair(administration, number);
        if let Some(held) = self.held.get(&key) {
            return Ok(Some(held));
        }
        // A change forgotten before this point is committed and the read must see it: the
        // store may answer from a snapshot only if it was taken once the count was here.
        let before = self.forgetting.now();
        let Some(read) = store.summary(administration, number, before).await? else { return Ok(None) };
        let read = Arc::new(read);
        self.held.insert(key.clone(), read.clone());
        if !self.forgetting.unmoved_since(before) {
            self.held.remove(&key);
        }
        Ok(Some(read))
    }

    /// Forgets these certificates, after moving the count on.
    pub(crate) fn forget(&self, administration: &str, numbers: &[String]) {
        if numbers.is_empty() {
            return;
        }
        self.forgetting.move_on();
        self.remove(administration, numbers);
    }

    fn remove(&self, administration: &str, numbers: &[String]) {
        for number in numbers {
            let key = pair(administration, number);
            self.held.remove(&key);
            self.signed.remove(&key);
        }
    }

    /// The count of what was forgotten, taken before reading a certificate whose statement
    /// may be kept (see [`SummaryCache::keep_signed`]).
    pub fn reading(&self) -> u64 {
        self.forgetting.now()
    }

    /// The statement signed lately of a certificate, if one is kept.
    pub fn signed(&self, administration: &str, number: &str) -> Option<Arc<SignedStatement>> {
        self.signed.get(&pair(administration, number))
    }

    /// Keeps a statement signed from the certificate as read once the count was `read_at`,
    /// unless something was forgotten since: the read may then be older than a change.
    pub fn keep_signed(&self, administration: &str, number: &str, signed: SignedStatement, read_at: u64) {
        let key = pair(administration, number);
        self.signed.insert(key.clone(), Arc::new(signed));
        if !self.forgetting.unmoved_since(read_at) {
            self.signed.remove(&key);
        }
    }

    /// Starts following the administration's changes, and fills what room the cache has with
    /// its certificates, a page at a time, so that the first questions need not wait for reads.
    pub async fn follow(&self, conn: &impl ConnectionTrait, administration: &str) -> crate::store::StoreResult<()> {
        let mut followed = self.followed.lock().await;
        // Read before the rows: every row read is at least this recent, and catching up from
        // here forgets whatever changed meanwhile.
        let position = certificates::latest_change(conn, administration).await?;
        let mut after = String::new();
        loop {
            if self.held.weight() >= self.held.capacity() / 10 * 9 {
                break;
            }
            let page = certificates::summaries_page(conn, administration, &after, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            for (number, summary) in page {
                self.held.insert(pair(administration, &number), Arc::new(summary));
            }
        }
        followed.insert(administration.to_owned(), position);
        drop(followed);
        self.catch_up(conn, administration).await
    }

    /// How many summaries are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Forgets the administration's certificates that changed since the cache last followed it.
    pub async fn catch_up(&self, conn: &impl ConnectionTrait, administration: &str) -> crate::store::StoreResult<()> {
        self.catch_up_except(conn, administration, None).await
    }

    /// Forgets what a committed transaction changed, without reading its changes back: a large
    /// import would otherwise read every change it just wrote. Then catches up with the rest.
    pub async fn took(&self, conn: &impl ConnectionTrait, written: Written) -> crate::store::StoreResult<()> {
        // Moved even when it changed nothing held: a snapshot from before would miss what it
        // created.
        self.forgetting.move_on();
        self.remove(&written.administration, &written.changed);
        self.catch_up_except(conn, &written.administration, written.positions).await
    }

    async fn catch_up_except(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        taken: Option<RangeInclusive<i64>>,
    ) -> crate::store::StoreResult<()> {
        let mut followed = self.followed.lock().await;
        let position = followed.get(administration).copied().unwrap_or(0);
        let through = taken.as_ref().map_or(position, |taken| position.max(*taken.end()));
        let changes = certificates::changed_since(conn, administration, position, taken).await?;
        let latest = changes.last().map_or(through, |&(latest, _)| latest.max(through));
        let numbers: Vec<String> = changes.into_iter().map(|(_, number)| number).collect();
        self.forget(administration, &numbers);
        followed.insert(administration.to_owned(), latest);
        Ok(())
    }
}
