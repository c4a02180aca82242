//! `dnsload report`: merge events, summaries and histogram logs from many hosts.
//!
//! Basic algorithm:
//! - Every file is read as a stream, one bounded line at a time ([`input`]), and recognised by
//!   its first line: an HdrHistogram interval log (`#[` header lines), a pretty-printed summary
//!   (`{` alone), or JSON lines (events and one-line summaries, among whatever else a log
//!   pipeline adds). Nothing is kept per line: memory grows with hosts, runs and time buckets,
//!   not with the size of the input.
//! - Per host: counts per class from its summaries (exact), or from its events when no summary
//!   was given (failures only). Hosts are ranked by failure rate, then failure count.
//! - Host by time: failure events counted per host per time bucket ([`grid`]), drawn as a heat
//!   map with the hosts in ranked order; the same counts summed over hosts give errors over
//!   time.
//! - Latency: every interval histogram is added into one merged histogram (and one per host):
//!   HdrHistograms merge exactly, so the merged count is the sum of the parts.
//! - Signatures: an `nxdomain` or `wrong_name` event whose elapsed time is at least ~one
//!   per-attempt timeout of its run came after a timeout: the war story. A run's timeout is in
//!   its summary, which may come after its events (a pod's log ends with it), so such events
//!   are kept (up to [`MAX_CANDIDATES`]) until every file is read.

mod attribution;
mod grid;
mod input;
pub(crate) mod svg;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use attribution::{HostKernel, Verdict};
pub use grid::{HostTime, HostTimeRow};

use crate::class::Class;
use crate::cli::ReportArgs;
use crate::error::{Error, Result};
use crate::hlog;
use crate::recorder::latency_of;
use crate::records::{Amplification, ClassCounts, CountersRecord, Event, Latency, SCHEMA, Summary};
use attribution::KernelCell;
use grid::Grid;
use input::{Line, for_each_line};

/// Per-attempt timeout assumed for events whose run summary was not given.
const DEFAULT_TIMEOUT_MS: f64 = 1000.0;
/// Most `nxdomain`/`wrong_name` events kept while waiting for their runs' summaries.
pub const MAX_CANDIDATES: usize = 50_000;
/// Largest pretty-printed summary read (a real one is a few KiB).
const MAX_SUMMARY_BYTES: usize = 16 << 20;
/// Signatures listed in the text (`--json` lists all).
const SIGNATURES_SHOWN: usize = 20;
/// Hosts shown in the text's picture of failures over time.
const HOSTS_SHOWN: usize = 30;

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
    /// Queries per lookup over this host's stub runs (from their summaries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amplification: Option<Amplification>,
    /// This host's kernel drop counters over the input (from its counter lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<HostKernel>,
    /// Where this host's loss is, by the attribution rule, with the numbers behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
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
    /// Lines that held no dnsload record (log-pipeline noise, or longer than 1 MiB), skipped.
    pub skipped_lines: u64,
    /// Runs seen (distinct run ids).
    pub runs: usize,
    /// Hosts, ranked: most failing first.
    pub hosts: Vec<HostRow>,
    /// Width of the time buckets of `over_time`, seconds.
    pub bucket_s: f64,
    /// Failures over time, all hosts together (buckets with failures only).
    pub over_time: Vec<Bucket>,
    /// Failures per host per time column, hosts in ranked order: the heat map.
    pub host_time: HostTime,
    /// Width of the buckets the verdicts were judged in, seconds.
    pub attribution_bucket_s: f64,
    /// Histogram intervals merged.
    pub intervals: usize,
    /// Lookups in the merged histogram (equals the sum over the intervals).
    pub merged_count: u64,
    /// Merged latency (absent without histogram logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
    /// NXDOMAIN/wrong-name answers that came after a timeout.
    pub signatures: Vec<Signature>,
    /// `nxdomain`/`wrong_name` events beyond [`MAX_CANDIDATES`], not examined as signatures.
    pub signatures_unexamined: u64,
    /// Merged latency histogram (microseconds), for the picture.
    #[serde(skip)]
    pub histogram: Option<Histogram<u64>>,
    /// Per-host histograms, for the picture.
    #[serde(skip)]
    pub host_histograms: BTreeMap<String, Histogram<u64>>,
}

/// Runs `dnsload report`: reads, merges, prints, and draws if asked.
pub fn report(args: &ReportArgs) -> Result<MergedReport> {
    let bucket_ms = match args.bucket {
        Some(b) if b.as_millis() == 0 => {
            return Err(Error::flag("--bucket", "must be at least 1ms"));
        }
        Some(b) => Some(u64::try_from(b.as_millis()).unwrap_or(u64::MAX)),
        None => None,
    };
    let mut merger = Merger::new(bucket_ms);
    for path in &args.files {
        merger.read_file(path)?;
    }
    let merged = merger.finish()?;
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

fn too_many_buckets(too_many: grid::TooManyBuckets) -> Error {
    Error::flag(
        "--bucket",
        format!(
            "the input spans {}, more than {} buckets of that width: choose a wider bucket",
            humantime::format_duration(Duration::from_millis(too_many.span_ms)),
            grid::MAX_FIXED
        ),
    )
}

/// Records of a newer schema may mean something else: refused rather than misread.
fn check_schema(path: &Path, number: u64, schema: u32) -> Result<()> {
    if (1..=SCHEMA).contains(&schema) {
        Ok(())
    } else {
        Err(bad(
            path,
            format!(
                "line {number}: schema {schema}, but this dnsload reads schemas 1 to {SCHEMA} (a newer dnsload wrote it?)"
            ),
        ))
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadInput {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// An `nxdomain`/`wrong_name` event, until its run's timeout is known.
struct Candidate {
    host: String,
    name: String,
    class: Class,
    elapsed_ms: f64,
    run_id: String,
    start: String,
    start_unix_ms: u64,
}

/// Just enough of a JSON line to tell what record it is.
#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// Everything merged so far.
pub(crate) struct Merger {
    files: usize,
    skipped_lines: u64,
    runs: BTreeSet<String>,
    from_summary: BTreeMap<String, (u64, ClassCounts)>,
    from_events: BTreeMap<String, ClassCounts>,
    amplification: BTreeMap<String, Amplification>,
    timeouts: HashMap<String, f64>,
    attempts: HashMap<String, u64>,
    merged_h: Histogram<u64>,
    per_host_h: BTreeMap<String, Histogram<u64>>,
    intervals: usize,
    parts_sum: u64,
    grid: Grid,
    candidates: Vec<Candidate>,
    unexamined: u64,
}

impl Merger {
    pub(crate) fn new(bucket_ms: Option<u64>) -> Self {
        Merger {
            files: 0,
            skipped_lines: 0,
            runs: BTreeSet::new(),
            from_summary: BTreeMap::new(),
            from_events: BTreeMap::new(),
            amplification: BTreeMap::new(),
            timeouts: HashMap::new(),
            attempts: HashMap::new(),
            merged_h: hlog::new_histogram(),
            per_host_h: BTreeMap::new(),
            intervals: 0,
            parts_sum: 0,
            grid: Grid::new(bucket_ms),
            candidates: Vec::new(),
            unexamined: 0,
        }
    }

    fn read_file(&mut self, path: &Path) -> Result<()> {
        let file = std::fs::File::open(path).map_err(|e| Error::file("cannot read", path, e))?;
        self.files += 1;
        self.read(BufReader::with_capacity(1 << 16, file), path)
    }

    /// Reads one input, recognised by its first non-empty line.
    pub(crate) fn read<R: Read>(&mut self, reader: BufReader<R>, path: &Path) -> Result<()> {
        enum Mode {
            Unknown,
            Hlog(hlog::IntervalReader),
            Pretty(Vec<u8>),
            Lines,
        }
        let mut mode = Mode::Unknown;
        for_each_line(reader, path, |number, line| {
            let text = match line {
                Line::TooLong => {
                    return match mode {
                        Mode::Hlog(_) | Mode::Pretty(_) => Err(bad(
                            path,
                            format!("line {number} is longer than {} bytes", input::MAX_LINE),
                        )),
                        Mode::Unknown | Mode::Lines => {
                            self.skipped_lines += 1;
                            mode = Mode::Lines;
                            Ok(())
                        }
                    };
                }
                Line::Text(t) => t,
            };
            if let Mode::Unknown = mode {
                let first = String::from_utf8_lossy(text);
                let first = first.trim();
                if first.is_empty() {
                    return Ok(());
                }
                mode = if first.starts_with('#') || first.starts_with("\"StartTimestamp\"") {
                    Mode::Hlog(hlog::IntervalReader::default())
                } else if first == "{" {
                    Mode::Pretty(Vec::new())
                } else {
                    Mode::Lines
                };
            }
            match &mut mode {
                Mode::Unknown => Ok(()),
                Mode::Hlog(reader) => {
                    if text.iter().all(u8::is_ascii_whitespace) {
                        return Ok(());
                    }
                    match reader.line(text) {
                        Ok(Some(interval)) => self.add_interval(interval),
                        Ok(None) => Ok(()),
                        Err(e) => Err(bad(path, format!("line {number}: {e}"))),
                    }
                }
                Mode::Pretty(buf) => {
                    if buf.len() + text.len() > MAX_SUMMARY_BYTES {
                        return Err(bad(
                            path,
                            format!("not a dnsload summary: larger than {MAX_SUMMARY_BYTES} bytes"),
                        ));
                    }
                    buf.extend_from_slice(text);
                    buf.push(b'\n');
                    Ok(())
                }
                Mode::Lines => self.json_line(path, number, text),
            }
        })?;
        if let Mode::Pretty(buf) = mode {
            let summary: Summary = serde_json::from_slice(&buf)
                .map_err(|e| bad(path, format!("not a dnsload summary: {e}")))?;
            check_schema(path, 1, summary.schema)?;
            self.add_summary(path, summary)?;
        }
        Ok(())
    }

    /// One line of a JSON-lines input. Logs collected from a cluster carry other lines too (a
    /// pod's own errors, `kubectl logs --timestamps` or `stern` prefixes): a record is read
    /// from the first `{` of its line, and a line that holds no dnsload record is skipped and
    /// counted. A line that claims to be a record but does not fit the schema is an error: it
    /// is a damaged record, not noise.
    fn json_line(&mut self, path: &Path, number: u64, text: &[u8]) -> Result<()> {
        let line = String::from_utf8_lossy(text);
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        let Some(json) = line.find('{').map(|at| &line[at..]) else {
            self.skipped_lines += 1;
            return Ok(());
        };
        let kind = match serde_json::from_str::<Kind<'_>>(json) {
            Ok(k) => k.kind,
            Err(_) => {
                self.skipped_lines += 1;
                return Ok(());
            }
        };
        match kind.as_deref() {
            Some("event") => {
                let event: Event = serde_json::from_str(json)
                    .map_err(|e| bad(path, format!("line {number}: not a dnsload event: {e}")))?;
                check_schema(path, number, event.schema)?;
                self.add_event(event)
            }
            Some("summary") => {
                let summary: Summary = serde_json::from_str(json)
                    .map_err(|e| bad(path, format!("line {number}: not a dnsload summary: {e}")))?;
                check_schema(path, number, summary.schema)?;
                self.add_summary(path, summary)
            }
            Some("counters") => {
                let record: CountersRecord = serde_json::from_str(json).map_err(|e| {
                    bad(
                        path,
                        format!("line {number}: not a dnsload counters line: {e}"),
                    )
                })?;
                check_schema(path, number, record.schema)?;
                self.add_counters(record)
            }
            _ => {
                self.skipped_lines += 1;
                Ok(())
            }
        }
    }

    fn add_counters(&mut self, c: CountersRecord) -> Result<()> {
        if !self.runs.contains(&c.run_id) {
            self.runs.insert(c.run_id.clone());
        }
        let (lo, hi) = (
            c.start_unix_ms.min(c.end_unix_ms),
            c.start_unix_ms.max(c.end_unix_ms),
        );
        let mid = lo + (hi - lo) / 2;
        self.grid
            .add_kernel(&c.host, mid, &KernelCell::of(&c.delta))
            .map_err(too_many_buckets)
    }

    fn add_event(&mut self, e: Event) -> Result<()> {
        if !self.runs.contains(&e.run_id) {
            self.runs.insert(e.run_id.clone());
        }
        if matches!(e.class, Class::Timeout | Class::Hung | Class::Error) {
            let elapsed = if e.elapsed_ms.is_finite() && e.elapsed_ms > 0.0 {
                e.elapsed_ms.min(1e12) as u64
            } else {
                0
            };
            self.grid
                .add_loss(
                    &e.host,
                    e.start_unix_ms,
                    e.start_unix_ms.saturating_add(elapsed),
                )
                .map_err(too_many_buckets)?;
        }
        match self.from_events.get_mut(&e.host) {
            Some(c) => c.add(e.class, 1),
            None => self
                .from_events
                .entry(e.host.clone())
                .or_default()
                .add(e.class, 1),
        }
        if e.class.is_failure() {
            self.grid
                .add(&e.host, e.start_unix_ms, e.class)
                .map_err(too_many_buckets)?;
        }
        if matches!(e.class, Class::Nxdomain | Class::WrongName) {
            if self.candidates.len() < MAX_CANDIDATES {
                self.candidates.push(Candidate {
                    host: e.host,
                    name: e.name,
                    class: e.class,
                    elapsed_ms: e.elapsed_ms,
                    run_id: e.run_id,
                    start: e.start,
                    start_unix_ms: e.start_unix_ms,
                });
            } else {
                self.unexamined += 1;
            }
        }
        Ok(())
    }

    fn add_summary(&mut self, path: &Path, s: Summary) -> Result<()> {
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
        if let Some(a) = &s.amplification {
            self.amplification
                .entry(s.host.clone())
                .or_default()
                .merge(a);
        }
        let e = self.from_summary.entry(s.host.clone()).or_default();
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
            self.timeouts.insert(s.run_id.clone(), t);
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
            self.attempts.insert(s.run_id.clone(), a);
        }
        self.runs.insert(s.run_id);
        Ok(())
    }

    fn add_interval(&mut self, i: hlog::Interval) -> Result<()> {
        let merge_error = |e: String| Error::io("merging histograms", std::io::Error::other(e));
        // Within the bound, no sum over the merged counts overflows (see `hlog::MAX_LOOKUPS`).
        let merged = self.merged_h.len().saturating_add(i.histogram.len());
        if merged > hlog::MAX_LOOKUPS {
            return Err(merge_error(format!(
                "the histogram logs hold {merged} lookups or more, beyond the 2^53 this merges"
            )));
        }
        self.intervals += 1;
        self.parts_sum = self.parts_sum.saturating_add(i.histogram.len());
        self.merged_h
            .add(&i.histogram)
            .map_err(|e| merge_error(format!("{e:?}")))?;
        let host = i.tag.unwrap_or_else(|| "untagged".into());
        let h = self
            .per_host_h
            .entry(host)
            .or_insert_with(hlog::new_histogram);
        h.add(&i.histogram)
            .map_err(|e| merge_error(format!("{e:?}")))
    }

    pub(crate) fn finish(self) -> Result<MergedReport> {
        let Merger {
            files,
            skipped_lines,
            runs,
            from_summary,
            from_events,
            amplification,
            timeouts,
            attempts,
            merged_h,
            per_host_h,
            intervals,
            parts_sum,
            mut grid,
            candidates,
            unexamined,
        } = self;
        let mut grid_error = None;
        let mut signatures: Vec<(u64, Signature)> = candidates
            .into_iter()
            .filter_map(|e| {
                let timeout_ms = timeouts
                    .get(e.run_id.as_str())
                    .copied()
                    .unwrap_or(DEFAULT_TIMEOUT_MS);
                (e.elapsed_ms >= 0.9 * timeout_ms).then(|| {
                    // The name went unanswered before this answer: a loss, for the verdicts.
                    let end = e
                        .start_unix_ms
                        .saturating_add(e.elapsed_ms.min(1e12) as u64);
                    if let Err(too_many) = grid.add_loss(&e.host, e.start_unix_ms, end) {
                        grid_error.get_or_insert(too_many);
                    }
                    let signature = Signature {
                        timeouts: (e.elapsed_ms / timeout_ms).round() as u64,
                        attempts: attempts.get(e.run_id.as_str()).copied(),
                        host: e.host,
                        name: e.name,
                        class: e.class,
                        elapsed_ms: e.elapsed_ms,
                        timeout_ms,
                        start: e.start,
                    };
                    (e.start_unix_ms, signature)
                })
            })
            .collect();
        signatures.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.start.cmp(&b.1.start)));
        if let Some(too_many) = grid_error {
            return Err(too_many_buckets(too_many));
        }
        let grid_hosts: Vec<String> = grid.hosts();
        let attribution_width = grid.width_ms();
        let mut hosts: Vec<HostRow> = from_summary
            .keys()
            .chain(from_events.keys())
            .chain(grid_hosts.iter())
            .chain(per_host_h.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|host| {
                let (queries, classes) = match from_summary.get(host) {
                    Some((q, c)) => (Some(*q), *c),
                    None => (None, from_events.get(host).copied().unwrap_or_default()),
                };
                let failures = classes.failures();
                let (kernel, verdict) = match grid.host_cells(host) {
                    Some(cells) if !cells.kernel.is_empty() || !cells.losses.is_empty() => {
                        let (k, v) = attribution::judge(cells, grid.width_ms(), failures);
                        (Some(k).filter(|k| k.sampled_buckets > 0), Some(v))
                    }
                    _ => (None, None),
                };
                HostRow {
                    host: host.clone(),
                    queries,
                    classes,
                    failures,
                    failure_rate: queries
                        .filter(|q| *q > 0)
                        .map(|q| failures as f64 / q as f64),
                    latency_ms: per_host_h.get(&hlog::tag_for(host)).map(latency_of),
                    amplification: amplification.get(host).copied(),
                    kernel,
                    verdict,
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

        let (width_ms, buckets) = grid.over_time();
        let over_time = buckets
            .into_iter()
            .map(|(start, classes)| Bucket {
                start_unix_ms: start,
                start: crate::recorder::rfc3339(
                    std::time::UNIX_EPOCH + Duration::from_millis(start),
                ),
                classes,
            })
            .collect();
        let ranking: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
        let host_time = grid.host_time(&ranking);

        let merged_count = merged_h.len();
        debug_assert_eq!(merged_count, parts_sum);
        let has_h = intervals > 0;
        Ok(MergedReport {
            files,
            skipped_lines,
            runs: runs.len(),
            hosts,
            bucket_s: width_ms as f64 / 1e3,
            over_time,
            host_time,
            attribution_bucket_s: attribution_width as f64 / 1e3,
            intervals,
            merged_count,
            latency_ms: has_h.then(|| latency_of(&merged_h)),
            signatures: signatures.into_iter().map(|(_, s)| s).collect(),
            signatures_unexamined: unexamined,
            histogram: has_h.then_some(merged_h),
            host_histograms: per_host_h,
        })
    }
}

pub(crate) fn render_text(m: &MergedReport) -> String {
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
        .map(|h| h.host.chars().count())
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
    host_time_text(&mut t, &m.host_time, hw);
    attribution::text(&mut t, m, hw);
    if !m.over_time.is_empty() {
        let _ = writeln!(
            t,
            "\nErrors over time, all hosts ({} s buckets, from events):",
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
    if !m.signatures.is_empty() || m.signatures_unexamined > 0 {
        let _ = writeln!(
            t,
            "\nNXDOMAIN / wrong name after a timeout (the war story's signature): {}",
            m.signatures.len()
        );
        for s in m.signatures.iter().take(SIGNATURES_SHOWN) {
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
        if m.signatures.len() > SIGNATURES_SHOWN {
            let _ = writeln!(
                t,
                "  ... and {} more (--json lists every one)",
                m.signatures.len() - SIGNATURES_SHOWN
            );
        }
        if m.signatures_unexamined > 0 {
            let _ = writeln!(
                t,
                "  {} more nxdomain/wrong_name events were not examined (only the first {MAX_CANDIDATES} are kept)",
                m.signatures_unexamined
            );
        }
    }
    t
}

/// Characters for a cell with failures, from few to the most of any cell.
const SHADES: [char; 8] = ['.', ':', '-', '=', '+', '*', '#', '@'];

/// The shade of a cell: log scale from 1 to `max`, so a single failure still shows.
fn shade(n: u64, max: u64) -> char {
    if n == 0 {
        return ' ';
    }
    if max <= 1 {
        return SHADES[SHADES.len() - 1];
    }
    let f = (n as f64).ln() / (max as f64).ln();
    SHADES[((f * (SHADES.len() - 1) as f64).round() as usize).min(SHADES.len() - 1)]
}

/// The heat map in text: one line per failing host (ranked), one character per time column.
fn host_time_text(t: &mut String, ht: &HostTime, hw: usize) {
    let failing: Vec<&HostTimeRow> = ht
        .rows
        .iter()
        .filter(|r| r.failures.iter().any(|n| *n > 0))
        .collect();
    if failing.is_empty() || ht.columns == 0 {
        return;
    }
    let max = failing
        .iter()
        .flat_map(|r| r.failures.iter())
        .copied()
        .max()
        .unwrap_or(1);
    let end = ht
        .start_unix_ms
        .saturating_add((ht.bucket_s * 1e3) as u64 * ht.columns as u64);
    let at = |ms: u64| crate::recorder::rfc3339(std::time::UNIX_EPOCH + Duration::from_millis(ms));
    let scale = if max <= 1 {
        format!("' ' none, '{}' 1", SHADES[SHADES.len() - 1])
    } else {
        format!(
            "' ' none, '{}' 1 ... '{}' {max}, log scale",
            SHADES[0],
            SHADES[SHADES.len() - 1]
        )
    };
    let _ = writeln!(
        t,
        "\nFailures per host over time ({} to {}, {} s per column; {scale}):",
        at(ht.start_unix_ms),
        at(end),
        ht.bucket_s,
    );
    for row in failing.iter().take(HOSTS_SHOWN) {
        let cells: String = row.failures.iter().map(|n| shade(*n, max)).collect();
        let _ = writeln!(
            t,
            "  {:<hw$} |{cells}| {}",
            row.host,
            row.failures.iter().fold(0u64, |a, n| a.saturating_add(*n))
        );
        if let Some(letters) = attribution::letters(row, ht.columns) {
            let _ = writeln!(t, "  {:<hw$} |{letters}| kernel drops", "");
        }
    }
    if failing
        .iter()
        .take(HOSTS_SHOWN)
        .any(|r| !r.counters.is_empty())
    {
        let legend: Vec<String> = attribution::LETTERS
            .iter()
            .map(|(name, c)| format!("{c} {name}"))
            .collect();
        let _ = writeln!(
            t,
            "  (under a host: the column's first drop counter that grew: {})",
            legend.join(", ")
        );
    }
    if failing.len() > HOSTS_SHOWN {
        let _ = writeln!(
            t,
            "  ... and {} more failing hosts (--svg draws every host)",
            failing.len() - HOSTS_SHOWN
        );
    }
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
    fn shades_grow_with_the_count_and_one_failure_shows() {
        assert_eq!(shade(0, 100), ' ');
        assert_eq!(shade(1, 100), '.');
        assert_eq!(shade(100, 100), '@');
        assert_eq!(shade(1, 1), '@');
        assert!(SHADES.iter().position(|c| *c == shade(10, 100)).unwrap() > 0);
    }

    /// Found by the `dnsload_hlog` fuzz target (see `hlog`'s test): histograms each within
    /// the bound may still add up beyond it when merged.
    #[test]
    fn merged_histograms_beyond_2_to_the_53_lookups_are_an_error() {
        let interval = |n: u64| {
            let mut histogram = hlog::new_histogram();
            histogram.record_n(1000, n).unwrap();
            hlog::Interval {
                tag: Some("h".into()),
                start: Duration::ZERO,
                length: Duration::from_secs(1),
                histogram,
            }
        };
        let mut m = Merger::new(None);
        m.add_interval(interval(hlog::MAX_LOOKUPS / 2)).unwrap();
        m.add_interval(interval(hlog::MAX_LOOKUPS / 2)).unwrap();
        let e = m.add_interval(interval(1)).unwrap_err().to_string();
        assert!(e.contains("2^53"), "{e}");
        let merged = m.finish().unwrap();
        assert_eq!(merged.merged_count, hlog::MAX_LOOKUPS);
        assert!(merged.latency_ms.is_some());
    }

    /// Events whose summary comes last (a pod's log) still get their run's timeout.
    #[test]
    fn a_summary_after_its_events_still_sets_their_timeout() {
        let event = r#"{"schema":1,"kind":"event","run_id":"r","host":"h","backend":"system","name":"myservice","class":"nxdomain","elapsed_ms":400.0,"latency_ms":400.0,"start":"2026-01-01T00:00:00.000Z","start_unix_ms":1767225600000}"#;
        let mut m = Merger::new(None);
        let path = Path::new("pod.log");
        m.json_line(path, 1, event.as_bytes()).unwrap();
        assert_eq!(m.candidates.len(), 1);
        // No summary: 1 s assumed, and 400 ms is no signature.
        let mut m2 = Merger::new(None);
        m2.json_line(path, 1, event.as_bytes()).unwrap();
        assert!(m2.finish().unwrap().signatures.is_empty());
        // With a 200 ms timeout from the run's summary, read after the event: two timeouts.
        m.timeouts.insert("r".into(), 200.0);
        let merged = m.finish().unwrap();
        assert_eq!(merged.signatures.len(), 1);
        assert_eq!(merged.signatures[0].timeouts, 2);
    }
}
