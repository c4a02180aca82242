//! No leaks: dropped lookups close their sockets at once and leave no task behind.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_lookups_free_sockets_and_tasks() {
    let server = faultdns::Server::builder()
        .record("www.example.com. 60 A 192.0.2.10")
        .expect("record")
        .rule("drop")
        .expect("rule")
        .start()
        .await
        .expect("faultdns starts");
    let r = Resolver::new(Config::new(vec![server.addr()]).with_hosts_file(None)).expect("valid");
    let metrics = Handle::current().metrics();
    let fds_before = open_fds();
    let tasks_before = metrics.num_alive_tasks();

    let mut lookups: Vec<Lookup> = (0..1000)
        .map(|i| {
            let r = r.clone();
            Box::pin(async move { r.lookup_ip(&format!("host{i}.example.com")).await }) as Lookup
        })
        .collect();
    // Poll each lookup once: it opens a socket for A and one for AAAA and sends both queries.
    // `unconstrained`: one poll of 1,000 lookups in one task would exhaust tokio's cooperative
    // budget, and a lookup polled without budget does not start.
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
    let fds_during = open_fds();
    assert!(
        fds_during >= fds_before + 2000,
        "{fds_before} -> {fds_during}"
    );
    assert_eq!(
        metrics.num_alive_tasks(),
        tasks_before,
        "lookups spawn no task"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;

    drop(lookups);
    let dropped = Instant::now();
    loop {
        let (fds, tasks) = (open_fds(), metrics.num_alive_tasks());
        if fds <= fds_before && tasks <= tasks_before {
            break;
        }
        assert!(
            dropped.elapsed() < Duration::from_millis(100),
            "after 100 ms: {fds} descriptors (baseline {fds_before}), {tasks} tasks \
             (baseline {tasks_before})"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let reclaimed = dropped.elapsed();
    eprintln!(
        "{} descriptors reclaimed in {reclaimed:?}",
        fds_during - open_fds()
    );
    // The queries really went out (some may still sit in the server's socket buffer).
    assert!(server.counters().queries > 0);
    server.shutdown().await;
}
