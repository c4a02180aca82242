//! dnsload: the readers of events, summaries, pod logs and histogram logs.

use dnsload::fuzzing;
use dnsload::{Event, MergedReport, SCHEMA, Summary, read_hlog};

/// What `kubectl logs --timestamps` puts before each line of a pod's log.
const POD_PREFIX: &str = "2026-01-01T00:00:00.123456789Z ";

/// The merged report as JSON (the form `dnsload report --json` prints), with its text and
/// picture rendered too, or the error's text.
fn report(files: &[&[u8]]) -> Result<(MergedReport, String), String> {
    match fuzzing::report(files) {
        Ok(merged) => {
            let (text, svg) = fuzzing::render(&merged);
            assert!(!text.is_empty());
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
            assert_eq!(
                merged.merged_count,
                merged.histogram.as_ref().map_or(0, |h| h.len()),
                "the merged count is not the histogram's"
            );
            let json = serde_json::to_string(&merged).expect("a report serialises");
            Ok((merged, json))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Each line of `text` with the pod-log prefix, unless it is blank.
fn with_pod_prefix(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            if String::from_utf8_lossy(line.as_bytes()).trim().is_empty() {
                line.to_string()
            } else {
                format!("{POD_PREFIX}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Input: one JSON line.
///
/// Checked: an event that parses serialises to JSON that parses back to the same event; an
/// event of a readable schema is merged by `dnsload report` (from a file of its own, and with
/// a pod-log prefix the same way), counted once under its host.
pub fn event(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(event) = serde_json::from_str::<Event>(text) else {
        return;
    };
    let json = serde_json::to_string(&event).expect("an event serialises");
    let again: Event = serde_json::from_str(&json).expect("a serialised event parses");
    assert_eq!(again, event, "read back differently from {json}");
    if event.kind != "event" || !(1..=SCHEMA).contains(&event.schema) || json.contains('\n') {
        return;
    }
    let (merged, report_json) = report(&[json.as_bytes()]).expect("an event is merged");
    let row = merged
        .hosts
        .iter()
        .find(|h| h.host == event.host)
        .expect("the event's host is in the report");
    assert_eq!(row.classes.get(event.class), 1);
    let prefixed = format!("{POD_PREFIX}{json}");
    let (_, prefixed_json) = report(&[prefixed.as_bytes()]).expect("a pod's event is merged");
    assert_eq!(
        prefixed_json, report_json,
        "a pod-log prefix changes the report"
    );
}

/// Input: a summary as JSON.
///
/// Checked: a summary that parses serialises to JSON that parses back to the same summary,
/// and `dnsload report` reads it the same pretty-printed (as `--summary-json` writes it) and
/// on one line (as it appears in a pod's log): the same report, or the same error.
pub fn summary(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(summary) = serde_json::from_str::<Summary>(text) else {
        return;
    };
    let json = serde_json::to_string(&summary).expect("a summary serialises");
    let again: Summary = serde_json::from_str(&json).expect("a serialised summary parses");
    assert_eq!(again, summary, "read back differently from {json}");
    if summary.kind != "summary" {
        return;
    }
    let pretty = serde_json::to_string_pretty(&summary).expect("a summary serialises");
    let one_line = report(&[json.as_bytes()]).map(|(_, j)| j);
    let pretty = report(&[pretty.as_bytes()]).map(|(_, j)| j);
    match (&one_line, &pretty) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "pretty and one-line reports differ"),
        (Err(_), Err(_)) => {}
        _ => panic!("one line: {one_line:?}\npretty: {pretty:?}"),
    }
}

/// Input: a pod's log (JSON lines among other lines).
///
/// Checked: `dnsload report` reads it without panicking, and when it is read as JSON lines
/// (its first line is no histogram-log header and no lone `{`), prefixing every non-blank line
/// with a `kubectl logs --timestamps` stamp changes nothing: the same report, or an error.
pub fn pod_log(data: &[u8]) {
    let plain = report(&[data]);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = text
        .split('\n')
        .map(|l| String::from_utf8_lossy(l.strip_suffix('\r').unwrap_or(l).as_bytes()).into_owned())
        .find(|l| !l.trim().is_empty());
    let Some(first) = first else {
        return;
    };
    let first = first.trim();
    if first.starts_with('#') || first.starts_with("\"StartTimestamp\"") || first == "{" {
        return;
    }
    let prefixed = with_pod_prefix(text);
    let stamped = report(&[prefixed.as_bytes()]);
    match (&plain, &stamped) {
        (Ok((_, a)), Ok((_, b))) => assert_eq!(a, b, "a pod-log prefix changes the report"),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "plain: {:?}\nstamped: {:?}",
            plain.as_ref().map(|r| &r.1),
            stamped.as_ref().map(|r| &r.1)
        ),
    }
}

/// Input: a histogram log.
///
/// Checked: every interval read writes back (as a run writes its log) into a log that reads
/// back with the same histograms, in order, each tagged with its tag made a valid log tag;
/// and `dnsload report` reads the log without panicking.
pub fn hlog(data: &[u8]) {
    let _ = report(&[data]);
    let Ok(intervals) = read_hlog(data) else {
        return;
    };
    let written = fuzzing::write_hlog(&intervals).expect("intervals write");
    let again = read_hlog(&written).unwrap_or_else(|e| {
        panic!(
            "written log does not read: {e}\n{}",
            String::from_utf8_lossy(&written)
        )
    });
    let kept: Vec<_> = intervals
        .iter()
        .filter(|i| std::time::UNIX_EPOCH.checked_add(i.start).is_some())
        .collect();
    assert_eq!(kept.len(), again.len(), "intervals lost");
    for (a, b) in kept.iter().zip(&again) {
        assert!(a.histogram == b.histogram, "a histogram changed");
        let tag = dnsload::fuzzing::tag(a.tag.as_deref().unwrap_or("untagged"));
        assert_eq!(b.tag.as_deref(), Some(tag.as_str()), "tag");
    }
}
