//! stubborn-bench: stubborn side by side with hickory-resolver, c-ares and glibc getaddrinfo,
//! every peer against the same faultdns server on loopback, in one command:
//! `cargo run --release -p stubborn-bench -- all` (see `docs/benchmarks.md`).
//!
//! Processes: `all` starts the server (`serve`: faultdns in its own process, pinned to CPU 1)
//! and, for each scenario and peer, a fresh `worker` pinned to CPU 0 that builds the peer,
//! runs the load and prints what it measured as one JSON line. `bench/profile.sh` runs one
//! peer's worker under callgrind, strace and massif.

mod cli;
mod dnsperf;
mod load;
mod peer;
mod plan;
mod report;
mod runner;
mod serve;
mod server;
mod soak;
mod sys;
mod worker;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let flags = cli::Flags::parse();
    match run(flags.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stubborn-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: cli::Cmd) -> anyhow::Result<()> {
    match cmd {
        cli::Cmd::All(args) => runner::run(&cli::plan(args)?).map(drop),
        cli::Cmd::Soak(args) => {
            let report = soak::run(&cli::soak(args)?)?;
            anyhow::ensure!(
                report.passed,
                "soak failed: {}",
                report
                    .violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            Ok(())
        }
        cli::Cmd::Serve { listen, cpu } => serve::run(listen, cpu),
        cli::Cmd::Worker { job } => {
            let job = cli::job(&job)?;
            // The result (or the reason there is none) is the only thing on stdout.
            let result = worker::run(&job).map_err(|e| format!("{e:#}"));
            println!("{}", serde_json::to_string(&result)?);
            Ok(())
        }
    }
}
