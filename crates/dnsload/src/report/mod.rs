//! `dnsload report`: merge events, summaries and histogram logs from many hosts.
//!
//! Basic algorithm:
//! - Each file is recognised by content: an HdrHistogram interval log (`#[` header lines), a
//!   summary (one JSON object with `"kind": "summary"`) or events (JSON lines, `"kind": "event"`).
//! - Per host: counts per class from its summaries (exact), or from its events when no summary
//!   was given (failures only). Hosts are ranked by failure rate, then failure count.
//! - Errors over time: failure events in fixed-width buckets of wall-clock time.
//! - Latency: every interval histogram is added into one merged histogram (and one per host):
//!   HdrHistograms merge exactly, so the merged count is the sum of the parts.
//! - Signatures: an `nxdomain` or `wrong_name` event whose elapsed time is at least ~one
//!   per-attempt timeout of its run came after a timeout: the war story.

mod svg;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::class::Class;
use crate::cli::ReportArgs;
use crate::error::{Error, Result};
use crate::hlog;
use crate::recorder::latency_of;
use crate::records::{ClassCounts, Event, Latency, Summary};

/// Per-attempt timeout assumed for events whose run summary was not given.
const DEFAULT_TIMEOUT_MS: f64 = 1000.0;

/// What was read from the input files.
#[derive(Default)]
struct Inputs {
    summaries: Vec<Summary>,
    events: Vec<Event>,
    intervals: Vec<hlog::Interval>,
    files: usize,
    skipped_lines: u64,
}

/// One host in the merged report.
#[derive(Debug, Clone, Serialize)]
pub struct HostRow {
    /// Host label.
    pub host: String,
    /// Lookups, when a summary was given for the host.
    pub queries: Option<u64>,
    /// Counts per class (from summaries, else failure events).
    pub classes: ClassCounts,
    /// Failures (all classes but ok).
    pub failures: u64,
    /// failures / queries, when queries are known.
    pub failure_rate: Option<f64>,
    /// Latency merged from this host's histogram logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
}

/// Failures in one time bucket.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Bucket start, ms since the epoch.
    pub start_unix_ms: u64,
    /// Bucket start, RFC 3339.
    pub start: String,
    /// Failures by class.
    pub classes: ClassCounts,
}

/// An NXDOMAIN (or wrong name) that came after a timeout.
#[derive(Debug, Clone, Serialize)]
pub struct Signature {
    /// Host label.
    pub host: String,
    /// Probe name.
    pub name: String,
    /// Class (`nxdomain` or `wrong_name`).
    pub class: Class,
    /// Elapsed, ms.
    pub elapsed_ms: f64,
    /// The run's per-attempt timeout, ms (assumed 1000 when its summary was not given).
    pub timeout_ms: f64,
    /// elapsed / timeout, rounded: how many timeouts preceded the answer.
    pub timeouts: u64,
    /// The run's attempts per candidate, when its summary was given: `timeouts == attempts`
    /// is the war story exactly (every attempt for the name lost, then the search walk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
    /// When.
    pub start: String,
}

/// The merged report (`--json` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct MergedReport {
    /// Files read.
    pub files: usize,
    /// Lines in JSON-lines files that held no dnsload record (log-pipeline noise), skipped.
    pub skipped_lines: u64,
    /// Runs seen (distinct run ids).
    pub runs: usize,
    /// Hosts, ranked: most failing first.
    pub hosts: Vec<HostRow>,
    /// Width of the time buckets, seconds.
    pub bucket_s: f64,
    /// Failures over time.
    pub over_time: Vec<Bucket>,
    /// Histogram intervals merged.
    pub intervals: usize,
    /// Lookups in the merged histogram (equals the sum over the intervals).
    pub merged_count: u64,
    /// Merged latency (absent without histogram logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
    /// NXDOMAIN/wrong-name answers that came after a timeout.
    pub signatures: Vec<Signature>,
    /// Merged latency histogram (microseconds), for the picture.
    #[serde(skip)]
    pub histogram: Option<Histogram<u64>>,
    /// Per-host histograms, for the picture.
    #[serde(skip)]
    pub host_histograms: BTreeMap<String, Histogram<u64>>,
}

/// Runs `dnsload report`: reads, merges, prints, and draws if asked.
pub fn report(args: &ReportArgs) -> Result<MergedReport> {
    let mut inputs = Inputs::default();
    for path in &args.files {
        read_file(path, &mut inputs)?;
    }
    let merged = merge(inputs, args.bucket)?;
    let mut out = std::io::stdout();
    let text = if args.json {
        serde_json::to_string_pretty(&merged)
            .map_err(|e| Error::io("json", std::io::Error::other(e)))?
            + "\n"
    } else {
        render_text(&merged)
    };
    use std::io::Write;
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot print the report", e))?;
    if let Some(path) = &args.svg {
        std::fs::write(path, svg::render(&merged))
            .map_err(|e| Error::file("cannot create", path, e))?;
    }
    Ok(merged)
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadInput {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_file(path: &Path, inputs: &mut Inputs) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::file("cannot read", path, e))?;
    inputs.files += 1;
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(first) = first else {
        return Ok(()); // an empty events file: a run without failures
    };
    if first.starts_with('#') || first.starts_with("\"StartTimestamp\"") {
        let intervals = hlog::read(&bytes).map_err(|e| bad(path, e))?;
        inputs.intervals.extend(intervals);
        return Ok(());
    }
    if first == "{" {
        // A pretty-printed summary (`--summary-json`).
        let summary: Summary = serde_json::from_str(&text)
            .map_err(|e| bad(path, format!("not a dnsload summary: {e}")))?;
        return add_summary(path, summary, inputs);
    }
    // One JSON object per line: events, or a one-line summary. Logs collected from a cluster
    // carry other lines too (a pod's own errors, `kubectl logs --timestamps` or `stern`
    // prefixes): a record is read from the first `{` of its line, and a line that holds no
    // dnsload record is skipped and counted. A line that claims to be a record but does not
    // fit the schema is an error: it is a damaged record, not noise.
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(value) = line
            .find('{')
            .and_then(|at| serde_json::from_str::<serde_json::Value>(&line[at..]).ok())
        else {
            inputs.skipped_lines += 1;
            continue;
        };
        match value.get("kind").and_then(|k| k.as_str()) {
            Some("event") => {
                let event: Event = serde_json::from_value(value)
                    .map_err(|e| bad(path, format!("line {}: not a dnsload event: {e}", i + 1)))?;
                inputs.events.push(event);
            }
            Some("summary") => {
                let summary: Summary = serde_json::from_value(value).map_err(|e| {
                    bad(path, format!("line {}: not a dnsload summary: {e}", i + 1))
                })?;
                add_summary(path, summary, inputs)?;
            }
            _ => inputs.skipped_lines += 1,
        }
    }
    Ok(())
}

fn add_summary(path: &Path, s: Summary, inputs: &mut Inputs) -> Result<()> {
    let total = s.classes.checked_total();
    if total != Some(s.queries) {
        let sum = total.map_or_else(|| "more than 2^64".to_string(), |t| t.to_string());
        return Err(bad(
            path,
            format!(
                "summary of run {} is inconsistent: classes sum to {sum}, queries {}",
                s.run_id, s.queries
            ),
        ));
    }
    inputs.summaries.push(s);
    Ok(())
}

fn merge(inputs: Inputs, bucket: Option<Duration>) -> Result<MergedReport> {
    let mut runs: BTreeSet<&str> = BTreeSet::new();
    let mut from_summary: BTreeMap<String, (u64, ClassCounts)> = BTreeMap::new();
    let mut timeouts: BTreeMap<&str, f64> = BTreeMap::new();
    let mut attempts: BTreeMap<&str, u64> = BTreeMap::new();
    for s in &inputs.summaries {
        runs.insert(&s.run_id);
        let e = from_summary.entry(s.host.clone()).or_default();
        e.0 = e.0.saturating_add(s.queries);
        for c in Class::ALL {
            e.1.add(c, s.classes.get(c));
        }
        let t = s
            .resolver
            .timeout_ms
            .or_else(|| {
                s.backend_info
                    .pointer("/config/timeout_ms")
                    .and_then(|v| v.as_f64())
            })
            .or_else(|| {
                s.backend_info
                    .pointer("/resolver_state/retrans")
                    .and_then(|v| v.as_f64())
                    .map(|secs| secs * 1e3)
            });
        if let Some(t) = t {
            timeouts.insert(&s.run_id, t);
        }
        let a = s
            .resolver
            .attempts
            .map(u64::from)
            .or_else(|| {
                s.backend_info
                    .pointer("/config/attempts")
                    .and_then(|v| v.as_u64())
            })
            .or_else(|| {
                s.backend_info
                    .pointer("/resolver_state/retry")
                    .and_then(|v| v.as_u64())
            });
        if let Some(a) = a {
            attempts.insert(&s.run_id, a);
        }
    }
    let mut from_events: BTreeMap<String, ClassCounts> = BTreeMap::new();
    for e in &inputs.events {
        runs.insert(&e.run_id);
        from_events
            .entry(e.host.clone())
            .or_default()
            .add(e.class, 1);
    }

    // Histograms: merged and per host (tag).
    let mut merged_h = hlog::new_histogram();
    let mut per_host: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut parts_sum = 0u64;
    for i in &inputs.intervals {
        parts_sum = parts_sum.saturating_add(i.histogram.len());
        merged_h.add(&i.histogram).map_err(|e| {
            Error::io(
                "merging histograms",
                std::io::Error::other(format!("{e:?}")),
            )
        })?;
        let host = i.tag.clone().unwrap_or_else(|| "untagged".into());
        let h = per_host.entry(host).or_insert_with(hlog::new_histogram);
        h.add(&i.histogram).map_err(|e| {
            Error::io(
                "merging histograms",
                std::io::Error::other(format!("{e:?}")),
            )
        })?;
    }

    let mut hosts: Vec<HostRow> = from_summary
        .keys()
        .chain(from_events.keys())
        .chain(per_host.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|host| {
            let (queries, classes) = match from_summary.get(host) {
                Some((q, c)) => (Some(*q), *c),
                None => (None, from_events.get(host).copied().unwrap_or_default()),
            };
            let failures = classes.failures();
            HostRow {
                host: host.clone(),
                queries,
                classes,
                failures,
                failure_rate: queries
                    .filter(|q| *q > 0)
                    .map(|q| failures as f64 / q as f64),
                latency_ms: per_host.get(&hlog::tag_for(host)).map(latency_of),
            }
        })
        .collect();
    hosts.sort_by(|a, b| {
        let ra = a.failure_rate.unwrap_or(0.0);
        let rb = b.failure_rate.unwrap_or(0.0);
        rb.total_cmp(&ra)
            .then(b.failures.cmp(&a.failures))
            .then(a.host.cmp(&b.host))
    });

    // Errors over time.
    let failures: Vec<&Event> = inputs
        .events
        .iter()
        .filter(|e| e.class.is_failure())
        .collect();
    let (lo, hi) = failures
        .iter()
        .map(|e| e.start_unix_ms)
        .fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let width_ms = match bucket {
        Some(b) if !b.is_zero() => b.as_millis() as u64,
        Some(_) => return Err(Error::flag("--bucket", "must be more than zero")),
        None => auto_bucket_ms(hi.saturating_sub(lo)),
    };
    let mut buckets: BTreeMap<u64, ClassCounts> = BTreeMap::new();
    for e in &failures {
        let b = e.start_unix_ms / width_ms * width_ms;
        buckets.entry(b).or_default().add(e.class, 1);
    }
    let over_time = buckets
        .into_iter()
        .map(|(start, classes)| Bucket {
            start_unix_ms: start,
            start: crate::recorder::rfc3339(std::time::UNIX_EPOCH + Duration::from_millis(start)),
            classes,
        })
        .collect();

    // Signatures.
    let mut signatures: Vec<Signature> = inputs
        .events
        .iter()
        .filter(|e| matches!(e.class, Class::Nxdomain | Class::WrongName))
        .filter_map(|e| {
            let timeout_ms = timeouts
                .get(e.run_id.as_str())
                .copied()
                .unwrap_or(DEFAULT_TIMEOUT_MS);
            (e.elapsed_ms >= 0.9 * timeout_ms).then(|| Signature {
                host: e.host.clone(),
                name: e.name.clone(),
                class: e.class,
                elapsed_ms: e.elapsed_ms,
                timeout_ms,
                timeouts: (e.elapsed_ms / timeout_ms).round() as u64,
                attempts: attempts.get(e.run_id.as_str()).copied(),
                start: e.start.clone(),
            })
        })
        .collect();
    signatures.sort_by(|a, b| a.start.cmp(&b.start));

    let merged_count = merged_h.len();
    debug_assert_eq!(merged_count, parts_sum);
    let has_h = !inputs.intervals.is_empty();
    Ok(MergedReport {
        files: inputs.files,
        skipped_lines: inputs.skipped_lines,
        runs: runs.len(),
        hosts,
        bucket_s: width_ms as f64 / 1e3,
        over_time,
        intervals: inputs.intervals.len(),
        merged_count,
        latency_ms: has_h.then(|| latency_of(&merged_h)),
        signatures,
        histogram: has_h.then_some(merged_h),
        host_histograms: per_host,
    })
}

/// A bucket width giving about 20 buckets, rounded to a readable unit.
fn auto_bucket_ms(span_ms: u64) -> u64 {
    const STEPS: [u64; 12] = [
        1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 21_600_000,
        43_200_000, 86_400_000,
    ];
    let want = span_ms / 20;
    STEPS.into_iter().find(|s| *s >= want).unwrap_or(86_400_000)
}

fn render_text(m: &MergedReport) -> String {
    let mut t = String::new();
    let lookups = m
        .hosts
        .iter()
        .filter_map(|h| h.queries)
        .fold(0u64, u64::saturating_add);
    let failures = m
        .hosts
        .iter()
        .map(|h| h.failures)
        .fold(0u64, u64::saturating_add);
    let _ = writeln!(
        t,
        "dnsload report: {} host(s), {} run(s), {} file(s); {lookups} lookups in summaries, {failures} failures",
        m.hosts.len(),
        m.runs,
        m.files
    );
    if m.skipped_lines > 0 {
        let _ = writeln!(
            t,
            "  ({} line(s) held no dnsload record and were skipped)",
            m.skipped_lines
        );
    }
    let _ = writeln!(t, "\nErrors per host (most failing first):");
    let shown: Vec<Class> = Class::ALL
        .into_iter()
        .filter(|c| *c != Class::Ok && m.hosts.iter().any(|h| h.classes.get(*c) > 0))
        .collect();
    let hw = m
        .hosts
        .iter()
        .map(|h| h.host.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut header = format!(
        "  {:<hw$} {:>9} {:>9} {:>8}",
        "host", "lookups", "failures", "rate"
    );
    for c in &shown {
        let _ = write!(header, " {:>10}", c.as_str());
    }
    let _ = writeln!(t, "{header}");
    for h in &m.hosts {
        let q = h.queries.map_or("-".into(), |q| q.to_string());
        let r = h
            .failure_rate
            .map_or("-".into(), |r| format!("{:.2}%", r * 100.0));
        let mut line = format!("  {:<hw$} {q:>9} {:>9} {r:>8}", h.host, h.failures);
        for c in &shown {
            let _ = write!(line, " {:>10}", h.classes.get(*c));
        }
        let _ = writeln!(t, "{line}");
    }
    if !m.over_time.is_empty() {
        let _ = writeln!(
            t,
            "\nErrors over time ({} s buckets, from events):",
            m.bucket_s
        );
        for b in &m.over_time {
            let _ = writeln!(t, "  {}  {}", b.start, failure_list(&b.classes));
        }
    }
    match &m.latency_ms {
        Some(l) => {
            let _ = writeln!(
                t,
                "\nLatency merged from {} interval(s), {} lookups (ms): {}",
                m.intervals,
                m.merged_count,
                crate::human::latency_line(l)
            );
            for h in &m.hosts {
                if let Some(l) = &h.latency_ms {
                    let _ = writeln!(t, "  {:<hw$} {}", h.host, crate::human::latency_line(l));
                }
            }
        }
        None => {
            let _ = writeln!(
                t,
                "\nLatency: no histogram logs given (dnsload run --hlog FILE)"
            );
        }
    }
    if !m.signatures.is_empty() {
        let _ = writeln!(
            t,
            "\nNXDOMAIN / wrong name after a timeout (the war story's signature): {}",
            m.signatures.len()
        );
        for s in &m.signatures {
            let of = s
                .attempts
                .map(|a| format!(", {a} attempts per name"))
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "  {} {:<hw$} {:<10} {} after {:.3} s (~{} x {:.0} ms timeout{of})",
                s.start,
                s.host,
                s.class.as_str(),
                s.name,
                s.elapsed_ms / 1e3,
                s.timeouts,
                s.timeout_ms
            );
        }
    }
    t
}

fn failure_list(c: &ClassCounts) -> String {
    Class::ALL
        .into_iter()
        .filter(|k| *k != Class::Ok && c.get(*k) > 0)
        .map(|k| format!("{} {}", k.as_str(), c.get(k)))
        .collect::<Vec<_>>()
        .join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_readable_units() {
        assert_eq!(auto_bucket_ms(10_000), 1_000);
        assert_eq!(auto_bucket_ms(600_000), 30_000);
        assert_eq!(auto_bucket_ms(3_600_000 * 24), 21_600_000);
    }
}
