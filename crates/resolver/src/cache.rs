//! The answer cache: replies per (name, record type), class IN, kept for their TTL; expired
//! answers kept a while longer to be served stale when asking again fails; failures remembered
//! briefly. Filled only from accepted replies, per search candidate (the walk asks the cache
//! for each fully qualified candidate name, as it would ask a server).
//!
//! Rules (each constant documents its reason):
//! - an answer is cached for the smallest TTL among its records and its CNAME chain, clamped to
//!   [`CacheConfig::with_ttl_bounds`]; a TTL with the top bit set counts as 0 (RFC 2181 §8), so
//!   no TTL can push an expiry past the clock's range;
//! - NXDOMAIN and NODATA are cached for `min(SOA TTL, SOA MINIMUM)` from the reply's authority
//!   section (RFC 2308 §5), at most [`CacheConfig::with_max_negative_ttl`]; a negative reply
//!   without a SOA is not cached (RFC 2308 §5);
//! - a failure (timeout, SERVFAIL, REFUSED, network, malformed) never becomes a negative entry.
//!   When the question ran its course it is remembered for
//!   [`CacheConfig::with_failure_memory`] (RFC 9520) and reported again as that failure;
//! - a newer reply replaces the entry: an NXDOMAIN or NODATA removes the answer the name had,
//!   so serve-stale can only return what the name had until its last reply;
//! - bounds: entries and bytes both. The cache weighs an entry as the larger of its estimated
//!   size and `max_bytes / max_entries`, and holds at most `max_bytes` of weight: so neither
//!   bound can be passed. Eviction is quick_cache's (CLOCK-PRO: entries asked for once go
//!   before entries asked for again); an entry no rule can serve any more is removed when
//!   next looked up, or evicted.
//!
//! Times are tokio's [`Instant`]s, passed in (paused-time tests drive expiry).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use tokio::time::Instant;

use crate::trace::FailureKind;
use crate::wire::Answered;

/// Default most entries: hickory-resolver's default cache size.
const DEFAULT_MAX_ENTRIES: u64 = 8_192;
/// Most entries that can be configured.
const MAX_MAX_ENTRIES: u64 = 10_000_000;
/// Default most bytes: 8,192 entries of about 1 KiB, a few answers of several records each.
const DEFAULT_MAX_BYTES: u64 = 8 << 20;
/// Fewest bytes that can be configured: a handful of entries.
const MIN_MAX_BYTES: u64 = 4 << 10;
/// Most bytes that can be configured.
const MAX_MAX_BYTES: u64 = 4 << 30;
/// Default shortest time an answer is cached: 0 s, so a record with TTL 0 is not cached, as
/// RFC 1035 §3.2.1 asks ("should not be cached"); identical lookups in flight still share one
/// query.
const DEFAULT_MIN_TTL: Duration = Duration::ZERO;
/// Default longest time an answer is cached: one day, Unbound's `cache-max-ttl`.
const DEFAULT_MAX_TTL: Duration = Duration::from_secs(86_400);
/// Longest TTL bound that can be configured: one week.
const MAX_TTL_BOUND: Duration = Duration::from_secs(7 * 86_400);
/// Default longest time an NXDOMAIN or NODATA is cached: 5 minutes, so a name created after a
/// lookup saw NXDOMAIN is found within 5 minutes (RFC 2308 §5 allows up to 3 hours; Unbound
/// uses 1 hour).
const DEFAULT_MAX_NEGATIVE_TTL: Duration = Duration::from_secs(300);
/// Default longest an expired answer may be served stale: one day. RFC 8767 §5 suggests 1 to 3
/// days, and notes that shorter values handle most outages.
const DEFAULT_MAX_STALE: Duration = Duration::from_secs(86_400);
/// How long a lookup waits for an expired answer's refresh before returning the stale answer
/// (RFC 8767 §5's client response timer, 1.8 s; Unbound's default too).
const DEFAULT_STALE_WAIT: Duration = Duration::from_millis(1_800);
/// Bounds of the stale-answer wait.
const MIN_STALE_WAIT: Duration = Duration::from_millis(10);
const MAX_STALE_WAIT: Duration = Duration::from_secs(300);
/// The TTL given to records served stale (RFC 8767 §4 recommends 30 s).
pub(crate) const STALE_TTL: u32 = 30;
/// Default failure memory: 1 s, the least RFC 9520 §3.2 asks of a resolver. Long enough to
/// stop a retry storm against a failing server, short enough that a recovered server is asked
/// again within a second.
const DEFAULT_FAILURE_MEMORY: Duration = Duration::from_secs(1);
/// Longest failure memory: 5 minutes, RFC 9520 §3.2's ceiling.
const MAX_FAILURE_MEMORY: Duration = Duration::from_secs(300);
/// What an entry costs besides its records, for the byte bound: the key, the slot, its
/// flattened name and the cache's bookkeeping, about this much.
const ENTRY_OVERHEAD: usize = 256;

/// The cache's settings: size bounds, TTL clamps, serve-stale and failure memory.
///
/// On by default ([`Config::with_cache`](crate::Config::with_cache) turns it off). Setters
/// clamp out-of-range values to the nearest bound, like [`Config`](crate::Config)'s.
///
/// ```
/// use std::time::Duration;
/// let cache = stubborn::CacheConfig::new()
///     .with_max_entries(50_000)
///     .with_ttl_bounds(Duration::from_secs(5), Duration::from_secs(3_600))
///     .with_serve_stale(None);
/// assert_eq!(cache.max_entries(), 50_000);
/// assert_eq!(cache.serve_stale(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    max_entries: u64,
    max_bytes: u64,
    min_ttl: Duration,
    max_ttl: Duration,
    max_negative_ttl: Duration,
    serve_stale: Option<Duration>,
    stale_wait: Duration,
    failure_memory: Option<Duration>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig::new()
    }
}

impl CacheConfig {
    /// The default cache: 8,192 entries, 8 MiB, TTLs clamped to 0 s..=1 day, negative answers
    /// at most 5 minutes, stale answers up to 1 day old after a 1.8 s wait, failures
    /// remembered 1 s.
    pub fn new() -> Self {
        CacheConfig {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_BYTES,
            min_ttl: DEFAULT_MIN_TTL,
            max_ttl: DEFAULT_MAX_TTL,
            max_negative_ttl: DEFAULT_MAX_NEGATIVE_TTL,
            serve_stale: Some(DEFAULT_MAX_STALE),
            stale_wait: DEFAULT_STALE_WAIT,
            failure_memory: Some(DEFAULT_FAILURE_MEMORY),
        }
    }

    /// Sets the most entries (one per name and record type). Defaults to 8,192, as
    /// hickory-resolver. Bounds 1..=10,000,000.
    pub fn with_max_entries(mut self, entries: u64) -> Self {
        self.max_entries = entries.clamp(1, MAX_MAX_ENTRIES);
        self
    }

    /// Sets the most bytes the entries may take (records as held in memory, plus a fixed
    /// 256-byte overhead per entry). Defaults to 8 MiB. Bounds 4 KiB..=4 GiB.
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes.clamp(MIN_MAX_BYTES, MAX_MAX_BYTES);
        self
    }

    /// Sets the shortest and longest time an answer is cached: TTLs outside clamp to these.
    /// Defaults to 0 s (a TTL-0 answer is not cached, RFC 1035 §3.2.1) and 1 day (Unbound's
    /// `cache-max-ttl`). Raising the minimum caches answers longer than their owners asked;
    /// lowering the maximum asks again sooner. Bounds 0..=1 week; a minimum above the maximum
    /// is lowered to it.
    pub fn with_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.max_ttl = max.min(MAX_TTL_BOUND);
        self.min_ttl = min.min(self.max_ttl);
        self
    }

    /// Sets the longest time an NXDOMAIN or NODATA is cached (it is cached for the reply's
    /// SOA minimum, RFC 2308, capped here). Defaults to 5 minutes. Bounds 0..=1 week; 0 turns
    /// negative caching off.
    pub fn with_max_negative_ttl(mut self, max: Duration) -> Self {
        self.max_negative_ttl = max.min(MAX_TTL_BOUND);
        self
    }

    /// Sets how long past its TTL an answer may still be served when asking again fails
    /// (timeout, SERVFAIL, REFUSED, network, malformed replies), RFC 8767; `None` turns
    /// serve-stale off. Only answers are served stale, never NXDOMAIN or NODATA, and never an
    /// answer a newer reply replaced. Defaults to 1 day (RFC 8767 suggests 1 to 3). Bounds
    /// 0..=1 week.
    pub fn with_serve_stale(mut self, max_stale: Option<Duration>) -> Self {
        self.serve_stale = max_stale.map(|d| d.min(MAX_TTL_BOUND));
        self
    }

    /// Sets how long a lookup waits for an expired answer's refresh before it returns the
    /// stale answer (RFC 8767's client response timer). The refresh goes on while other
    /// lookups wait for it; a lookup never waits past its own deadline. Defaults to 1.8 s, as
    /// RFC 8767 and Unbound. Bounds 10 ms..=300 s.
    pub fn with_stale_wait(mut self, wait: Duration) -> Self {
        self.stale_wait = wait.clamp(MIN_STALE_WAIT, MAX_STALE_WAIT);
        self
    }

    /// Sets how long a failed question is remembered (RFC 9520), or `None` not to remember
    /// failures. While remembered, lookups asking the same question get the same failure at
    /// once (an error of the same kind, its trace saying it was remembered) or, where there is
    /// one, the stale answer. Only a question that ran its course is remembered: all its
    /// attempts were made, or the servers answered with failures; a question cut short by a
    /// caller's short deadline is not. Defaults to 1 s, RFC 9520's minimum. Bounds 0..=5
    /// minutes (RFC 9520's maximum).
    pub fn with_failure_memory(mut self, memory: Option<Duration>) -> Self {
        self.failure_memory = memory.map(|d| d.min(MAX_FAILURE_MEMORY));
        self
    }

    /// The most entries.
    pub fn max_entries(&self) -> u64 {
        self.max_entries
    }

    /// The most bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The TTL clamps of answers: (shortest, longest).
    pub fn ttl_bounds(&self) -> (Duration, Duration) {
        (self.min_ttl, self.max_ttl)
    }

    /// The longest time a negative answer is cached.
    pub fn max_negative_ttl(&self) -> Duration {
        self.max_negative_ttl
    }

    /// How long past its TTL an answer may be served stale (`None`: never).
    pub fn serve_stale(&self) -> Option<Duration> {
        self.serve_stale
    }

    /// How long a lookup waits for a refresh before serving stale.
    pub fn stale_wait(&self) -> Duration {
        self.stale_wait
    }

    /// How long a failure is remembered (`None`: not at all).
    pub fn failure_memory(&self) -> Option<Duration> {
        self.failure_memory
    }
}

/// A reply the cache holds.
#[derive(Debug)]
pub(crate) enum Held {
    /// Records, from this server.
    Answer {
        answered: Answered,
        server: SocketAddr,
    },
    NoData,
    NxDomain,
}

/// A reply and when it was received; fresh while `now < at + ttl`.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) data: Held,
    pub(crate) at: Instant,
    pub(crate) ttl: Duration,
}

impl Stored {
    fn fresh(&self, now: Instant) -> bool {
        now < self.at + self.ttl
    }

    /// The records with their TTLs as a cache returns them: counted down by the time spent in
    /// the cache (never above the TTL the server gave), or [`STALE_TTL`] once stale.
    pub(crate) fn answered_at(&self, now: Instant) -> Option<(Answered, SocketAddr)> {
        let Held::Answer { answered, server } = &self.data else {
            return None;
        };
        let ttl = if self.fresh(now) {
            let left = (self.at + self.ttl).saturating_duration_since(now);
            // Whole seconds, rounded up: a record with 0.4 s left is not expired.
            u32::try_from(left.as_millis().div_ceil(1000)).unwrap_or(u32::MAX)
        } else {
            STALE_TTL
        };
        let age = |records: &[Record]| -> Vec<Record> {
            records
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.ttl = r.ttl.min(ttl);
                    r
                })
                .collect()
        };
        let answered = Answered {
            canonical: answered.canonical.clone(),
            records: age(&answered.records),
            chain: age(&answered.chain),
        };
        Some((answered, *server))
    }
}

/// A failure remembered until `until`.
#[derive(Debug, Clone, Copy)]
struct Remembered {
    kind: FailureKind,
    at: Instant,
    until: Instant,
}

/// What the cache holds for one question: its latest reply and a failure since.
#[derive(Debug)]
struct Slot {
    /// The question's name, flattened (see [`Flat`]): the key is only a hash.
    name: Box<[u8]>,
    stored: Option<Arc<Stored>>,
    failure: Option<Remembered>,
    weight: u32,
}

/// What the cache says about a question at some instant.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// A reply within its TTL.
    Fresh(Arc<Stored>),
    /// A failure within its memory; with the stale answer to serve instead, if any.
    Failure {
        kind: FailureKind,
        age: Duration,
        stale: Option<Arc<Stored>>,
    },
    /// Nothing usable: ask. With an expired answer that may be served if asking fails.
    Miss { stale: Option<Arc<Stored>> },
}

/// The key of a question: a hash of its flattened name and its type. Two questions with the
/// same hash share a slot, and the slot's name tells them apart: a collision (even a crafted
/// one) is a miss, never another name's answer.
type Key = u64;

/// A name flattened for the cache: its labels lowercased, each after its length (as on the
/// wire, so a `.` inside a label cannot be confused with a separator), then whether it is
/// fully qualified. On the stack: a name is at most 255 bytes.
struct Flat {
    bytes: [u8; 258],
    len: usize,
}

impl Flat {
    fn new(name: &Name) -> Flat {
        let mut flat = Flat {
            bytes: [0; 258],
            len: 0,
        };
        for label in name.iter() {
            let end = (flat.len + 1 + label.len()).min(flat.bytes.len() - 1);
            flat.bytes[flat.len] = label.len() as u8;
            for (to, from) in flat.bytes[flat.len + 1..end].iter_mut().zip(label) {
                *to = from.to_ascii_lowercase();
            }
            flat.len = end;
        }
        flat.bytes[flat.len] = u8::from(name.is_fqdn()) + 1;
        flat.len += 1;
        flat
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The key of this name with `record_type`: SipHash-1-3 over the flattened bytes in one
    /// write (a per-byte hasher call, as `Name`'s `Hash` makes, costs several times more).
    fn key(&self, record_type: RecordType) -> Key {
        use std::hash::Hasher as _;
        let mut hasher = std::hash::DefaultHasher::new();
        hasher.write(self.as_bytes());
        hasher.write_u16(u16::from(record_type));
        hasher.finish()
    }
}

/// The key of `name`/`record_type`.
#[cfg(test)]
fn key(name: &Name, record_type: RecordType) -> Key {
    Flat::new(name).key(record_type)
}

/// The weight of a slot for the bounds: its estimated bytes, at least `floor`.
#[derive(Clone)]
struct Weigh {
    floor: u64,
}

impl quick_cache::Weighter<Key, Arc<Slot>> for Weigh {
    fn weight(&self, _key: &Key, slot: &Arc<Slot>) -> u64 {
        u64::from(slot.weight).max(self.floor)
    }
}

/// The cache of one resolver (shared by its clones and kept across configuration reloads
/// that keep its servers).
pub(crate) struct Cache {
    config: CacheConfig,
    entries: quick_cache::sync::Cache<Key, Arc<Slot>, Weigh>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.config)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Cache {
    pub(crate) fn new(config: CacheConfig) -> Cache {
        let floor = (config.max_bytes / config.max_entries).max(1);
        let estimated = usize::try_from(config.max_entries).unwrap_or(usize::MAX);
        let entries =
            quick_cache::sync::Cache::with_weighter(estimated, config.max_bytes, Weigh { floor });
        Cache { config, entries }
    }

    pub(crate) fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The slot for `name`/`record_type`, if it is that question's.
    fn slot(&self, flat: &Flat, record_type: RecordType) -> Option<Arc<Slot>> {
        self.entries
            .get(&flat.key(record_type))
            .filter(|slot| *slot.name == *flat.as_bytes())
    }

    /// What the cache holds for `name`/`record_type` at `now`.
    pub(crate) fn get(&self, name: &Name, record_type: RecordType, now: Instant) -> Lookup {
        let flat = Flat::new(name);
        let Some(slot) = self.slot(&flat, record_type) else {
            return Lookup::Miss { stale: None };
        };
        if let Some(stored) = &slot.stored
            && stored.fresh(now)
        {
            return Lookup::Fresh(stored.clone());
        }
        let stale = slot
            .stored
            .as_ref()
            .filter(|s| self.servable_stale(s, now))
            .cloned();
        match slot.failure {
            Some(f) if now < f.until => Lookup::Failure {
                kind: f.kind,
                age: now.saturating_duration_since(f.at),
                stale,
            },
            _ => {
                if stale.is_none() {
                    // Nothing left that any rule could serve: free it now.
                    self.entries.remove(&flat.key(record_type));
                }
                Lookup::Miss { stale }
            }
        }
    }

    /// Whether `stored` is an answer that expired no longer ago than serve-stale allows.
    fn servable_stale(&self, stored: &Stored, now: Instant) -> bool {
        let Some(max_stale) = self.config.serve_stale else {
            return false;
        };
        matches!(stored.data, Held::Answer { .. }) && now <= stored.at + stored.ttl + max_stale
    }

    /// Stores a reply received at `now`: records (cached for their smallest TTL, clamped), or
    /// NXDOMAIN/NODATA with the reply's RFC 2308 TTL (`negative_ttl`, `None` without a SOA).
    /// A reply that may not be cached still replaces what the cache held.
    pub(crate) fn store(
        &self,
        name: &Name,
        record_type: RecordType,
        data: Held,
        negative_ttl: Option<u32>,
        now: Instant,
    ) {
        let flat = Flat::new(name);
        let key = flat.key(record_type);
        let ttl = match &data {
            Held::Answer { answered, .. } => Some(self.answer_ttl(answered)),
            Held::NoData | Held::NxDomain => negative_ttl.map(|t| {
                Duration::from_secs(u64::from(sane_ttl(t))).min(self.config.max_negative_ttl)
            }),
        };
        let ttl = match ttl {
            Some(ttl) if !ttl.is_zero() => ttl,
            _ => {
                self.entries.remove(&key);
                return;
            }
        };
        let weight = estimate(name, &data);
        let stored = Arc::new(Stored { data, at: now, ttl });
        let slot = Slot {
            name: flat.as_bytes().into(),
            stored: Some(stored),
            failure: None,
            weight,
        };
        self.entries.insert(key, Arc::new(slot));
    }

    /// Remembers a failure of a question that ran its course, if failures are remembered. An
    /// answer held for the question stays, to be served stale.
    pub(crate) fn remember_failure(
        &self,
        name: &Name,
        record_type: RecordType,
        kind: FailureKind,
        now: Instant,
    ) {
        let Some(memory) = self.config.failure_memory.filter(|m| !m.is_zero()) else {
            return;
        };
        let flat = Flat::new(name);
        let stored = self
            .slot(&flat, record_type)
            .and_then(|slot| slot.stored.clone());
        let weight = match &stored {
            Some(s) => estimate(name, &s.data),
            None => estimate_failure(name),
        };
        let slot = Slot {
            name: flat.as_bytes().into(),
            stored,
            failure: Some(Remembered {
                kind,
                at: now,
                until: now + memory,
            }),
            weight,
        };
        self.entries.insert(flat.key(record_type), Arc::new(slot));
    }

    /// Drops every entry (the servers changed).
    pub(crate) fn clear(&self) {
        self.entries.clear();
    }

    /// The number of entries.
    pub(crate) fn entry_count(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The weight held (bytes, each entry counted at least `max_bytes / max_entries`).
    pub(crate) fn weighted_size(&self) -> u64 {
        self.entries.weight()
    }

    /// How long an answer is cached: its smallest TTL, clamped.
    fn answer_ttl(&self, answered: &Answered) -> Duration {
        let ttl = answered
            .records
            .iter()
            .chain(&answered.chain)
            .map(|r| sane_ttl(r.ttl))
            .min()
            .unwrap_or(0);
        Duration::from_secs(u64::from(ttl)).clamp(self.config.min_ttl, self.config.max_ttl)
    }
}

/// A TTL as RFC 2181 §8 reads it: values with the top bit set count as 0.
fn sane_ttl(ttl: u32) -> u32 {
    if ttl > i32::MAX as u32 { 0 } else { ttl }
}

/// The bytes an entry holds, estimated: the fixed overhead, the name, and per record its
/// in-memory size plus its data's wire length (data on the heap: names, text, keys).
fn estimate(name: &Name, data: &Held) -> u32 {
    let mut bytes = ENTRY_OVERHEAD + name.len();
    if let Held::Answer { answered, .. } = data {
        for record in answered.records.iter().chain(&answered.chain) {
            bytes += std::mem::size_of::<Record>()
                + record.name.len()
                + BinEncodable::to_bytes(&record.data).map_or(0, |b| b.len());
        }
    }
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

fn estimate_failure(name: &Name) -> u32 {
    u32::try_from(ENTRY_OVERHEAD + name.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
