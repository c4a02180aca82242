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
            eprintln!("faultdns: {}", describe(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each cause said once: our error messages already
/// name their source (`cannot listen on ADDR: address in use`), so a cause whose text the
/// line holds already is not repeated.
pub(crate) fn describe(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let bind = faultdns::Error::Bind {
            addr: "127.0.0.1:5353".parse().unwrap(),
            source: io,
        };
        let e = anyhow::Error::from(bind).context("starting the server");
        let line = describe(&e);
        assert_eq!(
            line,
            format!(
                "starting the server: cannot listen on 127.0.0.1:5353: {}",
                std::io::Error::from(std::io::ErrorKind::AddrInUse)
            )
        );
    }
}
