//! Counters the server keeps: queries seen, bad input, and per rule matched/fired.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

/// A snapshot of the server's counters, from [`crate::Server::counters`]. Serializes (serde) to
/// the JSON the binary's control endpoint serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Counters {
    /// Well-formed queries evaluated against the rules (UDP and TCP).
    pub queries: u64,
    /// Messages answered with FORMERR (wrong question count, truncated or garbled sections).
    pub formerr: u64,
    /// Messages ignored without reply: shorter than a header, or responses (QR=1).
    pub ignored: u64,
    /// Messages with an opcode other than QUERY, answered NOTIMP.
    pub notimp: u64,
    /// Queries refused for their class (not IN) or type (zone transfers), and EDNS versions
    /// other than 0 (answered BADVERS).
    pub refused: u64,
    /// Answers that did not fit the client's UDP size and went out with TC=1.
    pub truncated: u64,
    /// Replies not sent because too many delayed replies were already waiting.
    pub overload: u64,
    /// TCP connections accepted.
    pub tcp_connections: u64,
    /// TCP connections closed for idling, a slow or short message, or a bad length prefix.
    pub tcp_closed_bad: u64,
    /// TCP connections refused because the connection limit was reached.
    pub tcp_rejected: u64,
    /// Decision-log lines lost because the log writer could not keep up.
    pub log_dropped: u64,
    /// Queries for names beyond the per-name tracking limit (not in `queries_for`).
    pub untracked_names: u64,
    /// Queries forwarded to an upstream (each ends in exactly one `upstream_*` outcome below,
    /// except those still outstanding).
    pub forwarded: u64,
    /// Forwarded queries the upstream answered (relayed, or handed to the reply rules).
    pub upstream_answered: u64,
    /// Forwarded queries with no reply within the upstream timeout.
    pub upstream_timeout: u64,
    /// Forwarded queries whose reply was not a DNS response (too short, QR=0, sections that
    /// do not parse).
    pub upstream_garbage: u64,
    /// UDP replies larger than the client said it accepts (not relayed).
    pub upstream_oversize: u64,
    /// Forwarded queries lost because the upstream TCP connection closed or broke first.
    pub upstream_tcp_closed: u64,
    /// Forwarded queries that could not be sent (connection refused, ICMP errors, send errors).
    pub upstream_unreachable: u64,
    /// Queries not forwarded because the bound on queries outstanding upstream was reached.
    pub upstream_overload: u64,
    /// Upstream replies that answered no waiting query (unknown ID, or another question);
    /// they are not relayed, and the query they might belong to keeps waiting.
    pub upstream_wrong_id: u64,
    /// Queries outstanding upstream at the time of the snapshot (a gauge, not a counter).
    pub upstream_outstanding: u64,
    /// One entry per rule, in rule order.
    pub rules: Vec<RuleCounters>,
}

/// Counters of one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RuleCounters {
    /// The rule, in canonical text.
    pub rule: String,
    /// Queries whose name, type, protocol and client matched the rule.
    pub matched: u64,
    /// Matches on which the rule fired (decided the reply).
    pub fired: u64,
}

impl Counters {
    /// The counters in Prometheus text exposition format.
    pub fn prometheus_text(&self) -> String {
        let mut out = String::new();
        let plain = [
            ("queries", "Well-formed queries evaluated", self.queries),
            ("formerr", "Messages answered FORMERR", self.formerr),
            ("ignored", "Messages ignored (short or QR=1)", self.ignored),
            ("notimp", "Messages answered NOTIMP", self.notimp),
            (
                "refused",
                "Queries refused for class, type or EDNS version",
                self.refused,
            ),
            ("truncated", "UDP answers truncated to fit", self.truncated),
            (
                "overload",
                "Delayed replies dropped for lack of slots",
                self.overload,
            ),
            (
                "tcp_connections",
                "TCP connections accepted",
                self.tcp_connections,
            ),
            (
                "tcp_closed_bad",
                "TCP connections closed for bad behaviour",
                self.tcp_closed_bad,
            ),
            (
                "tcp_rejected",
                "TCP connections over the limit",
                self.tcp_rejected,
            ),
            ("log_dropped", "Decision log lines lost", self.log_dropped),
            (
                "untracked_names",
                "Queries for names beyond the per-name limit",
                self.untracked_names,
            ),
        ];
        for (name, help, value) in plain {
            let _ = writeln!(out, "# HELP faultdns_{name}_total {help}.");
            let _ = writeln!(out, "# TYPE faultdns_{name}_total counter");
            let _ = writeln!(out, "faultdns_{name}_total {value}");
        }
        let _ = writeln!(
            out,
            "# HELP faultdns_forwarded_total Queries forwarded upstream.\n\
             # TYPE faultdns_forwarded_total counter\n\
             faultdns_forwarded_total {}",
            self.forwarded
        );
        let _ = writeln!(
            out,
            "# HELP faultdns_upstream_total Forwarded queries by upstream outcome (wrong_id: \
             replies that matched no waiting query).\n# TYPE faultdns_upstream_total counter"
        );
        for (outcome, value) in [
            ("answered", self.upstream_answered),
            ("timeout", self.upstream_timeout),
            ("garbage", self.upstream_garbage),
            ("oversize", self.upstream_oversize),
            ("tcp_closed", self.upstream_tcp_closed),
            ("unreachable", self.upstream_unreachable),
            ("overload", self.upstream_overload),
            ("wrong_id", self.upstream_wrong_id),
        ] {
            let _ = writeln!(
                out,
                "faultdns_upstream_total{{outcome=\"{outcome}\"}} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP faultdns_upstream_outstanding Queries waiting for an upstream now.\n\
             # TYPE faultdns_upstream_outstanding gauge\n\
             faultdns_upstream_outstanding {}",
            self.upstream_outstanding
        );
        for (metric, help) in [
            ("matched", "Queries matching the rule"),
            ("fired", "Matches the rule fired on"),
        ] {
            let _ = writeln!(out, "# HELP faultdns_rule_{metric}_total {help}.");
            let _ = writeln!(out, "# TYPE faultdns_rule_{metric}_total counter");
            for (i, r) in self.rules.iter().enumerate() {
                let v = if metric == "matched" {
                    r.matched
                } else {
                    r.fired
                };
                let rule = r.rule.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "faultdns_rule_{metric}_total{{index=\"{i}\",rule=\"{rule}\"}} {v}"
                );
            }
        }
        out
    }
}

/// The lock-free counters, updated from the I/O tasks.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub(crate) formerr: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) notimp: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) truncated: AtomicU64,
    pub(crate) overload: AtomicU64,
    pub(crate) tcp_connections: AtomicU64,
    pub(crate) tcp_closed_bad: AtomicU64,
    pub(crate) tcp_rejected: AtomicU64,
    pub(crate) log_dropped: AtomicU64,
    pub(crate) forwarded: AtomicU64,
    pub(crate) up_answered: AtomicU64,
    pub(crate) up_timeout: AtomicU64,
    pub(crate) up_garbage: AtomicU64,
    pub(crate) up_oversize: AtomicU64,
    pub(crate) up_tcp_closed: AtomicU64,
    pub(crate) up_unreachable: AtomicU64,
    pub(crate) up_overload: AtomicU64,
    pub(crate) up_wrong_id: AtomicU64,
}

impl Live {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Fill the atomic part of a snapshot.
    pub(crate) fn fill(&self, c: &mut Counters) {
        c.formerr = self.formerr.load(Relaxed);
        c.ignored = self.ignored.load(Relaxed);
        c.notimp = self.notimp.load(Relaxed);
        c.refused = self.refused.load(Relaxed);
        c.truncated = self.truncated.load(Relaxed);
        c.overload = self.overload.load(Relaxed);
        c.tcp_connections = self.tcp_connections.load(Relaxed);
        c.tcp_closed_bad = self.tcp_closed_bad.load(Relaxed);
        c.tcp_rejected = self.tcp_rejected.load(Relaxed);
        c.log_dropped = self.log_dropped.load(Relaxed);
        c.forwarded = self.forwarded.load(Relaxed);
        c.upstream_answered = self.up_answered.load(Relaxed);
        c.upstream_timeout = self.up_timeout.load(Relaxed);
        c.upstream_garbage = self.up_garbage.load(Relaxed);
        c.upstream_oversize = self.up_oversize.load(Relaxed);
        c.upstream_tcp_closed = self.up_tcp_closed.load(Relaxed);
        c.upstream_unreachable = self.up_unreachable.load(Relaxed);
        c.upstream_overload = self.up_overload.load(Relaxed);
        c.upstream_wrong_id = self.up_wrong_id.load(Relaxed);
    }
}
