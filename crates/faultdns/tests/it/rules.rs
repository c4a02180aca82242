//! Rule semantics over the wire: probability and seed, every/first, replacement, counters.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hickory_proto::{op::Message, rr::RecordType};

use crate::util::{self, WAIT, query, udp};

const WWW: &str = "www.example.com.";

/// Which of `n` sequential UDP queries the server dropped. The server's counters say when each
/// decision is made; the wire must agree: a reply for every query not dropped, none otherwise.
async fn drop_pattern(seed: u64, n: usize) -> Vec<bool> {
    let s = faultdns::Server::builder()
        .zone(util::ZONE)
        .unwrap()
        .rule("drop name=www.example.com. p=0.3")
        .unwrap()
        .seed(seed)
        .start()
        .await
        .unwrap();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = [0u8; 512];
    let mut dropped = Vec::new();
    for i in 0..n {
        let q = query(WWW, RecordType::A, None);
        sock.send_to(&q.to_vec().unwrap(), s.addr()).await.unwrap();
        let deadline = Instant::now() + WAIT;
        while s.counters().rules[0].matched < i as u64 + 1 {
            assert!(
                Instant::now() < deadline,
                "query {i} never reached the rules"
            );
            // The server runs on the other worker thread; a timer tick would be far slower.
            tokio::task::yield_now().await;
        }
        let fired = s.counters().rules[0].fired > dropped.iter().filter(|d| **d).count() as u64;
        // A reply sent despite a drop would also show as an ID mismatch on the next query.
        let wait = if fired {
            Duration::from_millis(5)
        } else {
            WAIT
        };
        let reply = tokio::time::timeout(wait, sock.recv_from(&mut buf)).await;
        match reply {
            Ok(Ok((len, _))) => {
                assert!(!fired, "query {i} was dropped but a reply came");
                let r = Message::from_vec(&buf[..len]).unwrap();
                assert_eq!(r.metadata.id, q.metadata.id);
            }
            _ => assert!(
                fired,
                "query {i} was answered by the rules but no reply came"
            ),
        }
        dropped.push(fired);
    }
    s.shutdown().await;
    dropped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probability_over_the_wire_is_seeded() {
    // The decision engine's unit test checks 30% +/- 2% of 10,000 and seeding directly; here a
    // smaller run shows the same decisions reach the wire and repeat with the seed.
    let a = drop_pattern(11, 200).await;
    let b = drop_pattern(11, 200).await;
    assert_eq!(a, b, "same seed, same drops");
    let drops = a.iter().filter(|d| **d).count();
    assert!((30..=90).contains(&drops), "{drops} of 200 at p=0.3");
    let c = drop_pattern(12, 200).await;
    assert_ne!(a, c, "another seed, other drops");
}

#[tokio::test]
async fn probability_is_thirty_percent_of_ten_thousand() {
    const N: u64 = 10_000;
    let s = faultdns::Server::builder()
        .zone(util::ZONE)
        .unwrap()
        .rule("drop name=www.example.com. p=0.3")
        .unwrap()
        .seed(5)
        .start()
        .await
        .unwrap();
    let sock = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let replies = Arc::new(AtomicU64::new(0));
    let reader = tokio::spawn({
        let (sock, replies) = (sock.clone(), replies.clone());
        async move {
            let mut buf = [0u8; 512];
            while sock.recv_from(&mut buf).await.is_ok() {
                replies.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let bytes = query(WWW, RecordType::A, None).to_vec().unwrap();
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut sent = 0;
    while sent < N {
        for _ in 0..200 {
            sock.send_to(&bytes, s.addr()).await.unwrap();
        }
        sent += 200;
        // Pace to the server so no datagram is lost in a socket buffer.
        while s.counters().rules[0].matched < sent {
            assert!(
                Instant::now() < deadline,
                "server fell behind: {:?}",
                s.counters()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let c = s.counters();
    assert_eq!(c.rules[0].matched, N);
    let fired = c.rules[0].fired;
    assert!((2_800..=3_200).contains(&fired), "{fired} of 10000 dropped");
    while replies.load(Ordering::Relaxed) < N - fired && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        replies.load(Ordering::Relaxed),
        N - fired,
        "a reply for every query not dropped"
    );
    reader.abort();
    s.shutdown().await;
}

#[tokio::test]
async fn every_and_first_counts_are_exact() {
    let s = util::server(&[
        "servfail name=www.example.com. every=3",
        "refused name=www.example.com. first=2",
    ])
    .await;
    let mut codes = Vec::new();
    for _ in 0..9 {
        let r = udp(s.addr(), &query(WWW, RecordType::A, None))
            .await
            .unwrap();
        codes.push(u16::from(r.metadata.response_code));
    }
    // 0 NOERROR, 2 SERVFAIL, 5 REFUSED.
    assert_eq!(codes, [5, 5, 2, 0, 0, 2, 0, 0, 2]);
    let c = s.counters();
    assert_eq!((c.rules[0].matched, c.rules[0].fired), (9, 3));
    assert_eq!((c.rules[1].matched, c.rules[1].fired), (6, 2));
    assert_eq!(s.queries_for("WWW.Example.com"), 9);
    assert_eq!(s.queries_for("ns1.example.com."), 0);
    s.shutdown().await;
}

#[tokio::test]
async fn replacing_rules_takes_effect() {
    let s = util::server(&["servfail"]).await;
    let r = udp(s.addr(), &query(WWW, RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(
        r.metadata.response_code,
        hickory_proto::op::ResponseCode::ServFail
    );
    s.set_rules(vec!["refused qtype=A".parse().unwrap()]);
    let r = udp(s.addr(), &query(WWW, RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(
        r.metadata.response_code,
        hickory_proto::op::ResponseCode::Refused
    );
    let r = udp(s.addr(), &query(WWW, RecordType::AAAA, None))
        .await
        .unwrap();
    assert_eq!(
        r.metadata.response_code,
        hickory_proto::op::ResponseCode::NoError
    );
    s.set_rules(Vec::new());
    let r = udp(s.addr(), &query(WWW, RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(
        r.metadata.response_code,
        hickory_proto::op::ResponseCode::NoError
    );
    assert!(s.counters().rules.is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn proto_and_from_keys() {
    let s = util::server(&["servfail proto=tcp", "refused from=10.0.0.0/8"]).await;
    let u = udp(s.addr(), &query(WWW, RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(
        u16::from(u.metadata.response_code),
        0,
        "udp from 127.0.0.1: neither rule"
    );
    let t = crate::util::tcp(s.addr(), &query(WWW, RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(u16::from(t.metadata.response_code), 2);
    s.shutdown().await;
}
