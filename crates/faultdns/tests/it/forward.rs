//! Forwarding: relayed byte for byte over UDP and TCP, what stays local, query and reply rules,
//! and every way an upstream can fail, against the scripted upstream of `upstream.rs`.

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use faultdns::{Counters, LogTarget, Server, UpstreamFailure};
use hickory_proto::{
    op::{Message, ResponseCode},
    rr::RecordType,
};

use crate::{
    upstream::{Responder, answer_for},
    util::{self, WAIT, answer_data, query, tcp, tcp_raw, udp, udp_raw},
};

/// Long enough to be sure, short enough for the suite: the upstream timeout of these tests.
const UP_TIMEOUT: Duration = Duration::from_millis(300);
/// How long to listen for a reply that must not come (past the upstream timeout).
const QUIET: Duration = Duration::from_millis(900);

async fn forwarder(up: &Responder, rules: &[&str], policy: UpstreamFailure) -> Server {
    let mut b = Server::builder()
        .zone(util::ZONE)
        .unwrap()
        .seed(1)
        .upstream(up.addr)
        .upstream_timeout(UP_TIMEOUT)
        .upstream_failure(policy);
    for r in rules {
        b = b.rule(r).unwrap();
    }
    b.start().await.unwrap()
}

fn bytes(name: &str, edns: Option<u16>) -> Vec<u8> {
    query(name, RecordType::A, edns).to_vec().unwrap()
}

/// Counters once nothing is outstanding any more (timeouts expire on their own schedule).
async fn settled(s: &Server) -> Counters {
    let start = Instant::now();
    loop {
        let c = s.counters();
        if c.upstream_outstanding == 0 || start.elapsed() > WAIT {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn relays_the_upstreams_bytes_over_udp_and_tcp() {
    let up = Responder::start().await;
    let s = forwarder(&up, &[], UpstreamFailure::Silence).await;
    for edns in [None, Some(1232)] {
        // Mixed case: the upstream must see the client's bytes, and the client the upstream's.
        let q = bytes("Relay.Example.NET.", edns);
        let (got, from) = udp_raw(s.addr(), &q, WAIT).await.expect("a UDP reply");
        assert_eq!(from, s.addr());
        assert_eq!(got, answer_for(&q), "UDP, edns {edns:?}: byte for byte");
        assert_eq!(
            &up.last()[2..],
            &q[2..],
            "the query went up unchanged but the ID"
        );
        let got = tcp_raw(s.addr(), &q, WAIT).await.expect("a TCP reply");
        assert_eq!(got, answer_for(&q), "TCP, edns {edns:?}: byte for byte");
    }
    // Names the data decides stay local: no upstream query.
    let before = up.seen();
    let local = udp(s.addr(), &query("www.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert!(local.metadata.authoritative);
    assert_eq!(answer_data(&local), ["192.0.2.10"]);
    let nx = tcp(s.addr(), &query("nope.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(up.seen(), before);
    let c = settled(&s).await;
    assert_eq!((c.forwarded, c.upstream_answered), (4, 4));
    assert_eq!(c.queries, 6);
    s.shutdown().await;
}

#[tokio::test]
async fn pipelined_tcp_queries_come_back_on_one_connection() {
    use tokio::io::AsyncWriteExt;
    let up = Responder::start().await;
    let s = forwarder(&up, &[], UpstreamFailure::Silence).await;
    let mut conn = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    let mut sent = Vec::new();
    for i in 0..20 {
        let q = bytes(&format!("p{i}.pipeline.test."), None);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        conn.write_all(&framed).await.unwrap();
        sent.push(q);
    }
    let mut got = Vec::new();
    for _ in 0..20 {
        got.push(util::read_framed(&mut conn, WAIT).await.expect("a reply"));
    }
    let mut want: Vec<Vec<u8>> = sent.iter().map(|q| answer_for(q)).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(settled(&s).await.upstream_answered, 20);
    s.shutdown().await;
}

#[tokio::test]
async fn query_rules_decide_before_forwarding() {
    let up = Responder::start().await;
    let s = forwarder(
        &up,
        &[
            "drop name=drop.test.",
            "servfail name=sf.test.",
            "wrong-id name=wid.test.",
            "truncate name=tc.test.",
            "nxdomain name=nx.test.",
        ],
        UpstreamFailure::Silence,
    )
    .await;
    assert!(
        udp_raw(s.addr(), &bytes("drop.test.", None), QUIET)
            .await
            .is_none()
    );
    let sf = udp(s.addr(), &query("sf.test.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(sf.metadata.response_code, ResponseCode::ServFail);
    let nx = tcp(s.addr(), &query("nx.test.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(up.seen(), 0, "decided without the upstream");
    let q = bytes("wid.test.", None);
    let (got, _) = udp_raw(s.addr(), &q, WAIT).await.unwrap();
    assert_ne!(&got[..2], &q[..2], "another ID");
    assert_eq!(
        &got[2..],
        &answer_for(&q)[2..],
        "the upstream's reply otherwise"
    );
    let tc = udp(s.addr(), &query("tc.test.", RecordType::A, None))
        .await
        .unwrap();
    assert!(tc.metadata.truncation && tc.answers.is_empty());
    assert_eq!(tc.metadata.response_code, ResponseCode::NoError);
    let q = bytes("tc.test.", None);
    assert_eq!(
        tcp_raw(s.addr(), &q, WAIT).await.unwrap(),
        answer_for(&q),
        "over TCP truncate forwards"
    );
    assert_eq!(up.seen(), 2);
    s.shutdown().await;
}

#[tokio::test]
async fn reply_rules_act_after_the_upstream_answered() {
    let up = Responder::start().await;
    let s = forwarder(
        &up,
        &[
            "drop name=rd.test. on=reply",
            "servfail name=rs.test. on=reply",
            "answer name=slow.test. delay=300ms on=reply",
            "truncate name=rt.test. on=reply",
        ],
        UpstreamFailure::Silence,
    )
    .await;
    assert!(
        udp_raw(s.addr(), &bytes("rd.test.", None), QUIET)
            .await
            .is_none()
    );
    assert!(
        tcp_raw(s.addr(), &bytes("rd.test.", None), QUIET)
            .await
            .is_none()
    );
    for over_tcp in [false, true] {
        let q = query("rs.test.", RecordType::A, Some(1232));
        let r = if over_tcp {
            tcp(s.addr(), &q).await
        } else {
            udp(s.addr(), &q).await
        };
        let r = r.unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        assert!(r.answers.is_empty());
    }
    let q = bytes("slow.test.", None);
    let start = Instant::now();
    let (got, _) = udp_raw(s.addr(), &q, WAIT).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(290));
    assert_eq!(got, answer_for(&q));
    let tc = udp(s.addr(), &query("rt.test.", RecordType::A, None))
        .await
        .unwrap();
    assert!(tc.metadata.truncation && tc.answers.is_empty());
    assert_eq!(up.seen(), 6, "every query went up");
    let c = settled(&s).await;
    assert_eq!(c.upstream_answered, 6);
    let fired: Vec<u64> = c.rules.iter().map(|r| r.fired).collect();
    assert_eq!(fired, [2, 2, 1, 1]);
    s.shutdown().await;
}

/// Every upstream failure, over UDP and TCP: silence by default, with exact counters.
#[tokio::test]
async fn upstream_failures_are_silent_and_counted() {
    let up = Responder::start().await;
    let s = forwarder(&up, &[], UpstreamFailure::Silence).await;
    let udp_cases = [
        "silent.x.",
        "garbage.x.",
        "big.x.",
        "wrongid.x.",
        "otherq.x.",
    ];
    let tcp_cases = ["silent.x.", "garbage.x.", "wrongid.x.", "close.x."];
    let mut waits = Vec::new();
    for name in udp_cases {
        let addr = s.addr();
        waits.push(tokio::spawn(async move {
            (
                name,
                udp_raw(addr, &bytes(name, None), QUIET).await.is_none(),
            )
        }));
    }
    for name in tcp_cases {
        let addr = s.addr();
        waits.push(tokio::spawn(async move {
            (
                name,
                tcp_raw(addr, &bytes(name, None), QUIET).await.is_none(),
            )
        }));
    }
    for w in waits {
        let (name, silent) = w.await.unwrap();
        assert!(silent, "{name}: silence");
    }
    let c = settled(&s).await;
    assert_eq!(c.forwarded, 9);
    // UDP: silent, wrongid, otherq time out; TCP: silent, wrongid.
    assert_eq!(c.upstream_timeout, 5, "{c:?}");
    assert_eq!(c.upstream_garbage, 2, "{c:?}");
    assert_eq!(c.upstream_oversize, 1, "{c:?}");
    assert_eq!(c.upstream_tcp_closed, 1, "{c:?}");
    assert_eq!(c.upstream_wrong_id, 3, "{c:?}");
    assert_eq!(c.upstream_answered, 0);
    assert_eq!(c.upstream_outstanding, 0, "nothing left waiting");
    // Still serving, both ways.
    let q = bytes("fine.x.", None);
    assert_eq!(udp_raw(s.addr(), &q, WAIT).await.unwrap().0, answer_for(&q));
    assert_eq!(tcp_raw(s.addr(), &q, WAIT).await.unwrap(), answer_for(&q));
    s.shutdown().await;
}

#[tokio::test]
async fn servfail_policy_answers_failures() {
    let up = Responder::start().await;
    let s = forwarder(&up, &[], UpstreamFailure::ServFail).await;
    for name in ["silent.x.", "garbage.x.", "big.x."] {
        let start = Instant::now();
        let r = udp(s.addr(), &query(name, RecordType::A, None))
            .await
            .unwrap_or_else(|| panic!("{name}: a reply"));
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{name}");
        if name == "silent.x." {
            assert!(start.elapsed() >= UP_TIMEOUT - Duration::from_millis(10));
        }
    }
    for name in ["silent.x.", "close.x."] {
        let r = tcp(s.addr(), &query(name, RecordType::A, Some(1232)))
            .await
            .unwrap_or_else(|| panic!("{name}: a reply"));
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{name}");
        assert!(r.edns.is_some(), "OPT answered with OPT");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn outstanding_queries_are_bounded() {
    let up = Responder::start().await;
    let s = Server::builder()
        .seed(1)
        .upstream(up.addr)
        .upstream_timeout(Duration::from_millis(800))
        .upstream_failure(UpstreamFailure::ServFail)
        .max_upstream_outstanding(1)
        .start()
        .await
        .unwrap();
    let addr = s.addr();
    let first =
        tokio::spawn(async move { udp(addr, &query("silent.x.", RecordType::A, None)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    let second = udp(s.addr(), &query("ok.x.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(second.metadata.response_code, ResponseCode::ServFail);
    assert!(
        start.elapsed() < Duration::from_millis(700),
        "at once, not after a timeout"
    );
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.metadata.response_code, ResponseCode::ServFail);
    let c = settled(&s).await;
    assert_eq!((c.upstream_overload, c.upstream_timeout), (1, 1));
    // With room again, queries go through.
    let r = udp(s.addr(), &query("ok.x.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&r), ["198.51.100.7"]);
    s.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_counted() {
    // A port with nothing listening: TCP is refused; UDP gets ICMP errors and times out.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let s = Server::builder()
        .upstream(gone)
        .upstream_timeout(UP_TIMEOUT)
        .start()
        .await
        .unwrap();
    assert!(
        tcp_raw(s.addr(), &bytes("a.test.", None), QUIET)
            .await
            .is_none()
    );
    assert!(
        udp_raw(s.addr(), &bytes("a.test.", None), QUIET)
            .await
            .is_none()
    );
    let c = settled(&s).await;
    assert_eq!(
        (c.upstream_unreachable, c.upstream_timeout),
        (1, 1),
        "{c:?}"
    );
    s.shutdown().await;
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_log_says_how_each_forwarded_query_went() {
    let up = Responder::start().await;
    let out = Shared::default();
    let s = Server::builder()
        .seed(1)
        .upstream(up.addr)
        .upstream_timeout(UP_TIMEOUT)
        .rule("servfail name=rs.test. on=reply")
        .unwrap()
        .log(LogTarget::Writer(Box::new(out.clone())))
        .start()
        .await
        .unwrap();
    let _ = udp(s.addr(), &query("ok.test.", RecordType::A, None))
        .await
        .unwrap();
    let _ = udp(s.addr(), &query("rs.test.", RecordType::A, None))
        .await
        .unwrap();
    assert!(
        udp_raw(s.addr(), &bytes("silent.test.", None), QUIET)
            .await
            .is_none()
    );
    settled(&s).await;
    s.shutdown().await;
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let by_name = |n: &str| {
        lines
            .iter()
            .find(|l| l["name"] == n)
            .unwrap_or_else(|| panic!("{n} in {text}"))
    };
    let ok = by_name("ok.test.");
    assert_eq!(ok["upstream"], up.addr.to_string());
    assert_eq!(ok["upstream_outcome"], "answered");
    assert!(ok["upstream_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(ok["action"], "answer");
    let rs = by_name("rs.test.");
    assert_eq!(
        (&rs["reply_rule"], &rs["reply_action"]),
        (&0.into(), &"servfail".into())
    );
    assert_eq!(by_name("silent.test.")["upstream_outcome"], "timeout");
}

#[tokio::test]
async fn a_faultdns_upstream_answers_through_another() {
    // Two faultdns: the front one has no data, the back one the zone; both on loopback.
    let back = util::server(&[]).await;
    let front = Server::builder()
        .upstream(back.addr())
        .rule("servfail name=www.example.com. qtype=AAAA on=reply")
        .unwrap()
        .start()
        .await
        .unwrap();
    let a = tcp(
        front.addr(),
        &query("www.example.com.", RecordType::A, None),
    )
    .await
    .unwrap();
    assert_eq!(answer_data(&a), ["192.0.2.10"]);
    assert!(
        a.metadata.authoritative,
        "the back server's AA bit came through"
    );
    let aaaa = udp(
        front.addr(),
        &query("www.example.com.", RecordType::AAAA, None),
    )
    .await
    .unwrap();
    assert_eq!(aaaa.metadata.response_code, ResponseCode::ServFail);
    let nx: Message = udp(
        front.addr(),
        &query("nope.example.com.", RecordType::A, None),
    )
    .await
    .unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(back.counters().queries, 3);
    front.shutdown().await;
    back.shutdown().await;
}
