//! hickory-resolver, pinned to the same hickory version as the workspace, cache off.

use std::time::Duration;

use anyhow::Context as _;
use hickory_resolver::{
    TokioResolver,
    config::{LookupIpStrategy, ResolveHosts, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
    system_conf::parse_resolv_conf,
};

use super::{Outcome, Resolve, Setup};

/// hickory's default per-try timeout (`ResolverOpts::default().timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// hickory's default retries after the first try (`ResolverOpts::default().attempts`).
pub const DEFAULT_ATTEMPTS: u32 = 2;
/// Tuned per-try timeout: stubborn's 1 s.
pub const TUNED_TIMEOUT: Duration = Duration::from_secs(1);
/// Tuned retries: 4 after the first try, so 5 tries as stubborn makes.
pub const TUNED_ATTEMPTS: u32 = 4;

/// A hickory resolver aimed at the benchmark server.
pub struct Peer {
    resolver: TokioResolver,
}

impl Peer {
    /// Parse the resolv.conf, point it at the server's port, turn the cache and hosts file off;
    /// with `tuned`, set timeout and attempts to stubborn's defaults, otherwise keep hickory's.
    pub fn new(setup: &Setup<'_>, tuned: bool) -> anyhow::Result<Peer> {
        let text = std::fs::read(setup.resolv_conf)
            .with_context(|| format!("reading {}", setup.resolv_conf.display()))?;
        let (parsed, _) = parse_resolv_conf(text).context("hickory parsing resolv.conf")?;
        let (_, _, mut servers) = parsed.into_parts();
        for server in &mut servers {
            anyhow::ensure!(
                server.ip == setup.server.ip(),
                "resolv.conf names {} but the benchmark server is {}",
                server.ip,
                setup.server
            );
            for conn in &mut server.connections {
                conn.port = setup.server.port();
            }
        }
        let config = ResolverConfig::from_parts(None, vec![], servers);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        let opts = builder.options_mut();
        // Defaults are hickory's own; these three only remove what would skew the comparison.
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        if tuned {
            opts.timeout = TUNED_TIMEOUT;
            opts.attempts = TUNED_ATTEMPTS as usize;
        } else {
            debug_assert_eq!(opts.timeout, DEFAULT_TIMEOUT);
            debug_assert_eq!(opts.attempts, DEFAULT_ATTEMPTS as usize);
        }
        let resolver = builder.build().context("building the hickory resolver")?;
        Ok(Peer { resolver })
    }
}

impl Resolve for Peer {
    /// Resolve A and AAAA in parallel.
    async fn lookup(&self, name: &str) -> Outcome {
        match self.resolver.lookup_ip(name).await {
            Ok(lookup) => Outcome::from_families(
                lookup.iter().any(|ip| ip.is_ipv4()),
                lookup.iter().any(|ip| ip.is_ipv6()),
            ),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Outcome::NotFound,
            Err(hickory_resolver::net::NetError::Timeout) => Outcome::Timeout,
            Err(_) => Outcome::Failed,
        }
    }
}
