//! The resolvers compared: one enum, so every scenario drives each peer through the same code.
//!
//! Every peer resolves a name to its addresses, A and AAAA together (what an application
//! calling `getaddrinfo(AF_UNSPEC)` or `lookup_ip` gets), against the one loopback server it is
//! given, with caches off and no search list, so each lookup costs the same two queries.

mod cares;
mod glibc;
mod hickory;
mod stubborn;

use std::{fmt, net::SocketAddr, path::Path, time::Duration};

use serde::{Deserialize, Serialize};

/// Which resolver, configured how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PeerKind {
    /// stubborn with its defaults (1 s per attempt, 5 attempts, 5 s deadline), cache and
    /// coalescing off like the other peers' caches.
    Stubborn,
    /// hickory-resolver with its defaults (5 s timeout, 2 attempts), cache off.
    HickoryDefault,
    /// hickory-resolver tuned to stubborn's defaults: 1 s timeout, 5 tries, cache off.
    HickoryTuned,
    /// c-ares (vendored, through `c-ares-resolver`) with its defaults (2 s, 3 tries), cache off.
    CAres,
    /// glibc getaddrinfo on a thread pool, resolver state overridden to timeout 1, attempts 5.
    GlibcTuned,
    /// glibc getaddrinfo on a thread pool with glibc's defaults (timeout 5, attempts 2).
    GlibcDefault,
    /// stubborn exactly as a service gets it: cache and coalescing on (every name here is
    /// unique, so this measures what they cost, not what they save). Throughput at c=64 and
    /// memory only.
    StubbornDefaults,
}

impl PeerKind {
    /// Every peer, in table order (stubborn first: the ratios are stubborn/peer).
    pub const ALL: [PeerKind; 7] = [
        PeerKind::Stubborn,
        PeerKind::HickoryDefault,
        PeerKind::HickoryTuned,
        PeerKind::CAres,
        PeerKind::GlibcTuned,
        PeerKind::GlibcDefault,
        PeerKind::StubbornDefaults,
    ];

    /// Short label used in tables and on the command line.
    pub fn label(self) -> &'static str {
        match self {
            PeerKind::Stubborn => "stubborn",
            PeerKind::HickoryDefault => "hickory-default",
            PeerKind::HickoryTuned => "hickory-tuned",
            PeerKind::CAres => "c-ares",
            PeerKind::GlibcTuned => "glibc-tuned",
            PeerKind::GlibcDefault => "glibc-default",
            PeerKind::StubbornDefaults => "stubborn-defaults",
        }
    }

    /// The longest a lookup may take by this peer's own configuration when the server never
    /// answers: the deadline for stubborn, otherwise the sum of its per-try timeouts. A lookup
    /// still running past this has overrun.
    pub fn nominal_bound(self) -> Duration {
        match self {
            // The overall deadline (docs/semantics.md, 1.5), whatever the attempts add up to.
            PeerKind::Stubborn | PeerKind::StubbornDefaults => Duration::from_secs(5),
            // RetryDnsHandle sends once and retries `attempts` more times, each with `timeout`.
            PeerKind::HickoryDefault => hickory::DEFAULT_TIMEOUT * (hickory::DEFAULT_ATTEMPTS + 1),
            PeerKind::HickoryTuned => hickory::TUNED_TIMEOUT * (hickory::TUNED_ATTEMPTS + 1),
            // c-ares doubles the timeout each round over the servers: 2 + 4 + 8 s at most.
            PeerKind::CAres => cares::worst_case(),
            // glibc with one server waits `timeout` per attempt, A and AAAA in parallel.
            PeerKind::GlibcTuned => glibc::TUNED.timeout * glibc::TUNED.attempts,
            PeerKind::GlibcDefault => glibc::DEFAULTS.timeout * glibc::DEFAULTS.attempts,
        }
    }

    /// Whether this peer resolves on blocking threads (one per lookup in flight).
    pub fn uses_threads(self) -> bool {
        matches!(self, PeerKind::GlibcTuned | PeerKind::GlibcDefault)
    }
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How one lookup ended, in the classes every peer can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Addresses of both families (every name asked has an A and an AAAA record).
    Answer,
    /// Addresses of one family only: the other family's query was given up on.
    Partial,
    /// The resolver said the name does not exist or has no addresses. Every name asked in the
    /// benchmark exists, so each of these is a spurious NXDOMAIN.
    NotFound,
    /// The resolver gave up for lack of replies.
    Timeout,
    /// Any other failure.
    Failed,
}

impl Outcome {
    /// The outcome of a successful call that returned addresses of these families.
    pub fn from_families(v4: bool, v6: bool) -> Outcome {
        match (v4, v6) {
            (true, true) => Outcome::Answer,
            (false, false) => Outcome::NotFound,
            _ => Outcome::Partial,
        }
    }
}

/// What a peer needs to know to be built.
#[derive(Clone, Debug)]
pub struct Setup<'a> {
    /// The loopback server every query goes to.
    pub server: SocketAddr,
    /// A resolv.conf the peer parses where it can (cold start measures this parse). It names
    /// the server's address; the port, which resolv.conf cannot carry, is set from `server`.
    pub resolv_conf: &'a Path,
    /// Threads for thread-based peers: the lookups that will be in flight (at most 1,024).
    pub threads: usize,
}

/// A built resolver of one kind.
pub enum Peer {
    /// stubborn.
    Stubborn(stubborn::Peer),
    /// hickory-resolver.
    Hickory(Box<hickory::Peer>),
    /// c-ares.
    CAres(cares::Peer),
    /// glibc getaddrinfo.
    Glibc(glibc::Peer),
}

impl Peer {
    /// Build a peer of `kind`. Must run inside a tokio runtime.
    pub fn build(kind: PeerKind, setup: &Setup<'_>) -> anyhow::Result<Peer> {
        Ok(match kind {
            PeerKind::Stubborn => Peer::Stubborn(stubborn::Peer::new(setup, false)?),
            PeerKind::StubbornDefaults => Peer::Stubborn(stubborn::Peer::new(setup, true)?),
            PeerKind::HickoryDefault => Peer::Hickory(Box::new(hickory::Peer::new(setup, false)?)),
            PeerKind::HickoryTuned => Peer::Hickory(Box::new(hickory::Peer::new(setup, true)?)),
            PeerKind::CAres => Peer::CAres(cares::Peer::new(setup)?),
            PeerKind::GlibcTuned => Peer::Glibc(glibc::Peer::new(setup, glibc::TUNED)?),
            PeerKind::GlibcDefault => Peer::Glibc(glibc::Peer::new(setup, glibc::DEFAULTS)?),
        })
    }
}

/// What the load drivers need from a peer. Generic rather than an enum method, so a task
/// holding a lookup is exactly as large as that peer's own future: the memory scenario
/// measures the peer, not the largest of all peers' futures.
pub trait Resolve: Send + Sync + 'static {
    /// Resolve `name` (absolute, with the final dot) to its addresses.
    ///
    /// Cancel safety: dropping the future abandons the lookup as the peer allows (stubborn and
    /// hickory close the sockets at once; c-ares and glibc finish it in the background).
    fn lookup(&self, name: &str) -> impl Future<Output = Outcome> + Send;

    /// What the peer counted itself, where it tells (stubborn's per-server counters).
    fn own_counts(&self) -> Option<OwnCounts> {
        None
    }
}

/// A peer's own counters over its whole life in the worker (warm-up included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnCounts {
    /// Queries sent.
    pub queries: u64,
    /// Queries that re-sent a question before its attempt ended.
    pub resends: u64,
    /// Re-sends found unnecessary (the earlier query was answered too).
    pub unnecessary_resends: u64,
    /// Queries never answered while the peer listened.
    pub lost: u64,
    /// Datagrams ignored (wrong ID, wrong question, ...).
    pub ignored: u64,
    /// UDP sockets open at the end.
    pub udp_sockets: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_follow_each_configuration() {
        assert_eq!(PeerKind::Stubborn.nominal_bound(), Duration::from_secs(5));
        assert_eq!(
            PeerKind::HickoryTuned.nominal_bound(),
            Duration::from_secs(5)
        );
        assert_eq!(
            PeerKind::HickoryDefault.nominal_bound(),
            Duration::from_secs(15)
        );
        assert_eq!(PeerKind::CAres.nominal_bound(), Duration::from_secs(14));
        assert_eq!(PeerKind::GlibcTuned.nominal_bound(), Duration::from_secs(5));
        assert_eq!(
            PeerKind::GlibcDefault.nominal_bound(),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn one_family_is_a_partial_answer() {
        assert_eq!(Outcome::from_families(true, true), Outcome::Answer);
        assert_eq!(Outcome::from_families(true, false), Outcome::Partial);
        assert_eq!(Outcome::from_families(false, true), Outcome::Partial);
        assert_eq!(Outcome::from_families(false, false), Outcome::NotFound);
    }

    #[test]
    fn labels_are_unique() {
        let mut labels: Vec<_> = PeerKind::ALL.iter().map(|k| k.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), PeerKind::ALL.len());
    }
}
