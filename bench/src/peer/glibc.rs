//! glibc getaddrinfo through dnsload's `system` backend: a pool of threads, each with its
//! resolver state (`_res`) pointed at the benchmark server and verified before the first call.
//!
//! The override is dnsload's (`crates/dnsload/csrc/resolv_override.c`), reused rather than
//! written twice. The backend refuses to start if any thread's override does not verify, so no
//! query can go to the machine's own resolver.

use std::{
    net::{SocketAddr, SocketAddrV4},
    time::Duration,
};

use anyhow::Context as _;
use dnsload::{Backend as _, Class, Override, SystemBackend, SystemConfig};

use super::{Outcome, Resolve, Setup};

/// The resolver options a glibc peer runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conf {
    /// Per-attempt timeout (`options timeout:`), whole seconds.
    pub timeout: Duration,
    /// Attempts per server (`options attempts:`).
    pub attempts: u32,
}

/// stubborn's defaults, the closest glibc can come: timeout 1, attempts 5.
pub const TUNED: Conf = Conf {
    timeout: Duration::from_secs(1),
    attempts: 5,
};

/// glibc's compiled-in defaults (`RES_TIMEOUT` 5, `RES_DFLRETRY` 2), set explicitly so the
/// machine's resolv.conf options cannot leak in.
pub const DEFAULTS: Conf = Conf {
    timeout: Duration::from_secs(5),
    attempts: 2,
};

/// getaddrinfo(AF_UNSPEC) on dnsload's overridden thread pool.
pub struct Peer {
    backend: SystemBackend,
}

impl Peer {
    /// Start `setup.threads` threads and verify each one's override.
    pub fn new(setup: &Setup<'_>, conf: Conf) -> anyhow::Result<Peer> {
        let SocketAddr::V4(server) = setup.server else {
            anyhow::bail!(
                "glibc's override takes an IPv4 server, not {}",
                setup.server
            );
        };
        let backend = SystemBackend::start(SystemConfig {
            threads: setup.threads.max(1),
            // Past the peer's own bound plus slack: "hung" would be a finding, not a limit.
            deadline: conf.timeout * conf.attempts + Duration::from_secs(5),
            family: libc::AF_UNSPEC,
            over: over(server, conf),
        })
        .context("starting dnsload's system backend")?;
        Ok(Peer { backend })
    }
}

impl Resolve for Peer {
    /// One getaddrinfo on a pool thread.
    async fn lookup(&self, name: &str) -> Outcome {
        let outcome = self.backend.lookup(name).await;
        match classify(outcome.class) {
            Outcome::Answer => Outcome::from_families(
                outcome.addrs.iter().any(|ip| ip.is_ipv4()),
                outcome.addrs.iter().any(|ip| ip.is_ipv6()),
            ),
            other => other,
        }
    }
}

fn over(server: SocketAddrV4, conf: Conf) -> Override {
    Override {
        server: Some(server),
        retrans: Some(u32::try_from(conf.timeout.as_secs()).unwrap_or(u32::MAX)),
        retry: Some(conf.attempts),
        ndots: Some(1),
        search: Some(vec![]),
    }
}

/// dnsload's classes as this benchmark's.
fn classify(class: Class) -> Outcome {
    match class {
        Class::Ok => Outcome::Answer,
        Class::Nxdomain | Class::Nodata => Outcome::NotFound,
        Class::Timeout | Class::Hung => Outcome::Timeout,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_outcomes() {
        assert_eq!(classify(Class::Ok), Outcome::Answer);
        assert_eq!(classify(Class::Nxdomain), Outcome::NotFound);
        assert_eq!(classify(Class::Nodata), Outcome::NotFound);
        assert_eq!(classify(Class::Hung), Outcome::Timeout);
        assert_eq!(classify(Class::WrongName), Outcome::Failed);
    }

    #[test]
    fn the_override_names_only_the_server() {
        let o = over("127.0.0.1:5353".parse().unwrap(), TUNED);
        assert_eq!(o.server, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!((o.retrans, o.retry), (Some(1), Some(5)));
        assert_eq!(o.search, Some(vec![]));
    }
}
