//! A scripted upstream on loopback for the forwarding tests: it answers, stays silent or
//! misbehaves according to the first label of the name asked.
//!
//! - `silent.*`: no reply (UDP), or a connection that never answers (TCP);
//! - `garbage.*`: a reply with the query's ID that is not a DNS message;
//! - `big.*`: a well-formed reply of about 1,600 bytes (oversize for a client without EDNS);
//! - `wrongid.*`: a well-formed reply with another ID;
//! - `otherq.*`: a well-formed reply to another question, with the query's ID;
//! - `close.*`: over TCP, half a reply, then the connection is closed (UDP: silent);
//! - anything else: an answer `198.51.100.7` built from the query's bytes by [`answer_for`].

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    task::JoinHandle,
};

/// The scripted upstream; stops when dropped.
pub struct Responder {
    pub addr: SocketAddr,
    seen: Arc<AtomicUsize>,
    last: Arc<Mutex<Vec<u8>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Responder {
    /// UDP and TCP on one loopback port.
    pub async fn start() -> Responder {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (seen.clone(), last.clone());
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_535];
            loop {
                let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                    continue;
                };
                s.fetch_add(1, Ordering::SeqCst);
                *l.lock().unwrap() = buf[..n].to_vec();
                for reply in replies(&buf[..n], false) {
                    let _ = udp.send_to(&reply, peer).await;
                }
            }
        });
        let (s, l) = (seen.clone(), last.clone());
        let tcp_task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = tcp.accept().await else {
                    continue;
                };
                tokio::spawn(serve_tcp(stream, s.clone(), l.clone()));
            }
        });
        Responder {
            addr,
            seen,
            last,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// Queries received so far (UDP and TCP).
    pub fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// The bytes of the last query received.
    pub fn last(&self) -> Vec<u8> {
        self.last.lock().unwrap().clone()
    }
}

async fn serve_tcp(mut stream: TcpStream, seen: Arc<AtomicUsize>, last: Arc<Mutex<Vec<u8>>>) {
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut q).await.is_err() {
            return;
        }
        seen.fetch_add(1, Ordering::SeqCst);
        *last.lock().unwrap() = q.clone();
        if first_label(&q) == "close" {
            // Announce 200 bytes, send 20, close.
            let mut partial = 200u16.to_be_bytes().to_vec();
            partial.extend_from_slice(&answer_for(&q)[..20]);
            let _ = stream.write_all(&partial).await;
            return;
        }
        for reply in replies(&q, true) {
            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&reply);
            if stream.write_all(&framed).await.is_err() {
                return;
            }
        }
    }
}

/// The first label of the question, lowercase.
pub fn first_label(q: &[u8]) -> String {
    let len = q.get(12).copied().unwrap_or(0) as usize;
    q.get(13..13 + len)
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .unwrap_or_default()
}

/// End of the question section of a well-formed query.
fn question_end(q: &[u8]) -> usize {
    let mut pos = 12;
    while q[pos] != 0 {
        pos += q[pos] as usize + 1;
    }
    pos + 5
}

/// The normal answer: the query's header and question, QR, RA and AD set, one A record
/// `198.51.100.7` with TTL 42 (owner a pointer to the question), no OPT.
pub fn answer_for(q: &[u8]) -> Vec<u8> {
    let end = question_end(q);
    let mut r = q[..end].to_vec();
    r[2] = 0x80 | (q[2] & 0x01);
    r[3] = 0xa0;
    r[4..12].copy_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 42, 0, 4, 198, 51, 100, 7]);
    r
}

fn replies(q: &[u8], tcp: bool) -> Vec<Vec<u8>> {
    if q.len() < 17 {
        return Vec::new();
    }
    match first_label(q).as_str() {
        "silent" => Vec::new(),
        "close" if !tcp => Vec::new(),
        "garbage" => {
            let mut g = q[..2].to_vec();
            g.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0, 0xde, 0xad]);
            vec![g]
        }
        "big" => {
            let mut r = answer_for(q);
            r.truncate(question_end(q));
            r[7] = 6;
            for _ in 0..6 {
                r.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 42, 1, 0, 255]);
                r.extend_from_slice(&[b'x'; 255]);
            }
            vec![r]
        }
        "wrongid" => {
            let mut r = answer_for(q);
            r[0] ^= 0x55;
            vec![r]
        }
        "otherq" => {
            let mut r = answer_for(q);
            r[13] ^= 0x01; // another letter in the first label
            vec![r]
        }
        _ => vec![answer_for(q)],
    }
}
