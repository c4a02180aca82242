//! `Resolver`: the public handle (cheap to clone, shared across tasks) and its lookup methods.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;
use tracing::{Instrument, info_span};

use crate::answer::Answer;
use crate::cache::Cache;
use crate::coalesce::Flights;
use crate::config::{Config, MAX_DEADLINE, MIN_DEADLINE, SearchPolicy};
use crate::error::Error;
use crate::hosts::Hosts;
use crate::lookup::{Ask, Call, Inner, literal_answer};
use crate::metrics::{CacheStats, Metrics};
use crate::policy::exchange::Settings;
use crate::policy::servers::{ServerStats, Servers};
use crate::sort::Sorter;
use crate::system::Watch;
use crate::transport::Limits;

/// Per-call overrides for [`Resolver::lookup_with`], [`Resolver::lookup_ip_with`] and
/// [`Resolver::reverse_with`].
///
/// ```
/// use std::time::Duration;
/// let options = stubborn::LookupOptions::new().with_deadline(Duration::from_secs(2));
/// assert_eq!(options.deadline(), Some(Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupOptions {
    deadline: Option<Duration>,
    search_policy: Option<SearchPolicy>,
    resolution_delay: Option<Duration>,
}

impl LookupOptions {
    /// No overrides: the resolver's configuration applies.
    pub fn new() -> Self {
        LookupOptions::default()
    }

    /// Overrides the overall deadline of this lookup (search walk included). Bounds as
    /// [`Config::with_deadline`]: 10 ms..=300 s, values outside clamp.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline.clamp(MIN_DEADLINE, MAX_DEADLINE));
        self
    }

    /// Overrides the search policy of this lookup.
    pub fn with_search_policy(mut self, policy: SearchPolicy) -> Self {
        self.search_policy = Some(policy);
        self
    }

    /// Lets [`lookup_ip`](Resolver::lookup_ip) return before both families are settled, for
    /// connectors that race addresses (RFC 8305 §3): as soon as AAAA has answered, or `delay`
    /// after A has answered (RFC 8305 recommends 50 ms). The family still unsettled is left
    /// out of the answer (its queries show in the trace as unanswered). Off by default: both
    /// families are asked to the end. Bounds 0..=1 s; values above clamp.
    pub fn with_resolution_delay(mut self, delay: Duration) -> Self {
        self.resolution_delay = Some(delay.min(Duration::from_secs(1)));
        self
    }

    /// The resolution delay, if one was set.
    pub fn resolution_delay(&self) -> Option<Duration> {
        self.resolution_delay
    }

    /// The deadline override, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The search policy override, if any.
    pub fn search_policy(&self) -> Option<SearchPolicy> {
        self.search_policy
    }
}

/// A stub resolver: asks the configured recursive servers, walks the search list under the iron
/// rule, and returns by its deadline.
///
/// Cheap to clone (an `Arc` inside); clones share server health, counters, the cache and
/// questions in flight. `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Resolver {
    shared: Arc<Shared>,
}

/// What a resolver's clones share: the configuration in force (replaced when its files
/// change), and what outlives a configuration: the cache, the counters, the address sorter.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The configuration the resolver was built from.
    initial: Config,
    pub(crate) current: RwLock<Arc<Inner>>,
    pub(crate) cache: Option<Arc<Cache>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sorter: Arc<Sorter>,
    /// The files followed, for a configuration with a reload interval.
    pub(crate) watch: Option<Watch>,
}

/// Validates `config` and builds the state of a resolver for it. A new configuration takes
/// over from `previous` the servers (health, latency model, counters) and their sockets when
/// the server list and the settings behind them are the same.
pub(crate) fn build_inner(
    config: Config,
    hosts: Hosts,
    shared: (&Option<Arc<Cache>>, &Arc<Metrics>, &Arc<Sorter>),
    previous: Option<&Inner>,
) -> Result<Inner, Error> {
    if config.servers.is_empty() {
        return Err(Error::Config {
            setting: "servers",
            reason: "no name servers configured".to_string(),
        });
    }
    if let Some(bad) = config.servers.iter().find(|s| s.port() == 0) {
        return Err(Error::Config {
            setting: "servers",
            reason: format!("{bad} has port 0"),
        });
    }
    let mut search = Vec::with_capacity(config.search.len());
    for domain in &config.search {
        let trimmed = domain.trim_end_matches('.');
        let parsed = Name::from_utf8(trimmed).map_err(|e| Error::Config {
            setting: "search",
            reason: format!("{domain:?} is not a domain name: {e}"),
        })?;
        let mut parsed = parsed;
        parsed.set_fqdn(true);
        if trimmed.is_empty() || parsed.is_root() {
            continue;
        }
        search.push(parsed);
    }
    let settings = Settings {
        timeout: config.timeout,
        attempts: config.attempts,
        edns: config.edns_payload,
        tcp_only: config.use_tcp,
    };
    let limits = Limits {
        per_server: config.udp_sockets_per_server,
        queries_per_socket: config.udp_queries_per_socket,
        max_sockets: config.max_udp_sockets,
    };
    let same_servers = |p: &Inner| {
        p.config.servers == config.servers
            && p.config.rotate == config.rotate
            && p.config.timeout == config.timeout
            && p.limits == limits
    };
    let (servers, transports) = match previous {
        Some(previous) if same_servers(previous) => {
            let transports = previous
                .transports
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            (previous.servers.clone(), transports)
        }
        _ => (
            Arc::new(Servers::new(&config.servers, config.rotate, config.timeout)),
            Vec::new(),
        ),
    };
    let (cache, metrics, sorter) = shared;
    Ok(Inner {
        config,
        search,
        servers,
        hosts,
        settings,
        limits,
        transports: std::sync::Mutex::new(transports),
        cache: cache.clone(),
        flights: Arc::new(Flights::default()),
        metrics: metrics.clone(),
        sorter: sorter.clone(),
    })
}

impl Resolver {
    /// Builds a resolver from `config`, reading the hosts file if one is configured (once,
    /// synchronously: build resolvers at start-up and clone them, rather than per request).
    /// With a [reload interval](Config::with_reload_interval) (as [`Config::system`] sets),
    /// the resolver follows changes of its resolv.conf and hosts file.
    ///
    /// Fails with [`ErrorKind::Config`](crate::ErrorKind::Config) when there is no server, a
    /// server has port 0, or a search domain is not a valid name.
    pub fn new(config: Config) -> Result<Resolver, Error> {
        let cache = config.cache.clone().map(|c| Arc::new(Cache::new(c)));
        let metrics = Arc::new(Metrics::default());
        let sorter = Arc::new(Sorter::default());
        let watch = Watch::new(&config);
        let hosts = match &config.hosts_file {
            Some(path) => Hosts::load(path),
            None => Hosts::default(),
        };
        let inner = build_inner(config.clone(), hosts, (&cache, &metrics, &sorter), None)?;
        Ok(Resolver {
            shared: Arc::new(Shared {
                initial: config,
                current: RwLock::new(Arc::new(inner)),
                cache,
                metrics,
                sorter,
                watch,
            }),
        })
    }

    /// The configuration this resolver was built from.
    pub fn config(&self) -> &Config {
        &self.shared.initial
    }

    /// The configuration in force: the one the resolver was built from, or the latest one read
    /// from its changed files (see [`Config::with_reload_interval`]).
    pub fn current_config(&self) -> Config {
        self.shared.inner().config.clone()
    }

    /// Counters per configured server (of the configuration in force), in configured order.
    pub fn server_stats(&self) -> Vec<ServerStats> {
        self.shared.inner().servers.stats()
    }

    /// Cache and coalescing counters, with the cache's size now (all zero with the cache off,
    /// but for coalescing).
    pub fn cache_stats(&self) -> CacheStats {
        let mut stats = self.shared.metrics.snapshot();
        if let Some(cache) = &self.shared.cache {
            stats.entries = cache.entry_count();
            stats.bytes = cache.weighted_size();
        }
        stats
    }

    /// The IPv4 and IPv6 addresses of `name`: A and AAAA asked concurrently for each candidate
    /// (one after the other with `single-request`), merged. One family failing while the other
    /// answers is an answer (the failure is in [`Answer::trace`]); once one family has answered,
    /// the other gets one more per-attempt timeout, not the rest of the deadline. A candidate
    /// counts as not found only if both families got NXDOMAIN/NODATA. An IP address literal
    /// answers itself without a query.
    ///
    /// Returns by the configured deadline. The hosts file is consulted first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future closes its sockets at once, and it has no background
    /// task. Server counters keep what was already counted.
    pub async fn lookup_ip(&self, name: &str) -> Result<Answer, Error> {
        self.run(name, Ask::Ip, &LookupOptions::default()).await
    }

    /// [`lookup_ip`](Self::lookup_ip) with per-call overrides (e.g. a shorter deadline).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`lookup_ip`](Self::lookup_ip).
    pub async fn lookup_ip_with(
        &self,
        name: &str,
        options: &LookupOptions,
    ) -> Result<Answer, Error> {
        self.run(name, Ask::Ip, options).await
    }

    /// The records of `record_type` for `name` (any type: SRV, TXT, MX, PTR, CNAME...), CNAME
    /// chains in the reply followed. Returns by the configured deadline. The hosts file is
    /// consulted first for A and AAAA.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future closes its sockets at once, and it has no background
    /// task.
    pub async fn lookup(&self, name: &str, record_type: RecordType) -> Result<Answer, Error> {
        self.run(name, Ask::Type(record_type), &LookupOptions::default())
            .await
    }

    /// [`lookup`](Self::lookup) with per-call overrides (e.g. a shorter deadline).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`lookup`](Self::lookup).
    pub async fn lookup_with(
        &self,
        name: &str,
        record_type: RecordType,
        options: &LookupOptions,
    ) -> Result<Answer, Error> {
        self.run(name, Ask::Type(record_type), options).await
    }

    /// The names of `ip` (PTR records of its `in-addr.arpa.`/`ip6.arpa.` name; the hosts file
    /// first). Use [`Answer::hostnames`] on the result.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future closes its sockets at once, and it has no background
    /// task.
    pub async fn reverse(&self, ip: IpAddr) -> Result<Answer, Error> {
        self.reverse_with(ip, &LookupOptions::default()).await
    }

    /// [`reverse`](Self::reverse) with per-call overrides (e.g. a shorter deadline).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`reverse`](Self::reverse).
    pub async fn reverse_with(&self, ip: IpAddr, options: &LookupOptions) -> Result<Answer, Error> {
        let start = Instant::now();
        if let Some(answer) = self.shared.inner().reverse_from_hosts(ip, start) {
            return Ok(answer);
        }
        let name = Name::from(ip);
        self.run(&name.to_string(), Ask::Type(RecordType::PTR), options)
            .await
    }

    async fn run(&self, asked: &str, ask: Ask, options: &LookupOptions) -> Result<Answer, Error> {
        let start = Instant::now();
        if let Some(answer) = literal_answer(asked, ask, start) {
            return Ok(answer);
        }
        let inner = self.shared.inner();
        // The name is needed only to make the candidate list: it is not kept while the lookup
        // waits.
        let list = {
            let name = parse_name(asked)?;
            if let Some(answer) = inner.hosts_answer(&name, ask, start) {
                return Ok(answer);
            }
            inner.candidates(&name)
        };
        let call = Call {
            start,
            deadline: start + options.deadline.unwrap_or(inner.config.deadline),
            policy: options.search_policy.unwrap_or(inner.config.search_policy),
            resolution_delay: options.resolution_delay,
        };
        let span = match ask {
            Ask::Ip => info_span!("lookup", name = asked, rtype = "A+AAAA"),
            Ask::Type(t) => info_span!("lookup", name = asked, rtype = %t),
        };
        inner.lookup(asked, list, ask, &call).instrument(span).await
    }
}

/// Parses a name as given by a caller (UTF-8 names through IDNA).
fn parse_name(asked: &str) -> Result<Name, Error> {
    let invalid = |reason: String| Error::InvalidName {
        name: asked.to_string(),
        reason,
    };
    if asked.is_empty() {
        return Err(invalid("empty name".to_string()));
    }
    if asked.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "contains whitespace or control characters".to_string(),
        ));
    }
    // ASCII names skip IDNA processing (the common case, and the costly part of parsing).
    let parsed = if asked.is_ascii() {
        Name::from_ascii(asked)
    } else {
        Name::from_utf8(asked)
    };
    let name = parsed.map_err(|e| invalid(e.to_string()))?;
    if name.is_root() {
        return Err(invalid(
            "the root name has no addresses to look up".to_string(),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn names_are_validated() {
        assert!(parse_name("www.example.com").is_ok());
        assert!(parse_name("www.example.com.").unwrap().is_fqdn());
        assert!(!parse_name("myservice").unwrap().is_fqdn());
        assert!(parse_name("bücher.example").is_ok());
        for bad in [
            "",
            " ",
            "a b",
            "a..b",
            ".",
            &"a".repeat(64),
            &"a.".repeat(130),
        ] {
            let e = parse_name(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidName, "{bad:?}");
            assert!(e.to_string().starts_with("invalid name"), "{e}");
        }
    }

    #[test]
    fn config_errors() {
        let e = Resolver::new(Config::new(vec![])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(
            e.to_string(),
            "invalid configuration: servers: no name servers configured"
        );
        let e = Resolver::new(Config::new(vec!["127.0.0.1:0".parse().unwrap()])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let config = Config::new(vec!["127.0.0.1:53".parse().unwrap()])
            .with_hosts_file(None)
            .with_search(vec!["bad..domain".into()]);
        assert_eq!(Resolver::new(config).unwrap_err().kind(), ErrorKind::Config);
    }

    #[test]
    fn resolver_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Resolver>();
        check::<Config>();
        check::<Answer>();
        fn error<T: std::error::Error + Send + Sync + 'static>() {}
        error::<Error>();
    }

    #[test]
    fn lookup_futures_are_send() {
        fn check<F: std::future::Future + Send>(_: F) {}
        let config = Config::new(vec!["127.0.0.1:53".parse().unwrap()]).with_hosts_file(None);
        let r = Resolver::new(config).unwrap();
        check(r.lookup_ip("x"));
        check(r.lookup("x", RecordType::MX));
        // A task holding a lookup holds this much: it counts in the memory per lookup in
        // flight, so it must not creep up (936 bytes when last measured, in a debug build).
        let size = std::mem::size_of_val(&r.lookup_ip("x"));
        assert!(size <= 1024, "{size} bytes");
        check(r.reverse("127.0.0.1".parse().unwrap()));
    }
}
