//! Long runs keep memory flat: bounded histograms, capped findings, events streamed out.

use std::time::Duration;

use dnsload::Stop;

use crate::util::{backend, plan, server, tmpdir};

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_over_a_fast_bounded_run() {
    let s = server(&["drop name=lost.test. p=0.2"], 9).await;
    let dir = tmpdir("memory");
    let ev = dir.join("ev.jsonl");
    let p = plan(&[
        "--backend",
        "raw",
        "--server",
        &s.addr().to_string(),
        "--timeout",
        "100ms",
        "--name",
        "ok.test",
        "--name",
        "nx.test",
        "--name",
        "lost.test",
        "--rate",
        "1000",
        "--duration",
        "6s",
        "--events",
        ev.to_str().unwrap(),
        "--quiet",
    ]);
    let b = backend(&p).await;
    let run = tokio::spawn(async move { dnsload::run_with(&p, b, Stop::default()).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let early = rss_kib();
    let report = run.await.unwrap().unwrap();
    let late = rss_kib();
    let c = report.summary.classes;
    assert!(report.summary.queries >= 4000, "{}", report.summary.queries);
    assert_eq!(c.total(), report.summary.queries);
    // Thousands of findings; the summary keeps a bounded number, the rest are in the events.
    assert!(c.nxdomain > 1000);
    assert_eq!(report.summary.notable.len(), 100);
    assert_eq!(
        report.summary.notable_dropped + 100,
        c.nxdomain + c.nodata + c.wrong_name + c.hung
    );
    let lines = std::fs::read_to_string(&ev).unwrap().lines().count() as u64;
    assert_eq!(lines, report.summary.events_written);
    if let (Some(early), Some(late)) = (early, late) {
        // Two thirds of the run came after the first sample.
        assert!(
            late < early + 16 * 1024,
            "RSS grew from {early} KiB to {late} KiB"
        );
    }
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
