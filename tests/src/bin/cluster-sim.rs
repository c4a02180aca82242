//! The simulated cluster from the command line: `scripts/cluster-sim.sh` builds and runs it.
//!
//! Prints `dnsload report` over every host's files, then the loss comparison. Needs root and
//! Unbound; exit status 0 when the report ranks the lossy hosts first with estimates within a
//! factor of 2, the clean hosts show no errors and the lab left nothing behind; 1 when not;
//! 2 when it cannot run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use stubborn_tests::cluster::{ClusterConfig, simulate};
use stubborn_tests::netns::{check_capabilities, leftovers};
use stubborn_tests::runs::{dnsload_binary, stop_on_signals};
use stubborn_tests::servers::unbound_available;

/// Simulate a cluster of network namespaces with two lossy hosts and find them with dnsload.
#[derive(Debug, Parser)]
#[command(name = "cluster-sim", max_term_width = 100)]
struct Args {
    /// How long dnsload runs on every host.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Closed-loop raw workers per host (the loss estimate).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Closed-loop getaddrinfo workers per host (0: none).
    #[arg(long, default_value_t = 2)]
    glibc_workers: usize,
    /// Keep every host's events, summary and histogram log (and report.svg) in this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    stop_on_signals();
    if let Err(e) = check_capabilities().and_then(|()| unbound_available()) {
        eprintln!("cluster-sim: cannot run: {e}");
        return ExitCode::from(2);
    }
    let dnsload = match dnsload_binary() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cluster-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let config = ClusterConfig {
        duration: args.duration,
        workers: args.workers.max(1),
        glibc_workers: args.glibc_workers,
        out: args.out,
        ..ClusterConfig::default()
    };
    let lossy: Vec<String> = config
        .lossy
        .iter()
        .map(|(i, p)| format!("h{i} {:.0}%", p * 100.0))
        .collect();
    println!(
        "cluster-sim: {} hosts, loss on {}; on every host for {}: dnsload raw ({} workers) and \
         system ({} workers), {} pause\n",
        config.hosts,
        lossy.join(" and "),
        humantime::format_duration(config.duration),
        config.workers,
        config.glibc_workers,
        humantime::format_duration(config.pause),
    );
    let run = match simulate(&config, &dnsload) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("cluster-sim: {e}");
            return ExitCode::from(2);
        }
    };
    // The lab is gone: nothing of it may be left (namespaces, processes, veths, tables).
    let left = leftovers();
    if !left.is_empty() {
        eprintln!("cluster-sim: left behind: {left:?}");
        return ExitCode::from(1);
    }
    print!("{}", run.report_text);
    println!("\nLoss per host (nftables drops vs dnsload's estimate, per server):");
    print!("{}", run.comparison());
    if !run.glibc_report_text.is_empty() {
        println!(
            "\nMeanwhile, unmodified getaddrinfo on every host (resolv.conf: Unbound, \
             search in.our.internal.domain, timeout:1 attempts:2):\n"
        );
        print!("{}", run.glibc_report_text);
    }
    let verdict = run.verdict(&config);
    match verdict {
        Ok(()) => {
            println!(
                "\nverdict: the lossy hosts rank first, estimates within 2x, clean hosts clean"
            );
            ExitCode::SUCCESS
        }
        Err(why) => {
            println!("\nverdict: FAILED: {why}");
            ExitCode::from(1)
        }
    }
}
