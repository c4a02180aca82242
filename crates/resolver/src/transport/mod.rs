//! Sockets: a resolver's pool of UDP sockets and its TCP connections, and the inbox through
//! which they hand replies to the lookups waiting for them.
//!
//! Shape:
//! - one [`Transport`] per resolver and tokio runtime (sockets are registered with one
//!   runtime's reactor), made on the first lookup in that runtime;
//! - a lookup sends its queries itself ([`Transport::send`]), getting a [`Registration`] per
//!   query: the query's ID on its socket or connection, unique there, drawn from the CSPRNG.
//!   Dropping the registration (the query settled, or the lookup dropped) removes the entry
//!   at once;
//! - each pooled socket and each TCP connection has one reader task that owns receiving: it
//!   routes a datagram by its ID to the waiting query's [`Inbox`] (the lookup validates it) and
//!   ends when its socket is retired and drained, or when the resolver is dropped. No task
//!   outlives the resolver: dropping the last `Resolver` drops the transports, whose shutdown
//!   signal ends every task at its next poll.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Waker};

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::policy::exchange::Linger;
use crate::policy::servers::Servers;
use crate::trace::Transport as Proto;

mod tcp;
mod udp;

pub(crate) use udp::Limits;

/// Deliveries an inbox holds at most; beyond that a flood of datagrams carrying a waiting
/// query's ID is dropped (and counted as ignored) instead of growing memory.
const INBOX_CAPACITY: usize = 64;

/// Something for a waiting query: a message with its ID (not yet validated) or a socket error.
#[derive(Debug)]
pub(crate) enum Event {
    Message(Vec<u8>),
    Error(io::Error),
}

/// An event for the query `tag` (the lookup's own numbering), received at `at`.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) tag: u32,
    pub(crate) at: Instant,
    pub(crate) event: Event,
}

/// Ignored datagrams an inbox remembers at most between two looks by its lookup.
const IGNORED_CAPACITY: usize = 1024;

#[derive(Debug, Default)]
struct InboxState {
    items: Vec<Delivery>,
    /// Tags of queries that got a datagram with their ID but another question (or no
    /// response at all): counted, kept apart so a flood of them cannot crowd out a reply.
    ignored: Vec<u32>,
    waker: Option<Waker>,
}

/// Where readers put what arrives for one lookup's queries.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    /// The key of each of the lookup's questions (the high half of a tag picks one), for the
    /// readers' first check of a datagram.
    keys: [u64; 2],
    state: Mutex<InboxState>,
}

impl Inbox {
    /// An inbox for questions with these keys (at most two: A and AAAA).
    pub(crate) fn new(keys: &[u64]) -> Inbox {
        let mut inbox = Inbox::default();
        for (slot, key) in inbox.keys.iter_mut().zip(keys) {
            *slot = *key;
        }
        inbox
    }

    /// The key of the question query `tag` asks.
    pub(crate) fn key(&self, tag: u32) -> Option<u64> {
        self.keys.get((tag >> 16) as usize).copied()
    }

    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a delivery and wakes the lookup; `false` if the inbox is full (dropped).
    pub(crate) fn push(&self, delivery: Delivery) -> bool {
        let waker = {
            let mut state = self.lock();
            if state.items.len() >= INBOX_CAPACITY {
                return false;
            }
            state.items.push(delivery);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Notes a datagram that carried query `tag`'s ID but failed the reader's first check.
    pub(crate) fn ignored(&self, tag: u32) {
        let mut state = self.lock();
        if state.ignored.len() < IGNORED_CAPACITY {
            state.ignored.push(tag);
        }
    }

    /// Takes every delivery and every ignored tag; when there is no delivery, registers the
    /// task to be woken by the next one. (Taking the vectors, rather than copying out of
    /// them, keeps a waiting lookup free of buffers of its own.)
    pub(crate) fn take(&self, cx: &mut Context<'_>) -> (Vec<Delivery>, Vec<u32>) {
        let mut state = self.lock();
        let ignored = std::mem::take(&mut state.ignored);
        if state.items.is_empty() {
            Self::register(&mut state, cx);
        }
        (std::mem::take(&mut state.items), ignored)
    }

    /// Whether deliveries are waiting; if not, registers the task to be woken by the next.
    pub(crate) fn has_news(&self, cx: &mut Context<'_>) -> bool {
        let mut state = self.lock();
        if state.items.is_empty() {
            Self::register(&mut state, cx);
            return false;
        }
        true
    }

    fn register(state: &mut InboxState, cx: &mut Context<'_>) {
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
    }
}

/// A query registered on a socket or connection: dropping it removes the entry.
#[derive(Debug)]
pub(crate) enum Registration {
    Udp(udp::Entry),
    Tcp(tcp::Entry),
}

impl Registration {
    /// The query's message ID.
    pub(crate) fn id(&self) -> u16 {
        match self {
            Registration::Udp(entry) => entry.id(),
            Registration::Tcp(entry) => entry.id(),
        }
    }

    /// The query's RTO passed: its socket takes no new queries (c-ares's rule: a timeout may
    /// mean the path through that port is broken, e.g. a stale NAT or conntrack entry).
    pub(crate) fn retire_socket(&self) {
        if let Registration::Udp(entry) = self {
            entry.retire_socket();
        }
    }

    /// Keeps a UDP query registered after its question was settled, until `until`, so a late
    /// reply still feeds the latency model (a TCP query is simply removed).
    pub(crate) fn linger(self, linger: Linger, key: u64, until: Instant) {
        if let Registration::Udp(entry) = self {
            entry.linger(linger, key, until);
        }
    }
}

/// A query to send: what, to whom, and where its replies go.
pub(crate) struct Outgoing<'a> {
    pub(crate) server: usize,
    pub(crate) transport: Proto,
    /// The encoded query; its first two bytes (the ID) are set by the transport.
    pub(crate) message: &'a mut [u8],
    pub(crate) inbox: &'a Arc<Inbox>,
    /// The lookup's own number for the query: the question's index in the high half (see
    /// [`Inbox::key`]), the query's in the low half.
    pub(crate) tag: u32,
}

/// Marks its transport dead if the task holding it is dropped without finishing (its runtime
/// shut down): that transport's sockets are unusable, and the next lookup makes a new one.
pub(crate) struct TaskGuard {
    dead: Arc<AtomicBool>,
    finished: bool,
}

impl TaskGuard {
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.dead.store(true, Ordering::Relaxed);
        }
    }
}

/// What the reader tasks of one transport share.
#[derive(Clone)]
pub(crate) struct TaskContext {
    pub(crate) servers: Arc<Servers>,
    pub(crate) shutdown: watch::Receiver<()>,
    dead: Arc<AtomicBool>,
    handle: Handle,
}

impl TaskContext {
    fn guard(&self) -> TaskGuard {
        TaskGuard {
            dead: self.dead.clone(),
            finished: false,
        }
    }
}

/// The sockets of one resolver in one runtime.
pub(crate) struct Transport {
    runtime: tokio::runtime::Id,
    udp: udp::Pool,
    tcp: tcp::Pool,
    context: TaskContext,
    /// Dropping the sender ends every task of this transport.
    _shutdown: watch::Sender<()>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("runtime", &self.runtime)
            .field("udp", &self.udp)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport for the current runtime (`handle`).
    pub(crate) fn new(servers: Arc<Servers>, limits: Limits, handle: Handle) -> Transport {
        let (shutdown, receiver) = watch::channel(());
        let n = servers.len();
        let context = TaskContext {
            servers,
            shutdown: receiver,
            dead: Arc::new(AtomicBool::new(false)),
            handle: handle.clone(),
        };
        Transport {
            runtime: handle.id(),
            udp: udp::Pool::new(n, limits),
            tcp: tcp::Pool::new(n),
            context,
            _shutdown: shutdown,
        }
    }

    /// The runtime this transport's sockets belong to.
    pub(crate) fn runtime(&self) -> tokio::runtime::Id {
        self.runtime
    }

    /// Whether the runtime went away under this transport.
    pub(crate) fn is_dead(&self) -> bool {
        self.context.dead.load(Ordering::Relaxed)
    }

    /// Sends a query; its replies (or a socket error) will be delivered to `out.inbox`.
    pub(crate) fn send(&self, out: Outgoing<'_>) -> io::Result<Registration> {
        let addr = self.context.servers.get(out.server).addr;
        match out.transport {
            Proto::Udp => self
                .udp
                .send(&self.context, addr, out)
                .map(Registration::Udp),
            Proto::Tcp => self
                .tcp
                .send(&self.context, addr, out)
                .map(Registration::Tcp),
        }
    }
}
