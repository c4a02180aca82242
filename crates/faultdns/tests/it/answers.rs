//! Authoritative answers: positive, NXDOMAIN, NODATA, CNAME chains, EDNS and truncation.

use faultdns::Server;
use hickory_proto::{
    op::ResponseCode,
    rr::{RData, RecordType},
};

use crate::util::{self, answer_data, query, tcp, udp};

fn soa_serial(m: &hickory_proto::op::Message) -> Option<u32> {
    m.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(s) => Some(s.serial),
        _ => None,
    })
}

#[tokio::test]
async fn answers_nxdomain_and_nodata_with_aa_and_soa() {
    let s = util::server(&[]).await;
    let r = udp(s.addr(), &query("WWW.example.COM.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    assert_eq!(answer_data(&r), ["192.0.2.10"]);
    assert_eq!(
        r.queries[0].name().to_string(),
        "WWW.example.COM.",
        "question echoed as sent"
    );

    let nx = udp(s.addr(), &query("nope.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.metadata.authoritative);
    assert!(nx.answers.is_empty());
    assert_eq!(soa_serial(&nx), Some(7));
    // Negative TTL: min(SOA TTL, MINIMUM) = 120.
    assert_eq!(nx.authorities[0].ttl, 120);

    let nodata = udp(s.addr(), &query("www.example.com.", RecordType::MX, None))
        .await
        .unwrap();
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.metadata.authoritative && nodata.answers.is_empty());
    assert_eq!(soa_serial(&nodata), Some(7));

    // An empty non-terminal exists: NODATA, not NXDOMAIN.
    let ent = udp(s.addr(), &query("b.deep.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(ent.metadata.response_code, ResponseCode::NoError);
    assert!(ent.answers.is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn cname_chains_and_wildcards() {
    let s = util::server(&[]).await;
    let r = udp(s.addr(), &query("alias2.example.com.", RecordType::A, None))
        .await
        .unwrap();
    let types: Vec<RecordType> = r.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME, RecordType::CNAME, RecordType::A]);
    assert_eq!(r.answers[2].data.to_string(), "192.0.2.10");
    let gone = udp(s.addr(), &query("gone.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(gone.answers.len(), 1);
    let w = udp(
        s.addr(),
        &query("x.y.wild.example.com.", RecordType::A, None),
    )
    .await
    .unwrap();
    assert_eq!(answer_data(&w), ["192.0.2.30"]);
    assert_eq!(w.answers[0].name.to_string(), "x.y.wild.example.com.");
    s.shutdown().await;
}

#[tokio::test]
async fn record_lines_get_a_synthesised_soa() {
    let s = Server::builder()
        .record("cloudflare.com. 60 A 192.0.2.1")
        .unwrap()
        .start()
        .await
        .unwrap();
    let r = udp(s.addr(), &query("cloudflare.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&r), ["192.0.2.1"]);
    for name in ["other.com.", "elsewhere.example."] {
        let nx = udp(s.addr(), &query(name, RecordType::A, None))
            .await
            .unwrap();
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(nx.metadata.authoritative);
        assert!(soa_serial(&nx).is_some(), "{name}: SOA in authority");
    }
    let nodata = udp(s.addr(), &query("cloudflare.com.", RecordType::AAAA, None))
        .await
        .unwrap();
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert_eq!(nodata.authorities[0].name.to_string(), "com.");
    s.shutdown().await;
}

#[tokio::test]
async fn synthesis_answers_any_name_below_the_suffix() {
    let s = Server::builder()
        .synthesize("load.test.", "192.0.2.99".parse().unwrap(), None)
        .unwrap()
        .start()
        .await
        .unwrap();
    for i in 0..20 {
        let name = format!("n{i}.Load.Test.");
        let r = udp(s.addr(), &query(&name, RecordType::A, None))
            .await
            .unwrap();
        assert_eq!(answer_data(&r), ["192.0.2.99"]);
        assert_eq!(r.answers[0].name.to_string(), name);
    }
    let aaaa = udp(s.addr(), &query("n1.load.test.", RecordType::AAAA, None))
        .await
        .unwrap();
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(aaaa.answers.is_empty() && !aaaa.authorities.is_empty());
    let apex = udp(s.addr(), &query("load.test.", RecordType::A, None))
        .await
        .unwrap();
    assert!(apex.answers.is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn edns_is_echoed_and_big_answers_truncate_without_it() {
    let mut b = Server::builder();
    for i in 0..40 {
        b = b.record(&format!("big.example. 60 A 192.0.2.{i}")).unwrap();
    }
    let s = b.start().await.unwrap();
    let plain = udp(s.addr(), &query("big.example.", RecordType::A, None))
        .await
        .unwrap();
    assert!(
        plain.metadata.truncation,
        "40 A records do not fit 512 bytes"
    );
    assert!(plain.answers.is_empty());
    assert!(plain.edns.is_none());
    let with_edns = udp(s.addr(), &query("big.example.", RecordType::A, Some(1232)))
        .await
        .unwrap();
    assert!(!with_edns.metadata.truncation);
    assert_eq!(with_edns.answers.len(), 40);
    assert!(with_edns.edns.is_some(), "OPT echoed");
    let over_tcp = tcp(s.addr(), &query("big.example.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(over_tcp.answers.len(), 40);
    assert_eq!(s.counters().truncated, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn listens_on_ipv6_too() {
    let Ok(probe) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("skipping: no IPv6 loopback here");
        return;
    };
    drop(probe);
    let s = Server::builder()
        .zone(util::ZONE)
        .unwrap()
        .listen("127.0.0.1:0".parse().unwrap())
        .listen("[::1]:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    assert_eq!(s.addrs().len(), 2);
    let v6 = s.addrs()[1];
    let sock = tokio::net::UdpSocket::bind("[::1]:0").await.unwrap();
    let q = query("www.example.com.", RecordType::AAAA, None);
    sock.send_to(&q.to_vec().unwrap(), v6).await.unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(util::WAIT, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let r = hickory_proto::op::Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(answer_data(&r), ["2001:db8::10"]);
    let t = tcp(v6, &q).await.unwrap();
    assert_eq!(answer_data(&t), ["2001:db8::10"]);
    s.shutdown().await;
}
