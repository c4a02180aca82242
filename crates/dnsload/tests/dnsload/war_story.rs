//! The war story, both glibc shapes (docs/semantics.md, 3.3), with `--timeout 1s --attempts 2`
//! and the probe name's queries dropped with p=0.5: glibc (through the override) turns loss
//! into wrong answers and NXDOMAIN; stubborn reports timeouts instead, never either.

use dnsload::{Class, RunReport, Summary};

use crate::util::{plan, run, server, tmpdir};

const RULES: &[&str] = &[
    "drop name=drop.test. p=0.5",
    "drop name=myservice.corp.test. p=0.5",
];

async fn shape(backend: &str, name: &str, ndots: &str, addr: &str, summary: &str) -> RunReport {
    let events = format!("{summary}.events");
    let p = plan(&[
        "--backend",
        backend,
        "--server",
        addr,
        "--search",
        "corp.test",
        "--ndots",
        ndots,
        "--timeout",
        "1s",
        "--attempts",
        "2",
        "--name",
        name,
        "--workers",
        "8",
        "--count",
        "32",
        "--summary-json",
        summary,
        "--events",
        &events,
        "--quiet",
    ]);
    run(&p).await
}

fn check_summary_file(path: &str, report: &RunReport) {
    let text = std::fs::read_to_string(path).unwrap();
    crate::util::assert_documented(&text);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for field in [
        "schema",
        "run_id",
        "host",
        "backend",
        "queries",
        "classes",
        "latency_ms",
    ] {
        assert!(value.get(field).is_some(), "summary lacks {field}");
    }
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(value["latency_ms"][p].is_number(), "latency_ms.{p}");
    }
    let parsed: Summary = serde_json::from_value(value).unwrap();
    assert_eq!(parsed, report.summary);
    assert_eq!(
        parsed.classes.total(),
        parsed.queries,
        "classes sum to queries"
    );
    assert_eq!(parsed.queries, 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glibc_turns_loss_into_wrong_answers_and_nxdomain_stubborn_does_not() {
    let s = server(RULES, 42).await;
    let addr = s.addr().to_string();
    let dir = tmpdir("war");
    let f = |n: &str| dir.join(n).display().to_string();
    let (s1, s2, t1, t2) = (
        f("sys1.json"),
        f("sys2.json"),
        f("stub1.json"),
        f("stub2.json"),
    );
    let glibc = dnsload::glibc_override_supported();

    let stub1 = shape("stub", "drop.test", "1", &addr, &t1);
    let stub2 = shape("stub", "myservice", "5", &addr, &t2);
    let (stub1, stub2) = if glibc {
        let sys1 = shape("system", "drop.test", "1", &addr, &s1);
        let sys2 = shape("system", "myservice", "5", &addr, &s2);
        let (a, b, c, d) = tokio::join!(sys1, sys2, stub1, stub2);
        // Shape 1: drop.test times out twice, glibc walks on to drop.test.corp.test.
        let c1 = a.summary.classes;
        assert!(c1.wrong_name > 0, "glibc shape 1: {c1:?}");
        assert_eq!(c1.nxdomain, 0);
        let n = &a.summary.notable[0];
        assert_eq!(n.class, Class::WrongName);
        assert_eq!(n.answer_name.as_deref(), Some("drop.test.corp.test"));
        assert!(
            n.elapsed_ms >= 1900.0,
            "after two 1 s attempts: {}",
            n.elapsed_ms
        );
        // Shape 2: myservice.corp.test times out twice, glibc reports the bare name's NXDOMAIN.
        let c2 = b.summary.classes;
        assert!(c2.nxdomain > 0, "glibc shape 2: {c2:?}");
        assert_eq!(c2.wrong_name, 0);
        let n = b
            .summary
            .notable
            .iter()
            .find(|n| n.class == Class::Nxdomain)
            .unwrap();
        assert!(
            n.elapsed_ms >= 1900.0,
            "NXDOMAIN after ~2 x 1 s: {}",
            n.elapsed_ms
        );
        check_summary_file(&s1, &a);
        check_summary_file(&s2, &b);
        // `report` recognises both as the signature: every attempt lost, then the walk.
        let merged = dnsload::report(&dnsload::ReportArgs {
            files: [&s1, &s2]
                .iter()
                .flat_map(|s| [s.to_string(), format!("{s}.events")])
                .map(Into::into)
                .collect(),
            svg: None,
            json: false,
            bucket: None,
        })
        .unwrap();
        assert_eq!(
            merged.signatures.len() as u64,
            c1.wrong_name + c2.nxdomain,
            "{:?}",
            merged.signatures
        );
        for sig in &merged.signatures {
            assert_eq!((sig.timeouts, sig.attempts), (2, Some(2)), "{sig:?}");
        }
        (c, d)
    } else {
        eprintln!("glibc half skipped: not a glibc build");
        tokio::join!(stub1, stub2)
    };
    for (r, path) in [(&stub1, &t1), (&stub2, &t2)] {
        let c = r.summary.classes;
        assert_eq!(
            c.wrong_name, 0,
            "stubborn never answers for another name: {c:?}"
        );
        assert_eq!(
            c.nxdomain, 0,
            "stubborn never turns loss into NXDOMAIN: {c:?}"
        );
        // Re-sends inside each attempt recover almost all of the loss; what is left is a
        // timeout, never a lie.
        assert!(c.ok >= 28, "re-sends recover the loss: {c:?}");
        assert_eq!(c.ok + c.timeout, 32, "{c:?}");
        check_summary_file(path, r);
    }
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
