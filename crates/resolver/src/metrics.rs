//! What a service scrapes: cache counters ([`CacheStats`], from
//! [`Resolver::cache_stats`](crate::Resolver::cache_stats)), the per-server counters of
//! [`ServerStats`](crate::ServerStats), and, with the `metrics` feature, the same events through
//! the [`metrics`](https://docs.rs/metrics) facade, for whatever exporter the service installed
//! (Prometheus, StatsD, ...).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::trace::{QueryResult, QueryTrace};

/// Cache and coalescing counters of a resolver (shared by its clones, kept across
/// configuration reloads), from [`Resolver::cache_stats`](crate::Resolver::cache_stats).
///
/// Counted per question: a `lookup_ip` asks two (A and AAAA) per candidate name.
///
/// Names emitted with the `metrics` feature (counters end in `_total`, durations in seconds):
///
/// | name | kind | labels | what |
/// |---|---|---|---|
/// | `stubborn_cache_hits_total` | counter | `kind` = `answer`, `negative` | questions answered from the cache within their TTL |
/// | `stubborn_cache_misses_total` | counter | | questions the cache could not answer (asked) |
/// | `stubborn_cache_stale_answers_total` | counter | | expired answers served (RFC 8767) |
/// | `stubborn_cache_remembered_failures_total` | counter | | failures reported from memory (RFC 9520) |
/// | `stubborn_coalesced_total` | counter | | questions that joined an identical one in flight |
/// | `stubborn_queries_total` | counter | `server` | queries sent, re-sends included |
/// | `stubborn_resends_total` | counter | `server` | re-sends inside an attempt |
/// | `stubborn_query_timeouts_total` | counter | `server` | queries whose attempt ended without a reply |
/// | `stubborn_query_duration_seconds` | histogram | `server` | time from a query to its reply |
/// | `stubborn_lookups_total` | counter | `result` = `answer`, `nxdomain`, `nodata`, `timeout`, ... | lookups ended |
/// | `stubborn_lookup_duration_seconds` | histogram | | lookup time, cache hits included |
///
/// Query events are emitted when their question settles, from its trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Questions answered with records from the cache, within their TTL.
    pub hits: u64,
    /// Questions answered NXDOMAIN or NODATA from the cache, within their TTL (RFC 2308).
    pub negative_hits: u64,
    /// Questions the cache could not answer, so they were asked.
    pub misses: u64,
    /// Expired answers served because asking again failed or took too long (RFC 8767).
    pub stale_answers: u64,
    /// Failures reported from memory instead of asking again (RFC 9520).
    pub remembered_failures: u64,
    /// Questions that joined an identical question already in flight instead of sending.
    pub coalesced: u64,
    /// Entries held now (approximate).
    pub entries: u64,
    /// Bytes held now, as the byte bound counts them (each entry at least
    /// `max_bytes / max_entries`).
    pub bytes: u64,
}

/// What the cache did for one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheEvent {
    Hit,
    NegativeHit,
    Miss,
    Stale,
    Remembered,
}

/// The counters, shared by a resolver's clones and configuration generations.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    hits: AtomicU64,
    negative_hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    remembered: AtomicU64,
    coalesced: AtomicU64,
}

impl Metrics {
    pub(crate) fn cache(&self, event: CacheEvent) {
        let counter = match event {
            CacheEvent::Hit => &self.hits,
            CacheEvent::NegativeHit => &self.negative_hits,
            CacheEvent::Miss => &self.misses,
            CacheEvent::Stale => &self.stale,
            CacheEvent::Remembered => &self.remembered,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        match event {
            CacheEvent::Hit => {
                metrics::counter!("stubborn_cache_hits_total", "kind" => "answer").increment(1)
            }
            CacheEvent::NegativeHit => {
                metrics::counter!("stubborn_cache_hits_total", "kind" => "negative").increment(1)
            }
            CacheEvent::Miss => metrics::counter!("stubborn_cache_misses_total").increment(1),
            CacheEvent::Stale => {
                metrics::counter!("stubborn_cache_stale_answers_total").increment(1)
            }
            CacheEvent::Remembered => {
                metrics::counter!("stubborn_cache_remembered_failures_total").increment(1)
            }
        }
    }

    pub(crate) fn coalesced(&self) {
        self.coalesced.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("stubborn_coalesced_total").increment(1);
    }

    /// The queries of a settled question (per-server counters live in `ServerStats`; this
    /// only feeds the facade).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn queries(&self, queries: &[QueryTrace]) {
        #[cfg(feature = "metrics")]
        for query in queries {
            let server = query.server.to_string();
            metrics::counter!("stubborn_queries_total", "server" => server.clone()).increment(1);
            if query.resend {
                metrics::counter!("stubborn_resends_total", "server" => server.clone())
                    .increment(1);
            }
            if let Some(latency) = reply_latency(query) {
                metrics::histogram!("stubborn_query_duration_seconds", "server" => server)
                    .record(latency.as_secs_f64());
            } else if matches!(query.result, QueryResult::Timeout | QueryResult::Deadline) {
                metrics::counter!("stubborn_query_timeouts_total", "server" => server).increment(1);
            }
        }
    }

    /// A lookup ended with `result` (`answer` or an error kind) after `elapsed`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn lookup(&self, result: &'static str, elapsed: Duration) {
        #[cfg(feature = "metrics")]
        {
            metrics::counter!("stubborn_lookups_total", "result" => result).increment(1);
            metrics::histogram!("stubborn_lookup_duration_seconds").record(elapsed.as_secs_f64());
        }
    }

    /// The counters, with the cache's size filled in by the caller.
    pub(crate) fn snapshot(&self) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&self.hits),
            negative_hits: get(&self.negative_hits),
            misses: get(&self.misses),
            stale_answers: get(&self.stale),
            remembered_failures: get(&self.remembered),
            coalesced: get(&self.coalesced),
            entries: 0,
            bytes: 0,
        }
    }
}

/// The time from a query to its reply, if one came (any reply a server sent).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) fn reply_latency(query: &QueryTrace) -> Option<Duration> {
    let replied = matches!(
        query.result,
        QueryResult::Answer
            | QueryResult::NoData
            | QueryResult::NxDomain
            | QueryResult::ServFail
            | QueryResult::Refused
            | QueryResult::NotImp
            | QueryResult::FormErr
            | QueryResult::Lame
            | QueryResult::Truncated
            | QueryResult::Malformed
    );
    replied.then(|| query.finished_at.saturating_sub(query.sent_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Transport;
    use hickory_proto::rr::RecordType;

    fn query(result: QueryResult) -> QueryTrace {
        QueryTrace {
            server: "127.0.0.1:53".parse().unwrap(),
            record_type: RecordType::A,
            transport: Transport::Udp,
            id: 1,
            attempt: 0,
            resend: false,
            result,
            ignored: 0,
            sent_at: Duration::from_millis(10),
            finished_at: Duration::from_millis(13),
        }
    }

    #[test]
    fn latency_only_for_replies() {
        assert_eq!(
            reply_latency(&query(QueryResult::Answer)),
            Some(Duration::from_millis(3))
        );
        assert_eq!(
            reply_latency(&query(QueryResult::ServFail)),
            Some(Duration::from_millis(3))
        );
        assert_eq!(reply_latency(&query(QueryResult::Timeout)), None);
        assert_eq!(reply_latency(&query(QueryResult::Unanswered)), None);
    }

    #[test]
    fn counters_count() {
        let m = Metrics::default();
        for event in [
            CacheEvent::Hit,
            CacheEvent::Hit,
            CacheEvent::NegativeHit,
            CacheEvent::Miss,
            CacheEvent::Stale,
            CacheEvent::Remembered,
        ] {
            m.cache(event);
        }
        m.coalesced();
        let s = m.snapshot();
        assert_eq!(
            (s.hits, s.negative_hits, s.misses, s.stale_answers),
            (2, 1, 1, 1)
        );
        assert_eq!((s.remembered_failures, s.coalesced), (1, 1));
    }
}
