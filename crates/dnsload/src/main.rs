//! dnsload: DNS load and loss finder (see the library for everything).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(dnsload::main_with_args(std::env::args_os()))
}
