//! stubborn with its defaults.

use anyhow::Context as _;

use super::{Outcome, OwnCounts, Resolve, Setup};

/// A stubborn resolver aimed at the benchmark server.
pub struct Peer {
    resolver: stubborn::Resolver,
}

impl Peer {
    /// Parse the resolv.conf with stubborn's own parser and keep every default (1 s per
    /// attempt, 5 attempts, 5 s deadline); only the server's port (which resolv.conf cannot
    /// carry) is set, and the hosts file is left out as it is for the other peers.
    /// `defaults`: keep the cache and coalescing on as well (the `stubborn-defaults` peer).
    pub fn new(setup: &Setup<'_>, defaults: bool) -> anyhow::Result<Peer> {
        let config = stubborn::Config::from_resolv_conf(setup.resolv_conf)
            .context("stubborn reading resolv.conf")?;
        anyhow::ensure!(
            config.servers().iter().all(|s| s.ip() == setup.server.ip()),
            "resolv.conf names {:?} but the benchmark server is {}",
            config.servers(),
            setup.server
        );
        // Cache and coalescing off, as the other peers' caches are (none of them shares a
        // question in flight): every lookup costs its two queries.
        let config = config
            .with_servers(vec![setup.server])
            .with_hosts_file(None);
        let config = if defaults {
            config
        } else {
            config.with_cache(None).with_coalescing(false)
        };
        let resolver = stubborn::Resolver::new(config).context("building stubborn")?;
        Ok(Peer { resolver })
    }
}

impl Resolve for Peer {
    /// `lookup_ip`: A and AAAA concurrently.
    async fn lookup(&self, name: &str) -> Outcome {
        match self.resolver.lookup_ip(name).await {
            Ok(answer) => {
                let has =
                    |f: fn(&stubborn::RData) -> bool| answer.records().iter().any(|r| f(&r.data));
                Outcome::from_families(
                    has(|d| matches!(d, stubborn::RData::A(_))),
                    has(|d| matches!(d, stubborn::RData::AAAA(_))),
                )
            }
            Err(e) if e.is_not_found() => Outcome::NotFound,
            Err(e) if e.is_timeout() => Outcome::Timeout,
            Err(_) => Outcome::Failed,
        }
    }

    fn own_counts(&self) -> Option<OwnCounts> {
        let mut c = OwnCounts::default();
        for s in self.resolver.server_stats() {
            c.queries += s.queries;
            c.resends += s.resends;
            c.unnecessary_resends += s.unnecessary_resends;
            c.lost += s.lost;
            c.ignored += s.ignored;
            c.udp_sockets += s.udp_sockets;
        }
        Some(c)
    }
}
