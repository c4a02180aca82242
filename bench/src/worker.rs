//! The worker process: one peer, one scenario, measured from inside, result as one JSON line.
//!
//! Each (peer, scenario) pair runs in a fresh process so that peak RSS, open descriptors and
//! `getrusage` CPU belong to that peer alone, and a cold start is really cold.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::{
    load::{self, Latency, Names, Tally},
    peer::{Outcome, OwnCounts, Peer, PeerKind, Resolve, Setup},
    plan::{DROP_LABEL, SUFFIX, Scenario},
    sys,
};

/// What the parent asks a worker to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// The peer to build.
    pub peer: PeerKind,
    /// The scenario to run.
    pub scenario: Scenario,
    /// The server.
    pub server: SocketAddr,
    /// A resolv.conf naming the server's address.
    pub resolv_conf: PathBuf,
    /// A label unique to this job, used in the names asked.
    pub tag: String,
}

/// What a worker measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Measured {
    /// Lookups finished.
    pub lookups: u64,
    /// Lookups answered with both families.
    pub answers: u64,
    /// Lookups answered with one family only (the other given up on).
    #[serde(default)]
    pub partial: u64,
    /// Spurious not-found results (every name asked exists).
    pub not_found: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Other failures.
    pub failed: u64,
    /// Wall-clock time of the measured part.
    pub wall_s: f64,
    /// CPU time of the measured part (getrusage, every thread of the process).
    pub cpu_s: f64,
    /// The part of `cpu_s` spent in the kernel.
    #[serde(default)]
    pub sys_s: f64,
    /// Latency percentiles.
    pub latency: Latency,
    /// Lookups against a dropping server that gave up before 90% of the peer's own bound
    /// (out of descriptors, or a peer cutting its retries short).
    #[serde(default)]
    pub ended_early: u64,
    /// Memory and descriptors (memory scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Time from before the config was parsed to the first answer (cold start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_answer_ms: Option<f64>,
    /// The peer's own counters, where it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own: Option<OwnCounts>,
}

/// Memory and descriptors around a burst of lookups in flight.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Memory {
    /// Lookups really in flight at once (thread peers: at most their pool).
    pub in_flight: u64,
    /// Size of the peer's lookup future before it is first polled (what a task holds inline).
    #[serde(default)]
    pub future_bytes: u64,
    /// RSS before the burst, after a warm-up lookup (KiB).
    pub baseline_kib: u64,
    /// Highest RSS sampled during the burst (KiB).
    pub peak_kib: u64,
    /// Peak RSS of the whole process (`ru_maxrss`, KiB).
    pub max_rss_kib: u64,
    /// Open descriptors before the burst.
    pub fds_before: u64,
    /// Most descriptors open during the burst.
    pub fds_during: u64,
    /// Descriptors open once every lookup has ended.
    pub fds_after: u64,
}

impl Memory {
    /// RSS growth per lookup in flight, in bytes.
    pub fn bytes_per_lookup(&self) -> f64 {
        if self.in_flight == 0 {
            return 0.0;
        }
        self.peak_kib.saturating_sub(self.baseline_kib) as f64 * 1024.0 / self.in_flight as f64
    }
}

/// Most threads a thread-based peer gets (its lookups in flight are capped at this).
pub const MAX_THREADS: usize = 1024;

/// Descriptors a worker asks for: a lookup may hold a socket per query per attempt.
pub const FD_LIMIT: u64 = 1 << 20;

/// Run `job` and return what was measured. The process should exit afterwards.
pub fn run(job: &Job) -> anyhow::Result<Measured> {
    let fd_limit = match job.scenario {
        Scenario::Memory {
            fd_limit: Some(limit),
            ..
        } => limit,
        _ => FD_LIMIT,
    };
    sys::raise_fd_limit(fd_limit).context("setting the open-file limit")?;
    // Cold start counts from here: the runtime below stands for the application's own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the worker runtime")?;
    runtime.block_on(run_async(job))
}

async fn run_async(job: &Job) -> anyhow::Result<Measured> {
    let setup = Setup {
        server: job.server,
        resolv_conf: &job.resolv_conf,
        threads: job.scenario.max_in_flight().clamp(1, MAX_THREADS),
    };
    let built_at = Instant::now();
    let peer = Peer::build(job.peer, &setup).with_context(|| format!("{}", job.peer))?;
    match peer {
        Peer::Stubborn(p) => drive(Arc::new(p), job, built_at).await,
        Peer::Hickory(p) => drive(Arc::new(*p), job, built_at).await,
        Peer::CAres(p) => drive(Arc::new(p), job, built_at).await,
        Peer::Glibc(p) => drive(Arc::new(p), job, built_at).await,
    }
}

/// The scenario for one concrete peer type (so tasks hold that peer's future, no larger).
async fn drive<P: Resolve>(peer: Arc<P>, job: &Job, built_at: Instant) -> anyhow::Result<Measured> {
    let answered = Names::new(job.tag.clone(), SUFFIX);
    // Cold start ends at the first answer; otherwise this is the warm-up, which creates the
    // sockets and threads a peer keeps.
    let first = peer.lookup(&answered.next()).await;
    let first_elapsed = built_at.elapsed();
    anyhow::ensure!(
        first == Outcome::Answer,
        "{}: the first lookup got {first:?}",
        job.peer
    );
    let names = Arc::new(answered);
    let dropped = Arc::new(Names::new(
        job.tag.clone(),
        format!("{DROP_LABEL}.{SUFFIX}"),
    ));
    let (user0, sys0) = sys::self_cpu_split();
    let t0 = Instant::now();
    let (tally, memory) = match &job.scenario {
        Scenario::ColdStart => {
            let mut tally = Tally::default();
            tally.record(first, first_elapsed);
            let mut m = measured(&tally, first_elapsed, Duration::ZERO);
            m.first_answer_ms = Some(first_elapsed.as_secs_f64() * 1000.0);
            return Ok(m);
        }
        Scenario::Throughput {
            concurrency,
            duration,
        } => (
            load::closed_loop(peer.clone(), names, *concurrency, *duration).await,
            None,
        ),
        Scenario::Tail { lookups, rate, .. } => (
            load::open_loop(peer.clone(), names, *lookups, *rate).await,
            None,
        ),
        Scenario::Deadline { concurrent } => (
            load::burst(peer.clone(), dropped, *concurrent, || {}).await,
            None,
        ),
        Scenario::Memory { concurrent, .. } => {
            let in_flight = if job.peer.uses_threads() {
                (*concurrent).min(MAX_THREADS)
            } else {
                *concurrent
            };
            let mut mem = Memory {
                in_flight: in_flight as u64,
                future_bytes: std::mem::size_of_val(&peer.lookup("x.")) as u64,
                baseline_kib: sys::self_rss_kib()?,
                fds_before: sys::self_open_fds()?,
                ..Memory::default()
            };
            mem.peak_kib = mem.baseline_kib;
            mem.fds_during = mem.fds_before;
            // RSS every tick (20 ms, one small read); descriptors every 10th tick: listing
            // /proc/self/fd with 10,000s of entries costs milliseconds, which would slow
            // the very lookups being measured.
            let mut ticks = 0u64;
            let mut sample = || {
                if let Ok(rss) = sys::self_rss_kib() {
                    mem.peak_kib = mem.peak_kib.max(rss);
                }
                if ticks % 10 == 5
                    && let Ok(fds) = sys::self_open_fds()
                {
                    mem.fds_during = mem.fds_during.max(fds);
                }
                ticks += 1;
            };
            let tally = load::burst(peer.clone(), dropped, *concurrent, &mut sample).await;
            // Let peers that close sockets from a background loop (c-ares) catch up.
            tokio::time::sleep(Duration::from_millis(200)).await;
            mem.fds_after = sys::self_open_fds()?;
            mem.max_rss_kib = sys::self_max_rss_kib();
            (tally, Some(mem))
        }
    };
    let wall = t0.elapsed();
    let (user1, sys1) = sys::self_cpu_split();
    let kernel = sys1.saturating_sub(sys0);
    let mut m = measured(&tally, wall, user1.saturating_sub(user0) + kernel);
    m.sys_s = kernel.as_secs_f64();
    m.memory = memory;
    m.own = peer.own_counts();
    if matches!(
        job.scenario,
        Scenario::Deadline { .. } | Scenario::Memory { .. }
    ) {
        m.ended_early = tally.faster_than(job.peer.nominal_bound().mul_f64(0.9));
    }
    Ok(m)
}

fn measured(tally: &Tally, wall: Duration, cpu: Duration) -> Measured {
    Measured {
        lookups: tally.lookups(),
        answers: tally.answers,
        partial: tally.partial,
        not_found: tally.not_found,
        timeouts: tally.timeouts,
        failed: tally.failed,
        wall_s: wall.as_secs_f64(),
        cpu_s: cpu.as_secs_f64(),
        sys_s: 0.0,
        latency: tally.latency(),
        ended_early: 0,
        memory: None,
        first_answer_ms: None,
        own: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every peer kind, in a worker exactly as the parent runs it, against an in-process
    /// faultdns with the benchmark's synthesis: answers only, and the server saw two queries
    /// per lookup (plus the warm-up's two), and at most 5% more (a reply that a busy machine
    /// delays past a peer's retransmission timeout is asked again).
    #[test]
    fn peers_resolve_against_faultdns_in_a_worker() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let server = rt
            .block_on(
                faultdns::Server::builder()
                    .synthesize(SUFFIX, crate::serve::V4, Some(crate::serve::V6))
                    .unwrap()
                    .start(),
            )
            .unwrap();
        let dir = std::env::temp_dir().join(format!("stubborn-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let resolv_conf = dir.join("resolv.conf");
        std::fs::write(&resolv_conf, "nameserver 127.0.0.1\n").unwrap();
        for peer in [
            PeerKind::Stubborn,
            PeerKind::HickoryTuned,
            PeerKind::CAres,
            PeerKind::GlibcTuned,
        ] {
            let before = server.counters().queries;
            let job = Job {
                peer,
                scenario: Scenario::Throughput {
                    concurrency: 4,
                    duration: Duration::from_millis(200),
                },
                server: server.addr(),
                resolv_conf: resolv_conf.clone(),
                tag: format!("test-{peer}"),
            };
            let m = run(&job).unwrap_or_else(|e| panic!("{peer}: {e:#}"));
            assert!(m.lookups >= 4, "{peer}: {m:?}");
            assert_eq!(m.answers, m.lookups, "{peer}: {m:?}");
            let queries = server.counters().queries - before;
            let asked = 2 * m.lookups + 2;
            assert!(
                queries >= asked && queries <= asked + asked / 20,
                "{peer}: {queries} queries, {m:?}"
            );
            assert!(m.cpu_s > 0.0 && m.latency.p50_ms > 0.0, "{peer}: {m:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        rt.block_on(server.shutdown());
    }

    #[test]
    fn bytes_per_lookup_is_growth_over_lookups() {
        let m = Memory {
            in_flight: 1024,
            baseline_kib: 10_000,
            peak_kib: 12_000,
            ..Memory::default()
        };
        assert_eq!(m.bytes_per_lookup(), 2000.0);
        assert_eq!(Memory::default().bytes_per_lookup(), 0.0);
    }
}
