//! HdrHistogram interval logs: write one per run, read and merge many.
//!
//! Values are latencies in microseconds, and so is the log's max column. Each interval is tagged with the host label, and timestamps are absolute
//! (seconds since the Unix epoch), so logs from many hosts line up when merged.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

/// Highest latency recorded, in microseconds (one hour); larger values are clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Most lookups one histogram read from a log may hold, and the merge of all of them: 2^53
/// (exact as a float), far beyond any run, and low enough that no sum over a histogram's
/// counts overflows (hdrhistogram's quantiles add counts up without checks).
pub const MAX_LOOKUPS: u64 = 1 << 53;

/// A new latency histogram: 1 µs to one hour at 3 significant digits (bounded memory).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static bounds are valid")
}

/// Records a latency, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros())
        .unwrap_or(MAX_LATENCY_US)
        .clamp(1, MAX_LATENCY_US);
    h.saturating_record(us);
}

/// A tag from a host label: the log format forbids commas and whitespace in tags.
pub fn tag_for(host: &str) -> String {
    let t: String = host
        .chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if t.is_empty() { "unknown".into() } else { t }
}

/// Writes an interval log.
pub struct HlogWriter<W: Write> {
    out: W,
    serializer: V2DeflateSerializer,
    tag: String,
}

impl<W: Write> HlogWriter<W> {
    /// Starts a log: comments naming the run, then the start time.
    pub fn start(
        mut out: W,
        run_id: &str,
        host: &str,
        backend: &str,
        start: SystemTime,
    ) -> std::io::Result<Self> {
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(&format!(
                "dnsload run_id={run_id} host={} backend={backend} unit=us",
                tag_for(host)
            ))
            .with_start_time(start)
            .begin_log_with(&mut out, &mut serializer)?;
        Ok(HlogWriter {
            out,
            serializer,
            tag: tag_for(host),
        })
    }

    /// Writes one interval starting at `start` (wall clock) and lasting `length`.
    pub fn interval(
        &mut self,
        h: &Histogram<u64>,
        start: SystemTime,
        length: Duration,
    ) -> std::io::Result<()> {
        let since_epoch = start.duration_since(UNIX_EPOCH).unwrap_or_default();
        // A builder without comments writes no header: this appends one interval line.
        let mut w =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        w.write_histogram(h, since_epoch, length, Tag::new(&self.tag))
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        Ok(())
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// One interval read back from a log.
#[derive(Debug, Clone)]
pub struct Interval {
    /// The tag (host label), if any.
    pub tag: Option<String>,
    /// Start, seconds since the epoch (absolute, or relative to the log's base time).
    pub start: Duration,
    /// Length.
    pub length: Duration,
    /// The latencies in microseconds.
    pub histogram: Histogram<u64>,
}

/// Reads a log one line at a time, so a log of any size is read in bounded memory.
pub struct IntervalReader {
    deserializer: Deserializer,
    base: Duration,
}

impl Default for IntervalReader {
    fn default() -> Self {
        IntervalReader {
            deserializer: Deserializer::new(),
            base: Duration::ZERO,
        }
    }
}

impl IntervalReader {
    /// Reads one line of a log (without its newline): the interval it holds, if any. Header
    /// lines (comments, the base and start times, the legend) hold none; a base time applies to
    /// the intervals after it.
    pub fn line(&mut self, line: &[u8]) -> Result<Option<Interval>, String> {
        let mut with_newline = Vec::with_capacity(line.len() + 1);
        with_newline.extend_from_slice(line);
        with_newline.push(b'\n');
        let mut found = None;
        for entry in IntervalLogIterator::new(&with_newline) {
            match entry {
                Ok(LogEntry::BaseTime(t)) => self.base = t,
                Ok(LogEntry::StartTime(_)) => {}
                Ok(LogEntry::Interval(i)) => {
                    let bytes = BASE64_STANDARD
                        .decode(i.encoded_histogram().trim())
                        .map_err(|e| format!("bad base64 in an interval: {e}"))?;
                    let histogram: Histogram<u64> = self
                        .deserializer
                        .deserialize(&mut bytes.as_slice())
                        .map_err(|e| format!("bad histogram: {e:?}"))?;
                    // The deserializer's total saturates, so a total within bounds is exact.
                    if histogram.len() > MAX_LOOKUPS {
                        return Err(format!(
                            "bad histogram: {} lookups or more, beyond the 2^53 this reads",
                            histogram.len()
                        ));
                    }
                    found = Some(Interval {
                        tag: i.tag().map(|t| t.as_str().to_string()),
                        start: self.base.checked_add(i.start_timestamp()).ok_or_else(|| {
                            "an interval's timestamp is past the end of time".to_string()
                        })?,
                        length: i.duration(),
                        histogram,
                    });
                }
                Err(e) => return Err(format!("not an interval log ({e:?})")),
            }
        }
        Ok(found)
    }
}

/// Reads every interval of a log held in memory.
pub fn read(text: &[u8]) -> Result<Vec<Interval>, String> {
    let mut reader = IntervalReader::default();
    let mut out = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.extend(reader.line(line)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_log_reads_back_with_tags_and_counts() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut buf = Vec::new();
        let mut w = HlogWriter::start(&mut buf, "r1", "node a,1", "raw", start).unwrap();
        let mut h = new_histogram();
        for ms in [1u64, 2, 3, 500] {
            record(&mut h, Duration::from_millis(ms));
        }
        w.interval(&h, start, Duration::from_secs(5)).unwrap();
        h.reset();
        record(&mut h, Duration::from_secs(7200)); // clamped to an hour
        w.interval(&h, start + Duration::from_secs(5), Duration::from_secs(5))
            .unwrap();
        drop(w);
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(text.contains("#[StartTime: 1700000000.000"), "{text}");
        assert_eq!(text.matches("#[").count(), 1, "one header: {text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("Tag=")).count(), 2);
        let intervals = read(&buf).unwrap();
        assert_eq!(intervals.len(), 2);
        assert_eq!(intervals[0].tag.as_deref(), Some("node_a_1"));
        assert_eq!(intervals[0].histogram.len(), 4);
        assert_eq!(intervals[0].start, Duration::from_secs(1_700_000_000));
        assert!(intervals[0].histogram.max() >= 499_000);
        assert_eq!(intervals[1].histogram.len(), 1);
        assert!(read(b"not a log\n").is_err());
    }

    /// Found by the `dnsload_hlog` fuzz target: a histogram whose counts add up beyond 2^64
    /// made hdrhistogram's quantile overflow (a panic with overflow checks, nonsense without).
    #[test]
    fn histograms_beyond_2_to_the_53_lookups_are_an_error() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let log = |counts: &[(u64, u64)]| {
            let mut h = new_histogram();
            for &(us, n) in counts {
                h.record_n(us, n).unwrap();
            }
            let mut buf = Vec::new();
            let mut w = HlogWriter::start(&mut buf, "r1", "a", "raw", start).unwrap();
            w.interval(&h, start, Duration::from_secs(5)).unwrap();
            drop(w);
            buf
        };
        // The input the target found.
        let found = "#dnsload run_idd\n\
                     Tag=node-a,11640.525,0.385,103807.000,HI\
                     STFAAAAIZ4nC2MMQrCQBBFZ98GFpElRVAJaGFhZSEpxMLCQkQsLLyLvY0WlpIr2IdcJufIEfJDMgP/De\
                     /DLN9lZmZPG8aPdHd0509O7SCqOUbgRUpOZMuNq8xGjaynRdRqpux5cMbzdawQ22YckwML+agUl79O7SCqOUbgRUpOZMuNq8xGjJfd3TQOYA==\n";
        let e = read(found.as_bytes()).unwrap_err();
        assert!(e.contains("2^53"), "{e}");
        let big = i64::MAX as u64;
        let e = read(&log(&[(1000, big), (2000, big), (3000, big)])).unwrap_err();
        assert!(e.contains("2^53"), "{e}");
        let e = read(&log(&[(1000, MAX_LOOKUPS + 1)])).unwrap_err();
        assert!(e.contains("2^53"), "{e}");
        let ok = read(&log(&[(1000, MAX_LOOKUPS - 1), (2000, 1)])).unwrap();
        assert_eq!(ok[0].histogram.len(), MAX_LOOKUPS);
    }

    #[test]
    fn timestamps_past_the_end_of_time_are_an_error_not_a_panic() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut buf = Vec::new();
        let mut w = HlogWriter::start(&mut buf, "r1", "a", "raw", start).unwrap();
        let mut h = new_histogram();
        record(&mut h, Duration::from_millis(1));
        w.interval(&h, start, Duration::from_secs(5)).unwrap();
        drop(w);
        let text = String::from_utf8(buf).unwrap();
        let line = text.lines().find(|l| l.starts_with("Tag=")).unwrap();
        let huge = format!(
            "#[BaseTime: {}.000 (seconds since epoch)]\n{line}\n",
            u64::MAX
        );
        let e = read(huge.as_bytes()).unwrap_err();
        assert!(e.contains("timestamp"), "{e}");
    }
}
