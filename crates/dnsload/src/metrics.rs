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
    s
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
