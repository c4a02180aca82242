//! Raw command-line flags (clap derive); [`crate::Plan`] validates them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::class::Class;

/// DNS load and loss finder: reproduce resolver failures under packet loss and find lossy hosts.
#[derive(Debug, Parser)]
#[command(name = "dnsload", version, about, max_term_width = 100)]
pub struct Cli {
    /// Show more of what the resolvers log on stderr: -v info, -vv debug, -vvv trace (warnings
    /// always show). `RUST_LOG` (e.g. `RUST_LOG=stubborn=debug`), when set, decides instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look names up in a loop or at a fixed rate and record every outcome.
    Run(Box<RunArgs>),
    /// Merge events, summaries and histogram logs from many hosts.
    Report(ReportArgs),
    /// The war story side by side: glibc and stubborn against an in-process lossy server.
    Demo(DemoArgs),
}

/// Which resolver does the lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// stubborn, the workspace's resolver.
    Stub,
    /// getaddrinfo from the C library, on a bounded pool of threads.
    System,
    /// one query, one attempt, no retries, straight to a server: direct loss measurement.
    Raw,
}

impl BackendKind {
    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Stub => "stub",
            BackendKind::System => "system",
            BackendKind::Raw => "raw",
        }
    }
}

/// Flags of `dnsload run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Resolver to measure.
    #[arg(long, value_enum, default_value = "stub")]
    pub backend: BackendKind,
    /// DNS server, `IP` or `IP:PORT` (port 53 by default); repeatable.
    #[arg(long = "server", value_name = "ADDR")]
    pub servers: Vec<String>,
    /// Read nameservers, search list and options from this resolv.conf-style file (stub).
    #[arg(long, value_name = "FILE")]
    pub resolv_conf: Option<PathBuf>,
    /// Send the queries where this machine's own resolver configuration (/etc/resolv.conf)
    /// points: needed for `system` without --server and `stub` without --server or with
    /// --resolv-conf /etc/resolv.conf. Never the default: a load tool must not load
    /// production DNS unless told to.
    #[arg(long)]
    pub use_system_config: bool,
    /// Search domain; repeatable (the order is the search order).
    #[arg(long = "search", value_name = "DOMAIN")]
    pub search: Vec<String>,
    /// Names with fewer dots than this are tried with the search domains first.
    #[arg(long, value_name = "N")]
    pub ndots: Option<u8>,
    /// Per-attempt timeout, e.g. `1s`, `500ms` (glibc: whole seconds).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Attempts per candidate name.
    #[arg(long, value_name = "N")]
    pub attempts: Option<u32>,
    /// Overall deadline per lookup; for `system`, the observation deadline after which a
    /// getaddrinfo call still running is counted `hung`.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub deadline: Option<Duration>,
    /// Probe name (expected to exist); repeatable.
    #[arg(long = "name", value_name = "NAME")]
    pub names: Vec<String>,
    /// File with one probe name per line (`#` starts a comment).
    #[arg(long = "names", value_name = "FILE")]
    pub names_file: Option<PathBuf>,
    /// Record type to ask for: A or AAAA (any type for `raw`).
    #[arg(long = "type", value_name = "TYPE", default_value = "A")]
    pub record_type: String,
    /// Closed loop: this many concurrent workers, each looking up, pausing, repeating.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Closed loop: pause between one worker's lookups.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub pause: Option<Duration>,
    /// Open loop: start this many lookups per second, whatever the answers do.
    #[arg(long, value_name = "QPS")]
    pub rate: Option<f64>,
    /// Open loop: most lookups in flight at once (later ones start late and are counted).
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// system: size of the getaddrinfo thread pool (default: workers, or 32 in open loop).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Stop after this many lookups.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Write one JSON line per failure and per slow success to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Write the run summary as JSON to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write an HdrHistogram interval log of latencies to FILE, tagged with the host label.
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// Serve Prometheus metrics at ADDR (`PORT` or `IP:PORT`; loopback unless --metrics-public).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Allow --metrics on a non-loopback address.
    #[arg(long)]
    pub metrics_public: bool,
    /// Host label in every record (default: this machine's hostname).
    #[arg(long, value_name = "LABEL")]
    pub host: Option<String>,
    /// Successes slower than this are events too (latency as the histograms measure it: in an
    /// open loop, from the scheduled start, so a late start counts).
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "1s")]
    pub slow: Duration,
    /// Exit with status 3 if any lookup ends in one of these classes (comma-separated).
    #[arg(long, value_name = "CLASS,...", value_delimiter = ',')]
    pub fail_on: Vec<Class>,
    /// Do not print the human summary (the JSON outputs are still written).
    #[arg(long)]
    pub quiet: bool,
}

/// Flags of `dnsload report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Events (JSON lines), summaries (JSON) and histogram logs from any number of hosts.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Also draw errors per host, errors over time and the latency distribution as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print the merged report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Width of the time buckets for errors over time (default: about 20 buckets).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub bucket: Option<Duration>,
}

/// Flags of `dnsload demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How long to run each side (both shapes and both backends run at once).
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "20s")]
    pub duration: Duration,
    /// Seed for the server's drop decisions.
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub seed: u64,
}

/// Parses `1s`, `200ms`, `1m30s`.
///
/// At most [`MAX_DURATION`]: every duration flag ends up added to a clock reading, and a far
/// longer one (`500000000000years` parses) would overflow it.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 1s or 200ms ({e})"))?;
    if d > MAX_DURATION {
        return Err(format!("`{s}` is longer than 366 days"));
    }
    Ok(d)
}

/// The longest duration any flag takes: 366 days.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_command_line_parses() {
        let cli = Cli::try_parse_from([
            "dnsload",
            "run",
            "--backend",
            "system",
            "--server",
            "127.0.0.1:5353",
            "--search",
            "corp.test",
            "--ndots",
            "5",
            "--timeout",
            "1s",
            "--attempts",
            "2",
            "--deadline",
            "10s",
            "--name",
            "myservice",
            "--workers",
            "4",
            "--pause",
            "50ms",
            "--count",
            "100",
            "--fail-on",
            "nxdomain,wrong_name",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.backend, BackendKind::System);
        assert_eq!(run.timeout, Some(Duration::from_secs(1)));
        assert_eq!(run.pause, Some(Duration::from_millis(50)));
        assert_eq!(run.fail_on, vec![Class::Nxdomain, Class::WrongName]);
    }

    #[test]
    fn bad_durations_and_classes_are_named() {
        let err = Cli::try_parse_from(["dnsload", "run", "--timeout", "soon"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`soon` is not a duration"), "{err}");
        let err = Cli::try_parse_from(["dnsload", "run", "--fail-on", "lost"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown class `lost`"), "{err}");
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(
            parse_duration("366days").unwrap(),
            Duration::from_secs(366 * 86_400)
        );
        // Added to an Instant, this panicked (--duration, --pause, --timeout).
        let err = parse_duration("500000000000years").unwrap_err();
        assert!(err.contains("longer than"), "{err}");
        assert!(parse_duration("367days").is_err());
    }
}
