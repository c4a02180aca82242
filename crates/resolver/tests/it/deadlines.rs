//! Deadlines: a lookup returns by its deadline, whatever the network does.

use std::time::{Duration, Instant};

use stubborn::{Config, ErrorKind, LookupOptions, RecordType};

use crate::util::{closed_port, faultdns, resolver, timed};

/// Every server dropping: 200 concurrent lookups (search walk, A and AAAA, more attempts than
/// the deadline allows) each return a timeout within deadline + 100 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_all_return_by_the_deadline() {
    let a = faultdns(&["drop"]).await;
    let b = faultdns(&["drop"]).await;
    let deadline = Duration::from_millis(1500);
    let r = resolver(
        Config::new(vec![a.addr(), b.addr()])
            .with_search(vec!["in.our.internal.domain".into(), "example.com".into()])
            .with_timeout(Duration::from_millis(400))
            .with_attempts(10)
            .with_deadline(deadline)
            .with_hosts_file(None),
    );
    let start = Instant::now();
    // One task per lookup (the test spawns; the library never does).
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let r = r.clone();
            tokio::spawn(async move { timed(r.lookup_ip(&format!("host{i}.example.org"))).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("lookup task"));
    }
    let total = start.elapsed();
    for (result, elapsed) in &results {
        let e = result.as_ref().expect_err("every server drops");
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(!e.is_not_found());
        assert!(
            *elapsed >= deadline,
            "returned before the deadline: {elapsed:?}"
        );
        assert!(
            *elapsed < deadline + Duration::from_millis(100),
            "{elapsed:?}"
        );
    }
    // The whole batch, including starting 200 lookups on a busy 2-core machine.
    assert!(total < deadline + Duration::from_millis(300), "{total:?}");
}

/// A per-call deadline of 2 s overrides the configured 5 s: the lookup returns within 2.1 s.
#[tokio::test]
async fn per_call_deadline_is_kept() {
    let server = faultdns(&["drop"]).await;
    let r = resolver(Config::new(vec![server.addr()]).with_hosts_file(None));
    let options = LookupOptions::new().with_deadline(Duration::from_secs(2));
    let (result, elapsed) = timed(r.lookup_ip_with("www.example.com", &options)).await;
    let e = result.expect_err("dropped");
    assert!(e.is_timeout(), "{e}");
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2100), "{elapsed:?}");
    assert!(e.elapsed() >= Duration::from_secs(2) && e.elapsed() < Duration::from_millis(2100));
    let last = e.trace()[0].queries.last().expect("attempts");
    assert_eq!(last.result, stubborn::QueryResult::Deadline);
}

/// The deadline also bounds TCP (a truncated reply, then a TCP server that never answers)
/// and a walk of many candidates.
#[tokio::test]
async fn deadline_bounds_tcp_and_the_walk() {
    let server = faultdns(&["truncate proto=udp", "drop proto=tcp"]).await;
    let r = resolver(
        Config::new(vec![server.addr()])
            .with_deadline(Duration::from_millis(600))
            .with_hosts_file(None),
    );
    let (result, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    assert!(result.expect_err("tcp dropped").is_timeout());
    assert!(elapsed < Duration::from_millis(700), "{elapsed:?}");
    // Many search domains, all NXDOMAIN except that every query is slow: the walk stops at
    // the deadline with a timeout, not with NXDOMAIN for the candidates it got through.
    let slow = faultdns(&["answer delay=150ms"]).await;
    let search: Vec<String> = (0..20).map(|i| format!("d{i}.example.com")).collect();
    let r = resolver(
        Config::new(vec![slow.addr()])
            .with_search(search)
            .with_ndots(2)
            .with_deadline(Duration::from_millis(500))
            .with_hosts_file(None),
    );
    let (result, elapsed) = timed(r.lookup("nosuch", RecordType::A)).await;
    let e = result.expect_err("deadline");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(!e.is_not_found());
    assert!(elapsed < Duration::from_millis(600), "{elapsed:?}");
    assert!(e.trace().len() < 21);
    // A closed port on the only server: fails fast with a network error, far before it.
    let r = resolver(Config::new(vec![closed_port()]).with_hosts_file(None));
    let (result, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    assert_eq!(result.expect_err("closed").kind(), ErrorKind::Network);
    assert!(elapsed < Duration::from_millis(100));
}
