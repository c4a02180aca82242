//! Recovery: retries, failover between servers, TCP fallback, late replies, EDNS fallback.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use stubborn::{Config, QueryResult, RecordType, Transport};

use crate::util::{Emit, Responder, bytes, closed_port, config, faultdns, reply, resolver, timed};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn results(answer_or_trace: &[stubborn::CandidateTrace]) -> Vec<QueryResult> {
    answer_or_trace
        .iter()
        .flat_map(|t| t.queries.iter().map(|a| a.result))
        .collect()
}

/// Two queries dropped, the third answered, all inside the first attempt: with no reply seen
/// yet the retransmission timeout starts at 300 ms and doubles after the loss, so the question
/// goes out at 0, 300 and 900 ms, well before the 1 s attempt would have ended.
#[tokio::test]
async fn resends_inside_the_attempt_recover_two_drops() {
    let server = faultdns(&["drop name=www.example.com. first=2"]).await;
    let r = resolver(
        Config::new(vec![server.addr()])
            .with_hosts_file(None)
            .with_cache(None),
    );
    let (answer, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    let answer = answer.expect("the third query answers");
    assert_eq!(answer.ips(), [ip("192.0.2.10")]);
    assert!(elapsed >= Duration::from_millis(890), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    use QueryResult::{Answer, Unanswered};
    assert_eq!(results(answer.trace()), [Unanswered, Unanswered, Answer]);
    let queries = &answer.trace()[0].queries;
    assert!(queries.iter().all(|q| q.attempt == 0));
    assert_eq!(
        queries.iter().map(|q| q.resend).collect::<Vec<_>>(),
        [false, true, true]
    );
    let stats = &r.server_stats()[0];
    assert_eq!((stats.timeouts, stats.resends, stats.answers), (0, 2, 1));
}

/// Once the server's latency is known (loopback: well under a millisecond), a lost query is
/// re-sent after the 10 ms floor of the retransmission timeout, not after the 1 s timeout.
#[tokio::test]
async fn a_warm_resolver_recovers_a_loss_in_milliseconds() {
    let server = faultdns(&[]).await;
    let r = resolver(
        Config::new(vec![server.addr()])
            .with_hosts_file(None)
            .with_cache(None),
    );
    for _ in 0..40 {
        r.lookup("www.example.com", RecordType::A)
            .await
            .expect("warm-up answers");
    }
    // Loopback replies take well under a millisecond: the RTO sits at or near its 10 ms
    // floor (a little above when a busy machine delays some replies by milliseconds).
    let rto = r.server_stats()[0].rto;
    assert!(
        rto >= Duration::from_millis(10) && rto < Duration::from_millis(100),
        "{rto:?}"
    );
    server.set_rules(vec![
        "drop name=www.example.com. first=1".parse().expect("rule"),
    ]);
    let (answer, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    let answer = answer.expect("the re-send answers");
    // 10 ms and a loopback round trip; generous for a busy machine.
    assert!(elapsed >= Duration::from_millis(10), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(300), "{elapsed:?}");
    let queries = &answer.trace()[0].queries;
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(queries[1].resend && queries[1].result == QueryResult::Answer);
    assert!(queries[1].sent_at - queries[0].sent_at >= Duration::from_millis(10));
}

/// Two servers, one dropping everything: every lookup succeeds, and once the dead server has
/// failed, lookups start at the healthy one.
#[tokio::test]
async fn one_dead_server_of_two_costs_one_timeout() {
    let dead = faultdns(&["drop"]).await;
    let alive = faultdns(&[]).await;
    let r = resolver(config(vec![dead.addr(), alive.addr()]));
    let mut slow = 0;
    for _ in 0..20 {
        let (answer, elapsed) = timed(r.lookup_ip("www.example.com")).await;
        let answer = answer.expect("every lookup succeeds");
        let mut ips = answer.ips();
        ips.sort();
        assert_eq!(ips, [ip("192.0.2.10"), ip("2001:db8::10")]);
        assert_eq!(answer.server(), Some(alive.addr()));
        if elapsed > Duration::from_millis(200) {
            slow += 1;
        }
    }
    assert_eq!(slow, 1, "only the first lookup waits for the dead server");
    let stats = r.server_stats();
    assert_eq!(stats[0].timeouts, 2, "A and AAAA of the first lookup");
    assert_eq!(stats[1].answers, 40);
}

/// A closed port (ICMP port unreachable) moves to the next server at once.
#[tokio::test]
async fn closed_port_fails_over_at_once() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![closed_port(), server.addr()]));
    let (answer, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    let answer = answer.expect("the second server answers");
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    use QueryResult::{Answer, ConnectionRefused};
    assert_eq!(results(answer.trace()), [ConnectionRefused, Answer]);
    assert_eq!(r.server_stats()[0].network_errors, 1);
    // With only a closed port, the lookup fails fast with a network error, not a timeout.
    let r = resolver(config(vec![closed_port()]));
    let (e, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    let e = e.expect_err("nothing listens");
    assert_eq!(e.kind(), stubborn::ErrorKind::Network);
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    assert!(
        e.to_string()
            .starts_with("connection refused resolving www.example.com."),
        "{e}"
    );
}

/// SERVFAIL from one server, an answer from the other.
#[tokio::test]
async fn servfail_moves_to_the_other_server() {
    let failing = faultdns(&["servfail"]).await;
    let good = faultdns(&[]).await;
    let r = resolver(config(vec![failing.addr(), good.addr()]));
    let (answer, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    let answer = answer.expect("the other server answers");
    assert_eq!(answer.server(), Some(good.addr()));
    assert!(elapsed < Duration::from_millis(200), "{elapsed:?}");
    use QueryResult::{Answer, ServFail};
    assert_eq!(results(answer.trace()), [ServFail, Answer]);
    // Only SERVFAIL: the error says so after all attempts.
    let r = resolver(config(vec![failing.addr()]));
    let e = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect_err("servfail");
    assert_eq!(e.kind(), stubborn::ErrorKind::ServFail);
    assert_eq!(results(e.trace()), [ServFail, ServFail, ServFail]);
    let refusing = faultdns(&["refused"]).await;
    let r = resolver(config(vec![refusing.addr()]));
    let e = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), stubborn::ErrorKind::Refused);
}

/// TC=1 over UDP: the same server is asked over TCP.
#[tokio::test]
async fn truncated_reply_is_retried_over_tcp() {
    let server = faultdns(&["truncate proto=udp"]).await;
    let r = resolver(config(vec![server.addr()]));
    let answer = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect("answer over TCP");
    assert_eq!(answer.ips(), [ip("192.0.2.10")]);
    let attempts = &answer.trace()[0].queries;
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (attempts[0].transport, attempts[0].result),
        (Transport::Udp, QueryResult::Truncated)
    );
    assert_eq!(
        (attempts[1].transport, attempts[1].result),
        (Transport::Tcp, QueryResult::Answer)
    );
    assert_eq!(r.server_stats()[0].tcp_fallbacks, 1);
    assert!(server.counters().tcp_connections >= 1);
}

/// `use-vc`: every query over TCP.
#[tokio::test]
async fn tcp_only_mode() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![server.addr()]).with_tcp_only(true));
    let answer = r
        .lookup_ip("www.example.com")
        .await
        .expect("answer over TCP");
    assert_eq!(answer.ips().len(), 2);
    assert!(
        answer.trace()[0]
            .queries
            .iter()
            .all(|a| a.transport == Transport::Tcp)
    );
}

/// A reply arriving after its attempt timed out, while a later attempt waits, is taken.
#[tokio::test]
async fn late_reply_to_an_earlier_attempt_is_accepted() {
    let server = faultdns(&["answer name=www.example.com. delay=400ms"]).await;
    let r = resolver(config(vec![server.addr()]));
    let (answer, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    let answer = answer.expect("late reply taken");
    // Attempt 1 at 0 ms (timeout 250 ms), attempt 2 at 250 ms; attempt 1's reply at ~400 ms.
    assert!(elapsed < Duration::from_millis(600), "{elapsed:?}");
    use QueryResult::{Answer, Unanswered};
    assert_eq!(results(answer.trace()), [Answer, Unanswered]);
    assert_eq!(r.server_stats()[0].timeouts, 1);
}

/// FORMERR to an EDNS query: asked again without EDNS, and the server is remembered.
#[tokio::test]
async fn formerr_to_edns_retries_without_edns() {
    let responder = Responder::start(|query, _| {
        if query.edns.is_some() {
            vec![Emit::Bytes(bytes(&reply(
                query,
                ResponseCode::FormErr,
                None,
            )))]
        } else {
            vec![Emit::Bytes(bytes(&reply(
                query,
                ResponseCode::NoError,
                Some([192, 0, 2, 99]),
            )))]
        }
    })
    .await;
    let r = resolver(config(vec![responder.addr]));
    let answer = r
        .lookup("old.example", RecordType::A)
        .await
        .expect("answer without EDNS");
    assert_eq!(answer.ips(), [ip("192.0.2.99")]);
    use QueryResult::{Answer, FormErr};
    assert_eq!(results(answer.trace()), [FormErr, Answer]);
    let answer = r
        .lookup("old.example", RecordType::A)
        .await
        .expect("answer");
    assert_eq!(
        results(answer.trace()),
        [Answer],
        "EDNS no longer sent to this server"
    );
}

/// Random loss of half the queries (seeded): lookups retry through it, and none of the few
/// that exhaust their attempts reports not-found.
#[tokio::test]
async fn random_loss_never_becomes_not_found() {
    let server = faultdns(&["drop name=www.example.com. p=0.5"]).await;
    let r = resolver(
        config(vec![server.addr()])
            .with_search(vec!["in.our.internal.domain".into()])
            .with_timeout(Duration::from_millis(40))
            .with_attempts(5),
    );
    // Concurrently, one task per lookup (the test spawns; the library never does).
    let lookups: Vec<_> = (0..100)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { r.lookup("www.example.com", RecordType::A).await })
        })
        .collect();
    let (mut ok, mut timeouts) = (0, 0);
    for lookup in lookups {
        match lookup.await.expect("task") {
            Ok(answer) => {
                assert_eq!(answer.name().to_string(), "www.example.com.");
                ok += 1;
            }
            Err(e) => {
                assert!(e.is_timeout() && !e.is_not_found(), "{e}");
                timeouts += 1;
            }
        }
    }
    // With p = 0.5 per query and 5 attempts, about 1 lookup in 32 exhausts them.
    assert!(ok >= 85, "{ok} answers, {timeouts} timeouts");
    assert_eq!(
        server.queries_for("www.example.com.in.our.internal.domain."),
        0
    );
}
