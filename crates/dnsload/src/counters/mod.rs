//! The places a DNS packet dies on a Linux host, counted: the kernel's drop counters, sampled
//! every interval of a run so the report can put them beside the failures of the same seconds.
//!
//! Sources (paths under `/proc`, each read in the network namespace of the reader):
//!
//! | source | file | what grows when a packet dies there |
//! |---|---|---|
//! | `udp` | `net/snmp` (`Udp:`) | `rcvbuf_errors`: a socket's receive buffer was full; `in_errors`: any input drop |
//! | `conntrack` | `net/stat/nf_conntrack` | `insert_failed` (two packets raced to create one entry), `drop` (table full, no entry could be evicted), `early_drop` (table full, an unconfirmed entry was evicted) |
//! | `softnet` | `net/softnet_stat` | `dropped`: a CPU's input backlog was full (host-wide, every namespace) |
//! | fill | `sys/net/netfilter/nf_conntrack_count`, `nf_conntrack_max` | the table's entries against its limit |
//!
//! Basic algorithm: a [`Sampler`] reads every source at the start and then every interval
//! (aligned to the wall clock, so a 1 s interval is one report bucket), and turns two readings
//! into a [`CounterDelta`]: per CPU for the per-CPU files (32-bit values), per counter for the
//! others (64-bit), then summed. A counter that went down either wrapped (a 32-bit value whose
//! growth through the wrap is under 2^31, half its range) or was reset (anything else: the
//! growth is counted from zero); both are reported as an [`Anomaly`], never a negative delta. A
//! source that cannot be read or understood is reported once and left out; it never stops the
//! run.

pub mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::netstat::UdpCounters;
use parse::{ConntrackStat, SoftnetCpu};

/// Most anomalies kept in the summary (all are in the counter lines).
pub const ANOMALIES_KEPT: usize = 20;

/// One counter file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// `net/snmp`.
    Snmp,
    /// `net/stat/nf_conntrack`.
    ConntrackStat,
    /// `net/softnet_stat`.
    Softnet,
    /// `sys/net/netfilter/nf_conntrack_count`.
    ConntrackCount,
    /// `sys/net/netfilter/nf_conntrack_max`.
    ConntrackMax,
}

impl Source {
    /// Every source, in the order they are read.
    pub const ALL: [Source; 5] = [
        Source::Snmp,
        Source::ConntrackStat,
        Source::Softnet,
        Source::ConntrackCount,
        Source::ConntrackMax,
    ];

    /// The path under the proc root.
    pub fn path(self) -> &'static str {
        match self {
            Source::Snmp => "net/snmp",
            Source::ConntrackStat => "net/stat/nf_conntrack",
            Source::Softnet => "net/softnet_stat",
            Source::ConntrackCount => "sys/net/netfilter/nf_conntrack_count",
            Source::ConntrackMax => "sys/net/netfilter/nf_conntrack_max",
        }
    }
}

/// One reading of every source that could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// `Udp:` of `/proc/net/snmp`.
    pub udp: Option<UdpCounters>,
    /// `/proc/net/stat/nf_conntrack`.
    pub conntrack: Option<ConntrackStat>,
    /// `/proc/net/softnet_stat`.
    pub softnet: Option<Vec<SoftnetCpu>>,
    /// Entries in this namespace's conntrack table.
    pub conntrack_count: Option<u64>,
    /// The table's limit (one value for the whole host).
    pub conntrack_max: Option<u64>,
}

impl Reading {
    /// Parses the texts of the sources (`None`: could not be read, with why); returns the
    /// reading and, per source that failed, why. Pure: the fuzz targets call it.
    pub fn from_texts(
        texts: &BTreeMap<Source, Result<String, String>>,
    ) -> (Reading, Vec<(Source, String)>) {
        let mut failed = Vec::new();
        let mut reading = Reading::default();
        for source in Source::ALL {
            let Some(text) = texts.get(&source) else {
                continue;
            };
            let text = match text {
                Ok(t) => t,
                Err(why) => {
                    failed.push((source, why.clone()));
                    continue;
                }
            };
            let parsed = match source {
                Source::Snmp => parse::snmp_udp(text).map(|u| reading.udp = Some(u)),
                Source::ConntrackStat => {
                    parse::conntrack_stat(text).map(|c| reading.conntrack = Some(c))
                }
                Source::Softnet => parse::softnet_stat(text).map(|s| reading.softnet = Some(s)),
                Source::ConntrackCount => {
                    parse::number(text).map(|n| reading.conntrack_count = Some(n))
                }
                Source::ConntrackMax => {
                    parse::number(text).map(|n| reading.conntrack_max = Some(n))
                }
            };
            if let Err(e) = parsed {
                failed.push((source, format!("unexpected contents: {e}")));
            }
        }
        if reading.conntrack_count.is_none() {
            reading.conntrack_count = reading
                .conntrack
                .as_ref()
                .and_then(|c| c.entries)
                .map(u64::from);
        }
        (reading, failed)
    }
}

/// Where the counter files are: `/proc`, or a directory laid out like it (tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    root: PathBuf,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            root: PathBuf::from("/proc"),
        }
    }
}

impl Sources {
    /// Sources under `root` instead of `/proc`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Sources { root: root.into() }
    }

    /// The proc root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads every source (small files: microseconds each).
    pub fn read(&self) -> (Reading, Vec<(Source, String)>) {
        let texts = Source::ALL
            .into_iter()
            .map(|s| {
                let path = self.root.join(s.path());
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()));
                (s, text)
            })
            .collect();
        Reading::from_texts(&texts)
    }
}

/// Growth of the softnet counters over every CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftnetDelta {
    /// Packets dropped because a CPU's input backlog was full.
    pub dropped: u64,
    /// Times the receive softirq stopped with work left.
    pub time_squeeze: u64,
}

/// A counter that went down between two readings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Which counter (`conntrack.drop cpu 1`, `udp.rcvbuf_errors`, `softnet.dropped cpu 0`).
    pub counter: String,
    /// Its earlier value.
    pub from: u64,
    /// Its later value.
    pub to: u64,
    /// `wrap` (a 32-bit value passed its maximum) or `reset` (counted from zero).
    pub kind: String,
    /// The growth counted for it.
    pub counted: u64,
}

/// Growth of every counter between two readings, and the fill at the later one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterDelta {
    /// UDP counters (absent when `/proc/net/snmp` was not read at both ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<UdpCounters>,
    /// Conntrack statistics summed over CPUs, by the kernel's column name; columns that did
    /// not grow are left out (absent when the file was not read at both ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<BTreeMap<String, u64>>,
    /// Softnet drops over every CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub softnet: Option<SoftnetDelta>,
    /// Entries in the conntrack table at the later reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_entries: Option<u64>,
    /// The table's limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_max: Option<u64>,
    /// Counters that went down.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Anomaly>,
}

impl CounterDelta {
    /// The growth of conntrack column `name` (0 when it did not grow or was not read).
    pub fn conntrack(&self, name: &str) -> u64 {
        self.conntrack
            .as_ref()
            .and_then(|c| c.get(name))
            .copied()
            .unwrap_or(0)
    }
}

/// The growth of a 32-bit counter from `old` to `new`, and how it went down if it did.
pub fn delta32(old: u32, new: u32) -> (u64, Option<&'static str>) {
    if new >= old {
        return (u64::from(new - old), None);
    }
    let through_wrap = u64::from(u32::MAX - old) + u64::from(new) + 1;
    if through_wrap < 1 << 31 {
        (through_wrap, Some("wrap"))
    } else {
        (u64::from(new), Some("reset"))
    }
}

/// The growth of a 64-bit counter: one that went down was reset (a 64-bit counter does not
/// wrap in a lifetime), so its growth counts from zero.
pub fn delta64(old: u64, new: u64) -> (u64, Option<&'static str>) {
    if new >= old {
        (new - old, None)
    } else {
        (new, Some("reset"))
    }
}

/// The growth from `before` to `after`.
pub fn diff(before: &Reading, after: &Reading) -> CounterDelta {
    let mut anomalies = Vec::new();
    let mut note = |counter: String, from: u64, to: u64, kind: Option<&str>, counted: u64| {
        if let Some(kind) = kind {
            anomalies.push(Anomaly {
                counter,
                from,
                to,
                kind: kind.to_string(),
                counted,
            });
        }
    };
    let udp = match (&before.udp, &after.udp) {
        (Some(b), Some(a)) => {
            let mut one = |name: &str, old: u64, new: u64| {
                let (d, kind) = delta64(old, new);
                note(format!("udp.{name}"), old, new, kind, d);
                d
            };
            Some(UdpCounters {
                in_errors: one("in_errors", b.in_errors, a.in_errors),
                rcvbuf_errors: one("rcvbuf_errors", b.rcvbuf_errors, a.rcvbuf_errors),
                sndbuf_errors: one("sndbuf_errors", b.sndbuf_errors, a.sndbuf_errors),
                no_ports: one("no_ports", b.no_ports, a.no_ports),
            })
        }
        _ => None,
    };
    let conntrack = match (&before.conntrack, &after.conntrack) {
        (Some(b), Some(a)) => {
            let mut grown: BTreeMap<String, u64> = BTreeMap::new();
            for (j, name) in a.columns.iter().enumerate() {
                let Some(i) = b.columns.iter().position(|c| c == name) else {
                    continue;
                };
                // One line per possible CPU, in CPU order: matched by position.
                for (cpu, (old_row, new_row)) in b.cpus.iter().zip(&a.cpus).enumerate() {
                    let (old, new) = (old_row[i], new_row[j]);
                    let (d, kind) = delta32(old, new);
                    note(
                        format!("conntrack.{name} cpu {cpu}"),
                        u64::from(old),
                        u64::from(new),
                        kind,
                        d,
                    );
                    if d > 0 {
                        let total = grown.entry(name.clone()).or_default();
                        *total = total.saturating_add(d);
                    }
                }
            }
            Some(grown)
        }
        _ => None,
    };
    let softnet = match (&before.softnet, &after.softnet) {
        (Some(b), Some(a)) => {
            let mut d = SoftnetDelta::default();
            for new in a {
                // A CPU that came online since is a new baseline, not growth.
                let Some(old) = b.iter().find(|o| o.cpu == new.cpu) else {
                    continue;
                };
                for (name, o, n, total) in [
                    ("dropped", old.dropped, new.dropped, &mut d.dropped),
                    (
                        "time_squeeze",
                        old.time_squeeze,
                        new.time_squeeze,
                        &mut d.time_squeeze,
                    ),
                ] {
                    let (grown, kind) = delta32(o, n);
                    note(
                        format!("softnet.{name} cpu {}", new.cpu),
                        u64::from(o),
                        u64::from(n),
                        kind,
                        grown,
                    );
                    *total = total.saturating_add(grown);
                }
            }
            Some(d)
        }
        _ => None,
    };
    CounterDelta {
        udp,
        conntrack,
        softnet,
        conntrack_entries: after.conntrack_count,
        conntrack_max: after.conntrack_max,
        anomalies,
    }
}

/// The sum of every delta of a run: what the summary and the metrics carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterTotals {
    /// Sampling interval, ms.
    pub interval_ms: u64,
    /// Readings after the first.
    pub samples: u64,
    /// Sources that could not be read or understood, once each, with why.
    #[serde(default)]
    pub unavailable: Vec<String>,
    /// UDP counters' growth (absent when never read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<UdpCounters>,
    /// Conntrack statistics' growth by column, every column of this kernel (zeros included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<BTreeMap<String, u64>>,
    /// Softnet drops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub softnet: Option<SoftnetDelta>,
    /// Most entries seen in the conntrack table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_entries_peak: Option<u64>,
    /// Entries at the last reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_entries: Option<u64>,
    /// The table's limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_max: Option<u64>,
    /// The first counters that went down (20 at most).
    #[serde(default)]
    pub anomalies: Vec<Anomaly>,
    /// Every counter that went down.
    #[serde(default)]
    pub anomalies_total: u64,
}

impl CounterTotals {
    /// Adds one delta.
    pub fn add(&mut self, d: &CounterDelta) {
        self.samples += 1;
        if let Some(u) = d.udp {
            let t = self.udp.get_or_insert_with(UdpCounters::default);
            t.in_errors = t.in_errors.saturating_add(u.in_errors);
            t.rcvbuf_errors = t.rcvbuf_errors.saturating_add(u.rcvbuf_errors);
            t.sndbuf_errors = t.sndbuf_errors.saturating_add(u.sndbuf_errors);
            t.no_ports = t.no_ports.saturating_add(u.no_ports);
        }
        if let Some(c) = &d.conntrack {
            let t = self.conntrack.get_or_insert_with(BTreeMap::new);
            for (k, v) in c {
                let e = t.entry(k.clone()).or_default();
                *e = e.saturating_add(*v);
            }
        }
        if let Some(s) = d.softnet {
            let t = self.softnet.get_or_insert_with(SoftnetDelta::default);
            t.dropped = t.dropped.saturating_add(s.dropped);
            t.time_squeeze = t.time_squeeze.saturating_add(s.time_squeeze);
        }
        if let Some(n) = d.conntrack_entries {
            self.conntrack_entries = Some(n);
            self.conntrack_entries_peak = Some(self.conntrack_entries_peak.unwrap_or(0).max(n));
        }
        if d.conntrack_max.is_some() {
            self.conntrack_max = d.conntrack_max;
        }
        for a in &d.anomalies {
            if self.anomalies.len() < ANOMALIES_KEPT {
                self.anomalies.push(a.clone());
            }
            self.anomalies_total += 1;
        }
    }
}

/// Reads the sources at the start of a run and then every interval.
#[derive(Debug)]
pub struct Sampler {
    sources: Sources,
    last: Reading,
    reported: BTreeMap<Source, ()>,
    totals: CounterTotals,
}

impl Sampler {
    /// Takes the first reading. Returns the sampler and the sources that cannot be read (each
    /// reported once: later failures of the same source are not repeated).
    pub fn start(sources: Sources, interval_ms: u64) -> (Sampler, Vec<String>) {
        let mut s = Sampler {
            sources,
            last: Reading::default(),
            reported: BTreeMap::new(),
            totals: CounterTotals {
                interval_ms,
                ..CounterTotals::default()
            },
        };
        let (reading, failed) = s.sources.read();
        // Every source read at the start is in the totals from the start, at zero.
        let t = &mut s.totals;
        t.udp = reading.udp.map(|_| UdpCounters::default());
        t.conntrack = reading
            .conntrack
            .as_ref()
            .map(|c| c.columns.iter().map(|name| (name.clone(), 0)).collect());
        t.softnet = reading.softnet.as_ref().map(|_| SoftnetDelta::default());
        t.conntrack_entries = reading.conntrack_count;
        t.conntrack_entries_peak = reading.conntrack_count;
        t.conntrack_max = reading.conntrack_max;
        s.last = reading;
        let news = s.report(failed);
        (s, news)
    }

    fn report(&mut self, failed: Vec<(Source, String)>) -> Vec<String> {
        let mut news = Vec::new();
        for (source, why) in failed {
            if self.reported.insert(source, ()).is_none() {
                self.totals.unavailable.push(why.clone());
                news.push(why);
            }
        }
        news
    }

    /// Reads again; returns the growth since the last reading and newly failing sources.
    pub fn sample(&mut self) -> (CounterDelta, Vec<String>) {
        let (reading, failed) = self.sources.read();
        let news = self.report(failed);
        (self.step(reading), news)
    }

    /// The growth from the last reading to `reading`, which becomes the last.
    pub fn step(&mut self, reading: Reading) -> CounterDelta {
        let delta = diff(&self.last, &reading);
        self.totals.add(&delta);
        // A source that failed this time keeps its last good reading as the baseline.
        let last = std::mem::take(&mut self.last);
        self.last = Reading {
            udp: reading.udp.or(last.udp),
            conntrack: reading.conntrack.or(last.conntrack),
            softnet: reading.softnet.or(last.softnet),
            conntrack_count: reading.conntrack_count.or(last.conntrack_count),
            conntrack_max: reading.conntrack_max.or(last.conntrack_max),
        };
        delta
    }

    /// Everything counted so far.
    pub fn totals(&self) -> &CounterTotals {
        &self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pairs: &[(Source, &str)]) -> BTreeMap<Source, Result<String, String>> {
        pairs.iter().map(|(s, t)| (*s, Ok(t.to_string()))).collect()
    }

    const HEADER: &str = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";

    fn ct_line(insert_failed: u32, drop: u32) -> String {
        format!(
            "00000010  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 {insert_failed:08x} {drop:08x} 00000000 00000000  00000000 00000000 00000000 00000000\n"
        )
    }

    fn reading(ct: &[(u32, u32)], softnet: &[(u32, u32)], rcvbuf: u64) -> Reading {
        let conntrack: String = std::iter::once(HEADER.to_string())
            .chain(ct.iter().map(|(i, d)| ct_line(*i, *d)))
            .collect();
        let softnet: String = softnet
            .iter()
            .enumerate()
            .map(|(cpu, (processed, dropped))| {
                format!("{processed:08x} {dropped:08x} 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 {cpu:08x}\n")
            })
            .collect();
        let snmp = format!(
            "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 1 0 {rcvbuf} 1 {rcvbuf} 0\n"
        );
        let (r, failed) = Reading::from_texts(&texts(&[
            (Source::ConntrackStat, &conntrack),
            (Source::Softnet, &softnet),
            (Source::Snmp, &snmp),
            (Source::ConntrackMax, "65536\n"),
        ]));
        assert!(failed.is_empty(), "{failed:?}");
        r
    }

    #[test]
    fn deltas_sum_cpus_and_keep_the_fill() {
        let a = reading(&[(1, 0), (2, 5)], &[(100, 0), (50, 1)], 3);
        let b = reading(&[(4, 0), (2, 9)], &[(180, 2), (60, 1)], 10);
        let d = diff(&a, &b);
        assert_eq!(d.conntrack("insert_failed"), 3);
        assert_eq!(d.conntrack("drop"), 4);
        assert_eq!(d.conntrack("early_drop"), 0);
        assert!(
            !d.conntrack.as_ref().unwrap().contains_key("found"),
            "zeros left out"
        );
        assert_eq!(d.softnet.unwrap().dropped, 2);
        assert_eq!(d.udp.unwrap().rcvbuf_errors, 7);
        // The fill: `entries` stands in for the unreadable count; the limit as read.
        assert_eq!(
            (d.conntrack_entries, d.conntrack_max),
            (Some(16), Some(65536))
        );
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn a_wrapped_counter_counts_through_the_wrap_and_a_reset_from_zero() {
        assert_eq!(delta32(u32::MAX - 4, 10), (15, Some("wrap")));
        assert_eq!(delta32(5, 5), (0, None));
        // Going down by more than half the range is no wrap: a reset, counted from zero.
        assert_eq!(delta32(1_000_000_000, 7), (7, Some("reset")));
        assert_eq!(delta32(100, 7), (7, Some("reset")));
        assert_eq!(delta64(100, 7), (7, Some("reset")));
        assert_eq!(delta64(u64::MAX - 1, u64::MAX), (1, None));

        let a = reading(&[(u32::MAX - 1, 9)], &[(u32::MAX, 0)], 50);
        let b = reading(&[(3, 2)], &[(1, 0)], 20);
        let d = diff(&a, &b);
        assert_eq!(
            d.conntrack("insert_failed"),
            5,
            "wrapped: 2 to the top, 3 after"
        );
        assert_eq!(d.conntrack("drop"), 2, "reset: counted from zero");
        assert_eq!(
            d.udp.unwrap().rcvbuf_errors,
            20,
            "a 64-bit counter that went down"
        );
        let kinds: Vec<(&str, &str)> = d
            .anomalies
            .iter()
            .map(|a| (a.counter.as_str(), a.kind.as_str()))
            .collect();
        assert!(
            kinds.contains(&("conntrack.insert_failed cpu 0", "wrap")),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&("conntrack.drop cpu 0", "reset")),
            "{kinds:?}"
        );
        assert!(kinds.contains(&("udp.rcvbuf_errors", "reset")), "{kinds:?}");
        let mut totals = CounterTotals::default();
        totals.add(&d);
        assert_eq!(totals.anomalies_total as usize, d.anomalies.len());
    }

    #[test]
    fn a_missing_source_is_reported_once_and_left_out() {
        let dir = std::env::temp_dir().join(format!("dnsload-counters-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("net")).unwrap();
        std::fs::write(
            dir.join("net/snmp"),
            "Udp: InErrors RcvbufErrors\nUdp: 1 1\n",
        )
        .unwrap();
        let (mut s, news) = Sampler::start(Sources::at(&dir), 1000);
        assert_eq!(news.len(), 4, "{news:?}");
        assert!(news.iter().any(|n| n.contains("net/stat/nf_conntrack")));
        std::fs::write(
            dir.join("net/snmp"),
            "Udp: InErrors RcvbufErrors\nUdp: 4 4\n",
        )
        .unwrap();
        let (d, news) = s.sample();
        assert!(news.is_empty(), "reported once: {news:?}");
        assert_eq!(d.udp.unwrap().rcvbuf_errors, 3);
        assert!(d.conntrack.is_none() && d.softnet.is_none());
        // A file that turns unreadable keeps its last reading as the baseline.
        std::fs::write(dir.join("net/snmp"), "garbage").unwrap();
        let (d, news) = s.sample();
        assert!(d.udp.is_none());
        assert_eq!(news.len(), 1, "{news:?}");
        std::fs::write(
            dir.join("net/snmp"),
            "Udp: InErrors RcvbufErrors\nUdp: 6 6\n",
        )
        .unwrap();
        let (d, _) = s.sample();
        assert_eq!(d.udp.unwrap().rcvbuf_errors, 2);
        assert_eq!(s.totals().udp.unwrap().rcvbuf_errors, 5);
        assert_eq!(s.totals().samples, 3);
        assert_eq!(s.totals().unavailable.len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn this_hosts_proc_reads_without_failing() {
        let (mut s, _) = Sampler::start(Sources::default(), 1000);
        let (d, _) = s.sample();
        if Path::new("/proc/net/snmp").exists() {
            assert!(d.udp.is_some());
        }
    }
}
