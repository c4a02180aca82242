//! The latency model of one server and the retransmission timeout (RTO) it gives.
//!
//! Algorithm (pure; time is passed in):
//! - every accepted UDP reply is a sample: the time from *its own* query to it. Each query has
//!   its own ID, so a reply to an earlier query is never mistaken for the reply to a re-send
//!   (no Karn ambiguity), and late replies to queries already re-sent are samples too;
//! - samples go into a histogram of log-spaced buckets (four per doubling, 16 µs to ~4 min)
//!   whose counts are halved when they reach [`WINDOW`] samples, and again for every
//!   [`AGE_HALVING`] without a halving: the model follows the last few thousand replies and
//!   forgets an old regime within minutes;
//! - the base RTO is the 99th percentile of the histogram plus a quarter of the spread between
//!   the 99th percentile and the median, floored at [`RTO_FLOOR`] and capped at the per-attempt
//!   timeout. A quantile, not a mean: a recursive server's latency is bimodal (cache hit vs
//!   recursion), and a mean sits between the modes, where almost no reply is, so that every
//!   recursion would be re-sent. Before [`MIN_SAMPLES`] samples the RTO is [`RTO_INITIAL`];
//! - a query unanswered at its RTO backs the RTO off (doubles it, at most once per RTO period,
//!   up to the cap) until the next sample: a server that stops answering is not flooded with
//!   re-sends, one that loses a packet now and then is not slowed down. After
//!   [`SILENT_LIMIT`] such expiries in a row with no reply between them, the server is
//!   treated as silent and gets no early re-sends at all until it answers again: random loss
//!   leaves replies between the losses, an outage does not, and re-sending into an outage only
//!   multiplies the load once it ends. Unanswered queries are
//!   counted as losses, not as latency samples: a loss says nothing about how long a reply
//!   takes, and counting it as a very slow reply would push the quantile to the cap at any loss
//!   rate above 1%, undoing the point of the model.

use std::time::Duration;

use tokio::time::Instant;

/// The smallest RTO. Loopback and LAN replies take well under a millisecond, but a reply's
/// latency as seen by a task includes scheduling: on a busy host a few milliseconds of timer
/// and scheduler jitter are normal, and an RTO inside that jitter re-sends queries that were
/// not lost. 10 ms sits above that jitter and below what an application notices.
pub(crate) const RTO_FLOOR: Duration = Duration::from_millis(10);

/// The RTO of a server with fewer than [`MIN_SAMPLES`] samples: long enough for a recursive
/// resolver's cache miss (most recursions finish within a few hundred milliseconds, and
/// Unbound waits 376 ms for an unknown server), short enough that a lost first query costs
/// well under the 1 s per-attempt timeout.
pub(crate) const RTO_INITIAL: Duration = Duration::from_millis(300);

/// Samples needed before the quantile is trusted: with fewer, the 99th percentile is just the
/// largest sample seen.
pub(crate) const MIN_SAMPLES: u32 = 16;

/// Histogram counts are halved when they add up to this many samples.
pub(crate) const WINDOW: u32 = 2048;

/// Counts are halved once per this much time without a halving, so a server queried rarely
/// still forgets an old regime.
pub(crate) const AGE_HALVING: Duration = Duration::from_secs(60);

/// The most doublings of the RTO while a server does not answer.
const MAX_BACKOFF: u8 = 7;

/// Expiries in a row, with no reply between them, that make a server silent (no early
/// re-sends until its next reply). At 10% random loss, sixteen losses in a row with no reply
/// between them come about once in 10^16 queries; an outage reaches it within a few RTOs.
pub(crate) const SILENT_LIMIT: u32 = 16;

/// Width of the smallest bucket, in microseconds.
const BASE_US: f64 = 16.0;
/// Buckets per doubling.
const PER_DOUBLING: f64 = 4.0;
/// Bucket count: 16 µs x 2^(96/4) = 268 s.
const BUCKETS: usize = 96;

/// The latency model of one server.
#[derive(Debug, Clone)]
pub(crate) struct LatencyModel {
    counts: [u32; BUCKETS],
    total: u32,
    /// Samples ever taken (not halved).
    samples: u64,
    last_halved: Option<Instant>,
    /// The base RTO from the histogram (recomputed on every sample).
    base: Duration,
    backoff: u8,
    backoff_at: Option<Instant>,
    /// Expiries since the last reply.
    silent: u32,
}

impl Default for LatencyModel {
    fn default() -> Self {
        LatencyModel {
            counts: [0; BUCKETS],
            total: 0,
            samples: 0,
            last_halved: None,
            base: RTO_INITIAL,
            backoff: 0,
            backoff_at: None,
            silent: 0,
        }
    }
}

/// The bucket of a latency.
fn bucket(latency: Duration) -> usize {
    let us = latency.as_secs_f64() * 1e6;
    if us <= BASE_US {
        return 0;
    }
    let index = ((us / BASE_US).log2() * PER_DOUBLING).floor();
    (index as usize).min(BUCKETS - 1)
}

/// The upper bound of a bucket: the latency a quantile falling in it is reported as.
fn upper(index: usize) -> Duration {
    let us = BASE_US * ((index as f64 + 1.0) / PER_DOUBLING).exp2();
    Duration::from_secs_f64(us / 1e6)
}

impl LatencyModel {
    /// Records the latency of an accepted reply, received at `now`; ends any backoff.
    pub(crate) fn sample(&mut self, now: Instant, latency: Duration) {
        self.age(now);
        self.counts[bucket(latency)] += 1;
        self.total += 1;
        self.samples += 1;
        if self.total >= WINDOW {
            self.halve(now);
        }
        self.backoff = 0;
        self.backoff_at = None;
        self.silent = 0;
        // Scanning the histogram costs a hundred buckets: do it every few samples, and at once
        // for a sample above the current RTO (a server getting slower is news to act on).
        if self.samples.is_multiple_of(8)
            || latency > self.base
            || self.samples <= u64::from(MIN_SAMPLES)
        {
            self.base = self.compute_base();
        }
    }

    /// A query to this server went unanswered for its RTO at `now`: back off, at most once per
    /// RTO period.
    pub(crate) fn expired(&mut self, now: Instant, cap: Duration) {
        self.silent = self.silent.saturating_add(1);
        let period = self.rto(cap);
        let due = match self.backoff_at {
            Some(at) => now.saturating_duration_since(at) >= period,
            None => true,
        };
        if due && self.backoff < MAX_BACKOFF {
            self.backoff += 1;
            self.backoff_at = Some(now);
        }
    }

    /// Whether the server has been silent for [`SILENT_LIMIT`] expiries in a row.
    pub(crate) fn is_silent(&self) -> bool {
        self.silent >= SILENT_LIMIT
    }

    /// The RTO for a query sent now, capped at `cap` (the per-attempt timeout).
    pub(crate) fn rto(&self, cap: Duration) -> Duration {
        let backed_off = self.base.saturating_mul(1u32 << self.backoff);
        backed_off.min(cap).max(RTO_FLOOR.min(cap))
    }

    /// The latency at quantile `q` (0..=1), from the histogram; `None` without samples.
    pub(crate) fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let wanted = (f64::from(self.total) * q).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= wanted {
                return Some(upper(index));
            }
        }
        Some(upper(BUCKETS - 1))
    }

    fn compute_base(&self) -> Duration {
        if self.total < MIN_SAMPLES && self.samples < u64::from(MIN_SAMPLES) {
            return RTO_INITIAL;
        }
        let (Some(p50), Some(p99)) = (self.quantile(0.5), self.quantile(0.99)) else {
            return RTO_INITIAL;
        };
        (p99 + p99.saturating_sub(p50) / 4).max(RTO_FLOOR)
    }

    /// Halves the counts once per [`AGE_HALVING`] passed since the last halving.
    fn age(&mut self, now: Instant) {
        let Some(last) = self.last_halved else {
            self.last_halved = Some(now);
            return;
        };
        let periods = now.saturating_duration_since(last).as_secs() / AGE_HALVING.as_secs();
        for _ in 0..periods.min(32) {
            self.halve(now);
        }
    }

    fn halve(&mut self, now: Instant) {
        self.total = 0;
        for count in &mut self.counts {
            *count /= 2;
            self.total += *count;
        }
        self.last_halved = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CAP: Duration = Duration::from_secs(1);

    fn ms(n: f64) -> Duration {
        Duration::from_secs_f64(n / 1000.0)
    }

    #[test]
    fn buckets_are_log_spaced_and_bounded() {
        assert_eq!(bucket(Duration::ZERO), 0);
        assert_eq!(bucket(Duration::from_secs(10_000)), BUCKETS - 1);
        for latency in [ms(0.05), ms(1.0), ms(20.0), ms(200.0), ms(3000.0)] {
            let b = bucket(latency);
            assert!(upper(b) >= latency, "{latency:?} under {:?}", upper(b));
            assert!(
                upper(b) <= latency.mul_f64(1.2),
                "{latency:?}: {:?}",
                upper(b)
            );
        }
    }

    #[test]
    fn starts_at_the_initial_value_and_is_capped() {
        let m = LatencyModel::default();
        assert_eq!(m.rto(CAP), RTO_INITIAL);
        assert_eq!(m.rto(ms(100.0)), ms(100.0), "never above the timeout");
        assert_eq!(m.quantile(0.99), None);
    }

    #[test]
    fn loopback_latency_gives_the_floor() {
        let now = Instant::now();
        let mut m = LatencyModel::default();
        for i in 0..100 {
            m.sample(now, ms(0.1 + f64::from(i % 5) * 0.05));
        }
        assert_eq!(m.rto(CAP), RTO_FLOOR);
    }

    #[test]
    fn bimodal_latency_gives_an_rto_above_the_slow_mode() {
        // 70% cache hits at 0.3 ms, 30% recursions spread over 20..200 ms.
        let now = Instant::now();
        let mut m = LatencyModel::default();
        for i in 0..1000u32 {
            let latency = if i % 10 < 7 {
                ms(0.3)
            } else {
                ms(20.0 + f64::from(i % 181))
            };
            m.sample(now, latency);
        }
        let rto = m.rto(CAP);
        assert!(rto >= ms(200.0), "{rto:?}");
        assert!(rto <= ms(300.0), "{rto:?}");
    }

    #[test]
    fn backoff_doubles_once_per_period_and_ends_with_a_sample() {
        let t0 = Instant::now();
        let mut m = LatencyModel::default();
        for _ in 0..50 {
            m.sample(t0, ms(0.2));
        }
        assert_eq!(m.rto(CAP), ms(10.0));
        m.expired(t0, CAP);
        assert_eq!(m.rto(CAP), ms(20.0));
        // Many queries expiring within the same period back off once.
        m.expired(t0 + ms(5.0), CAP);
        m.expired(t0 + ms(19.0), CAP);
        assert_eq!(m.rto(CAP), ms(20.0));
        m.expired(t0 + ms(20.0), CAP);
        assert_eq!(m.rto(CAP), ms(40.0));
        for i in 0..20 {
            m.expired(t0 + Duration::from_secs(i), CAP);
        }
        assert_eq!(m.rto(CAP), CAP, "capped at the timeout");
        m.sample(t0 + Duration::from_secs(30), ms(0.2));
        assert_eq!(m.rto(CAP), ms(10.0));
    }

    #[test]
    fn a_server_silent_through_many_expiries_is_silent_until_it_answers() {
        let t0 = Instant::now();
        let mut m = LatencyModel::default();
        for i in 0..SILENT_LIMIT - 1 {
            m.expired(t0 + ms(f64::from(i)), CAP);
            assert!(!m.is_silent());
        }
        // Random loss: a reply between the losses starts the count again.
        m.sample(t0, ms(0.2));
        for _ in 0..SILENT_LIMIT - 1 {
            m.expired(t0, CAP);
        }
        assert!(!m.is_silent());
        m.expired(t0, CAP);
        assert!(m.is_silent(), "an outage");
        m.sample(t0, ms(0.2));
        assert!(!m.is_silent(), "it answers again");
    }

    #[test]
    fn a_new_regime_replaces_the_old_one() {
        let t0 = Instant::now();
        let mut m = LatencyModel::default();
        for _ in 0..WINDOW {
            m.sample(t0, ms(0.2));
        }
        assert_eq!(m.rto(CAP), RTO_FLOOR);
        // The server becomes slow: 50 ms for every reply.
        for _ in 0..WINDOW {
            m.sample(t0, ms(50.0));
        }
        assert!(m.rto(CAP) >= ms(50.0), "{:?}", m.rto(CAP));
        // Time alone also forgets: after many idle minutes a handful of fast replies rule.
        let later = t0 + AGE_HALVING * 40;
        for _ in 0..MIN_SAMPLES {
            m.sample(later, ms(0.2));
        }
        assert_eq!(m.rto(CAP), RTO_FLOOR);
    }

    proptest! {
        /// Whatever the samples, the RTO stays within its floor and cap, and at most a small
        /// fraction of the samples lies above it (the waste a stable latency distribution can
        /// cause).
        #[test]
        fn rto_bounds_and_few_samples_above_it(
            samples in prop::collection::vec(0u64..2_000_000, MIN_SAMPLES as usize..600),
        ) {
            let now = Instant::now();
            let mut m = LatencyModel::default();
            for &us in &samples {
                m.sample(now, Duration::from_micros(us));
            }
            let rto = m.rto(CAP);
            prop_assert!(rto >= RTO_FLOOR && rto <= CAP);
            let above = samples.iter().filter(|&&us| Duration::from_micros(us) > rto).count();
            if rto < CAP {
                prop_assert!(above * 100 <= samples.len(), "{above} of {} above {rto:?}", samples.len());
            }
        }
    }
}
