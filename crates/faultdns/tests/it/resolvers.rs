//! Real resolvers and load tools around faultdns, on loopback only: Unbound forwarding to
//! faultdns (every action), and dnsperf through faultdns in forward mode.
//!
//! Unbound gets a configuration written here: it listens on a loopback port, and its only
//! forwarder, for every name (`forward-zone: "."`), is the faultdns under test on loopback. It
//! has no root hints to use and no validator, so it never asks anyone else.

use std::{
    net::{SocketAddr, TcpListener, UdpSocket},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use faultdns::Server;
use hickory_proto::{op::ResponseCode, rr::RecordType};

use crate::{
    clients::required,
    util::{answer_data, query, tcp, udp, udp_raw},
};

const ZONE: &str = "\
$ORIGIN example.com.
@      300 IN SOA ns1 hostmaster 7 3600 600 86400 120
ns1    300 IN A 192.0.2.53
*       60 IN A 192.0.2.10
";

const RULES: &[&str] = &[
    "drop name=drop.example.com.",
    "servfail name=servfail.example.com.",
    "refused name=refused.example.com.",
    "nxdomain name=nxdomain.example.com.",
    "truncate name=truncate.example.com. proto=udp",
    "wrong-id name=wrong-id.example.com.",
    "malformed name=malformed.example.com.",
    "answer name=delay.example.com. delay=300ms",
];

fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn unbound_bin() -> Option<PathBuf> {
    ["unbound", "/usr/sbin/unbound"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| {
            Command::new(p)
                .arg("-V")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Unbound on a loopback port, forwarding everything to `faultdns`; killed on drop.
struct Unbound {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Unbound {
    /// Start Unbound forwarding to `faultdns` (a loopback address); `None` when it is not
    /// installed (a failure under `STUBBORN_REQUIRE_ALL=1`).
    async fn start(faultdns: SocketAddr, probe: &str) -> Option<Unbound> {
        assert!(faultdns.ip().is_loopback());
        let Some(bin) = unbound_bin() else {
            assert!(
                !required(),
                "unbound is missing and STUBBORN_REQUIRE_ALL=1: apt-get install unbound"
            );
            eprintln!("skipping: unbound not found (apt-get install unbound)");
            return None;
        };
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("faultdns-unbound-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("unbound.conf");
        std::fs::write(
            &conf,
            format!(
                "server:\n\
                 \x20 interface: 127.0.0.1\n\
                 \x20 port: {port}\n\
                 \x20 do-ip6: no\n\
                 \x20 do-daemonize: no\n\
                 \x20 chroot: \"\"\n\
                 \x20 username: \"\"\n\
                 \x20 directory: \"{dir}\"\n\
                 \x20 pidfile: \"\"\n\
                 \x20 use-syslog: no\n\
                 \x20 logfile: \"\"\n\
                 \x20 verbosity: 1\n\
                 \x20 num-threads: 1\n\
                 \x20 access-control: 127.0.0.0/8 allow\n\
                 \x20 module-config: \"iterator\"\n\
                 \x20 do-not-query-localhost: no\n\
                 \x20 qname-minimisation: no\n\
                 forward-zone:\n\
                 \x20 name: \".\"\n\
                 \x20 forward-addr: 127.0.0.1@{fport}\n\
                 remote-control:\n\
                 \x20 control-enable: no\n",
                dir = dir.display(),
                fport = faultdns.port(),
            ),
        )
        .unwrap();
        let check = Command::new(bin.with_file_name("unbound-checkconf"))
            .arg(&conf)
            .output();
        if let Ok(out) = check {
            assert!(
                out.status.success(),
                "unbound-checkconf: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        let log = std::fs::File::create(dir.join("unbound.log")).unwrap();
        let child = Command::new(&bin)
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let u = Unbound {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            dir,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let q = query(probe, RecordType::A, None).to_vec().unwrap();
            if udp_raw(u.addr, &q, Duration::from_millis(300))
                .await
                .is_some()
            {
                return Some(u);
            }
        }
        panic!(
            "unbound did not answer within 10 s; its log: {}",
            std::fs::read_to_string(u.dir.join("unbound.log")).unwrap_or_default()
        );
    }
}

async fn faultdns() -> Server {
    let mut b = Server::builder().zone(ZONE).unwrap().seed(9);
    for r in RULES {
        b = b.rule(r).unwrap();
    }
    b.start().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_accepts_every_answer_and_passes_servfail_on() {
    let f = faultdns().await;
    let Some(u) = Unbound::start(f.addr(), "probe.example.com.").await else {
        return;
    };
    for name in ["answer.example.com.", "truncate.example.com."] {
        let r = udp(u.addr, &query(name, RecordType::A, Some(1232)))
            .await
            .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{name}");
        assert_eq!(answer_data(&r), ["192.0.2.10"], "{name}");
    }
    assert!(
        f.counters().tcp_connections >= 1,
        "Unbound asked again over TCP after TC=1"
    );
    let start = Instant::now();
    let r = tcp(u.addr, &query("delay.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&r), ["192.0.2.10"]);
    assert!(start.elapsed() >= Duration::from_millis(290));
    let r = udp(u.addr, &query("nxdomain.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    for name in ["servfail.example.com.", "refused.example.com."] {
        let r = udp(u.addr, &query(name, RecordType::A, None))
            .await
            .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{name}");
    }
    let c = f.counters();
    assert_eq!((c.formerr, c.notimp, c.refused), (0, 0, 0), "{c:?}");
}

/// Drop and a wrong ID: Unbound gets no usable reply, and its client none in time. Garbage
/// (`malformed`): Unbound gives up on the reply at once and answers SERVFAIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_times_out_where_faultdns_sends_nothing_usable() {
    for action in ["drop", "wrong-id", "malformed"] {
        // A fresh Unbound each time: what it learns of an unresponsive server (its
        // infrastructure cache) would change the next case.
        let f = faultdns().await;
        let Some(u) = Unbound::start(f.addr(), "probe.example.com.").await else {
            return;
        };
        let name = format!("{action}.example.com.");
        let q = query(&name, RecordType::A, None);
        if action == "malformed" {
            let r = udp(u.addr, &q).await.expect("a reply");
            assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        } else {
            let start = Instant::now();
            let got = udp_raw(u.addr, &q.to_vec().unwrap(), Duration::from_millis(1500)).await;
            assert!(got.is_none(), "{action}: Unbound answered {got:?}");
            assert!(start.elapsed() >= Duration::from_millis(1400));
        }
        assert!(
            f.queries_for(&name) >= 1,
            "{action}: Unbound asked faultdns"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnsperf_through_forward_mode_loses_nothing() {
    let have = Command::new("dnsperf")
        .arg("-h")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty());
    if !have {
        assert!(
            !required(),
            "dnsperf is missing and STUBBORN_REQUIRE_ALL=1: apt-get install dnsperf"
        );
        eprintln!("skipping: dnsperf not found (apt-get install dnsperf)");
        return;
    }
    // The upstream serves any name under load.test.; the front one forwards everything.
    let back = Server::builder()
        .synthesize("load.test.", "192.0.2.1".parse().unwrap(), None)
        .unwrap()
        .start()
        .await
        .unwrap();
    let front = Server::builder()
        .upstream(back.addr())
        .rule("answer name=*.load.test. p=0.5")
        .unwrap()
        .seed(1)
        .start()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("faultdns-dnsperf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let names = dir.join("queries");
    let list: String = (0..200).map(|i| format!("n{i}.load.test A\n")).collect();
    std::fs::write(&names, list).unwrap();
    let port = front.addr().port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(["60", "dnsperf", "-s", "127.0.0.1", "-p", &port, "-d"])
            .arg(&names)
            // Bounded: 2 s at 2,000 queries/s, 10 outstanding at most.
            .args(["-l", "2", "-Q", "2000", "-q", "10", "-t", "5"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{text}");
    let field = |label: &str| -> u64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` in {text}"))
    };
    let sent = field("Queries sent:");
    let completed = field("Queries completed:");
    let lost = field("Queries lost:");
    assert!(sent >= 1000, "{text}");
    assert_eq!((completed, lost), (sent, 0), "{text}");
    let c = front.counters();
    assert_eq!(c.upstream_answered, sent, "{c:?}");
    assert_eq!(c.upstream_outstanding, 0);
    front.shutdown().await;
    back.shutdown().await;
}
