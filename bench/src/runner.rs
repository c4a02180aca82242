//! `stubborn-bench all`: start the server, run every scenario against every peer (each in a
//! fresh worker process, bounded in time), run dnsperf, print the tables, update the docs.

use std::{
    io::Read as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context as _;

use crate::{
    dnsperf,
    peer::PeerKind,
    plan::{Scenario, Sizes},
    report::{self, Environment, Report, Row},
    server::ServerProcess,
    sys,
    worker::{Job, Measured},
};

/// A validated `all` run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Sizes of the scenarios.
    pub sizes: Sizes,
    /// Quick mode.
    pub quick: bool,
    /// Peers to measure.
    pub peers: Vec<PeerKind>,
    /// Only scenarios whose label contains one of these (all when empty).
    pub only: Vec<String>,
    /// Pin the clients to CPU 0 and the server to CPU 1.
    pub pin: bool,
    /// Markdown file to update, if any.
    pub docs: Option<PathBuf>,
    /// JSON file for the raw results, if any.
    pub json: Option<PathBuf>,
    /// The command line, as shown in the docs.
    pub command: String,
}

/// Run the plan; returns the report after printing it and writing the files asked for.
pub fn run(plan: &Plan) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut env = environment(plan);
    let pin = plan.pin && sys::online_cpus() >= 2;
    env.pinned = pin;
    if pin {
        sys::pin_to_cpu(0).context("pinning the benchmark to CPU 0")?;
    }
    // Workers raise theirs the same way; the result is the same limit.
    env.fd_limit =
        sys::raise_fd_limit(crate::worker::FD_LIMIT).context("raising the open-file limit")?;
    let tmp = TempDir::new()?;
    let mut server = ServerProcess::start(pin.then_some(1))?;
    let resolv_conf = tmp.path().join("resolv.conf");
    std::fs::write(
        &resolv_conf,
        format!(
            "# stubborn-bench: the benchmark server\nnameserver {}\n",
            server.addr().ip()
        ),
    )
    .context("writing the benchmark resolv.conf")?;
    eprintln!("server on {} (pid {})", server.addr(), server.pid());

    let mut rows = Vec::new();
    let scenarios: Vec<Scenario> = plan
        .sizes
        .scenarios()
        .into_iter()
        .filter(|s| {
            plan.only.is_empty() || plan.only.iter().any(|o| s.label().contains(o.as_str()))
        })
        .collect();
    for (i, scenario) in scenarios.iter().enumerate() {
        // Throughput and the tail are the figures most exposed to other load on the machine:
        // they run in rounds, peers interleaved, so that load hits every peer alike; the
        // report shows each peer's median round and the spread of the ratios over the rounds.
        let rounds = match scenario {
            Scenario::Throughput { .. } | Scenario::Tail { .. } => plan.sizes.rounds.max(1),
            _ => 1,
        };
        for round in 0..rounds {
            for &peer in plan.peers.iter().filter(|&&p| scenario.for_peer(p)) {
                let of = if rounds > 1 {
                    format!(" round {}/{rounds}", round + 1)
                } else {
                    String::new()
                };
                eprint!(
                    "[{}/{}] {scenario}{of} · {peer} ... ",
                    i + 1,
                    scenarios.len()
                );
                let mut row = if *scenario == Scenario::ColdStart {
                    cold_start(&mut server, peer, &resolv_conf, plan.sizes.cold_runs)
                } else {
                    job_row(&mut server, peer, scenario, &resolv_conf)
                };
                row.round = round;
                match &row.result {
                    Ok(m) => eprintln!(
                        "{} lookups, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
                        m.lookups, m.latency.p50_ms, m.latency.p99_ms, m.latency.max_ms
                    ),
                    Err(e) => eprintln!("not measured: {e}"),
                }
                rows.push(row);
            }
        }
    }
    let ceiling = if plan.only.is_empty() || plan.only.iter().any(|o| o == "dnsperf") {
        eprint!("dnsperf ... ");
        let c = server
            .set_rules(vec![])
            .and_then(|()| dnsperf::run(server.addr(), plan.sizes.dnsperf_for, tmp.path()))
            .map_err(|e| format!("{e:#}"));
        match &c {
            Ok(c) => eprintln!("{:.0} queries/s", c.qps),
            Err(e) => eprintln!("{e}"),
        }
        c
    } else {
        Err("not asked for in this run".to_owned())
    };
    server.stop();
    env.load_after = sys::load_average().unwrap_or_default();
    env.minutes = started.elapsed().as_secs_f64() / 60.0;
    let report = Report { env, rows, ceiling };
    let section = report.markdown();
    println!("{section}");
    if let Some(path) = &plan.docs {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, report::splice(&old, &section))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("updated {}", path.display());
    }
    if let Some(path) = &plan.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// One worker for one (peer, scenario), with the server's counters and CPU around it.
fn job_row(
    server: &mut ServerProcess,
    peer: PeerKind,
    scenario: &Scenario,
    resolv_conf: &Path,
) -> Row {
    let mut row = Row {
        peer,
        scenario: scenario.clone(),
        round: 0,
        result: Err(String::new()),
        server_queries: 0,
        server_cpu_s: 0.0,
        server_overload: 0,
    };
    let before = server
        .set_rules(scenario.rules())
        .and_then(|()| server.snapshot());
    let before = match before {
        Ok(b) => b,
        Err(e) => {
            row.result = Err(format!("server: {e:#}"));
            return row;
        }
    };
    let job = Job {
        peer,
        scenario: scenario.clone(),
        server: server.addr(),
        resolv_conf: resolv_conf.to_path_buf(),
        tag: format!("{}-{}", peer.label(), std::process::id()) + &unique_suffix(),
    };
    row.result = spawn_worker(&job, time_limit(peer, scenario));
    match server.snapshot() {
        Ok(after) => {
            row.server_queries = after.queries.saturating_sub(before.queries);
            row.server_cpu_s = after.cpu.saturating_sub(before.cpu).as_secs_f64();
            row.server_overload = after.overload.saturating_sub(before.overload);
        }
        Err(e) => row.result = Err(format!("server: {e:#}")),
    }
    row
}

/// Cold start: `runs` fresh workers; the median first answer, the slowest as `max_ms`.
fn cold_start(server: &mut ServerProcess, peer: PeerKind, resolv_conf: &Path, runs: usize) -> Row {
    let mut row = Row {
        peer,
        scenario: Scenario::ColdStart,
        round: 0,
        result: Err(String::new()),
        server_queries: 0,
        server_cpu_s: 0.0,
        server_overload: 0,
    };
    if let Err(e) = server.set_rules(vec![]) {
        row.result = Err(format!("server: {e:#}"));
        return row;
    }
    let mut firsts = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let job = Job {
            peer,
            scenario: Scenario::ColdStart,
            server: server.addr(),
            resolv_conf: resolv_conf.to_path_buf(),
            tag: format!("cold-{}", peer.label()) + &unique_suffix(),
        };
        match spawn_worker(&job, time_limit(peer, &Scenario::ColdStart)) {
            Ok(m) => firsts.push(m.first_answer_ms.unwrap_or(f64::NAN)),
            Err(e) => {
                row.result = Err(e);
                return row;
            }
        }
    }
    firsts.sort_by(f64::total_cmp);
    let mut m = Measured {
        lookups: firsts.len() as u64,
        answers: firsts.len() as u64,
        first_answer_ms: Some(firsts[firsts.len() / 2]),
        ..Measured::default()
    };
    m.latency.p50_ms = firsts[firsts.len() / 2];
    m.latency.max_ms = firsts[firsts.len() - 1];
    row.result = Ok(m);
    row
}

/// How long a worker may run before it is killed: the scenario's own length, the peer's bound
/// for the last lookups, and a generous margin.
fn time_limit(peer: PeerKind, scenario: &Scenario) -> Duration {
    let bound = peer.nominal_bound();
    let margin = Duration::from_secs(30);
    match scenario {
        Scenario::Throughput { duration, .. } => *duration + bound + margin,
        Scenario::Tail { lookups, rate, .. } => {
            Duration::from_secs_f64(*lookups as f64 / (*rate).max(1) as f64) * 2 + bound + margin
        }
        Scenario::Deadline { .. } | Scenario::Memory { .. } => bound * 2 + margin,
        Scenario::ColdStart => margin,
    }
}

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Run `stubborn-bench worker --job JSON`; kill it past `limit`.
fn spawn_worker(job: &Job, limit: Duration) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this executable: {e}"))?;
    let job_json = serde_json::to_string(job).map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["worker", "--job", &job_json])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting a worker: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("worker stdout")?;
    let mut stderr = child.stderr.take().ok_or("worker stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let give_up = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(format!("worker killed after {:.0} s", limit.as_secs_f64()));
    };
    match serde_json::from_str::<Result<Measured, String>>(out.trim()) {
        Ok(result) => result,
        Err(_) => Err(format!(
            "worker exited with {status} without a result: {}",
            err.trim().lines().last().unwrap_or("")
        )),
    }
}

fn environment(plan: &Plan) -> Environment {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    Environment {
        started: utc_now(),
        command: plan.command.clone(),
        cpu_model,
        cpus: sys::online_cpus(),
        kernel,
        glibc: glibc_version(),
        load_before: sys::load_average().unwrap_or_default(),
        load_after: [0.0; 3],
        pinned: false,
        quick: plan.quick,
        minutes: 0.0,
        fd_limit: 0,
    }
}

fn glibc_version() -> String {
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    unsafe {
        let p = gnu_get_libc_version();
        if p.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

unsafe extern "C" {
    fn gnu_get_libc_version() -> *const libc::c_char;
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock (civil-from-days, proleptic Gregorian).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("stubborn-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_civil() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        // 2026-11-23 09:36:36 UTC
        assert_eq!(format_utc(1_795_426_596), "2026-11-23 09:36 UTC");
        // A leap day.
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn every_worker_is_bounded() {
        for peer in PeerKind::ALL {
            for s in Sizes::full().scenarios() {
                assert!(
                    time_limit(peer, &s) <= Duration::from_secs(120),
                    "{peer} {s}"
                );
            }
        }
    }
}
