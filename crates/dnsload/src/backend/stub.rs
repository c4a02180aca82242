//! The `stub` backend: stubborn, configured by flags or a resolv.conf file.
//!
//! Classes come from [`stubborn::ErrorKind`] (no string matching); an answer is `wrong_name`
//! by the same search rule as the system backend, using the candidate that answered
//! ([`stubborn::Answer::name`]). By the iron rule this never happens, which is the point of
//! running both side by side.

use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::json;
use stubborn::{CandidateTrace, Config, ErrorKind, Resolver, Transport};

use super::{Backend, LookupFuture};
use crate::class::{Class, Outcome, QueryCount, SearchRule};
use crate::error::{Error, Result};
use crate::plan::Plan;

/// Slack past the resolver's own deadline before dnsload calls a lookup `hung`.
const SLACK: Duration = Duration::from_secs(2);

/// stubborn's bounds for the settings dnsload passes it, as its `Config` setters document them
/// (`with_attempts`, `with_timeout`, `with_deadline`, `with_ndots`). The setters clamp a value
/// outside them, so a run would measure something else than its flags say: dnsload refuses
/// such flags instead. A test checks these against stubborn's own clamping.
pub(crate) mod bounds {
    use std::ops::RangeInclusive;
    use std::time::Duration;

    /// Attempts per candidate name.
    pub(crate) const ATTEMPTS: RangeInclusive<u32> = 1..=10;
    /// Per-attempt timeout.
    pub(crate) const TIMEOUT: RangeInclusive<Duration> =
        Duration::from_millis(10)..=Duration::from_secs(30);
    /// Overall deadline of one lookup.
    pub(crate) const DEADLINE: RangeInclusive<Duration> =
        Duration::from_millis(10)..=Duration::from_secs(300);
    /// Largest `ndots`.
    pub(crate) const MAX_NDOTS: u8 = 15;
}

/// Lookups through stubborn.
#[derive(Debug, Clone)]
pub struct StubBackend {
    resolver: Resolver,
    record_type: RecordType,
    rule: SearchRule,
}

impl StubBackend {
    /// A backend with the given resolver configuration.
    pub fn new(config: Config, record_type: RecordType) -> Result<Self> {
        let rule = SearchRule {
            search: config
                .search()
                .iter()
                .map(|s| s.trim_end_matches('.').to_string())
                .collect(),
            ndots: config.ndots(),
        };
        let resolver = Resolver::new(config).map_err(Error::Resolver)?;
        Ok(StubBackend {
            resolver,
            record_type,
            rule,
        })
    }

    /// The configuration a plan asks for: the file if given, then every flag over it.
    pub fn config_from_plan(plan: &Plan) -> Result<Config> {
        let r = &plan.resolver;
        // A plan built in code gets the same rule as one from flags.
        if r.servers.is_empty()
            && !r.system_config
            && r.resolv_conf
                .as_deref()
                .is_none_or(crate::plan::is_system_resolv_conf)
        {
            return Err(Error::SystemConfigNotAsked(
                "the stub backend with no server",
            ));
        }
        let mut config = match &r.resolv_conf {
            Some(path) => Config::from_resolv_conf(path).map_err(Error::Resolver)?,
            None => Config::new(r.servers.clone()),
        };
        if r.resolv_conf.is_some() && !r.servers.is_empty() {
            config = config.with_servers(r.servers.clone());
        }
        if let Some(search) = &r.search {
            config = config.with_search(search.clone());
        }
        if let Some(n) = r.ndots {
            config = config.with_ndots(n);
        }
        if let Some(t) = r.timeout {
            config = config.with_timeout(t);
        }
        if let Some(a) = r.attempts {
            let a = u8::try_from(a)
                .map_err(|_| Error::flag("--attempts", "at most 255 for the stub backend"))?;
            config = config.with_attempts(a);
        }
        // Every lookup goes to the network on its own, as with the other backends: dnsload
        // measures what loss does to each lookup, so neither a cache nor coalescing (which
        // would share one exchange, and its fate, among concurrent lookups of a name) applies.
        Ok(config
            .with_deadline(r.deadline)
            .with_cache(None)
            .with_coalescing(false))
    }

    /// The backend a plan asks for.
    pub fn from_plan(plan: &Plan) -> Result<Self> {
        StubBackend::new(Self::config_from_plan(plan)?, plan.record_type)
    }

    async fn run(&self, name: &str) -> Outcome {
        let start = Instant::now();
        let limit = self.resolver.config().deadline() + SLACK;
        let result =
            tokio::time::timeout(limit, self.resolver.lookup(name, self.record_type)).await;
        let elapsed = start.elapsed();
        match result {
            Err(_) => Outcome::new(Class::Hung, elapsed)
                .with_detail(format!("no result {limit:?} after the start")),
            Ok(Ok(answer)) => {
                let mut out = Outcome::new(Class::Ok, elapsed);
                out.addrs = answer.ips();
                out.answer_name = Some(answer.name().to_string());
                out.queries = Some(query_count(answer.trace()));
                self.rule.classify(name, out)
            }
            Ok(Err(e)) => {
                let class = match e.kind() {
                    ErrorKind::NxDomain => Class::Nxdomain,
                    ErrorKind::NoData => Class::Nodata,
                    ErrorKind::Timeout => Class::Timeout,
                    ErrorKind::ServFail => Class::Servfail,
                    ErrorKind::Refused => Class::Refused,
                    _ => Class::Error,
                };
                let mut out = Outcome::new(class, elapsed).with_detail(e.to_string());
                out.queries = Some(query_count(e.trace()));
                out
            }
        }
    }
}

/// What a lookup cost, from stubborn's per-candidate trace.
pub(crate) fn query_count(trace: &[CandidateTrace]) -> QueryCount {
    let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
    let mut count = QueryCount::default();
    for candidate in trace {
        count.add(&QueryCount {
            queries: n(candidate.queries.len()),
            candidates: 1,
            attempts: n(candidate.attempts()),
            resends: n(candidate.resends()),
            tcp: n(candidate
                .queries
                .iter()
                .filter(|q| q.transport == Transport::Tcp)
                .count()),
        });
    }
    count
}

impl Backend for StubBackend {
    fn name(&self) -> &'static str {
        "stub"
    }

    fn lookup<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
        Box::pin(self.run(name))
    }

    fn info(&self) -> serde_json::Value {
        let c = self.resolver.config();
        let stats: Vec<_> = self
            .resolver
            .server_stats()
            .iter()
            .map(|s| {
                json!({
                    "server": s.server.to_string(),
                    "queries": s.queries,
                    "answers": s.answers,
                    "timeouts": s.timeouts,
                    "ignored": s.ignored,
                    "servfails": s.servfails,
                    "refused": s.refused,
                    "network_errors": s.network_errors,
                })
            })
            .collect();
        json!({
            "config": {
                "servers": c.servers().iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "search": c.search(),
                "ndots": c.ndots(),
                "timeout_ms": c.timeout().as_secs_f64() * 1e3,
                "attempts": c.attempts(),
                "deadline_ms": c.deadline().as_secs_f64() * 1e3,
            },
            "servers": stats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    /// Each lookup of a run goes to the network on its own: no cache answers it and it shares
    /// no exchange with a concurrent lookup of the same name.
    #[test]
    fn every_lookup_asks_on_its_own() {
        let argv = [
            "dnsload",
            "run",
            "--server",
            "127.0.0.1",
            "--name",
            "a.test",
            "--count",
            "1",
        ];
        let Command::Run(run) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!()
        };
        let config = StubBackend::config_from_plan(&Plan::from_args(&run).unwrap()).unwrap();
        assert!(config.cache().is_none());
        assert!(!config.coalescing());
    }

    /// dnsload's copy of the bounds is stubborn's: probing its setters' clamping finds the same.
    #[test]
    fn bounds_are_stubborns() {
        let c = || Config::new(Vec::new());
        assert_eq!(
            u32::from(c().with_attempts(0).attempts()),
            *bounds::ATTEMPTS.start()
        );
        assert_eq!(
            u32::from(c().with_attempts(u8::MAX).attempts()),
            *bounds::ATTEMPTS.end()
        );
        assert_eq!(
            c().with_timeout(Duration::ZERO).timeout(),
            *bounds::TIMEOUT.start()
        );
        assert_eq!(
            c().with_timeout(Duration::MAX).timeout(),
            *bounds::TIMEOUT.end()
        );
        assert_eq!(
            c().with_deadline(Duration::ZERO).deadline(),
            *bounds::DEADLINE.start()
        );
        assert_eq!(
            c().with_deadline(Duration::MAX).deadline(),
            *bounds::DEADLINE.end()
        );
        assert_eq!(c().with_ndots(u8::MAX).ndots(), bounds::MAX_NDOTS);
    }
}
