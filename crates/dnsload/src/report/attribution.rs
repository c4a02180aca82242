//! Where a host's loss is: its failures beside its kernel drop counters, bucket by bucket, and
//! a verdict when the evidence is strong.
//!
//! Basic algorithm (the rule docs/dnsload-schema.md states):
//! - The failures attributed are lookups that got no answer: `timeout`, `hung`, `error` (a send
//!   the kernel refused, e.g. a full conntrack table on the sending host), and the war story's
//!   signatures (an `nxdomain` or `wrong_name` after at least 0.9 x a per-attempt timeout: the
//!   name asked went unanswered first). Other answers from the server (`servfail`, a quick
//!   `nxdomain`, ...) are not loss.
//! - Each such lookup is counted in the bucket it started in; its *window* runs from that
//!   bucket to the one it ended in (its packets were sent, re-sent and lost in between).
//! - Counter lines are put in the bucket of their interval's midpoint (intervals are aligned to
//!   the wall clock, so a 1 s interval is one 1 s bucket).
//! - For each cause, a failure *coincides* with it when the cause's counters grew in a bucket of
//!   its window. A cause is *strong* when at least [`MIN_COINCIDENT`] failures and at least
//!   [`MIN_SHARE`] of them coincide with it, and its counters grew in a share of the failure
//!   windows' buckets at least [`CONTRAST`] times the share of the host's other sampled buckets
//!   (a counter that grows all the time explains nothing).
//! - Verdict: the strong cause with the most coincident failures (ties: the more specific, in
//!   the order of [`CAUSES`]); else, with at least [`MIN_COINCIDENT`] failures and no cause's
//!   counter grown in any failure window, loss on the path or at the server; `clean` without
//!   such failures; `no_counters` when no failure window was sampled; `inconclusive` otherwise.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::counters::CounterDelta;

/// Fewest coincident failures for a strong verdict.
pub const MIN_COINCIDENT: u64 = 3;
/// Smallest share of a host's failures that must coincide with a cause.
pub const MIN_SHARE: f64 = 0.5;
/// How much more often a cause's counters must grow in failure windows than elsewhere.
pub const CONTRAST: f64 = 2.0;
/// Longest window followed, in buckets (a lookup's deadline is far shorter).
const MAX_WINDOW: u64 = 300;

/// A cause, most specific first: `(key, counters, verdict text)`.
pub const CAUSES: [(&str, &[&str], &str); 5] = [
    (
        "conntrack_race",
        &["conntrack_insert_failed"],
        "failures coincide with conntrack insert_failed: local conntrack race",
    ),
    (
        "conntrack_full",
        &["conntrack_drop", "conntrack_early_drop"],
        "failures coincide with conntrack drop / early_drop: this host's nf_conntrack table is full",
    ),
    (
        "rcvbuf",
        &["udp_rcvbuf_errors"],
        "failures coincide with RcvbufErrors: this host's receive buffers",
    ),
    (
        "softnet",
        &["softnet_dropped"],
        "failures coincide with softnet drops: this host's CPU input backlog",
    ),
    (
        "udp_in_errors",
        &["udp_in_errors"],
        "failures coincide with UDP InErrors: this host's UDP input",
    ),
];

/// The growth of one host's drop counters in one bucket, and the table's fill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelCell {
    insert_failed: u64,
    drop: u64,
    early_drop: u64,
    rcvbuf: u64,
    in_errors: u64,
    softnet: u64,
    entries: Option<u64>,
    max: Option<u64>,
}

impl KernelCell {
    /// The cell of one counter line.
    pub fn of(d: &CounterDelta) -> Self {
        KernelCell {
            insert_failed: d.conntrack("insert_failed"),
            drop: d.conntrack("drop"),
            early_drop: d.conntrack("early_drop"),
            rcvbuf: d.udp.map_or(0, |u| u.rcvbuf_errors),
            // InErrors includes RcvbufErrors: only the rest is its own cause.
            in_errors: d
                .udp
                .map_or(0, |u| u.in_errors.saturating_sub(u.rcvbuf_errors)),
            softnet: d.softnet.map_or(0, |s| s.dropped),
            entries: d.conntrack_entries,
            max: d.conntrack_max,
        }
    }

    /// Adds another cell of the same bucket (or of a bucket folded into this one).
    pub fn merge(&mut self, o: &KernelCell) {
        self.insert_failed = self.insert_failed.saturating_add(o.insert_failed);
        self.drop = self.drop.saturating_add(o.drop);
        self.early_drop = self.early_drop.saturating_add(o.early_drop);
        self.rcvbuf = self.rcvbuf.saturating_add(o.rcvbuf);
        self.in_errors = self.in_errors.saturating_add(o.in_errors);
        self.softnet = self.softnet.saturating_add(o.softnet);
        self.entries = self.entries.max(o.entries);
        self.max = self.max.max(o.max);
    }

    /// Each drop counter's growth, by its name in the report.
    pub fn drops(&self) -> [(&'static str, u64); 6] {
        [
            ("conntrack_insert_failed", self.insert_failed),
            ("conntrack_drop", self.drop),
            ("conntrack_early_drop", self.early_drop),
            ("udp_rcvbuf_errors", self.rcvbuf),
            ("udp_in_errors", self.in_errors),
            ("softnet_dropped", self.softnet),
        ]
    }

    fn grown(&self, counters: &[&str]) -> u64 {
        self.drops()
            .iter()
            .filter(|(name, _)| counters.contains(name))
            .fold(0, |a, (_, n)| a.saturating_add(*n))
    }
}

/// One host's cells at the grid's width, keyed by bucket start (ms since the epoch).
#[derive(Debug, Default)]
pub struct HostCells {
    /// Failure events of every class.
    pub failures: BTreeMap<u64, u64>,
    /// Lookups that got no answer: how many started in the bucket, and the latest end.
    pub losses: BTreeMap<u64, (u64, u64)>,
    /// Counter growth.
    pub kernel: BTreeMap<u64, KernelCell>,
}

impl HostCells {
    /// Folds the loss and counter cells into buckets `width` wide.
    pub fn fold(&mut self, width: u64) {
        let mut losses: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for (k, (n, end)) in &self.losses {
            let cell = losses.entry(k / width * width).or_default();
            cell.0 = cell.0.saturating_add(*n);
            cell.1 = cell.1.max(*end);
        }
        self.losses = losses;
        let mut kernel: BTreeMap<u64, KernelCell> = BTreeMap::new();
        for (k, cell) in &self.kernel {
            kernel.entry(k / width * width).or_default().merge(cell);
        }
        self.kernel = kernel;
    }
}

/// A host's kernel counters over everything read, and its verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostKernel {
    /// Buckets with a counter reading.
    pub sampled_buckets: u64,
    /// Each drop counter's growth over the whole input.
    pub grown: BTreeMap<String, u64>,
    /// Most conntrack entries seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conntrack_entries_peak: Option<u64>,
    /// The conntrack table's limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conntrack_max: Option<u64>,
}

/// Why a host failed, by the rule of this module, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `conntrack_race`, `conntrack_full`, `rcvbuf`, `softnet`, `udp_in_errors`, `path`,
    /// `clean`, `no_counters` or `inconclusive`.
    pub cause: String,
    /// The verdict in words, with its numbers.
    pub text: String,
    /// Lookups that got no answer, in buckets with counter readings.
    pub failures: u64,
    /// Such lookups outside any reading (runs without counters).
    pub unsampled_failures: u64,
    /// Of `failures`, those that coincide with the cause's counters (0 for `path`, `clean`).
    pub coincident: u64,
    /// Buckets of the failures' windows that have readings.
    pub failure_buckets: u64,
    /// The host's other buckets with readings.
    pub other_buckets: u64,
    /// Per counter: its growth in the failure windows' buckets.
    pub in_failure_buckets: BTreeMap<String, u64>,
    /// Per cause: failures that coincide with it.
    pub coincident_by_cause: BTreeMap<String, u64>,
}

/// Applies the rule to one host's cells (`width` ms buckets); `failures` is the host's count of
/// failures of every class.
pub fn judge(cells: &HostCells, width: u64, failures_all: u64) -> (HostKernel, Verdict) {
    let mut kernel = HostKernel {
        sampled_buckets: cells.kernel.len() as u64,
        ..HostKernel::default()
    };
    for cell in cells.kernel.values() {
        for (name, n) in cell.drops() {
            let e = kernel.grown.entry(name.to_string()).or_default();
            *e = e.saturating_add(n);
        }
        kernel.conntrack_entries_peak = kernel.conntrack_entries_peak.max(cell.entries);
        kernel.conntrack_max = kernel.conntrack_max.max(cell.max);
    }
    // Each loss cell's window: the sampled buckets from its start to its latest end.
    let width = width.max(1);
    let mut window_buckets: BTreeSet<u64> = BTreeSet::new();
    let mut covered: Vec<(u64, Vec<u64>)> = Vec::new();
    let mut unsampled = 0u64;
    for (start, (n, end)) in &cells.losses {
        let last = (end / width * width).min(start.saturating_add(MAX_WINDOW * width));
        let sampled: Vec<u64> = cells
            .kernel
            .range(*start..=last.max(*start))
            .map(|(k, _)| *k)
            .collect();
        if sampled.is_empty() {
            unsampled = unsampled.saturating_add(*n);
        } else {
            window_buckets.extend(&sampled);
            covered.push((*n, sampled));
        }
    }
    let failures: u64 = covered.iter().fold(0, |a, (n, _)| a.saturating_add(*n));
    let other: Vec<u64> = cells
        .kernel
        .keys()
        .filter(|k| !window_buckets.contains(k))
        .copied()
        .collect();
    let mut in_failure_buckets: BTreeMap<String, u64> = BTreeMap::new();
    for k in &window_buckets {
        for (name, n) in cells.kernel[k].drops() {
            let e = in_failure_buckets.entry(name.to_string()).or_default();
            *e = e.saturating_add(n);
        }
    }
    let mut coincident_by_cause = BTreeMap::new();
    let mut strong: Option<(usize, u64)> = None;
    for (i, (key, counters, _)) in CAUSES.iter().enumerate() {
        let grew = |k: &u64| cells.kernel[k].grown(counters) > 0;
        let coincident = covered
            .iter()
            .filter(|(_, buckets)| buckets.iter().any(grew))
            .fold(0u64, |a, (n, _)| a.saturating_add(*n));
        coincident_by_cause.insert(key.to_string(), coincident);
        let share = |set: &mut dyn Iterator<Item = &u64>, len: usize| {
            if len == 0 {
                0.0
            } else {
                set.filter(|k| grew(k)).count() as f64 / len as f64
            }
        };
        let share_in = share(&mut window_buckets.iter(), window_buckets.len());
        let share_out = share(&mut other.iter(), other.len());
        let is_strong = coincident >= MIN_COINCIDENT
            && coincident as f64 >= MIN_SHARE * failures as f64
            && share_in >= CONTRAST * share_out;
        if is_strong && strong.is_none_or(|(_, best)| coincident > best) {
            strong = Some((i, coincident));
        }
    }
    let grown_in_windows = |counters: &[&str]| -> u64 {
        counters
            .iter()
            .map(|c| in_failure_buckets.get(*c).copied().unwrap_or(0))
            .sum()
    };
    let secs = |buckets: u64| {
        let s = buckets as f64 * width as f64 / 1e3;
        if s == s.trunc() {
            format!("{s:.0} s")
        } else {
            format!("{s:.1} s")
        }
    };
    let fill = match (kernel.conntrack_entries_peak, kernel.conntrack_max) {
        (Some(n), Some(max)) if n > 0 => format!("; conntrack entries up to {n} of {max}"),
        _ => String::new(),
    };
    let (cause, coincident, text) = if failures == 0 && unsampled == 0 {
        let answered = if failures_all > 0 {
            format!("; its {failures_all} failures were answers from the server")
        } else {
            String::new()
        };
        (
            "clean".to_string(),
            0,
            format!("clean: no lookup went unanswered{answered}"),
        )
    } else if failures == 0 {
        (
            "no_counters".to_string(),
            0,
            format!(
                "no counters: {unsampled} unanswered lookups, none in a bucket with a counter reading (runs from dnsload before schema 2, or without /proc)"
            ),
        )
    } else if let Some((i, coincident)) = strong {
        let (key, counters, words) = CAUSES[i];
        let growth: Vec<String> = counters
            .iter()
            .map(|c| {
                format!(
                    "{} +{}",
                    c.trim_start_matches("conntrack_")
                        .trim_start_matches("udp_"),
                    in_failure_buckets.get(*c).copied().unwrap_or(0)
                )
            })
            .collect();
        (
            key.to_string(),
            coincident,
            format!(
                "{words}: {coincident} of {failures} unanswered lookups had it grow while they ran ({} over their {}){fill}",
                growth.join(", "),
                secs(window_buckets.len() as u64)
            ),
        )
    } else if failures >= MIN_COINCIDENT && CAUSES.iter().all(|(_, c, _)| grown_in_windows(c) == 0)
    {
        (
            "path".to_string(),
            0,
            format!(
                "failures with no local counter: loss on the path or at the server: {failures} unanswered lookups, and over their {} no drop counter of this host grew (conntrack insert_failed/drop/early_drop, udp rcvbuf/in errors, softnet dropped all +0){fill}",
                secs(window_buckets.len() as u64)
            ),
        )
    } else {
        let parts: Vec<String> = CAUSES
            .iter()
            .filter_map(|(key, _, _)| {
                let n = coincident_by_cause.get(*key).copied().unwrap_or(0);
                (n > 0).then(|| format!("{n} with {key}"))
            })
            .collect();
        (
            "inconclusive".to_string(),
            0,
            format!(
                "inconclusive: {failures} unanswered lookups{}; no cause meets the rule (at least {MIN_COINCIDENT} and half of them, and growth {CONTRAST}x likelier in their buckets than elsewhere)",
                if parts.is_empty() {
                    String::new()
                } else {
                    format!(", {}", parts.join(", "))
                }
            ),
        )
    };
    let verdict = Verdict {
        cause,
        text,
        failures,
        unsampled_failures: unsampled,
        coincident,
        failure_buckets: window_buckets.len() as u64,
        other_buckets: other.len() as u64,
        in_failure_buckets,
        coincident_by_cause,
    };
    (kernel, verdict)
}

/// A letter per counter for the text's heat map (the first that grew in a column shows).
pub(super) const LETTERS: [(&str, char); 6] = [
    ("conntrack_insert_failed", 'R'),
    ("conntrack_drop", 'F'),
    ("conntrack_early_drop", 'E'),
    ("udp_rcvbuf_errors", 'B'),
    ("softnet_dropped", 'S'),
    ("udp_in_errors", 'I'),
];

/// The text's line of counter letters under a host's heat-map line (`None` if none grew).
pub(super) fn letters(row: &super::HostTimeRow, columns: usize) -> Option<String> {
    if row.counters.is_empty() {
        return None;
    }
    let cells: String = (0..columns)
        .map(|i| {
            LETTERS
                .iter()
                .find(|(name, _)| {
                    row.counters
                        .get(*name)
                        .is_some_and(|v| v.get(i).is_some_and(|n| *n > 0))
                })
                .map_or(' ', |(_, c)| *c)
        })
        .collect();
    Some(cells)
}

/// The text's sections: each host's verdict with its numbers, and query amplification.
pub(super) fn text(t: &mut String, m: &super::MergedReport, hw: usize) {
    use std::fmt::Write as _;
    let judged: Vec<&super::HostRow> = m.hosts.iter().filter(|h| h.verdict.is_some()).collect();
    if !judged.is_empty() {
        let _ = writeln!(
            t,
            "\nWhere the loss is (each host's unanswered lookups beside its kernel drop counters, {} s buckets):",
            m.attribution_bucket_s
        );
        for h in judged {
            let Some(v) = &h.verdict else { continue };
            let _ = writeln!(t, "  {:<hw$} {}", h.host, v.text);
        }
    }
    let costed: Vec<&super::HostRow> = m
        .hosts
        .iter()
        .filter(|h| h.amplification.is_some_and(|a| a.lookups > 0))
        .collect();
    if !costed.is_empty() {
        let _ = writeln!(
            t,
            "\nQueries per lookup (stub backend, from stubborn's trace):\n  {:<hw$} {:>9} {:>9} {:>8} {:>11} {:>9} {:>9} {:>5} {:>4}",
            "host", "lookups", "queries", "per", "candidates", "attempts", "re-sends", "tcp", "max"
        );
        for h in costed {
            let Some(a) = h.amplification else { continue };
            let per = |n: u64| n as f64 / a.lookups as f64;
            let _ = writeln!(
                t,
                "  {:<hw$} {:>9} {:>9} {:>8.2} {:>11.2} {:>9.2} {:>9.2} {:>5} {:>4}",
                h.host,
                a.lookups,
                a.total.queries,
                a.per_lookup,
                per(a.total.candidates),
                per(a.total.attempts),
                per(a.total.resends),
                a.total.tcp,
                a.max_per_lookup
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(f: impl FnOnce(&mut KernelCell)) -> KernelCell {
        let mut c = KernelCell::default();
        f(&mut c);
        c
    }

    /// Ten seconds of readings; failures (start, end, count) in some of them.
    fn host(losses: &[(u64, u64, u64)], kernel: &[(u64, KernelCell)]) -> HostCells {
        let mut h = HostCells::default();
        for s in 0..10 {
            h.kernel.insert(s * 1000, KernelCell::default());
        }
        for (s, c) in kernel {
            h.kernel.insert(s * 1000, *c);
        }
        for (s, e, n) in losses {
            h.losses.insert(s * 1000, (*n, e * 1000 + 500));
        }
        h
    }

    #[test]
    fn failures_beside_conntrack_drops_are_the_conntrack_table() {
        let drop = cell(|c| c.drop = 4);
        let h = host(
            &[(5, 5, 3), (6, 6, 2), (7, 7, 4)],
            &[(5, drop), (6, drop), (7, drop)],
        );
        let (k, v) = judge(&h, 1000, 0);
        assert_eq!(v.cause, "conntrack_full", "{v:?}");
        assert_eq!((v.failures, v.coincident), (9, 9));
        assert_eq!(k.grown["conntrack_drop"], 12);
        assert!(v.text.contains("9 of 9"), "{}", v.text);
    }

    #[test]
    fn a_drop_later_in_the_window_still_coincides() {
        // Lookups that started at 2 s and timed out at 4 s; the drops were counted at 3 s.
        let h = host(&[(2, 4, 5)], &[(3, cell(|c| c.rcvbuf = 2))]);
        assert_eq!(judge(&h, 1000, 0).1.cause, "rcvbuf");
    }

    #[test]
    fn failures_without_any_counter_are_the_path() {
        let h = host(&[(1, 1, 2), (4, 5, 3)], &[]);
        let (_, v) = judge(&h, 1000, 0);
        assert_eq!(v.cause, "path", "{v:?}");
        assert_eq!(v.failures, 5);
        assert!(v.text.contains("no local counter"), "{}", v.text);
    }

    #[test]
    fn a_counter_that_always_grows_explains_nothing() {
        let noisy = cell(|c| c.softnet = 1);
        let every: Vec<(u64, KernelCell)> = (0..10).map(|s| (s, noisy)).collect();
        let h = host(&[(3, 3, 5)], &every);
        let (_, v) = judge(&h, 1000, 0);
        assert_eq!(v.cause, "inconclusive", "{v:?}");
        assert_eq!(v.coincident_by_cause["softnet"], 5);
    }

    #[test]
    fn few_failures_or_none_or_no_readings() {
        assert_eq!(judge(&host(&[], &[]), 1000, 0).1.cause, "clean");
        assert_eq!(
            judge(&host(&[(2, 2, 2)], &[]), 1000, 2).1.cause,
            "inconclusive"
        );
        let mut h = HostCells::default();
        h.losses.insert(0, (4, 500));
        let (_, v) = judge(&h, 1000, 0);
        assert_eq!((v.cause.as_str(), v.unsampled_failures), ("no_counters", 4));
    }

    #[test]
    fn the_most_coincident_strong_cause_wins_and_folding_keeps_counts() {
        let both = cell(|c| {
            c.insert_failed = 1;
            c.drop = 1;
        });
        let drop = cell(|c| c.drop = 1);
        let mut h = host(
            &[(2, 2, 3), (6, 6, 3), (7, 7, 3)],
            &[(2, both), (6, drop), (7, drop)],
        );
        let (_, v) = judge(&h, 1000, 0);
        assert_eq!(v.cause, "conntrack_full");
        assert_eq!(v.coincident_by_cause["conntrack_race"], 3);
        h.fold(5000);
        let (k, v) = judge(&h, 5000, 0);
        assert_eq!((k.sampled_buckets, v.failures), (2, 9));
        assert_eq!(k.grown["conntrack_drop"], 3);
    }
}
