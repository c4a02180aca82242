//! `dnsload run`: build the backend, drive the schedule, record, and write the outputs.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::rr::RecordType;

use crate::backend::Backend;
use crate::backend::glibc::Override;
use crate::backend::raw::RawBackend;
use crate::backend::stub::StubBackend;
use crate::backend::system::{SystemBackend, SystemConfig};
use crate::cli::BackendKind;
use crate::error::{Error, Result};
use crate::human;
use crate::netstat::UdpCounters;
use crate::plan::{Plan, Schedule, is_stdout};
use crate::recorder::{self, Identity, Recorder, ms, open_output};
use crate::records::{FailOn, ResolverInfo, SCHEMA, ScheduleInfo, Summary, UdpInfo};
use crate::schedule::{self, Stop};

/// Length of one histogram-log interval.
pub const HLOG_INTERVAL: Duration = Duration::from_secs(5);

/// Exit status when a `--fail-on` class occurred.
pub const EXIT_FAIL_ON: u8 = 3;

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The summary (also written with `--summary-json`).
    pub summary: Summary,
    /// The metrics endpoint's bound address, if one was served.
    pub metrics_addr: Option<SocketAddr>,
    /// 0, or [`EXIT_FAIL_ON`].
    pub exit_code: u8,
}

/// Builds the backend a plan asks for.
pub async fn build_backend(plan: &Plan) -> Result<Arc<dyn Backend>> {
    let r = &plan.resolver;
    Ok(match plan.backend {
        BackendKind::Raw => Arc::new(RawBackend::new(
            &r.servers,
            r.timeout.unwrap_or(Duration::from_secs(1)),
            plan.record_type,
        )?),
        BackendKind::System => {
            let server = match r.servers.first() {
                // A plan built in code gets the same rule as one from flags.
                None if !r.system_config => {
                    return Err(Error::SystemConfigNotAsked(
                        "the system backend with no server",
                    ));
                }
                None => None,
                Some(SocketAddr::V4(v4)) => Some(*v4),
                Some(SocketAddr::V6(v6)) => {
                    return Err(Error::flag(
                        "--server",
                        format!("{v6}: the glibc override supports IPv4 servers only"),
                    ));
                }
            };
            let over = Override {
                server,
                retrans: r.timeout.map(|t| t.as_secs() as u32),
                retry: r.attempts,
                ndots: r.ndots,
                search: r.search.clone(),
            };
            let config = SystemConfig {
                threads: plan.threads,
                deadline: r.deadline,
                family: if plan.record_type == RecordType::AAAA {
                    libc::AF_INET6
                } else {
                    libc::AF_INET
                },
                over,
            };
            let backend = tokio::task::spawn_blocking(move || SystemBackend::start(config))
                .await
                .map_err(|e| {
                    Error::io("starting the system backend", std::io::Error::other(e))
                })??;
            Arc::new(backend)
        }
        BackendKind::Stub => Arc::new(StubBackend::from_plan(plan)?),
    })
}

/// Runs a plan: builds its backend, stops on Ctrl-C.
pub async fn run(plan: &Plan) -> Result<RunReport> {
    let backend = build_backend(plan).await?;
    let stop = Stop::default();
    let signals = stop_on_signals(stop.clone());
    let result = run_with(plan, backend, stop).await;
    signals.abort();
    result
}

/// Stops `stop` on Ctrl-C (SIGINT) or SIGTERM (how Kubernetes ends a pod), so everything
/// recorded is flushed and the summary written before exit.
pub(crate) fn stop_on_signals(stop: Stop) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        stop.stop();
    })
}

/// Runs a plan with a given backend until a bound or `stop`; writes every output.
pub async fn run_with(plan: &Plan, backend: Arc<dyn Backend>, stop: Stop) -> Result<RunReport> {
    let outs = &plan.outputs;
    // Open every output first, so a bad path fails before any traffic.
    let events = outs.events.as_deref().map(open_output).transpose()?;
    let hlog = outs.hlog.as_deref().map(open_output).transpose()?;
    let mut summary_out = outs.summary_json.as_deref().map(open_output).transpose()?;

    let id = Identity {
        run_id: recorder::new_run_id(),
        host: plan.host.clone(),
        backend: backend.name().to_string(),
    };
    let names: Arc<[String]> = Arc::from(plan.names.clone());
    let started_wall = SystemTime::now();
    let started = Instant::now();
    let udp_before = UdpCounters::read();
    let rec = Arc::new(Mutex::new(Recorder::new(
        id.clone(),
        Arc::clone(&names),
        outs.slow,
        events,
        hlog,
        started_wall,
    )?));

    let metrics = match outs.metrics {
        Some(addr) => {
            let served =
                crate::metrics::serve(addr, id.clone(), Arc::clone(&rec), stop.clone()).await?;
            if !outs.quiet {
                eprintln!("dnsload: metrics on http://{}/metrics", served.0);
            }
            Some(served)
        }
        None => None,
    };

    let ticker = {
        let rec = Arc::clone(&rec);
        let stop = stop.clone();
        let progress = !outs.quiet && std::io::stderr().is_terminal();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.tick().await;
            loop {
                every.tick().await;
                let Ok(mut r) = rec.lock() else { return };
                r.tick(SystemTime::now(), HLOG_INTERVAL);
                if r.failed() {
                    stop.stop();
                }
                if progress {
                    let line = human::progress_line(
                        started.elapsed().as_secs_f64(),
                        &r.counts(),
                        &r.latency(),
                    );
                    drop(r);
                    let mut err = std::io::stderr();
                    let _ = err.write_all(line.as_bytes());
                    let _ = err.flush();
                }
            }
        })
    };

    let sink_rec = Arc::clone(&rec);
    let reason = schedule::drive(
        plan.schedule,
        plan.bounds,
        Arc::clone(&backend),
        names,
        stop.clone(),
        move |s| {
            if let Ok(mut r) = sink_rec.lock() {
                r.record(&s);
            }
        },
    )
    .await;
    ticker.abort();
    if !outs.quiet && std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
    let finished = SystemTime::now();
    let udp = match (udp_before, UdpCounters::read()) {
        (Some(before), Some(after)) => UdpInfo {
            available: true,
            delta: after.since(before),
        },
        _ => UdpInfo {
            available: false,
            delta: UdpCounters::default(),
        },
    };
    let (metrics_addr, metrics_task) = match metrics {
        Some((a, t)) => (Some(a), Some(t)),
        None => (None, None),
    };

    let (flush, summary) = {
        let mut r = rec.lock().map_err(|_| {
            Error::io(
                "recorder",
                std::io::Error::other("a recording thread panicked"),
            )
        })?;
        let flush = r.finish(finished);
        let counts = r.counts();
        let (late_starts, max_delay) = r.late_starts();
        let (notable, notable_dropped) = r.notable();
        let triggered = outs.fail_on.iter().any(|c| counts.get(*c) > 0);
        let summary = Summary {
            schema: SCHEMA,
            kind: "summary".into(),
            run_id: id.run_id.clone(),
            host: id.host.clone(),
            backend: id.backend.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            started: recorder::rfc3339(started_wall),
            started_unix_ms: recorder::unix_ms(started_wall),
            duration_s: (started.elapsed().as_secs_f64() * 1e3).round() / 1e3,
            stopped_by: reason.as_str().into(),
            names: plan.names.clone(),
            record_type: plan.record_type.to_string(),
            resolver: resolver_info(plan),
            schedule: schedule_info(plan.schedule, late_starts, ms(max_delay)),
            queries: counts.total(),
            classes: counts,
            latency_ms: r.latency(),
            notable: notable.to_vec(),
            notable_dropped,
            events_written: r.events_written(),
            udp,
            backend_info: backend.info(),
            fail_on: FailOn {
                classes: outs.fail_on.clone(),
                triggered,
            },
        };
        (flush, summary)
    };
    if let Some(t) = metrics_task {
        t.abort();
    }
    if let Some(out) = summary_out.as_mut() {
        // One line on stdout (where it may share a log stream with events), pretty in a file.
        let one_line = outs.summary_json.as_deref().is_some_and(is_stdout);
        if one_line {
            serde_json::to_writer(&mut *out, &summary)
        } else {
            serde_json::to_writer_pretty(&mut *out, &summary)
        }
        .map_err(std::io::Error::other)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot write the summary", e))?;
    }
    if !outs.quiet {
        let text = human::summary_text(&summary);
        let written = if outs.stdout_taken() {
            std::io::stderr().write_all(text.as_bytes())
        } else {
            let mut o = std::io::stdout();
            o.write_all(text.as_bytes()).and_then(|()| o.flush())
        };
        if let Err(e) = written
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(Error::io("cannot print the summary", e));
        }
    }
    flush?;
    Ok(RunReport {
        exit_code: if summary.fail_on.triggered {
            EXIT_FAIL_ON
        } else {
            0
        },
        summary,
        metrics_addr,
    })
}

fn resolver_info(plan: &Plan) -> ResolverInfo {
    let r = &plan.resolver;
    ResolverInfo {
        servers: r.servers.iter().map(|s| s.to_string()).collect(),
        resolv_conf: r.resolv_conf.as_ref().map(|p| p.display().to_string()),
        search: r.search.clone(),
        ndots: r.ndots,
        timeout_ms: r.timeout.map(ms),
        attempts: r.attempts,
        deadline_ms: ms(r.deadline),
    }
}

fn schedule_info(s: Schedule, late_starts: u64, max_start_delay_ms: f64) -> ScheduleInfo {
    match s {
        Schedule::Closed { workers, pause } => ScheduleInfo {
            kind: "closed".into(),
            workers: Some(workers),
            pause_ms: Some(ms(pause)),
            rate: None,
            max_in_flight: None,
            late_starts,
            max_start_delay_ms,
        },
        Schedule::Open {
            rate,
            max_in_flight,
        } => ScheduleInfo {
            kind: "open".into(),
            workers: None,
            pause_ms: None,
            rate: Some(rate),
            max_in_flight: Some(max_in_flight),
            late_starts,
            max_start_delay_ms,
        },
    }
}
