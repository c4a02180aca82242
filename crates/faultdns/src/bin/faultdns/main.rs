//! The `faultdns` command: parse flags, validate them into a plan, serve until Ctrl-C/SIGTERM.

mod flags;
mod metrics;
mod plan;
mod run;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let flags = flags::Flags::parse();
    match plan::Plan::from_flags(flags).and_then(run::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultdns: {e:#}");
            ExitCode::from(2)
        }
    }
}
