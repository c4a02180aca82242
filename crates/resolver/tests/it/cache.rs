//! The cache against faultdns: hits, expiry, negative caching with the SOA minimum, no negative
//! from a timeout, remembered failures, serve-stale when the server stops answering. Expiry
//! needs real time here (the server answers from its own threads); the cache's clock logic is
//! tested with paused time in the crate's unit tests.

use std::net::IpAddr;
use std::time::Duration;

use stubborn::{CacheConfig, CacheState, Config, LookupOptions, Outcome, RecordType};

use crate::util::{faultdns, resolver, timed};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A cached config for `server` with short timers: 200 ms per attempt, 2 attempts.
fn cached(server: &faultdns::Server, cache: CacheConfig) -> Config {
    Config::new(vec![server.addr()])
        .with_timeout(Duration::from_millis(200))
        .with_attempts(2)
        .with_hosts_file(None)
        .with_cache(Some(cache))
}

fn rule(text: &str) -> faultdns::Rule {
    text.parse().expect("rule")
}

/// A zone whose negative answers last 1 s: SOA TTL 60, MINIMUM 1 (RFC 2308 takes the
/// smaller).
const SHORT_NEGATIVE: &str = "\
$ORIGIN neg.test.
@    60 IN SOA ns.neg.test. hostmaster.neg.test. 1 60 60 60 1
here 60 IN A 192.0.2.40
";

#[tokio::test]
async fn a_second_lookup_is_a_cache_hit() {
    let server = faultdns(&[]).await;
    let r = resolver(cached(&server, CacheConfig::new()));
    let first = r.lookup_ip("www.example.com").await.expect("answer");
    assert!(!first.is_cached());
    assert_eq!(server.queries_for("www.example.com"), 2, "A and AAAA");
    let (second, took) = timed(r.lookup_ip("www.example.com")).await;
    let second = second.expect("cached answer");
    assert!(second.is_cached() && !second.is_stale());
    assert_eq!(server.queries_for("www.example.com"), 2, "nothing sent");
    let mut a: Vec<IpAddr> = first.ips();
    let mut b: Vec<IpAddr> = second.ips();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(
        second.server(),
        Some(server.addr()),
        "the server that answered"
    );
    assert!(second.min_ttl().unwrap() <= 60);
    let cache = &second.trace()[0].cache;
    assert_eq!(cache.len(), 2);
    assert!(cache.iter().all(|u| u.state == CacheState::Fresh));
    assert!(took < Duration::from_millis(50), "{took:?}");
    let stats = r.cache_stats();
    assert_eq!((stats.hits, stats.misses), (2, 2));
    assert!(stats.entries >= 1 && stats.bytes > 0, "{stats:?}");
    // lookup() of one type shares the entries.
    let mx = r.lookup("example.com", RecordType::MX).await.expect("MX");
    assert!(!mx.is_cached());
    let aaaa = r
        .lookup("www.example.com", RecordType::AAAA)
        .await
        .expect("AAAA");
    assert!(aaaa.is_cached());
    assert_eq!(aaaa.ips(), [ip("2001:db8::10")]);
}

#[tokio::test]
async fn an_entry_expires_after_its_clamped_ttl() {
    let server = faultdns(&[]).await;
    // TTL 60 in the zone, clamped to 1 s.
    let cache = CacheConfig::new().with_ttl_bounds(Duration::ZERO, Duration::from_secs(1));
    let r = resolver(cached(&server, cache));
    r.lookup("www.example.com", RecordType::A)
        .await
        .expect("answer");
    let hit = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect("hit");
    assert!(hit.is_cached());
    assert_eq!(hit.records()[0].ttl, 1, "the TTL left");
    assert_eq!(server.queries_for("www.example.com"), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect("answer");
    assert!(!fresh.is_cached(), "expired: asked again");
    assert_eq!(server.queries_for("www.example.com"), 2);
}

#[tokio::test]
async fn nxdomain_and_nodata_are_cached_for_the_soa_minimum() {
    let server = faultdns::Server::builder()
        .zone(SHORT_NEGATIVE)
        .expect("zone")
        .start()
        .await
        .expect("faultdns");
    let r = resolver(cached(&server, CacheConfig::new()));
    let e = r
        .lookup("nope.neg.test.", RecordType::A)
        .await
        .expect_err("nxdomain");
    assert!(e.is_not_found());
    let e = r
        .lookup("nope.neg.test.", RecordType::A)
        .await
        .expect_err("cached");
    assert!(
        e.is_not_found(),
        "a cached NXDOMAIN is still a real NXDOMAIN: {e}"
    );
    assert_eq!(e.trace()[0].cache[0].state, CacheState::Fresh);
    assert!(e.trace()[0].queries.is_empty());
    assert_eq!(server.queries_for("nope.neg.test."), 1);
    // NODATA too.
    let e = r
        .lookup("here.neg.test.", RecordType::AAAA)
        .await
        .expect_err("nodata");
    assert_eq!(e.kind(), stubborn::ErrorKind::NoData);
    r.lookup("here.neg.test.", RecordType::AAAA)
        .await
        .expect_err("cached nodata");
    assert_eq!(server.queries_for("here.neg.test."), 1);
    assert_eq!(r.cache_stats().negative_hits, 2);
    // MINIMUM is 1 s: then asked again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    r.lookup("nope.neg.test.", RecordType::A)
        .await
        .expect_err("nxdomain");
    assert_eq!(server.queries_for("nope.neg.test."), 2);
}

/// A timeout is never cached as a negative: once the server answers again, so does the
/// resolver. A failure is remembered (1 s by default) and reported as the timeout it was.
#[tokio::test]
async fn a_timeout_is_retried_never_cached_as_not_found() {
    let server = faultdns(&["drop name=www.example.com."]).await;
    let r = resolver(cached(&server, CacheConfig::new()));
    let e = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect_err("timeout");
    assert!(e.is_timeout() && !e.is_not_found());
    let sent = server.queries_for("www.example.com");
    server.set_rules(vec![]);
    // Within the failure memory: the same timeout, from memory, nothing sent.
    let e = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect_err("remembered");
    assert!(
        e.is_timeout() && !e.is_not_found() && e.is_temporary(),
        "{e}"
    );
    assert_eq!(e.trace()[0].cache[0].state, CacheState::Failure);
    assert!(e.to_string().contains("remembered"), "{e}");
    assert_eq!(server.queries_for("www.example.com"), sent);
    assert_eq!(r.cache_stats().remembered_failures, 1);
    // After it: asked again, answered.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let answer = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect("answered");
    assert_eq!(answer.ips(), [ip("192.0.2.10")]);
    assert!(!answer.is_cached());
}

#[tokio::test]
async fn without_failure_memory_the_next_lookup_asks_at_once() {
    let server = faultdns(&["drop name=www.example.com."]).await;
    let r = resolver(cached(
        &server,
        CacheConfig::new().with_failure_memory(None),
    ));
    let e = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect_err("timeout");
    assert!(e.is_timeout());
    server.set_rules(vec![]);
    let answer = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect("asked again");
    assert_eq!(answer.ips(), [ip("192.0.2.10")]);
}

/// A lookup cut short by its own short deadline says nothing about the servers: not
/// remembered.
#[tokio::test]
async fn a_short_deadline_is_not_remembered() {
    let server = faultdns(&["drop name=www.example.com."]).await;
    let r = resolver(cached(&server, CacheConfig::new()));
    let short = LookupOptions::new().with_deadline(Duration::from_millis(50));
    let e = r
        .lookup_with("www.example.com", RecordType::A, &short)
        .await
        .expect_err("timeout");
    assert!(e.is_timeout());
    server.set_rules(vec![]);
    let answer = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect("asked again");
    assert!(!answer.is_cached());
}

/// Serve-stale: warm the cache, let the entry expire, then the server drops everything. The
/// lookup returns the expired answer, marked stale, with TTL 30, once refreshing fails.
#[tokio::test]
async fn serve_stale_when_the_server_stops_answering() {
    let server = faultdns(&[]).await;
    let cache = CacheConfig::new()
        .with_ttl_bounds(Duration::ZERO, Duration::from_secs(1))
        .with_serve_stale(Some(Duration::from_secs(3)))
        .with_stale_wait(Duration::from_secs(10));
    let r = resolver(cached(&server, cache));
    let warm = r.lookup_ip("www.example.com").await.expect("warm-up");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server.set_rules(vec![rule("drop")]);
    let (stale, took) = timed(r.lookup_ip("www.example.com")).await;
    let stale = stale.expect("the stale answer");
    assert!(stale.is_stale() && !stale.is_cached());
    assert_eq!(stale.ips(), warm.ips(), "what the name had");
    assert!(stale.records().iter().all(|r| r.ttl == 30));
    // It waited for the refresh to fail: 2 attempts of 200 ms per family.
    assert!(took >= Duration::from_millis(390), "{took:?}");
    let trace = &stale.trace()[0];
    assert_eq!(trace.outcome, Outcome::Answer);
    assert!(trace.cache.iter().all(|u| u.state == CacheState::Stale));
    assert!(!trace.queries.is_empty(), "the refresh's queries");
    // The refresh failed: remembered, so the next lookup gets the stale answer at once.
    let (again, took) = timed(r.lookup_ip("www.example.com")).await;
    assert!(again.expect("stale again").is_stale());
    assert!(took < Duration::from_millis(100), "{took:?}");
    assert!(r.cache_stats().stale_answers >= 4);
    // Past the stale limit (1 s TTL + 3 s): the failure itself.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let e = r.lookup_ip("www.example.com").await.expect_err("too stale");
    assert!(e.is_timeout() && !e.is_not_found());
}

/// With the stale-answer wait shorter than the refresh, the stale answer comes after the
/// wait; a name never answered has nothing stale to give.
#[tokio::test]
async fn a_slow_refresh_serves_stale_after_the_wait() {
    let server = faultdns(&[]).await;
    let cache = CacheConfig::new()
        .with_ttl_bounds(Duration::ZERO, Duration::from_secs(1))
        .with_stale_wait(Duration::from_millis(100));
    let r = resolver(cached(&server, cache));
    r.lookup("www.example.com", RecordType::A)
        .await
        .expect("warm-up");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server.set_rules(vec![rule("drop")]);
    let (stale, took) = timed(r.lookup("www.example.com", RecordType::A)).await;
    assert!(stale.expect("stale").is_stale());
    assert!(
        took >= Duration::from_millis(95) && took < Duration::from_millis(350),
        "{took:?}"
    );
    let e = r
        .lookup("v4only.example.com", RecordType::A)
        .await
        .expect_err("never answered");
    assert!(e.is_timeout());
}

/// NXDOMAIN replaces an answer: after it, nothing stale is served for the name.
#[tokio::test]
async fn nxdomain_ends_what_serve_stale_may_return() {
    let server = faultdns(&[]).await;
    // Negative answers not cached: the NXDOMAIN only replaces the answer.
    let cache = CacheConfig::new()
        .with_ttl_bounds(Duration::ZERO, Duration::from_secs(1))
        .with_max_negative_ttl(Duration::ZERO)
        .with_failure_memory(None);
    let r = resolver(cached(&server, cache));
    r.lookup("www.example.com", RecordType::A)
        .await
        .expect("warm-up");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server.set_rules(vec![rule("nxdomain name=www.example.com. first=1")]);
    let e = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect_err("nxdomain");
    assert!(e.is_not_found());
    server.set_rules(vec![rule("drop")]);
    let e = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect_err("no stale");
    assert!(e.is_timeout(), "{e}");
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let server = faultdns(&[]).await;
    let r = resolver(
        Config::new(vec![server.addr()])
            .with_hosts_file(None)
            .with_cache(None),
    );
    for _ in 0..3 {
        let answer = r
            .lookup("www.example.com", RecordType::A)
            .await
            .expect("answer");
        assert!(!answer.is_cached());
    }
    assert_eq!(server.queries_for("www.example.com"), 3);
    assert_eq!(r.cache_stats().entries, 0);
}
