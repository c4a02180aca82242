//! The JSON records dnsload writes (events and the summary), versioned by [`SCHEMA`].
//!
//! docs/dnsload-schema.md documents every field; tests parse real outputs back into these types.

use serde::{Deserialize, Serialize};

use crate::class::{Class, QueryCount};
use crate::counters::{CounterDelta, CounterTotals};
use crate::netstat::UdpCounters;

/// Version of the event and summary formats. Bumped when a field changes meaning or goes, or
/// when a file gains a new kind of line: version 2 puts `counters` lines among the events.
/// `dnsload report` reads every version up to this one.
pub const SCHEMA: u32 = 2;

/// One notable lookup: a failure, or a success slower than `--slow`. One JSON line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// [`SCHEMA`].
    pub schema: u32,
    /// Always `"event"`.
    pub kind: String,
    /// The run this lookup belongs to.
    pub run_id: String,
    /// Host label.
    pub host: String,
    /// Backend name.
    pub backend: String,
    /// Probe name.
    pub name: String,
    /// Outcome class.
    pub class: Class,
    /// Time the lookup took, in milliseconds.
    pub elapsed_ms: f64,
    /// Time from the intended start to the outcome (open loop: includes a late start).
    pub latency_ms: f64,
    /// Wall-clock start, RFC 3339 with milliseconds, UTC.
    pub start: String,
    /// Wall-clock start in milliseconds since the Unix epoch.
    pub start_unix_ms: u64,
    /// The name that answered, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_name: Option<String>,
    /// Addresses returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addrs: Vec<String>,
    /// A short detail (error text, getaddrinfo code, queue state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the lookup cost in queries (stub backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<QueryCount>,
}

/// The growth of this host's kernel drop counters over one sampling interval: one JSON line
/// each, among the events (`kind` `counters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountersRecord {
    /// [`SCHEMA`].
    pub schema: u32,
    /// Always `"counters"`.
    pub kind: String,
    /// The run.
    pub run_id: String,
    /// Host label.
    pub host: String,
    /// Backend name.
    pub backend: String,
    /// Start of the interval, ms since the Unix epoch.
    pub start_unix_ms: u64,
    /// End of the interval (the reading), ms since the Unix epoch.
    pub end_unix_ms: u64,
    /// What grew, and the conntrack table's fill at the end.
    #[serde(flatten)]
    pub delta: CounterDelta,
}

/// The queries a run's lookups cost (stub backend): its query amplification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Amplification {
    /// Lookups whose cost is known.
    pub lookups: u64,
    /// Their queries, candidates, attempts, re-sends and TCP queries, summed.
    #[serde(flatten)]
    pub total: QueryCount,
    /// `queries / lookups`.
    pub per_lookup: f64,
    /// The most queries one lookup cost.
    pub max_per_lookup: u64,
}

impl Amplification {
    /// Adds one lookup's cost.
    pub fn add(&mut self, cost: &QueryCount) {
        self.lookups = self.lookups.saturating_add(1);
        self.total.add(cost);
        self.max_per_lookup = self.max_per_lookup.max(cost.queries);
        self.per_lookup = self.total.queries as f64 / self.lookups as f64;
    }

    /// Adds another run's (report: many runs of one host).
    pub fn merge(&mut self, other: &Amplification) {
        self.lookups = self.lookups.saturating_add(other.lookups);
        self.total.add(&other.total);
        self.max_per_lookup = self.max_per_lookup.max(other.max_per_lookup);
        self.per_lookup = if self.lookups == 0 {
            0.0
        } else {
            self.total.queries as f64 / self.lookups as f64
        };
    }
}

/// A count for every outcome class; serialises with the class names as keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ClassCounts {
    pub ok: u64,
    pub wrong_name: u64,
    pub nxdomain: u64,
    pub nodata: u64,
    pub timeout: u64,
    pub servfail: u64,
    pub refused: u64,
    pub hung: u64,
    pub error: u64,
}

impl ClassCounts {
    /// The count of one class.
    pub fn get(&self, class: Class) -> u64 {
        match class {
            Class::Ok => self.ok,
            Class::WrongName => self.wrong_name,
            Class::Nxdomain => self.nxdomain,
            Class::Nodata => self.nodata,
            Class::Timeout => self.timeout,
            Class::Servfail => self.servfail,
            Class::Refused => self.refused,
            Class::Hung => self.hung,
            Class::Error => self.error,
        }
    }

    /// Adds `n` to one class.
    pub fn add(&mut self, class: Class, n: u64) {
        let slot = match class {
            Class::Ok => &mut self.ok,
            Class::WrongName => &mut self.wrong_name,
            Class::Nxdomain => &mut self.nxdomain,
            Class::Nodata => &mut self.nodata,
            Class::Timeout => &mut self.timeout,
            Class::Servfail => &mut self.servfail,
            Class::Refused => &mut self.refused,
            Class::Hung => &mut self.hung,
            Class::Error => &mut self.error,
        };
        *slot = slot.saturating_add(n);
    }

    /// Sum over every class (saturating: counts read from files can be anything).
    pub fn total(&self) -> u64 {
        self.checked_total().unwrap_or(u64::MAX)
    }

    /// Sum over every class; `None` when it does not fit in a `u64`.
    pub fn checked_total(&self) -> Option<u64> {
        Class::ALL
            .iter()
            .try_fold(0u64, |sum, c| sum.checked_add(self.get(*c)))
    }

    /// Sum over every class but `ok` (saturating).
    pub fn failures(&self) -> u64 {
        Class::ALL
            .iter()
            .filter(|c| **c != Class::Ok)
            .fold(0u64, |sum, c| sum.saturating_add(self.get(*c)))
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Latency {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// How the run was scheduled, and how far behind an open loop fell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    /// `closed` or `open`.
    pub kind: String,
    /// Closed loop: workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Closed loop: pause after each lookup, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_ms: Option<f64>,
    /// Open loop: lookups per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Open loop: most in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// Lookups that started more than 10 ms after their intended time.
    pub late_starts: u64,
    /// Largest start delay, ms.
    pub max_start_delay_ms: f64,
}

/// The resolver settings of the run, as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolverInfo {
    /// `--server` values.
    pub servers: Vec<String>,
    /// `--resolv-conf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolv_conf: Option<String>,
    /// `--search` (absent: the backend's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Vec<String>>,
    /// `--ndots`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ndots: Option<u8>,
    /// `--timeout`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<f64>,
    /// `--attempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Deadline per lookup, ms.
    pub deadline_ms: f64,
}

/// A finding kept in the summary (the first [`NOTABLE_KEPT`] of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notable {
    /// Class (`wrong_name`, `nxdomain`, `nodata` or `hung`).
    pub class: Class,
    /// Probe name.
    pub name: String,
    /// Time the lookup took, ms.
    pub elapsed_ms: f64,
    /// Wall-clock start (RFC 3339).
    pub start: String,
    /// The answering name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_name: Option<String>,
    /// Detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How many findings the summary keeps (all of them are in the events file).
pub const NOTABLE_KEPT: usize = 100;

/// This host's UDP error counters during the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UdpInfo {
    /// Whether /proc/net/snmp could be read.
    pub available: bool,
    /// Growth of the counters during the run (zero when not available).
    pub delta: UdpCounters,
}

/// The summary of one run: `--summary-json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SCHEMA`].
    pub schema: u32,
    /// Always `"summary"`.
    pub kind: String,
    /// Run id (also in every event and the histogram log).
    pub run_id: String,
    /// Host label.
    pub host: String,
    /// Backend name.
    pub backend: String,
    /// dnsload version.
    pub version: String,
    /// Wall-clock start (RFC 3339).
    pub started: String,
    /// Wall-clock start, ms since the epoch.
    pub started_unix_ms: u64,
    /// Run length in seconds.
    pub duration_s: f64,
    /// Why the run stopped: `count`, `duration` or `interrupted`.
    pub stopped_by: String,
    /// Probe names.
    pub names: Vec<String>,
    /// Record type asked.
    pub record_type: String,
    /// Resolver settings.
    pub resolver: ResolverInfo,
    /// Schedule.
    pub schedule: ScheduleInfo,
    /// Lookups finished; always the sum of `classes`.
    pub queries: u64,
    /// One count per outcome class.
    pub classes: ClassCounts,
    /// Latency of every finished lookup, from its intended start.
    pub latency_ms: Latency,
    /// Findings with their elapsed times (first [`NOTABLE_KEPT`]).
    pub notable: Vec<Notable>,
    /// Findings beyond those kept.
    pub notable_dropped: u64,
    /// Events written to `--events`.
    pub events_written: u64,
    /// UDP error counters of this host during the run.
    pub udp: UdpInfo,
    /// Growth of every kernel drop counter during the run (absent in schema 1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<CounterTotals>,
    /// Queries per lookup (stub backend; absent for the others and in schema 1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplification: Option<Amplification>,
    /// Backend-specific facts: socket buffers and loss runs (raw), the glibc override and
    /// stuck threads (system), the resolver configuration (stub).
    pub backend_info: serde_json::Value,
    /// `--fail-on` classes and whether any occurred.
    pub fail_on: FailOn,
}

/// `--fail-on` and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailOn {
    /// The classes.
    pub classes: Vec<Class>,
    /// Whether any of them occurred (then the exit status is 3).
    pub triggered: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `dnsload_summary` fuzz target: a loss statistic dnsload wrote into a
    /// summary's `backend_info` (1.1764838520752943) read back as 1.1764838520752945.
    #[test]
    fn numbers_read_back_exactly_as_written() {
        for text in [
            "1.1764838520752943",
            "0.30000000000000004",
            "2.2250738585072014e-308",
        ] {
            let exact: f64 = text.parse().unwrap();
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(value.as_f64(), Some(exact), "{text} as a JSON value");
            let typed: f64 = serde_json::from_str(text).unwrap();
            assert_eq!(typed, exact, "{text} as a number");
            assert_eq!(serde_json::to_string(&value).unwrap(), text);
        }
    }

    #[test]
    fn class_counts_serialise_with_every_class_name() {
        let mut c = ClassCounts::default();
        c.add(Class::WrongName, 2);
        c.add(Class::Ok, 3);
        let v = serde_json::to_value(c).unwrap();
        for class in Class::ALL {
            assert!(v.get(class.as_str()).is_some(), "{class} missing");
        }
        assert_eq!(v["wrong_name"], 2);
        assert_eq!(c.total(), 5);
        assert_eq!(c.failures(), 2);
    }
}
