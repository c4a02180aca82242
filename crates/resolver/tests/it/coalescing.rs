//! Coalescing: identical lookups in flight share one query per question; a waiter dropped
//! does not cancel the others; the last one does.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use stubborn::{Config, Resolver};

use crate::util::faultdns;

/// A resolver without a cache (so only coalescing can save queries), 1 s per attempt.
fn uncached(server: &faultdns::Server) -> Resolver {
    let config = Config::new(vec![server.addr()])
        .with_hosts_file(None)
        .with_cache(None);
    Resolver::new(config).expect("valid")
}

type Lookup = Pin<Box<dyn Future<Output = Result<stubborn::Answer, stubborn::Error>> + Send>>;

/// 1,000 identical `lookup_ip` calls, each polled once: all are in flight together (the
/// first starts the questions, the others join them) before any reply is looked at.
async fn thousand_in_flight(r: &Resolver) -> Vec<Lookup> {
    let mut lookups: Vec<Lookup> = (0..1000)
        .map(|_| {
            let r = r.clone();
            Box::pin(async move { r.lookup_ip("www.example.com").await }) as Lookup
        })
        .collect();
    // `unconstrained`: a thousand polls in one go would exhaust tokio's cooperative budget.
    tokio::task::unconstrained(std::future::poll_fn(|cx| {
        for lookup in lookups.iter_mut() {
            assert!(
                lookup.as_mut().poll(cx).is_pending(),
                "the reply is held back"
            );
        }
        Poll::Ready(())
    }))
    .await;
    lookups
}

#[tokio::test]
async fn a_thousand_identical_lookups_send_one_a_and_one_aaaa() {
    let server = faultdns(&["answer delay=50ms"]).await;
    let r = uncached(&server);
    let lookups = thousand_in_flight(&r).await;
    for lookup in lookups {
        let answer = lookup.await.expect("answer");
        assert_eq!(answer.ips().len(), 2);
        assert!(!answer.trace()[0].queries.is_empty(), "the shared queries");
    }
    assert_eq!(
        server.queries_for("www.example.com"),
        2,
        "one A and one AAAA"
    );
    assert_eq!(r.cache_stats().coalesced, 2 * 999);
    // Another name, another question.
    r.lookup_ip("v4only.example.com").await.expect("answer");
    assert_eq!(server.queries_for("v4only.example.com"), 2);
}

#[tokio::test]
async fn dropping_999_waiters_leaves_the_last_one_answered() {
    let server = faultdns(&["answer delay=50ms"]).await;
    let r = uncached(&server);
    let mut lookups = thousand_in_flight(&r).await;
    let last = lookups.pop().expect("one");
    // The first 999, the one that started the questions among them, go away.
    drop(lookups);
    let answer = last.await.expect("the last waiter is answered");
    assert_eq!(answer.ips().len(), 2);
    assert_eq!(server.queries_for("www.example.com"), 2);
}

/// The same with tasks on a multi-thread runtime, aborted: the survivor is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_tasks_leave_the_survivor_answered() {
    let server = faultdns(&["answer delay=100ms"]).await;
    let r = uncached(&server);
    let mut handles = Vec::new();
    for _ in 0..100 {
        let r = r.clone();
        handles.push(tokio::spawn(
            async move { r.lookup_ip("www.example.com").await },
        ));
    }
    let last = handles.pop().expect("one");
    for handle in &handles {
        handle.abort();
    }
    for handle in handles {
        let _ = handle.await;
    }
    let answer = last.await.expect("task").expect("the survivor is answered");
    assert_eq!(answer.ips().len(), 2);
}

/// The last waiter dropped cancels the exchange: nothing left in flight, and the next lookup
/// asks again.
#[tokio::test]
async fn the_last_waiter_dropped_cancels() {
    let server = faultdns(&["drop name=www.example.com."]).await;
    let r = uncached(&server);
    let lookups: Vec<_> = (0..10)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { r.lookup_ip("www.example.com").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.queries_for("www.example.com"), 2);
    for lookup in &lookups {
        lookup.abort();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.set_rules(vec![]);
    let answer = r.lookup_ip("www.example.com").await.expect("asked afresh");
    assert_eq!(answer.ips().len(), 2);
    assert_eq!(server.queries_for("www.example.com"), 4);
}

/// Each waiter keeps its own deadline: a lookup with a short deadline does not wait for a
/// longer exchange in flight, nor cut it short for the others.
#[tokio::test]
async fn each_waiter_keeps_its_own_deadline() {
    let server = faultdns(&["drop name=www.example.com."]).await;
    let config = Config::new(vec![server.addr()])
        .with_hosts_file(None)
        .with_cache(None)
        .with_timeout(Duration::from_millis(200))
        .with_attempts(3);
    let r = Resolver::new(config).expect("valid");
    let long = {
        let r = r.clone();
        tokio::spawn(async move { crate::util::timed(r.lookup_ip("www.example.com")).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let short = stubborn::LookupOptions::new().with_deadline(Duration::from_millis(100));
    let (e, took) = crate::util::timed(r.lookup_ip_with("www.example.com", &short)).await;
    assert!(e.expect_err("timeout").is_timeout());
    assert!(took < Duration::from_millis(200), "{took:?}");
    let (e, took) = long.await.expect("task");
    assert!(e.expect_err("timeout").is_timeout());
    assert!(
        took >= Duration::from_millis(590),
        "all 3 attempts: {took:?}"
    );
}

/// With coalescing off, every lookup asks on its own: ten identical lookups in flight send
/// ten A and ten AAAA queries, and all are answered.
#[tokio::test]
async fn without_coalescing_every_lookup_asks_on_its_own() {
    let server = faultdns(&["answer delay=50ms"]).await;
    let config = Config::new(vec![server.addr()])
        .with_hosts_file(None)
        .with_cache(None)
        .with_coalescing(false);
    let r = Resolver::new(config).expect("valid");
    let lookups: Vec<_> = (0..10)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { r.lookup_ip("www.example.com").await })
        })
        .collect();
    for lookup in lookups {
        let answer = lookup.await.expect("task").expect("answer");
        assert_eq!(answer.ips().len(), 2);
    }
    assert_eq!(server.queries_for("www.example.com"), 20);
}
