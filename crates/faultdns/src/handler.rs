//! One message in, one decision out: parse, evaluate the rules, write the reply bytes.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use tokio::{
    runtime::Handle,
    sync::{Semaphore, mpsc, watch},
};

use crate::{
    counters::Live,
    engine::Engine,
    log::{Entry, LogSender},
    rule::{Action, Proto, Rule},
    upstream::{Forward, Upstreams},
    wire::{self, Parsed, Shape, rcode},
    zone::Store,
};

/// Delayed replies waiting at once; more are dropped and counted as `overload`.
pub(crate) const MAX_DELAYED: usize = 16_384;
/// Default limit of concurrent TCP connections; more are closed at once and counted.
pub(crate) const MAX_TCP: usize = 512;

/// State shared by every I/O task of one server.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) engine: Mutex<Engine>,
    pub(crate) live: Live,
    pub(crate) log: Option<LogSender>,
    pub(crate) delayed: Arc<Semaphore>,
    pub(crate) tcp_slots: Arc<Semaphore>,
    pub(crate) max_tcp: usize,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Set at shutdown, for the UDP threads (which do not await the watch).
    pub(crate) stopping: AtomicBool,
    /// The runtime the server was started on, for delayed replies from the UDP threads.
    pub(crate) runtime: Handle,
    pub(crate) tcp_idle: Duration,
    /// Where queries the data does not decide go, if anywhere.
    pub(crate) upstreams: Option<Upstreams>,
    /// Whether any rule acts on the reply path (read without the engine's lock).
    pub(crate) reply_rules: AtomicBool,
}

/// Per-task buffers, reused for every message.
#[derive(Default)]
pub(crate) struct Scratch {
    name: String,
    pub(crate) out: Vec<u8>,
}

/// What to do with `Scratch::out` after handling a message.
#[derive(Debug)]
pub(crate) enum Reply {
    None,
    Now,
    After(Duration),
    /// Send the query upstream (nothing is in `Scratch::out`).
    Forward(Box<Forward>),
}

/// Where a delayed reply goes.
pub(crate) enum Target {
    Udp(Arc<UdpSocket>, SocketAddr),
    /// A TCP connection's writer queue (the bytes include the length prefix).
    Tcp(mpsc::Sender<Vec<u8>>),
}

impl Shared {
    /// Replace the rules (their counters start again).
    pub(crate) fn set_rules(&self, rules: Vec<Rule>) {
        let mut engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        engine.set_rules(rules);
        self.reply_rules
            .store(engine.has_reply_rules(), Ordering::Relaxed);
    }

    /// Handle one message; the reply, if any, is left in `s.out`.
    pub(crate) fn handle(
        &self,
        msg: &[u8],
        proto: Proto,
        peer: SocketAddr,
        s: &mut Scratch,
    ) -> Reply {
        let q = match wire::parse(msg) {
            Parsed::Query(q) => q,
            Parsed::Ignore => {
                Live::bump(&self.live.ignored);
                return Reply::None;
            }
            Parsed::FormErr { id, flags } => {
                Live::bump(&self.live.formerr);
                wire::write_header_only(id, flags, rcode::FORMERR, &mut s.out);
                return Reply::Now;
            }
            Parsed::NotImp { id, flags } => {
                Live::bump(&self.live.notimp);
                wire::write_header_only(id, flags, rcode::NOTIMP, &mut s.out);
                return Reply::Now;
            }
        };
        q.name_into(&mut s.name);
        // With upstreams, what the data does not decide goes upstream as it is (an upstream
        // judges classes, transfers and EDNS versions itself).
        let forward = self.upstreams.is_some() && !self.store.is_local(&s.name);
        if !forward {
            if q.edns.is_some_and(|e| e.version > 0) {
                Live::bump(&self.live.refused);
                wire::write_badvers(&q, &mut s.out);
                return Reply::Now;
            }
            // Only class IN (or ANY) is served; zone transfers are not offered.
            if (q.qclass != 1 && q.qclass != 255) || q.qtype == 251 || q.qtype == 252 {
                Live::bump(&self.live.refused);
                wire::write_bare(&q, q.id, rcode::REFUSED, &mut s.out);
                return Reply::Now;
            }
        }
        let d = {
            let mut engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
            engine.decide(&s.name, q.qtype, proto, peer.ip())
        };
        if forward {
            let relayed = match d.action {
                Action::Answer | Action::WrongId => true,
                Action::Truncate => proto == Proto::Tcp,
                _ => false,
            };
            if relayed {
                Live::bump(&self.live.forwarded);
                return Reply::Forward(Box::new(Forward {
                    query: msg.into(),
                    question_end: 12 + q.question.len(),
                    name: s.name.clone(),
                    qtype: q.qtype,
                    client: peer,
                    proto,
                    decision: d,
                    client_udp_size: q.client_udp_size(),
                    received: SystemTime::now(),
                }));
            }
        }
        if let Some(log) = &self.log {
            let sent = log.send(Entry {
                time: SystemTime::now(),
                client: peer,
                id: q.id,
                name: s.name.clone(),
                qtype: q.qtype,
                proto,
                rule: d.rule,
                action: d.action,
                delay: d.delay,
                upstream: None,
            });
            if !sent {
                Live::bump(&self.live.log_dropped);
            }
        }
        let limit = match proto {
            Proto::Udp => q.udp_limit(),
            Proto::Tcp => usize::from(u16::MAX),
        };
        match d.action {
            Action::Drop => return Reply::None,
            Action::Truncate if forward => wire::write_truncated(&q, &mut s.out),
            Action::Answer | Action::Truncate | Action::WrongId => {
                let found = self.store.lookup(&s.name, q.qtype);
                let shape = if d.action == Action::Truncate && proto == Proto::Udp {
                    Shape::Truncated
                } else {
                    Shape::Full
                };
                let id = if d.action == Action::WrongId {
                    !q.id
                } else {
                    q.id
                };
                if wire::write_reply(&q, found.prepared, id, shape, limit, &mut s.out) {
                    Live::bump(&self.live.truncated);
                }
            }
            Action::NxDomain => {
                let prep = self.store.nxdomain_for(&s.name);
                if wire::write_reply(&q, prep, q.id, Shape::Full, limit, &mut s.out) {
                    Live::bump(&self.live.truncated);
                }
            }
            Action::ServFail => wire::write_bare(&q, q.id, rcode::SERVFAIL, &mut s.out),
            Action::Refused => wire::write_bare(&q, q.id, rcode::REFUSED, &mut s.out),
            Action::Malformed => wire::write_malformed(&q, &mut s.out),
        }
        match d.delay {
            Some(delay) if !delay.is_zero() => Reply::After(delay),
            _ => Reply::Now,
        }
    }

    /// Send `bytes` to `target` after `delay`, without holding up anything else. Bounded by
    /// [`MAX_DELAYED`]; ends early on shutdown.
    pub(crate) fn send_later(&self, delay: Duration, bytes: Vec<u8>, target: Target) {
        let Ok(permit) = self.delayed.clone().try_acquire_owned() else {
            Live::bump(&self.live.overload);
            return;
        };
        let mut shutdown = self.shutdown.clone();
        self.runtime.spawn(async move {
            let _permit = permit;
            tokio::select! {
                () = tokio::time::sleep(delay) => match target {
                    Target::Udp(sock, peer) => {
                        // A UDP send does not wait for the peer; it only copies to the kernel.
                        let _ = sock.send_to(&bytes, peer);
                    }
                    Target::Tcp(tx) => {
                        let _ = tx.send(bytes).await;
                    }
                },
                () = stopped(&mut shutdown) => {}
            }
        });
    }
}

/// Resolves once the server is shutting down (at once if it already is).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|down| *down).await;
}
