//! Forwarding over UDP: per listening socket and upstream, one connected socket, served by the
//! listening socket's own thread.
//!
//! Algorithm (`serve`): the thread reads whatever is waiting on the listening socket (queries,
//! sent upstream with an ID unique among this socket's outstanding queries) and on its upstream
//! sockets (replies, matched to their query by ID and question, and sent to the client from the
//! listening socket, so they come from the address the client asked), expires queries whose
//! upstream did not answer in time, and sleeps in poll(2) on all its sockets only when none had
//! anything. Under load it never sleeps, and a reply costs no thread wake-up: one thread per
//! listening socket does both directions, as the plain path does one. It reads with recvmmsg(2),
//! many datagrams per system call, from the sockets poll(2) says are readable. A connected
//! socket only receives datagrams from its upstream.

use std::{
    collections::HashMap,
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket},
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

use crate::{
    counters::Live,
    handler::{Shared, Target},
    mmsg::RecvBatch,
    upstream::{Deadlines, Delivery, Forward, Outcome, Slot, judge, next_id},
};

/// How often an idle forwarding thread wakes to expire queries and check for shutdown.
const TICK: Duration = Duration::from_millis(20);
/// Datagrams read from one socket with one system call.
const BATCH: usize = 32;
/// Room for one query from a client; larger datagrams are ignored.
const QUERY_SLOT: usize = 4096;
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
        sock.set_nonblocking(true)?;
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

    /// Read the replies waiting (at most [`BATCH`], one system call); whether there were any
    /// (or an error, which the read consumed: ICMP errors for earlier queries, whose queries
    /// then time out, and the errors of a socket shut at shutdown).
    fn drain(&self, batch: &mut RecvBatch) -> bool {
        let n = batch.recv(self.sock.as_raw_fd());
        for i in 0..n {
            let (reply, _, _) = batch.get(i);
            // Empty: what a socket shut at shutdown reads (and no upstream's reply).
            if !reply.is_empty() {
                self.on_reply(reply);
            }
        }
        n > 0
    }

    /// The earliest deadline of a waiting query, if any.
    fn next_deadline(&self) -> Option<Instant> {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .deadlines
            .next()
    }

    /// Whatever is still waiting ends with the server: release its places.
    fn clear(&self) {
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

/// Serve a listening socket and its upstream sockets (see the module documentation) until the
/// server stops. `handle` is called with each datagram from a client.
pub(crate) fn serve(
    shared: &Shared,
    client_sock: &UdpSocket,
    upstreams: &[Arc<UdpUpstream>],
    mut handle: impl FnMut(&[u8], SocketAddr),
) {
    let _ = client_sock.set_nonblocking(true);
    let mut queries = RecvBatch::new(BATCH, QUERY_SLOT);
    let mut replies = RecvBatch::new(BATCH, 65_535);
    let mut fds: Vec<libc::pollfd> = std::iter::once(client_sock.as_raw_fd())
        .chain(upstreams.iter().map(|u| u.sock.as_raw_fd()))
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut busy = true;
    while !shared.stopping.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait_ms = if busy {
            0
        } else {
            let next = upstreams.iter().filter_map(|u| u.next_deadline()).min();
            let wait = next.map_or(TICK, |d| d.saturating_duration_since(now).min(TICK));
            (wait.as_micros().div_ceil(1000)).clamp(1, 1000) as libc::c_int
        };
        // SAFETY: `fds` is a valid, initialised array of `fds.len()` pollfd structures that
        // outlives the call; poll only writes their `revents`.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        busy = false;
        if ready > 0 {
            if fds[0].revents != 0 {
                let n = queries.recv(client_sock.as_raw_fd());
                busy |= n > 0;
                for i in 0..n {
                    match queries.get(i) {
                        // Larger than any query a client sends over UDP: ignored.
                        (_, _, true) => Live::bump(&shared.live.ignored),
                        (msg, Some(peer), false) => handle(msg, peer),
                        (_, None, false) => {}
                    }
                }
            }
            for (up, fd) in upstreams.iter().zip(&fds[1..]) {
                if fd.revents != 0 {
                    busy |= up.drain(&mut replies);
                }
            }
        }
        let now = Instant::now();
        for up in upstreams {
            up.expire(now);
        }
    }
    for up in upstreams {
        up.clear();
    }
}
