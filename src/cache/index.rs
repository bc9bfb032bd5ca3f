//! The recognition index: the summary of every certificate this node hosts, in memory, so that
//! the border question is answered without a database round trip however large the registry.
//!
//! The database stays the truth; the index follows it. It is loaded at start-up, then catches up
//! with each administration's change sequence: at once after every write on this node, and
//! every second for writes by other processes sharing the database. Catching up re-reads the
//! certificates that changed, and an entry is only ever replaced by a higher version, so a
//! lookup that filled an entry from an older read can never hide a newer change.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::ops::RangeInclusive;
use std::sync::RwLock;

use aeo_domain::{Category, RoleSet, Status};
use chrono::NaiveDate;
use compact_str::CompactString;
use hashbrown::HashTable;
use sea_orm::{ConnectionTrait, DbErr};
use tokio::sync::Mutex;

use super::pair;
use crate::store::certificates::{self, Summary};

/// Rows read per query when loading an administration.
const PAGE: u64 = 10_000;

/// Independently locked parts: lookups on different cores rarely meet.
const SHARDS: usize = 16;

/// What a committed transaction wrote of an administration's certificates: every position it
/// took in the change sequence (it held the sequence from first to last, so no other write is
/// among them) and the summaries it left.
pub struct Written {
    pub administration: String,
    pub positions: Option<RangeInclusive<i64>>,
    pub summaries: Vec<(String, Summary)>,
}

pub struct CertificateIndex {
    shards: Box<[RwLock<Shard>]>,
    hasher: std::hash::RandomState,
    /// Per administration, the last change applied; held while catching up, so that catch-ups
    /// take turns and each position only moves forward.
    followed: Mutex<HashMap<String, i64>>,
}

impl Default for CertificateIndex {
    fn default() -> Self {
        CertificateIndex {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: std::hash::RandomState::new(),
            followed: Mutex::default(),
        }
    }
}

/// Entries in a vector, found through a table of their positions: a hash map of keys and values
/// would keep its spare capacity (up to half its buckets) at the full size of an entry.
/// Certificates are never deleted, so positions stay valid.
#[derive(Default)]
struct Shard {
    table: HashTable<u32>,
    entries: Vec<Entry>,
    /// Status reasons, kept apart because few certificates have one.
    reasons: HashMap<u32, Box<str>>,
}

/// A summary as held: 72 bytes, the key and operator name inline when short.
struct Entry {
    key: CompactString,
    operator_name: CompactString,
    version: i32,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    roles: RoleSet,
    stored_status: Status,
    category: Category,
    public: bool,
}

impl Shard {
    fn position(&self, hash: u64, key: &str) -> Option<u32> {
        self.table.find(hash, |&at| self.entries[at as usize].key == key).copied()
    }

    fn summary(&self, at: u32) -> Summary {
        let entry = &self.entries[at as usize];
        Summary {
            version: entry.version,
            stored_status: entry.stored_status,
            category: entry.category,
            roles: entry.roles,
            public: entry.public,
            valid_from: entry.valid_from,
            valid_until: entry.valid_until,
            operator_name: entry.operator_name.clone(),
            status_reason: self.reasons.get(&at).map(|reason| CompactString::from(&**reason)),
        }
    }

    /// Keeps `summary` unless a newer version is already held.
    fn offer(&mut self, hash: u64, key: CompactString, summary: Summary, hasher: &impl BuildHasher) {
        let at = match self.position(hash, &key) {
            Some(at) if self.entries[at as usize].version >= summary.version => return,
            Some(at) => at,
            None => {
                let at = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
                let entries = &self.entries;
                self.table.insert_unique(hash, at, |&i| hasher.hash_one(entries[i as usize].key.as_str()));
                self.entries.push(Entry {
                    key,
                    operator_name: CompactString::default(),
                    version: 0,
                    valid_from: summary.valid_from,
                    valid_until: summary.valid_until,
                    roles: summary.roles,
                    stored_status: summary.stored_status,
                    category: summary.category,
                    public: summary.public,
                });
                at
            }
        };
        let entry = &mut self.entries[at as usize];
        entry.operator_name = summary.operator_name;
        entry.version = summary.version;
        entry.valid_from = summary.valid_from;
        entry.valid_until = summary.valid_until;
        entry.roles = summary.roles;
        entry.stored_status = summary.stored_status;
        entry.category = summary.category;
        entry.public = summary.public;
        match summary.status_reason {
            Some(reason) => self.reasons.insert(at, reason.as_str().into()),
            None => self.reasons.remove(&at),
        };
    }
}

impl CertificateIndex {
    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        // The table uses the hash's lowest and highest bits; the shard is chosen by middle ones.
        &self.shards[(hash >> 32) as usize % SHARDS]
    }

    /// The summary of a certificate; from the index when held, else read (and kept).
    pub async fn summary(
        &self,
        conn: &impl ConnectionTrait,
        administration: &str,
        number: &str,
    ) -> Result<Option<Summary>, DbErr> {
        let key = pair(administration, number);
        let hash = self.hasher.hash_one(key.as_str());
        {
            let shard = self.shard(hash).read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(at) = shard.position(hash, &key) {
                return Ok(Some(shard.summary(at)));
            }
        }
        let Some(read) = certificates::summary(conn, administration, number).await? else { return Ok(None) };
        self.offer(administration, number, read.clone());
        Ok(Some(read))
    }

    /// Keeps `summary` unless a newer version is already held.
    fn offer(&self, administration: &str, number: &str, summary: Summary) {
        let key = pair(administration, number);
        let hash = self.hasher.hash_one(key.as_str());
        let mut shard = self.shard(hash).write().unwrap_or_else(|poisoned| poisoned.into_inner());
        shard.offer(hash, key, summary, &self.hasher);
    }

    /// Loads every certificate of the administration, a page at a time, then catches up with
    /// what changed while it was read. Returns how many are held.
    pub async fn load(&self, conn: &impl ConnectionTrait, administration: &str) -> Result<usize, DbErr> {
        let mut followed = self.followed.lock().await;
        // Read before the rows: every row read is at least this recent, and catching up from
        // here re-reads whatever changed meanwhile.
        let position = certificates::latest_change(conn, administration).await?;
        self.reserve(certificates::count(conn, administration).await?);
        let (mut after, mut count) = (String::new(), 0);
        loop {
            let page = certificates::summaries_page(conn, administration, &after, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            count += page.len();
            for (number, summary) in page {
                self.offer(administration, &number, summary);
            }
        }
        followed.insert(administration.to_owned(), position);
        drop(followed);
        self.catch_up(conn, administration).await?;
        Ok(count)
    }

    /// Makes room for `more` entries at once: growing a shard by doubling would hold its old and
    /// new copies together, and keep up to half of the last one spare.
    fn reserve(&self, more: u64) {
        let per_shard = usize::try_from(more / SHARDS as u64).unwrap_or(0);
        let per_shard = per_shard + per_shard / 16 + 16;
        for shard in self.shards.iter() {
            let mut shard = shard.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            let Shard { table, entries, .. } = &mut *shard;
            entries.reserve_exact(per_shard);
            table.reserve(per_shard, |&at| self.hasher.hash_one(entries[at as usize].key.as_str()));
        }
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

    /// How many certificates are held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.read().map_or(0, |shard| shard.entries.len())).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aeo_domain::Role;

    fn summary(version: i32, status: Status, reason: Option<&str>) -> Summary {
        Summary {
            version,
            stored_status: status,
            category: Category::Security,
            roles: [Role::Exporter, Role::Carrier].into_iter().collect(),
            public: true,
            valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
            valid_until: NaiveDate::from_ymd_opt(2028, 1, 1).unwrap_or_default(),
            operator_name: CompactString::from("Exportadora con un nombre largo de verdad S.A."),
            status_reason: reason.map(CompactString::from),
        }
    }

    fn held(index: &CertificateIndex, number: &str) -> Option<Summary> {
        let key = pair("CL", number);
        let hash = index.hasher.hash_one(key.as_str());
        let shard = index.shard(hash).read().ok()?;
        shard.position(hash, &key).map(|at| shard.summary(at))
    }

    #[test]
    fn only_a_newer_version_replaces_what_is_held() {
        let index = CertificateIndex::default();
        index.offer("CL", "CL-1", summary(2, Status::Active, None));
        index.offer("CL", "CL-1", summary(1, Status::Revoked, Some("older")));
        assert_eq!(held(&index, "CL-1"), Some(summary(2, Status::Active, None)));
        index.offer("CL", "CL-1", summary(3, Status::Suspended, Some("Auditoría")));
        assert_eq!(held(&index, "CL-1"), Some(summary(3, Status::Suspended, Some("Auditoría"))));
        index.offer("CL", "CL-1", summary(4, Status::Active, None));
        assert_eq!(held(&index, "CL-1"), Some(summary(4, Status::Active, None)), "the reason goes with the suspension");
        assert_eq!(held(&index, "CL-2"), None);
    }

    #[test]
    fn many_certificates_are_each_found() {
        let index = CertificateIndex::default();
        for n in 0..20_000 {
            index.offer("CL", &format!("CL-{n}"), summary(n + 1, Status::Active, (n % 7 == 0).then_some("motivo")));
        }
        assert_eq!(index.len(), 20_000);
        for n in 0..20_000 {
            let found = held(&index, &format!("CL-{n}")).map(|s| (s.version, s.status_reason.is_some()));
            assert_eq!(found, Some((n + 1, n % 7 == 0)));
        }
    }
}
