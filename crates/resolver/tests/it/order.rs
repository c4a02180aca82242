//! `lookup_ip` returns addresses in RFC 6724 destination order (the rules themselves are
//! unit-tested with the RFC's examples in the crate).

use std::net::IpAddr;

use stubborn::{Config, Resolver};

/// Loopback addresses of both families in the hosts file: `::1` (precedence 50) comes before
/// `127.0.0.1` (precedence 35) when this host has IPv6 loopback, whatever the file's order.
#[tokio::test]
async fn loopback_of_both_families_in_rfc_6724_order() {
    let dir = std::env::temp_dir().join(format!("stubborn-it-order-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 dual.test\n::1 dual.test\n").expect("write");
    let config = Config::new(vec!["127.0.0.1:53".parse().unwrap()]).with_hosts_file(Some(hosts));
    let r = Resolver::new(config).expect("valid");
    let answer = r.lookup_ip("dual.test").await.expect("from the hosts file");
    let v4: IpAddr = "127.0.0.1".parse().unwrap();
    let v6: IpAddr = "::1".parse().unwrap();
    let has_v6_loopback = std::net::UdpSocket::bind("[::1]:0").is_ok();
    if has_v6_loopback {
        assert_eq!(answer.ips(), [v6, v4]);
        let records: Vec<_> = answer.records().iter().map(|r| r.record_type()).collect();
        assert_eq!(
            records,
            [stubborn::RecordType::AAAA, stubborn::RecordType::A]
        );
    } else {
        assert_eq!(answer.ips(), [v4, v6], "no IPv6 loopback: ::1 is unusable");
    }
}
