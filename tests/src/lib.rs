//! Shared fixtures for the end-to-end tests: a lab of network namespaces ([`netns`]), DNS
//! servers inside it ([`servers`]), bounded dnsload runs on its hosts ([`runs`]), the simulated
//! cluster ([`cluster`]), the scenario where the report must find the loss ([`attribution`],
//! with [`conntrack`] filling a host's table), and the rules for tests that need a capability this machine may lack
//! ([`require`]) or that share the machine's namespaces ([`serial`], [`assert_clean`]).

#![warn(missing_docs)]

pub mod attribution;
pub mod cluster;
pub mod conntrack;
pub mod netns;
pub mod runs;
pub mod servers;

use std::sync::{Mutex, MutexGuard};

/// Environment variable that turns a missing capability into a test failure (CI sets it).
pub const REQUIRE_ALL: &str = "STUBBORN_REQUIRE_ALL";

/// Decides what a test does when a capability is missing: with `STUBBORN_REQUIRE_ALL=1` it
/// fails with the reason; otherwise it prints a one-line reason and the caller skips.
///
/// Returns the value when it is there, `None` when the test should return early.
pub fn require<T, E: std::fmt::Display>(test: &str, got: Result<T, E>) -> Option<T> {
    match got {
        Ok(v) => Some(v),
        Err(reason) if std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1") => {
            panic!("{test}: {reason} ({REQUIRE_ALL}=1 turns this into a failure)")
        }
        Err(reason) => {
            eprintln!("skipped {test}: {reason}");
            None
        }
    }
}

/// Writes `text` to the test's real standard error, past libtest's capture (which takes only
/// `print!`/`eprint!`), so the counts a test measured are in the output of a passing run too.
pub fn show(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Namespace tests run one at a time: timing-sensitive runs (loss estimates, timeouts) must
/// not share two cores with each other, and [`assert_clean`] at the end of each test then
/// checks the whole process, so the last one to finish checks the whole suite.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fails when any lab of this process left something behind (see [`netns::leftovers`]).
/// Call it with every lab dropped, while holding [`serial`].
pub fn assert_clean() {
    let left = netns::leftovers();
    assert!(left.is_empty(), "namespace tests left behind: {left:?}");
}
