//! Every outcome class each backend can produce, against in-process faultdns.

use dnsload::Class;

use crate::util::{backend, closed_port, plan, server};

const RULES: &[&str] = &[
    "drop name=lost.test.",
    "servfail name=sf.test.",
    "refused name=ref.test.",
    "answer name=slow.test. delay=3s",
];

/// One name per class every backend tells apart, given [`RULES`] and the test records.
const EVERY_CLASS: &[(&str, Class)] = &[
    ("ok.test", Class::Ok),
    ("nx.test", Class::Nxdomain),
    ("txtonly.test", Class::Nodata),
    ("lost.test", Class::Timeout),
    ("sf.test", Class::Servfail),
    ("ref.test", Class::Refused),
];

/// Builds the backend `flags` ask for and asserts the class of each name in `want`.
async fn check(flags: &[&str], want: &[(&str, Class)]) {
    let mut a = flags.to_vec();
    a.extend_from_slice(&["--name", "ok.test", "--count", "1"]);
    let p = plan(&a);
    let b = backend(&p).await;
    for (name, class) in want {
        let o = b.lookup(name).await;
        assert_eq!(
            o.class, *class,
            "{name}: got {} ({:?}), want {class}",
            o.class, o.detail
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_backend_classes() {
    let s = server(RULES, 1).await;
    let addr = s.addr().to_string();
    let raw = ["--backend", "raw", "--server", &addr];
    check(&[&raw[..], &["--timeout", "300ms"]].concat(), EVERY_CLASS).await;
    // Any record type: the TXT-only name answers a TXT query.
    check(
        &[&raw[..], &["--type", "TXT"]].concat(),
        &[("txtonly.test", Class::Ok), ("ok.test", Class::Nodata)],
    )
    .await;
    // Nothing listening: ICMP port unreachable is an error, not a timeout.
    let closed = closed_port().to_string();
    check(
        &[
            "--backend",
            "raw",
            "--server",
            &closed,
            "--timeout",
            "300ms",
        ],
        &[("ok.test", Class::Error)],
    )
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_backend_classes() {
    let s = server(RULES, 1).await;
    let addr = s.addr().to_string();
    let flags = [
        "--server",
        &addr,
        "--timeout",
        "300ms",
        "--attempts",
        "1",
        "--deadline",
        "2s",
    ];
    check(&flags, EVERY_CLASS).await;
    // A name stubborn refuses to ask (a 64-character label) is a local error.
    let long = format!("{}.test", "a".repeat(64));
    check(&["--server", &addr], &[(long.as_str(), Class::Error)]).await;
    // Nothing listening: ICMP port unreachable is a network error, not a timeout.
    let closed = closed_port().to_string();
    check(
        &["--server", &closed, "--timeout", "300ms", "--attempts", "1"],
        &[("ok.test", Class::Error)],
    )
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_backend_classes_through_the_glibc_override() {
    if !dnsload::glibc_override_supported() {
        eprintln!("skipped: the glibc override needs glibc");
        return;
    }
    let s = server(RULES, 1).await;
    let addr = s.addr().to_string();
    let flags = [
        "--backend",
        "system",
        "--server",
        &addr,
        "--timeout",
        "1s",
        "--attempts",
        "1",
        "--search",
        "corp.test",
        "--deadline",
        "5s",
        "--threads",
        "2",
    ];
    check(
        &flags,
        &[
            ("ok.test", Class::Ok),
            ("nx.test.", Class::Nxdomain),
            ("txtonly.test.", Class::Nodata),
            ("lost.test.", Class::Timeout),
            ("sf.test.", Class::Servfail),
            // glibc does not tell REFUSED from SERVFAIL: both come back as a fast EAI_AGAIN.
            ("ref.test.", Class::Servfail),
        ],
    )
    .await;
    s.shutdown().await;
}

/// A stuck getaddrinfo thread is not replaced: with one thread stuck, the next lookup waits
/// in the queue and is counted hung, visibly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_backend_does_not_pile_up_threads() {
    if !dnsload::glibc_override_supported() {
        return;
    }
    let s = server(&["answer name=slow.test. delay=3s"], 1).await;
    let addr = s.addr().to_string();
    let p = plan(&[
        "--backend",
        "system",
        "--server",
        &addr,
        "--timeout",
        "5s",
        "--attempts",
        "1",
        "--deadline",
        "500ms",
        "--threads",
        "1",
        "--name",
        "ok.test",
        "--count",
        "1",
    ]);
    let b = backend(&p).await;
    // The server answers after 3 s, glibc waits 5 s, dnsload observes for 0.5 s.
    let first = b.lookup("slow.test.").await;
    assert_eq!(first.class, Class::Hung);
    let detail = first.detail.unwrap_or_default();
    assert!(detail.contains("still running"), "{detail}");
    let second = b.lookup("ok.test.").await;
    assert_eq!(second.class, Class::Hung);
    let detail = second.detail.unwrap_or_default();
    assert!(
        detail.contains("queued") && detail.contains("1 of 1 stuck"),
        "{detail}"
    );
    let info = b.info();
    assert_eq!(info["stuck_threads_max"], 1);
    s.shutdown().await;
}

#[test]
fn system_backend_refuses_ipv6_servers_rather_than_falling_back() {
    let a = [
        "dnsload",
        "run",
        "--backend",
        "system",
        "--server",
        "[::1]:53",
        "--name",
        "x",
        "--count",
        "1",
    ];
    let cli = <dnsload::Cli as clap::Parser>::try_parse_from(a).unwrap();
    let dnsload::Command::Run(run) = cli.command else {
        unreachable!()
    };
    let e = dnsload::Plan::from_args(&run).unwrap_err().to_string();
    assert!(e.contains("IPv4 servers only"), "{e}");
}

/// The stub backend takes search list and options from a resolv.conf file, with --server
/// giving the address and port (resolv.conf cannot carry a port).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_backend_reads_a_resolv_conf_file() {
    let s = server(&[], 1).await;
    let dir = crate::util::tmpdir("resolvconf");
    let conf = dir.join("resolv.conf");
    std::fs::write(
        &conf,
        "nameserver 127.0.0.1\nsearch corp.test\noptions ndots:5 timeout:1 attempts:2\n",
    )
    .unwrap();
    let p = plan(&[
        "--resolv-conf",
        conf.to_str().unwrap(),
        "--server",
        &s.addr().to_string(),
        "--name",
        "myservice",
        "--count",
        "1",
    ]);
    let b = backend(&p).await;
    let o = b.lookup("myservice").await;
    assert_eq!(o.class, Class::Ok, "{o:?}");
    assert_eq!(o.answer_name.as_deref(), Some("myservice.corp.test."));
    let info = b.info();
    assert_eq!(info["config"]["ndots"], 5);
    assert_eq!(info["config"]["attempts"], 2);
    assert_eq!(info["config"]["servers"][0], s.addr().to_string());
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
