//! Bad input: floods of random and mutated datagrams, misbehaving TCP clients.

use std::time::{Duration, Instant};

use faultdns::Server;
use hickory_proto::{op::Message, rr::RecordType};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
};

use crate::util::{self, WAIT, answer_data, query, tcp, udp};

fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One bad datagram: random bytes, or a valid query broken in one of the usual ways.
fn mutant(rng: &mut ChaCha8Rng, valid: &[u8]) -> Vec<u8> {
    let mut m = valid.to_vec();
    match rng.random_range(0..10) {
        0 => {
            let len = rng.random_range(0..600);
            m = vec![0; len];
            rng.fill_bytes(&mut m);
        }
        1 => m.truncate(rng.random_range(0..m.len())),
        2 => m[2] |= 0x80, // QR=1: a response
        3 => m[5] = 0,     // no question
        4 => m[5] = 2,     // two questions announced, one present
        5 => {
            // A label length running off the end.
            m[12] = 63;
        }
        6 => {
            // A compression pointer loop in the question.
            m.truncate(12);
            m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        }
        7 => {
            // Random additional records announced.
            m[10] = rng.random();
            m[11] = rng.random();
        }
        8 => m.extend((0..rng.random_range(1..40)).map(|_| rng.random::<u8>())),
        _ => {
            for _ in 0..rng.random_range(1..6) {
                let i = rng.random_range(0..m.len());
                m[i] = rng.random();
            }
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_bad_datagrams_change_nothing() {
    const N: u64 = 100_000;
    let s = util::server(&[]).await;
    let valid = query("www.example.com.", RecordType::A, None)
        .to_vec()
        .unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    // Warm up allocations before the baseline.
    for _ in 0..2_000 {
        sock.send_to(&mutant(&mut rng, &valid), s.addr())
            .await
            .unwrap();
    }
    let handled = |c: &faultdns::Counters| c.queries + c.formerr + c.ignored + c.notimp + c.refused;
    let deadline = Instant::now() + Duration::from_secs(20);
    while handled(&s.counters()) < 2_000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rss_before = vm_rss_kib();
    let drain = tokio::spawn({
        // Read (and discard) the replies so they do not pile up anywhere.
        let sock = std::sync::Arc::new(sock);
        let s2 = sock.clone();
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while s2.recv_from(&mut buf).await.is_ok() {}
        });
        async move {
            let mut sent = 0u64;
            while sent < N {
                for _ in 0..500 {
                    sock.send_to(&mutant(&mut rng, &valid), s.addr())
                        .await
                        .unwrap();
                }
                sent += 500;
                // Pace to the server so nothing is lost in socket buffers.
                let deadline = Instant::now() + Duration::from_secs(20);
                while handled(&s.counters()) < 2_000 + sent - 200 && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while handled(&s.counters()) < 2_000 + N && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            reader.abort();
            s
        }
    });
    let s = drain.await.unwrap();
    let c = s.counters();
    assert_eq!(
        handled(&c),
        2_000 + N,
        "every datagram accounted for: {c:?}"
    );
    assert!(c.formerr > 10_000 && c.ignored > 10_000, "{c:?}");
    // Valid queries are still answered, over both transports.
    let r = udp(s.addr(), &query("www.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&r), ["192.0.2.10"]);
    let t = tcp(s.addr(), &query("www.example.com.", RecordType::AAAA, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&t), ["2001:db8::10"]);
    if let (Some(before), Some(after)) = (rss_before, vm_rss_kib()) {
        let grown = after.saturating_sub(before);
        eprintln!("VmRSS {before} KiB -> {after} KiB");
        assert!(grown < 32 * 1024, "memory grew by {grown} KiB");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn bad_shapes_get_formerr_or_silence() {
    let s = util::server(&[]).await;
    let valid = query("www.example.com.", RecordType::A, None)
        .to_vec()
        .unwrap();
    // Two questions announced: FORMERR with the same ID.
    let mut two = valid.clone();
    two[5] = 2;
    let (r, _) = util::udp_raw(s.addr(), &two, WAIT).await.unwrap();
    let r = Message::from_vec(&r).unwrap();
    assert_eq!(u16::from(r.metadata.response_code), 1);
    assert_eq!(r.metadata.id, u16::from_be_bytes([valid[0], valid[1]]));
    // A response is never answered; nor is a short datagram.
    let mut resp = valid.clone();
    resp[2] |= 0x80;
    assert!(
        util::udp_raw(s.addr(), &resp, util::SILENCE)
            .await
            .is_none()
    );
    assert!(
        util::udp_raw(s.addr(), &valid[..5], util::SILENCE)
            .await
            .is_none()
    );
    // Another opcode: NOTIMP. A class other than IN: REFUSED.
    let mut status = valid.clone();
    status[2] = (status[2] & 0x87) | (2 << 3);
    let (r, _) = util::udp_raw(s.addr(), &status, WAIT).await.unwrap();
    assert_eq!(r[3] & 0x0f, 4);
    let mut chaos = valid.clone();
    let n = chaos.len();
    chaos[n - 1] = 3;
    let (r, _) = util::udp_raw(s.addr(), &chaos, WAIT).await.unwrap();
    assert_eq!(r[3] & 0x0f, 5);
    // EDNS version 1: BADVERS (extended RCODE 16).
    let mut e = query("www.example.com.", RecordType::A, Some(1232));
    e.edns.as_mut().unwrap().set_version(1);
    let r = util::udp(s.addr(), &e).await.unwrap();
    assert_eq!(u16::from(r.metadata.response_code), 16);
    let c = s.counters();
    assert_eq!(
        (c.formerr, c.ignored, c.notimp, c.refused, c.queries),
        (1, 2, 1, 2, 0)
    );
    s.shutdown().await;
}

async fn closed_within(conn: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, conn.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn misbehaving_tcp_clients_are_cut_off() {
    let s = Server::builder()
        .zone(util::ZONE)
        .unwrap()
        .tcp_idle_timeout(Duration::from_millis(300))
        .max_tcp_connections(8)
        .start()
        .await
        .unwrap();
    // Oversized length prefix: claims 65535 bytes, sends 20, then stalls.
    let mut big = TcpStream::connect(s.addr()).await.unwrap();
    big.write_all(&[0xff, 0xff]).await.unwrap();
    big.write_all(&[7u8; 20]).await.unwrap();
    // Idle: connects and says nothing.
    let mut idle = TcpStream::connect(s.addr()).await.unwrap();
    // A length below a header's size.
    let mut tiny = TcpStream::connect(s.addr()).await.unwrap();
    tiny.write_all(&[0, 3, 1, 2, 3]).await.unwrap();
    // Valid queries are answered meanwhile.
    let t = tcp(s.addr(), &query("www.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&t), ["192.0.2.10"]);
    assert!(closed_within(&mut tiny, WAIT).await);
    assert!(closed_within(&mut big, WAIT).await);
    assert!(closed_within(&mut idle, WAIT).await);
    // A flood of connections beyond the limit: the excess is closed at once.
    let mut conns = Vec::new();
    for _ in 0..12 {
        conns.push(TcpStream::connect(s.addr()).await.unwrap());
    }
    let deadline = Instant::now() + WAIT;
    while s.counters().tcp_rejected < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let c = s.counters();
    assert!(c.tcp_rejected >= 4, "{c:?}");
    assert!(c.tcp_closed_bad >= 3, "{c:?}");
    drop(conns);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = tcp(s.addr(), &query("www.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&t), ["192.0.2.10"]);
    s.shutdown().await;
}
