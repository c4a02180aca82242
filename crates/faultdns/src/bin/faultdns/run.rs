//! Serve a plan until Ctrl-C or SIGTERM, then print the counters.

use std::sync::Arc;

use anyhow::Context as _;
use faultdns::Counters;

use crate::{metrics, plan::Plan};

pub fn run(mut plan: Plan) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Signal handlers first, so a signal during start-up is not lost.
        let mut signals = Signals::new()?;
        let builder = plan.builder()?;
        let server = Arc::new(builder.start().await?);
        let addrs: Vec<String> = server.addrs().iter().map(|a| a.to_string()).collect();
        let forwarding = !plan.upstreams.is_empty();
        let upstreams: Vec<String> = plan.upstreams.iter().map(|a| a.to_string()).collect();
        eprintln!(
            "faultdns: serving on {} (udp+tcp), {} rule(s), seed {}{}",
            addrs.join(", "),
            plan.rules.len(),
            server.seed(),
            if forwarding {
                format!(", forwarding to {}", upstreams.join(", "))
            } else {
                String::new()
            }
        );
        let metrics = match plan.metrics {
            Some(addr) => {
                let task = metrics::start(addr, server.clone(), forwarding).await?;
                eprintln!(
                    "faultdns: metrics on http://{addr}/metrics, control on \
                     http://{addr}/rules (GET, PUT) and /counters"
                );
                Some(task)
            }
            None => None,
        };
        while signals.recv().await == Got::Hangup {
            reload(&plan, &server);
        }
        // A second stop signal while shutting down ends the process at once.
        tokio::spawn(async move {
            while signals.recv().await == Got::Hangup {}
            eprintln!("faultdns: second signal, exiting without waiting");
            std::process::exit(130);
        });
        if let Some(task) = metrics {
            task.abort();
            let _ = task.await;
        }
        let server = Arc::try_unwrap(server).map_err(|_| anyhow::anyhow!("server still shared"))?;
        let counters = server.counters();
        server.shutdown().await;
        eprint!("{}", summary(&counters));
        Ok(())
    })
}

/// SIGHUP: read the config file again and apply its rules (and the --rule flags after them),
/// all at once; on any error keep the rules in force and say why.
fn reload(plan: &Plan, server: &faultdns::Server) {
    let Some(config) = &plan.config else {
        eprintln!("faultdns: SIGHUP: no --config to read again; rules unchanged");
        return;
    };
    match plan.reload_rules() {
        Ok(rules) => {
            let n = rules.len();
            server.set_rules(rules);
            eprintln!(
                "faultdns: SIGHUP: {n} rule(s) from {} and the flags now in force (other \
                 settings take effect at restart)",
                config.display()
            );
        }
        Err(e) => eprintln!("faultdns: SIGHUP: {}; rules unchanged", crate::describe(&e)),
    }
}

/// What a signal asks for.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Stop,
    Hangup,
}

/// Ctrl-C (SIGINT) and SIGTERM stop; SIGHUP reloads.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            hup: signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?,
        })
    }

    async fn recv(&mut self) -> Got {
        tokio::select! {
            _ = self.int.recv() => Got::Stop,
            _ = self.term.recv() => Got::Stop,
            _ = self.hup.recv() => Got::Hangup,
        }
    }
}

fn summary(c: &Counters) -> String {
    let mut s = format!(
        "faultdns: {} queries; formerr {}, ignored {}, notimp {}, refused {}, truncated {}, \
         overload {}; tcp connections {} (cut off {}, rejected {}); log lines lost {}\n",
        c.queries,
        c.formerr,
        c.ignored,
        c.notimp,
        c.refused,
        c.truncated,
        c.overload,
        c.tcp_connections,
        c.tcp_closed_bad,
        c.tcp_rejected,
        c.log_dropped,
    );
    if c.forwarded > 0 || c.upstream_wrong_id > 0 {
        s.push_str(&format!(
            "faultdns: forwarded {}: answered {}, timeout {}, garbage {}, oversize {}, tcp closed \
             {}, unreachable {}, overload {}; replies matching no query {}\n",
            c.forwarded,
            c.upstream_answered,
            c.upstream_timeout,
            c.upstream_garbage,
            c.upstream_oversize,
            c.upstream_tcp_closed,
            c.upstream_unreachable,
            c.upstream_overload,
            c.upstream_wrong_id,
        ));
    }
    for (i, r) in c.rules.iter().enumerate() {
        s.push_str(&format!(
            "  rule {i} `{}`: matched {}, fired {}\n",
            r.rule, r.matched, r.fired
        ));
    }
    s
}
