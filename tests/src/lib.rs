//! Shared fixtures for the end-to-end tests: a lab of network namespaces ([`netns`]) and the
//! rule for tests that need a capability this machine may lack ([`require`]).

pub mod netns;

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
