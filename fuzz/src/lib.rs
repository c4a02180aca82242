//! The checks behind the fuzz targets in `fuzz_targets/`: one function per target, taking the
//! fuzzer's bytes. Each parses its input with the workspace's own code and asserts properties
//! that must hold for every input (a failed assertion is a crash to the fuzzer), not only that
//! nothing panics. The unit tests run every function over the committed seed corpus.

use std::net::SocketAddr;

pub mod dnsload_targets;
pub mod faultdns_targets;
pub mod stubborn_targets;

/// The server a stub query went to, and another address on loopback.
pub(crate) fn server() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 53))
}

/// Splits `data` at its first byte `0xff` (the separator of multi-part inputs; none: all of
/// it is the first part).
pub(crate) fn split_once(data: &[u8], separator: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == separator) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Runs `check` over every file of `corpus/<target>`, which must hold some.
    fn replay(target: &str, check: fn(&[u8])) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            check(&std::fs::read(&path).unwrap());
            n += 1;
        }
        assert!(n > 0, "no seeds in {}", dir.display());
    }

    #[test]
    fn stubborn_seeds_pass_their_checks() {
        replay("stubborn_reply", super::stubborn_targets::reply);
        replay("stubborn_resolv_conf", super::stubborn_targets::resolv_conf);
        replay("stubborn_hosts", super::stubborn_targets::hosts);
    }

    #[test]
    fn faultdns_seeds_pass_their_checks() {
        replay("faultdns_request", super::faultdns_targets::request);
        replay("faultdns_rule", super::faultdns_targets::rule);
        replay("faultdns_zone", super::faultdns_targets::zone);
    }

    #[test]
    fn dnsload_seeds_pass_their_checks() {
        replay("dnsload_event", super::dnsload_targets::event);
        replay("dnsload_summary", super::dnsload_targets::summary);
        replay("dnsload_pod_log", super::dnsload_targets::pod_log);
        replay("dnsload_hlog", super::dnsload_targets::hlog);
    }
}
