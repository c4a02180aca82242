//! Lookups of every shape against faultdns: record types, CNAME chains, reverse, hosts file,
//! A/AAAA merging, rotation.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use stubborn::{ErrorKind, Outcome, QueryResult, RData, RecordType};

use crate::util::{config, faultdns, resolver};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sorted(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    ips.sort();
    ips
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn lookup_ip_merges_both_families() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![server.addr()]));
    let answer = r.lookup_ip("www.example.com").await.expect("answer");
    assert_eq!(answer.name().to_string(), "www.example.com.");
    // Both families, in RFC 6724 order (which depends on this host's routes).
    assert_eq!(sorted(answer.ips()), [ip("192.0.2.10"), ip("2001:db8::10")]);
    assert_eq!(answer.min_ttl(), Some(60));
    assert!(!answer.is_local());
    // Only an A record: the AAAA NODATA does not hide it.
    let answer = r.lookup_ip("v4only.example.com").await.expect("answer");
    assert_eq!(answer.ips(), [ip("192.0.2.11")]);
}

/// One family failing while the other answers is an answer; the failure is in the trace.
/// The lost family gets its whole attempt budget: no family is given up because the other
/// answered.
#[tokio::test]
async fn one_family_failing_is_still_an_answer() {
    let server = faultdns(&["drop qtype=AAAA"]).await;
    let r = resolver(config(vec![server.addr()]));
    let (answer, elapsed) = crate::util::timed(r.lookup_ip("www.example.com")).await;
    let answer = answer.expect("the A answer");
    assert_eq!(answer.ips(), [ip("192.0.2.10")]);
    // 3 attempts x 250 ms for AAAA.
    assert!(elapsed >= Duration::from_millis(740), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1300), "{elapsed:?}");
    let aaaa: Vec<QueryResult> = answer.trace()[0]
        .queries
        .iter()
        .filter(|a| a.record_type == RecordType::AAAA)
        .map(|a| a.result)
        .collect();
    assert!(!aaaa.is_empty());
    assert!(aaaa.iter().all(|r| *r == QueryResult::Timeout), "{aaaa:?}");
    assert_eq!(answer.trace()[0].attempts(), 3);
    assert_eq!(answer.trace()[0].outcome, Outcome::Answer);
}

#[tokio::test]
async fn cname_chains_and_other_types() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![server.addr()]));
    let answer = r
        .lookup("alias.example.com", RecordType::A)
        .await
        .expect("answer");
    assert_eq!(answer.name().to_string(), "alias.example.com.");
    assert_eq!(answer.canonical_name().to_string(), "www.example.com.");
    assert_eq!(answer.cname_chain().len(), 1);
    assert_eq!(answer.ips(), [ip("192.0.2.10")]);
    assert_eq!(answer.min_ttl(), Some(30));
    let mx = r.lookup("example.com", RecordType::MX).await.expect("mx");
    assert!(matches!(&mx.records()[0].data, RData::MX(m) if m.preference == 10));
    let txt = r.lookup("example.com", RecordType::TXT).await.expect("txt");
    assert_eq!(txt.records()[0].data.to_string(), "v=spf1 -all");
    let srv = r
        .lookup("_dns._udp.example.com", RecordType::SRV)
        .await
        .expect("srv");
    assert!(matches!(&srv.records()[0].data, RData::SRV(s) if s.port == 53));
    let cname = r
        .lookup("alias.example.com", RecordType::CNAME)
        .await
        .expect("cname");
    assert!(matches!(&cname.records()[0].data, RData::CNAME(_)));
}

#[tokio::test]
async fn reverse_lookup() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![server.addr()]));
    let answer = r.reverse(ip("192.0.2.10")).await.expect("ptr");
    assert_eq!(answer.hostnames()[0].to_string(), "www.example.com.");
    let e = r.reverse(ip("192.0.2.200")).await.expect_err("no ptr");
    assert_eq!(e.kind(), ErrorKind::NxDomain);
}

/// The hosts file answers first, without a query; AAAA asked of a v4-only entry goes to DNS.
#[tokio::test]
async fn hosts_file_answers_first() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![server.addr()]).with_hosts_file(Some(fixture("hosts"))));
    let answer = r.lookup_ip("db.fixture.test").await.expect("from hosts");
    assert!(answer.is_local());
    assert_eq!(sorted(answer.ips()), [ip("192.0.2.50"), ip("2001:db8::50")]);
    let answer = r.lookup_ip("DB").await.expect("alias, any case");
    assert_eq!(answer.canonical_name().to_string(), "db.fixture.test.");
    let answer = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect("dns");
    assert!(!answer.is_local());
    let answer = r
        .reverse(ip("192.0.2.50"))
        .await
        .expect("reverse from hosts");
    assert_eq!(answer.hostnames()[0].to_string(), "db.fixture.test.");
    assert_eq!(
        server.counters().queries,
        1,
        "only www.example.com went to DNS"
    );
}

#[tokio::test]
async fn single_request_and_rotate() {
    let a = faultdns(&[]).await;
    let b = faultdns(&[]).await;
    let r = resolver(
        config(vec![a.addr(), b.addr()])
            .with_single_request(true)
            .with_rotate(true),
    );
    for _ in 0..4 {
        let answer = r.lookup_ip("www.example.com").await.expect("answer");
        let attempts = &answer.trace()[0].queries;
        assert_eq!(attempts.len(), 2);
        assert!(
            attempts[1].sent_at >= attempts[0].finished_at,
            "A then AAAA: {attempts:?}"
        );
    }
    let stats = r.server_stats();
    assert_eq!(stats[0].queries, 4);
    assert_eq!(stats[1].queries, 4);
}

/// An address literal is its own answer, without a query (as getaddrinfo's numeric hosts).
#[tokio::test]
async fn address_literals_answer_themselves() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![server.addr()]));
    let answer = r.lookup_ip("192.0.2.7").await.expect("literal");
    assert!(answer.is_local());
    assert_eq!(answer.ips(), [ip("192.0.2.7")]);
    let answer = r
        .lookup("2001:db8::7", RecordType::AAAA)
        .await
        .expect("literal");
    assert_eq!(answer.ips(), [ip("2001:db8::7")]);
    assert_eq!(server.counters().queries, 0);
}

#[tokio::test]
async fn invalid_names_send_nothing() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![server.addr()]));
    for bad in [
        "",
        "a..b",
        "has space.example",
        &format!("{}.com", "x".repeat(64)),
    ] {
        let e = r.lookup_ip(bad).await.expect_err("invalid");
        assert_eq!(e.kind(), ErrorKind::InvalidName, "{bad:?}");
        assert!(!e.is_not_found() && !e.is_temporary());
    }
    assert_eq!(server.counters().queries, 0);
}

/// IPv6 transport: a server on ::1.
#[tokio::test]
async fn ipv6_server() {
    let server = faultdns::Server::builder()
        .zone(crate::util::ZONE)
        .expect("zone")
        .listen("[::1]:0".parse().unwrap())
        .start()
        .await;
    let Ok(server) = server else {
        // No IPv6 loopback in this environment (CI requires it: STUBBORN_REQUIRE_ALL).
        assert!(
            std::env::var_os("STUBBORN_REQUIRE_ALL").is_none(),
            "no IPv6 loopback"
        );
        return;
    };
    let r = resolver(config(vec![server.addr()]));
    let answer = r
        .lookup_ip("www.example.com")
        .await
        .expect("answer over IPv6");
    assert_eq!(answer.ips().len(), 2);
    assert_eq!(answer.server(), Some(server.addr()));
}
