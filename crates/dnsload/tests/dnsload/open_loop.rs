//! Open-loop honesty on real sockets: a 500 ms server stall shows in the percentiles of the
//! queries scheduled during it; a closed loop sees it once, in the max.

use std::time::Duration;

use dnsload::{Stop, Summary};

use crate::util::{backend, plan, server};

async fn stalled(schedule: &[&str]) -> Summary {
    let s = server(&[], 1).await;
    let addr = s.addr().to_string();
    let mut flags = vec![
        "--backend",
        "raw",
        "--server",
        &addr,
        "--timeout",
        "2s",
        "--name",
        "ok.test",
        "--duration",
        "3s",
        "--quiet",
    ];
    flags.extend_from_slice(schedule);
    let p = plan(&flags);
    let b = backend(&p).await;
    let run = tokio::spawn(async move { dnsload::run_with(&p, b, Stop::default()).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The stall: for 500 ms every reply waits 500 ms.
    s.set_rules(vec!["answer delay=500ms".parse().unwrap()]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.set_rules(Vec::new());
    let report = run.await.unwrap().unwrap();
    s.shutdown().await;
    report.summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500ms_stall_shows_in_open_loop_percentiles_not_only_in_the_max() {
    let (open, closed) = tokio::join!(
        stalled(&["--rate", "100"]),
        stalled(&["--workers", "1", "--pause", "10ms"])
    );
    let (o, c) = (open.latency_ms, closed.latency_ms);
    // Open loop: ~50 of ~300 lookups were scheduled during the stall and each waited for it.
    assert!(open.queries >= 250, "{}", open.queries);
    assert!(
        o.p90 >= 400.0,
        "open loop p90 {} ms should show the stall: {o:?}",
        o.p90
    );
    assert!(o.p50 < 100.0, "{o:?}");
    // Closed loop: the one worker waited once; its percentiles hide the stall.
    assert!(c.max >= 450.0, "{c:?}");
    assert!(c.p99 < 400.0, "closed loop p99 {} ms: {c:?}", c.p99);
}
