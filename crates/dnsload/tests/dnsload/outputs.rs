//! The binary's outputs: events, summary, histogram log, metrics, --fail-on, Ctrl-C.

use std::io::{Read, Write};
use std::time::Duration;

use dnsload::{Class, CountersRecord, Event};

use crate::util::{
    assert_documented, assert_ran, dnsload, raw_run, read_summary, server, spawn, tmpdir, wait,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_summary_and_hlog_parse_against_the_schema() {
    let s = server(&["drop name=lost.test. p=0.5"], 3).await;
    let dir = tmpdir("outputs");
    let (ev, sum, hl) = (
        dir.join("ev.jsonl"),
        dir.join("sum.json"),
        dir.join("lat.hlog"),
    );
    let out = dnsload(raw_run(
        &s,
        &[
            "--timeout",
            "200ms",
            "--name",
            "ok.test",
            "--name",
            "lost.test",
            "--name",
            "nx.test",
            "--rate",
            "200",
            "--count",
            "150",
            "--host",
            "node-7",
            "--events",
            ev.to_str().unwrap(),
            "--summary-json",
            sum.to_str().unwrap(),
            "--hlog",
            hl.to_str().unwrap(),
            "--slow",
            "100ms",
        ],
    ))
    .await;
    assert_ran(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FINDINGS"), "nxdomain called out: {stdout}");
    assert!(stdout.contains("nxdomain   nx.test after"), "{stdout}");
    if std::path::Path::new("/proc/net/snmp").exists() {
        assert!(
            stdout.contains("kernel drops on this host during the run: udp rcvbuf_errors +"),
            "{stdout}"
        );
    }

    let summary = read_summary(&sum);
    assert_eq!(summary.schema, dnsload::SCHEMA);
    assert_eq!(summary.queries, 150);
    assert_eq!(summary.classes.total(), summary.queries);
    assert_eq!(summary.classes.nxdomain, 50);
    assert!(summary.classes.timeout > 5 && summary.classes.timeout < 45);
    assert_eq!(summary.classes.ok + summary.classes.timeout, 100);
    assert_eq!(summary.host, "node-7");
    assert_eq!(summary.schedule.kind, "open");
    let info = &summary.backend_info;
    assert!(info["socket"]["granted_rcvbuf"].as_u64().unwrap() > 0);
    let loss = &info["servers"][0]["loss"];
    assert_eq!(loss["lost"].as_u64(), Some(summary.classes.timeout));
    // The run lengths account for every lost query.
    let in_runs: u64 = loss["runs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(len, n)| len.parse::<u64>().unwrap() * n.as_u64().unwrap())
        .sum();
    assert_eq!(in_runs, summary.classes.timeout);

    let text = std::fs::read_to_string(&ev).unwrap();
    let kind = |l: &str| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].clone();
    let events: Vec<Event> = text
        .lines()
        .filter(|l| kind(l) == "event")
        .map(|l| serde_json::from_str(l).expect("an event line"))
        .collect();
    // Among them, one `counters` line per interval: back to back from the run's start to its
    // end, as many as the summary's samples.
    let counters: Vec<CountersRecord> = text
        .lines()
        .filter(|l| kind(l) == "counters")
        .map(|l| serde_json::from_str(l).expect("a counters line"))
        .collect();
    assert_eq!(events.len() + counters.len(), text.lines().count());
    let totals = summary
        .counters
        .as_ref()
        .expect("counter totals in the summary");
    assert_eq!(totals.samples, counters.len() as u64);
    assert_eq!(totals.interval_ms, 1000);
    assert!(!counters.is_empty());
    assert_eq!(counters[0].start_unix_ms, summary.started_unix_ms);
    for pair in counters.windows(2) {
        assert_eq!(
            pair[0].end_unix_ms, pair[1].start_unix_ms,
            "intervals back to back"
        );
        // Aligned to whole seconds but the last, which ends with the run.
        assert!(pair[0].end_unix_ms % 1000 < 300, "{:?}", pair[0]);
    }
    for c in &counters {
        assert_eq!(
            (c.schema, c.run_id.as_str()),
            (dnsload::SCHEMA, summary.run_id.as_str())
        );
        assert!(c.start_unix_ms <= c.end_unix_ms);
    }
    if std::path::Path::new("/proc/net/snmp").exists() {
        assert!(summary.udp.available && counters.iter().all(|c| c.delta.udp.is_some()));
    }
    assert!(
        summary.amplification.is_none(),
        "raw lookups are one query each, not costed"
    );
    // Every failure is an event, class by class; the other events are slow successes.
    for class in Class::ALL.into_iter().filter(|c| c.is_failure()) {
        let n = events.iter().filter(|e| e.class == class).count() as u64;
        assert_eq!(n, summary.classes.get(class), "{class} events");
    }
    assert_eq!(summary.events_written, events.len() as u64);
    for e in &events {
        assert_eq!(e.run_id, summary.run_id);
        assert_eq!(e.host, "node-7");
        assert_eq!(e.backend, "raw");
        assert!(e.class != Class::Ok || e.elapsed_ms >= 100.0);
    }

    // Every field written is documented.
    assert_documented(&std::fs::read_to_string(&sum).unwrap());
    for line in text.lines() {
        assert_documented(line);
    }

    let intervals = dnsload::read_hlog(&std::fs::read(&hl).unwrap()).unwrap();
    let total: u64 = intervals.iter().map(|i| i.histogram.len()).sum();
    assert_eq!(
        total, summary.queries,
        "the histogram log holds every lookup"
    );
    assert!(intervals.iter().all(|i| i.tag.as_deref() == Some("node-7")));
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The stub backend's lookups carry their cost from stubborn's trace: with `ndots:5` and two
/// search domains, `myservice` asks `myservice.other.test` (NXDOMAIN) and then
/// `myservice.corp.test`, whose replies are half lost: attempts and re-sends on top.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_lookups_carry_their_query_cost() {
    let s = server(&["drop name=myservice.corp.test. p=0.5"], 5).await;
    let dir = tmpdir("amplification");
    let (ev, sum) = (dir.join("ev.jsonl"), dir.join("sum.json"));
    let addr = s.addr().to_string();
    let out = dnsload(crate::util::args(&[
        "run",
        "--backend",
        "stub",
        "--server",
        &addr,
        "--search",
        "other.test",
        "--search",
        "corp.test",
        "--ndots",
        "5",
        "--timeout",
        "300ms",
        "--attempts",
        "4",
        "--name",
        "myservice",
        "--workers",
        "4",
        "--count",
        "40",
        "--slow",
        "1us",
        "--quiet",
        "--events",
        ev.to_str().unwrap(),
        "--summary-json",
        sum.to_str().unwrap(),
    ]))
    .await;
    assert_ran(&out);
    let summary = read_summary(&sum);
    let a = summary
        .amplification
        .expect("the stub backend costs its lookups");
    assert_eq!(a.lookups, 40);
    assert_eq!(a.total.candidates, 80, "two candidates per lookup");
    assert!(a.total.queries > 80, "loss adds queries: {a:?}");
    assert!(a.total.attempts > 80, "lost replies add attempts: {a:?}");
    assert!(
        a.total.queries >= a.total.attempts + a.total.resends,
        "{a:?}"
    );
    assert!(a.max_per_lookup >= 3 && a.per_lookup > 2.0, "{a:?}");
    // Every lookup is an event here (--slow 1us): their costs add up to the summary's.
    let text = std::fs::read_to_string(&ev).unwrap();
    let mut sent = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["kind"] == "event" {
            sent += v["cost"]["queries"]
                .as_u64()
                .expect("a cost per stub event");
        }
        assert_documented(line);
    }
    assert_eq!(sent, a.total.queries);
    assert_documented(&std::fs::read_to_string(&sum).unwrap());
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_sets_the_exit_status() {
    let s = server(&[], 1).await;
    let base = |name: &str| {
        raw_run(
            &s,
            &[
                "--name",
                name,
                "--count",
                "3",
                "--fail-on",
                "nxdomain,wrong_name",
                "--quiet",
            ],
        )
    };
    let bad = dnsload(base("nx.test")).await;
    assert_eq!(bad.status.code(), Some(3));
    let good = dnsload(base("ok.test")).await;
    assert_eq!(good.status.code(), Some(0));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_during_the_run() {
    let s = server(&[], 1).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let child = spawn(raw_run(
        &s,
        &[
            "--name",
            "ok.test",
            "--name",
            "nx.test",
            "--rate",
            "50",
            "--duration",
            "3s",
            "--metrics",
            &metrics,
            "--quiet",
        ],
    ));
    let mut body = String::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Ok(mut c) = std::net::TcpStream::connect(&metrics) else {
            continue;
        };
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        body.clear();
        c.read_to_string(&mut body).unwrap();
        if body.contains("dnsload_lookups_total{") {
            break;
        }
    }
    let status = wait(child).await;
    assert!(status.success());
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        body.contains("# TYPE dnsload_lookups_total counter"),
        "{body}"
    );
    assert!(body.contains("dnsload_latency_seconds_bucket{"), "{body}");
    assert!(body.contains("le=\"+Inf\"}"), "{body}");
    // The kernel counters ride along (this machine's /proc, when there is one).
    if std::path::Path::new("/proc/net/snmp").exists() {
        assert!(
            body.contains("dnsload_udp_errors_total{")
                && body.contains("counter=\"rcvbuf_errors\"}"),
            "{body}"
        );
    }
    assert!(body.contains("dnsload_counter_anomalies_total{"), "{body}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_flushes_events_and_summary() {
    interrupted_run_flushes(libc::SIGINT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_events_and_summary() {
    interrupted_run_flushes(libc::SIGTERM).await;
}

async fn interrupted_run_flushes(signal: i32) {
    let s = server(&[], 1).await;
    let dir = tmpdir(&format!("signal{signal}"));
    let (ev, sum) = (dir.join("ev.jsonl"), dir.join("sum.json"));
    let child = spawn(raw_run(
        &s,
        &[
            "--name",
            "nx.test",
            "--workers",
            "1",
            "--pause",
            "20ms",
            "--duration",
            "60s",
            "--events",
            ev.to_str().unwrap(),
            "--summary-json",
            sum.to_str().unwrap(),
            "--quiet",
        ],
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SAFETY: sending a signal to the child this test started.
    let rc = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(rc, 0);
    let status = wait(child).await;
    assert!(status.success(), "{status:?}");
    let summary = read_summary(&sum);
    assert_eq!(summary.stopped_by, "interrupted");
    assert!(summary.queries > 5, "{}", summary.queries);
    let lines = std::fs::read_to_string(&ev)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"kind\":\"event\""))
        .count() as u64;
    assert_eq!(
        lines, summary.classes.nxdomain,
        "every nxdomain flushed as an event"
    );
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
