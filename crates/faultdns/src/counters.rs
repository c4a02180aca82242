//! Counters the server keeps: queries seen, bad input, and per rule matched/fired.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

/// A snapshot of the server's counters, from [`crate::Server::counters`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// One entry per rule, in rule order.
    pub rules: Vec<RuleCounters>,
}

/// Counters of one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    }
}
