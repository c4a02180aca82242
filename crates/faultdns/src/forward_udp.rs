//! Forwarding over UDP: per listening socket and upstream, one connected socket and a thread
//! that receives the upstream's replies and expires the queries it did not answer in time.
//!
//! The receive thread of the listening socket sends the query (with an ID unique among this
//! socket's outstanding queries) and goes back to its clients; the upstream thread matches each
//! reply to its query by ID and question, and sends the client its reply from the listening
//! socket, so it comes from the address the client asked. A connected socket only receives
//! datagrams from its upstream. Blocking threads, like the listening side, for the same
//! reasons (one system call per datagram, no reactor wake-ups).

use std::{
    collections::HashMap,
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket},
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use socket2::{Domain, Protocol, Socket, Type};

use crate::{
    counters::Live,
    handler::{Shared, Target},
    upstream::{Deadlines, Delivery, Forward, Outcome, Slot, judge, next_id},
};

/// How often an idle upstream thread wakes to expire queries and check for shutdown.
const TICK: Duration = Duration::from_millis(20);
/// Receive buffer of an upstream socket, like the listening sockets'.
const RECV_BUFFER: usize = 4 << 20;

/// One upstream, as seen from one listening socket.
pub(crate) struct UdpUpstream {
    shared: Arc<Shared>,
    addr: SocketAddr,
    sock: UdpSocket,
    /// The listening socket: replies to clients go out from it.
    client_sock: Arc<UdpSocket>,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    waiting: HashMap<u16, Waiting>,
    deadlines: Deadlines,
    next_id: u16,
    seq: u64,
}

struct Waiting {
    fwd: Box<Forward>,
    sent: Instant,
    seq: u64,
    _slot: Slot,
}

impl UdpUpstream {
    /// A socket connected to `addr`, for replies to go out of `client_sock`.
    pub(crate) fn open(
        shared: Arc<Shared>,
        addr: SocketAddr,
        client_sock: Arc<UdpSocket>,
    ) -> io::Result<UdpUpstream> {
        let (domain, any) = if addr.is_ipv4() {
            (Domain::IPV4, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
        } else {
            (Domain::IPV6, SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)))
        };
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        let _ = s.set_recv_buffer_size(RECV_BUFFER);
        s.bind(&any.into())?;
        s.connect(&addr.into())?;
        let sock = UdpSocket::from(s);
        sock.set_read_timeout(Some(TICK))?;
        Ok(UdpUpstream {
            shared,
            addr,
            sock,
            client_sock,
            table: Mutex::new(Table {
                next_id: rand::random(),
                ..Table::default()
            }),
        })
    }

    /// The socket, for shutdown to wake its thread.
    pub(crate) fn socket(&self) -> &UdpSocket {
        &self.sock
    }

    /// Send a query upstream; `buf` is scratch space. Called from the listening thread.
    pub(crate) fn forward(&self, fwd: Box<Forward>, buf: &mut Vec<u8>) {
        let Some(up) = &self.shared.upstreams else {
            return;
        };
        let Some(slot) = Slot::take(&self.shared) else {
            let d = self
                .shared
                .complete(&fwd, None, None, Outcome::Overload, &[]);
            self.deliver(&fwd, d);
            return;
        };
        let id = {
            let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            let t = &mut *t;
            let Some(id) = next_id(&mut t.next_id, |id| t.waiting.contains_key(&id)) else {
                drop(slot);
                let d = self
                    .shared
                    .complete(&fwd, None, None, Outcome::Overload, &[]);
                self.deliver(&fwd, d);
                return;
            };
            fwd.bytes_with_id(id, buf);
            t.seq += 1;
            let now = Instant::now();
            t.deadlines.push(now + up.timeout, id, t.seq);
            t.waiting.insert(
                id,
                Waiting {
                    fwd,
                    sent: now,
                    seq: t.seq,
                    _slot: slot,
                },
            );
            id
        };
        if self.sock.send(buf).is_err() {
            let w = self
                .table
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .waiting
                .remove(&id);
            if let Some(w) = w {
                self.finish(w, Outcome::Unreachable, &[]);
            }
        }
    }

    /// The upstream thread: receive replies, expire queries, until the server stops.
    pub(crate) fn serve(self: Arc<Self>) {
        let mut buf = vec![0u8; 65_535];
        while !self.shared.stopping.load(Ordering::Relaxed) {
            // Errors are timeouts, ICMP errors for earlier queries (those queries time out),
            // and the errors of a socket shut at shutdown.
            if let Ok(n) = self.sock.recv(&mut buf) {
                self.on_reply(&buf[..n]);
            }
            self.expire(Instant::now());
        }
        // Whatever is still waiting ends with the server: release its places.
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.waiting.clear();
        t.deadlines.clear();
    }

    fn on_reply(&self, reply: &[u8]) {
        let waiting = if reply.len() >= 2 {
            let id = u16::from_be_bytes([reply[0], reply[1]]);
            let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            match t.waiting.get(&id).map(|w| judge(&w.fwd, reply)) {
                Some(Some(verdict)) => t.waiting.remove(&id).map(|w| (w, verdict)),
                _ => None,
            }
        } else {
            None
        };
        match waiting {
            Some((w, Ok(()))) => self.finish(w, Outcome::Answered, reply),
            Some((w, Err(outcome))) => self.finish(w, outcome, &[]),
            None => Live::bump(&self.shared.live.up_wrong_id),
        }
    }

    fn expire(&self, now: Instant) {
        loop {
            let expired = {
                let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
                let Some((id, seq)) = t.deadlines.pop_expired(now) else {
                    return;
                };
                if t.waiting.get(&id).is_some_and(|w| w.seq == seq) {
                    t.waiting.remove(&id)
                } else {
                    None
                }
            };
            if let Some(w) = expired {
                self.finish(w, Outcome::Timeout, &[]);
            }
        }
    }

    fn finish(&self, w: Waiting, outcome: Outcome, reply: &[u8]) {
        let d = self
            .shared
            .complete(&w.fwd, Some(self.addr), Some(w.sent), outcome, reply);
        self.deliver(&w.fwd, d);
    }

    fn deliver(&self, fwd: &Forward, d: Delivery) {
        let Some(bytes) = d.bytes else {
            return;
        };
        match d.delay {
            Some(delay) => self.shared.send_later(
                delay,
                bytes,
                Target::Udp(self.client_sock.clone(), fwd.client),
            ),
            None => {
                let _ = self.client_sock.send_to(&bytes, fwd.client);
            }
        }
    }
}
