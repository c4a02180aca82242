//! The socket pool: many lookups share a few sockets, each reply reaches the query it
//! answers, sockets are retired and bounded, forgeries by the hundred thousand are never
//! taken, and a resolver survives the runtime that first used it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use stubborn::{Config, RecordType, Resolver};

use crate::util::{Emit, Responder, bytes, reply, resolver};

/// A faultdns answering every name under `pool.test.` (A and AAAA).
async fn synthesizing() -> faultdns::Server {
    faultdns::Server::builder()
        .synthesize(
            "pool.test.",
            Ipv4Addr::new(192, 0, 2, 77),
            Some("2001:db8::77".parse().unwrap()),
        )
        .expect("suffix")
        .start()
        .await
        .expect("faultdns starts")
}

/// 10,000 concurrent `lookup_ip`s of distinct names over a handful of shared sockets: every
/// reply reaches the query it answers (a reply handed to the wrong query would fail its
/// question check and be counted as ignored), and the sockets stay within their bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_their_lookups_across_shared_sockets() {
    let server = synthesizing().await;
    let max_sockets = 64;
    let r = resolver(
        // Generous timers: 20,000 queries at once queue up in a debug build of the server on
        // a busy machine, and this test is about routing, not speed.
        Config::new(vec![server.addr()])
            .with_hosts_file(None)
            .with_timeout(Duration::from_secs(5))
            .with_deadline(Duration::from_secs(30))
            .with_max_udp_sockets(max_sockets),
    );
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let r = r.clone();
            tokio::spawn(async move {
                let name = format!("host-{i}.pool.test");
                (name.clone(), r.lookup_ip(&name).await)
            })
        })
        .collect();
    let mut peak_sockets = 0;
    for task in tasks {
        let (name, result) = task.await.expect("task");
        let answer = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(answer.name().to_string(), format!("{name}."));
        assert_eq!(answer.ips().len(), 2, "{name}: both families");
        peak_sockets = peak_sockets.max(r.server_stats()[0].udp_sockets);
    }
    let stats = &r.server_stats()[0];
    assert_eq!(
        stats.ignored, 0,
        "no datagram reached a query it did not answer"
    );
    assert!(stats.answers >= 20_000, "{stats:?}");
    assert!(
        peak_sockets as usize <= max_sockets,
        "{peak_sockets} sockets"
    );
    eprintln!(
        "10,000 lookups: {} queries, {} re-sends, at most {peak_sockets} sockets seen",
        stats.queries, stats.resends
    );
}

/// A socket is retired after its query budget: with one socket per server and 5 queries each,
/// 30 lookups leave from at least 6 ports, none used more than 5 times.
#[tokio::test]
async fn sockets_are_retired_after_their_query_budget() {
    let ports: Arc<Mutex<HashMap<u16, usize>>> = Arc::default();
    let log = ports.clone();
    let responder = Responder::start(move |query, from| {
        *log.lock().unwrap().entry(from.port()).or_default() += 1;
        vec![Emit::Bytes(bytes(&reply(
            query,
            ResponseCode::NoError,
            Some([192, 0, 2, 5]),
        )))]
    })
    .await;
    let r = resolver(
        Config::new(vec![responder.addr])
            .with_hosts_file(None)
            .with_udp_sockets_per_server(1)
            .with_udp_queries_per_socket(5),
    );
    for i in 0..30 {
        r.lookup(&format!("n{i}.example"), RecordType::A)
            .await
            .expect("answer");
    }
    let ports = ports.lock().unwrap().clone();
    assert!(ports.len() >= 6, "{ports:?}");
    assert!(ports.values().all(|&n| n <= 5), "{ports:?}");
}

/// What a forger sends before the real reply, for every query.
fn forgeries(query: &Message) -> Vec<Emit> {
    let forged = reply(query, ResponseCode::NoError, Some([203, 0, 113, 66]));
    let mut wrong_id = forged.clone();
    wrong_id.metadata.id = query.metadata.id.wrapping_add(1);
    let mut wrong_question = forged.clone();
    wrong_question.queries[0].set_name("evil.example.".parse().unwrap());
    let mut wrong_type = forged.clone();
    wrong_type.queries[0].set_query_type(RecordType::AAAA);
    let mut not_a_response = forged.clone();
    not_a_response.metadata.message_type = hickory_proto::op::MessageType::Query;
    let mut truncated = bytes(&forged);
    truncated.truncate(truncated.len() - 5);
    let mut oversized = bytes(&forged);
    oversized.resize(5000, 0xab);
    let mut garbage = bytes(&forged);
    garbage.truncate(13);
    vec![
        Emit::FromOtherPort(bytes(&forged)),
        Emit::Bytes(bytes(&wrong_id)),
        Emit::Bytes(bytes(&wrong_question)),
        Emit::Bytes(bytes(&wrong_type)),
        Emit::Bytes(bytes(&not_a_response)),
        Emit::Bytes(truncated),
        Emit::Bytes(oversized),
        Emit::Bytes(garbage),
    ]
}

/// Forgeries per query in [`forgeries`].
const FORGERIES_PER_QUERY: usize = 8;

/// Every query gets eight forgeries (wrong source port, wrong ID, wrong name, wrong type,
/// QR=0, cut short, oversized, garbage) before its real reply; not one is taken. The count
/// is `STUBBORN_FORGERIES` (default 100,000; `STUBBORN_FORGERIES=1000000` for the full
/// million).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replies_are_never_taken() {
    let total: usize = std::env::var("STUBBORN_FORGERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let queries = total.div_ceil(FORGERIES_PER_QUERY);
    let responder = Responder::start(|query, _| {
        let mut emits = forgeries(query);
        emits.push(Emit::Bytes(bytes(&reply(
            query,
            ResponseCode::NoError,
            Some([192, 0, 2, 1]),
        ))));
        emits
    })
    .await;
    let r = resolver(
        Config::new(vec![responder.addr])
            .with_hosts_file(None)
            .with_timeout(Duration::from_secs(2)),
    );
    let real = IpAddr::from([192, 0, 2, 1]);
    let concurrency = 32;
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let r = r.clone();
        workers.push(tokio::spawn(async move {
            let mut answered = 0usize;
            let mut i = w;
            while i < queries {
                match r
                    .lookup(&format!("q{i}.forged.example"), RecordType::A)
                    .await
                {
                    Ok(answer) => {
                        assert_eq!(answer.ips(), [real], "a forgery was taken");
                        answered += 1;
                    }
                    Err(e) => assert!(e.is_timeout(), "{e}"),
                }
                i += concurrency;
            }
            answered
        }));
    }
    let mut answered = 0;
    for worker in workers {
        answered += worker.await.expect("worker");
    }
    let stats = &r.server_stats()[0];
    eprintln!(
        "{} forgeries over {} queries: {} answered, {} datagrams ignored",
        queries * FORGERIES_PER_QUERY,
        stats.queries,
        answered,
        stats.ignored
    );
    // Under a flood the real reply may be lost in a full socket buffer now and then (the
    // re-send recovers it): nearly every lookup is answered, and only ever correctly.
    assert!(answered * 100 >= queries * 99, "{answered} of {queries}");
    // Every forgery that reached the socket was counted (the other-port one never does:
    // the kernel drops it at the connected socket).
    assert!(
        stats.ignored >= (queries * (FORGERIES_PER_QUERY - 1)) as u64 * 9 / 10,
        "{stats:?}"
    );
}

/// A resolver built outside any runtime, used by one runtime that then shuts down, keeps
/// working in the next one (its sockets belonged to the first runtime's reactor).
#[test]
fn a_resolver_outlives_the_runtime_that_first_used_it() {
    let runtime = |threads: usize| {
        let mut builder = if threads == 0 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        };
        builder.enable_all().build().expect("runtime")
    };
    // The server lives on a runtime of its own (its worker thread keeps it running).
    let server_runtime = runtime(1);
    let server = server_runtime.block_on(synthesizing());
    let addr = server.addr();
    let r = Resolver::new(
        Config::new(vec![addr])
            .with_hosts_file(None)
            .with_timeout(Duration::from_millis(500)),
    )
    .expect("valid");
    for round in 0..3 {
        let rt = runtime(round % 2);
        let answer = rt
            .block_on(r.lookup("a.pool.test", RecordType::A))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(answer.ips(), [IpAddr::from([192, 0, 2, 77])]);
        drop(rt);
    }
    drop(server);
}

/// Truncated replies send 50 concurrent questions over TCP: they share one connection to the
/// server (pipelined, replies in any order), which stays open for the next ones.
#[tokio::test]
async fn tcp_queries_share_one_pipelined_connection() {
    let server = faultdns::Server::builder()
        .synthesize("pool.test.", Ipv4Addr::new(192, 0, 2, 77), None)
        .expect("suffix")
        .rule("truncate proto=udp")
        .expect("rule")
        .start()
        .await
        .expect("faultdns starts");
    let r = resolver(Config::new(vec![server.addr()]).with_hosts_file(None));
    let lookups: Vec<_> = (0..50)
        .map(|i| {
            let r = r.clone();
            tokio::spawn(async move { r.lookup(&format!("t{i}.pool.test"), RecordType::A).await })
        })
        .collect();
    for lookup in lookups {
        let answer = lookup.await.expect("task").expect("answer over TCP");
        assert_eq!(answer.ips(), [IpAddr::from([192, 0, 2, 77])]);
        let last = answer.trace()[0].queries.last().expect("queries").transport;
        assert_eq!(last, stubborn::Transport::Tcp);
    }
    r.lookup("again.pool.test", RecordType::A)
        .await
        .expect("answer over TCP");
    assert_eq!(
        server.counters().tcp_connections,
        1,
        "one connection, reused"
    );
    assert_eq!(r.server_stats()[0].tcp_fallbacks, 51);
}
