//! `Answer`: the records a lookup returned, with the name that answered and how it got there.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::rr::{Name, RData, Record};

use crate::trace::{CacheState, CandidateTrace};

/// A successful lookup: the records, the candidate name that answered, its canonical name.
///
/// Check [`name`](Answer::name) when a search list is configured: it is the fully qualified
/// name that answered, which may be the name asked plus a search domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub(crate) name: Name,
    pub(crate) canonical: Name,
    pub(crate) records: Vec<Record>,
    pub(crate) chain: Vec<Record>,
    pub(crate) server: Option<SocketAddr>,
    pub(crate) elapsed: Duration,
    pub(crate) trace: Vec<CandidateTrace>,
}

impl Answer {
    /// The candidate (fully qualified) name that answered.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The name at the end of the CNAME chain (equal to [`name`](Self::name) without a chain).
    pub fn canonical_name(&self) -> &Name {
        &self.canonical
    }

    /// The records of the asked type at the canonical name, with their TTLs (for `lookup_ip`:
    /// A and AAAA records in RFC 6724 destination order, the order to try them in). Records
    /// from the cache carry the TTL left; records served stale carry 30 s (RFC 8767).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The CNAME records followed from the name to the canonical name, in order.
    pub fn cname_chain(&self) -> &[Record] {
        &self.chain
    }

    /// The addresses in A and AAAA records, in record order (for `lookup_ip`: RFC 6724 order,
    /// the order to connect in).
    pub fn ips(&self) -> Vec<IpAddr> {
        self.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect()
    }

    /// The names in PTR records (the result of a reverse lookup).
    pub fn hostnames(&self) -> Vec<Name> {
        self.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(ptr) => Some(ptr.0.clone()),
                _ => None,
            })
            .collect()
    }

    /// The smallest TTL among the records and the CNAME chain, in seconds (`None` without
    /// records). Hosts-file answers have TTL 0.
    pub fn min_ttl(&self) -> Option<u32> {
        self.records.iter().chain(&self.chain).map(|r| r.ttl).min()
    }

    /// The server whose reply this is; `None` for an answer that did not come from DNS.
    pub fn server(&self) -> Option<SocketAddr> {
        self.server
    }

    /// Whether the answer came without DNS: from the hosts file, or because the name asked was
    /// an IP address literal (`lookup_ip("192.0.2.1")` answers that address, as getaddrinfo).
    pub fn is_local(&self) -> bool {
        self.server.is_none()
    }

    /// Whether some of the records were served stale: past their TTL, because asking again
    /// failed (timeout, SERVFAIL, REFUSED, network) or took longer than the stale-answer wait
    /// (RFC 8767). They are records the name really had; a newer reply always replaces them.
    pub fn is_stale(&self) -> bool {
        self.trace
            .last()
            .is_some_and(|t| t.cache.iter().any(|u| u.state == CacheState::Stale))
    }

    /// Whether the cache gave the whole answer: no query was sent for the name that answered.
    pub fn is_cached(&self) -> bool {
        self.trace
            .last()
            .is_some_and(|t| t.queries.is_empty() && !t.cache.is_empty())
    }

    /// Time from the start of the lookup to the answer.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// One entry per candidate tried, in order; the last one answered. For `lookup_ip`, a family
    /// that failed while the other answered shows here.
    pub fn trace(&self) -> &[CandidateTrace] {
        &self.trace
    }
}
