//! The human-readable end-of-run summary, and the live progress line.

use std::fmt::Write as _;

use crate::class::Class;
use crate::records::{ClassCounts, Latency, Summary};

/// The final summary: counts, percentiles, local UDP errors, then every finding kept with
/// its elapsed time (NXDOMAIN after about attempts x timeout is the war story's signature).
pub fn summary_text(s: &Summary) -> String {
    let mut t = String::new();
    let sched = match s.schedule.kind.as_str() {
        "open" => format!(
            "open loop at {}/s",
            s.schedule.rate.map_or("?".into(), |r| format!("{r}"))
        ),
        _ => format!(
            "closed loop, {} worker(s), pause {} ms",
            s.schedule.workers.unwrap_or(1),
            s.schedule.pause_ms.unwrap_or(0.0)
        ),
    };
    let _ = writeln!(
        t,
        "dnsload {} on {} (run {}): {} lookups in {:.1} s, {sched}, stopped by {}",
        s.backend, s.host, s.run_id, s.queries, s.duration_s, s.stopped_by
    );
    let _ = writeln!(t, "  {}", counts_line(&s.classes));
    let _ = writeln!(t, "  latency ms: {}", latency_line(&s.latency_ms));
    if s.schedule.late_starts > 0 {
        let _ = writeln!(
            t,
            "  {} lookups started late (max {:.1} ms behind schedule): counted in latency",
            s.schedule.late_starts, s.schedule.max_start_delay_ms
        );
    }
    if let Some(a) = &s.amplification {
        let per = |n: u64| n as f64 / a.lookups.max(1) as f64;
        let _ = writeln!(
            t,
            "  queries per lookup {:.2} (max {}): {:.2} candidates, {:.2} attempts, {:.2} re-sends, {:.2} TCP",
            a.per_lookup,
            a.max_per_lookup,
            per(a.total.candidates),
            per(a.total.attempts),
            per(a.total.resends),
            per(a.total.tcp)
        );
    }
    if let Some(line) = s.counters.as_ref().and_then(counters_line) {
        let _ = writeln!(t, "  {line}");
    } else if s.udp.available {
        let d = s.udp.delta;
        let _ = writeln!(
            t,
            "  UDP errors on this host during the run: RcvbufErrors +{}, InErrors +{}",
            d.rcvbuf_errors, d.in_errors
        );
    }
    let findings: u64 = [
        Class::WrongName,
        Class::Nxdomain,
        Class::Nodata,
        Class::Hung,
    ]
    .iter()
    .map(|c| s.classes.get(*c))
    .sum();
    if findings > 0 {
        let _ = writeln!(
            t,
            "  FINDINGS: {findings} lookups of names that exist came back wrong or never came back:"
        );
        for n in &s.notable {
            let answer = n
                .answer_name
                .as_ref()
                .map(|a| format!(" answer {a}"))
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "    {:<10} {} after {:.3} s at {}{answer}",
                n.class.as_str(),
                n.name,
                n.elapsed_ms / 1e3,
                n.start
            );
        }
        if s.notable_dropped > 0 {
            let _ = writeln!(
                t,
                "    ... and {} more (all are in the events file)",
                s.notable_dropped
            );
        }
    }
    if s.fail_on.triggered {
        let names: Vec<_> = s.fail_on.classes.iter().map(|c| c.as_str()).collect();
        let _ = writeln!(
            t,
            "  --fail-on {} triggered: exit status 3",
            names.join(",")
        );
    }
    t
}

/// The drop counters' growth in one line: `kernel drops on this host during the run: ...`.
fn counters_line(c: &crate::counters::CounterTotals) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(u) = c.udp {
        parts.push(format!(
            "udp rcvbuf_errors +{} in_errors +{}",
            u.rcvbuf_errors, u.in_errors
        ));
    }
    if let Some(ct) = &c.conntrack {
        let get = |k: &str| ct.get(k).copied().unwrap_or(0);
        parts.push(format!(
            "conntrack insert_failed +{} drop +{} early_drop +{}",
            get("insert_failed"),
            get("drop"),
            get("early_drop")
        ));
    }
    if let (Some(n), Some(max)) = (c.conntrack_entries_peak, c.conntrack_max) {
        parts.push(format!("conntrack entries up to {n} of {max}"));
    }
    if let Some(sn) = c.softnet {
        parts.push(format!("softnet dropped +{}", sn.dropped));
    }
    if parts.is_empty() {
        return None;
    }
    let mut line = format!(
        "kernel drops on this host during the run: {}",
        parts.join(", ")
    );
    if !c.unavailable.is_empty() {
        let _ = write!(line, " ({} source(s) unreadable)", c.unavailable.len());
    }
    if c.anomalies_total > 0 {
        let _ = write!(
            line,
            " ({} counter(s) went down: wrap or reset)",
            c.anomalies_total
        );
    }
    Some(line)
}

/// `ok 90  wrong_name 2 ...` for the classes that occurred (always `ok`).
pub fn counts_line(c: &ClassCounts) -> String {
    Class::ALL
        .iter()
        .filter(|k| **k == Class::Ok || c.get(**k) > 0)
        .map(|k| format!("{} {}", k.as_str(), c.get(*k)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// `p50 1.2  p90 ...  max 2001.0`.
pub fn latency_line(l: &Latency) -> String {
    format!(
        "p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        l.p50, l.p90, l.p99, l.p999, l.max
    )
}

/// The live progress line (for a terminal; written with a leading carriage return).
pub fn progress_line(elapsed_s: f64, c: &ClassCounts, l: &Latency) -> String {
    let total = c.total();
    let rate = if elapsed_s > 0.0 {
        total as f64 / elapsed_s
    } else {
        0.0
    };
    format!(
        "\r{elapsed_s:6.1}s {total} lookups {rate:.0}/s  {}  p50 {:.1} p99 {:.1} p99.9 {:.1} ms\x1b[K",
        counts_line(c),
        l.p50,
        l.p99,
        l.p999
    )
}
