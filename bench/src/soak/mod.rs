//! `stubborn-bench soak`: stubborn at a fixed open-loop rate, for minutes, against faultdns on
//! loopback whose faults rotate over the names asked, with some lookups dropped by their
//! caller. Every interval it prints one row (memory, descriptors, lookups per class, latency,
//! deadline overrun against plain timer lateness) and checks the bounds ([`check`]); the run
//! fails if any check failed.
//!
//! Processes and runtimes: everything runs in this process. faultdns has a current-thread
//! runtime on a thread of its own (its UDP sockets have their own threads); the resolver, the
//! lookups, the timer probe and this loop share a two-worker runtime, as a service's would.
//! Memory and descriptors are the whole process's, the server's included.

pub mod chaos;
pub mod check;

use std::{
    net::IpAddr,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use rand::SeedableRng as _;
use serde::Serialize;
use stubborn::{LookupOptions, RecordType, Resolver};
use tokio::{task::JoinSet, time::Instant};

use self::{
    chaos::{Ask, Mix, Planned, Planner},
    check::{Bounds, Checker, Class, Counts, LieSeen, Percentiles, Reported, Sample, Violation},
};
use crate::serve::{V4, V6};

/// A validated soak.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// How long lookups are started for.
    #[serde(with = "humantime_serde_secs")]
    pub duration: Duration,
    /// Lookups started per second.
    pub rate: u64,
    /// One row (and one round of checks) per interval.
    #[serde(with = "humantime_serde_secs")]
    pub interval: Duration,
    /// The faults move to the next groups this often.
    #[serde(with = "humantime_serde_secs")]
    pub rotate: Duration,
    /// Seed of the lookup mix and of the server's fault draws.
    pub seed: u64,
    /// The lookup mix.
    pub mix: Mix,
    /// How far RSS may rise above the warm-up's, MiB.
    pub rss_margin_mib: u64,
    /// Descriptors allowed beyond those open before the resolver existed plus its socket pool
    /// bound.
    pub fd_slack: u64,
    /// How far a lookup may overrun its deadline beyond timer lateness.
    #[serde(with = "humantime_serde_secs")]
    pub overrun_slack: Duration,
    /// Where to write the report as JSON.
    #[serde(skip)]
    pub json: Option<PathBuf>,
    /// The command line, for the report.
    pub command: String,
}

/// Durations as fractional seconds in the JSON report.
mod humantime_serde_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// What a soak found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// What was asked for.
    pub settings: Settings,
    /// What was allowed.
    pub bounds: Bounds,
    /// Descriptors open before the resolver was built (faultdns's included).
    pub baseline_fds: u64,
    /// The resolver's socket pool bound (UDP sockets in all).
    pub udp_socket_bound: u64,
    /// The RSS limit after the warm-up, KiB.
    pub rss_limit_kib: Option<u64>,
    /// One per interval; the last (`drain`) covers the wait for the lookups still in flight.
    pub intervals: Vec<Sample>,
    /// Lookups per class over the whole run.
    pub totals: Counts,
    /// Descriptors open once the resolver was dropped.
    pub fds_after_drop: u64,
    /// Checks that failed.
    pub violations: Vec<Violation>,
    /// No check failed.
    pub passed: bool,
    /// CPUs online, and the load averages at the end.
    pub cpus: usize,
    /// 1, 5 and 15 minute load averages at the end.
    pub load_after: [f64; 3],
}

/// How often the timer probe sets its timer.
const PROBE_PERIOD: Duration = Duration::from_millis(1);
/// Descriptors allowed above the baseline once the resolver is dropped.
const AFTER_DROP_SLACK: u64 = 4;
/// Lies kept in full per interval (all are counted).
const LIES_KEPT: usize = 5;
/// Timer lateness beyond which the runtime is overloaded, and the run says so.
const OVERLOADED: Duration = Duration::from_millis(100);
/// `other` results kept in the resolver's words per interval.
const OTHERS_KEPT: usize = 3;

/// Run the soak: print the table, write the JSON if asked; the report says whether it passed.
pub fn run(settings: &Settings) -> anyhow::Result<Report> {
    let server = ServerThread::start(settings.seed)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the soak runtime")?;
    let report = runtime.block_on(soak(settings, &server));
    drop(runtime);
    server.stop();
    let report = report?;
    if let Some(path) = &settings.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// faultdns on a runtime and thread of its own.
struct ServerThread {
    server: Arc<faultdns::Server>,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl ServerThread {
    fn start(seed: u64) -> anyhow::Result<ServerThread> {
        let builder = faultdns::Server::builder()
            .synthesize(chaos::SUFFIX, V4, Some(V6))
            .context("synthesis suffix")?
            .zone(&chaos::void_zones())
            .context("the void zones")?
            .rules(parse_rules(&chaos::rules(0))?)
            .seed(seed)
            .udp_tasks(1)
            .listen(([127, 0, 0, 1], 0).into());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("faultdns".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = started_tx.send(Err(anyhow::Error::from(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match builder.start().await {
                        Ok(server) => {
                            let server = Arc::new(server);
                            let _ = started_tx.send(Ok(server.clone()));
                            let _ = stop_rx.await;
                            // The other handle is dropped before the stop is sent.
                            if let Ok(server) = Arc::try_unwrap(server) {
                                server.shutdown().await;
                            }
                        }
                        Err(e) => {
                            let _ = started_tx.send(Err(anyhow::Error::from(e)));
                        }
                    }
                });
            })
            .context("starting the server thread")?;
        let server = started_rx
            .recv()
            .context("the server thread ended")?
            .context("starting faultdns")?;
        anyhow::ensure!(
            server.addr().ip().is_loopback(),
            "faultdns is not on loopback: {}",
            server.addr()
        );
        Ok(ServerThread {
            server,
            stop,
            thread,
        })
    }

    fn stop(self) {
        let ServerThread {
            server,
            stop,
            thread,
        } = self;
        drop(server);
        let _ = stop.send(());
        let _ = thread.join();
    }
}

fn parse_rules(rules: &[String]) -> anyhow::Result<Vec<faultdns::Rule>> {
    rules
        .iter()
        .map(|r| r.parse().with_context(|| format!("rule {r:?}")))
        .collect()
}

/// What the lookups and the probe record during an interval.
struct Live {
    tally: Mutex<Tally>,
    overrun_max_us: AtomicU64,
    lateness_max_us: AtomicU64,
    rss_max_kib: AtomicU64,
    fds_max: AtomicU64,
}

struct Tally {
    counts: Counts,
    /// Latency of lookups that ended (not cancelled), µs.
    hist: Histogram<u64>,
    lies: Vec<LieSeen>,
    lies_total: u64,
    others: Vec<String>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            counts: Counts::default(),
            // 1 µs to 10 min, 3 significant digits.
            hist: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            lies: Vec::new(),
            lies_total: 0,
            others: Vec::new(),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Live {
    fn new() -> Live {
        Live {
            tally: Mutex::new(Tally::default()),
            overrun_max_us: AtomicU64::new(0),
            lateness_max_us: AtomicU64::new(0),
            rss_max_kib: AtomicU64::new(0),
            fds_max: AtomicU64::new(0),
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(
        &self,
        class: Class,
        elapsed: Duration,
        overrun: Option<Duration>,
        lie: Option<LieSeen>,
        said: impl FnOnce() -> String,
    ) {
        if let Some(o) = overrun {
            self.overrun_max_us.fetch_max(micros(o), Ordering::Relaxed);
        }
        let mut t = self.tally();
        t.counts.add(class);
        if class != Class::Cancelled {
            t.hist.saturating_record(micros(elapsed).max(1));
        }
        if class == Class::Other && t.others.len() < OTHERS_KEPT {
            t.others.push(said());
        }
        if let Some(lie) = lie {
            t.lies_total += 1;
            if t.lies.len() < LIES_KEPT {
                t.lies.push(lie);
            }
        }
    }

    /// Read memory and descriptors now, keeping the interval's largest.
    fn sample_process(&self) {
        if let Ok(rss) = crate::sys::self_rss_kib() {
            self.rss_max_kib.fetch_max(rss, Ordering::Relaxed);
        }
        if let Ok(fds) = crate::sys::self_open_fds() {
            self.fds_max.fetch_max(fds, Ordering::Relaxed);
        }
    }

    /// Close the interval: what was recorded since the last call.
    fn take(&self, start: Duration, end: Duration, started: u64, server_queries: u64) -> Sample {
        self.sample_process();
        let t = std::mem::take(&mut *self.tally());
        let ms = |us: u64| us as f64 / 1000.0;
        let latency_ms = if t.hist.is_empty() {
            Percentiles::default()
        } else {
            Percentiles {
                p50: ms(t.hist.value_at_quantile(0.50)),
                p99: ms(t.hist.value_at_quantile(0.99)),
                max: ms(t.hist.max()),
            }
        };
        Sample {
            start,
            end,
            started,
            counts: t.counts,
            latency_ms,
            rss_kib: self.rss_max_kib.swap(0, Ordering::Relaxed),
            fds: self.fds_max.swap(0, Ordering::Relaxed),
            server_queries,
            overrun_max: Duration::from_micros(self.overrun_max_us.swap(0, Ordering::Relaxed)),
            lateness_max: Duration::from_micros(self.lateness_max_us.swap(0, Ordering::Relaxed)),
            lies: t.lies,
            lies_total: t.lies_total,
            others: t.others,
        }
    }
}

/// The plain timer: sleeps `PROBE_PERIOD` again and again on the lookups' runtime and records
/// how late each wake-up is (the time it runs less the time its timer was set for). Everything
/// that delays a lookup's deadline timer (the timer wheel's millisecond, a busy runtime, a
/// descheduled thread) delays this one alike.
async fn probe(live: Arc<Live>, origin: Instant) {
    loop {
        let target = Instant::now() + PROBE_PERIOD;
        tokio::time::sleep_until(target).await;
        let late = check::lateness(target - origin, Instant::now() - origin);
        live.lateness_max_us
            .fetch_max(micros(late), Ordering::Relaxed);
    }
}

/// One lookup as planned: classified, judged, its overrun measured.
async fn lookup(resolver: Resolver, plan: Planned, resolver_deadline: Duration, live: Arc<Live>) {
    let deadline = plan.deadline.unwrap_or(resolver_deadline);
    let options = match plan.deadline {
        Some(d) => LookupOptions::new().with_deadline(d),
        None => LookupOptions::new(),
    };
    let start = Instant::now();
    let ask = async {
        match plan.ask {
            Ask::Ip => resolver.lookup_ip_with(&plan.name, &options).await,
            Ask::Txt => {
                resolver
                    .lookup_with(&plan.name, RecordType::TXT, &options)
                    .await
            }
        }
    };
    let result = match plan.cancel_after {
        Some(after) => tokio::time::timeout(after, ask).await.ok(),
        None => Some(ask.await),
    };
    let elapsed = start.elapsed();
    let (reported, said) = match &result {
        None => (Reported::Cancelled, String::new()),
        Some(Ok(answer)) => {
            let ips = answer.ips();
            let expected_records = plan.ask == Ask::Ip
                && !ips.is_empty()
                && answer.records().len() == ips.len()
                && ips
                    .iter()
                    .all(|ip| *ip == IpAddr::V4(V4) || *ip == IpAddr::V6(V6));
            let said = format!(
                "{} records: {}",
                answer.records().len(),
                ips.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (Reported::Answer { expected_records }, said)
        }
        Some(Err(e)) => (Reported::Error(e.kind()), e.to_string()),
    };
    let class = check::classify(reported, elapsed, deadline);
    let lie = check::judge(plan.truth, reported).map(|lie| LieSeen {
        lie,
        name: plan.name.clone(),
        asked: plan.ask.label().to_owned(),
        said: said.clone(),
        elapsed,
    });
    let overrun = (class != Class::Cancelled).then(|| check::overrun(elapsed, deadline));
    live.record(class, elapsed, overrun, lie, || said);
}

async fn soak(settings: &Settings, server: &ServerThread) -> anyhow::Result<Report> {
    let server = &server.server;
    let baseline_fds = crate::sys::self_open_fds().context("counting descriptors")?;
    // A service's configuration: cache, coalescing and every timing at their defaults (1 s per
    // attempt, 5 attempts, 5 s deadline); only the server is set, and no hosts file.
    let config = stubborn::Config::new(vec![server.addr()]).with_hosts_file(None);
    let resolver = Resolver::new(config).context("building the resolver")?;
    let resolver_deadline = resolver.config().deadline();
    let udp_socket_bound = resolver.config().max_udp_sockets() as u64;
    let bounds = Bounds {
        warmup: settings.interval,
        rss_margin_kib: settings.rss_margin_mib * 1024,
        max_fds: baseline_fds + udp_socket_bound + settings.fd_slack,
        overrun_slack: settings.overrun_slack,
    };
    let mut checker = Checker::new(bounds);
    eprintln!(
        "soak: faultdns on {} ({} name groups, faults rotating every {}), {} lookups/s for {}, \
         a row every {}",
        server.addr(),
        chaos::GROUPS,
        humantime::format_duration(settings.rotate),
        settings.rate,
        humantime::format_duration(settings.duration),
        humantime::format_duration(settings.interval),
    );
    eprintln!(
        "soak: faults: {}",
        chaos::Fault::ALL.map(chaos::Fault::label).join(", ")
    );
    eprintln!(
        "soak: fails on a lie, on descriptors above {} ({} before the resolver + {} UDP sockets \
         + {} slack), on RSS above the first interval's largest + {} MiB, on a deadline overrun \
         above timer lateness + {} ms",
        bounds.max_fds,
        baseline_fds,
        udp_socket_bound,
        settings.fd_slack,
        settings.rss_margin_mib,
        settings.overrun_slack.as_millis()
    );

    let live = Arc::new(Live::new());
    let origin = Instant::now();
    let probe = tokio::spawn(probe(live.clone(), origin));
    let mut rng = rand::rngs::StdRng::seed_from_u64(settings.seed);
    let mut planner = Planner::new(settings.mix, resolver_deadline);
    let mut lookups = JoinSet::new();
    let mut violations = Vec::new();
    let mut intervals = Vec::new();
    let sample_every =
        (settings.interval / 10).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut next_sample = sample_every;
    let mut next_row = settings.interval;
    let mut row_start = Duration::ZERO;
    let mut started = 0u64;
    let mut started_at_row = 0u64;
    let mut queries_at_row = server.counters().queries;
    let mut phase = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    println!("{}", header());

    let mut close_row = |live: &Live,
                         row_start: &mut Duration,
                         end: Duration,
                         started: u64,
                         started_at_row: &mut u64,
                         label: Option<&str>|
     -> Sample {
        let queries = server.counters().queries;
        let s = live.take(
            *row_start,
            end,
            started - *started_at_row,
            queries - queries_at_row,
        );
        queries_at_row = queries;
        *row_start = end;
        *started_at_row = started;
        let found = checker.observe(&s);
        println!("{}", row(&s, label));
        for v in &found {
            eprintln!("soak: FAILED {v}");
        }
        violations.extend(found);
        s
    };

    loop {
        tick.tick().await;
        let elapsed = origin.elapsed();
        if elapsed >= settings.duration {
            break;
        }
        let p = chaos::phase_at(elapsed, settings.rotate);
        if p != phase {
            phase = p;
            server.set_rules(parse_rules(&chaos::rules(phase))?);
        }
        let due = check::due(elapsed, settings.rate);
        while started < due {
            let plan = planner.next(&mut rng);
            lookups.spawn(lookup(
                resolver.clone(),
                plan,
                resolver_deadline,
                live.clone(),
            ));
            started += 1;
        }
        while lookups.try_join_next().is_some() {}
        if elapsed >= next_sample {
            live.sample_process();
            next_sample += sample_every;
        }
        if elapsed >= next_row {
            let s = close_row(
                &live,
                &mut row_start,
                elapsed,
                started,
                &mut started_at_row,
                None,
            );
            intervals.push(s);
            next_row += settings.interval;
        }
    }
    if origin.elapsed() > row_start + Duration::from_millis(100) || intervals.is_empty() {
        let s = close_row(
            &live,
            &mut row_start,
            origin.elapsed(),
            started,
            &mut started_at_row,
            None,
        );
        intervals.push(s);
    }

    // The drain: no more lookups; those in flight end by their deadlines.
    let drain_until =
        Instant::now() + chaos::LONGEST_DEADLINE.max(resolver_deadline) + Duration::from_secs(2);
    let mut sampler = tokio::time::interval(sample_every);
    loop {
        tokio::select! {
            joined = lookups.join_next() => if joined.is_none() { break },
            () = tokio::time::sleep_until(drain_until) => break,
            _ = sampler.tick() => live.sample_process(),
        }
    }
    let hung = lookups.len() as u64;
    lookups.abort_all();
    while lookups.join_next().await.is_some() {}
    let s = close_row(
        &live,
        &mut row_start,
        origin.elapsed(),
        started,
        &mut started_at_row,
        Some("drain"),
    );
    intervals.push(s);
    if hung > 0 {
        let v = Violation::Hung { count: hung };
        eprintln!("soak: FAILED {v}");
        violations.push(v);
    }
    probe.abort();
    let _ = probe.await;

    // Dropping the resolver closes its sockets and ends its tasks.
    drop(resolver);
    let limit = baseline_fds + AFTER_DROP_SLACK;
    let give_up = Instant::now() + Duration::from_secs(2);
    let fds_after_drop = loop {
        let fds = crate::sys::self_open_fds().context("counting descriptors")?;
        if fds <= limit || Instant::now() >= give_up {
            break fds;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if fds_after_drop > limit {
        let v = Violation::Descriptors {
            at: origin.elapsed(),
            fds: fds_after_drop,
            bound: limit,
            when: "after the resolver was dropped",
        };
        eprintln!("soak: FAILED {v}");
        violations.push(v);
    }

    let totals = intervals
        .iter()
        .fold(Counts::default(), |sum, s| sum.plus(&s.counts));
    let worst_lateness = intervals
        .iter()
        .map(|s| s.lateness_max)
        .max()
        .unwrap_or_default();
    if worst_lateness > OVERLOADED {
        eprintln!(
            "soak: note: timers on this runtime woke up to {:.0} ms late: the machine did not \
             keep up with {} lookups/s (a debug build, or other load), so the figures say more \
             about it than about the resolver",
            worst_lateness.as_secs_f64() * 1e3,
            settings.rate
        );
    }
    let passed = violations.is_empty();
    eprintln!(
        "soak: {} lookups, {} ok, {} cancelled; {}",
        totals.total(),
        totals.get(Class::Ok),
        totals.get(Class::Cancelled),
        if passed {
            "every check passed".to_owned()
        } else {
            format!("{} checks failed", violations.len())
        }
    );
    Ok(Report {
        settings: settings.clone(),
        bounds,
        baseline_fds,
        udp_socket_bound,
        rss_limit_kib: checker.rss_limit_kib(),
        intervals,
        totals,
        fds_after_drop,
        violations,
        passed,
        cpus: crate::sys::online_cpus(),
        load_after: crate::sys::load_average().unwrap_or_default(),
    })
}

/// The table's header.
pub fn header() -> String {
    let mut h = format!(
        "{:>6} {:>7} {:>5} {:>8}",
        "time", "rss MiB", "fds", "started"
    );
    for c in Class::ALL {
        h.push_str(&format!(" {:>9}", c.label()));
    }
    h.push_str(&format!(
        " {:>8} {:>8} {:>8} {:>8} {:>7} {:>8} {:>4}",
        "p50 ms", "p99 ms", "max ms", "overrun", "late", "queries", "lies"
    ));
    h
}

/// One row of the table: the interval's end (or `label`), then its figures.
pub fn row(s: &Sample, label: Option<&str>) -> String {
    let time = match label {
        Some(l) => l.to_owned(),
        None => format!("{}s", s.end.as_secs_f64().round()),
    };
    let mut r = format!(
        "{:>6} {:>7.1} {:>5} {:>8}",
        time,
        s.rss_kib as f64 / 1024.0,
        s.fds,
        s.started
    );
    for c in Class::ALL {
        r.push_str(&format!(" {:>9}", s.counts.get(c)));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    r.push_str(&format!(
        " {:>8.2} {:>8.1} {:>8.1} {:>8.1} {:>7.1} {:>8} {:>4}",
        s.latency_ms.p50,
        s.latency_ms.p99,
        s.latency_ms.max,
        ms(s.overrun_max),
        ms(s.lateness_max),
        s.server_queries,
        s.lies_total
    ));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_line_up_with_the_header() {
        let s = Sample {
            end: Duration::from_secs(60),
            rss_kib: 40_000,
            fds: 120,
            started: 120_000,
            ..Sample::default()
        };
        assert_eq!(row(&s, None).len(), header().len());
        assert_eq!(row(&s, Some("drain")).len(), header().len());
        assert!(row(&s, None).trim_start().starts_with("60s"));
    }

    /// The probe, under paused time: timers fire exactly on time, so it records no lateness
    /// until the runtime is held up; then it records how long.
    #[tokio::test(start_paused = true)]
    async fn the_probe_records_how_late_its_timer_fires() {
        let live = Arc::new(Live::new());
        let origin = Instant::now();
        let p = tokio::spawn(probe(live.clone(), origin));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(live.lateness_max_us.load(Ordering::Relaxed), 0);
        // Move the clock 30 ms at once, as a runtime held up that long would see it: the
        // probe's timer was due 1 ms in and fires late.
        tokio::time::advance(Duration::from_millis(30)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let late = live.lateness_max_us.load(Ordering::Relaxed);
        assert!(late >= 28_000, "{late} µs");
        p.abort();
    }
}
