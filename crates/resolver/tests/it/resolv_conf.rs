//! resolv.conf fixtures, including odd real-world files. Never this machine's own file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use stubborn::{Config, ErrorKind};

fn load(name: &str) -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/resolv")
        .join(name);
    Config::from_resolv_conf(&path).expect("fixture readable")
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn systemd_resolved_stub() {
    let c = load("systemd-resolved.conf");
    assert_eq!(c.servers(), addrs(&["127.0.0.53:53"]));
    assert_eq!(c.search(), strings(&["lan"]));
    assert_eq!(c.edns(), Some(1232));
    // Absent values take our defaults, not glibc's 5 s / 2 attempts.
    assert_eq!(
        (c.timeout(), c.attempts(), c.ndots()),
        (Duration::from_secs(1), 5, 1)
    );
}

#[test]
fn kubernetes_pod() {
    let c = load("kubernetes-pod.conf");
    assert_eq!(c.servers(), addrs(&["10.96.0.10:53"]));
    assert_eq!(c.search().len(), 4);
    assert_eq!(c.search()[0], "default.svc.cluster.local");
    assert_eq!(c.ndots(), 5);
}

#[test]
fn networkmanager_with_ipv6_and_zone() {
    let c = load("networkmanager.conf");
    let servers = c.servers();
    assert_eq!(servers.len(), 3);
    assert_eq!(servers[0], "192.168.1.1:53".parse().unwrap());
    match servers[1] {
        SocketAddr::V6(v6) => {
            assert_eq!(v6.ip().to_string(), "fe80::1");
            assert!(v6.scope_id() > 0, "lo has an interface index");
        }
        other => panic!("not IPv6: {other}"),
    }
    assert_eq!(servers[2], "[2001:4860:4860::8888]:53".parse().unwrap());
    assert_eq!(c.search(), strings(&["corp.example.com"]));
}

/// CRLF, tabs, an indented line, a host name as server, an empty nameserver line, an inline
/// comment, domain after search, 4 servers, out-of-range and unknown options, sortlist. Read as
/// glibc 2.36 reads it: the `\r` ends the last value of each line, so only the server followed
/// by a comment is an address, and the domain `corp.example\r` is no domain name. (glibc itself
/// loops forever on this file's sortlist line; see the module docs of `resolv_conf`.)
#[test]
fn odd_real_world_file() {
    let c = load("odd-real-world.conf");
    assert_eq!(c.servers(), addrs(&["10.0.0.1:53"]));
    assert!(c.search().is_empty(), "{:?}", c.search());
    assert_eq!(c.ndots(), 15, "glibc caps ndots at 15");
    assert_eq!(c.timeout(), Duration::from_secs(1), "timeout:0 acts as 1 s");
    assert_eq!(c.attempts(), 5, "glibc caps attempts at 5");
    assert!(c.rotate());
    assert!(
        !c.single_request(),
        "single-request-reopen is not single-request"
    );
}

/// The same file with LF line endings.
#[test]
fn odd_real_world_file_without_cr() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resolv/odd-real-world.conf");
    let text = std::fs::read_to_string(path)
        .expect("fixture readable")
        .replace("\r\n", "\n");
    let c = Config::parse_resolv_conf(&text);
    assert_eq!(
        c.servers(),
        addrs(&["10.0.0.1:53", "10.0.0.2:53", "127.0.0.1:53"])
    );
    assert_eq!(c.search(), strings(&["corp.example"]));
}

#[test]
fn comments_only_means_localhost_and_defaults() {
    let c = load("comments-only.conf");
    assert_eq!(c.servers(), addrs(&["127.0.0.1:53"]));
    assert!(c.search().is_empty());
    assert_eq!((c.timeout(), c.attempts()), (Duration::from_secs(1), 5));
}

#[test]
fn explicit_values_are_honoured() {
    let c = load("explicit-values.conf");
    assert_eq!(
        c.search(),
        strings(&["new.example", "other.example"]),
        "last line wins"
    );
    assert_eq!((c.timeout(), c.attempts()), (Duration::from_secs(3), 2));
    assert!(c.tcp_only() && c.single_request());
    assert_eq!(c.ndots(), 0, "ndots:abc reads as 0, as atoi");
}

#[test]
fn ports_are_an_extension() {
    let c = load("high-port.conf");
    assert_eq!(c.servers(), addrs(&["127.0.0.1:5353", "[::1]:5353"]));
}

#[test]
fn unreadable_file_is_a_config_error() {
    let e = Config::from_resolv_conf("/nonexistent/stubborn/resolv.conf").expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/stubborn/resolv.conf: "),
        "{e}"
    );
}

#[tokio::test]
async fn a_parsed_file_drives_lookups() {
    let server = crate::util::faultdns(&[]).await;
    let text = format!(
        "nameserver {}\nsearch example.com\noptions timeout:1\n",
        server.addr()
    );
    let r = stubborn::Resolver::new(Config::parse_resolv_conf(&text).with_hosts_file(None))
        .expect("valid");
    let answer = r
        .lookup_ip("www")
        .await
        .expect("www.example.com via the search list");
    assert_eq!(answer.name().to_string(), "www.example.com.");
}
