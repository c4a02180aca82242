//! stubborn: a stub DNS resolver with true deadlines that never reports a timeout as NXDOMAIN.
//!
//! A lookup asks the configured recursive servers over UDP (TCP when a reply is truncated),
//! walks the search list, and returns an [`Answer`] or an [`Error`] you can act on.
//!
//! # Guarantees
//!
//! - **Deadline.** Every lookup returns by its overall deadline (default 5 s, per call with
//!   [`LookupOptions`]) plus scheduling slack, whatever the network does: retries, the search
//!   walk and TCP fallback all live inside it.
//! - **The iron rule.** The search walk moves to the next candidate name only after an
//!   NXDOMAIN or NODATA reply. After a failure (timeout, SERVFAIL, REFUSED, network error)
//!   it stops with that failure by default ([`SearchPolicy::StopOnFailure`]); the opt-in
//!   [`SearchPolicy::ContinueOnFailure`] walks on but still never reports not-found. So
//!   [`Error::is_not_found`] is true only if every candidate tried got an NXDOMAIN/NODATA reply:
//!   a lost packet can never become "no such host", and under the default policy not the
//!   address of another name either (the continue policy exists to take a later search
//!   name's answer after a failure, so it can).
//! - **Cancellation.** A lookup is one future, and nothing blocks. Dropping it removes its
//!   queries and timers at once (a question shared with other lookups in flight goes on for
//!   them, and ends with the last of them); the tasks that read the resolver's sockets belong
//!   to the resolver and end when its last clone is dropped.
//! - **Strict replies.** Each query gets a random ID from a CSPRNG, unique on its socket (one of
//!   a small, bounded pool of connected sockets per server on ephemeral ports, each retired
//!   after a bounded number of queries); a reply is taken only from the address and port asked,
//!   with QR=1, the same ID and the same question. Anything else is ignored and counted, and
//!   the query keeps waiting; a late reply to an earlier query of the same question is still
//!   taken.
//! - **The cache tells no lies.** It is filled only from accepted replies. A failure is never
//!   cached as NXDOMAIN or NODATA; a stale answer is one the name really had, served only when
//!   asking again failed and no newer reply replaced it.
//!
//! # Retries
//!
//! Each candidate name gets up to [`Config::attempts`] attempts (default 5) per record type,
//! each lasting up to [`Config::timeout`] (default 1 s); attempt `k` goes to server
//! `(start + k) mod n`, starting at the healthiest server. Inside an attempt the question is
//! sent again when the server's retransmission timeout, learnt from its reply latencies,
//! passes without a reply. A closed port (ICMP unreachable), SERVFAIL, REFUSED or NOTIMP moves
//! to the next server at once; TC=1 asks the same server over TCP; FORMERR to an EDNS query
//! asks again without EDNS. [`Resolver::lookup_ip`] asks A and AAAA with the full budget each
//! and waits for both (unless [`LookupOptions::with_resolution_delay`] says otherwise).
//!
//! # Configuration
//!
//! [`Config`] comes from code (`Config::new(servers)` and `with_*` setters, each documenting
//! its default, reason and bounds) or from a resolv.conf file read with glibc's semantics
//! ([`Config::from_resolv_conf`], [`Config::parse_resolv_conf`]); values a file leaves out take
//! our defaults (1 s, 5 attempts, 5 s deadline, ndots 1, EDNS0 with 1232 bytes), not glibc's.
//! The hosts file (`/etc/hosts` unless configured otherwise) answers first; an IP address
//! literal answers itself. [`Config::system`] reads the machine's resolv.conf and hosts file
//! leniently and a resolver built from it follows them when they change (checked at most every
//! 2 s); with no `nameserver` line it asks 127.0.0.1:53, as glibc, never a public resolver.
//!
//! # Cache and coalescing
//!
//! On by default ([`CacheConfig`], [`Config::with_cache`]): replies per candidate name and
//! record type, bounded by entries (8,192) and bytes (8 MiB). Answers live for their smallest
//! TTL clamped to 0 s..=1 day (a TTL-0 answer is not cached); NXDOMAIN and NODATA for the SOA
//! minimum of the reply (RFC 2308), at most 5 minutes. A failed question is remembered for 1 s
//! (RFC 9520) and reported again as the failure it was; a question cut short by a caller's
//! short deadline is not. When refreshing an expired answer fails, or takes longer than 1.8 s,
//! the expired answer is returned marked stale ([`Answer::is_stale`], RFC 8767), up to a day
//! past its TTL. Identical questions in flight share one exchange, driven by whichever waiting
//! lookup polls it: a lookup dropped does not cancel the others, the last one does.
//! [`Resolver::cache_stats`] counts hits, misses, stale answers and coalesced lookups.
//!
//! # Address order and HTTP clients
//!
//! [`Resolver::lookup_ip`] returns addresses in RFC 6724 destination order (source addresses
//! found by connecting UDP sockets, as glibc and Go do; nothing is sent). With the `reqwest`
//! feature a [`Resolver`] is a `reqwest::dns::Resolve` (reqwest 0.13); with `hyper-util` it is
//! the `tower_service::Service<Name>` that `HttpConnector::new_with_resolver` takes. Both give
//! port 0 and errors as [`std::io::Error`]s whose kind tells a timeout
//! ([`std::io::ErrorKind::TimedOut`]) from a name that does not exist
//! ([`std::io::ErrorKind::NotFound`]); [`Error::find`] gets the stubborn error back:
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let resolver = stubborn::Resolver::new(stubborn::Config::system()?)?;
//! let client = reqwest::Client::builder().dns_resolver(resolver).build()?;
//! # Ok(())
//! # }
//! ```
//!
//! With the `metrics` feature, cache, query and lookup events also go to the
//! [`metrics`](https://docs.rs/metrics) facade, for whatever exporter the service installed
//! (names listed on [`CacheStats`]).
//!
//! # Cancel safety
//!
//! Every lookup method is cancel safe: dropping its future (a `select!` losing, a task
//! aborted, a caller's own timeout) removes its queries from the resolver's sockets and drops
//! its timers at once; no task or blocking thread of its own is left behind. The sockets
//! belong to the resolver (a bounded pool per server, read by one task per socket) and close
//! when the last clone of the resolver is dropped.
//!
//! # Sockets and spoofing
//!
//! Queries go out over a pool of connected UDP sockets per server (by default 4 taking new
//! queries, each retired after 100 queries or a timeout, at most 256 in all:
//! [`Config::with_udp_sockets_per_server`], [`Config::with_udp_queries_per_socket`],
//! [`Config::with_max_udp_sockets`]). A blind forger must guess a query's ephemeral port
//! (about 14.8 bits in Linux's default range) and its 16-bit ID and carry its question; one who
//! learnt the pool's ports still has to guess which socket (2 bits with 4) and the ID, for at
//! most 100 queries before the port changes. More sockets per server trade descriptors for
//! entropy; fewer queries per socket shorten a learnt port's use.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), stubborn::Error> {
//! let config = stubborn::Config::new(vec!["127.0.0.1:53".parse().unwrap()])
//!     .with_search(vec!["corp.example".into()])
//!     .with_timeout(Duration::from_secs(1))
//!     .with_attempts(5)
//!     .with_deadline(Duration::from_secs(5));
//! let resolver = stubborn::Resolver::new(config)?;
//! match resolver.lookup_ip("cloudflare.com").await {
//!     Ok(answer) => println!("{} -> {:?}", answer.name(), answer.ips()),
//!     Err(e) if e.is_not_found() => println!("no such name: {e}"),
//!     Err(e) => println!("lookup failed ({}): {e}", e.kind()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The semantics in full (the search rules, the iron rule, deadlines, errors and how attempts
//! are made) are in the repository's `docs/semantics.md`.
//!
//! The public interface is the list below; hickory-proto types appear only where records do.
#![warn(missing_docs)]

mod answer;
mod cache;
mod coalesce;
mod config;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hosts;
mod integrations;
mod lookup;
mod metrics;
mod policy;
mod resolv_conf;
mod resolver;
mod sort;
mod system;
mod trace;
mod transport;
mod wire;

pub use answer::Answer;
pub use cache::CacheConfig;
pub use config::{Config, SearchPolicy};
pub use error::{Error, ErrorKind, Failure};
pub use metrics::CacheStats;
pub use policy::servers::ServerStats;
pub use resolver::{LookupOptions, Resolver};
pub use trace::{
    CacheState, CacheUse, CandidateTrace, FailureKind, Outcome, QueryResult, QueryTrace, Transport,
};

/// The hickory-proto types that appear in this crate's API: names, record types and records.
pub use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Query building and reply checks, shared with tools that send single queries themselves
/// (dnsload's `raw` backend), so that every query in the workspace is built and checked by the
/// same code. Not part of the supported API: it may change in any release.
#[doc(hidden)]
pub mod query {
    pub use crate::wire::{Check, Ignored, Question, build_query, check_reply, udp_limit};
}
