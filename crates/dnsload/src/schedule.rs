//! Closed-loop and open-loop schedules: when lookups start, and what their latency is.
//!
//! Closed loop (the war-story loop): each worker looks a name up, waits for the outcome,
//! pauses, repeats. A slow answer delays that worker's next lookup, so a closed loop shows the
//! experience of one client, not the server's behaviour over time.
//!
//! Open loop: lookup k is *intended* to start at `t0 + k / rate`, whatever earlier lookups do.
//! Its latency is measured from that intended time, not from when it actually started: when
//! the sender falls behind (too many in flight, a stalled machine), the wait is part of the
//! latency instead of vanishing from it (coordinated omission). Starts more than
//! [`LATE_START`] behind their intended time are counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::backend::Backend;
use crate::class::Outcome;
use crate::plan::{Bounds, Schedule};

/// An open-loop start this far behind its intended time is counted as late.
pub const LATE_START: Duration = Duration::from_millis(10);

/// One finished lookup with its timing.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Index of the probe name in the plan's list.
    pub name_index: usize,
    /// When the schedule meant to start it.
    pub intended: Instant,
    /// When it started.
    pub started: Instant,
    /// Wall-clock time of the start.
    pub wall_start: SystemTime,
    /// What happened.
    pub outcome: Outcome,
}

impl Sample {
    /// Latency from the intended start to the outcome: what a client scheduled then waited.
    pub fn latency(&self) -> Duration {
        (self.started - self.intended) + self.outcome.elapsed
    }

    /// How late the lookup started.
    pub fn start_delay(&self) -> Duration {
        self.started - self.intended
    }
}

/// Why a schedule stopped starting lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--count` lookups were started.
    Count,
    /// `--duration` passed.
    Duration,
    /// Interrupted (Ctrl-C) or asked to stop (an output failed).
    Interrupted,
}

impl StopReason {
    /// The name used in the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Count => "count",
            StopReason::Duration => "duration",
            StopReason::Interrupted => "interrupted",
        }
    }
}

/// A stop signal shared by everything in a run.
#[derive(Debug, Clone)]
pub struct Stop {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Stop {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        Stop {
            tx: Arc::new(tx),
            rx,
        }
    }
}

impl Stop {
    /// Asks everything to stop: no new lookups, lookups in flight are abandoned.
    pub fn stop(&self) {
        self.tx.send_replace(true);
    }

    /// Whether a stop was asked.
    pub fn is_stopped(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves when a stop is asked.
    pub async fn stopped(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Runs `schedule` until a bound or a stop, handing each finished lookup to `sink`.
///
/// Returns why it stopped. Lookups in flight when the bound is reached are awaited (each
/// backend returns by its deadline); on a stop they are abandoned.
pub async fn drive<F>(
    schedule: Schedule,
    bounds: Bounds,
    backend: Arc<dyn Backend>,
    names: Arc<[String]>,
    stop: Stop,
    sink: F,
) -> StopReason
where
    F: Fn(Sample) + Send + Sync + 'static,
{
    let sink = Arc::new(sink);
    let start = Instant::now();
    let end = bounds.duration.map(|d| start + d);
    let issued = Arc::new(AtomicU64::new(0));
    let limit = bounds.count.unwrap_or(u64::MAX);
    let out_of_time = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    match schedule {
        Schedule::Closed { workers, pause } => {
            for _ in 0..workers {
                let (backend, names, stop, sink, issued, out_of_time) = (
                    Arc::clone(&backend),
                    Arc::clone(&names),
                    stop.clone(),
                    Arc::clone(&sink),
                    Arc::clone(&issued),
                    Arc::clone(&out_of_time),
                );
                tasks.spawn(async move {
                    loop {
                        if stop.is_stopped() {
                            return;
                        }
                        let now = Instant::now();
                        if end.is_some_and(|e| now >= e) {
                            out_of_time.store(true, Ordering::Relaxed);
                            return;
                        }
                        let k = issued.fetch_add(1, Ordering::Relaxed);
                        if k >= limit {
                            return;
                        }
                        let index = (k % names.len() as u64) as usize;
                        let wall_start = SystemTime::now();
                        let Some(outcome) = look_up(&*backend, &names[index], &stop).await else {
                            return;
                        };
                        sink(Sample {
                            name_index: index,
                            intended: now,
                            started: now,
                            wall_start,
                            outcome,
                        });
                        if !pause.is_zero() {
                            let until = Instant::now() + pause;
                            let until = end.map_or(until, |e| until.min(e));
                            tokio::select! {
                                _ = tokio::time::sleep_until(until) => {}
                                _ = stop.stopped() => return,
                            }
                        }
                    }
                });
            }
        }
        Schedule::Open {
            rate,
            max_in_flight,
        } => {
            let permits = Arc::new(Semaphore::new(max_in_flight));
            let interval = Duration::from_secs_f64(1.0 / rate);
            let mut k: u64 = 0;
            loop {
                if k >= limit {
                    break;
                }
                let intended = start + interval.mul_f64(k as f64);
                if end.is_some_and(|e| intended >= e) {
                    out_of_time.store(true, Ordering::Relaxed);
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(intended) => {}
                    _ = stop.stopped() => break,
                }
                let permit = tokio::select! {
                    p = Arc::clone(&permits).acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = stop.stopped() => break,
                };
                // Reap finished tasks so the set stays bounded by max_in_flight.
                while tasks.try_join_next().is_some() {}
                let (backend, names, stop, sink) = (
                    Arc::clone(&backend),
                    Arc::clone(&names),
                    stop.clone(),
                    Arc::clone(&sink),
                );
                let index = (k % names.len() as u64) as usize;
                tasks.spawn(async move {
                    let _permit = permit;
                    let started = Instant::now();
                    let wall_start = SystemTime::now() - (started - intended);
                    let Some(outcome) = look_up(&*backend, &names[index], &stop).await else {
                        return;
                    };
                    sink(Sample {
                        name_index: index,
                        intended,
                        started,
                        wall_start,
                        outcome,
                    });
                });
                k += 1;
            }
            issued.store(k, Ordering::Relaxed);
        }
    }
    while tasks.join_next().await.is_some() {}
    if stop.is_stopped() {
        StopReason::Interrupted
    } else if out_of_time.load(Ordering::Relaxed) {
        StopReason::Duration
    } else {
        StopReason::Count
    }
}

/// One lookup, abandoned (`None`) when a stop is asked before it returns.
async fn look_up(backend: &dyn Backend, name: &str, stop: &Stop) -> Option<Outcome> {
    tokio::select! {
        outcome = backend.lookup(name) => Some(outcome),
        _ = stop.stopped() => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LookupFuture;
    use crate::class::Class;
    use std::sync::Mutex;

    /// A server that answers in 1 ms, except that everything asked during
    /// `[stall_from, stall_from + stall)` is answered only when the stall ends.
    struct Stalling {
        t0: Instant,
        stall_from: Duration,
        stall: Duration,
        /// Models a client with one connection: lookups are serialised.
        serial: Option<tokio::sync::Mutex<()>>,
    }

    impl Backend for Stalling {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn lookup<'a>(&'a self, _name: &'a str) -> LookupFuture<'a> {
            Box::pin(async move {
                let _guard = match &self.serial {
                    Some(m) => Some(m.lock().await),
                    None => None,
                };
                let start = Instant::now();
                let from = self.t0 + self.stall_from;
                let until = from + self.stall;
                let done = if start >= from && start < until {
                    until + Duration::from_millis(1)
                } else {
                    start + Duration::from_millis(1)
                };
                tokio::time::sleep_until(done).await;
                Outcome::new(Class::Ok, done - start)
            })
        }
    }

    async fn run(schedule: Schedule, serial: bool) -> Vec<Sample> {
        let backend = Arc::new(Stalling {
            t0: Instant::now(),
            stall_from: Duration::from_millis(1000),
            stall: Duration::from_millis(500),
            serial: serial.then(|| tokio::sync::Mutex::new(())),
        });
        let samples = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&samples);
        let reason = drive(
            schedule,
            Bounds {
                count: None,
                duration: Some(Duration::from_secs(3)),
            },
            backend,
            Arc::from(vec!["a.test".to_string()]),
            Stop::default(),
            move |s| s2.lock().unwrap().push(s),
        )
        .await;
        assert_eq!(reason, StopReason::Duration);
        Arc::try_unwrap(samples).unwrap().into_inner().unwrap()
    }

    fn percentile(samples: &[Sample], q: f64) -> Duration {
        let mut l: Vec<_> = samples.iter().map(Sample::latency).collect();
        l.sort();
        l[((l.len() - 1) as f64 * q).round() as usize]
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_shows_a_500ms_stall_that_a_closed_loop_hides() {
        // Closed loop, one worker: only the one lookup in flight sees the stall.
        let closed = run(
            Schedule::Closed {
                workers: 1,
                pause: Duration::from_millis(10),
            },
            false,
        )
        .await;
        let slow = closed
            .iter()
            .filter(|s| s.latency() >= Duration::from_millis(100))
            .count();
        assert_eq!(slow, 1, "closed loop: one slow lookup");
        assert!(percentile(&closed, 0.99) < Duration::from_millis(20));

        // Open loop at 100/s through a serialised client (one in flight): the lookups
        // scheduled during the stall start late, and their latency counts that wait.
        let open = run(
            Schedule::Open {
                rate: 100.0,
                max_in_flight: 1,
            },
            true,
        )
        .await;
        assert_eq!(open.len(), 300);
        let during: Vec<_> = open
            .iter()
            .filter(|s| {
                let at = s.intended - open[0].intended;
                at >= Duration::from_millis(1000) && at < Duration::from_millis(1500)
            })
            .collect();
        assert_eq!(during.len(), 50);
        // The first one scheduled in the stall waited all of it; about half waited > 250 ms.
        let worst = during.iter().map(|s| s.latency()).max().unwrap();
        assert!(worst >= Duration::from_millis(500), "{worst:?}");
        let over_250 = during
            .iter()
            .filter(|s| s.latency() > Duration::from_millis(250))
            .count();
        assert!(over_250 >= 20, "{over_250} of 50 over 250 ms");
        // Across the run the stall is ~1/6 of the queries: it shows at p90 and p99.
        assert!(percentile(&open, 0.90) >= Duration::from_millis(150));
        assert!(percentile(&open, 0.99) >= Duration::from_millis(400));
        // And the late starts are visible.
        let late = open.iter().filter(|s| s.start_delay() > LATE_START).count();
        assert!(late >= 40, "{late} late starts");
    }

    #[tokio::test(start_paused = true)]
    async fn count_bounds_the_run_and_stop_interrupts_it() {
        let backend: Arc<dyn Backend> = Arc::new(Stalling {
            t0: Instant::now(),
            stall_from: Duration::from_secs(100),
            stall: Duration::ZERO,
            serial: None,
        });
        let n = Arc::new(AtomicU64::new(0));
        let n2 = Arc::clone(&n);
        let reason = drive(
            Schedule::Closed {
                workers: 4,
                pause: Duration::ZERO,
            },
            Bounds {
                count: Some(10),
                duration: None,
            },
            Arc::clone(&backend),
            Arc::from(vec!["a".to_string(), "b".to_string()]),
            Stop::default(),
            move |_| {
                n2.fetch_add(1, Ordering::Relaxed);
            },
        )
        .await;
        assert_eq!(reason, StopReason::Count);
        assert_eq!(n.load(Ordering::Relaxed), 10);

        let stop = Stop::default();
        let s2 = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            s2.stop();
        });
        let reason = drive(
            Schedule::Open {
                rate: 1000.0,
                max_in_flight: 10,
            },
            Bounds {
                count: None,
                duration: Some(Duration::from_secs(3600)),
            },
            backend,
            Arc::from(vec!["a".to_string()]),
            stop,
            |_| {},
        )
        .await;
        assert_eq!(reason, StopReason::Interrupted);
    }
}
