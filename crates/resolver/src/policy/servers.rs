//! Per-server state shared by every lookup of a resolver: health, the latency model, the
//! re-send budget, EDNS support and counters; and server choice.
//!
//! Algorithm (pure, time passed in):
//! - a server's health is its count of consecutive failures (timeouts, unreachable, SERVFAIL,
//!   REFUSED), forgiven once its last failure is older than [`FORGIVE_AFTER`];
//! - a candidate's attempts start at the healthiest server (fewest recent failures); ties go
//!   to the first in configured order, or round-robin among the tied ones with `rotate`;
//! - attempt `k` of a candidate goes to server `(start + k) mod n`, so retries spread over all
//!   servers; a re-send inside an attempt goes one further along the same order (a hedge: with
//!   one server it is that server again);
//! - the re-send budget (see [`Budget`]) keeps re-sends that turn out unnecessary near one in
//!   [`QUESTIONS_PER_WASTED_RESEND`] questions.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::exchange::Linger;
use super::rtt::LatencyModel;

/// A failing server is tried first again once its last failure is this old.
pub(crate) const FORGIVE_AFTER: Duration = Duration::from_secs(30);

/// One needless re-send is allowed per this many questions asked (5%): the cost in extra load
/// a server's operator would accept for a shorter tail ("The Tail at Scale" hedges at a few
/// percent of requests).
pub(crate) const QUESTIONS_PER_WASTED_RESEND: i32 = 20;

/// Needless re-sends a burst may cost before the budget binds (the bucket's size); with
/// [`QUESTIONS_PER_WASTED_RESEND`] it also sets the window: 400 questions.
pub(crate) const BUDGET_BURST: i32 = 20;

/// Health record of one server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Health {
    consecutive_failures: u32,
    last_failure: Option<Instant>,
}

impl Health {
    /// The score at `now`: lower is healthier.
    pub(crate) fn score(&self, now: Instant) -> u32 {
        match self.last_failure {
            Some(at) if now.saturating_duration_since(at) < FORGIVE_AFTER => {
                self.consecutive_failures
            }
            _ => 0,
        }
    }

    pub(crate) fn failed(&mut self, now: Instant) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_failure = Some(now);
    }

    pub(crate) fn succeeded(&mut self) {
        self.consecutive_failures = 0;
        self.last_failure = None;
    }
}

/// The re-send budget of one server: a token bucket that earns a token per question asked (an
/// attempt's first query) and pays [`QUESTIONS_PER_WASTED_RESEND`] tokens for every re-send
/// found unnecessary (its earlier query was answered after all). While the bucket is empty,
/// attempts to that server wait their full timeout instead of re-sending early.
///
/// Only *unnecessary* re-sends are charged: a re-send whose earlier query was lost costs
/// nothing, so recovering real loss is limited only by the attempt structure. If the latency
/// model is right, few re-sends are unnecessary and the budget never binds; it is the guard for
/// when the model is wrong (a server whose latency just jumped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    tokens: i32,
}

/// The bucket's size in tokens.
const BUDGET_CAP: i32 = BUDGET_BURST * QUESTIONS_PER_WASTED_RESEND;

impl Default for Budget {
    fn default() -> Self {
        Budget { tokens: BUDGET_CAP }
    }
}

impl Budget {
    pub(crate) fn earn(&mut self) {
        self.tokens = (self.tokens + 1).min(BUDGET_CAP);
    }

    pub(crate) fn charge(&mut self) {
        self.tokens = (self.tokens - QUESTIONS_PER_WASTED_RESEND).max(-BUDGET_CAP);
    }

    pub(crate) fn allows(&self) -> bool {
        self.tokens >= QUESTIONS_PER_WASTED_RESEND
    }
}

/// The server index a candidate starts at, given each server's score; `turn` is the
/// round-robin counter when `rotate` is on.
pub(crate) fn start_index(scores: &[u32], turn: Option<usize>) -> usize {
    let Some(best) = scores.iter().copied().min() else {
        return 0;
    };
    let tied: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] == best).collect();
    match turn {
        Some(turn) => tied[turn % tied.len()],
        None => tied[0],
    }
}

/// The server of the `k`-th step (0-based) from `start` over `n` servers.
pub(crate) fn server_at(start: usize, k: usize, n: usize) -> usize {
    (start + k) % n.max(1)
}

/// Counters and state of one server, as returned by
/// [`Resolver::server_stats`](crate::Resolver::server_stats). Counts since the resolver was
/// built, shared by its clones.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerStats {
    /// The server.
    pub server: SocketAddr,
    /// Queries sent (UDP datagrams and TCP queries), re-sends included.
    pub queries: u64,
    /// Queries that re-sent a question inside its attempt (the retransmission timeout passed).
    pub resends: u64,
    /// Re-sends found unnecessary: the earlier query was answered too.
    pub unnecessary_resends: u64,
    /// Replies accepted (any response code), late ones included.
    pub answers: u64,
    /// UDP queries never answered while anyone listened (lost, or slower than the timeout).
    pub lost: u64,
    /// Attempts that reached their per-attempt timeout.
    pub timeouts: u64,
    /// Datagrams ignored: wrong ID, wrong question, not a response, unparsable.
    pub ignored: u64,
    /// Truncated replies retried over TCP.
    pub tcp_fallbacks: u64,
    /// SERVFAIL (and FORMERR, lame) replies.
    pub servfails: u64,
    /// REFUSED and NOTIMP replies.
    pub refused: u64,
    /// ICMP port unreachable (connection refused) and other socket errors.
    pub network_errors: u64,
    /// UDP sockets open to the server now (taking queries, or retired and draining).
    pub udp_sockets: u64,
    /// Queries waiting for a reply from the server now (registered on a socket or
    /// connection; a lookup that ends or is dropped removes its own at once).
    pub waiting: u64,
    /// The retransmission timeout a query sent now would get.
    pub rto: Duration,
    /// Median reply latency from the latency model (`None` before any reply).
    pub latency_p50: Option<Duration>,
    /// 99th percentile reply latency from the latency model (`None` before any reply).
    pub latency_p99: Option<Duration>,
}

/// The mutable per-server state, under one lock.
#[derive(Debug, Default)]
struct State {
    health: Health,
    latency: LatencyModel,
    budget: Budget,
}

/// Counters of one server.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) queries: AtomicU64,
    pub(crate) resends: AtomicU64,
    pub(crate) unnecessary_resends: AtomicU64,
    pub(crate) answers: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) tcp_fallbacks: AtomicU64,
    pub(crate) servfails: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) network_errors: AtomicU64,
    /// UDP sockets open to the server now (a gauge, kept by the transport).
    pub(crate) udp_sockets: AtomicU64,
    /// Queries registered and waiting for a reply now (a gauge, kept by the transport).
    pub(crate) waiting: AtomicU64,
}

/// One configured server.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    state: Mutex<State>,
    no_edns: AtomicBool,
    pub(crate) counters: Counters,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Takes `n` off a gauge.
pub(crate) fn drop_by(counter: &AtomicU64, n: u64) {
    counter.fetch_sub(n, Ordering::Relaxed);
}

impl Server {
    fn new(addr: SocketAddr) -> Self {
        Server {
            addr,
            state: Mutex::new(State::default()),
            no_edns: AtomicBool::new(false),
            counters: Counters::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this server answered FORMERR to an EDNS query: ask it without EDNS from then on.
    pub(crate) fn no_edns(&self) -> bool {
        self.no_edns.load(Ordering::Relaxed)
    }
}

/// All configured servers, the round-robin counter and the per-attempt timeout (the RTO cap).
#[derive(Debug)]
pub(crate) struct Servers {
    servers: Vec<Server>,
    rotate: bool,
    turn: AtomicUsize,
    timeout: Duration,
}

impl Servers {
    pub(crate) fn new(addrs: &[SocketAddr], rotate: bool, timeout: Duration) -> Self {
        Servers {
            servers: addrs.iter().copied().map(Server::new).collect(),
            rotate,
            turn: AtomicUsize::new(0),
            timeout,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.servers.len()
    }

    pub(crate) fn get(&self, index: usize) -> &Server {
        &self.servers[index]
    }

    /// Where a candidate's attempts start.
    pub(crate) fn start(&self, now: Instant) -> usize {
        if self.servers.len() == 1 {
            return 0;
        }
        let scores: Vec<u32> = self
            .servers
            .iter()
            .map(|s| s.state().health.score(now))
            .collect();
        let turn = self
            .rotate
            .then(|| self.turn.fetch_add(1, Ordering::Relaxed));
        start_index(&scores, turn)
    }

    /// The RTO of a query sent now to `server`.
    pub(crate) fn rto(&self, server: usize) -> Duration {
        self.get(server).state().latency.rto(self.timeout)
    }

    /// A query went to `server`: `resend` if it re-sends a question inside its attempt (an
    /// attempt's first query earns re-send budget).
    pub(crate) fn sent(&self, server: usize, resend: bool) {
        let s = self.get(server);
        bump(&s.counters.queries);
        if resend {
            bump(&s.counters.resends);
        } else {
            s.state().budget.earn();
        }
    }

    /// An accepted reply (any response code) from `server`; `latency` is the time from its
    /// own query (UDP only: a TCP reply's latency includes connection set-up).
    pub(crate) fn replied(&self, server: usize, now: Instant, latency: Option<Duration>) {
        let s = self.get(server);
        bump(&s.counters.answers);
        if let Some(latency) = latency {
            s.state().latency.sample(now, latency);
        }
    }

    /// A query to `server` went unanswered for its RTO.
    pub(crate) fn expired(&self, server: usize, now: Instant) {
        self.get(server).state().latency.expired(now, self.timeout);
    }

    /// Whether re-sends superseding a query to `server` may go out early: its budget allows
    /// and it is not silent (see the latency model).
    pub(crate) fn may_resend(&self, server: usize) -> bool {
        let state = self.get(server).state();
        state.budget.allows() && !state.latency.is_silent()
    }

    /// A re-send superseding a query to `server` turned out unnecessary.
    pub(crate) fn unnecessary(&self, server: usize) {
        let s = self.get(server);
        bump(&s.counters.unnecessary_resends);
        s.state().budget.charge();
    }

    /// A UDP query to `server` was never answered.
    pub(crate) fn lost(&self, server: usize) {
        bump(&self.get(server).counters.lost);
    }

    /// A reply, received at `now`, to a UDP query that was still open when its question was
    /// settled: a latency sample (the slow replies a model would miss if nobody listened after
    /// the question was settled), and proof that a re-send after it was unnecessary.
    pub(crate) fn late_reply(&self, linger: &Linger, now: Instant) {
        let latency = now.saturating_duration_since(linger.sent_at);
        self.replied(linger.server, now, Some(latency));
        if linger.resent_at.is_some_and(|at| at < now) {
            self.unnecessary(linger.server);
        }
    }

    pub(crate) fn succeeded(&self, server: usize) {
        self.get(server).state().health.succeeded();
    }

    pub(crate) fn failed(&self, server: usize, now: Instant) {
        self.get(server).state().health.failed(now);
    }

    pub(crate) fn set_no_edns(&self, server: usize) {
        self.get(server).no_edns.store(true, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> Vec<ServerStats> {
        self.servers
            .iter()
            .map(|s| {
                let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
                let c = &s.counters;
                let state = s.state();
                ServerStats {
                    server: s.addr,
                    queries: get(&c.queries),
                    resends: get(&c.resends),
                    unnecessary_resends: get(&c.unnecessary_resends),
                    answers: get(&c.answers),
                    lost: get(&c.lost),
                    timeouts: get(&c.timeouts),
                    ignored: get(&c.ignored),
                    tcp_fallbacks: get(&c.tcp_fallbacks),
                    servfails: get(&c.servfails),
                    refused: get(&c.refused),
                    network_errors: get(&c.network_errors),
                    udp_sockets: get(&c.udp_sockets),
                    waiting: get(&c.waiting),
                    rto: state.latency.rto(self.timeout),
                    latency_p50: state.latency.quantile(0.5),
                    latency_p99: state.latency.quantile(0.99),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthiest_first_then_in_order() {
        assert_eq!(start_index(&[0, 0, 0], None), 0);
        assert_eq!(start_index(&[3, 0, 1], None), 1);
        assert_eq!(start_index(&[2, 1, 1], None), 1);
        assert_eq!(start_index(&[], None), 0);
    }

    #[test]
    fn rotate_round_robins_among_the_healthiest() {
        let picks: Vec<usize> = (0..4).map(|t| start_index(&[0, 0, 0], Some(t))).collect();
        assert_eq!(picks, [0, 1, 2, 0]);
        let picks: Vec<usize> = (0..4).map(|t| start_index(&[0, 5, 0], Some(t))).collect();
        assert_eq!(picks, [0, 2, 0, 2]);
    }

    #[test]
    fn steps_rotate_over_servers() {
        let order: Vec<usize> = (0..5).map(|k| server_at(1, k, 3)).collect();
        assert_eq!(order, [1, 2, 0, 1, 2]);
        assert_eq!(server_at(0, 4, 1), 0);
    }

    #[test]
    fn failures_are_forgiven_after_a_while() {
        let t0 = Instant::now();
        let mut h = Health::default();
        h.failed(t0);
        h.failed(t0);
        assert_eq!(h.score(t0 + Duration::from_secs(1)), 2);
        assert_eq!(h.score(t0 + FORGIVE_AFTER), 0);
        h.succeeded();
        assert_eq!(h.score(t0), 0);
    }

    #[test]
    fn a_failing_server_loses_its_place() {
        let now = Instant::now();
        let servers = Servers::new(
            &[
                "127.0.0.1:1".parse().unwrap(),
                "127.0.0.1:2".parse().unwrap(),
            ],
            false,
            Duration::from_secs(1),
        );
        assert_eq!(servers.start(now), 0);
        servers.failed(0, now);
        assert_eq!(servers.start(now), 1);
        servers.succeeded(0);
        assert_eq!(servers.start(now), 0);
    }

    #[test]
    fn budget_binds_after_needless_resends_and_recovers_with_queries() {
        let mut b = Budget::default();
        for _ in 0..BUDGET_BURST {
            assert!(b.allows());
            b.charge();
        }
        assert!(!b.allows(), "20 needless re-sends in a burst empty it");
        // It takes 20 questions to earn one needless re-send back.
        for _ in 0..QUESTIONS_PER_WASTED_RESEND - 1 {
            b.earn();
        }
        assert!(!b.allows(), "{b:?}");
        b.earn();
        assert!(b.allows());
        // Over a long run, needless re-sends are held to one in 20 questions (5%).
        let mut b = Budget::default();
        let mut charged = 0;
        for _ in 0..10_000 {
            b.earn();
            if b.allows() {
                b.charge();
                charged += 1;
            }
        }
        assert!((500..=500 + BUDGET_BURST).contains(&charged), "{charged}");
    }
}
