//! The I/O of one question for one candidate: attempts over the servers until a usable reply,
//! the attempts run out, or the deadline.
//!
//! Algorithm:
//! - attempt `k` goes to server `(start + k) mod n` (see `servers`), over a fresh connected UDP
//!   socket (fresh ephemeral port) with a fresh random ID from the thread-local CSPRNG;
//! - it waits until `min(now + timeout, deadline)` with one `timeout_at`, polling *every* socket
//!   of this question still open, so a late reply to an earlier attempt is taken;
//! - datagrams that fail validation are ignored and counted, the wait goes on;
//! - ECONNREFUSED, SERVFAIL, REFUSED, NOTIMP, lame or malformed replies end the attempt at once
//!   (next server); a FORMERR to an EDNS query asks the same server again without EDNS;
//! - TC=1 asks the same server over TCP, with its own `min(now + timeout, deadline)`;
//! - NOERROR (answer or NODATA) and NXDOMAIN end the exchange.
//!
//! Nothing is spawned: sockets live in this future and close when it completes or is dropped.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::io::{Interest, ReadBuf, Ready};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;
use tracing::{Span, debug, debug_span};

use crate::error::ErrorKind;
use crate::servers::{ServerState, Servers, server_for_attempt};
use crate::trace::{AttemptResult, AttemptTrace, Transport};
use crate::wire::{Answered, Check, Question, Reply, build_query, check_reply, classify};

/// Receive buffer: the largest EDNS payload we advertise. A larger datagram (a server ignoring
/// our advertised size) is cut by the kernel, fails to parse and is ignored.
const RECV_BUFFER: usize = 4096;

/// The knobs an exchange needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) timeout: Duration,
    pub(crate) attempts: u8,
    pub(crate) edns: Option<u16>,
    pub(crate) tcp_only: bool,
}

/// What one question came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeOutcome {
    Answer {
        answered: Answered,
        server: SocketAddr,
    },
    NoData,
    NxDomain,
    Failed {
        kind: ErrorKind,
        io: Option<io::ErrorKind>,
    },
}

/// Asks `question` until an answer, the attempts run out, or `deadline`. Every query sent is
/// appended to `trace` (times relative to `lookup_start`).
pub(crate) async fn exchange(
    servers: &Servers,
    settings: Settings,
    question: &Question,
    lookup_start: Instant,
    deadline: Instant,
    trace: &mut Vec<AttemptTrace>,
) -> TypeOutcome {
    let first = trace.len();
    let exchange = Exchange {
        servers,
        settings,
        question,
        lookup_start,
        deadline,
        trace,
        first,
        tally: Tally::default(),
        in_flight: Vec::new(),
    };
    exchange.run().await
}

/// Which failures were seen, to name the candidate's failure.
#[derive(Debug, Default)]
struct Tally {
    servfail: bool,
    refused: bool,
    timeout: bool,
    network: Option<io::ErrorKind>,
    malformed: bool,
    deadline: bool,
}

impl Tally {
    fn note(&mut self, result: AttemptResult) {
        match result {
            AttemptResult::ServFail | AttemptResult::FormErr | AttemptResult::Lame => {
                self.servfail = true
            }
            AttemptResult::Refused | AttemptResult::NotImp => self.refused = true,
            AttemptResult::Timeout => self.timeout = true,
            AttemptResult::Deadline => self.deadline = true,
            AttemptResult::ConnectionRefused => {
                self.network.get_or_insert(io::ErrorKind::ConnectionRefused);
            }
            AttemptResult::Network(kind) => {
                self.network.get_or_insert(kind);
            }
            AttemptResult::Malformed => self.malformed = true,
            _ => {}
        }
    }

    /// The failure to report: the deadline wins (it cut the candidate short); then what servers
    /// said (SERVFAIL, REFUSED), then silence, then socket errors, then malformed replies.
    fn verdict(&self) -> TypeOutcome {
        let kind = if self.deadline {
            ErrorKind::Timeout
        } else if self.servfail {
            ErrorKind::ServFail
        } else if self.refused {
            ErrorKind::Refused
        } else if self.timeout {
            ErrorKind::Timeout
        } else if self.network.is_some() {
            ErrorKind::Network
        } else if self.malformed {
            ErrorKind::Malformed
        } else {
            ErrorKind::Timeout
        };
        let io = if kind == ErrorKind::Network {
            self.network
        } else {
            None
        };
        TypeOutcome::Failed { kind, io }
    }
}

/// Resolves when the socket has a pending error (ICMP port unreachable): epoll reports that as
/// EPOLLERR without EPOLLIN, which does not wake a reader, so it is watched separately.
type ErrorWatch = Pin<Box<dyn Future<Output = io::Result<Ready>> + Send>>;

/// A UDP query waiting for its reply.
struct InFlight {
    socket: Arc<UdpSocket>,
    error_watch: ErrorWatch,
    id: u16,
    server: usize,
    edns: bool,
    trace: usize,
    span: Span,
}

/// What happened on a socket.
enum Event {
    /// A datagram, copied out of the receive buffer at its own length.
    Datagram {
        datagram: Vec<u8>,
        from: SocketAddr,
    },
    Error(io::Error),
}

/// What the attempt loop does next.
enum Flow {
    Done(TypeOutcome),
    KeepWaiting,
    NextAttempt,
    /// The current attempt was re-sent (without EDNS) as this trace entry.
    Replaced(usize),
    /// FORMERR to an EDNS query: ask again without EDNS.
    RetryPlain,
}

struct Exchange<'a> {
    servers: &'a Servers,
    settings: Settings,
    question: &'a Question,
    lookup_start: Instant,
    deadline: Instant,
    trace: &'a mut Vec<AttemptTrace>,
    first: usize,
    tally: Tally,
    in_flight: Vec<InFlight>,
}

impl Exchange<'_> {
    async fn run(mut self) -> TypeOutcome {
        let n = self.servers.len();
        let start = self.servers.start(std::time::Instant::now());
        let mut turn = 0usize;
        for k in 0..usize::from(self.settings.attempts) {
            let now = Instant::now();
            if now >= self.deadline {
                self.tally.deadline = true;
                break;
            }
            let server = server_for_attempt(start, k, n);
            let edns = self.edns_for(server);
            let attempt_deadline = (now + self.settings.timeout).min(self.deadline);
            if self.settings.tcp_only {
                if let Flow::Done(outcome) = self.tcp_attempt(server, edns, attempt_deadline).await
                {
                    return outcome;
                }
                continue;
            }
            let Some(mut current) = self.send_udp(server, edns).await else {
                continue;
            };
            let mut attempt_deadline = attempt_deadline;
            loop {
                let in_flight = &mut self.in_flight;
                turn = turn.wrapping_add(1);
                let wait = std::future::poll_fn(|cx| poll_in_flight(cx, in_flight, turn));
                let (i, event) = match tokio::time::timeout_at(attempt_deadline, wait).await {
                    Ok(ready) => ready,
                    Err(_) => {
                        self.attempt_timed_out(current, attempt_deadline);
                        break;
                    }
                };
                match self.on_event(i, event, current).await {
                    Flow::Done(outcome) => return outcome,
                    Flow::KeepWaiting | Flow::RetryPlain => {}
                    Flow::NextAttempt => break,
                    Flow::Replaced(trace) => {
                        current = trace;
                        attempt_deadline =
                            (Instant::now() + self.settings.timeout).min(self.deadline);
                    }
                }
            }
        }
        if Instant::now() >= self.deadline {
            self.tally.deadline = true;
        }
        self.tally.verdict()
    }

    fn edns_for(&self, server: usize) -> Option<u16> {
        self.settings
            .edns
            .filter(|_| !self.servers.get(server).no_edns())
    }

    fn state(&self, server: usize) -> &ServerState {
        self.servers.get(server)
    }

    /// Appends a trace entry for a query being sent; returns its index.
    fn new_trace(&mut self, server: usize, transport: Transport, id: u16) -> usize {
        let at = self.lookup_start.elapsed();
        self.trace.push(AttemptTrace {
            server: self.state(server).addr,
            record_type: self.question.record_type,
            transport,
            id,
            result: AttemptResult::Unanswered,
            ignored: 0,
            sent_at: at,
            finished_at: at,
        });
        self.trace.len() - 1
    }

    /// Sets the result of a trace entry and notes it for the failure verdict.
    fn finish(&mut self, trace: usize, result: AttemptResult) {
        self.tally.note(result);
        let entry = &mut self.trace[trace];
        entry.result = result;
        entry.finished_at = self.lookup_start.elapsed();
    }

    /// Opens a fresh socket and sends one query. `None` if that failed (recorded).
    async fn send_udp(&mut self, server: usize, edns: Option<u16>) -> Option<usize> {
        let addr = self.state(server).addr;
        let id: u16 = rand::random();
        let trace = self.new_trace(server, Transport::Udp, id);
        let span = debug_span!("attempt", server = %addr, id, n = trace - self.first);
        let query = build_query(id, self.question, edns);
        ServerState::bump(&self.state(server).queries);
        let sent = async {
            let socket = udp_socket(addr)?;
            socket.send(&query).await?;
            Ok::<_, io::Error>(socket)
        }
        .await;
        match sent {
            Ok(socket) => {
                span.in_scope(|| debug!(name = %self.question.name, "query sent"));
                let edns = edns.is_some();
                let socket = Arc::new(socket);
                let watched = socket.clone();
                let error_watch: ErrorWatch =
                    Box::pin(async move { watched.ready(Interest::ERROR).await });
                self.in_flight.push(InFlight {
                    socket,
                    error_watch,
                    id,
                    server,
                    edns,
                    trace,
                    span,
                });
                Some(trace)
            }
            Err(error) => {
                span.in_scope(|| debug!(%error, "send failed"));
                self.socket_error(server, trace, &error);
                None
            }
        }
    }

    fn socket_error(&mut self, server: usize, trace: usize, error: &io::Error) {
        let result = match error.kind() {
            io::ErrorKind::ConnectionRefused => AttemptResult::ConnectionRefused,
            kind => AttemptResult::Network(kind),
        };
        let state = self.state(server);
        ServerState::bump(&state.network_errors);
        state.failed(std::time::Instant::now());
        self.finish(trace, result);
    }

    fn attempt_timed_out(&mut self, current: usize, attempt_deadline: Instant) {
        let Some(flight) = self.in_flight.iter().find(|f| f.trace == current) else {
            return;
        };
        let server = flight.server;
        flight.span.in_scope(|| debug!("attempt timed out"));
        let state = self.state(server);
        ServerState::bump(&state.timeouts);
        state.failed(std::time::Instant::now());
        let result = if attempt_deadline >= self.deadline {
            AttemptResult::Deadline
        } else {
            AttemptResult::Timeout
        };
        self.finish(current, result);
    }

    async fn on_event(&mut self, i: usize, event: Event, current: usize) -> Flow {
        let flight = &self.in_flight[i];
        let was_current = flight.trace == current;
        let ended = |flow: Flow| match flow {
            Flow::NextAttempt if !was_current => Flow::KeepWaiting,
            other => other,
        };
        match event {
            Event::Error(error) => {
                flight.span.in_scope(|| debug!(%error, "socket error"));
                let flight = self.in_flight.remove(i);
                self.socket_error(flight.server, flight.trace, &error);
                ended(Flow::NextAttempt)
            }
            Event::Datagram { datagram, from } => {
                let addr = self.state(flight.server).addr;
                match check_reply(&datagram, from, addr, flight.id, self.question) {
                    Check::Ignore(reason) => {
                        flight
                            .span
                            .in_scope(|| debug!(?reason, %from, "datagram ignored"));
                        ServerState::bump(&self.state(flight.server).ignored);
                        let entry = &mut self.trace[flight.trace];
                        entry.ignored = entry.ignored.saturating_add(1);
                        Flow::KeepWaiting
                    }
                    Check::Truncated => {
                        let flight = self.in_flight.remove(i);
                        flight
                            .span
                            .in_scope(|| debug!("truncated, asking over TCP"));
                        ServerState::bump(&self.state(flight.server).tcp_fallbacks);
                        self.finish(flight.trace, AttemptResult::Truncated);
                        let edns = self.edns_for(flight.server);
                        let deadline = (Instant::now() + self.settings.timeout).min(self.deadline);
                        ended(self.tcp_attempt(flight.server, edns, deadline).await)
                    }
                    Check::Accept(message) => {
                        let flight = self.in_flight.remove(i);
                        let reply = classify(&message, self.question);
                        flight.span.in_scope(|| debug!(?reply, "reply accepted"));
                        match self.on_reply(reply, flight.server, flight.trace, flight.edns) {
                            Flow::RetryPlain => match self.send_udp(flight.server, None).await {
                                Some(trace) if was_current => Flow::Replaced(trace),
                                Some(_) => Flow::KeepWaiting,
                                None => ended(Flow::NextAttempt),
                            },
                            flow => ended(flow),
                        }
                    }
                }
            }
        }
    }

    /// Handles an accepted reply from `server` to the query traced at `trace`.
    fn on_reply(&mut self, reply: Reply, server: usize, trace: usize, edns: bool) -> Flow {
        let state = self.state(server);
        ServerState::bump(&state.answers);
        let addr = state.addr;
        let (result, flow) = match reply {
            Reply::Answer(answered) => {
                state.succeeded();
                let outcome = TypeOutcome::Answer {
                    answered,
                    server: addr,
                };
                (AttemptResult::Answer, Flow::Done(outcome))
            }
            Reply::NoData => {
                state.succeeded();
                (AttemptResult::NoData, Flow::Done(TypeOutcome::NoData))
            }
            Reply::NxDomain => {
                state.succeeded();
                (AttemptResult::NxDomain, Flow::Done(TypeOutcome::NxDomain))
            }
            Reply::FormErr if edns => {
                state.set_no_edns();
                (AttemptResult::FormErr, Flow::RetryPlain)
            }
            Reply::ServFail | Reply::FormErr | Reply::Lame => {
                ServerState::bump(&state.servfails);
                state.failed(std::time::Instant::now());
                let result = match reply {
                    Reply::Lame => AttemptResult::Lame,
                    Reply::FormErr => AttemptResult::FormErr,
                    _ => AttemptResult::ServFail,
                };
                (result, Flow::NextAttempt)
            }
            Reply::Refused | Reply::NotImp => {
                ServerState::bump(&state.refused);
                state.failed(std::time::Instant::now());
                let result = match reply {
                    Reply::NotImp => AttemptResult::NotImp,
                    _ => AttemptResult::Refused,
                };
                (result, Flow::NextAttempt)
            }
            Reply::Malformed => (AttemptResult::Malformed, Flow::NextAttempt),
        };
        self.finish(trace, result);
        flow
    }

    /// One question over TCP to `server`, until `deadline`; a FORMERR to EDNS is asked again
    /// without EDNS. Returns `Done` or `NextAttempt`.
    async fn tcp_attempt(
        &mut self,
        server: usize,
        mut edns: Option<u16>,
        deadline: Instant,
    ) -> Flow {
        loop {
            let addr = self.state(server).addr;
            let id: u16 = rand::random();
            let trace = self.new_trace(server, Transport::Tcp, id);
            ServerState::bump(&self.state(server).queries);
            let span = debug_span!("attempt", server = %addr, id, tcp = true);
            let query = build_query(id, self.question, edns);
            let reply = tokio::time::timeout_at(deadline, tcp_query(addr, &query)).await;
            let bytes = match reply {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(error)) => {
                    span.in_scope(|| debug!(%error, "tcp failed"));
                    self.socket_error(server, trace, &error);
                    return Flow::NextAttempt;
                }
                Err(_) => {
                    span.in_scope(|| debug!("tcp timed out"));
                    let state = self.state(server);
                    ServerState::bump(&state.timeouts);
                    state.failed(std::time::Instant::now());
                    let deadline_hit = deadline >= self.deadline;
                    let result = if deadline_hit {
                        AttemptResult::Deadline
                    } else {
                        AttemptResult::Timeout
                    };
                    self.finish(trace, result);
                    return Flow::NextAttempt;
                }
            };
            let reply = match check_reply(&bytes, addr, addr, id, self.question) {
                Check::Accept(message) => classify(&message, self.question),
                other => {
                    span.in_scope(|| debug!(?other, "unusable tcp reply"));
                    ServerState::bump(&self.state(server).ignored);
                    self.finish(trace, AttemptResult::Malformed);
                    return Flow::NextAttempt;
                }
            };
            span.in_scope(|| debug!(?reply, "tcp reply accepted"));
            match self.on_reply(reply, server, trace, edns.is_some()) {
                Flow::RetryPlain => edns = None,
                flow => return flow,
            }
        }
    }
}

/// Polls every in-flight socket once, starting at a rotating index so that a flood on one
/// socket cannot starve the others.
///
/// The receive buffer lives on the stack for the length of one poll, uninitialised: a lookup
/// waiting for its reply holds no buffer, and no poll pays for zeroing one. A datagram that
/// arrives is copied out at its own length.
fn poll_in_flight(
    cx: &mut Context<'_>,
    in_flight: &mut [InFlight],
    turn: usize,
) -> Poll<(usize, Event)> {
    let mut storage = [MaybeUninit::<u8>::uninit(); RECV_BUFFER];
    let n = in_flight.len();
    for j in 0..n {
        let i = (turn + j) % n;
        let mut read = ReadBuf::uninit(&mut storage);
        match in_flight[i].socket.poll_recv_from(cx, &mut read) {
            Poll::Ready(Ok(from)) => {
                let datagram = read.filled().to_vec();
                return Poll::Ready((i, Event::Datagram { datagram, from }));
            }
            Poll::Ready(Err(error)) => return Poll::Ready((i, Event::Error(error))),
            Poll::Pending => {}
        }
        let flight = &mut in_flight[i];
        if let Poll::Ready(ready) = flight.error_watch.as_mut().poll(cx) {
            let error = match ready.and_then(|_| flight.socket.take_error()) {
                Ok(Some(error)) | Err(error) => error,
                Ok(None) => io::Error::other("socket reported an error without a code"),
            };
            return Poll::Ready((i, Event::Error(error)));
        }
    }
    Poll::Pending
}

/// A non-blocking UDP socket on a fresh ephemeral port, connected to `server` (so the kernel
/// reports ICMP port unreachable as ECONNREFUSED, and drops datagrams from other sources).
///
/// Three system calls: `socket` (created non-blocking and close-on-exec, no `fcntl`), `connect`
/// (which binds a fresh ephemeral port itself: no `bind(0)`), and tokio's `epoll_ctl`.
fn udp_socket(server: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM.nonblocking(),
        Some(Protocol::UDP),
    )?;
    socket.connect(&server.into())?;
    UdpSocket::from_std(socket.into())
}

/// One query over a fresh TCP connection (RFC 1035 §4.2.2 length prefix); returns the reply.
async fn tcp_query(server: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let len = u16::try_from(query.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let len = stream.read_u16().await?;
    let mut reply = vec![0u8; usize::from(len)];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}
