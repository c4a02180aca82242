//! `dnsload report` on three hosts' outputs: ranking, exact histogram merge, signatures, SVG.

use std::path::PathBuf;

use dnsload::{Class, ReportArgs};

use crate::util::{assert_ran, dnsload, heatmap, raw_run, server, tmpdir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_merge_with_the_lossy_host_first() {
    // One faultdns per host, each with its own loss on the probe name.
    let dir = tmpdir("report");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut queries = 0;
    for (host, rule) in [
        ("host-a", "drop name=ok.test. p=0.02"),
        ("host-b", "drop name=ok.test. p=0.4"),
        ("host-c", "drop name=ok.test. p=0.1"),
    ] {
        let s = server(&[rule], 5).await;
        let (ev, sum, hl) = (
            dir.join(format!("{host}.events")),
            dir.join(format!("{host}.json")),
            dir.join(format!("{host}.hlog")),
        );
        let out = dnsload(raw_run(
            &s,
            &[
                "--timeout",
                "150ms",
                "--name",
                "ok.test",
                "--rate",
                "400",
                "--count",
                "200",
                "--host",
                host,
                "--events",
                ev.to_str().unwrap(),
                "--summary-json",
                sum.to_str().unwrap(),
                "--hlog",
                hl.to_str().unwrap(),
                "--quiet",
            ],
        ))
        .await;
        assert_ran(&out);
        queries += 200;
        files.extend([ev, sum, hl]);
        s.shutdown().await;
    }
    // A synthetic events file from a fourth host: the war story's signature.
    let sig = dir.join("host-d.events");
    std::fs::write(
        &sig,
        r#"{"schema":1,"kind":"event","run_id":"feed","host":"host-d","backend":"system","name":"myservice","class":"nxdomain","elapsed_ms":2004.5,"latency_ms":2004.5,"start":"2026-01-01T00:00:00.000Z","start_unix_ms":1767225600000}
"#,
    )
    .unwrap();
    files.push(sig);

    let svg = dir.join("report.svg");
    let merged = dnsload::report(&ReportArgs {
        files: files.clone(),
        svg: Some(svg.clone()),
        json: false,
        bucket: None,
    })
    .unwrap();
    let ranked: Vec<&str> = merged.hosts.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(ranked[0], "host-b", "the lossiest host first: {ranked:?}");
    assert_eq!(ranked[1], "host-c", "{ranked:?}");
    assert_eq!(merged.hosts[0].queries, Some(200));
    // Exact merge: the merged histogram holds every lookup of every host.
    assert_eq!(merged.merged_count, queries);
    let per_host: u64 = merged
        .hosts
        .iter()
        .filter_map(|h| h.latency_ms.map(|l| l.count))
        .sum();
    assert_eq!(per_host, queries);
    assert_eq!(merged.signatures.len(), 1);
    assert_eq!(merged.signatures[0].class, Class::Nxdomain);
    assert_eq!(merged.signatures[0].timeouts, 2);
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.trim_end().ends_with("</svg>"));
    // The heat map: a row per host in ranked order, and every failure event in a cell.
    let map = heatmap(&picture);
    assert_eq!(map.hosts, ranked, "rows in ranked order");
    for row in &merged.host_time.rows {
        let drawn: u64 = map
            .cells
            .iter()
            .filter(|(h, _, _)| *h == row.host)
            .map(|(_, _, n)| n)
            .sum();
        let host = merged.hosts.iter().find(|h| h.host == row.host).unwrap();
        assert_eq!(drawn, host.failures, "{}: every failure drawn", row.host);
        assert!(
            map.cells
                .iter()
                .all(|(_, c, _)| *c < merged.host_time.columns)
        );
    }

    // The binary: text and JSON.
    let mut a = vec!["report".to_string()];
    a.extend(files.iter().map(|f| f.display().to_string()));
    let text = dnsload(a.clone()).await;
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Errors per host"), "{text}");
    assert!(text.contains("war story's signature"), "{text}");
    a.push("--json".into());
    let json = dnsload(a).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["hosts"][0]["host"], "host-b");
    assert_eq!(v["merged_count"], queries);
    let _ = std::fs::remove_dir_all(dir);
}

/// Events and the summary both on stdout (a log pipeline's view) make one mergeable stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdout_stream_of_events_and_summary_is_a_report_input() {
    let s = server(&[], 2).await;
    let out = dnsload(raw_run(
        &s,
        &[
            "--name",
            "nx.test",
            "--name",
            "ok.test",
            "--count",
            "10",
            "--host",
            "pod-1",
            "--events",
            "-",
            "--summary-json",
            "-",
        ],
    ))
    .await;
    assert_ran(&out);
    // The human summary went to stderr, so stdout is only JSON lines.
    assert!(String::from_utf8_lossy(&out.stderr).contains("dnsload raw on pod-1"));
    let dir = tmpdir("stream");
    let f = dir.join("pod-1.log");
    std::fs::write(&f, &out.stdout).unwrap();
    let merged = dnsload::report(&ReportArgs {
        files: vec![f],
        svg: None,
        json: true,
        bucket: None,
    })
    .unwrap();
    assert_eq!(merged.hosts.len(), 1);
    assert_eq!(merged.hosts[0].queries, Some(10));
    assert_eq!(merged.hosts[0].classes.nxdomain, 5);
    assert_eq!(merged.skipped_lines, 0);

    // The same stream as a cluster's log pipeline hands it over: every line prefixed with a
    // timestamp (`kubectl logs --timestamps`), and a line of the pod's own in between.
    let noisy = dir.join("pod-1.timestamps.log");
    let mut text = String::from("2026-11-23T10:00:00.000000000Z starting dnsload\n");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        text.push_str(&format!("2026-11-23T10:00:01.000000000Z {line}\n"));
    }
    std::fs::write(&noisy, text).unwrap();
    let merged = dnsload::report(&ReportArgs {
        files: vec![noisy],
        svg: None,
        json: true,
        bucket: None,
    })
    .unwrap();
    assert_eq!(
        merged.skipped_lines, 1,
        "the pod's own line is skipped, counted"
    );
    assert_eq!(merged.hosts[0].queries, Some(10));
    assert_eq!(merged.hosts[0].classes.nxdomain, 5);
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Input files come from many machines and may be corrupt: absurd numbers in them give an
/// error or a saturated figure, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_numbers_in_input_files_do_not_panic() {
    let s = server(&[], 3).await;
    let dir = tmpdir("absurd");
    let real = dir.join("real.json");
    let out = dnsload(raw_run(
        &s,
        &[
            "--name",
            "ok.test",
            "--count",
            "2",
            "--host",
            "h",
            "--summary-json",
            real.to_str().unwrap(),
            "--quiet",
        ],
    ))
    .await;
    assert_ran(&out);
    s.shutdown().await;
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
    let report = |files: Vec<PathBuf>| {
        dnsload::report(&ReportArgs {
            files,
            svg: Some(dir.join("absurd.svg")),
            json: false,
            bucket: None,
        })
    };

    // Class counts whose sum does not fit in 64 bits: an inconsistent summary.
    let mut overflowing = summary.clone();
    overflowing["classes"]["ok"] = u64::MAX.into();
    overflowing["classes"]["timeout"] = 1.into();
    let f = dir.join("overflowing.json");
    std::fs::write(&f, overflowing.to_string()).unwrap();
    let e = report(vec![f]).unwrap_err().to_string();
    assert!(e.contains("inconsistent"), "{e}");

    // Two consistent summaries of one host whose sum does not fit: saturated.
    let mut files = Vec::new();
    for run in ["r1", "r2"] {
        let mut big = summary.clone();
        big["run_id"] = run.into();
        big["queries"] = u64::MAX.into();
        big["classes"]["ok"] = u64::MAX.into();
        let f = dir.join(format!("{run}.json"));
        std::fs::write(&f, big.to_string()).unwrap();
        files.push(f);
    }
    let merged = report(files).unwrap();
    assert_eq!(merged.hosts[0].queries, Some(u64::MAX));

    // An event dated after the year 9999.
    let late = dir.join("late.events");
    std::fs::write(
        &late,
        format!(
            r#"{{"schema":1,"kind":"event","run_id":"late","host":"h","backend":"raw","name":"ok.test","class":"timeout","elapsed_ms":1.0,"latency_ms":1.0,"start":"?","start_unix_ms":{}}}
"#,
            u64::MAX
        ),
    )
    .unwrap();
    let merged = report(vec![late]).unwrap();
    assert_eq!(merged.over_time.len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

/// A gigabyte of pod logs is reported in bounded memory: 200 hosts' events (as `kubectl logs
/// --timestamps` writes them, with the pods' own lines in between) and a summary per host,
/// with the loss moving from host to host over time. Peak RSS of `dnsload report` stays under
/// 100 MiB, and the report counts every failure.
///
/// Slow (writes and reads 1 GiB; about a minute in a release build):
/// `cargo test --release -p dnsload --test dnsload -- --ignored gigabyte`
#[test]
#[ignore = "writes and reads 1 GiB; run with --ignored, preferably with --release"]
fn a_gigabyte_of_pod_logs_is_reported_in_bounded_memory() {
    use std::io::Write;
    const HOSTS: u64 = 200;
    const SIZE: u64 = 1 << 30;
    let dir = tmpdir("gigabyte");
    let log = dir.join("pods.log");
    let t0: u64 = 1_767_225_600_000;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    let (mut written, mut i) = (0u64, 0u64);
    let mut failures = vec![0u64; HOSTS as usize];
    while written < SIZE {
        // One event every 3 ms of wall-clock time. A quarter are spread over every host; the
        // rest fall on five lossy hosts, which change every 10 minutes.
        let t = t0 + i * 3;
        let window = (t - t0) / 600_000;
        let host = if i % 4 == 0 {
            (i / 4) % HOSTS
        } else {
            (window * 7 + i % 5) % HOSTS
        };
        let class = if i % 11 == 0 { "nxdomain" } else { "timeout" };
        let start = dnsload_time(t);
        let line = format!(
            "{start}000000Z {{\"schema\":1,\"kind\":\"event\",\"run_id\":\"run-{host:03}\",\
             \"host\":\"node-{host:03}.cluster.example\",\"backend\":\"stub\",\
             \"name\":\"kubernetes.default.svc.cluster.local\",\"class\":\"{class}\",\
             \"elapsed_ms\":2003.25,\"latency_ms\":2003.25,\"start\":\"{start}Z\",\
             \"start_unix_ms\":{t},\"detail\":\"timed out resolving \
             kubernetes.default.svc.cluster.local. after 2 attempts over 1 server (2.00 s)\"}}\n"
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        failures[host as usize] += 1;
        if i % 50 == 0 {
            let noise = format!("{start}000000Z I0101 probe.go:42] pod still running\n");
            out.write_all(noise.as_bytes()).unwrap();
            written += noise.len() as u64;
        }
        i += 1;
    }
    out.flush().unwrap();
    drop(out);

    let svg = dir.join("report.svg");
    let json = dir.join("report.json");
    #[expect(
        clippy::zombie_processes,
        reason = "reaped below by wait4, which also reports its peak RSS"
    )]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_dnsload"))
        .arg("report")
        .arg(&log)
        .arg("--svg")
        .arg(&svg)
        .arg("--json")
        .stdout(std::fs::File::create(&json).unwrap())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    // wait4, not Child::wait: it reports the child's own peak RSS.
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; both pointers are valid for the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}"
    );
    let peak_mib = usage.ru_maxrss as f64 / 1024.0;
    eprintln!(
        "dnsload report over {:.2} GiB ({i} events, {HOSTS} hosts): peak RSS {peak_mib:.1} MiB",
        written as f64 / (1u64 << 30) as f64
    );
    assert!(peak_mib < 100.0, "peak RSS {peak_mib:.1} MiB");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let hosts = report["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), HOSTS as usize);
    let counted: u64 = hosts.iter().map(|h| h["failures"].as_u64().unwrap()).sum();
    assert_eq!(counted, failures.iter().sum::<u64>());
    assert_eq!(report["skipped_lines"], i.div_ceil(50));
    let map = heatmap(&std::fs::read_to_string(&svg).unwrap());
    assert_eq!(map.hosts.len(), HOSTS as usize);
    let drawn: u64 = map.cells.iter().map(|(_, _, n)| n).sum();
    assert_eq!(drawn, counted);
    let _ = std::fs::remove_dir_all(dir);
}

/// `2026-01-01T00:00:00.000` for a time in ms since the epoch (UTC, without the zone).
fn dnsload_time(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let text = humantime::format_rfc3339_millis(t).to_string();
    text.trim_end_matches('Z').to_string()
}
