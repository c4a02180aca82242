//! `Config`: every knob of the resolver, with its default, the reason for it and its bounds.
//!
//! A `Config` is plain data. Setters clamp out-of-range values to the nearest bound (with a
//! `tracing` warning) rather than fail, so a config assembled from flags or a file always works;
//! the few things that cannot be clamped (no servers, a search domain that is not a name) are
//! rejected by [`Resolver::new`](crate::Resolver::new).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::warn;

use crate::cache::CacheConfig;

/// Default per-attempt timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Smallest per-attempt timeout: below this a loopback reply on a busy machine is lost.
pub(crate) const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// Largest per-attempt timeout: glibc's `RES_MAXRETRANS` (30 s).
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// Default attempts per candidate name.
pub(crate) const DEFAULT_ATTEMPTS: u8 = 5;
/// Largest attempts per candidate name (from code; resolv.conf is capped at glibc's 5).
pub(crate) const MAX_ATTEMPTS: u8 = 10;
/// Default overall deadline of one lookup.
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
/// Smallest overall deadline.
pub(crate) const MIN_DEADLINE: Duration = Duration::from_millis(10);
/// Largest overall deadline.
pub(crate) const MAX_DEADLINE: Duration = Duration::from_secs(300);
/// Default `ndots`.
pub(crate) const DEFAULT_NDOTS: u8 = 1;
/// Largest `ndots`: glibc's `RES_MAXNDOTS`.
pub(crate) const MAX_NDOTS: u8 = 15;
/// Default EDNS(0) UDP payload size: the DNS Flag Day 2020 value, which avoids IP fragmentation.
pub(crate) const DEFAULT_EDNS_PAYLOAD: u16 = 1232;
/// Smallest EDNS(0) payload size: the classic DNS limit (RFC 6891 §6.2.5).
pub(crate) const MIN_EDNS_PAYLOAD: u16 = 512;
/// Largest EDNS(0) payload size we advertise (RFC 6891 §6.2.5 recommends 4096 as a start).
pub(crate) const MAX_EDNS_PAYLOAD: u16 = 4096;
/// Default hosts file.
pub(crate) const DEFAULT_HOSTS_FILE: &str = "/etc/hosts";
/// Default UDP sockets per server taking new queries.
pub(crate) const DEFAULT_UDP_SOCKETS_PER_SERVER: usize = 4;
/// Most UDP sockets per server taking new queries.
pub(crate) const MAX_UDP_SOCKETS_PER_SERVER: usize = 64;
/// Default queries per UDP socket before it is retired.
pub(crate) const DEFAULT_UDP_QUERIES_PER_SOCKET: u32 = 100;
/// Default bound on the UDP sockets of one resolver.
pub(crate) const DEFAULT_MAX_UDP_SOCKETS: usize = 256;
/// Largest bound on the UDP sockets of one resolver.
pub(crate) const MAX_MAX_UDP_SOCKETS: usize = 4096;
/// Default interval between checks of the files a system configuration came from: a changed
/// resolv.conf is followed within 2 s, and the check (two `stat` calls) runs at most that
/// often, never per lookup.
pub(crate) const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(2);
/// Shortest reload interval.
pub(crate) const MIN_RELOAD_INTERVAL: Duration = Duration::from_millis(100);
/// Longest reload interval.
pub(crate) const MAX_RELOAD_INTERVAL: Duration = Duration::from_secs(3_600);

/// What the candidate walk does after a candidate name *failed* (timeout, SERVFAIL, REFUSED,
/// network error, malformed replies) rather than got NXDOMAIN/NODATA.
///
/// Under either policy a lookup never reports not-found once a candidate has failed: see the
/// crate documentation's "iron rule".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchPolicy {
    /// Stop at the first failed candidate and return that failure. The default: a failure says
    /// nothing about whether the name exists, so walking on can only produce a wrong answer
    /// (another name's address) or a false "no such name".
    #[default]
    StopOnFailure,
    /// Keep walking after a failure, for split-horizon setups where a later search domain is
    /// expected to answer. An answer from a later candidate is returned; if none answers, the
    /// error is the first failure's kind, never not-found.
    ContinueOnFailure,
}

/// The resolver's configuration: servers, search list and the retry and deadline budget.
///
/// Build it from code with [`Config::new`] and the `with_*` setters, or from a resolv.conf file
/// with [`Config::from_resolv_conf`] / [`Config::parse_resolv_conf`].
///
/// ```
/// use std::time::Duration;
/// let config = stubborn::Config::new(vec!["127.0.0.1:53".parse().unwrap()])
///     .with_search(vec!["example.com".into()])
///     .with_timeout(Duration::from_millis(500))
///     .with_attempts(3)
///     .with_deadline(Duration::from_secs(2))
///     .with_hosts_file(None);
/// assert_eq!(config.attempts(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub(crate) servers: Vec<SocketAddr>,
    pub(crate) search: Vec<String>,
    pub(crate) ndots: u8,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u8,
    pub(crate) deadline: Duration,
    pub(crate) rotate: bool,
    pub(crate) edns_payload: Option<u16>,
    pub(crate) use_tcp: bool,
    pub(crate) single_request: bool,
    pub(crate) hosts_file: Option<PathBuf>,
    pub(crate) search_policy: SearchPolicy,
    pub(crate) udp_sockets_per_server: usize,
    pub(crate) udp_queries_per_socket: u32,
    pub(crate) max_udp_sockets: usize,
    pub(crate) cache: Option<CacheConfig>,
    pub(crate) coalesce: bool,
    /// The resolv.conf this configuration was read from, if any.
    pub(crate) resolv_conf: Option<PathBuf>,
    pub(crate) reload_interval: Option<Duration>,
}

impl Config {
    /// A configuration asking `servers` (tried in this order, healthiest first), with every
    /// other setting at its default.
    ///
    /// An empty list is accepted here and rejected by [`Resolver::new`](crate::Resolver::new).
    pub fn new(servers: Vec<SocketAddr>) -> Self {
        Config {
            servers,
            search: Vec::new(),
            ndots: DEFAULT_NDOTS,
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            deadline: DEFAULT_DEADLINE,
            rotate: false,
            edns_payload: Some(DEFAULT_EDNS_PAYLOAD),
            use_tcp: false,
            single_request: false,
            hosts_file: Some(PathBuf::from(DEFAULT_HOSTS_FILE)),
            search_policy: SearchPolicy::StopOnFailure,
            udp_sockets_per_server: DEFAULT_UDP_SOCKETS_PER_SERVER,
            udp_queries_per_socket: DEFAULT_UDP_QUERIES_PER_SOCKET,
            max_udp_sockets: DEFAULT_MAX_UDP_SOCKETS,
            cache: Some(CacheConfig::new()),
            coalesce: true,
            resolv_conf: None,
            reload_interval: None,
        }
    }

    /// Replaces the name servers. No default (resolv.conf without a `nameserver` line gives
    /// `127.0.0.1:53`, as glibc). At least one is required by
    /// [`Resolver::new`](crate::Resolver::new); there is no upper bound from code.
    pub fn with_servers(mut self, servers: Vec<SocketAddr>) -> Self {
        self.servers = servers;
        self
    }

    /// Sets the search list: domains appended to names that are not absolute (see
    /// [`with_ndots`](Self::with_ndots) for the order). Defaults to empty. Each entry must be a
    /// valid domain name; a trailing dot is optional.
    pub fn with_search(mut self, search: Vec<String>) -> Self {
        self.search = search;
        self
    }

    /// Sets `ndots`: a name with at least this many dots is tried as-is before the search list,
    /// one with fewer after it (glibc order). Defaults to 1, so `cloudflare.com` is tried first
    /// as-is and `myservice` last. Bounds 0..=15 (glibc's `RES_MAXNDOTS`); larger values clamp
    /// to 15.
    pub fn with_ndots(mut self, ndots: u8) -> Self {
        self.ndots = clamp_warn("ndots", ndots, 0, MAX_NDOTS);
        self
    }

    /// Sets the per-attempt timeout: how long one attempt (the question asked of one server)
    /// lasts before the next attempt starts. Inside an attempt the question is sent again
    /// whenever the server's retransmission timeout (learnt from its reply latencies, floor
    /// 10 ms) passes without a reply; this timeout caps that, and earlier queries keep
    /// listening. Defaults to 1 s, far above a healthy resolver's round trip yet small enough
    /// to leave room for retries inside the deadline. Bounds 10 ms..=30 s (30 s is glibc's
    /// cap); values outside clamp.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = clamp_warn("timeout", timeout, MIN_TIMEOUT, MAX_TIMEOUT);
        self
    }

    /// Sets the attempts per candidate name, rotating over the servers. Defaults to 5, so a
    /// single lost packet (or two) is retried within the default 5 s deadline. Bounds 1..=10;
    /// values outside clamp.
    pub fn with_attempts(mut self, attempts: u8) -> Self {
        self.attempts = clamp_warn("attempts", attempts, 1, MAX_ATTEMPTS);
        self
    }

    /// Sets the overall deadline of one lookup, search walk, retries and TCP fallback included:
    /// a lookup returns by then whatever the network does. Defaults to 5 s (the per-attempt
    /// budget: 5 attempts x 1 s). Bounds 10 ms..=300 s; values outside clamp. A single call can
    /// override it with [`LookupOptions`](crate::LookupOptions).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = clamp_warn("deadline", deadline, MIN_DEADLINE, MAX_DEADLINE);
        self
    }

    /// Starts each lookup at the next server in round-robin order among the equally healthy
    /// ones, instead of the first (resolv.conf `options rotate`). Defaults to off: the first
    /// healthy server is asked first, so a healthy primary gets all the load.
    pub fn with_rotate(mut self, rotate: bool) -> Self {
        self.rotate = rotate;
        self
    }

    /// Sets the EDNS(0) UDP payload size advertised in queries, or `None` to send plain DNS
    /// queries. Defaults to 1232 bytes (DNS Flag Day 2020: no IP fragmentation). Bounds
    /// 512..=4096; values outside clamp. A server answering FORMERR to an EDNS query is asked
    /// again without EDNS.
    pub fn with_edns(mut self, payload: Option<u16>) -> Self {
        self.edns_payload =
            payload.map(|p| clamp_warn("edns payload", p, MIN_EDNS_PAYLOAD, MAX_EDNS_PAYLOAD));
        self
    }

    /// Sends every query over TCP instead of UDP (resolv.conf `options use-vc`). Defaults to
    /// off: UDP, with TCP only when a reply is truncated.
    pub fn with_tcp_only(mut self, tcp_only: bool) -> Self {
        self.use_tcp = tcp_only;
        self
    }

    /// Makes [`Resolver::lookup_ip`](crate::Resolver::lookup_ip) ask A and then AAAA one after
    /// the other instead of concurrently (resolv.conf `options single-request`, for middleboxes
    /// that drop one of two simultaneous queries). Defaults to off.
    pub fn with_single_request(mut self, single_request: bool) -> Self {
        self.single_request = single_request;
        self
    }

    /// Sets the hosts file consulted before DNS for address and reverse lookups, or `None` to
    /// skip it. Defaults to `/etc/hosts`. The file is read when the
    /// [`Resolver`](crate::Resolver) is built (and again when it changes, with a
    /// [reload interval](Self::with_reload_interval)); a missing file counts as empty.
    pub fn with_hosts_file(mut self, path: Option<PathBuf>) -> Self {
        self.hosts_file = path;
        self
    }

    /// Sets what the search walk does after a failed candidate. Defaults to
    /// [`SearchPolicy::StopOnFailure`].
    pub fn with_search_policy(mut self, policy: SearchPolicy) -> Self {
        self.search_policy = policy;
        self
    }

    /// Sets how many UDP sockets per server take new queries at once, each on its own
    /// OS-chosen ephemeral port. Defaults to 4: queries spread over several source ports at
    /// once (RFC 5452 §9.2), so a forger who learnt one port still has to guess which of them
    /// a query used, and a middlebox keyed on the 5-tuple (conntrack, NAT) sees several flows.
    /// More sockets mean more descriptors for a little more entropy. Bounds 1..=64; values
    /// outside clamp.
    pub fn with_udp_sockets_per_server(mut self, sockets: usize) -> Self {
        self.udp_sockets_per_server = clamp_warn(
            "udp sockets per server",
            sockets,
            1,
            MAX_UDP_SOCKETS_PER_SERVER,
        );
        self
    }

    /// Sets how many queries a UDP socket carries before it is retired (it takes no new
    /// queries and closes once its waiting queries end). Defaults to 100, as Istio configures
    /// c-ares: ports change every 100 queries, so a port an attacker learnt stays useful only
    /// that long, and a long-lived 5-tuple does not pin every query to one backend behind a
    /// conntrack-based load balancer. A socket is also retired when a query on it goes
    /// unanswered past its retransmission timeout. Bounds 1..=65535; values outside clamp.
    pub fn with_udp_queries_per_socket(mut self, queries: u32) -> Self {
        self.udp_queries_per_socket = clamp_warn("udp queries per socket", queries, 1, 65_535);
        self
    }

    /// Sets the most UDP sockets the resolver holds, retired ones still draining included,
    /// whatever the number of lookups in flight (a server with no socket may always open one,
    /// so the bound is at least the number of servers). Defaults to 256, a quarter of the
    /// common 1,024-descriptor soft limit. At the bound, queries reuse open sockets instead of
    /// retiring them. Bounds 1..=4096; values outside clamp.
    pub fn with_max_udp_sockets(mut self, sockets: usize) -> Self {
        self.max_udp_sockets = clamp_warn("max udp sockets", sockets, 1, MAX_MAX_UDP_SOCKETS);
        self
    }

    /// Sets the answer cache (see [`CacheConfig`]), or `None` to turn it off: every lookup
    /// then asks the servers (identical lookups in flight still share one query). Defaults to
    /// [`CacheConfig::new`].
    pub fn with_cache(mut self, cache: Option<CacheConfig>) -> Self {
        self.cache = cache;
        self
    }

    /// Makes identical questions in flight (the same candidate name and record type, from any
    /// lookups of this resolver) share one exchange with the servers, or, with `false`, asks
    /// every lookup's questions on its own. Defaults to on: a burst of lookups of one name sends
    /// one query per record type. Off saves the bookkeeping a shared question needs (about a
    /// kilobyte per lookup in flight) where names rarely repeat while in flight.
    pub fn with_coalescing(mut self, coalesce: bool) -> Self {
        self.coalesce = coalesce;
        self
    }

    /// Makes a resolver built from this configuration check, at most once per `interval`, whether
    /// its resolv.conf (for a configuration read from one) and its hosts file changed, and
    /// follow them: the next lookup after a change uses the new servers, search list, options
    /// and hosts. `None` reads them once. Defaults to 2 s for [`Config::system`] and
    /// [`Config::system_from`], `None` otherwise.
    ///
    /// The check costs two `stat` calls per interval, made by the first lookup after the
    /// interval has passed (no task, no system call per lookup); a changed file is read then,
    /// synchronously. A file that cannot be read, is larger than its limit (1 MiB for
    /// resolv.conf, 16 MiB for hosts) or holds binary garbage (NUL or other control bytes)
    /// leaves the last good configuration in force, with one warning per version of the file;
    /// a resolv.conf that disappears is treated the same way (it is usually being replaced).
    ///
    /// On a change, the fields a resolv.conf sets (servers, search list, `ndots`, `timeout`,
    /// `attempts`, `rotate`, `edns0`, `use-vc`, `single-request`) come from the new file, so
    /// setters applied to them after reading are replaced; the others (deadline, cache,
    /// socket limits, search policy, files) stay. When the servers change the cache is
    /// emptied. Bounds 100 ms..=1 h; values outside clamp.
    pub fn with_reload_interval(mut self, interval: Option<Duration>) -> Self {
        self.reload_interval = interval.map(|i| {
            clamp_warn(
                "reload interval",
                i,
                MIN_RELOAD_INTERVAL,
                MAX_RELOAD_INTERVAL,
            )
        });
        self
    }

    /// The answer cache's settings, `None` when it is off.
    pub fn cache(&self) -> Option<&CacheConfig> {
        self.cache.as_ref()
    }

    /// Whether identical questions in flight share one exchange.
    pub fn coalescing(&self) -> bool {
        self.coalesce
    }

    /// The resolv.conf this configuration was read from, if any.
    pub fn resolv_conf(&self) -> Option<&Path> {
        self.resolv_conf.as_deref()
    }

    /// How often a resolver checks its files for changes, `None` when it does not.
    pub fn reload_interval(&self) -> Option<Duration> {
        self.reload_interval
    }

    /// The name servers, in configured order.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// The search list, as configured.
    pub fn search(&self) -> &[String] {
        &self.search
    }

    /// The `ndots` threshold.
    pub fn ndots(&self) -> u8 {
        self.ndots
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Attempts per candidate name.
    pub fn attempts(&self) -> u8 {
        self.attempts
    }

    /// The overall deadline of one lookup.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Whether lookups start at a round-robin server.
    pub fn rotate(&self) -> bool {
        self.rotate
    }

    /// The advertised EDNS(0) payload size, `None` when EDNS is off.
    pub fn edns(&self) -> Option<u16> {
        self.edns_payload
    }

    /// Whether every query goes over TCP.
    pub fn tcp_only(&self) -> bool {
        self.use_tcp
    }

    /// Whether `lookup_ip` asks A and AAAA one after the other.
    pub fn single_request(&self) -> bool {
        self.single_request
    }

    /// The hosts file, if any.
    pub fn hosts_file(&self) -> Option<&Path> {
        self.hosts_file.as_deref()
    }

    /// The search policy.
    pub fn search_policy(&self) -> SearchPolicy {
        self.search_policy
    }

    /// UDP sockets per server taking new queries.
    pub fn udp_sockets_per_server(&self) -> usize {
        self.udp_sockets_per_server
    }

    /// Queries per UDP socket before it is retired.
    pub fn udp_queries_per_socket(&self) -> u32 {
        self.udp_queries_per_socket
    }

    /// The most UDP sockets the resolver holds.
    pub fn max_udp_sockets(&self) -> usize {
        self.max_udp_sockets
    }
}

/// Clamps `value` into `min..=max`, warning when it had to.
fn clamp_warn<T: PartialOrd + Copy + std::fmt::Debug>(what: &str, value: T, min: T, max: T) -> T {
    if value < min {
        warn!(
            setting = what,
            ?value,
            ?min,
            "value below the minimum, using the minimum"
        );
        min
    } else if value > max {
        warn!(
            setting = what,
            ?value,
            ?max,
            "value above the maximum, using the maximum"
        );
        max
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ours() {
        let c = Config::new(vec!["127.0.0.1:53".parse().unwrap()]);
        assert_eq!(c.timeout(), Duration::from_secs(1));
        assert_eq!(c.attempts(), 5);
        assert_eq!(c.deadline(), Duration::from_secs(5));
        assert_eq!(c.ndots(), 1);
        assert_eq!(c.edns(), Some(1232));
        assert_eq!(c.hosts_file(), Some(Path::new("/etc/hosts")));
        assert_eq!(c.search_policy(), SearchPolicy::StopOnFailure);
        assert!(!c.rotate() && !c.tcp_only() && !c.single_request());
    }

    #[test]
    fn setters_clamp_out_of_range_values() {
        let c = Config::new(vec![])
            .with_ndots(200)
            .with_timeout(Duration::from_millis(1))
            .with_attempts(0)
            .with_deadline(Duration::from_secs(10_000))
            .with_edns(Some(100));
        assert_eq!(c.ndots(), 15);
        assert_eq!(c.timeout(), MIN_TIMEOUT);
        assert_eq!(c.attempts(), 1);
        assert_eq!(c.deadline(), MAX_DEADLINE);
        assert_eq!(c.edns(), Some(512));
        let c = c
            .with_attempts(99)
            .with_timeout(Duration::from_secs(99))
            .with_edns(Some(65000));
        assert_eq!(c.attempts(), MAX_ATTEMPTS);
        assert_eq!(c.timeout(), MAX_TIMEOUT);
        assert_eq!(c.edns(), Some(4096));
    }
}
