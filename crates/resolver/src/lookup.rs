//! One lookup: the hosts file, then the candidate walk under the overall deadline; each
//! candidate's questions (A and AAAA together for `lookup_ip`) asked by their exchanges, which
//! this layer drives: it sends what they ask, hands them what arrives and wakes them on time.
//!
//! Families (see `policy::families`): `lookup_ip` asks A and AAAA as two questions under one
//! deadline, each with the full attempt budget. One family failing while the other answers is
//! an answer; a candidate is not found only if both families said so.

use std::future::poll_fn;
use std::io;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::time::Instant;
use tracing::debug;

use crate::answer::Answer;
use crate::config::{Config, SearchPolicy};
use crate::error::{Error, Failure};
use crate::hosts::Hosts;
use crate::policy::candidates::candidates;
use crate::policy::exchange::{Concluded, Exchange, Received, Settings};
use crate::policy::families::{Families, Family};
use crate::policy::servers::Servers;
use crate::policy::walk::{Step, Verdict, Walk};
use crate::trace::{CandidateTrace, FailureKind, Outcome, QueryTrace};
use crate::transport::{Event, Inbox, Limits, Outgoing, Registration, Transport};
use crate::wire::{Answered, Check, Question, build_query, check_reply, classify, udp_limit};

/// What a lookup asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// One record type.
    Type(RecordType),
    /// A and AAAA, merged.
    Ip,
}

/// The per-call knobs of a lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    pub(crate) start: Instant,
    pub(crate) deadline: Instant,
    pub(crate) policy: SearchPolicy,
    /// RFC 8305's Resolution Delay for `lookup_ip`, when asked for.
    pub(crate) resolution_delay: Option<Duration>,
}

/// The resolver's shared, validated state.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) search: Vec<Name>,
    pub(crate) servers: Arc<Servers>,
    pub(crate) hosts: Hosts,
    pub(crate) settings: Settings,
    pub(crate) limits: Limits,
    /// One transport per runtime that ran lookups (usually one).
    pub(crate) transports: Mutex<Vec<Arc<Transport>>>,
}

/// An answer in the making: what a candidate's reply(s) gave.
struct Found {
    answered: Box<Answered>,
    extra: Vec<Record>,
    server: usize,
}

/// What one candidate came to.
struct CandidateResult {
    outcome: Outcome,
    queries: Vec<QueryTrace>,
    found: Option<Found>,
    io: Option<io::Error>,
}

impl Inner {
    /// Runs a lookup of `name` (as parsed from `asked`).
    /// The candidate names of `name`, in the order the walk tries them.
    pub(crate) fn candidates(&self, name: &Name) -> Vec<Name> {
        candidates(name, &self.search, self.config.ndots)
    }

    /// Walks `list` (the candidates of the name `asked`).
    pub(crate) async fn lookup(
        &self,
        asked: &str,
        list: Vec<Name>,
        ask: Ask,
        call: &Call,
    ) -> Result<Answer, Error> {
        let transport = self.transport()?;
        let mut walk = Walk::new(call.policy);
        let mut traces: Vec<CandidateTrace> = Vec::with_capacity(list.len());
        let mut ios = Vec::new();
        let mut found = None;
        for candidate in &list {
            let began = Instant::now();
            let result = if began >= call.deadline {
                // The deadline ended the walk before this candidate: a failure, never
                // not-found.
                CandidateResult {
                    outcome: Outcome::Failed(FailureKind::Timeout),
                    queries: Vec::new(),
                    found: None,
                    io: None,
                }
            } else {
                self.candidate(&transport, candidate, ask, call).await
            };
            let outcome = result.outcome;
            traces.push(CandidateTrace {
                name: candidate.clone(),
                outcome,
                queries: result.queries,
                elapsed: began.elapsed(),
            });
            ios.push(result.io);
            if result.found.is_some() {
                found = result.found;
            }
            if walk.record(outcome) == Step::Stop || began >= call.deadline {
                break;
            }
        }
        let details = Details {
            asked,
            ask,
            elapsed: call.start.elapsed(),
            servers: &self.servers,
        };
        conclude(&walk, traces, ios, found, details)
    }

    /// This runtime's transport, made on first use.
    fn transport(&self) -> Result<Arc<Transport>, Error> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| Error::Config {
            setting: "runtime",
            reason: "lookups need a tokio runtime with I/O and time enabled".to_string(),
        })?;
        let id = handle.id();
        let mut transports = self.transports.lock().unwrap_or_else(|e| e.into_inner());
        transports.retain(|t| !t.is_dead());
        if let Some(transport) = transports.iter().find(|t| t.runtime() == id) {
            return Ok(transport.clone());
        }
        let transport = Arc::new(Transport::new(self.servers.clone(), self.limits, handle));
        transports.push(transport.clone());
        Ok(transport)
    }

    /// Asks one candidate.
    async fn candidate(
        &self,
        transport: &Transport,
        name: &Name,
        ask: Ask,
        call: &Call,
    ) -> CandidateResult {
        let (types, n) = match ask {
            Ask::Type(t) => ([t, t], 1),
            Ask::Ip if self.config.single_request => ([RecordType::A, RecordType::A], 1),
            Ask::Ip => ([RecordType::A, RecordType::AAAA], 2),
        };
        let mut questions: Vec<Pending> = types[..n]
            .iter()
            .map(|&t| self.pending(name, t, call.deadline))
            .collect();
        let delay = call.resolution_delay.filter(|_| ask == Ask::Ip);
        self.drive(transport, &mut questions, delay).await;
        if ask == Ask::Ip && self.config.single_request {
            // single-request: AAAA only after A is settled, under the same deadline.
            let mut second = vec![self.pending(name, RecordType::AAAA, call.deadline)];
            self.drive(transport, &mut second, None).await;
            questions.append(&mut second);
        }
        let mut settled = Vec::with_capacity(questions.len());
        let mut queries = Vec::new();
        for mut pending in questions {
            let finished = pending.exchange.finish(call.start, &self.servers);
            let concluded = match finished {
                Some((concluded, trace)) => {
                    queries.extend(trace);
                    Some(concluded)
                }
                None => {
                    queries.extend(pending.exchange.trace(call.start, &self.servers));
                    None
                }
            };
            settled.push((pending.exchange.record_type(), concluded));
        }
        queries.sort_by_key(|q| q.sent_at);
        let (outcome, found, io) = merge(settled);
        CandidateResult {
            outcome,
            queries,
            found,
            io,
        }
    }

    fn pending(&self, name: &Name, record_type: RecordType, deadline: Instant) -> Pending {
        let now = Instant::now();
        Pending {
            question: Question::new(name.clone(), record_type),
            exchange: Exchange::new(record_type, self.settings, &self.servers, now, deadline),
            message: Vec::new(),
            message_edns: None,
            registrations: Vec::new(),
        }
    }

    /// Drives `questions` until every one is settled (or, with `delay`, until the families
    /// may be returned early).
    async fn drive(
        &self,
        transport: &Transport,
        questions: &mut [Pending],
        delay: Option<Duration>,
    ) {
        let inbox = {
            let keys: Vec<u64> = questions.iter().map(|p| p.question.key()).collect();
            Arc::new(Inbox::new(&keys))
        };
        let servers = &*self.servers;
        let mut sleep = pin!(tokio::time::sleep_until(Instant::now()));
        let mut families = Families::new(delay);
        poll_fn(|cx| {
            loop {
                let now = Instant::now();
                let (deliveries, ignored) = inbox.take(cx);
                for tag in ignored {
                    let (index, send) = untag(tag);
                    if let Some(pending) = questions.get_mut(index) {
                        pending.exchange.handle_ignored(send, servers);
                    }
                }
                for delivery in deliveries {
                    let (index, send) = untag(delivery.tag);
                    if let Some(pending) = questions.get_mut(index) {
                        pending.deliver(send, delivery.at, delivery.event, servers);
                    }
                }
                for pending in questions.iter_mut() {
                    pending.exchange.handle_timeout(now, servers);
                }
                for (index, pending) in questions.iter_mut().enumerate() {
                    pending.transmit(index, transport, &inbox, now, servers);
                    pending.settle(self.settings.timeout);
                }
                // At most two questions (A and AAAA): no allocation per poll.
                let mut state = [Family {
                    v6: false,
                    done: true,
                    answered: false,
                }; 2];
                for (slot, p) in state.iter_mut().zip(questions.iter()) {
                    *slot = Family {
                        v6: p.exchange.record_type() == RecordType::AAAA,
                        done: p.exchange.is_done(),
                        answered: p.exchange.is_answered(),
                    };
                }
                if families.ready(now, &state[..questions.len().min(2)]) {
                    return Poll::Ready(());
                }
                let wake = questions
                    .iter()
                    .filter_map(|p| p.exchange.poll_timeout())
                    .chain(families.wake())
                    .min();
                let Some(wake) = wake else {
                    return Poll::Ready(());
                };
                if sleep.deadline() != wake {
                    sleep.as_mut().reset(wake);
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    // Something may have arrived while the exchanges ran: look again before
                    // sleeping (and leave the waker with the inbox).
                    if inbox.has_news(cx) {
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        })
        .await;
    }

    /// An answer from the hosts file, if it lists the name asked with addresses of the family
    /// asked.
    pub(crate) fn hosts_answer(&self, name: &Name, ask: Ask, start: Instant) -> Option<Answer> {
        let (canonical, ips) = self.hosts.lookup(name)?;
        local_answer(name, canonical.clone(), ips, ask, start)
    }

    /// The hosts file's name for `ip`, as a PTR answer.
    pub(crate) fn reverse_from_hosts(&self, ip: IpAddr, start: Instant) -> Option<Answer> {
        let host = self.hosts.reverse(ip)?;
        let name = Name::from(ip);
        let record = Record::from_rdata(name.clone(), 0, RData::PTR(PTR(host.clone())));
        Some(local(&name, name.clone(), vec![record], start))
    }
}

/// The tag of query `send` of question `index`, for the transport.
fn tag(index: usize, send: usize) -> u32 {
    ((index as u32) << 16) | (send as u32 & 0xffff)
}

/// The question index and query of a tag.
fn untag(tag: u32) -> (usize, usize) {
    ((tag >> 16) as usize, (tag & 0xffff) as usize)
}

/// One question being asked: its exchange, its encoded queries and its registrations.
struct Pending {
    question: Question,
    exchange: Exchange,
    /// The encoded query (its ID is set per query), for the EDNS setting `message_edns`;
    /// encoded again when a query needs another (a server that does not speak EDNS).
    message: Vec<u8>,
    message_edns: Option<u16>,
    /// Per query sent, its registration while it waits.
    registrations: Vec<Option<Registration>>,
}

impl Pending {
    /// Sends what the exchange asks for.
    fn transmit(
        &mut self,
        index: usize,
        transport: &Transport,
        inbox: &Arc<Inbox>,
        now: Instant,
        servers: &Servers,
    ) {
        while let Some(t) = self.exchange.poll_transmit() {
            if let Some(Some(old)) = t.superseded.and_then(|s| self.registrations.get(s)) {
                old.retire_socket();
            }
            if self.message.is_empty() || self.message_edns != t.edns {
                self.message = build_query(0, &self.question, t.edns);
                self.message_edns = t.edns;
            }
            let message = &mut self.message;
            let out = Outgoing {
                server: t.server,
                transport: t.transport,
                message,
                inbox,
                tag: tag(index, t.send),
            };
            match transport.send(out) {
                Ok(registration) => {
                    self.exchange.sent(t.send, registration.id());
                    self.register(t.send, registration);
                }
                Err(error) => {
                    debug!(%error, "send failed");
                    self.exchange.handle_error(t.send, now, error, servers);
                }
            }
        }
    }

    fn register(&mut self, send: usize, registration: Registration) {
        if self.registrations.len() <= send {
            self.registrations.resize_with(send + 1, || None);
        }
        self.registrations[send] = Some(registration);
    }

    /// Hands what arrived for query `send` to the exchange.
    fn deliver(&mut self, send: usize, at: Instant, event: Event, servers: &Servers) {
        let Some(Some(registration)) = self.registrations.get(send) else {
            return;
        };
        let id = registration.id();
        let udp = matches!(registration, Registration::Udp(_));
        match event {
            Event::Error(error) => self.exchange.handle_error(send, at, error, servers),
            Event::Message(bytes) => {
                let Some(server) = self.exchange.server_of(send) else {
                    return;
                };
                // The source was checked by the kernel (connected UDP socket) or is the
                // connection itself (TCP).
                let addr = servers.get(server).addr;
                let limit = match udp {
                    true => udp_limit(self.exchange.edns_of(send)),
                    false => usize::from(u16::MAX),
                };
                match check_reply(&bytes, addr, addr, id, &self.question, limit) {
                    Check::Ignore(reason) => {
                        debug!(?reason, "datagram ignored");
                        self.exchange.handle_ignored(send, servers);
                    }
                    Check::Truncated if udp => {
                        self.exchange
                            .handle_reply(send, at, Received::Truncated, servers);
                    }
                    // TC=1 over TCP makes no sense.
                    Check::Truncated => self.exchange.handle_reply(
                        send,
                        at,
                        Received::Reply(Err(crate::trace::QueryResult::Malformed)),
                        servers,
                    ),
                    Check::Accept(message) => {
                        let reply = classify(&message, &self.question);
                        self.exchange
                            .handle_reply(send, at, Received::Reply(reply), servers);
                    }
                }
            }
        }
    }

    /// Drops the registrations of queries that no longer wait; once the question is settled,
    /// its UDP queries still unanswered linger for the latency model until their timeout.
    fn settle(&mut self, timeout: Duration) {
        if self.exchange.is_done() {
            let key = self.question.key();
            for (send, linger) in self.exchange.lingering() {
                if let Some(registration) = self.registrations.get_mut(send).and_then(Option::take)
                {
                    let until = linger.sent_at + timeout;
                    registration.linger(linger, key, until);
                }
            }
            self.registrations.clear();
            return;
        }
        for (send, slot) in self.registrations.iter_mut().enumerate() {
            let Some(registration) = slot else { continue };
            if !self.exchange.is_open(send) {
                *slot = None;
            } else if self.exchange.timed_out(send) {
                registration.retire_socket();
            }
        }
    }
}

/// What `conclude` needs besides the walk.
struct Details<'a> {
    asked: &'a str,
    ask: Ask,
    elapsed: Duration,
    servers: &'a Servers,
}

/// The answer to an address literal (`192.0.2.1`, `2001:db8::1`) asked as A, AAAA or both: the
/// address itself, as getaddrinfo treats numeric hosts. Named by the address (IPv4) or its
/// `ip6.arpa.` name (IPv6, which is not a valid host name).
pub(crate) fn literal_answer(asked: &str, ask: Ask, start: Instant) -> Option<Answer> {
    let ip = asked.parse::<IpAddr>().ok()?;
    let mut name = Name::from_ascii(asked).unwrap_or_else(|_| Name::from(ip));
    name.set_fqdn(true);
    local_answer(&name, name.clone(), &[ip], ask, start)
}

/// An answer made of the addresses of `ips` that fit `ask` (A first, then AAAA); `None` when
/// none fits.
fn local_answer(
    name: &Name,
    canonical: Name,
    ips: &[IpAddr],
    ask: Ask,
    start: Instant,
) -> Option<Answer> {
    let wanted = |ip: &IpAddr| match ask {
        Ask::Ip => true,
        Ask::Type(RecordType::A) => ip.is_ipv4(),
        Ask::Type(RecordType::AAAA) => ip.is_ipv6(),
        Ask::Type(_) => false,
    };
    let mut ips: Vec<IpAddr> = ips.iter().copied().filter(wanted).collect();
    if ips.is_empty() {
        return None;
    }
    ips.sort_by_key(|ip| ip.is_ipv6());
    let records = ips
        .into_iter()
        .map(|ip| {
            let data = match ip {
                IpAddr::V4(v4) => RData::A(A(v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
            };
            Record::from_rdata(canonical.clone(), 0, data)
        })
        .collect();
    Some(local(name, canonical, records, start))
}

/// An answer that did not come from DNS (hosts file, address literal).
fn local(name: &Name, canonical: Name, records: Vec<Record>, start: Instant) -> Answer {
    let mut name = name.clone();
    name.set_fqdn(true);
    Answer {
        name,
        canonical,
        records,
        chain: Vec::new(),
        server: None,
        elapsed: start.elapsed(),
        trace: Vec::new(),
    }
}

/// Turns a finished walk into the lookup's result: the answer of the candidate that answered,
/// or the error the verdict names, with the whole trace.
fn conclude(
    walk: &Walk,
    traces: Vec<CandidateTrace>,
    mut ios: Vec<Option<io::Error>>,
    found: Option<Found>,
    details: Details<'_>,
) -> Result<Answer, Error> {
    let failure = |candidate: Option<usize>, traces: Vec<CandidateTrace>| Failure {
        name: details.asked.to_string(),
        record_type: match details.ask {
            Ask::Type(t) => Some(t),
            Ask::Ip => None,
        },
        candidate: candidate.map(|i| traces[i].name.clone()),
        elapsed: details.elapsed,
        trace: traces,
    };
    match walk.verdict() {
        Some(Verdict::Answered(i)) => match found {
            Some(Found {
                answered,
                extra,
                server,
            }) => {
                let answered = *answered;
                let mut records = answered.records;
                records.extend(extra);
                Ok(Answer {
                    name: traces[i].name.clone(),
                    canonical: answered.canonical,
                    records,
                    chain: answered.chain,
                    server: Some(details.servers.get(server).addr),
                    elapsed: details.elapsed,
                    trace: traces,
                })
            }
            // An answer outcome always carries its records.
            None => Err(Error::failed(
                FailureKind::Malformed,
                failure(Some(i), traces),
                None,
            )),
        },
        Some(Verdict::NotFound { nodata }) => {
            let last = traces.len().checked_sub(1);
            Err(Error::not_found(nodata, failure(last, traces)))
        }
        Some(Verdict::Failed(kind, i)) => {
            let io = ios.get_mut(i).and_then(Option::take);
            Err(Error::failed(kind, failure(Some(i), traces), io))
        }
        // No candidate at all cannot happen (a name always is its own candidate).
        None => Err(Error::failed(
            FailureKind::Timeout,
            failure(None, traces),
            None,
        )),
    }
}

/// The settled questions of a candidate (one, or A and AAAA; `None` for a family given up by
/// the resolution delay) merged: an answer if any family answered (A records first, the other
/// family's failure stays in the trace); else a failure if any failed; else NXDOMAIN only if
/// every family said so, NODATA otherwise.
fn merge(
    settled: Vec<(RecordType, Option<Concluded>)>,
) -> (Outcome, Option<Found>, Option<io::Error>) {
    let mut found: Option<Found> = None;
    let mut failure: Option<(FailureKind, Option<io::Error>)> = None;
    let mut all_nxdomain = true;
    for (_, concluded) in settled {
        match concluded {
            Some(Concluded::Answer { answered, server }) => match &mut found {
                Some(first) => first.extra.extend(answered.records),
                None => {
                    found = Some(Found {
                        answered,
                        extra: Vec::new(),
                        server,
                    })
                }
            },
            Some(Concluded::Failed { kind, io }) => {
                failure.get_or_insert((kind, io));
            }
            Some(Concluded::NxDomain) => {}
            Some(Concluded::NoData) | None => all_nxdomain = false,
        }
    }
    match (found, failure) {
        (Some(found), _) => (Outcome::Answer, Some(found), None),
        (None, Some((kind, io))) => (Outcome::Failed(kind), None, io),
        (None, None) if all_nxdomain => (Outcome::NxDomain, None, None),
        (None, None) => (Outcome::NoData, None, None),
    }
}

#[cfg(test)]
mod tests;
