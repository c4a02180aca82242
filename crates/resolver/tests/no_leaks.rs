//! No leaks: lookups in flight share a bounded pool of sockets, dropped lookups free their
//! entries at once, and dropping the resolver ends every task and closes every socket.
//!
//! A test binary of its own: the descriptor count is process-wide, so no other test may open
//! sockets while this one counts.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use stubborn::{Config, Resolver};
use tokio::runtime::Handle;

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

type Lookup = Pin<Box<dyn Future<Output = Result<stubborn::Answer, stubborn::Error>> + Send>>;

/// Polls every lookup once: each sends its A and AAAA queries.
async fn start_all(lookups: &mut [Lookup]) {
    // `unconstrained`: one poll of thousands of lookups in one task would exhaust tokio's
    // cooperative budget, and a lookup polled without budget does not start.
    tokio::task::unconstrained(std::future::poll_fn(|cx| {
        for lookup in lookups.iter_mut() {
            assert!(
                lookup.as_mut().poll(cx).is_pending(),
                "a dropping server cannot answer"
            );
        }
        Poll::Ready(())
    }))
    .await;
}

/// Waits (up to 500 ms) until `done` holds, then returns how long that took.
async fn settles(what: &str, mut done: impl FnMut() -> Option<String>) -> Duration {
    let since = Instant::now();
    loop {
        let Some(state) = done() else {
            return since.elapsed();
        };
        assert!(
            since.elapsed() < Duration::from_millis(500),
            "{what} after 500 ms: {state}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_are_bounded_and_everything_is_freed() {
    let server = faultdns::Server::builder()
        .record("www.example.com. 60 A 192.0.2.10")
        .expect("record")
        .rule("drop")
        .expect("rule")
        .start()
        .await
        .expect("faultdns starts");
    let max_sockets = 40;
    let config = Config::new(vec![server.addr()])
        .with_hosts_file(None)
        .with_max_udp_sockets(max_sockets);
    let r = Resolver::new(config).expect("valid");
    let metrics = Handle::current().metrics();
    let fds_before = open_fds();
    let tasks_before = metrics.num_alive_tasks();

    // 5,000 lookups in flight: 10,000 queries, over at most 40 sockets (one reader task each).
    let mut lookups: Vec<Lookup> = (0..5000)
        .map(|i| {
            let r = r.clone();
            Box::pin(async move { r.lookup_ip(&format!("host{i}.example.com")).await }) as Lookup
        })
        .collect();
    start_all(&mut lookups).await;
    let fds_during = open_fds();
    let tasks_during = metrics.num_alive_tasks();
    assert!(
        fds_during > fds_before && fds_during <= fds_before + max_sockets,
        "{fds_before} -> {fds_during} descriptors for 10,000 queries"
    );
    assert!(
        tasks_during <= tasks_before + max_sockets,
        "{tasks_before} -> {tasks_during} tasks"
    );
    assert_eq!(
        r.server_stats()[0].waiting,
        10_000,
        "every query registered"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Dropped lookups free their entries at once: retired sockets drain and close, and only
    // the sockets still taking queries (4 per server by default) stay open.
    drop(lookups);
    assert_eq!(
        r.server_stats()[0].waiting,
        0,
        "entries freed by the drop itself"
    );
    let took = settles("after dropping the lookups", || {
        let (fds, tasks) = (open_fds(), metrics.num_alive_tasks());
        (fds > fds_before + 4 || tasks > tasks_before + 4)
            .then(|| format!("{fds} descriptors (baseline {fds_before}), {tasks} tasks"))
    })
    .await;
    eprintln!("lookups dropped: pool back to its open sockets in {took:?}");
    // Their entries went with them, at once (not after a timeout).
    assert_eq!(r.server_stats()[0].waiting, 0);

    // Dropping the resolver ends every reader task and closes every socket.
    drop(r);
    let took = settles("after dropping the resolver", || {
        let (fds, tasks) = (open_fds(), metrics.num_alive_tasks());
        (fds > fds_before || tasks > tasks_before)
            .then(|| format!("{fds} descriptors (baseline {fds_before}), {tasks} tasks"))
    })
    .await;
    eprintln!("resolver dropped: back to baseline in {took:?}");
    // The queries really went out (some may still sit in the server's socket buffer).
    assert!(server.counters().queries > 0);
    server.shutdown().await;
}
