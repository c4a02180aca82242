//! Shared fixtures: a raw UDP/TCP DNS client on hickory-proto, and a standard test zone.

use std::{net::SocketAddr, time::Duration};

use faultdns::Server;
use hickory_proto::{
    op::{Edns, Message, Query},
    rr::{Name, RecordType},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
    time::timeout,
};

/// Generous: the machine is small and busy.
pub const WAIT: Duration = Duration::from_secs(3);
/// How long to wait to conclude that no reply is coming.
pub const SILENCE: Duration = Duration::from_millis(400);

pub const ZONE: &str = "\
$ORIGIN example.com.
@       300 IN SOA ns1 hostmaster 7 3600 600 86400 120
@       300 IN NS  ns1
ns1     300 IN A   192.0.2.53
www     60  IN A   192.0.2.10
www     60  IN AAAA 2001:db8::10
alias   60  IN CNAME www
alias2  60  IN CNAME alias
gone    60  IN CNAME nowhere
a.b.deep 60 IN A   192.0.2.20
*.wild  60  IN A   192.0.2.30
";

/// A server with [`ZONE`] and the given rules, seed 1.
pub async fn server(rules: &[&str]) -> Server {
    let mut b = Server::builder().zone(ZONE).unwrap().seed(1);
    for r in rules {
        b = b.rule(r).unwrap();
    }
    b.start().await.unwrap()
}

/// A query message (random ID), with an EDNS OPT record when `edns` is given.
pub fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(payload) = edns {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        m.set_edns(e);
    }
    m
}

/// Send raw bytes over UDP from a fresh socket; the reply's bytes and source, if one comes.
pub async fn udp_raw(
    addr: SocketAddr,
    bytes: &[u8],
    wait: Duration,
) -> Option<(Vec<u8>, SocketAddr)> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    match timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((buf[..n].to_vec(), from)),
        _ => None,
    }
}

/// A query over UDP; the parsed reply, if one comes.
pub async fn udp(addr: SocketAddr, q: &Message) -> Option<Message> {
    let (bytes, from) = udp_raw(addr, &q.to_vec().unwrap(), WAIT).await?;
    assert_eq!(from, addr, "reply from the server's address");
    Some(Message::from_vec(&bytes).expect("reply parses"))
}

/// Expect no reply to a UDP query within [`SILENCE`].
pub async fn udp_silent(addr: SocketAddr, q: &Message) -> bool {
    udp_raw(addr, &q.to_vec().unwrap(), SILENCE).await.is_none()
}

/// Send raw bytes with a length prefix over a fresh TCP connection; the reply's bytes.
pub async fn tcp_raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.unwrap();
    read_framed(&mut s, wait).await
}

/// Read one length-prefixed message.
pub async fn read_framed(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    timeout(wait, s.read_exact(&mut len)).await.ok()?.ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    timeout(wait, s.read_exact(&mut buf)).await.ok()?.ok()?;
    Some(buf)
}

/// A query over TCP; the parsed reply.
pub async fn tcp(addr: SocketAddr, q: &Message) -> Option<Message> {
    let bytes = tcp_raw(addr, &q.to_vec().unwrap(), WAIT).await?;
    Some(Message::from_vec(&bytes).expect("reply parses"))
}

/// The addresses in the answer section, as text.
pub fn answer_data(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}
