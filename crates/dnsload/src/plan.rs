//! The validated plan of a `dnsload run`: every flag checked, defaults filled in, bounds proven.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use crate::class::{Class, SearchRule};
use crate::cli::{BackendKind, RunArgs};
use crate::error::{Error, Result};

/// Most closed-loop workers (each is a task; the system backend also gets a thread each).
const MAX_WORKERS: usize = 1024;
/// Highest open-loop rate; beyond this the scheduler's own timing dominates.
const MAX_RATE: f64 = 100_000.0;
/// Lowest open-loop rate: one lookup every 1000 s. Far lower rates are typos, and their
/// interval overflows a `Duration` (1e-300 per second panicked in the scheduler).
const MIN_RATE: f64 = 0.001;
/// Most lookups in flight an open loop may be given (each holds a task and, for raw, a socket).
const MAX_IN_FLIGHT: usize = 100_000;
/// Default most lookups in flight in an open loop.
const DEFAULT_MAX_IN_FLIGHT: usize = 1000;
/// Default getaddrinfo pool size in an open loop.
const DEFAULT_OPEN_LOOP_THREADS: usize = 32;
/// This machine's own resolver configuration: used only with `--use-system-config`.
pub const SYSTEM_RESOLV_CONF: &str = "/etc/resolv.conf";

/// How lookups are started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// `workers` tasks, each: look up, pause, repeat (the war-story loop).
    Closed {
        /// Concurrent workers.
        workers: usize,
        /// Pause after each lookup.
        pause: Duration,
    },
    /// Lookups started at a fixed rate; latency is measured from each intended start time.
    Open {
        /// Lookups per second.
        rate: f64,
        /// Most lookups in flight; later ones start late (and the lateness is counted).
        max_in_flight: usize,
    },
}

/// When a run stops: at the first bound reached. At least one is always set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Stop after this many lookups.
    pub count: Option<u64>,
    /// Stop starting lookups after this long.
    pub duration: Option<Duration>,
}

/// Resolver settings for the backends.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolverPlan {
    /// Servers given with `--server`.
    pub servers: Vec<SocketAddr>,
    /// A resolv.conf-style file (stub backend).
    pub resolv_conf: Option<PathBuf>,
    /// `--search` domains, if given (trailing dots removed).
    pub search: Option<Vec<String>>,
    /// `--ndots`, if given.
    pub ndots: Option<u8>,
    /// `--timeout`, if given.
    pub timeout: Option<Duration>,
    /// `--attempts`, if given.
    pub attempts: Option<u32>,
    /// Deadline per lookup (observation deadline for `system`).
    pub deadline: Duration,
    /// Whether the queries go where this machine's own resolver configuration points
    /// (`--use-system-config`, the only way to get that).
    pub system_config: bool,
}

impl ResolverPlan {
    /// Whether any flag asks to override the system resolver's configuration.
    pub fn overrides_system(&self) -> bool {
        !self.servers.is_empty()
            || self.search.is_some()
            || self.ndots.is_some()
            || self.timeout.is_some()
            || self.attempts.is_some()
    }

    /// The `wrong_name` rule as far as the flags tell it (search defaults to none, ndots to 1).
    pub fn search_rule(&self) -> SearchRule {
        SearchRule {
            search: self.search.clone().unwrap_or_default(),
            ndots: self.ndots.unwrap_or(1),
        }
    }
}

/// Where results go.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// JSON lines of events (`-` is stdout).
    pub events: Option<PathBuf>,
    /// Summary JSON (`-` is stdout).
    pub summary_json: Option<PathBuf>,
    /// HdrHistogram interval log.
    pub hlog: Option<PathBuf>,
    /// Prometheus endpoint.
    pub metrics: Option<SocketAddr>,
    /// Successes at least this slow are events.
    pub slow: Duration,
    /// Classes that make the exit status non-zero.
    pub fail_on: Vec<Class>,
    /// No human summary.
    pub quiet: bool,
}

impl Outputs {
    /// Whether a machine-readable output goes to stdout (then the human summary goes to stderr).
    pub fn stdout_taken(&self) -> bool {
        [&self.events, &self.summary_json]
            .into_iter()
            .flatten()
            .any(|p| is_stdout(p))
    }
}

/// Whether a path means standard output.
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new("-") || path == Path::new("/dev/stdout")
}

/// A validated `dnsload run`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The backend.
    pub backend: BackendKind,
    /// Resolver settings.
    pub resolver: ResolverPlan,
    /// Probe names, each expected to exist.
    pub names: Vec<String>,
    /// The record type asked for.
    pub record_type: RecordType,
    /// How lookups are started.
    pub schedule: Schedule,
    /// When the run stops.
    pub bounds: Bounds,
    /// Size of the system backend's thread pool.
    pub threads: usize,
    /// Host label.
    pub host: String,
    /// Outputs.
    pub outputs: Outputs,
}

impl Plan {
    /// Validates raw flags.
    pub fn from_args(args: &RunArgs) -> Result<Plan> {
        let backend = args.backend;
        let bounds = bounds(args.count, args.duration)?;
        let names = names(&args.names, args.names_file.as_deref())?;
        let record_type = record_type(&args.record_type, backend)?;
        let schedule = schedule(args)?;
        let resolver = resolver(args)?;
        let threads = match (args.threads, schedule) {
            (Some(0), _) => return Err(Error::flag("--threads", "must be at least 1")),
            (Some(n), _) if n > MAX_WORKERS => {
                return Err(Error::flag("--threads", format!("at most {MAX_WORKERS}")));
            }
            (Some(n), _) => n,
            (None, Schedule::Closed { workers, .. }) => workers,
            (None, Schedule::Open { max_in_flight, .. }) => {
                max_in_flight.min(DEFAULT_OPEN_LOOP_THREADS)
            }
        };
        if args.threads.is_some() && backend != BackendKind::System {
            return Err(Error::Conflict {
                first: "--threads",
                second: "--backend stub|raw",
                why: "only the system backend uses a thread pool",
            });
        }
        let host = match &args.host {
            Some(h) => {
                let h = h.trim();
                if h.is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(Error::flag("--host", "a label without spaces is needed"));
                }
                h.to_string()
            }
            None => hostname(),
        };
        let metrics = args
            .metrics
            .as_deref()
            .map(|m| metrics_addr(m, args.metrics_public))
            .transpose()?;
        if args.metrics_public && metrics.is_none() {
            return Err(Error::flag("--metrics-public", "needs --metrics ADDR"));
        }
        if args.slow.is_zero() {
            return Err(Error::flag("--slow", "must be more than zero"));
        }
        Ok(Plan {
            backend,
            resolver,
            names,
            record_type,
            schedule,
            bounds,
            threads,
            host,
            outputs: Outputs {
                events: args.events.clone(),
                summary_json: args.summary_json.clone(),
                hlog: args.hlog.clone(),
                metrics,
                slow: args.slow,
                fail_on: args.fail_on.clone(),
                quiet: args.quiet,
            },
        })
    }
}

fn bounds(count: Option<u64>, duration: Option<Duration>) -> Result<Bounds> {
    if count == Some(0) {
        return Err(Error::flag("--count", "must be at least 1"));
    }
    if duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::flag("--duration", "must be more than zero"));
    }
    if count.is_none() && duration.is_none() {
        return Err(Error::Unbounded);
    }
    Ok(Bounds { count, duration })
}

fn names(given: &[String], file: Option<&Path>) -> Result<Vec<String>> {
    let mut names: Vec<String> = given.to_vec();
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::file("cannot read", path, e))?;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                names.push(line.to_string());
            }
        }
    }
    if names.is_empty() {
        return Err(Error::NoNames);
    }
    for name in &names {
        check_name(name)?;
    }
    Ok(names)
}

/// Checks that a probe name is a DNS name dnsload can ask for.
fn check_name(name: &str) -> Result<()> {
    let bad = |why: &str| Error::flag("--name", format!("`{name}`: {why}"));
    if name.is_empty() || name == "." {
        return Err(bad("empty name"));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\0')
    {
        return Err(bad("contains spaces or control characters"));
    }
    if name.trim_end_matches('.').len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    if name.starts_with('.') || name.contains("..") {
        return Err(bad("empty label"));
    }
    Name::from_utf8(name).map_err(|e| bad(&e.to_string()))?;
    Ok(())
}

fn record_type(s: &str, backend: BackendKind) -> Result<RecordType> {
    let rt = RecordType::from_str(&s.to_ascii_uppercase())
        .map_err(|_| Error::flag("--type", format!("unknown record type `{s}`")))?;
    if backend != BackendKind::Raw && !matches!(rt, RecordType::A | RecordType::AAAA) {
        return Err(Error::flag(
            "--type",
            format!("{rt} needs --backend raw (stub and system look up addresses: A or AAAA)"),
        ));
    }
    Ok(rt)
}

fn schedule(args: &RunArgs) -> Result<Schedule> {
    match args.rate {
        Some(rate) => {
            if args.workers.is_some() {
                return Err(Error::Conflict {
                    first: "--rate",
                    second: "--workers",
                    why: "an open loop starts lookups at a rate, a closed loop runs N workers",
                });
            }
            if args.pause.is_some() {
                return Err(Error::Conflict {
                    first: "--rate",
                    second: "--pause",
                    why: "an open loop does not wait for answers, so there is nothing to pause after",
                });
            }
            if !(MIN_RATE..=MAX_RATE).contains(&rate) {
                return Err(Error::flag(
                    "--rate",
                    format!("{rate} is not between {MIN_RATE} and {MAX_RATE} lookups per second"),
                ));
            }
            let max_in_flight = args.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
            if max_in_flight == 0 || max_in_flight > MAX_IN_FLIGHT {
                return Err(Error::flag(
                    "--max-in-flight",
                    format!("{max_in_flight} is not between 1 and {MAX_IN_FLIGHT}"),
                ));
            }
            Ok(Schedule::Open {
                rate,
                max_in_flight,
            })
        }
        None => {
            if args.max_in_flight.is_some() {
                return Err(Error::flag("--max-in-flight", "only applies with --rate"));
            }
            let workers = args.workers.unwrap_or(1);
            if workers == 0 || workers > MAX_WORKERS {
                return Err(Error::flag(
                    "--workers",
                    format!("{workers} is not between 1 and {MAX_WORKERS}"),
                ));
            }
            Ok(Schedule::Closed {
                workers,
                pause: args.pause.unwrap_or(Duration::ZERO),
            })
        }
    }
}

fn resolver(args: &RunArgs) -> Result<ResolverPlan> {
    let servers = args
        .servers
        .iter()
        .map(|s| parse_server(s))
        .collect::<Result<Vec<_>>>()?;
    let search = if args.search.is_empty() {
        None
    } else {
        let mut list = Vec::new();
        for d in &args.search {
            let d = d.trim().trim_end_matches('.');
            if d.is_empty() || d.contains("..") || d.starts_with('.') {
                return Err(Error::flag("--search", format!("`{d}` is not a domain")));
            }
            list.push(d.to_string());
        }
        Some(list)
    };
    if let Some(t) = args.timeout
        && t.is_zero()
    {
        return Err(Error::flag("--timeout", "must be more than zero"));
    }
    if let Some(d) = args.deadline
        && d.is_zero()
    {
        return Err(Error::flag("--deadline", "must be more than zero"));
    }
    if args.attempts == Some(0) {
        return Err(Error::flag("--attempts", "must be at least 1"));
    }
    let mut plan = ResolverPlan {
        servers,
        resolv_conf: args.resolv_conf.clone(),
        search,
        ndots: args.ndots,
        timeout: args.timeout,
        attempts: args.attempts,
        deadline: Duration::ZERO,
        system_config: args.use_system_config,
    };
    if plan.system_config {
        let other = if !plan.servers.is_empty() {
            Some("--server")
        } else if args.backend == BackendKind::Raw {
            Some("--backend raw")
        } else if plan
            .resolv_conf
            .as_deref()
            .is_some_and(|f| !is_system_resolv_conf(f))
        {
            Some("--resolv-conf")
        } else {
            None
        };
        if let Some(other) = other {
            return Err(Error::Conflict {
                first: "--use-system-config",
                second: other,
                why: "the queries go either where the command line says or where this machine's resolver configuration points",
            });
        }
    }
    match args.backend {
        BackendKind::Stub => {
            if plan.servers.is_empty() {
                match &plan.resolv_conf {
                    None if plan.system_config => {
                        plan.resolv_conf = Some(PathBuf::from(SYSTEM_RESOLV_CONF));
                    }
                    None => {
                        return Err(Error::SystemConfigNotAsked(
                            "the stub backend with no --server or --resolv-conf FILE",
                        ));
                    }
                    Some(f) if is_system_resolv_conf(f) && !plan.system_config => {
                        return Err(Error::SystemConfigNotAsked(
                            "the stub backend with --resolv-conf /etc/resolv.conf",
                        ));
                    }
                    Some(_) => {}
                }
            }
            stub_bounds(&plan, args.deadline)?;
            plan.deadline = args.deadline.unwrap_or(Duration::from_secs(5));
        }
        BackendKind::System => {
            if plan.resolv_conf.is_some() {
                return Err(Error::Conflict {
                    first: "--resolv-conf",
                    second: "--backend system",
                    why: "getaddrinfo reads the C library's own configuration; override it with --server, --search, --ndots, --timeout, --attempts",
                });
            }
            if plan.servers.is_empty() && !plan.system_config {
                return Err(Error::SystemConfigNotAsked(
                    "the system backend with no --server",
                ));
            }
            if plan.servers.len() > 1 {
                return Err(Error::flag(
                    "--server",
                    "the system backend's override takes one server",
                ));
            }
            if let Some(s) = plan.servers.first()
                && s.is_ipv6()
            {
                return Err(Error::flag(
                    "--server",
                    format!("{s}: the glibc override supports IPv4 servers only"),
                ));
            }
            if let Some(t) = plan.timeout
                && (t.subsec_nanos() != 0 || t.as_secs() > 30)
            {
                return Err(Error::flag(
                    "--timeout",
                    "glibc takes whole seconds (1s to 30s) for the system backend",
                ));
            }
            if let Some(a) = plan.attempts
                && a > 5
            {
                return Err(Error::flag(
                    "--attempts",
                    format!("{a} is more than glibc's maximum of 5"),
                ));
            }
            if let Some(n) = plan.ndots
                && n > 15
            {
                return Err(Error::flag(
                    "--ndots",
                    format!("{n} is more than glibc's maximum of 15"),
                ));
            }
            if let Some(s) = &plan.search
                && (s.len() > 6 || s.iter().map(|d| d.len() + 1).sum::<usize>() > 255)
            {
                return Err(Error::flag(
                    "--search",
                    "glibc allows at most 6 domains, 255 characters in all",
                ));
            }
            // getaddrinfo has no timeout: observe for 30 s by default, beyond glibc's own
            // worst case for one candidate (3 servers x 2 attempts x 5 s).
            plan.deadline = args.deadline.unwrap_or(Duration::from_secs(30));
        }
        BackendKind::Raw => {
            if plan.servers.is_empty() {
                return Err(Error::flag(
                    "--server",
                    "the raw backend needs --server ADDR",
                ));
            }
            for (flag, given) in [
                ("--search", plan.search.is_some()),
                ("--ndots", plan.ndots.is_some()),
                ("--attempts", plan.attempts.is_some()),
                ("--resolv-conf", plan.resolv_conf.is_some()),
                ("--deadline", args.deadline.is_some()),
            ] {
                if given {
                    return Err(Error::Conflict {
                        first: flag,
                        second: "--backend raw",
                        why: "raw sends each name as given, once, and waits --timeout",
                    });
                }
            }
            let timeout = plan.timeout.unwrap_or(Duration::from_secs(1));
            plan.timeout = Some(timeout);
            plan.deadline = timeout;
        }
    }
    Ok(plan)
}

/// Whether `path` is this machine's own resolv.conf (by name, or the same file by another).
pub(crate) fn is_system_resolv_conf(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if path == Path::new(SYSTEM_RESOLV_CONF) {
        return true;
    }
    match (
        std::fs::metadata(path),
        std::fs::metadata(SYSTEM_RESOLV_CONF),
    ) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Refuses stub settings outside stubborn's bounds, naming the bound: stubborn itself would
/// clamp them (with a warning), and the run would measure something else than was asked.
fn stub_bounds(plan: &ResolverPlan, deadline: Option<Duration>) -> Result<()> {
    use crate::backend::stub::bounds;
    let fmt = |d: Duration| humantime::format_duration(d).to_string();
    let check =
        |flag: &'static str, value: Duration, range: &std::ops::RangeInclusive<Duration>| {
            if value < *range.start() {
                Err(Error::flag(
                    flag,
                    format!(
                        "{} is less than stubborn's minimum of {}",
                        fmt(value),
                        fmt(*range.start())
                    ),
                ))
            } else if value > *range.end() {
                Err(Error::flag(
                    flag,
                    format!(
                        "{} is more than stubborn's maximum of {}",
                        fmt(value),
                        fmt(*range.end())
                    ),
                ))
            } else {
                Ok(())
            }
        };
    if let Some(t) = plan.timeout {
        check("--timeout", t, &bounds::TIMEOUT)?;
    }
    if let Some(d) = deadline {
        check("--deadline", d, &bounds::DEADLINE)?;
    }
    if let Some(a) = plan.attempts
        && !bounds::ATTEMPTS.contains(&a)
    {
        return Err(Error::flag(
            "--attempts",
            format!(
                "{a} is outside stubborn's bounds of {} to {} attempts per name",
                bounds::ATTEMPTS.start(),
                bounds::ATTEMPTS.end()
            ),
        ));
    }
    if let Some(n) = plan.ndots
        && n > bounds::MAX_NDOTS
    {
        return Err(Error::flag(
            "--ndots",
            format!(
                "{n} is more than stubborn's maximum of {}",
                bounds::MAX_NDOTS
            ),
        ));
    }
    Ok(())
}

/// Parses `IP` or `IP:PORT` (`[v6]:PORT` for IPv6); port 53 by default.
pub fn parse_server(s: &str) -> Result<SocketAddr> {
    let s = s.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(Error::flag("--server", format!("{s}: port 0")));
        }
        return Ok(addr);
    }
    if let Ok(ip) = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(Error::flag(
        "--server",
        format!("`{s}` is not IP or IP:PORT (e.g. 127.0.0.1:5353, [::1]:53)"),
    ))
}

/// Parses `--metrics`: `PORT`, `:PORT` (loopback) or `IP:PORT`.
fn metrics_addr(s: &str, public: bool) -> Result<SocketAddr> {
    let s = s.trim();
    let port_only = s.strip_prefix(':').unwrap_or(s);
    let addr = if let Ok(port) = port_only.parse::<u16>() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else {
        s.parse::<SocketAddr>()
            .map_err(|_| Error::flag("--metrics", format!("`{s}` is not PORT or IP:PORT")))?
    };
    if !addr.ip().is_loopback() && !public {
        return Err(Error::MetricsNotLoopback(addr));
    }
    Ok(addr)
}

/// This machine's hostname, or `unknown-host`.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    if name.is_empty() {
        "unknown-host".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn plan(args: &[&str]) -> Result<Plan> {
        let mut argv = vec!["dnsload", "run"];
        argv.extend_from_slice(args);
        let Command::Run(run) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!()
        };
        Plan::from_args(&run)
    }

    #[test]
    fn defaults_are_filled_in() {
        let p = plan(&["--server", "127.0.0.1", "--name", "a.test", "--count", "3"]).unwrap();
        assert_eq!(p.resolver.servers, vec!["127.0.0.1:53".parse().unwrap()]);
        assert_eq!(
            p.schedule,
            Schedule::Closed {
                workers: 1,
                pause: Duration::ZERO
            }
        );
        assert_eq!(p.resolver.deadline, Duration::from_secs(5));
        assert_eq!(p.record_type, RecordType::A);
        assert!(!p.host.is_empty());
    }

    #[test]
    fn unbounded_and_conflicting_runs_are_refused() {
        let e = plan(&["--server", "127.0.0.1", "--name", "a.test"]).unwrap_err();
        assert!(matches!(e, Error::Unbounded), "{e}");
        let e = plan(&[
            "--server",
            "127.0.0.1",
            "--name",
            "a",
            "--count",
            "1",
            "--rate",
            "10",
            "--workers",
            "2",
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("--rate cannot be used with --workers"),
            "{e}"
        );
        let e = plan(&["--server", "127.0.0.1", "--count", "1"]).unwrap_err();
        assert!(matches!(e, Error::NoNames), "{e}");
        let e = plan(&["--name", "a", "--count", "1"]).unwrap_err();
        assert!(matches!(e, Error::SystemConfigNotAsked(_)), "{e}");
    }

    #[test]
    fn rates_outside_the_bounds_are_refused() {
        let with_rate = |rate: &str| {
            plan(&[
                "--server",
                "127.0.0.1",
                "--name",
                "a",
                "--count",
                "1",
                "--rate",
                rate,
            ])
        };
        // 1e-300 per second: an interval no Duration can hold (it panicked in the scheduler).
        for bad in ["0", "NaN", "inf", "1e-300", "0.0001", "100001"] {
            let e = with_rate(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid --rate"), "{bad}: {e}");
        }
        for good in ["0.001", "0.5", "100000"] {
            assert!(with_rate(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn max_in_flight_is_bounded() {
        let with = |n: &str| {
            plan(&[
                "--server",
                "127.0.0.1",
                "--name",
                "a",
                "--count",
                "1",
                "--rate",
                "10",
                "--max-in-flight",
                n,
            ])
        };
        assert!(with("100000").is_ok());
        // u64::MAX permits panicked in tokio's Semaphore::new.
        for bad in ["0", "100001", "18446744073709551615"] {
            let e = with(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid --max-in-flight"), "{bad}: {e}");
        }
    }

    #[test]
    fn servers_parse_with_default_port() {
        assert_eq!(parse_server("10.0.0.1").unwrap().port(), 53);
        assert_eq!(parse_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(parse_server("[::1]:54").unwrap().port(), 54);
        let e = parse_server("dns.example").unwrap_err().to_string();
        assert!(e.contains("is not IP or IP:PORT"), "{e}");
    }

    #[test]
    fn system_backend_limits_are_glibcs() {
        let base = ["--backend", "system", "--name", "a", "--count", "1"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            plan(&v)
        };
        assert!(with(&["--timeout", "1500ms"]).is_err());
        assert!(
            with(&["--server", "::1"])
                .unwrap_err()
                .to_string()
                .contains("IPv4")
        );
        assert!(with(&["--attempts", "9", "--server", "127.0.0.1"]).is_err());
        // glibc would send nothing with 0 attempts, and reads a 0 s timeout as 1 s.
        assert!(with(&["--attempts", "0"]).is_err());
        assert!(with(&["--timeout", "0s"]).is_err());
        assert!(
            with(&[
                "--timeout",
                "30s",
                "--attempts",
                "5",
                "--server",
                "127.0.0.1"
            ])
            .is_ok()
        );
        let p = with(&["--timeout", "1s", "--server", "127.0.0.1:5353"]).unwrap();
        assert!(p.resolver.overrides_system());
        assert_eq!(p.resolver.deadline, Duration::from_secs(30));
        let own = with(&["--use-system-config"]).unwrap();
        assert!(!own.resolver.overrides_system() && own.resolver.system_config);
    }

    #[test]
    fn the_machines_own_configuration_needs_the_flag() {
        let base = ["--name", "a", "--count", "1"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            plan(&v)
        };
        for refused in [
            &["--backend", "system"][..],
            &["--backend", "system", "--timeout", "1s"],
            &["--backend", "stub"],
            &["--backend", "stub", "--resolv-conf", "/etc/resolv.conf"],
            &[
                "--backend",
                "stub",
                "--resolv-conf",
                "/etc/resolv.conf",
                "--ndots",
                "5",
            ],
        ] {
            let e = with(refused).unwrap_err();
            assert!(
                matches!(e, Error::SystemConfigNotAsked(_)),
                "{refused:?}: {e}"
            );
            assert!(e.to_string().contains("--use-system-config"), "{e}");
        }
        let p = with(&["--backend", "stub", "--use-system-config"]).unwrap();
        assert_eq!(
            p.resolver.resolv_conf.as_deref(),
            Some(Path::new(SYSTEM_RESOLV_CONF))
        );
        // The machine's file with named servers: the servers decide where queries go.
        assert!(
            with(&[
                "--resolv-conf",
                "/etc/resolv.conf",
                "--server",
                "127.0.0.1:5353"
            ])
            .is_ok()
        );
        for conflict in [
            &["--use-system-config", "--server", "127.0.0.1"][..],
            &["--backend", "raw", "--use-system-config"],
            &[
                "--use-system-config",
                "--resolv-conf",
                "/nonexistent/resolv.conf",
            ],
            &[
                "--backend",
                "system",
                "--use-system-config",
                "--server",
                "127.0.0.1",
            ],
        ] {
            let e = with(conflict).unwrap_err().to_string();
            assert!(
                e.starts_with("--use-system-config cannot be used with"),
                "{conflict:?}: {e}"
            );
        }
    }

    #[test]
    fn stub_flags_outside_stubborns_bounds_are_refused_naming_the_bound() {
        let base = ["--server", "127.0.0.1", "--name", "a", "--count", "1"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            plan(&v).map_err(|e| e.to_string())
        };
        let e = with(&["--attempts", "20"]).unwrap_err();
        assert!(e.contains("--attempts") && e.contains("1 to 10"), "{e}");
        let e = with(&["--timeout", "5ms"]).unwrap_err();
        assert!(e.contains("minimum of 10ms"), "{e}");
        let e = with(&["--timeout", "31s"]).unwrap_err();
        assert!(e.contains("maximum of 30s"), "{e}");
        let e = with(&["--deadline", "301s"]).unwrap_err();
        assert!(e.contains("maximum of 5m"), "{e}");
        let e = with(&["--ndots", "16"]).unwrap_err();
        assert!(e.contains("maximum of 15"), "{e}");
        for ok in [
            &["--attempts", "10"][..],
            &["--attempts", "1"],
            &["--timeout", "10ms"],
            &["--timeout", "30s"],
            &["--deadline", "300s"],
            &["--ndots", "15"],
        ] {
            assert!(with(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn metrics_default_to_loopback_and_refuse_public_unless_asked() {
        let base = ["--server", "127.0.0.1", "--name", "a", "--count", "1"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            plan(&v)
        };
        assert_eq!(
            with(&["--metrics", "9153"]).unwrap().outputs.metrics,
            Some("127.0.0.1:9153".parse().unwrap())
        );
        let e = with(&["--metrics", "0.0.0.0:9153"]).unwrap_err();
        assert!(matches!(e, Error::MetricsNotLoopback(_)), "{e}");
        assert!(with(&["--metrics", "0.0.0.0:9153", "--metrics-public"]).is_ok());
    }

    #[test]
    fn names_come_from_flags_and_files() {
        let dir = std::env::temp_dir().join(format!("dnsload-names-{}", std::process::id()));
        std::fs::write(&dir, "# probes\nb.test\n\n c.test # second\n").unwrap();
        let p = plan(&[
            "--server",
            "127.0.0.1",
            "--name",
            "a.test",
            "--names",
            dir.to_str().unwrap(),
            "--count",
            "1",
        ])
        .unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(p.names, vec!["a.test", "b.test", "c.test"]);
        let e = plan(&["--server", "127.0.0.1", "--name", "a..b", "--count", "1"]).unwrap_err();
        assert!(e.to_string().contains("empty label"), "{e}");
    }
}
