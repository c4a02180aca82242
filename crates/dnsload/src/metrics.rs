//! A Prometheus text endpoint: counters per class and the latency histogram.
//!
//! A minimal HTTP/1.1 responder on a tokio listener (one response per connection), because
//! the exposition format is plain text and a scrape is one GET; any path answers.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::class::Class;
use crate::error::{Error, Result};
use crate::recorder::{Identity, Recorder};
use crate::schedule::Stop;

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
];

/// Renders the exposition text from a recorder.
pub fn render(id: &Identity, rec: &Recorder) -> String {
    let labels = format!(
        "host=\"{}\",backend=\"{}\",run_id=\"{}\"",
        escape(&id.host),
        escape(&id.backend),
        escape(&id.run_id)
    );
    let mut s = String::new();
    let counts = rec.counts();
    let _ = writeln!(
        s,
        "# HELP dnsload_lookups_total Lookups finished, by outcome class.\n\
         # TYPE dnsload_lookups_total counter"
    );
    for class in Class::ALL {
        let _ = writeln!(
            s,
            "dnsload_lookups_total{{{labels},class=\"{class}\"}} {}",
            counts.get(class)
        );
    }
    let (late, _) = rec.late_starts();
    let _ = writeln!(
        s,
        "# HELP dnsload_late_starts_total Open-loop lookups started more than 10 ms late.\n\
         # TYPE dnsload_late_starts_total counter\n\
         dnsload_late_starts_total{{{labels}}} {late}"
    );
    let h = rec.histogram();
    let _ = writeln!(
        s,
        "# HELP dnsload_latency_seconds Lookup latency from the intended start.\n\
         # TYPE dnsload_latency_seconds histogram"
    );
    for le in BUCKETS {
        let bound_us = (le * 1e6) as u64;
        let n = if h.is_empty() {
            0
        } else {
            h.count_between(0, bound_us)
        };
        let _ = writeln!(
            s,
            "dnsload_latency_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
        );
    }
    let _ = writeln!(
        s,
        "dnsload_latency_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
         dnsload_latency_seconds_sum{{{labels}}} {}\n\
         dnsload_latency_seconds_count{{{labels}}} {}",
        h.len(),
        rec.latency_sum_us() as f64 / 1e6,
        h.len()
    );
    if let Some(c) = rec.counter_totals() {
        counters(&mut s, &labels, c);
    }
    if let Some(a) = rec.amplification() {
        let t = a.total;
        for (name, help, value) in [
            (
                "dnsload_costed_lookups_total",
                "Lookups whose query cost is known (stub backend).",
                a.lookups,
            ),
            (
                "dnsload_queries_sent_total",
                "Queries those lookups sent: every candidate, attempt, re-send and TCP query.",
                t.queries,
            ),
            (
                "dnsload_search_candidates_total",
                "Candidate names those lookups tried (search walk).",
                t.candidates,
            ),
            (
                "dnsload_attempts_total",
                "Attempts those lookups started.",
                t.attempts,
            ),
            (
                "dnsload_resends_total",
                "Queries that re-sent a question inside its attempt.",
                t.resends,
            ),
            ("dnsload_tcp_queries_total", "Queries sent over TCP.", t.tcp),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{{labels}}} {value}"
            );
        }
    }
    s
}

/// The kernel drop counters' growth since the run started, and the conntrack table's fill.
fn counters(s: &mut String, labels: &str, c: &crate::counters::CounterTotals) {
    if let Some(u) = c.udp {
        let _ = writeln!(
            s,
            "# HELP dnsload_udp_errors_total Growth of this host's UDP error counters (/proc/net/snmp) since the run started.\n\
             # TYPE dnsload_udp_errors_total counter"
        );
        for (name, v) in [
            ("in_errors", u.in_errors),
            ("rcvbuf_errors", u.rcvbuf_errors),
            ("sndbuf_errors", u.sndbuf_errors),
            ("no_ports", u.no_ports),
        ] {
            let _ = writeln!(
                s,
                "dnsload_udp_errors_total{{{labels},counter=\"{name}\"}} {v}"
            );
        }
    }
    if let Some(ct) = &c.conntrack {
        let _ = writeln!(
            s,
            "# HELP dnsload_conntrack_stat_total Growth of the conntrack statistics (/proc/net/stat/nf_conntrack, summed over CPUs, by the kernel's column name) since the run started.\n\
             # TYPE dnsload_conntrack_stat_total counter"
        );
        for (name, v) in ct {
            let _ = writeln!(
                s,
                "dnsload_conntrack_stat_total{{{labels},stat=\"{}\"}} {v}",
                escape(name)
            );
        }
    }
    if let Some(sn) = c.softnet {
        let _ = writeln!(
            s,
            "# HELP dnsload_softnet_dropped_total Packets dropped because a CPU's input backlog was full (/proc/net/softnet_stat), since the run started.\n\
             # TYPE dnsload_softnet_dropped_total counter\n\
             dnsload_softnet_dropped_total{{{labels}}} {}\n\
             # HELP dnsload_softnet_time_squeeze_total Times the receive softirq stopped with work left, since the run started.\n\
             # TYPE dnsload_softnet_time_squeeze_total counter\n\
             dnsload_softnet_time_squeeze_total{{{labels}}} {}",
            sn.dropped, sn.time_squeeze
        );
    }
    for (name, help, v) in [
        (
            "dnsload_conntrack_entries",
            "Entries in this network namespace's conntrack table at the last reading.",
            c.conntrack_entries,
        ),
        (
            "dnsload_conntrack_max",
            "The conntrack table's limit (nf_conntrack_max).",
            c.conntrack_max,
        ),
    ] {
        if let Some(v) = v {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{{labels}}} {v}"
            );
        }
    }
    let _ = writeln!(
        s,
        "# HELP dnsload_counter_anomalies_total Kernel counters that went down (a 32-bit wrap, or a reset counted from zero).\n\
         # TYPE dnsload_counter_anomalies_total counter\n\
         dnsload_counter_anomalies_total{{{labels}}} {}",
        c.anomalies_total
    );
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Binds the endpoint and serves until `stop`.
pub async fn serve(
    addr: SocketAddr,
    id: Identity,
    rec: Arc<Mutex<Recorder>>,
    stop: Stop,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::io(format!("cannot serve metrics on {addr}"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("metrics listener", e))?;
    let task = tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                c = listener.accept() => c,
                _ = stop.stopped() => return,
            };
            let Ok((mut sock, _)) = conn else { continue };
            let body = match rec.lock() {
                Ok(r) => render(&id, &r),
                Err(_) => continue,
            };
            tokio::spawn(async move {
                let mut req = [0u8; 1024];
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(2), sock.read(&mut req))
                        .await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok((local, task))
}
