//! One lookup: the hosts file, then the candidate walk under the overall deadline; each
//! candidate's questions (A and AAAA together for `lookup_ip`) asked by their exchanges, which
//! this layer drives: it sends what they ask, hands them what arrives and wakes them on time.
//!
//! Families (see `policy::families`): `lookup_ip` asks A and AAAA as two questions under one
//! deadline, each with the full attempt budget. One family failing while the other answers is
//! an answer; a candidate is not found only if both families said so.
//!
//! Per question (candidate name and type): the cache first (see `cache`); else the question
//! joins an identical one in flight or starts one (see `coalesce`), whose conclusion fills the
//! cache. A failed question falls back to the stale answer the cache kept, if any.

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures_util::future::BoxFuture;

use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::time::Instant;
use tracing::debug;

use crate::answer::Answer;
use crate::cache::{Cache, Held, Lookup, Stored};
use crate::coalesce::{Flights, Flown, Key, Unregister};
use crate::config::{Config, SearchPolicy};
use crate::error::{Error, Failure};
use crate::hosts::Hosts;
use crate::metrics::{CacheEvent, Metrics};
use crate::policy::candidates::candidates;
use crate::policy::exchange::{Concluded, Exchange, Received, Settings};
use crate::policy::families::{Families, Family};
use crate::policy::servers::Servers;
use crate::policy::walk::{Step, Verdict, Walk};
use crate::sort::Sorter;
use crate::trace::{
    CacheState, CacheUse, CandidateTrace, FailureKind, Outcome, QueryResult, QueryTrace,
};
use crate::transport::{Event, Inbox, Limits, Outgoing, Registration, Transport};
use crate::wire::{
    Answered, Check, Question, build_query, check_reply, classify, negative_ttl, udp_limit,
};

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
    /// The answer cache (shared with earlier and later configurations of the resolver).
    pub(crate) cache: Option<Arc<Cache>>,
    /// Questions in flight, for coalescing.
    pub(crate) flights: Arc<Flights>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sorter: Arc<Sorter>,
}

/// What one question came to, from the network or the cache.
#[derive(Debug)]
pub(crate) enum Got {
    Answer {
        answered: Box<Answered>,
        server: SocketAddr,
    },
    NoData,
    NxDomain,
    Failed {
        kind: FailureKind,
        io: Option<io::Error>,
    },
}

/// One question of a candidate, settled (`got` is `None` for a family given up by the
/// resolution delay), with its part of the trace.
struct Asked {
    record_type: RecordType,
    got: Option<Got>,
    queries: Vec<QueryTrace>,
    cache: Option<CacheUse>,
}

/// An answer in the making: what a candidate's reply(s) gave.
struct Found {
    answered: Box<Answered>,
    extra: Vec<Record>,
    server: SocketAddr,
}

/// What one candidate came to.
struct CandidateResult {
    outcome: Outcome,
    queries: Vec<QueryTrace>,
    cache: Vec<CacheUse>,
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
        self: &Arc<Self>,
        asked: &str,
        list: Vec<Name>,
        ask: Ask,
        call: &Call,
    ) -> Result<Answer, Error> {
        let mut result = self.walk(asked, list, ask, call).await;
        if ask == Ask::Ip
            && let Ok(answer) = &mut result
        {
            self.sort_addresses(answer);
        }
        self.metrics.lookup(
            match &result {
                Ok(_) => "answer",
                Err(e) => e.kind().as_str(),
            },
            call.start.elapsed(),
        );
        result
    }

    /// Puts an answer's addresses in RFC 6724 order (see `sort`).
    fn sort_addresses(&self, answer: &mut Answer) {
        if answer.records.len() < 2 {
            return;
        }
        let ips: Vec<IpAddr> = answer.records.iter().filter_map(record_ip).collect();
        if ips.len() != answer.records.len() {
            return;
        }
        if let Some(order) = self.sorter.order(&ips, Instant::now()) {
            let mut records: Vec<Option<Record>> = std::mem::take(&mut answer.records)
                .into_iter()
                .map(Some)
                .collect();
            answer.records = order.iter().filter_map(|&i| records[i].take()).collect();
        }
    }

    /// The candidate walk.
    async fn walk(
        self: &Arc<Self>,
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
                    cache: Vec::new(),
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
                cache: result.cache,
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

    /// Asks one candidate: each of its questions from the cache, or else from the network
    /// (A and AAAA concurrently for `lookup_ip`, one after the other with `single-request`).
    async fn candidate(
        self: &Arc<Self>,
        transport: &Arc<Transport>,
        name: &Name,
        ask: Ask,
        call: &Call,
    ) -> CandidateResult {
        let types: &[RecordType] = match ask {
            Ask::Type(ref t) => std::slice::from_ref(t),
            Ask::Ip => &[RecordType::A, RecordType::AAAA],
        };
        let now = Instant::now();
        let mut asked: Vec<Asked> = Vec::with_capacity(types.len());
        let mut missing: Vec<(RecordType, Option<Arc<Stored>>)> = Vec::new();
        for &t in types {
            match self.ask_cache(name, t, now) {
                Ok(done) => asked.push(done),
                Err(stale) => missing.push((t, stale)),
            }
        }
        let delay = call.resolution_delay.filter(|_| ask == Ask::Ip);
        match missing.len() {
            0 => {}
            _ if !self.config.coalesce => {
                // Not shared: the questions are driven together, in one future (boxed: a
                // lookup in flight is the caller's future, which stays small); with
                // single-request one after the other.
                if self.config.single_request {
                    for one in missing {
                        let alone = self.ask_together(transport, name, vec![one], *call, None);
                        asked.extend(Box::pin(alone).await);
                    }
                } else {
                    let together = self.ask_together(transport, name, missing, *call, delay);
                    asked.extend(Box::pin(together).await);
                }
            }
            1 => {
                let (t, stale) = missing.pop().expect("one");
                asked.push(Box::pin(self.ask(transport, name, t, call, stale)).await);
            }
            _ if self.config.single_request => {
                // single-request: AAAA only after A is settled, under the same deadline.
                for (t, stale) in missing {
                    asked.push(Box::pin(self.ask(transport, name, t, call, stale)).await);
                }
            }
            _ if delay.is_some() => {
                // Boxed: the drive of both questions is large, and this path is rare.
                asked.extend(
                    Box::pin(self.ask_together(transport, name, missing, *call, delay)).await,
                );
            }
            _ => {
                let (second, first) = (missing.pop().expect("two"), missing.pop().expect("two"));
                // Boxed, so that a lookup in flight stays small: it holds the two questions'
                // results side by side while they run.
                let (a, b) = futures_util::future::join(
                    Box::pin(self.ask(transport, name, first.0, call, first.1)),
                    Box::pin(self.ask(transport, name, second.0, call, second.1)),
                )
                .await;
                asked.push(a);
                asked.push(b);
            }
        }
        asked.sort_by_key(|a| types.iter().position(|t| *t == a.record_type));
        let mut settled = Vec::with_capacity(asked.len());
        let mut queries = Vec::new();
        let mut cache = Vec::new();
        for one in asked {
            queries.extend(one.queries);
            cache.extend(one.cache);
            settled.push((one.record_type, one.got));
        }
        queries.sort_by_key(|q| q.sent_at);
        let (outcome, found, io) = merge(settled);
        CandidateResult {
            outcome,
            queries,
            cache,
            found,
            io,
        }
    }

    /// The cache's word on a question: settled (fresh reply, remembered failure, stale answer
    /// instead of a remembered failure), or `Err` with the stale answer to fall back on if
    /// asking fails.
    fn ask_cache(
        &self,
        name: &Name,
        record_type: RecordType,
        now: Instant,
    ) -> Result<Asked, Option<Arc<Stored>>> {
        let Some(cache) = &self.cache else {
            return Err(None);
        };
        let settled = |got: Got, state: CacheState, age: Duration| Asked {
            record_type,
            got: Some(got),
            queries: Vec::new(),
            cache: Some(CacheUse {
                record_type,
                state,
                age,
            }),
        };
        match cache.get(name, record_type, now) {
            Lookup::Fresh(stored) => {
                let age = now.saturating_duration_since(stored.at);
                let (got, event) = match &stored.data {
                    Held::NoData => (Got::NoData, CacheEvent::NegativeHit),
                    Held::NxDomain => (Got::NxDomain, CacheEvent::NegativeHit),
                    Held::Answer { .. } => {
                        let (answered, server) = stored.answered_at(now).expect("an answer");
                        (
                            Got::Answer {
                                answered: Box::new(answered),
                                server,
                            },
                            CacheEvent::Hit,
                        )
                    }
                };
                self.metrics.cache(event);
                Ok(settled(got, CacheState::Fresh, age))
            }
            Lookup::Failure {
                stale: Some(stored),
                ..
            } => {
                self.metrics.cache(CacheEvent::Stale);
                Ok(self.stale(record_type, &stored, now, Vec::new()))
            }
            Lookup::Failure { kind, age, .. } => {
                self.metrics.cache(CacheEvent::Remembered);
                let got = Got::Failed { kind, io: None };
                Ok(settled(got, CacheState::Failure, age))
            }
            Lookup::Miss { stale } => {
                self.metrics.cache(CacheEvent::Miss);
                Err(stale)
            }
        }
    }

    /// A stale answer, served (the queries that failed to refresh it in the trace).
    fn stale(
        &self,
        record_type: RecordType,
        stored: &Stored,
        now: Instant,
        queries: Vec<QueryTrace>,
    ) -> Asked {
        let got = stored
            .answered_at(now)
            .map(|(answered, server)| Got::Answer {
                answered: Box::new(answered),
                server,
            });
        Asked {
            record_type,
            got,
            queries,
            cache: Some(CacheUse {
                record_type,
                state: CacheState::Stale,
                age: now.saturating_duration_since(stored.at),
            }),
        }
    }

    /// Asks one question of the network: joins an identical question in flight or starts
    /// one (see `coalesce`). With a stale answer to fall back on, waits for the refresh at
    /// most the stale-answer wait, and serves the stale answer if the refresh fails.
    async fn ask(
        self: &Arc<Self>,
        transport: &Arc<Transport>,
        name: &Name,
        record_type: RecordType,
        call: &Call,
        stale: Option<Arc<Stored>>,
    ) -> Asked {
        // Nothing big is held across the awaits below (a lookup in flight is this future):
        // the key is made when needed, the stale-answer timer boxed.
        let mut queries = Vec::new();
        let wait_until = stale.as_ref().zip(self.cache.as_ref()).map(|(_, cache)| {
            call.deadline
                .min(Instant::now() + cache.config().stale_wait())
        });
        loop {
            let (flight, joined) = {
                let key: Key = (name.clone(), record_type);
                self.flights.join_or_start(&key, call.deadline, |guard| {
                    self.flight(transport.clone(), key.clone(), call.deadline, guard)
                })
            };
            if joined {
                self.metrics.coalesced();
            }
            let flown = match wait_until {
                Some(until) => Box::pin(tokio::time::timeout_at(until, flight)).await.ok(),
                None => Some(flight.await),
            };
            let Some(flown) = flown else {
                // The refresh is slow: the stale answer now (the refresh goes on for the
                // lookups still waiting for it).
                self.metrics.cache(CacheEvent::Stale);
                let stored = stale.as_ref().expect("waits only with a stale answer");
                return self.stale(record_type, stored, Instant::now(), queries);
            };
            queries.extend(flown.queries_since(call.start));
            let complete = flown.complete;
            let got = got_of(flown);
            if let Got::Failed { .. } = got {
                let left = call.deadline.saturating_duration_since(Instant::now());
                if !complete && left >= crate::config::MIN_DEADLINE {
                    // Another lookup's deadline cut that exchange short: ask again with the
                    // time this lookup has left.
                    continue;
                }
                if let Some(stored) = &stale {
                    self.metrics.cache(CacheEvent::Stale);
                    return self.stale(record_type, stored, Instant::now(), queries);
                }
            }
            return Asked {
                record_type,
                got: Some(got),
                queries,
                cache: None,
            };
        }
    }

    /// The exchange of one question, as a future its waiters share: it asks, then fills the
    /// cache with what it got (and feeds the metrics).
    fn flight(
        self: &Arc<Self>,
        transport: Arc<Transport>,
        key: Key,
        deadline: Instant,
        guard: Unregister,
    ) -> BoxFuture<'static, Arc<Flown>> {
        let inner = self.clone();
        Box::pin(async move {
            let _guard = guard;
            let start = Instant::now();
            let (name, record_type) = key;
            let mut questions = [inner.pending(&name, record_type, deadline)];
            inner.drive(&transport, &mut questions, None).await;
            let [mut pending] = questions;
            let ended = Instant::now();
            let servers = &inner.servers;
            let (concluded, queries) = match pending.exchange.finish(start, servers) {
                Some(done) => done,
                None => (
                    Concluded::Failed {
                        kind: FailureKind::Timeout,
                        io: None,
                    },
                    pending.exchange.trace(start, servers),
                ),
            };
            let complete = ended < deadline
                || queries
                    .iter()
                    .map(|q| q.attempt)
                    .max()
                    .is_some_and(|a| a + 1 >= inner.settings.attempts);
            let server = match &concluded {
                Concluded::Answer { server, .. } => Some(servers.get(*server).addr),
                _ => None,
            };
            inner.fill(
                &name,
                record_type,
                &concluded,
                server,
                &pending,
                complete,
                ended,
            );
            inner.metrics.queries(&queries);
            Arc::new(Flown {
                concluded,
                server,
                queries,
                start,
                complete,
            })
        })
    }

    /// Fills the cache with what a question came to: replies always (a reply that may not
    /// be cached still replaces the entry), failures only when the question ran its course.
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &self,
        name: &Name,
        record_type: RecordType,
        concluded: &Concluded,
        server: Option<SocketAddr>,
        pending: &Pending,
        complete: bool,
        now: Instant,
    ) {
        let Some(cache) = &self.cache else { return };
        let data = match concluded {
            Concluded::Answer { answered, .. } => Held::Answer {
                answered: answered.as_ref().clone(),
                server: server.expect("an answer has its server"),
            },
            Concluded::NoData => Held::NoData,
            Concluded::NxDomain => Held::NxDomain,
            Concluded::Failed { kind, .. } => {
                if complete {
                    cache.remember_failure(name, record_type, *kind, now);
                }
                return;
            }
        };
        cache.store(name, record_type, data, pending.negative_ttl, now);
    }

    /// Asks several questions together without sharing them, for the resolution delay
    /// (RFC 8305): the candidate may return before every question is settled. Fills the cache
    /// with what settled.
    async fn ask_together(
        self: &Arc<Self>,
        transport: &Transport,
        name: &Name,
        missing: Vec<(RecordType, Option<Arc<Stored>>)>,
        call: Call,
        delay: Option<Duration>,
    ) -> Vec<Asked> {
        let mut questions: Vec<Pending> = missing
            .iter()
            .map(|&(t, _)| self.pending(name, t, call.deadline))
            .collect();
        self.drive(transport, &mut questions, delay).await;
        let ended = Instant::now();
        let mut asked = Vec::with_capacity(questions.len());
        for (mut pending, (record_type, stale)) in questions.into_iter().zip(missing) {
            let finished = pending.exchange.finish(call.start, &self.servers);
            let Some((concluded, queries)) = finished else {
                let queries = pending.exchange.trace(call.start, &self.servers);
                asked.push(Asked {
                    record_type,
                    got: None,
                    queries,
                    cache: None,
                });
                continue;
            };
            let complete = ended < call.deadline
                || queries
                    .iter()
                    .map(|q| q.attempt)
                    .max()
                    .is_some_and(|a| a + 1 >= self.settings.attempts);
            let server = match &concluded {
                Concluded::Answer { server, .. } => Some(self.servers.get(*server).addr),
                _ => None,
            };
            self.fill(
                name,
                record_type,
                &concluded,
                server,
                &pending,
                complete,
                ended,
            );
            self.metrics.queries(&queries);
            let got = got_from(concluded, server);
            match (got, stale) {
                (Got::Failed { .. }, Some(stored)) => {
                    self.metrics.cache(CacheEvent::Stale);
                    asked.push(self.stale(record_type, &stored, Instant::now(), queries));
                }
                (got, _) => asked.push(Asked {
                    record_type,
                    got: Some(got),
                    queries,
                    cache: None,
                }),
            }
        }
        asked
    }

    fn pending(&self, name: &Name, record_type: RecordType, deadline: Instant) -> Pending {
        let now = Instant::now();
        Pending {
            question: Question::new(name.clone(), record_type),
            exchange: Exchange::new(record_type, self.settings, &self.servers, now, deadline),
            message: Vec::new(),
            message_edns: None,
            registrations: Vec::new(),
            negative_ttl: None,
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
        let mut answer = local_answer(name, canonical.clone(), ips, ask, start)?;
        if ask == Ask::Ip {
            self.sort_addresses(&mut answer);
        }
        Some(answer)
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
    /// The RFC 2308 TTL of the NXDOMAIN or NODATA reply that settled the question.
    negative_ttl: Option<u32>,
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
                        Received::Reply(Err(QueryResult::Malformed)),
                        servers,
                    ),
                    Check::Accept(message) => {
                        let reply = classify(&message, &self.question);
                        let negative =
                            matches!(reply, Err(QueryResult::NxDomain | QueryResult::NoData));
                        let was_done = self.exchange.is_done();
                        self.exchange
                            .handle_reply(send, at, Received::Reply(reply), servers);
                        if negative && !was_done && self.exchange.is_done() {
                            self.negative_ttl = negative_ttl(&message);
                        }
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
                    server: Some(server),
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
fn merge(settled: Vec<(RecordType, Option<Got>)>) -> (Outcome, Option<Found>, Option<io::Error>) {
    let mut found: Option<Found> = None;
    let mut failure: Option<(FailureKind, Option<io::Error>)> = None;
    let mut all_nxdomain = true;
    for (_, got) in settled {
        match got {
            Some(Got::Answer { answered, server }) => match &mut found {
                Some(first) => first.extra.extend(answered.records),
                None => {
                    found = Some(Found {
                        answered,
                        extra: Vec::new(),
                        server,
                    })
                }
            },
            Some(Got::Failed { kind, io }) => {
                failure.get_or_insert((kind, io));
            }
            Some(Got::NxDomain) => {}
            Some(Got::NoData) | None => all_nxdomain = false,
        }
    }
    match (found, failure) {
        (Some(found), _) => (Outcome::Answer, Some(found), None),
        (None, Some((kind, io))) => (Outcome::Failed(kind), None, io),
        (None, None) if all_nxdomain => (Outcome::NxDomain, None, None),
        (None, None) => (Outcome::NoData, None, None),
    }
}

/// What a question came to, with its server's address.
fn got_from(concluded: Concluded, server: Option<SocketAddr>) -> Got {
    match (concluded, server) {
        (Concluded::Answer { answered, .. }, Some(server)) => Got::Answer { answered, server },
        (Concluded::Answer { .. }, None) => Got::Failed {
            kind: FailureKind::Malformed,
            io: None,
        },
        (Concluded::NoData, _) => Got::NoData,
        (Concluded::NxDomain, _) => Got::NxDomain,
        (Concluded::Failed { kind, io }, _) => Got::Failed { kind, io },
    }
}

/// What a shared exchange came to, for one of its waiters: moved out when it is the only
/// one, copied otherwise (a socket error is copied by its code or kind and text).
fn got_of(flown: Arc<Flown>) -> Got {
    match Arc::try_unwrap(flown) {
        Ok(flown) => got_from(flown.concluded, flown.server),
        Err(shared) => {
            let concluded = match &shared.concluded {
                Concluded::Answer { answered, server } => Concluded::Answer {
                    answered: answered.clone(),
                    server: *server,
                },
                Concluded::NoData => Concluded::NoData,
                Concluded::NxDomain => Concluded::NxDomain,
                Concluded::Failed { kind, io } => Concluded::Failed {
                    kind: *kind,
                    io: io.as_ref().map(copy_io),
                },
            };
            got_from(concluded, shared.server)
        }
    }
}

/// A copy of a socket error: the same OS error code, or the same kind and text.
fn copy_io(error: &io::Error) -> io::Error {
    match error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(error.kind(), error.to_string()),
    }
}

/// The address of an A or AAAA record.
fn record_ip(record: &Record) -> Option<IpAddr> {
    match &record.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
