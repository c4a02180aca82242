//! Command-line flags (clap derive), turned into a validated plan.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::{peer::PeerKind, plan::Sizes, runner::Plan, soak, worker::Job};

/// Benchmarks stubborn side by side with hickory-resolver, c-ares and glibc, against faultdns
/// on loopback.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Flags {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run every scenario against every peer, print the tables, update docs/benchmarks.md.
    ///
    /// Example: `cargo run --release -p stubborn-bench -- all` (about 12 minutes; --quick for
    /// a four-minute smoke run whose figures are not measurements).
    All(AllArgs),
    /// Run stubborn for a while at a fixed rate against faultdns on loopback whose faults
    /// rotate over the names asked, some lookups dropped by their caller; print a row per
    /// interval, and fail on growing memory or descriptors, a lie (an existing name reported
    /// not found) or a deadline overrun beyond timer lateness.
    ///
    /// Example: `cargo run --release -p stubborn-bench -- soak --duration 10m --rate 2000`.
    Soak(SoakArgs),
    /// (internal) Serve faultdns for a run, controlled over stdin/stdout.
    #[command(hide = true)]
    Serve {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// CPU to pin the server to.
        #[arg(long)]
        cpu: Option<usize>,
    },
    /// (internal) Run one job and print its result as JSON.
    #[command(hide = true)]
    Worker {
        /// The job, as JSON.
        #[arg(long)]
        job: String,
    },
}

/// Flags of `all`.
#[derive(Debug, Clone, Args)]
pub struct AllArgs {
    /// Small sizes: checks the harness, measures nothing worth keeping.
    #[arg(long)]
    pub quick: bool,
    /// Peers to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub peers: Vec<PeerKind>,
    /// Only scenarios whose label contains one of these words (`throughput`, `tail`,
    /// `deadline`, `memory`, `cold`, `dnsperf`); default all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Do not pin the clients and the server to separate CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// Markdown file whose `## Resolver benchmarks` section is regenerated.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub docs: PathBuf,
    /// Leave the docs alone (print only).
    #[arg(long)]
    pub no_docs: bool,
    /// Also write the raw results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Flags of `soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// How long lookups are started for (`90s`, `10m`); the run then waits for those in flight
    /// (at most the resolver's 5 s deadline).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Lookups started per second, whatever happens to earlier ones.
    #[arg(long, default_value_t = 2000)]
    pub rate: u64,
    /// One table row, and one round of checks, per interval. The first interval is the
    /// warm-up that sets the memory baseline.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// The faults move on to the next name groups this often.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub rotate: Duration,
    /// Share of lookups dropped by their caller, after a time drawn from zero to their
    /// deadline.
    #[arg(long, default_value_t = 0.1)]
    pub cancel: f64,
    /// How far resident memory may rise above the first interval's largest, in MiB.
    #[arg(long, default_value_t = 32)]
    pub rss_margin_mib: u64,
    /// Descriptors allowed beyond those open before the resolver existed plus its UDP socket
    /// pool bound (its TCP connection, the server's side of it, files read meanwhile).
    #[arg(long, default_value_t = 32)]
    pub fd_slack: u64,
    /// How far a lookup may return past its deadline beyond the plain timer's lateness.
    #[arg(long, default_value = "10ms", value_parser = humantime::parse_duration)]
    pub overrun_slack: Duration,
    /// Seed of the lookup mix and of the server's fault draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the report (every interval, the bounds, what failed) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Turn `soak` flags into settings, refusing values that cannot make a run.
pub fn soak(args: SoakArgs) -> anyhow::Result<soak::Settings> {
    let SoakArgs {
        duration,
        rate,
        interval,
        rotate,
        cancel,
        rss_margin_mib,
        fd_slack,
        overrun_slack,
        seed,
        json,
    } = args;
    let day = Duration::from_secs(24 * 3600);
    anyhow::ensure!(
        (Duration::from_secs(1)..=day).contains(&duration),
        "--duration {}: expected 1s to 24h",
        humantime::format_duration(duration)
    );
    anyhow::ensure!(
        (1..=100_000).contains(&rate),
        "--rate {rate}: expected 1 to 100000 lookups per second"
    );
    anyhow::ensure!(
        (Duration::from_millis(100)..=day).contains(&interval),
        "--interval {}: expected 100ms to 24h",
        humantime::format_duration(interval)
    );
    anyhow::ensure!(
        rotate >= Duration::from_millis(100),
        "--rotate {}: expected at least 100ms",
        humantime::format_duration(rotate)
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&cancel),
        "--cancel {cancel}: expected a share between 0 and 1"
    );
    anyhow::ensure!(
        rss_margin_mib <= 1 << 20,
        "--rss-margin-mib {rss_margin_mib}: expected at most 1048576"
    );
    anyhow::ensure!(
        fd_slack <= 1 << 20,
        "--fd-slack {fd_slack}: expected at most 1048576"
    );
    anyhow::ensure!(
        overrun_slack <= Duration::from_secs(60),
        "--overrun-slack {}: expected at most 60s",
        humantime::format_duration(overrun_slack)
    );
    Ok(soak::Settings {
        duration,
        rate,
        interval,
        rotate,
        seed,
        mix: soak::chaos::Mix {
            cancel,
            ..soak::chaos::Mix::default()
        },
        rss_margin_mib,
        fd_slack,
        overrun_slack,
        json,
        command: command_line(),
    })
}

/// Turn `all` flags into a plan.
pub fn plan(args: AllArgs) -> anyhow::Result<Plan> {
    let AllArgs {
        quick,
        peers,
        only,
        no_pin,
        docs,
        no_docs,
        json,
    } = args;
    const WORDS: [&str; 6] = [
        "throughput",
        "tail",
        "deadline",
        "memory",
        "cold",
        "dnsperf",
    ];
    for o in &only {
        anyhow::ensure!(
            WORDS.contains(&o.as_str()),
            "--only {o:?}: expected one of {}",
            WORDS.join(", ")
        );
    }
    let mut peers = if peers.is_empty() {
        PeerKind::ALL.to_vec()
    } else {
        peers
    };
    peers.sort_by_key(|p| PeerKind::ALL.iter().position(|q| q == p));
    peers.dedup();
    Ok(Plan {
        sizes: if quick { Sizes::quick() } else { Sizes::full() },
        quick,
        peers,
        only,
        pin: !no_pin,
        docs: (!no_docs).then_some(docs),
        json,
        command: command_line(),
    })
}

/// Parse a worker's job.
pub fn job(json: &str) -> anyhow::Result<Job> {
    let job: Job = serde_json::from_str(json).context("parsing --job")?;
    anyhow::ensure!(
        job.server.ip().is_loopback(),
        "the benchmark talks to loopback servers only, not {}",
        job.server
    );
    Ok(job)
}

/// The command as a user would type it again.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p stubborn-bench -- {}",
        args.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_into_a_plan() {
        let flags = Flags::try_parse_from([
            "stubborn-bench",
            "all",
            "--quick",
            "--peers",
            "hickory-tuned,stubborn",
            "--only",
            "tail",
            "--no-docs",
        ])
        .unwrap();
        let Cmd::All(args) = flags.command else {
            panic!("not all");
        };
        let bogus = AllArgs {
            only: vec!["bogus".into()],
            ..args.clone()
        };
        let plan = plan(args).unwrap();
        assert_eq!(plan.peers, [PeerKind::Stubborn, PeerKind::HickoryTuned]);
        assert!(plan.quick && plan.pin && plan.docs.is_none());
        let e = self::plan(bogus).unwrap_err().to_string();
        assert!(e.contains("--only \"bogus\""), "{e}");
    }

    #[test]
    fn soak_flags_are_checked() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["stubborn-bench", "soak", "--duration", "10m"];
            argv.extend_from_slice(extra);
            let Cmd::Soak(args) = Flags::try_parse_from(argv).unwrap().command else {
                panic!("not soak");
            };
            soak(args)
        };
        let s = parse(&[]).unwrap();
        assert_eq!(
            (s.duration, s.rate, s.interval),
            (Duration::from_secs(600), 2000, Duration::from_secs(60))
        );
        assert_eq!(s.overrun_slack, Duration::from_millis(10));
        let s = parse(&["--rate", "50", "--interval", "1s", "--cancel", "0"]).unwrap();
        assert_eq!(
            (s.rate, s.interval, s.mix.cancel),
            (50, Duration::from_secs(1), 0.0)
        );
        for (bad, word) in [
            (&["--rate", "0"][..], "--rate 0"),
            (&["--cancel", "1.5"], "--cancel 1.5"),
            (&["--interval", "1ms"], "--interval 1ms"),
            (&["--rotate", "0s"], "--rotate 0s"),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
        assert!(Flags::try_parse_from(["stubborn-bench", "soak", "--duration", "soon"]).is_err());
    }

    #[test]
    fn jobs_for_other_hosts_are_refused() {
        let job = r#"{"peer":"stubborn","scenario":{"kind":"cold-start"},"server":"192.0.2.53:53","resolv_conf":"/x","tag":"t"}"#;
        assert!(super::job(job).is_err());
        let job = job.replace("192.0.2.53:53", "127.0.0.1:5353");
        assert!(super::job(&job).is_ok());
    }
}
