//! The hickory-server layer: a hickory-server `Server` with an in-memory zone behind
//! [`FaultLayer`], queried by dig (UDP and TCP) and by the stubborn resolver.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use faultdns::{
    Error,
    hickory::{Control, FaultLayer},
};
use hickory_proto::{
    op::ResponseCode,
    rr::{Name, RecordType},
    serialize::txt::Parser,
};
use hickory_server::{
    Server,
    net::runtime::TokioRuntimeProvider,
    store::in_memory::InMemoryZoneHandler,
    zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType},
};
use tokio::net::{TcpListener, UdpSocket};

use crate::{
    clients::{self, Client},
    util::{query, tcp, udp},
};

const ZONE: &str = "\
$ORIGIN example.com.
@     300 IN SOA ns1 hostmaster 7 3600 600 86400 120
ns1   300 IN A 192.0.2.53
www   60  IN A 192.0.2.10
www   60  IN AAAA 2001:db8::10
sf    60  IN A 192.0.2.11
lost  60  IN A 192.0.2.12
tc    60  IN A 192.0.2.13
rs    60  IN A 192.0.2.14
slow  60  IN A 192.0.2.15
";

const RULES: &[&str] = &[
    "servfail name=sf.example.com.",
    "drop name=lost.example.com.",
    "nxdomain name=www.example.com. qtype=AAAA",
    "truncate name=tc.example.com.",
    "servfail name=rs.example.com. on=reply",
    "answer name=slow.example.com. delay=300ms",
];

fn catalog() -> Catalog {
    let (origin, records) = Parser::new(ZONE, None, Some(Name::root())).parse().unwrap();
    let zone = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
    )
    .unwrap();
    let mut catalog = Catalog::new();
    let handlers: Vec<Arc<dyn ZoneHandler>> = vec![Arc::new(zone)];
    catalog.upsert(origin.into(), handlers);
    catalog
}

/// A hickory-server on one loopback port (UDP and TCP), with the layer around the catalog.
async fn serve(rules: &[&str]) -> (Server<FaultLayer<Catalog>>, Control, SocketAddr) {
    let mut b = FaultLayer::builder().seed(5);
    for r in rules {
        b = b.rule(r).unwrap();
    }
    let layer = b.wrap(catalog()).unwrap();
    let control = layer.control();
    let (udp_sock, tcp_sock) = loop {
        let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = u.local_addr().unwrap().port();
        if let Ok(t) = TcpListener::bind(("127.0.0.1", port)).await {
            break (u, t);
        }
    };
    let addr = udp_sock.local_addr().unwrap();
    let mut server = Server::new(layer);
    server.register_socket(udp_sock);
    server.register_listener(tcp_sock, Duration::from_secs(5), 65_535);
    (server, control, addr)
}

#[test]
fn wire_faults_are_rejected_with_a_clear_error() {
    for rule in ["wrong-id name=x.", "malformed p=0.1"] {
        let e = FaultLayer::builder()
            .rule(rule)
            .unwrap()
            .wrap(catalog())
            .unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("not available in the hickory-server layer") && msg.contains(rule),
            "{msg}"
        );
    }
    let layer = FaultLayer::builder().wrap(catalog()).unwrap();
    let bad = vec!["malformed".parse().unwrap()];
    assert!(layer.control().set_rules(bad).is_err());
    assert!(
        layer.control().counters().rules.is_empty(),
        "old rules kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hickory_server_with_faults_answers_dig_over_udp_and_tcp() {
    let Some(dig) = clients::require(Client::Dig) else {
        return;
    };
    let (mut server, control, addr) = serve(RULES).await;
    let ask = move |name: &'static str, qtype: &'static str, tcp: bool| {
        tokio::task::spawn_blocking(move || dig.ask(addr, name, qtype, tcp, true, 2))
    };
    for tcp in [false, true] {
        let ok = ask("www.example.com.", "A", tcp).await.unwrap();
        assert_eq!(ok.status.as_deref(), Some("NOERROR"), "{ok}");
        assert_eq!(ok.answers, ["192.0.2.10"], "{ok}");
        assert!(ok.flags.contains(&"aa".to_string()), "{ok}");
        let sf = ask("sf.example.com.", "A", tcp).await.unwrap();
        assert_eq!(sf.status.as_deref(), Some("SERVFAIL"), "{sf}");
        let nx = ask("www.example.com.", "AAAA", tcp).await.unwrap();
        assert_eq!(nx.status.as_deref(), Some("NXDOMAIN"), "{nx}");
        let rs = ask("rs.example.com.", "A", tcp).await.unwrap();
        assert_eq!(rs.status.as_deref(), Some("SERVFAIL"), "on=reply: {rs}");
        let lost = ask("lost.example.com.", "A", tcp).await.unwrap();
        assert!(lost.timed_out, "{lost}");
        let tc = ask("tc.example.com.", "A", tcp).await.unwrap();
        assert_eq!(tc.answers, ["192.0.2.13"], "{tc}");
        if !tcp {
            assert!(
                tc.stdout.contains("Truncated, retrying in TCP mode"),
                "{tc}"
            );
        }
    }
    let start = std::time::Instant::now();
    let slow = ask("slow.example.com.", "A", false).await.unwrap();
    assert_eq!(slow.answers, ["192.0.2.15"], "{slow}");
    assert!(start.elapsed() >= Duration::from_millis(290));
    let c = control.counters();
    assert_eq!(c.queries, 14, "{c:?}");
    let fired: Vec<u64> = c.rules.iter().map(|r| r.fired).collect();
    // tc: once over UDP (dig then asks over TCP, where truncate fires without effect), once
    // over TCP.
    assert_eq!(fired, [2, 2, 2, 3, 2, 1], "{c:?}");
    server.shutdown_gracefully().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hickory_server_with_faults_answers_stubborn() {
    let (mut server, control, addr) = serve(RULES).await;
    let resolver = stubborn::Resolver::new(
        // No cache: every lookup below must reach the server, whose rules change midway.
        stubborn::Config::new(vec![addr])
            .with_hosts_file(None)
            .with_cache(None)
            .with_timeout(Duration::from_millis(500))
            .with_attempts(1),
    )
    .unwrap();
    let ok = resolver.lookup_ip("www.example.com.").await.unwrap();
    assert!(
        ok.ips().contains(&"192.0.2.10".parse().unwrap()),
        "{:?}",
        ok.ips()
    );
    let sf = resolver
        .lookup("sf.example.com.", RecordType::A)
        .await
        .unwrap_err();
    assert_eq!(sf.kind(), stubborn::ErrorKind::ServFail, "{sf}");
    let nx = resolver
        .lookup("www.example.com.", RecordType::AAAA)
        .await
        .unwrap_err();
    assert_eq!(nx.kind(), stubborn::ErrorKind::NxDomain, "{nx}");
    let lost = resolver
        .lookup("lost.example.com.", RecordType::A)
        .await
        .unwrap_err();
    assert_eq!(lost.kind(), stubborn::ErrorKind::Timeout, "{lost}");
    // Truncated over UDP: stubborn asks again over TCP and gets the answer.
    let tc = resolver
        .lookup("tc.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(
        tc.ips(),
        ["192.0.2.13".parse::<std::net::IpAddr>().unwrap()]
    );
    // Rules replaced while serving.
    control
        .set_rules(vec!["refused name=www.example.com.".parse().unwrap()])
        .unwrap();
    let refused = resolver
        .lookup("www.example.com.", RecordType::A)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), stubborn::ErrorKind::Refused, "{refused}");
    assert_eq!(control.counters().rules[0].fired, 1);
    // The raw client sees the layer's responses as well-formed DNS, with EDNS echoed.
    let r = udp(addr, &query("sf.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(
        r.metadata.response_code,
        ResponseCode::NoError,
        "rules replaced"
    );
    let r = tcp(addr, &query("www.example.com.", RecordType::A, Some(1232)))
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(r.edns.is_some());
    server.shutdown_gracefully().await.unwrap();
}
