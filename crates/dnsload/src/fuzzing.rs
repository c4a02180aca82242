//! Entry points for the coverage-guided fuzz targets in the workspace's `fuzz/` directory
//! (cargo feature `fuzzing`): `dnsload report`'s reader over bytes held in memory, its text and
//! picture, and the histogram-log writer. Not part of the supported API: it may change in any
//! release.

use std::io::BufReader;
use std::path::Path;
use std::time::UNIX_EPOCH;

use crate::error::Result;
use crate::hlog::{HlogWriter, Interval};
use crate::report::{MergedReport, Merger};

/// Reads `files` as `dnsload report` reads files (each recognised by its first line: histogram
/// log, pretty-printed summary, or JSON lines among other log lines) and merges them.
pub fn report(files: &[&[u8]]) -> Result<MergedReport> {
    let mut merger = Merger::new(None);
    for (i, bytes) in files.iter().enumerate() {
        merger.read(BufReader::new(*bytes), Path::new(&format!("input-{i}")))?;
    }
    merger.finish()
}

/// The report's text and its SVG picture, as `dnsload report` prints and draws them.
pub fn render(report: &MergedReport) -> (String, String) {
    (
        crate::report::render_text(report),
        crate::report::svg::render(report),
    )
}

/// Writes `intervals` as a histogram log, as a run writes its `--hlog`: each under a header
/// naming its tag as the host (made a valid log tag by [`tag`]; `untagged`
/// without one). Intervals whose start the clock cannot hold are skipped.
pub fn write_hlog(intervals: &[Interval]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for i in intervals {
        let Some(start) = UNIX_EPOCH.checked_add(i.start) else {
            continue;
        };
        let host = i.tag.as_deref().unwrap_or("untagged");
        let mut writer = HlogWriter::start(&mut out, "fuzz", host, "raw", start)?;
        writer.interval(&i.histogram, start, i.length)?;
    }
    Ok(out)
}

/// The tag a histogram log gives a host label.
pub fn tag(host: &str) -> String {
    crate::hlog::tag_for(host)
}
