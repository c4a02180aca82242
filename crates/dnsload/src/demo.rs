//! `dnsload demo`: the war story side by side, with nothing to install and no root.
//!
//! An in-process faultdns serves `drop.test`, `drop.test.corp.test` and
//! `myservice.corp.test`, and drops half of the queries for `drop.test` and
//! `myservice.corp.test`. Four closed loops run at once for the demo's duration, all with
//! timeout 1 s, attempts 2 and search domain `corp.test`:
//! - shape 1, `drop.test` with ndots 1 (tried as given first): glibc walks on to the search
//!   name after the name times out and returns *its* address (`wrong_name`);
//! - shape 2, `myservice` with ndots 5 (search names first): glibc gives up on the timed-out
//!   `myservice.corp.test`, asks the bare name and reports its NXDOMAIN (`nxdomain`);
//!
//! each through glibc's getaddrinfo (its `_res` redirected to the server) and through stubborn.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::backend::Backend;
use crate::backend::glibc;
use crate::class::Class;
use crate::cli::{BackendKind, DemoArgs};
use crate::error::{Error, Result};
use crate::plan::{Bounds, Outputs, Plan, ResolverPlan, Schedule, hostname};
use crate::records::Summary;
use crate::run::{build_backend, run_with};
use crate::schedule::Stop;

const SEARCH: &str = "corp.test";
const WORKERS: usize = 4;
/// Time kept at the end for lookups in flight (each ends within 2 attempts of 1 s, plus the
/// bare-name query) and the table.
const TAIL: Duration = Duration::from_millis(2500);

/// One row of the demo table.
#[derive(Debug, Clone)]
pub struct DemoRow {
    /// Which shape (1 or 2).
    pub shape: u8,
    /// `system` or `stub`.
    pub backend: BackendKind,
    /// The run's summary.
    pub summary: Summary,
}

/// What the demo measured.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Rows, shape by shape, glibc first.
    pub rows: Vec<DemoRow>,
    /// Whether the glibc column could run.
    pub glibc: bool,
    /// The printed text.
    pub text: String,
}

fn shape_plan(
    shape: u8,
    backend: BackendKind,
    server: std::net::SocketAddr,
    run_for: Duration,
) -> Plan {
    let (name, ndots) = match shape {
        1 => ("drop.test", 1),
        _ => ("myservice", 5),
    };
    Plan {
        backend,
        resolver: ResolverPlan {
            servers: vec![server],
            resolv_conf: None,
            search: Some(vec![SEARCH.into()]),
            ndots: Some(ndots),
            timeout: Some(Duration::from_secs(1)),
            attempts: Some(2),
            deadline: match backend {
                BackendKind::System => Duration::from_secs(30),
                _ => Duration::from_secs(5),
            },
            system_config: false,
        },
        names: vec![name.into()],
        record_type: RecordType::A,
        schedule: Schedule::Closed {
            workers: WORKERS,
            pause: Duration::from_millis(50),
        },
        bounds: Bounds {
            count: None,
            duration: Some(run_for),
        },
        threads: WORKERS,
        host: hostname(),
        outputs: Outputs {
            events: None,
            summary_json: None,
            hlog: None,
            metrics: None,
            slow: Duration::from_secs(1),
            fail_on: Vec::new(),
            quiet: true,
            counter_interval: Duration::from_secs(1),
        },
    }
}

/// Runs the demo and prints its table.
pub async fn demo(args: &DemoArgs) -> Result<DemoReport> {
    let server = faultdns::Server::builder()
        .record("drop.test. 60 A 192.0.2.1")
        .and_then(|b| b.record("drop.test.corp.test. 60 A 192.0.2.99"))
        .and_then(|b| b.record("myservice.corp.test. 60 A 192.0.2.7"))
        .and_then(|b| b.rule("drop name=drop.test. p=0.5"))
        .and_then(|b| b.rule("drop name=myservice.corp.test. p=0.5"))
        .map_err(|e| Error::Demo(e.to_string()))?
        .seed(args.seed)
        .listen("127.0.0.1:0".parse().expect("literal address"))
        .start()
        .await
        .map_err(|e| Error::Demo(e.to_string()))?;
    let addr = server.addr();
    let run_for = args
        .duration
        .saturating_sub(TAIL)
        .max(Duration::from_secs(1));
    let glibc = glibc::supported();
    let backends: &[BackendKind] = if glibc {
        &[BackendKind::System, BackendKind::Stub]
    } else {
        &[BackendKind::Stub]
    };
    let mut intro = String::new();
    let _ = writeln!(
        intro,
        "dnsload demo: faultdns on {addr} drops half the queries for drop.test. and \
         myservice.corp.test. (seed {});\nevery resolver: timeout 1 s, attempts 2, search {SEARCH}, \
         {WORKERS} workers, {:.1} s.\n",
        args.seed,
        run_for.as_secs_f64()
    );
    {
        use std::io::Write;
        let mut out = std::io::stdout();
        out.write_all(intro.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| Error::io("cannot print the demo", e))?;
    }
    let stop = Stop::default();
    let signals = crate::run::stop_on_signals(stop.clone());
    let mut plans = Vec::new();
    for shape in [1u8, 2] {
        for &b in backends {
            plans.push((shape, b, shape_plan(shape, b, addr, run_for)));
        }
    }
    let mut tasks = Vec::new();
    for (shape, b, plan) in plans {
        let backend: Arc<dyn Backend> = build_backend(&plan).await?;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            run_with(&plan, backend, stop).await.map(|r| DemoRow {
                shape,
                backend: b,
                summary: r.summary,
            })
        }));
    }
    let mut rows = Vec::new();
    for t in tasks {
        let row = t
            .await
            .map_err(|e| Error::Demo(format!("a demo run failed: {e}")))??;
        rows.push(row);
    }
    signals.abort();
    server.shutdown().await;
    let table = table(&rows, glibc);
    println!("{table}");
    let text = intro + &table;
    Ok(DemoReport { rows, glibc, text })
}

fn table(rows: &[DemoRow], glibc: bool) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<40} {:<18} {:>7} {:>5} {:>8} {:>10} {:>7} {:>7} {:>7} {:>7}",
        "probe",
        "resolver",
        "lookups",
        "ok",
        "nxdomain",
        "wrong_name",
        "timeout",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    for r in rows {
        let probe = match r.shape {
            1 => "drop.test (ndots 1, search name exists)",
            _ => "myservice (ndots 5, bare name NXDOMAIN)",
        };
        let resolver = match r.backend {
            BackendKind::System => "glibc getaddrinfo",
            _ => "stubborn",
        };
        let s = &r.summary;
        let c = &s.classes;
        let _ = writeln!(
            t,
            "{:<40} {:<18} {:>7} {:>5} {:>8} {:>10} {:>7} {:>7.0} {:>7.0} {:>7.0}",
            probe,
            resolver,
            s.queries,
            c.ok,
            c.nxdomain,
            c.wrong_name,
            c.timeout,
            s.latency_ms.p50,
            s.latency_ms.p99,
            s.latency_ms.max
        );
    }
    let sum = |backend: BackendKind, class: Class| -> u64 {
        rows.iter()
            .filter(|r| r.backend == backend)
            .map(|r| r.summary.classes.get(class))
            .sum()
    };
    let _ = writeln!(t);
    if glibc {
        let elapsed: Vec<f64> = rows
            .iter()
            .filter(|r| r.backend == BackendKind::System)
            .flat_map(|r| r.summary.notable.iter())
            .filter(|n| matches!(n.class, Class::WrongName | Class::Nxdomain))
            .map(|n| n.elapsed_ms / 1e3)
            .collect();
        let when = if elapsed.is_empty() {
            String::new()
        } else {
            let lo = elapsed.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = elapsed.iter().copied().fold(0.0, f64::max);
            let range = if hi - lo < 0.005 {
                format!("{hi:.2} s")
            } else {
                format!("{lo:.2}-{hi:.2} s")
            };
            format!(", each after {range} (two lost 1 s attempts)")
        };
        let _ = writeln!(
            t,
            "glibc: {} answers carried the search name's address (drop.test.corp.test for drop.test) and {} \
             lookups of an existing name said \"no such host\"{when}.",
            sum(BackendKind::System, Class::WrongName),
            sum(BackendKind::System, Class::Nxdomain)
        );
    } else {
        let _ = writeln!(
            t,
            "glibc is not this program's C library, so the getaddrinfo column (which redirects \
             glibc's resolver state) cannot run here."
        );
    }
    let stub_lookups: u64 = rows
        .iter()
        .filter(|r| r.backend == BackendKind::Stub)
        .map(|r| r.summary.queries)
        .sum();
    let unrecovered = match sum(BackendKind::Stub, Class::Timeout) {
        0 => "none timed out".to_string(),
        1 => "the 1 it could not recover within two attempts was reported as a timeout".to_string(),
        n => format!("the {n} it could not recover within two attempts were reported as timeouts"),
    };
    let _ = write!(
        t,
        "stubborn: re-sending a lost query once the server's usual reply time has passed, it \
         answered {} of {stub_lookups} lookups; {unrecovered}: a failed candidate stops the \
         search walk, so loss never becomes a wrong address ({}) or NXDOMAIN ({}).",
        sum(BackendKind::Stub, Class::Ok),
        sum(BackendKind::Stub, Class::WrongName),
        sum(BackendKind::Stub, Class::Nxdomain)
    );
    t
}
