//! Bad flags and bad files give clear errors and exit status 2; a closed stdout is fine.

use std::process::Stdio;

use crate::util::{args, assert_ran, dnsload, server, tmpdir};

async fn fails(a: &[&str], expect: &str) {
    let out = dnsload(args(a)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{a:?}: {err}");
    assert!(
        err.contains(expect),
        "{a:?}: stderr lacks {expect:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn bad_flags_are_refused_with_reasons() {
    fails(
        &["run", "--server", "127.0.0.1", "--name", "a.test"],
        "refusing an unbounded run",
    )
    .await;
    fails(
        &[
            "run",
            "--server",
            "127.0.0.1",
            "--name",
            "a",
            "--count",
            "1",
            "--rate",
            "5",
            "--workers",
            "2",
        ],
        "--rate cannot be used with --workers",
    )
    .await;
    fails(
        &[
            "run",
            "--server",
            "dns.example",
            "--name",
            "a",
            "--count",
            "1",
        ],
        "is not IP or IP:PORT",
    )
    .await;
    fails(
        &[
            "run",
            "--server",
            "127.0.0.1",
            "--names",
            "/nonexistent/names",
            "--count",
            "1",
        ],
        "cannot read /nonexistent/names",
    )
    .await;
    fails(
        &[
            "run",
            "--server",
            "127.0.0.1",
            "--name",
            "a",
            "--count",
            "1",
            "--metrics",
            "0.0.0.0:9153",
        ],
        "not a loopback address",
    )
    .await;
    fails(&["run", "--timeout", "soon"], "`soon` is not a duration").await;
    fails(&["run", "--fail-on", "lost"], "unknown class `lost`").await;
    fails(&["report"], "required").await;
}

/// stubborn takes 1 to 10 attempts per name. Asking for 20 is an error naming that bound, not
/// a run that quietly makes 10.
#[tokio::test]
async fn stub_attempts_beyond_stubborns_bound_are_an_error_naming_it() {
    fails(
        &[
            "run",
            "--backend",
            "stub",
            "--server",
            "127.0.0.1:9",
            "--name",
            "a.test",
            "--count",
            "1",
            "--attempts",
            "20",
        ],
        "invalid --attempts: 20 is outside stubborn's bounds of 1 to 10 attempts per name",
    )
    .await;
}

/// A run that names no server would send its queries wherever this machine's resolver
/// configuration points: refused unless asked for with --use-system-config. (`localhost` is
/// answered from /etc/hosts by both resolvers, so even a broken refusal would send no query.)
#[tokio::test]
async fn a_run_with_no_server_and_no_opt_in_is_refused_naming_the_flag() {
    for extra in [
        &["--backend", "system"][..],
        &["--backend", "stub"],
        &["--backend", "stub", "--resolv-conf", "/etc/resolv.conf"],
    ] {
        let mut a = vec!["run", "--name", "localhost", "--count", "1", "--quiet"];
        a.extend_from_slice(extra);
        fails(&a, "pass --use-system-config").await;
    }
}

#[tokio::test]
async fn bad_report_inputs_name_the_file_and_line() {
    let dir = tmpdir("badreport");
    let f = dir.join("junk.jsonl");
    std::fs::write(&f, "{\"kind\":\"event\"}\nnot json\n").unwrap();
    fails(&["report", f.to_str().unwrap()], "junk.jsonl").await;
    fails(
        &["report", f.to_str().unwrap()],
        "line 1: not a dnsload event",
    )
    .await;
    std::fs::write(&f, "{\"kind\":\"summary\",\"schema\":1}\n").unwrap();
    fails(
        &["report", f.to_str().unwrap()],
        "line 1: not a dnsload summary",
    )
    .await;
    fails(
        &["report", "/nonexistent/file"],
        "cannot read /nonexistent/file",
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Durations too long to add to a clock are refused as flags, not panicked on.
#[tokio::test]
async fn absurd_durations_are_refused() {
    for flag in ["--duration", "--pause", "--timeout", "--slow"] {
        fails(
            &[
                "run",
                "--backend",
                "raw",
                "--server",
                "127.0.0.1:9",
                "--name",
                "a.test",
                "--count",
                "1",
                flag,
                "500000000000years",
            ],
            "longer than",
        )
        .await;
    }
}

/// A resolv.conf the stub backend cannot read is a bad input file (status 2), as a bad
/// --names file is.
#[tokio::test]
async fn an_unreadable_resolv_conf_is_bad_input() {
    fails(
        &[
            "run",
            "--resolv-conf",
            "/nonexistent/resolv.conf",
            "--name",
            "a",
            "--count",
            "1",
        ],
        "cannot read /nonexistent/resolv.conf",
    )
    .await;
}

#[tokio::test]
async fn a_closed_stdout_is_not_an_error() {
    let dir = tmpdir("pipe");
    let f = dir.join("empty.jsonl");
    std::fs::write(&f, "").unwrap();
    let path = f.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dnsload"))
            .args(["report", &path])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away (like `| head -0`)
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// stubborn's warnings reach the user on stderr (a resolv.conf line it does not support), and
/// `RUST_LOG` decides what shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_warnings_reach_stderr() {
    let s = server(&[], 1).await;
    let dir = tmpdir("warnings");
    let conf = dir.join("resolv.conf");
    std::fs::write(
        &conf,
        format!("nameserver {}\nsortlist 192.0.2.0/24\n", s.addr()),
    )
    .unwrap();
    let run = |quiet_logs: bool| {
        let conf = conf.clone();
        async move {
            let a = args(&[
                "run",
                "--resolv-conf",
                conf.to_str().unwrap(),
                "--name",
                "ok.test.",
                "--count",
                "1",
                "--quiet",
            ]);
            tokio::task::spawn_blocking(move || {
                let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dnsload"));
                cmd.args(&a).env_remove("RUST_LOG");
                if quiet_logs {
                    cmd.env("RUST_LOG", "off");
                }
                cmd.output().unwrap()
            })
            .await
            .unwrap()
        }
    };
    let out = run(false).await;
    assert_ran(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    // The resolver's own warning about the line, plain text (stderr is not a terminal here).
    assert!(
        err.contains("WARN") && err.contains("resolv.conf: sortlist") && !err.contains('\x1b'),
        "{err}"
    );
    let out = run(true).await;
    assert_ran(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("sortlist"), "RUST_LOG=off: {err}");
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
