//! Forwarding: what a forwarded query carries, how an upstream's answer (or failure) becomes
//! the client's reply, and the bound on queries outstanding upstream.
//!
//! Algorithm: a query the data does not decide and no query rule decides becomes a
//! [`Forward`]. The transport (`forward_udp.rs`, `forward_tcp.rs`) sends the client's bytes
//! unchanged but for the ID, which it replaces by one unique among its own outstanding queries,
//! and waits for the reply with that ID. [`Shared::complete`] then turns the outcome into
//! bytes for the client: the upstream's reply with the client's ID put back (every other byte as
//! the upstream sent it), unless a reply rule fires; or, after a failure, silence or SERVFAIL as
//! configured. Every outcome is counted and logged.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use crate::{
    counters::Live,
    engine::Decision,
    handler::Shared,
    log::{Entry, UpstreamEntry},
    rule::{Action, Proto},
    wire::{self, Parsed, Shape, rcode},
};

/// What the client gets when its forwarded query fails upstream (timeout, garbage, an
/// oversize reply, a TCP connection closed mid-reply, an unreachable upstream, or too many
/// queries already outstanding).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UpstreamFailure {
    /// Nothing: upstream silence is passed on as silence (the default), so a client sees the
    /// loss the upstream caused.
    #[default]
    Silence,
    /// A SERVFAIL reply, as a caching resolver in front of a failing upstream would send.
    ServFail,
}

impl UpstreamFailure {
    /// `silence` or `servfail`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamFailure::Silence => "silence",
            UpstreamFailure::ServFail => "servfail",
        }
    }
}

impl std::str::FromStr for UpstreamFailure {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "silence" => Ok(UpstreamFailure::Silence),
            "servfail" => Ok(UpstreamFailure::ServFail),
            _ => Err(format!("`{s}`: expected silence or servfail")),
        }
    }
}

/// How one forwarded query ended upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A well-formed reply to the question asked.
    Answered,
    /// No reply within the upstream timeout.
    Timeout,
    /// A reply with the query's ID that is not a DNS response.
    Garbage,
    /// A UDP reply larger than the client said it accepts.
    Oversize,
    /// The TCP connection closed (or broke) before the reply was complete.
    TcpClosed,
    /// The upstream could not be reached (TCP connect refused or timed out, a send error, an
    /// ICMP error for the UDP socket).
    Unreachable,
    /// Not sent: too many queries were already outstanding upstream.
    Overload,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Timeout => "timeout",
            Outcome::Garbage => "garbage",
            Outcome::Oversize => "oversize",
            Outcome::TcpClosed => "tcp_closed",
            Outcome::Unreachable => "unreachable",
            Outcome::Overload => "overload",
        }
    }
}

/// Forwarding settings and the shared bound on outstanding queries.
#[derive(Debug)]
pub(crate) struct Upstreams {
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) timeout: Duration,
    pub(crate) on_failure: UpstreamFailure,
    max_outstanding: usize,
    outstanding: AtomicUsize,
    next: AtomicUsize,
}

impl Upstreams {
    pub(crate) fn new(
        addrs: Vec<SocketAddr>,
        timeout: Duration,
        on_failure: UpstreamFailure,
        max_outstanding: usize,
    ) -> Upstreams {
        Upstreams {
            addrs,
            timeout,
            on_failure,
            max_outstanding,
            outstanding: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
        }
    }

    /// The index of the upstream for the next query or connection: round robin.
    pub(crate) fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.addrs.len()
    }

    /// Queries outstanding upstream now.
    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }
}

/// A place among the queries outstanding upstream, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot(Arc<Shared>);

impl Slot {
    /// Take a place, or `None` when the bound is reached.
    pub(crate) fn take(shared: &Arc<Shared>) -> Option<Slot> {
        let up = shared.upstreams.as_ref()?;
        let prev = up.outstanding.fetch_add(1, Ordering::Relaxed);
        if prev >= up.max_outstanding {
            up.outstanding.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Slot(shared.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(up) = &self.0.upstreams {
            up.outstanding.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A query on its way upstream: the client's bytes and what its reply needs.
#[derive(Debug)]
pub(crate) struct Forward {
    /// The client's message as received.
    pub(crate) query: Box<[u8]>,
    /// End of the question section in `query`.
    pub(crate) question_end: usize,
    pub(crate) name: String,
    pub(crate) qtype: u16,
    pub(crate) client: SocketAddr,
    pub(crate) proto: Proto,
    /// The query rule's decision (`answer`, `wrong-id`, or `truncate` over TCP).
    pub(crate) decision: Decision,
    /// The largest UDP reply the client accepts.
    pub(crate) client_udp_size: usize,
    pub(crate) received: SystemTime,
}

impl Forward {
    pub(crate) fn client_id(&self) -> u16 {
        u16::from_be_bytes([self.query[0], self.query[1]])
    }

    pub(crate) fn question(&self) -> &[u8] {
        &self.query[12..self.question_end]
    }

    /// The query as sent upstream: the same bytes with the upstream ID.
    pub(crate) fn bytes_with_id(&self, id: u16, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&self.query[2..]);
    }
}

/// What to send the client once a forwarded query is complete.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// The reply (without a TCP length prefix), or nothing.
    pub(crate) bytes: Option<Vec<u8>>,
    /// Hold it back this long first.
    pub(crate) delay: Option<Duration>,
}

impl Shared {
    /// Turn the end of a forwarded query into the client's reply: `reply` is the upstream's
    /// message when `outcome` is [`Outcome::Answered`]. Counts and logs the outcome.
    pub(crate) fn complete(
        &self,
        fwd: &Forward,
        upstream: Option<SocketAddr>,
        sent: Option<Instant>,
        outcome: Outcome,
        reply: &[u8],
    ) -> Delivery {
        let live = &self.live;
        Live::bump(match outcome {
            Outcome::Answered => &live.up_answered,
            Outcome::Timeout => &live.up_timeout,
            Outcome::Garbage => &live.up_garbage,
            Outcome::Oversize => &live.up_oversize,
            Outcome::TcpClosed => &live.up_tcp_closed,
            Outcome::Unreachable => &live.up_unreachable,
            Outcome::Overload => &live.up_overload,
        });
        let mut reply_decision = None;
        let mut out = Delivery {
            bytes: None,
            delay: fwd.decision.delay.filter(|d| !d.is_zero()),
        };
        if outcome == Outcome::Answered {
            let mut action = fwd.decision.action;
            if self.reply_rules.load(std::sync::atomic::Ordering::Relaxed) {
                let d = self
                    .engine
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .decide_reply(&fwd.name, fwd.qtype, fwd.proto, fwd.client.ip());
                if d.rule.is_some() {
                    action = d.action;
                    if let Some(delay) = d.delay.filter(|d| !d.is_zero()) {
                        out.delay = Some(out.delay.unwrap_or_default() + delay);
                    }
                    reply_decision = Some(d);
                }
            }
            out.bytes = match action {
                Action::Answer => Some(relay(reply, fwd.client_id())),
                Action::WrongId => Some(relay(reply, !fwd.client_id())),
                Action::Truncate if fwd.proto == Proto::Tcp => Some(relay(reply, fwd.client_id())),
                other => self.local_reply(fwd, other),
            };
        } else if self.upstreams.as_ref().map(|u| u.on_failure) == Some(UpstreamFailure::ServFail) {
            out.bytes = self.local_reply(fwd, Action::ServFail);
        }
        if let Some(log) = &self.log {
            let sent_ok = log.send(Entry {
                time: fwd.received,
                client: fwd.client,
                id: fwd.client_id(),
                name: fwd.name.clone(),
                qtype: fwd.qtype,
                proto: fwd.proto,
                rule: fwd.decision.rule,
                action: fwd.decision.action,
                delay: out.delay,
                upstream: Some(UpstreamEntry {
                    addr: upstream,
                    outcome: outcome.as_str(),
                    elapsed: sent.map(|s| s.elapsed()),
                    reply_rule: reply_decision.and_then(|d| d.rule),
                    reply_action: reply_decision.map(|d| d.action),
                }),
            });
            if !sent_ok {
                Live::bump(&self.live.log_dropped);
            }
        }
        out
    }

    /// A reply faultdns writes itself for a forwarded query (a reply rule's action, or SERVFAIL
    /// after a failure); `None` for `drop`.
    fn local_reply(&self, fwd: &Forward, action: Action) -> Option<Vec<u8>> {
        let Parsed::Query(q) = wire::parse(&fwd.query) else {
            return None;
        };
        let limit = match fwd.proto {
            Proto::Udp => q.udp_limit(),
            Proto::Tcp => usize::from(u16::MAX),
        };
        let mut out = Vec::with_capacity(64);
        match action {
            Action::Drop => return None,
            Action::ServFail => wire::write_bare(&q, q.id, rcode::SERVFAIL, &mut out),
            Action::Refused => wire::write_bare(&q, q.id, rcode::REFUSED, &mut out),
            Action::NxDomain => {
                let prep = self.store.nxdomain_for(&fwd.name);
                wire::write_reply(&q, prep, q.id, Shape::Full, limit, &mut out);
            }
            Action::Malformed => wire::write_malformed(&q, &mut out),
            // Truncate over UDP (over TCP the reply is relayed); answer and wrong-id are relays.
            Action::Truncate | Action::Answer | Action::WrongId => {
                wire::write_truncated(&q, &mut out)
            }
        }
        Some(out)
    }
}

/// The upstream's reply with the client's ID: every other byte unchanged.
fn relay(reply: &[u8], id: u16) -> Vec<u8> {
    let mut out = reply.to_vec();
    out[..2].copy_from_slice(&id.to_be_bytes());
    out
}

/// Classify an upstream reply for a waiting query: `Ok(())` to relay it, `Err(outcome)` when it
/// ends the query as a failure, `None` when it does not concern the query (another question:
/// the query keeps waiting).
pub(crate) fn judge(fwd: &Forward, reply: &[u8]) -> Option<Result<(), Outcome>> {
    match wire::check_reply(reply, fwd.question()) {
        wire::ReplyCheck::Good => {
            if fwd.proto == Proto::Udp && reply.len() > fwd.client_udp_size {
                Some(Err(Outcome::Oversize))
            } else {
                Some(Ok(()))
            }
        }
        wire::ReplyCheck::OtherQuestion => None,
        wire::ReplyCheck::Garbage => Some(Err(Outcome::Garbage)),
    }
}

/// Deadlines of outstanding queries in the order they were sent (every query gets the same
/// timeout, so the earliest deadline is always at the front). Entries whose query already
/// ended are skipped when they come up: `seq` tells a live entry from a stale one.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    queue: std::collections::VecDeque<(Instant, u16, u64)>,
}

impl Deadlines {
    pub(crate) fn push(&mut self, at: Instant, id: u16, seq: u64) {
        self.queue.push_back((at, id, seq));
    }

    /// The next deadline at or before `now`, if any (removed from the queue).
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(u16, u64)> {
        match self.queue.front() {
            Some(&(at, id, seq)) if at <= now => {
                self.queue.pop_front();
                Some((id, seq))
            }
            _ => None,
        }
    }

    /// The earliest deadline still queued (possibly stale).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.front().map(|e| e.0)
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }
}

/// Upstream IDs for outstanding queries: sequential from a random start, skipping IDs in use.
pub(crate) fn next_id(counter: &mut u16, in_use: impl Fn(u16) -> bool) -> Option<u16> {
    for _ in 0..=u16::MAX as u32 {
        *counter = counter.wrapping_add(1);
        if !in_use(*counter) {
            return Some(*counter);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_come_out_in_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        d.push(t0 + Duration::from_millis(10), 1, 1);
        d.push(t0 + Duration::from_millis(20), 2, 2);
        assert_eq!(d.pop_expired(t0), None);
        assert_eq!(d.next(), Some(t0 + Duration::from_millis(10)));
        let later = t0 + Duration::from_millis(15);
        assert_eq!(d.pop_expired(later), Some((1, 1)));
        assert_eq!(d.pop_expired(later), None);
        assert_eq!(d.pop_expired(t0 + Duration::from_secs(1)), Some((2, 2)));
        assert_eq!(d.next(), None);
    }

    #[test]
    fn ids_skip_those_in_use() {
        let mut c = 65_534u16;
        assert_eq!(next_id(&mut c, |id| id == 65_535), Some(0));
        assert_eq!(next_id(&mut c, |_| true), None);
    }

    #[test]
    fn relay_changes_only_the_id() {
        let reply = [0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        let out = relay(&reply, 0xabcd);
        assert_eq!(&out[..2], &[0xab, 0xcd]);
        assert_eq!(&out[2..], &reply[2..]);
    }

    #[test]
    fn failure_policy_parses() {
        assert_eq!(
            "SERVFAIL".parse::<UpstreamFailure>(),
            Ok(UpstreamFailure::ServFail)
        );
        assert!("loud".parse::<UpstreamFailure>().is_err());
    }
}
