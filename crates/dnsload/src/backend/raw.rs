//! The `raw` backend: one query, one attempt, no retries, straight to a server.
//!
//! Each lookup opens a fresh UDP socket (a fresh ephemeral port, as a resolver would), sized
//! with socket2, sends one query with a random ID and waits `--timeout` for a reply from that
//! server with the same ID and question; anything else is ignored. The query is built and the
//! reply checked by stubborn's own wire code (`stubborn::query`), so raw and stub agree on
//! what counts as the reply. No reply is `timeout`: a
//! lost query or a lost reply. Servers are used in turn, and loss-run lengths are kept per
//! server, so bursts can be told from independent loss.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use serde_json::json;
use socket2::{Domain, Protocol, Socket, Type};
use stubborn::query::{Check, Question, build_query, check_reply, udp_limit};
use tokio::net::UdpSocket;

use super::loss::LossRuns;
use super::{Backend, LookupFuture};
use crate::class::{Class, Outcome};
use crate::error::{Error, Result};

/// Receive buffer dnsload asks the kernel for on each query socket.
const REQUESTED_RCVBUF: usize = 256 * 1024;

/// One server with its counters.
#[derive(Debug)]
struct Target {
    addr: SocketAddr,
    seq: AtomicU64,
    loss: Mutex<LossRuns>,
}

/// Sends single queries to the given servers in turn.
#[derive(Debug)]
pub struct RawBackend {
    targets: Vec<Target>,
    next: AtomicUsize,
    timeout: Duration,
    record_type: RecordType,
    granted_rcvbuf: AtomicUsize,
    granted_sndbuf: AtomicUsize,
    ignored: AtomicU64,
}

impl RawBackend {
    /// A backend for `servers`, waiting `timeout` for each reply.
    pub fn new(servers: &[SocketAddr], timeout: Duration, record_type: RecordType) -> Result<Self> {
        if servers.is_empty() {
            return Err(Error::flag("--server", "the raw backend needs a server"));
        }
        Ok(RawBackend {
            targets: servers
                .iter()
                .map(|&addr| Target {
                    addr,
                    seq: AtomicU64::new(0),
                    loss: Mutex::new(LossRuns::default()),
                })
                .collect(),
            next: AtomicUsize::new(0),
            timeout,
            record_type,
            granted_rcvbuf: AtomicUsize::new(0),
            granted_sndbuf: AtomicUsize::new(0),
            ignored: AtomicU64::new(0),
        })
    }

    fn socket(&self, server: SocketAddr) -> std::io::Result<UdpSocket> {
        let domain = if server.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_nonblocking(true)?;
        // The kernel may grant less (net.core.rmem_max) or double it (Linux bookkeeping):
        // record what it granted, not what was asked.
        let _ = sock.set_recv_buffer_size(REQUESTED_RCVBUF);
        let _ = sock.set_send_buffer_size(REQUESTED_RCVBUF);
        self.granted_rcvbuf
            .store(sock.recv_buffer_size().unwrap_or(0), Ordering::Relaxed);
        self.granted_sndbuf
            .store(sock.send_buffer_size().unwrap_or(0), Ordering::Relaxed);
        let local: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        sock.bind(&local.into())?;
        sock.connect(&server.into())?;
        UdpSocket::from_std(sock.into())
    }

    async fn query(&self, target: &Target, name: &str) -> Outcome {
        let start = Instant::now();
        let fail =
            |class: Class, detail: String| Outcome::new(class, start.elapsed()).with_detail(detail);
        let question = match Name::from_utf8(name) {
            Ok(mut n) => {
                n.set_fqdn(true);
                Question::new(n, self.record_type)
            }
            Err(e) => return fail(Class::Error, format!("bad name: {e}")),
        };
        // The query and the reply checks are stubborn's own: a random ID, RD=1, no EDNS (one
        // plain question, as a load tool's single query should be).
        let id: u16 = rand::random();
        let bytes = build_query(id, &question, None);
        let sock = match self.socket(target.addr) {
            Ok(s) => s,
            Err(e) => return fail(Class::Error, format!("socket: {e}")),
        };
        if let Err(e) = sock.send(&bytes).await {
            return fail(Class::Error, format!("send to {}: {e}", target.addr));
        }
        let deadline = tokio::time::Instant::from_std(start + self.timeout);
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, from) = match tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
            {
                Err(_) => {
                    return fail(
                        Class::Timeout,
                        format!("no reply from {} in {:?}", target.addr, self.timeout),
                    );
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return fail(
                        Class::Error,
                        format!("{}: port unreachable (connection refused)", target.addr),
                    );
                }
                Ok(Err(e)) => return fail(Class::Error, format!("recv from {}: {e}", target.addr)),
                Ok(Ok(got)) => got,
            };
            // Source address and port, ID, QR and the question (name case-insensitively, type,
            // class): anything else is not the reply, and the wait goes on.
            match check_reply(&buf[..n], from, target.addr, id, &question, udp_limit(None)) {
                Check::Ignore(_) => {
                    self.ignored.fetch_add(1, Ordering::Relaxed);
                }
                Check::Truncated => {
                    return fail(
                        Class::Error,
                        "truncated reply (TC=1); raw does not retry over TCP".into(),
                    );
                }
                Check::Accept(reply) => {
                    return classify(&reply, self.record_type, start.elapsed());
                }
            }
        }
    }
}

/// Classifies a reply that matched the query.
fn classify(reply: &Message, rt: RecordType, elapsed: Duration) -> Outcome {
    let mut out = Outcome::new(Class::Ok, elapsed);
    match reply.metadata.response_code {
        ResponseCode::NoError => {
            let answers: Vec<_> = reply
                .answers
                .iter()
                .filter(|r| r.record_type() == rt)
                .collect();
            if answers.is_empty() {
                out.class = Class::Nodata;
            } else {
                out.answer_name = Some(answers[0].name.to_string());
                out.addrs = answers.iter().filter_map(|r| r.data.ip_addr()).collect();
            }
        }
        ResponseCode::NXDomain => out.class = Class::Nxdomain,
        ResponseCode::ServFail => out.class = Class::Servfail,
        ResponseCode::Refused => out.class = Class::Refused,
        other => {
            out.class = Class::Error;
            out.detail = Some(format!("response code {other}"));
        }
    }
    out
}

impl Backend for RawBackend {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn lookup<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.targets.len();
            let target = &self.targets[i];
            let seq = target.seq.fetch_add(1, Ordering::Relaxed);
            let outcome = self.query(target, name).await;
            if let Ok(mut loss) = target.loss.lock() {
                loss.record(seq, outcome.class == Class::Timeout);
            }
            outcome
        })
    }

    fn info(&self) -> serde_json::Value {
        let servers: Vec<_> = self
            .targets
            .iter()
            .map(|t| {
                let stats = t.loss.lock().map(|l| l.stats()).ok();
                json!({ "server": t.addr.to_string(), "loss": stats })
            })
            .collect();
        json!({
            "timeout_ms": self.timeout.as_secs_f64() * 1e3,
            "socket": {
                "requested_rcvbuf": REQUESTED_RCVBUF,
                "granted_rcvbuf": self.granted_rcvbuf.load(Ordering::Relaxed),
                "requested_sndbuf": REQUESTED_RCVBUF,
                "granted_sndbuf": self.granted_sndbuf.load(Ordering::Relaxed),
            },
            "ignored_datagrams": self.ignored.load(Ordering::Relaxed),
            "servers": servers,
        })
    }
}
