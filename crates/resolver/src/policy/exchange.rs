//! The question machine: one question (a name and a record type) asked of the servers until a
//! reply settles it, its attempts run out, or the deadline passes. Pure: it takes `now` and
//! events and returns commands; the async layer only moves bytes and timers.
//!
//! Algorithm:
//! - an *attempt* is the question asked of one server, lasting up to `timeout` from its first
//!   query (never past the deadline); attempt `k` goes to the `k`-th server from the
//!   healthiest, so `attempts x timeout` bounds a candidate as resolv.conf's options promise;
//! - inside an attempt, when the server's retransmission timeout (RTO, from its latency model)
//!   passes with no usable reply, the question is sent again: to the next server in order when
//!   there are several (a hedge), else to the same one, with the interval doubling each time,
//!   at most [`MAX_RESENDS`] times per attempt, and only while the server's re-send budget
//!   allows and it is not silent (see `servers::Budget` and the latency model); otherwise the
//!   attempt waits out its timeout;
//! - every query stays open until the question is settled: the first usable reply to any of
//!   them wins, late replies to earlier attempts included;
//! - an answer, NODATA or NXDOMAIN settles the question. SERVFAIL, REFUSED, NOTIMP, a lame or
//!   malformed reply, or a socket error (ICMP port unreachable) closes that query; when every
//!   query of the current attempt is closed the next attempt starts at once;
//! - TC=1 turns the current attempt into a TCP exchange with the server that sent it (its own
//!   `timeout`, no re-sends); FORMERR to an EDNS query marks the server as not speaking EDNS
//!   and asks it again without, restarting the attempt's clock;
//! - when the attempts run out or the deadline passes, the question fails with the verdict of
//!   what was seen: the deadline first, then what servers said (SERVFAIL, REFUSED), then
//!   silence, socket errors, malformed replies.

use std::io;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use tokio::time::Instant;

use super::servers::{Servers, bump, server_at};
use crate::trace::{FailureKind, QueryResult, QueryTrace, Transport};
use crate::wire::{Answered, Reply};

/// Index of a query within its exchange.
pub(crate) type SendId = usize;

/// Most re-sends in one attempt. With the RTO floor of 10 ms and doubling, an attempt to a
/// loss-free server sends at 0, 10, 30 and 70 ms: up to three losses in a row are recovered
/// within a tenth of a second (at 10% independent loss, all but one question in 10,000; at
/// 50% loss, two attempts of four queries leave one question in 256 unanswered). More would
/// mostly add load: an attempt still unanswered after four queries is meeting an outage more
/// often than bad luck. (A server that stops answering altogether is caught sooner, by the
/// latency model's silence rule, and gets one query per attempt.)
pub(crate) const MAX_RESENDS: u8 = 3;

/// The knobs of one exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) timeout: Duration,
    pub(crate) attempts: u8,
    pub(crate) edns: Option<u16>,
    pub(crate) tcp_only: bool,
}

/// A command: send the question to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transmit {
    /// The query's index, to report its ID, reply or error back.
    pub(crate) send: SendId,
    /// The server's index.
    pub(crate) server: usize,
    pub(crate) transport: Transport,
    /// The EDNS payload size to advertise, `None` for a plain query.
    pub(crate) edns: Option<u16>,
    /// For a re-send, the query whose RTO passed (the transport retires its socket).
    pub(crate) superseded: Option<SendId>,
}

/// What a question came to.
#[derive(Debug)]
pub(crate) enum Concluded {
    /// Records of the asked type, from this server (boxed: an exchange waiting for its reply
    /// keeps room for its conclusion).
    Answer {
        answered: Box<Answered>,
        server: usize,
    },
    NoData,
    NxDomain,
    /// No answer about the name; `io` is the socket error behind a network failure.
    Failed {
        kind: FailureKind,
        io: Option<io::Error>,
    },
}

/// A reply the async layer accepted for a query (its ID, source and question checked).
#[derive(Debug)]
pub(crate) enum Received {
    /// A complete reply, classified.
    Reply(Reply),
    /// TC=1 over UDP: the reply did not fit.
    Truncated,
}

/// What a UDP query still open when its question was settled needs, to be watched a little
/// longer for the latency model (see the transport's lingering queries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Linger {
    pub(crate) server: usize,
    pub(crate) sent_at: Instant,
    /// When a later query of the same question went out: a reply to this one after that
    /// makes that re-send unnecessary.
    pub(crate) resent_at: Option<Instant>,
}

/// One query sent, kept small (32 bytes): a lookup against a dead server keeps a dozen.
#[derive(Debug)]
struct Query {
    sent_at: Instant,
    /// Microseconds from `sent_at` to the result (`u32::MAX`: none yet).
    finished_us: u32,
    server: u16,
    /// For a re-send, the query whose RTO passed (`NONE`: not a re-send).
    superseded: u16,
    id: u16,
    ignored: u16,
    result: QueryResult,
    attempt: u8,
    flags: u8,
}

/// Over TCP (else UDP).
const TCP: u8 = 1;
/// With an EDNS OPT record.
const EDNS: u8 = 2;
/// Waiting for a reply.
const OPEN: u8 = 4;
/// A re-send already counted as unnecessary.
const WASTED: u8 = 8;
/// Handed to the transport (else still to be sent).
const SENT: u8 = 16;

/// No query: the `superseded` of a query that is not a re-send.
const NONE: u16 = u16::MAX;

impl Query {
    fn server(&self) -> usize {
        usize::from(self.server)
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    fn transport(&self) -> Transport {
        if self.has(TCP) {
            Transport::Tcp
        } else {
            Transport::Udp
        }
    }

    fn resend(&self) -> bool {
        self.superseded != NONE
    }

    fn superseded(&self) -> Option<SendId> {
        (self.superseded != NONE).then_some(usize::from(self.superseded))
    }

    fn finish(&mut self, now: Instant, result: QueryResult) {
        self.result = result;
        let us = now.saturating_duration_since(self.sent_at).as_micros();
        self.finished_us = u32::try_from(us).unwrap_or(u32::MAX - 1);
    }

    fn finished_at(&self) -> Instant {
        match self.finished_us {
            u32::MAX => self.sent_at,
            us => self.sent_at + Duration::from_micros(u64::from(us)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Over UDP: when the next re-send goes out (`None`: no more early re-sends in this
    /// attempt), the interval it waited, and the queries of the attempt so far.
    Udp {
        next: Option<Instant>,
        interval: Duration,
        queries: u8,
    },
    /// The attempt is a TCP exchange (`use-vc`, or after TC=1).
    Tcp,
}

/// Which failures were seen, to name the question's failure.
#[derive(Debug, Default)]
struct Tally {
    servfail: bool,
    refused: bool,
    timeout: bool,
    network: Option<io::Error>,
    malformed: bool,
    deadline: bool,
}

impl Tally {
    fn note(&mut self, result: QueryResult) {
        match result {
            QueryResult::ServFail | QueryResult::FormErr | QueryResult::Lame => {
                self.servfail = true
            }
            QueryResult::Refused | QueryResult::NotImp => self.refused = true,
            QueryResult::Timeout => self.timeout = true,
            QueryResult::Deadline => self.deadline = true,
            QueryResult::Malformed => self.malformed = true,
            _ => {}
        }
    }

    /// The failure to report: the deadline wins (it cut the question short); then what servers
    /// said (SERVFAIL, REFUSED), then silence, then socket errors, then malformed replies.
    fn verdict(&mut self) -> Concluded {
        let kind = if self.deadline {
            FailureKind::Timeout
        } else if self.servfail {
            FailureKind::ServFail
        } else if self.refused {
            FailureKind::Refused
        } else if self.timeout {
            FailureKind::Timeout
        } else if self.network.is_some() {
            FailureKind::Network
        } else if self.malformed {
            FailureKind::Malformed
        } else {
            FailureKind::Timeout
        };
        let io = match kind {
            FailureKind::Network => self.network.take(),
            _ => None,
        };
        Concluded::Failed { kind, io }
    }
}

/// One question's exchange with the servers.
#[derive(Debug)]
pub(crate) struct Exchange {
    record_type: RecordType,
    settings: Settings,
    deadline: Instant,
    first: usize,
    n: usize,
    attempt: u8,
    attempt_end: Instant,
    phase: Phase,
    /// Re-sends in the current attempt (at most [`MAX_RESENDS`]).
    resends: u8,
    queries: Vec<Query>,
    tally: Tally,
    done: Option<Concluded>,
}

impl Exchange {
    /// Starts asking: the first query is ready in [`poll_transmit`](Self::poll_transmit).
    pub(crate) fn new(
        record_type: RecordType,
        settings: Settings,
        servers: &Servers,
        now: Instant,
        deadline: Instant,
    ) -> Exchange {
        let mut exchange = Exchange {
            record_type,
            settings,
            deadline,
            first: servers.start(now),
            n: servers.len(),
            attempt: 0,
            attempt_end: now,
            phase: Phase::Tcp,
            resends: 0,
            queries: Vec::new(),
            tally: Tally::default(),
            done: None,
        };
        if now >= deadline {
            exchange.tally.deadline = true;
            exchange.conclude_failure();
        } else {
            exchange.start_attempt(0, now, servers);
        }
        exchange
    }

    pub(crate) fn record_type(&self) -> RecordType {
        self.record_type
    }

    /// The next query to send now, if any.
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        let send = self.queries.iter().position(|q| !q.has(SENT))?;
        let query = &mut self.queries[send];
        query.set(SENT, true);
        Some(Transmit {
            send,
            server: query.server(),
            transport: query.transport(),
            edns: self.settings.edns.filter(|_| query.has(EDNS)),
            superseded: query.superseded(),
        })
    }

    /// The transport sent query `send` with message ID `id`.
    pub(crate) fn sent(&mut self, send: SendId, id: u16) {
        if let Some(query) = self.queries.get_mut(send) {
            query.id = id;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run next (`None` once settled).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.done.is_some() {
            return None;
        }
        let mut at = self.deadline.min(self.attempt_end);
        if let Phase::Udp {
            next: Some(next), ..
        } = self.phase
        {
            at = at.min(next);
        }
        Some(at)
    }

    /// Whether the question is settled (answered or failed).
    pub(crate) fn is_done(&self) -> bool {
        self.done.is_some()
    }

    /// Whether the question was settled with records.
    pub(crate) fn is_answered(&self) -> bool {
        matches!(self.done, Some(Concluded::Answer { .. }))
    }

    /// The EDNS payload size query `send` advertised (`None`: a plain query).
    pub(crate) fn edns_of(&self, send: SendId) -> Option<u16> {
        let query = self.queries.get(send)?;
        self.settings.edns.filter(|_| query.has(EDNS))
    }

    /// The server query `send` went to.
    pub(crate) fn server_of(&self, send: SendId) -> Option<usize> {
        self.queries.get(send).map(Query::server)
    }

    /// Whether query `send` is still open after its attempt ended without a reply (its
    /// socket is then retired, as after a re-send).
    pub(crate) fn timed_out(&self, send: SendId) -> bool {
        self.queries.get(send).is_some_and(|q| {
            q.has(OPEN) && matches!(q.result, QueryResult::Timeout | QueryResult::Deadline)
        })
    }

    /// Whether query `send` still waits for a reply.
    pub(crate) fn is_open(&self, send: SendId) -> bool {
        self.queries.get(send).is_some_and(|q| q.has(OPEN))
    }

    /// Runs the timers due at `now`: re-sends, the end of an attempt, the deadline.
    pub(crate) fn handle_timeout(&mut self, now: Instant, servers: &Servers) {
        while let Some(at) = self.poll_timeout() {
            if at > now {
                break;
            }
            if now >= self.deadline {
                self.end_attempt(now, QueryResult::Deadline, servers);
                self.tally.deadline = true;
                self.conclude_failure();
            } else if now >= self.attempt_end {
                self.end_attempt(now, QueryResult::Timeout, servers);
                self.next_attempt(now, servers);
            } else {
                self.resend(now, servers);
            }
        }
    }

    /// A reply to query `send`, received at `now`.
    pub(crate) fn handle_reply(
        &mut self,
        send: SendId,
        now: Instant,
        received: Received,
        servers: &Servers,
    ) {
        if self.done.is_some() || !self.is_open(send) {
            return;
        }
        let (server, transport, sent_at, edns) = {
            let q = &self.queries[send];
            (q.server(), q.transport(), q.sent_at, q.has(EDNS))
        };
        let latency = (transport == Transport::Udp).then(|| now.saturating_duration_since(sent_at));
        servers.replied(server, now, latency);
        self.charge_resends_after(sent_at, servers);
        let reply = match received {
            Received::Truncated => {
                self.close(send, now, QueryResult::Truncated);
                bump(&servers.get(server).counters.tcp_fallbacks);
                if !matches!(self.phase, Phase::Tcp) {
                    self.phase = Phase::Tcp;
                    self.attempt_end = (now + self.settings.timeout).min(self.deadline);
                    let edns = self.edns_for(server, servers);
                    self.queue_query(now, server, Transport::Tcp, edns, None, servers);
                }
                return;
            }
            Received::Reply(reply) => reply,
        };
        match reply {
            Ok(answered) => {
                servers.succeeded(server);
                self.close(send, now, QueryResult::Answer);
                self.done = Some(Concluded::Answer {
                    answered: Box::new(answered),
                    server,
                });
            }
            Err(result @ (QueryResult::NoData | QueryResult::NxDomain)) => {
                servers.succeeded(server);
                self.close(send, now, result);
                self.done = Some(if result == QueryResult::NoData {
                    Concluded::NoData
                } else {
                    Concluded::NxDomain
                });
            }
            Err(QueryResult::FormErr) if edns => {
                // The server does not understand EDNS: ask it again without, with a fresh
                // attempt clock (this is the same attempt, not a new one).
                servers.set_no_edns(server);
                self.close(send, now, QueryResult::FormErr);
                self.attempt_end = self
                    .attempt_end
                    .max((now + self.settings.timeout).min(self.deadline));
                if let Phase::Udp { .. } = self.phase {
                    let interval = servers.rto(server);
                    self.phase = Phase::Udp {
                        next: self.next_resend(now, interval),
                        interval,
                        queries: 1,
                    };
                }
                self.queue_query(now, server, transport, None, None, servers);
            }
            Err(result) => {
                let counters = &servers.get(server).counters;
                match result {
                    QueryResult::Refused | QueryResult::NotImp => {
                        bump(&counters.refused);
                        servers.failed(server, now);
                    }
                    QueryResult::Malformed => {}
                    _ => {
                        bump(&counters.servfails);
                        servers.failed(server, now);
                    }
                }
                self.close(send, now, result);
                self.after_close(now, servers);
            }
        }
    }

    /// A socket error on query `send` (ICMP port unreachable, a closed TCP connection...).
    pub(crate) fn handle_error(
        &mut self,
        send: SendId,
        now: Instant,
        error: io::Error,
        servers: &Servers,
    ) {
        if self.done.is_some() || !self.is_open(send) {
            return;
        }
        let server = self.queries[send].server();
        bump(&servers.get(server).counters.network_errors);
        servers.failed(server, now);
        let result = match error.kind() {
            io::ErrorKind::ConnectionRefused => QueryResult::ConnectionRefused,
            kind => QueryResult::Network(kind),
        };
        self.tally.network.get_or_insert(error);
        self.close(send, now, result);
        self.after_close(now, servers);
    }

    /// A datagram with query `send`'s ID that failed validation.
    pub(crate) fn handle_ignored(&mut self, send: SendId, servers: &Servers) {
        if let Some(query) = self.queries.get_mut(send) {
            query.ignored = query.ignored.saturating_add(1);
            bump(&servers.get(query.server()).counters.ignored);
        }
    }

    /// The UDP queries still open once the question is settled, with what watching them a
    /// little longer needs.
    pub(crate) fn lingering(&self) -> impl Iterator<Item = (SendId, Linger)> + '_ {
        self.queries
            .iter()
            .enumerate()
            .filter(|(_, q)| q.has(OPEN) && !q.has(TCP))
            .map(|(i, q)| {
                let resent_at = self
                    .queries
                    .iter()
                    .filter(|later| later.sent_at > q.sent_at && !later.has(WASTED))
                    .map(|later| later.sent_at)
                    .min();
                (
                    i,
                    Linger {
                        server: q.server(),
                        sent_at: q.sent_at,
                        resent_at,
                    },
                )
            })
    }

    /// Takes the conclusion and the trace (times relative to `lookup_start`) once settled.
    pub(crate) fn finish(
        &mut self,
        lookup_start: Instant,
        servers: &Servers,
    ) -> Option<(Concluded, Vec<QueryTrace>)> {
        let concluded = self.done.take()?;
        Some((concluded, self.trace(lookup_start, servers)))
    }

    /// The queries so far, as trace entries (times relative to `lookup_start`).
    pub(crate) fn trace(&self, lookup_start: Instant, servers: &Servers) -> Vec<QueryTrace> {
        let since = |at: Instant| at.saturating_duration_since(lookup_start);
        self.queries
            .iter()
            .map(|q| QueryTrace {
                server: servers.get(q.server()).addr,
                record_type: self.record_type,
                transport: q.transport(),
                id: q.id,
                attempt: q.attempt,
                resend: q.resend(),
                result: q.result,
                ignored: u32::from(q.ignored),
                sent_at: since(q.sent_at),
                finished_at: since(q.finished_at()),
            })
            .collect()
    }

    fn edns_for(&self, server: usize, servers: &Servers) -> Option<u16> {
        self.settings
            .edns
            .filter(|_| !servers.get(server).no_edns())
    }

    fn start_attempt(&mut self, attempt: u8, now: Instant, servers: &Servers) {
        self.attempt = attempt;
        self.resends = 0;
        let server = server_at(self.first, usize::from(attempt), self.n);
        self.attempt_end = (now + self.settings.timeout).min(self.deadline);
        let edns = self.edns_for(server, servers);
        if self.settings.tcp_only {
            self.phase = Phase::Tcp;
            self.queue_query(now, server, Transport::Tcp, edns, None, servers);
        } else {
            let interval = servers.rto(server);
            self.phase = Phase::Udp {
                next: self.next_resend(now, interval),
                interval,
                queries: 1,
            };
            self.queue_query(now, server, Transport::Udp, edns, None, servers);
        }
    }

    /// When the next re-send would go out after a query at `now` waiting `interval`, if the
    /// attempt has room for it.
    fn next_resend(&self, now: Instant, interval: Duration) -> Option<Instant> {
        let at = now + interval;
        (self.resends < MAX_RESENDS && at < self.attempt_end).then_some(at)
    }

    /// The RTO of the attempt's latest query passed: send again, if the budget allows.
    fn resend(&mut self, now: Instant, servers: &Servers) {
        let Phase::Udp {
            interval, queries, ..
        } = self.phase
        else {
            return;
        };
        let latest = self
            .queries
            .iter()
            .rposition(|q| q.attempt == self.attempt && !q.has(TCP));
        let Some(latest) = latest else {
            self.phase = Phase::Udp {
                next: None,
                interval,
                queries,
            };
            return;
        };
        let expired_server = self.queries[latest].server();
        servers.expired(expired_server, now);
        if !servers.may_resend(expired_server) {
            self.phase = Phase::Udp {
                next: None,
                interval,
                queries,
            };
            return;
        }
        let target = server_at(
            self.first,
            usize::from(self.attempt) + usize::from(queries),
            self.n,
        );
        let interval = interval
            .saturating_mul(2)
            .max(servers.rto(target))
            .min(self.settings.timeout);
        let queries = queries + 1;
        self.resends += 1;
        self.phase = Phase::Udp {
            next: self.next_resend(now, interval),
            interval,
            queries,
        };
        let edns = self.edns_for(target, servers);
        self.queue_query(now, target, Transport::Udp, edns, Some(latest), servers);
    }

    fn queue_query(
        &mut self,
        now: Instant,
        server: usize,
        transport: Transport,
        edns: Option<u16>,
        superseded: Option<SendId>,
        servers: &Servers,
    ) {
        let resend = superseded.is_some();
        servers.sent(server, resend);
        let mut flags = OPEN;
        if transport == Transport::Tcp {
            flags |= TCP;
        }
        if edns.is_some() {
            flags |= EDNS;
        }
        self.queries.push(Query {
            sent_at: now,
            finished_us: u32::MAX,
            server: u16::try_from(server).unwrap_or(NONE - 1),
            superseded: superseded.map_or(NONE, |s| u16::try_from(s).unwrap_or(NONE - 1)),
            id: 0,
            ignored: 0,
            result: QueryResult::Unanswered,
            attempt: self.attempt,
            flags,
        });
    }

    /// A reply to a query sent at `sent_at` arrived: every re-send made after it was
    /// unnecessary (charged to the server whose RTO it followed).
    fn charge_resends_after(&mut self, sent_at: Instant, servers: &Servers) {
        for i in 0..self.queries.len() {
            let later = &self.queries[i];
            if !later.resend() || later.has(WASTED) || later.sent_at <= sent_at {
                continue;
            }
            let charged = later
                .superseded()
                .map_or(later.server(), |s| self.queries[s].server());
            self.queries[i].set(WASTED, true);
            servers.unnecessary(charged);
        }
    }

    fn close(&mut self, send: SendId, now: Instant, result: QueryResult) {
        self.tally.note(result);
        let query = &mut self.queries[send];
        query.set(OPEN, false);
        query.finish(now, result);
    }

    /// After a query closed without settling the question: if the current attempt has
    /// nothing left open, the next attempt starts now.
    fn after_close(&mut self, now: Instant, servers: &Servers) {
        let attempt = self.attempt;
        let open = self
            .queries
            .iter()
            .any(|q| q.has(OPEN) && q.attempt == attempt);
        if !open {
            self.next_attempt(now, servers);
        }
    }

    /// Marks the current attempt's open queries with `result` (they stay open for a late
    /// reply) and counts the timeout against their servers.
    fn end_attempt(&mut self, now: Instant, result: QueryResult, servers: &Servers) {
        let attempt = self.attempt;
        let mut timed_out: Vec<usize> = Vec::new();
        for query in self
            .queries
            .iter_mut()
            .filter(|q| q.has(OPEN) && q.attempt == attempt)
        {
            query.finish(now, result);
            if !timed_out.contains(&query.server()) {
                timed_out.push(query.server());
            }
        }
        if !timed_out.is_empty() {
            self.tally.note(result);
        }
        for server in timed_out {
            bump(&servers.get(server).counters.timeouts);
            servers.failed(server, now);
        }
    }

    fn next_attempt(&mut self, now: Instant, servers: &Servers) {
        if self.attempt + 1 < self.settings.attempts && now < self.deadline {
            self.start_attempt(self.attempt + 1, now, servers);
        } else {
            if now >= self.deadline {
                self.tally.deadline = true;
            }
            self.conclude_failure();
        }
    }

    fn conclude_failure(&mut self) {
        // Queries not handed to the transport yet never will be.
        self.queries.retain(|q| q.has(SENT));
        self.done = Some(self.tally.verdict());
    }
}

#[cfg(test)]
mod tests;
