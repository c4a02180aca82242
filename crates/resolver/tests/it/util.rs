//! Shared fixtures: faultdns servers with a standard zone, resolver configs with short timers,
//! a hand-rolled loopback responder for shapes faultdns cannot produce, and timing helpers.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record};
use stubborn::{Config, Resolver};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// The test zone: example.com with A, AAAA, CNAME, MX, TXT, SRV; a search domain
/// `in.our.internal.domain.` and cluster-style domains; a reverse zone.
pub const ZONE: &str = "\
$ORIGIN example.com.
@        60 IN SOA ns.example.com. hostmaster.example.com. 1 60 60 60 60
www      60 IN A     192.0.2.10
www      60 IN AAAA  2001:db8::10
v4only   60 IN A     192.0.2.11
alias    30 IN CNAME www.example.com.
@        60 IN MX    10 mail.example.com.
mail     60 IN A     192.0.2.25
@        60 IN TXT   \"v=spf1 -all\"
_dns._udp 60 IN SRV  0 5 53 ns.example.com.
";

/// Zones with the search domains of the war stories (NXDOMAIN for everything not listed).
pub const SEARCH_ZONES: &str = "\
$ORIGIN in.our.internal.domain.
@        60 IN SOA ns.example.com. hostmaster.example.com. 1 60 60 60 60
intranet 60 IN A 10.1.2.3
$ORIGIN cluster.local.
@        60 IN SOA ns.example.com. hostmaster.example.com. 1 60 60 60 60
$ORIGIN com.
@        60 IN SOA ns.example.com. hostmaster.example.com. 1 60 60 60 60
cloudflare 60 IN A 104.16.132.229
$ORIGIN 2.0.192.in-addr.arpa.
@        60 IN SOA ns.example.com. hostmaster.example.com. 1 60 60 60 60
10       60 IN PTR www.example.com.
";

/// A faultdns server with the test zones and `rules`, on 127.0.0.1 with a random port.
pub async fn faultdns(rules: &[&str]) -> faultdns::Server {
    let mut builder = faultdns::Server::builder()
        .zone(ZONE)
        .expect("zone parses")
        .zone(SEARCH_ZONES)
        .expect("search zones parse")
        .seed(7);
    for rule in rules {
        builder = builder.rule(rule).expect("rule parses");
    }
    builder.start().await.expect("faultdns starts")
}

/// A config for `servers` with short timers (shape tests): 250 ms per attempt, 3 attempts,
/// 5 s deadline, no hosts file, no cache (every lookup asks: these tests watch the exchange).
pub fn config(servers: Vec<SocketAddr>) -> Config {
    Config::new(servers)
        .with_timeout(Duration::from_millis(250))
        .with_attempts(3)
        .with_hosts_file(None)
        .with_cache(None)
}

pub fn resolver(config: Config) -> Resolver {
    Resolver::new(config).expect("config is valid")
}

/// Runs `f` and returns its output and how long it took.
pub async fn timed<F: Future>(f: F) -> (F::Output, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

/// A UDP port with nothing listening (bound, then closed). On 127.0.0.3, which nothing else
/// binds: the client sockets of other tests, bound to 127.0.0.1 by their `connect`, cannot
/// take the port over in the meantime.
pub fn closed_port() -> SocketAddr {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 3), 0)).expect("bind");
    socket.local_addr().expect("local addr")
}

/// What the hand-rolled responder sends for one query.
pub enum Emit {
    /// These bytes, from the responder's port.
    Bytes(Vec<u8>),
    /// These bytes, from another port.
    FromOtherPort(Vec<u8>),
    /// Wait before the next item.
    Pause(Duration),
}

/// A loopback UDP responder running `respond` on every query it receives (with its source) (for reply shapes
/// faultdns does not produce: several datagrams for one query, FORMERR to EDNS).
pub struct Responder {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Responder {
    pub async fn start<F>(respond: F) -> Responder
    where
        F: Fn(&Message, SocketAddr) -> Vec<Emit> + Send + 'static,
    {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let addr = socket.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let other = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind");
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                for item in respond(&query, from) {
                    match item {
                        Emit::Bytes(b) => drop(socket.send_to(&b, from).await),
                        Emit::FromOtherPort(b) => drop(other.send_to(&b, from).await),
                        Emit::Pause(d) => tokio::time::sleep(d).await,
                    }
                }
            }
        });
        Responder { addr, task }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A reply to `query` with `rcode` and one A record `ip` for its name (none if `ip` is None).
pub fn reply(query: &Message, rcode: ResponseCode, ip: Option<[u8; 4]>) -> Message {
    let mut m = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = rcode;
    m.add_queries(query.queries.clone());
    if let Some(ip) = ip {
        let name = query.queries[0].name().clone();
        m.add_answer(Record::from_rdata(
            name,
            60,
            RData::A(A::from(Ipv4Addr::from(ip))),
        ));
    }
    m
}

pub fn bytes(m: &Message) -> Vec<u8> {
    m.to_vec().expect("encodes")
}
