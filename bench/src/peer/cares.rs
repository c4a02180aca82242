//! c-ares through the `c-ares-resolver` crate, built from the vendored c-ares sources.

use std::time::Duration;

use anyhow::Context as _;
use c_ares::{AddrInfoHints, AddressFamily};
use c_ares_resolver::{FutureResolver, Options};

use super::{Outcome, Resolve, Setup};

/// c-ares's default first-try timeout (`DEFAULT_TIMEOUT` in `ares_private.h`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// c-ares's default tries per server (`DEFAULT_TRIES`).
pub const DEFAULT_TRIES: u32 = 3;

/// Worst case with one silent server: the timeout doubles each round, `2 + 4 + 8` s.
pub fn worst_case() -> Duration {
    (0..DEFAULT_TRIES)
        .map(|round| DEFAULT_TIMEOUT * (1 << round))
        .sum()
}

/// A c-ares channel (with its own event-loop thread) aimed at the benchmark server.
pub struct Peer {
    resolver: FutureResolver,
}

impl Peer {
    /// c-ares's defaults, stated explicitly so the machine's own resolv.conf options cannot
    /// leak in; DNS only (no hosts file); query cache off.
    pub fn new(setup: &Setup<'_>) -> anyhow::Result<Peer> {
        let path = setup
            .resolv_conf
            .to_str()
            .context("resolv.conf path is not UTF-8")?;
        let mut options = Options::new();
        options
            .set_resolvconf_path(path)
            .context("c-ares resolv.conf path")?
            .set_timeout(DEFAULT_TIMEOUT)
            .set_tries(DEFAULT_TRIES)
            .set_lookups("b")
            .context("c-ares lookups")?
            .set_query_cache_max_ttl(0);
        let resolver = FutureResolver::with_options(options)
            .map_err(|e| anyhow::anyhow!("starting c-ares: {e}"))?;
        resolver
            .set_servers(&[setup.server.to_string()])
            .map_err(|e| anyhow::anyhow!("c-ares set_servers: {e}"))?;
        anyhow::ensure!(
            resolver.servers() == [setup.server.to_string()],
            "c-ares did not take the server: {:?}",
            resolver.servers()
        );
        Ok(Peer { resolver })
    }
}

impl Resolve for Peer {
    /// `ares_getaddrinfo` with AF_UNSPEC: A and AAAA together.
    async fn lookup(&self, name: &str) -> Outcome {
        let hints = AddrInfoHints {
            family: Some(AddressFamily::UNSPEC),
            ..AddrInfoHints::default()
        };
        match self.resolver.get_addrinfo(name, None, &hints).await {
            Ok(results) => Outcome::from_families(
                results
                    .nodes()
                    .any(|n| n.ip_addr().is_some_and(|ip| ip.is_ipv4())),
                results
                    .nodes()
                    .any(|n| n.ip_addr().is_some_and(|ip| ip.is_ipv6())),
            ),
            Err(c_ares::Error::ENOTFOUND | c_ares::Error::ENODATA) => Outcome::NotFound,
            Err(c_ares::Error::ETIMEOUT) => Outcome::Timeout,
            Err(_) => Outcome::Failed,
        }
    }
}
