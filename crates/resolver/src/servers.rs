//! Server selection and per-server state: health, EDNS support and counters.
//!
//! Algorithm (pure, time passed in):
//! - a server's health is its count of consecutive failures (timeouts, unreachable, SERVFAIL,
//!   REFUSED), forgiven once its last failure is older than [`FORGIVE_AFTER`];
//! - a lookup starts at the healthiest server (fewest recent failures); ties go to the first
//!   in configured order, or round-robin among the tied ones with `rotate`;
//! - attempt `k` of a candidate goes to server `(start + k) mod n`, so retries spread over all
//!   servers.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A failing server is tried first again once its last failure is this old.
pub(crate) const FORGIVE_AFTER: Duration = Duration::from_secs(30);

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

/// The server index a lookup starts at, given each server's score; `turn` is the round-robin
/// counter when `rotate` is on.
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

/// The server index of attempt `k` (0-based) starting at `start` over `n` servers.
pub(crate) fn server_for_attempt(start: usize, k: usize, n: usize) -> usize {
    (start + k) % n.max(1)
}

/// Counters of one server, as returned by
/// [`Resolver::server_stats`](crate::Resolver::server_stats). Counts since the resolver was
/// built, shared by its clones.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// The server.
    pub server: SocketAddr,
    /// Queries sent (UDP datagrams and TCP queries).
    pub queries: u64,
    /// Replies accepted (any response code), late ones included.
    pub answers: u64,
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
}

/// Shared state of one configured server.
#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) addr: SocketAddr,
    health: Mutex<Health>,
    no_edns: std::sync::atomic::AtomicBool,
    pub(crate) queries: AtomicU64,
    pub(crate) answers: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) tcp_fallbacks: AtomicU64,
    pub(crate) servfails: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) network_errors: AtomicU64,
}

impl ServerState {
    fn new(addr: SocketAddr) -> Self {
        ServerState {
            addr,
            health: Mutex::new(Health::default()),
            no_edns: Default::default(),
            queries: AtomicU64::new(0),
            answers: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            ignored: AtomicU64::new(0),
            tcp_fallbacks: AtomicU64::new(0),
            servfails: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            network_errors: AtomicU64::new(0),
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        // A poisoned lock only means a panic elsewhere; the health record stays usable.
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn failed(&self, now: Instant) {
        self.health().failed(now);
    }

    pub(crate) fn succeeded(&self) {
        self.health().succeeded();
    }

    /// Whether this server answered FORMERR to an EDNS query: ask it without EDNS from then on.
    pub(crate) fn no_edns(&self) -> bool {
        self.no_edns.load(Ordering::Relaxed)
    }

    pub(crate) fn set_no_edns(&self) {
        self.no_edns.store(true, Ordering::Relaxed);
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn stats(&self) -> ServerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ServerStats {
            server: self.addr,
            queries: get(&self.queries),
            answers: get(&self.answers),
            timeouts: get(&self.timeouts),
            ignored: get(&self.ignored),
            tcp_fallbacks: get(&self.tcp_fallbacks),
            servfails: get(&self.servfails),
            refused: get(&self.refused),
            network_errors: get(&self.network_errors),
        }
    }
}

/// All configured servers and the round-robin counter.
#[derive(Debug)]
pub(crate) struct Servers {
    states: Vec<ServerState>,
    rotate: bool,
    turn: AtomicUsize,
}

impl Servers {
    pub(crate) fn new(addrs: &[SocketAddr], rotate: bool) -> Self {
        Servers {
            states: addrs.iter().copied().map(ServerState::new).collect(),
            rotate,
            turn: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    pub(crate) fn get(&self, index: usize) -> &ServerState {
        &self.states[index]
    }

    /// Where a candidate's attempts start.
    pub(crate) fn start(&self, now: Instant) -> usize {
        let scores: Vec<u32> = self.states.iter().map(|s| s.health().score(now)).collect();
        let turn = self
            .rotate
            .then(|| self.turn.fetch_add(1, Ordering::Relaxed));
        start_index(&scores, turn)
    }

    pub(crate) fn stats(&self) -> Vec<ServerStats> {
        self.states.iter().map(ServerState::stats).collect()
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
    fn attempts_rotate_over_servers() {
        let order: Vec<usize> = (0..5).map(|k| server_for_attempt(1, k, 3)).collect();
        assert_eq!(order, [1, 2, 0, 1, 2]);
        assert_eq!(server_for_attempt(0, 4, 1), 0);
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
        );
        assert_eq!(servers.start(now), 0);
        servers.get(0).failed(now);
        assert_eq!(servers.start(now), 1);
        servers.get(0).succeeded();
        assert_eq!(servers.start(now), 0);
    }
}
