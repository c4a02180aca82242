//! The recorder: counts per class, bounded latency histograms, and events streamed to disk.
//!
//! Memory stays flat however long the run: the histograms have fixed bounds, findings kept for
//! the summary are capped at [`NOTABLE_KEPT`], and every event goes straight to a buffered
//! writer that is flushed every second (by the run's ticker) and at the end.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use crate::error::{Error, Result};
use crate::hlog::{self, HlogWriter};
use crate::plan::is_stdout;
use crate::records::{ClassCounts, Event, Latency, NOTABLE_KEPT, Notable, SCHEMA};
use crate::schedule::{LATE_START, Sample};

/// A writer for an output file or stdout.
pub type Output = Box<dyn Write + Send>;

/// Opens `path` for writing (`-` or `/dev/stdout`: standard output), buffered.
pub fn open_output(path: &Path) -> Result<Output> {
    if is_stdout(path) {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout())));
    }
    let file = std::fs::File::create(path).map_err(|e| Error::file("cannot create", path, e))?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

/// Who is recording: stamped on every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Run id.
    pub run_id: String,
    /// Host label.
    pub host: String,
    /// Backend name.
    pub backend: String,
}

/// A new run id: 16 hex digits from the OS random source.
pub fn new_run_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Formats a wall-clock time as RFC 3339 with milliseconds.
///
/// A time humantime cannot write (after the year 9999, read from a corrupt file) is written as
/// milliseconds since the epoch instead of panicking in `to_string`.
pub fn rfc3339(t: SystemTime) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    if write!(text, "{}", humantime::format_rfc3339_millis(t)).is_err() {
        text = format!("{} ms after the epoch", unix_ms(t));
    }
    text
}

/// Milliseconds since the epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(0)
}

/// Milliseconds as f64, rounded to microseconds.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Everything recorded in one run.
pub struct Recorder {
    id: Identity,
    names: Arc<[String]>,
    slow: Duration,
    counts: ClassCounts,
    latency: Histogram<u64>,
    interval: Histogram<u64>,
    interval_start: SystemTime,
    sum_us: u128,
    late_starts: u64,
    max_start_delay: Duration,
    notable: Vec<Notable>,
    notable_dropped: u64,
    events: Option<Output>,
    events_written: u64,
    hlog: Option<HlogWriter<Output>>,
    error: Option<Error>,
}

impl Recorder {
    /// A recorder writing events and a histogram log where given.
    pub fn new(
        id: Identity,
        names: Arc<[String]>,
        slow: Duration,
        events: Option<Output>,
        hlog: Option<Output>,
        start: SystemTime,
    ) -> Result<Self> {
        let hlog = match hlog {
            Some(out) => Some(
                HlogWriter::start(out, &id.run_id, &id.host, &id.backend, start)
                    .map_err(|e| Error::io("cannot write the histogram log", e))?,
            ),
            None => None,
        };
        Ok(Recorder {
            id,
            names,
            slow,
            counts: ClassCounts::default(),
            latency: hlog::new_histogram(),
            interval: hlog::new_histogram(),
            interval_start: start,
            sum_us: 0,
            late_starts: 0,
            max_start_delay: Duration::ZERO,
            notable: Vec::new(),
            notable_dropped: 0,
            events,
            events_written: 0,
            hlog,
            error: None,
        })
    }

    /// Records one finished lookup.
    pub fn record(&mut self, s: &Sample) {
        let latency = s.latency();
        let class = s.outcome.class;
        self.counts.add(class, 1);
        hlog::record(&mut self.latency, latency);
        hlog::record(&mut self.interval, latency);
        self.sum_us += latency.as_micros();
        let delay = s.start_delay();
        if delay > LATE_START {
            self.late_starts += 1;
        }
        self.max_start_delay = self.max_start_delay.max(delay);
        let name = &self.names[s.name_index];
        if class.is_finding() {
            if self.notable.len() < NOTABLE_KEPT {
                self.notable.push(Notable {
                    class,
                    name: name.clone(),
                    elapsed_ms: ms(s.outcome.elapsed),
                    start: rfc3339(s.wall_start),
                    answer_name: s.outcome.answer_name.clone(),
                    detail: s.outcome.detail.clone(),
                });
            } else {
                self.notable_dropped += 1;
            }
        }
        // Slow is judged on the latency, as the histograms are: in an open loop a lookup that
        // started late behind the schedule kept its client waiting that much longer.
        if class.is_failure() || latency >= self.slow {
            let event = Event {
                schema: SCHEMA,
                kind: "event".into(),
                run_id: self.id.run_id.clone(),
                host: self.id.host.clone(),
                backend: self.id.backend.clone(),
                name: name.clone(),
                class,
                elapsed_ms: ms(s.outcome.elapsed),
                latency_ms: ms(latency),
                start: rfc3339(s.wall_start),
                start_unix_ms: unix_ms(s.wall_start),
                answer_name: s.outcome.answer_name.clone(),
                addrs: s.outcome.addrs.iter().map(|a| a.to_string()).collect(),
                detail: s.outcome.detail.clone(),
            };
            self.write_event(&event);
        }
    }

    fn write_event(&mut self, event: &Event) {
        if self.error.is_some() {
            return;
        }
        let Some(out) = self.events.as_mut() else {
            return;
        };
        let result = serde_json::to_writer(&mut *out, event)
            .map_err(std::io::Error::other)
            .and_then(|()| out.write_all(b"\n"));
        match result {
            Ok(()) => self.events_written += 1,
            Err(e) => self.error = Some(Error::io("cannot write events", e)),
        }
    }

    /// Flushes the events and, if `now` is at least `length` after the current interval
    /// started, writes the interval to the histogram log and starts a new one.
    pub fn tick(&mut self, now: SystemTime, length: Duration) {
        if let Some(out) = self.events.as_mut()
            && let Err(e) = out.flush()
            && self.error.is_none()
        {
            self.error = Some(Error::io("cannot write events", e));
        }
        let elapsed = now.duration_since(self.interval_start).unwrap_or_default();
        if elapsed >= length {
            self.write_interval(now);
        }
    }

    fn write_interval(&mut self, now: SystemTime) {
        let length = now.duration_since(self.interval_start).unwrap_or_default();
        if let Some(h) = self.hlog.as_mut()
            && let Err(e) = h.interval(&self.interval, self.interval_start, length)
            && self.error.is_none()
        {
            self.error = Some(Error::io("cannot write the histogram log", e));
        }
        self.interval.reset();
        self.interval_start = now;
    }

    /// Writes the last interval and flushes everything.
    pub fn finish(&mut self, now: SystemTime) -> Result<()> {
        self.write_interval(now);
        let mut first = self.error.take();
        for r in [
            self.events.as_mut().map(|o| o.flush()),
            self.hlog.as_mut().map(|h| h.flush()),
        ]
        .into_iter()
        .flatten()
        {
            if let Err(e) = r
                && first.is_none()
            {
                first = Some(Error::io("cannot flush outputs", e));
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether an output has failed (the run should stop).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Counts per class.
    pub fn counts(&self) -> ClassCounts {
        self.counts
    }

    /// The latency histogram (microseconds).
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.latency
    }

    /// Sum of all latencies in microseconds (exact, for Prometheus).
    pub fn latency_sum_us(&self) -> u128 {
        self.sum_us
    }

    /// Percentiles of the latency histogram, in ms.
    pub fn latency(&self) -> Latency {
        latency_of(&self.latency)
    }

    /// Open-loop starts later than 10 ms, and the largest delay.
    pub fn late_starts(&self) -> (u64, Duration) {
        (self.late_starts, self.max_start_delay)
    }

    /// The findings kept, and how many more there were.
    pub fn notable(&self) -> (&[Notable], u64) {
        (&self.notable, self.notable_dropped)
    }

    /// Events written.
    pub fn events_written(&self) -> u64 {
        self.events_written
    }
}

/// Percentiles of a microsecond histogram, in ms.
pub fn latency_of(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    let q = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
    Latency {
        count: h.len(),
        min: h.min() as f64 / 1e3,
        mean: h.mean().round() / 1e3,
        p50: q(0.50),
        p90: q(0.90),
        p99: q(0.99),
        p999: q(0.999),
        max: h.max() as f64 / 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::{Class, Outcome};
    use tokio::time::Instant;

    fn sample(class: Class, elapsed_ms: u64) -> Sample {
        let now = Instant::now();
        Sample {
            name_index: 0,
            intended: now,
            started: now,
            wall_start: SystemTime::now(),
            outcome: Outcome::new(class, Duration::from_millis(elapsed_ms)),
        }
    }

    #[test]
    fn failures_and_slow_successes_become_events() {
        let id = Identity {
            run_id: "r".into(),
            host: "h".into(),
            backend: "raw".into(),
        };
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut r = Recorder::new(
            id,
            Arc::from(vec!["a.test".to_string()]),
            Duration::from_secs(1),
            Some(Box::new(Shared(Arc::clone(&buf)))),
            None,
            SystemTime::now(),
        )
        .unwrap();
        r.record(&sample(Class::Ok, 5));
        r.record(&sample(Class::Ok, 1500));
        // An open-loop lookup that started 900 ms behind its schedule and took 200 ms: its
        // client waited 1.1 s, so it is slow, as its latency says.
        let mut late = sample(Class::Ok, 200);
        late.intended = late.started - Duration::from_millis(900);
        r.record(&late);
        // 500 ms late, 200 ms long: not slow.
        let mut early = sample(Class::Ok, 200);
        early.intended = early.started - Duration::from_millis(500);
        r.record(&early);
        r.record(&sample(Class::Nxdomain, 2000));
        r.record(&sample(Class::Timeout, 1000));
        r.finish(SystemTime::now()).unwrap();
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let events: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[1].class, Class::Ok);
        assert_eq!(
            (events[1].elapsed_ms, events[1].latency_ms),
            (200.0, 1100.0)
        );
        assert_eq!(events[2].class, Class::Nxdomain);
        assert_eq!(events[2].elapsed_ms, 2000.0);
        assert_eq!(r.counts().total(), 6);
        assert_eq!(r.notable().0.len(), 1);
        assert_eq!(r.latency().count, 6);
    }
}
