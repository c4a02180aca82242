//! Integration tests of faultdns against the in-process server, over real loopback sockets.

mod actions;
mod answers;
// The binary's tests need it built: `cargo test -p faultdns --features cli` (CI runs the
// workspace with `--all-features`).
#[cfg(feature = "cli")]
mod binary;
mod lifecycle;
mod robustness;
mod rules;
mod util;
