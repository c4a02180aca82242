//! Command-line flags (clap derive), turned into a validated plan.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::{peer::PeerKind, plan::Sizes, runner::Plan, worker::Job};

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
    fn jobs_for_other_hosts_are_refused() {
        let job = r#"{"peer":"stubborn","scenario":{"kind":"cold-start"},"server":"192.0.2.53:53","resolv_conf":"/x","tag":"t"}"#;
        assert!(super::job(job).is_err());
        let job = job.replace("192.0.2.53:53", "127.0.0.1:5353");
        assert!(super::job(&job).is_ok());
    }
}
