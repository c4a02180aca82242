//! Integration tests of faultdns against the in-process server, over real loopback sockets.

mod actions;
mod answers;
// The binary's tests need it built: `cargo test -p faultdns --features cli` (CI runs the
// workspace with `--all-features`).
#[cfg(feature = "cli")]
mod binary;
mod clients;
mod conformance;
mod forward;
// The hickory-server layer's tests: `cargo test -p faultdns --features hickory-server`.
#[cfg(feature = "hickory-server")]
mod hickory;
mod lifecycle;
mod resolvers;
mod robustness;
mod rules;
mod upstream;
mod util;
