//! Long runs keep memory flat: bounded histograms, capped findings, events streamed out.

use std::time::Duration;

use crate::util::{raw_run, read_summary, server, spawn, tmpdir, wait};

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
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
    let (ev, sum) = (dir.join("ev.jsonl"), dir.join("sum.json"));
    // A separate process, so the measurement is of dnsload alone.
    let child = spawn(raw_run(
        &s,
        &[
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
            "--summary-json",
            sum.to_str().unwrap(),
            "--quiet",
        ],
    ));
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let early = rss_kib(pid);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let late = rss_kib(pid);
    assert!(wait(child).await.success());
    let summary = read_summary(&sum);
    let c = summary.classes;
    assert!(summary.queries >= 4000, "{}", summary.queries);
    assert_eq!(c.total(), summary.queries);
    // Thousands of findings; the summary keeps a bounded number, the rest are in the events.
    assert!(c.nxdomain > 1000, "{c:?}");
    assert_eq!(summary.notable.len(), 100);
    assert_eq!(
        summary.notable_dropped + 100,
        c.nxdomain + c.nodata + c.wrong_name + c.hung
    );
    let text = std::fs::read_to_string(&ev).unwrap();
    let events = text
        .lines()
        .filter(|l| l.contains("\"kind\":\"event\""))
        .count() as u64;
    assert_eq!(events, summary.events_written);
    // The rest are the counter lines, one a second.
    let samples = summary.counters.as_ref().map_or(0, |c| c.samples);
    assert_eq!(text.lines().count() as u64, events + samples);
    let (early, late) = (early.expect("RSS at 2 s"), late.expect("RSS at 5.5 s"));
    // More than half the lookups came after the first sample; memory did not follow them.
    assert!(
        late < early + 4 * 1024,
        "RSS grew from {early} KiB to {late} KiB"
    );
    eprintln!("dnsload RSS: {early} KiB at 2 s, {late} KiB at 5.5 s");
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
