//! dnsload's own entry point, built inside the test package so the lab can run it in its
//! namespaces; identical to `crates/dnsload/src/main.rs`.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(dnsload::main_with_args(std::env::args_os()))
}
