//! Load shapes that drive a peer: closed loop, open loop at a fixed rate, and a burst of
//! lookups started together; each records outcomes and latencies into a [`Tally`].

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::peer::{Outcome, Resolve};

/// Unique names, so no cache anywhere can answer: `<tag>-<n>.<zone>`.
pub struct Names {
    tag: String,
    zone: String,
    next: AtomicU64,
}

impl Names {
    /// Names `<tag>-0.<zone>`, `<tag>-1.<zone>`, ... (`zone` ends with a dot).
    pub fn new(tag: impl Into<String>, zone: impl Into<String>) -> Names {
        Names {
            tag: tag.into(),
            zone: zone.into(),
            next: AtomicU64::new(0),
        }
    }

    /// The next unused name.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}.{}", self.tag, self.zone)
    }
}

/// Outcomes counted and latencies recorded (microseconds).
pub struct Tally {
    hist: Histogram<u64>,
    /// Lookups that answered with both families.
    pub answers: u64,
    /// Lookups that answered with one family only.
    pub partial: u64,
    /// Lookups that said not-found: spurious, since every name exists.
    pub not_found: u64,
    /// Lookups that timed out.
    pub timeouts: u64,
    /// Lookups that failed otherwise.
    pub failed: u64,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            // 1 µs to 10 min, 3 significant digits.
            hist: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            answers: 0,
            partial: 0,
            not_found: 0,
            timeouts: 0,
            failed: 0,
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Tally {
    /// Count one lookup.
    pub fn record(&mut self, outcome: Outcome, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.hist.saturating_record(us);
        match outcome {
            Outcome::Answer => self.answers += 1,
            Outcome::Partial => self.partial += 1,
            Outcome::NotFound => self.not_found += 1,
            Outcome::Timeout => self.timeouts += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    /// Lookups counted.
    pub fn lookups(&self) -> u64 {
        self.answers + self.partial + self.not_found + self.timeouts + self.failed
    }

    /// Lookups that took less than `limit`.
    pub fn faster_than(&self, limit: Duration) -> u64 {
        let us = u64::try_from(limit.as_micros()).unwrap_or(u64::MAX);
        if us <= 1 {
            return 0;
        }
        self.hist.count_between(1, us - 1)
    }

    /// Percentiles of what was recorded (zeros when nothing was).
    pub fn latency(&self) -> Latency {
        if self.hist.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50_ms: ms(self.hist.value_at_quantile(0.50)),
            p99_ms: ms(self.hist.value_at_quantile(0.99)),
            p999_ms: ms(self.hist.value_at_quantile(0.999)),
            max_ms: ms(self.hist.max()),
        }
    }
}

type Shared = Arc<Mutex<Tally>>;

fn record(tally: &Shared, outcome: Outcome, elapsed: Duration) {
    tally
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(outcome, elapsed);
}

fn take(tally: Shared) -> Tally {
    match Arc::try_unwrap(tally) {
        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
        // Every task has been joined, so this is unreachable; fall back to a copy of counts.
        Err(shared) => {
            let t = shared.lock().unwrap_or_else(|e| e.into_inner());
            Tally {
                hist: t.hist.clone(),
                answers: t.answers,
                partial: t.partial,
                not_found: t.not_found,
                timeouts: t.timeouts,
                failed: t.failed,
            }
        }
    }
}

/// `concurrency` workers each resolving a fresh name as soon as the last one finished, starting
/// lookups for `duration`; waits for the last ones (each peer's own bound keeps that short).
pub async fn closed_loop<P: Resolve>(
    peer: Arc<P>,
    names: Arc<Names>,
    concurrency: usize,
    duration: Duration,
) -> Tally {
    let tally = Shared::default();
    let stop = Instant::now() + duration;
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (peer, names, tally) = (peer.clone(), names.clone(), tally.clone());
        workers.spawn(async move {
            while Instant::now() < stop {
                let name = names.next();
                let start = Instant::now();
                let outcome = peer.lookup(&name).await;
                record(&tally, outcome, start.elapsed());
            }
        });
    }
    while workers.join_next().await.is_some() {}
    take(tally)
}

/// `count` lookups started at `rate` per second whatever happens to earlier ones; latency is
/// measured from each lookup's intended start, so a stalled client cannot hide its stall.
pub async fn open_loop<P: Resolve>(
    peer: Arc<P>,
    names: Arc<Names>,
    count: u64,
    rate: u64,
) -> Tally {
    let tally = Shared::default();
    let start = tokio::time::Instant::now();
    let gap = Duration::from_secs(1) / u32::try_from(rate.max(1)).unwrap_or(u32::MAX);
    let mut lookups = JoinSet::new();
    for i in 0..count {
        let intended = start + gap * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(intended).await;
        let (peer, name, tally) = (peer.clone(), names.next(), tally.clone());
        lookups.spawn(async move {
            let outcome = peer.lookup(&name).await;
            record(&tally, outcome, intended.elapsed());
        });
        // Reap finished lookups as we go so the set stays small.
        while lookups.try_join_next().is_some() {}
    }
    while lookups.join_next().await.is_some() {}
    take(tally)
}

/// `n` lookups started together; `during` is polled every 20 ms while they run (for memory
/// and descriptor sampling). Elapsed times count from each lookup's first poll.
pub async fn burst<P: Resolve>(
    peer: Arc<P>,
    names: Arc<Names>,
    n: usize,
    mut during: impl FnMut(),
) -> Tally {
    let tally = Shared::default();
    let mut lookups = JoinSet::new();
    for _ in 0..n {
        let (peer, name, tally) = (peer.clone(), names.next(), tally.clone());
        lookups.spawn(async move {
            let start = Instant::now();
            let outcome = peer.lookup(&name).await;
            record(&tally, outcome, start.elapsed());
        });
    }
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            joined = lookups.join_next() => if joined.is_none() { break },
            _ = tick.tick() => during(),
        }
    }
    take(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_under_the_zone() {
        let names = Names::new("t1", "bench.test.");
        assert_eq!(names.next(), "t1-0.bench.test.");
        assert_eq!(names.next(), "t1-1.bench.test.");
    }

    #[test]
    fn tally_counts_classes_and_percentiles() {
        let mut t = Tally::default();
        for ms in 1..=1000 {
            t.record(Outcome::Answer, Duration::from_millis(ms));
        }
        t.record(Outcome::NotFound, Duration::from_secs(5));
        t.record(Outcome::Timeout, Duration::from_secs(5));
        t.record(Outcome::Partial, Duration::from_secs(1));
        assert_eq!(t.lookups(), 1003);
        assert_eq!(t.partial, 1);
        assert_eq!(
            (t.answers, t.not_found, t.timeouts, t.failed),
            (1000, 1, 1, 0)
        );
        let l = t.latency();
        assert!((l.p50_ms - 501.0).abs() < 2.0, "{l:?}");
        assert!((l.max_ms - 5000.0).abs() < 5.0, "{l:?}");
        assert_eq!(Tally::default().latency(), Latency::default());
        // Histogram buckets are 0.1% wide: test between recorded values.
        assert_eq!(t.faster_than(Duration::from_micros(100_500)), 100);
    }
}
