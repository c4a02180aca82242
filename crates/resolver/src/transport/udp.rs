//! The UDP socket pool: connected sockets on OS-chosen ephemeral ports, several per server in
//! use at once, each carrying many queries told apart by ID.
//!
//! Algorithm:
//! - a query goes to a random one of the server's usable sockets (not retired, fewer than
//!   [`MAX_OUTSTANDING`] queries waiting); while a server has fewer usable sockets than
//!   [`Limits::per_server`], a new one is opened first, unless the resolver already holds
//!   [`Limits::max_sockets`] (a server with no socket at all may always open one);
//! - its ID is drawn from the CSPRNG until it is free on that socket;
//! - a socket is retired after [`Limits::queries_per_socket`] queries, and when the RTO of a
//!   query on it passes: it takes no new queries and closes once nothing waits on it. At the
//!   descriptor bound nothing new can open, so a retired socket with the fewest waiting
//!   queries is used again rather than failing the query;
//! - one reader task per socket receives, routes each datagram by its ID to the waiting
//!   query's inbox, turns ICMP errors into errors for every query waiting on the socket, and
//!   expires lingering queries. A datagram goes to a waiting query only if it is a response
//!   to that query's question (a hash of it is kept with the ID); anything else is counted
//!   and dropped in the reader, so a flood of forgeries never fills a lookup's inbox.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{Delivery, Event, Inbox, Outgoing, TaskContext};
use crate::policy::exchange::Linger;
use crate::policy::servers::{Servers, bump, drop_by};
use crate::wire::{may_answer, message_id, reply_question_key, set_id};

/// Receive buffer: the largest EDNS payload we advertise. A larger datagram (a server ignoring
/// our advertised size) is cut by the kernel, fails to parse and is ignored.
const RECV_BUFFER: usize = 4096;

/// Queries waiting on one socket at most: a quarter of the ID space, so a free ID is found in
/// about one draw, and a forger who knows the port and sprays random IDs hits *some* waiting
/// query with at most one datagram in four (and must still match its question).
pub(crate) const MAX_OUTSTANDING: usize = 16_384;

/// Datagrams read per wake before the reader yields to other tasks: a flood costs bounded work
/// per turn and cannot starve the lookups on the same runtime.
const READ_BATCH: usize = 64;

/// Socket receive buffer asked for (the kernel caps it at `net.core.rmem_max`): room for the
/// replies to a few thousand queries arriving at once.
const RECV_BUFFER_BYTES: usize = 1 << 20;

/// How many UDP sockets a resolver may hold, and how long each lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) per_server: usize,
    pub(crate) queries_per_socket: u32,
    pub(crate) max_sockets: usize,
}

/// The identity hash for IDs: they are drawn at random, so they spread by themselves.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // Spread the 16 bits over the word (hashbrown uses the top bits as well).
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u16(&mut self, n: u16) {
        self.0 = u64::from(n);
    }
}

type Ids<V> = HashMap<u16, V, BuildHasherDefault<IdHasher>>;

/// A query settled while this one was still unanswered: kept to take a late reply as a latency
/// sample (see [`Linger`]).
#[derive(Debug)]
struct Lingering {
    linger: Linger,
    key: u64,
    until: Instant,
}

#[derive(Debug)]
enum Slot {
    Waiting { inbox: Arc<Inbox>, tag: u32 },
    Lingering(Box<Lingering>),
}

#[derive(Debug, Default)]
struct Table {
    slots: Ids<Slot>,
    /// Queries sent on this socket so far.
    queries: u32,
    retired: bool,
    /// The earliest expiry of a lingering query, if any.
    next_expiry: Option<Instant>,
    waiting: usize,
}

/// One pooled socket.
#[derive(Debug)]
pub(crate) struct Sock {
    socket: UdpSocket,
    server: usize,
    table: Mutex<Table>,
    /// Wakes the reader: the socket may be drained, or a lingering query needs a timer.
    changed: Notify,
    open: Arc<AtomicUsize>,
    servers: Arc<Servers>,
}

impl Drop for Sock {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        let gauge = &self.servers.get(self.server).counters.udp_sockets;
        gauge.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Sock {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usable(&self) -> bool {
        let table = self.table();
        !table.retired && table.waiting < MAX_OUTSTANDING
    }

    fn load(&self) -> usize {
        self.table().slots.len()
    }

    fn is_drained(&self) -> bool {
        let table = self.table();
        table.retired && table.slots.is_empty()
    }

    /// Routes one datagram received at `now`.
    fn dispatch(&self, bytes: &[u8], now: Instant, context: &TaskContext) {
        let ignored =
            || crate::policy::servers::bump(&context.servers.get(self.server).counters.ignored);
        let Some(id) = message_id(bytes) else {
            return ignored();
        };
        let mut table = self.table();
        match table.slots.get(&id) {
            Some(Slot::Waiting { inbox, tag }) => {
                let (inbox, tag) = (inbox.clone(), *tag);
                drop(table);
                if !inbox.key(tag).is_some_and(|key| may_answer(bytes, key)) {
                    // Counted by the lookup, against its query and the server.
                    return inbox.ignored(tag);
                }
                let delivery = Delivery {
                    tag,
                    at: now,
                    event: Event::Message(bytes.to_vec()),
                };
                if !inbox.push(delivery) {
                    ignored();
                }
            }
            Some(Slot::Lingering(lingering)) => {
                if reply_question_key(bytes) != Some(lingering.key) {
                    drop(table);
                    return ignored();
                }
                let Some(Slot::Lingering(lingering)) = table.slots.remove(&id) else {
                    return;
                };
                drop(table);
                context.servers.late_reply(&lingering.linger, now);
            }
            None => {
                drop(table);
                ignored();
            }
        }
    }

    /// A socket error: every query waiting here gets it (the server is unreachable from this
    /// socket; each question moves on to its next attempt).
    fn fail_all(&self, error: &io::Error, now: Instant) {
        let waiting: Vec<(Arc<Inbox>, u32)> = self
            .table()
            .slots
            .values()
            .filter_map(|slot| match slot {
                Slot::Waiting { inbox, tag } => Some((inbox.clone(), *tag)),
                Slot::Lingering(_) => None,
            })
            .collect();
        debug!(%error, queries = waiting.len(), "socket error");
        for (inbox, tag) in waiting {
            inbox.push(Delivery {
                tag,
                at: now,
                event: Event::Error(copy_error(error)),
            });
        }
    }

    /// Drops the lingering queries whose time is up (unanswered: losses).
    fn expire(&self, now: Instant, context: &TaskContext) {
        let mut lost = 0u32;
        let mut table = self.table();
        let mut next: Option<Instant> = None;
        table.slots.retain(|_, slot| match slot {
            Slot::Lingering(l) if l.until <= now => {
                lost += 1;
                false
            }
            Slot::Lingering(l) => {
                next = Some(next.map_or(l.until, |n| n.min(l.until)));
                true
            }
            Slot::Waiting { .. } => true,
        });
        table.next_expiry = next;
        drop(table);
        for _ in 0..lost {
            context.servers.lost(self.server);
        }
    }

    fn next_expiry(&self) -> Option<Instant> {
        self.table().next_expiry
    }
}

/// A copy of a socket error for each query it fails.
fn copy_error(error: &io::Error) -> io::Error {
    match error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(error.kind(), error.to_string()),
    }
}

/// A query registered on a pooled socket.
#[derive(Debug)]
pub(crate) struct Entry {
    sock: Arc<Sock>,
    id: u16,
    /// Handed over to a lingering slot: dropping no longer removes it.
    handed_over: bool,
}

impl Entry {
    pub(crate) fn id(&self) -> u16 {
        self.id
    }

    pub(crate) fn retire_socket(&self) {
        self.sock.table().retired = true;
    }

    pub(crate) fn linger(mut self, linger: Linger, key: u64, until: Instant) {
        let mut table = self.sock.table();
        if let Some(slot) = table.slots.get_mut(&self.id) {
            *slot = Slot::Lingering(Box::new(Lingering { linger, key, until }));
            table.waiting -= 1;
            drop_by(&self.sock.servers.get(self.sock.server).counters.waiting, 1);
            let earlier = table.next_expiry.is_none_or(|next| until < next);
            if earlier {
                table.next_expiry = Some(until);
            }
            drop(table);
            self.handed_over = true;
            if earlier {
                self.sock.changed.notify_one();
            }
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.handed_over {
            return;
        }
        let mut table = self.sock.table();
        if let Some(Slot::Waiting { .. }) = table.slots.get(&self.id) {
            table.slots.remove(&self.id);
            table.waiting -= 1;
            drop_by(&self.sock.servers.get(self.sock.server).counters.waiting, 1);
        }
        let drained = table.retired && table.slots.is_empty();
        drop(table);
        if drained {
            self.sock.changed.notify_one();
        }
    }
}

/// The open sockets of one server.
#[derive(Debug, Default)]
struct Sockets {
    /// Sockets taking queries (moved to `retired` when found retired or full).
    active: Vec<Arc<Sock>>,
    /// Retired sockets, open until their queries end.
    retired: Vec<Arc<Sock>>,
}

impl Sockets {
    fn len(&self) -> usize {
        self.active.len() + self.retired.len()
    }

    fn remove(&mut self, sock: &Arc<Sock>) {
        self.active.retain(|s| !Arc::ptr_eq(s, sock));
        self.retired.retain(|s| !Arc::ptr_eq(s, sock));
    }
}

type SocketList = Arc<Mutex<Sockets>>;

/// The UDP sockets of one resolver in one runtime.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Per server, its open sockets.
    servers: Vec<SocketList>,
    open: Arc<AtomicUsize>,
    limits: Limits,
    /// Whether reaching the bound was already reported.
    warned: AtomicBool,
}

fn lock(list: &SocketList) -> MutexGuard<'_, Sockets> {
    list.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    pub(crate) fn new(servers: usize, limits: Limits) -> Pool {
        Pool {
            servers: (0..servers).map(|_| SocketList::default()).collect(),
            open: Arc::new(AtomicUsize::new(0)),
            limits,
            warned: AtomicBool::new(false),
        }
    }

    /// Sockets open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Registers and sends a query (see the module docs for the socket it goes to).
    pub(crate) fn send(
        &self,
        context: &TaskContext,
        addr: SocketAddr,
        out: Outgoing<'_>,
    ) -> io::Result<Entry> {
        let sock = self.choose(context, out.server, addr)?;
        let id = {
            let mut table = sock.table();
            let id = loop {
                let id: u16 = rand::random();
                if !table.slots.contains_key(&id) {
                    break id;
                }
            };
            table.slots.insert(
                id,
                Slot::Waiting {
                    inbox: out.inbox.clone(),
                    tag: out.tag,
                },
            );
            table.waiting += 1;
            bump(&context.servers.get(out.server).counters.waiting);
            table.queries = table.queries.saturating_add(1);
            if table.queries >= self.limits.queries_per_socket {
                table.retired = true;
            }
            id
        };
        let entry = Entry {
            sock,
            id,
            handed_over: false,
        };
        set_id(out.message, id);
        // A direct non-blocking send: tokio's `try_send` would first consult the reactor's
        // readiness, which a socket opened a moment ago does not have yet.
        match SockRef::from(&entry.sock.socket).send(out.message) {
            Ok(_) => Ok(entry),
            // The socket's send buffer is full: the datagram is lost here instead of on the
            // way, and the query's RTO takes care of it like any other loss.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                debug!("send buffer full, datagram dropped");
                Ok(entry)
            }
            Err(e) => Err(e),
        }
    }

    /// The socket for a query to server `server`.
    fn choose(
        &self,
        context: &TaskContext,
        server: usize,
        addr: SocketAddr,
    ) -> io::Result<Arc<Sock>> {
        let list = &self.servers[server];
        let mut socks = lock(list);
        // Sockets retired (by their query budget or a timeout) or full since the last look
        // move out of the way.
        let mut i = 0;
        while i < socks.active.len() {
            if socks.active[i].usable() {
                i += 1;
            } else {
                let sock = socks.active.swap_remove(i);
                socks.retired.push(sock);
            }
        }
        let room = self.open() < self.limits.max_sockets || socks.len() == 0;
        if socks.active.len() < self.limits.per_server && room {
            let sock = self.open_socket(context, server, addr, list)?;
            socks.active.push(sock.clone());
            return Ok(sock);
        }
        if !socks.active.is_empty() {
            let pick = rand::random_range(0..socks.active.len());
            return Ok(socks.active[pick].clone());
        }
        // At the descriptor bound with every socket of this server retired or full: reuse the
        // least loaded one.
        let (index, _) = socks
            .retired
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.load())
            .ok_or_else(|| io::Error::other("no UDP socket available"))?;
        let least = socks.retired.swap_remove(index);
        least.table().retired = false;
        socks.active.push(least.clone());
        if !self.warned.swap(true, Ordering::Relaxed) {
            warn!(
                max_sockets = self.limits.max_sockets,
                "UDP socket bound reached: retired sockets take queries again (reported once)"
            );
        }
        Ok(least)
    }

    fn open_socket(
        &self,
        context: &TaskContext,
        server: usize,
        addr: SocketAddr,
        list: &SocketList,
    ) -> io::Result<Arc<Sock>> {
        let socket = udp_socket(addr)?;
        self.open.fetch_add(1, Ordering::Relaxed);
        let servers = context.servers.clone();
        bump(&servers.get(server).counters.udp_sockets);
        let sock = Arc::new(Sock {
            socket,
            server,
            table: Mutex::new(Table::default()),
            changed: Notify::new(),
            open: self.open.clone(),
            servers,
        });
        let reader = read(sock.clone(), list.clone(), context.clone());
        context.handle.spawn(reader);
        Ok(sock)
    }
}

/// A non-blocking UDP socket on an OS-chosen ephemeral port, connected to `server` (so the
/// kernel drops datagrams from other sources and reports ICMP port unreachable as
/// ECONNREFUSED).
fn udp_socket(server: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM.nonblocking(),
        Some(Protocol::UDP),
    )?;
    // Best effort: a smaller buffer only means more loss under a burst of replies.
    let _ = socket.set_recv_buffer_size(RECV_BUFFER_BYTES);
    socket.connect(&server.into())?;
    UdpSocket::from_std(socket.into())
}

/// The reader task of one socket.
async fn read(sock: Arc<Sock>, list: SocketList, mut context: TaskContext) {
    let guard = context.guard();
    loop {
        if sock.is_drained() {
            break;
        }
        let expiry = sock.next_expiry();
        let sleep = async {
            match expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = context.shutdown.changed() => break,
            _ = sock.changed.notified() => {}
            ready = sock.socket.ready(Interest::READABLE | Interest::ERROR) => {
                let now = Instant::now();
                match ready {
                    Ok(ready) => {
                        if ready.is_error() {
                            take_error(&sock, now);
                        }
                        if ready.is_readable() {
                            receive(&sock, now, &context);
                        }
                    }
                    Err(error) => {
                        sock.fail_all(&error, now);
                        break;
                    }
                }
            }
            _ = sleep => sock.expire(Instant::now(), &context),
        }
    }
    lock(&list).remove(&sock);
    guard.finish();
}

/// Reads what is queued, up to a batch, into a buffer on the stack (a reader task holds no
/// buffer while it waits).
fn receive(sock: &Sock, now: Instant, context: &TaskContext) {
    let mut buf = [0u8; RECV_BUFFER];
    for _ in 0..READ_BATCH {
        match sock.socket.try_recv(&mut buf) {
            Ok(n) => sock.dispatch(&buf[..n], now, context),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            // A pending ICMP error surfaces here too.
            Err(e) => sock.fail_all(&e, now),
        }
    }
}

/// Takes the socket's pending error (ICMP) and clears the error readiness.
fn take_error(sock: &Sock, now: Instant) {
    if let Ok(Some(error)) = sock.socket.take_error() {
        sock.fail_all(&error, now);
    }
    let _ = sock.socket.try_io(Interest::ERROR, || {
        Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
    });
}
