//! The command-line entry: parse, run, map errors to an exit status.
//!
//! Exit status: 0 done; 1 a runtime error (message on stderr); 2 bad flags or input files;
//! 3 a `--fail-on` class occurred. A closed stdout (broken pipe) is not an error.

use std::ffi::OsString;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::plan::Plan;

/// Runs dnsload with these arguments (the first is the program name); returns the exit status.
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dnsload: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => {
                let plan = Plan::from_args(&args)?;
                crate::run::run(&plan).await.map(|r| r.exit_code)
            }
            Command::Report(args) => crate::report::report(&args).map(|_| 0),
            Command::Demo(args) => crate::demo::demo(&args).await.map(|_| 0),
        }
    });
    // Lookups stuck in getaddrinfo must not hold the exit.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            eprintln!("dnsload: error: {e}");
            exit_code(&e)
        }
    }
}

/// Sends the libraries' `tracing` output (stubborn's warnings: a clamped setting, an unknown
/// resolv.conf option) to stderr. `RUST_LOG`, when set and valid, decides what shows;
/// otherwise warnings and errors, plus info with `-v`, debug with `-vv`, trace with `-vvv`.
/// A subscriber already installed (dnsload called as a library) is left alone.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("dnsload: ignoring RUST_LOG={spec:?} ({e})");
            EnvFilter::new(level)
        }),
        _ => EnvFilter::new(level),
    };
    // Colours only on a terminal: in a log file or a pod's log they are noise.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

/// 2 for what the user can fix in the command line or input files, 1 otherwise.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::InvalidFlag { .. }
        | Error::Conflict { .. }
        | Error::Unbounded
        | Error::NoNames
        | Error::BadInput { .. }
        | Error::MetricsNotLoopback(_)
        | Error::SystemConfigNotAsked(_)
        | Error::Resolver(_) => 2,
        Error::File { action, .. } if *action == "cannot read" => 2,
        _ => 1,
    }
}
