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
        eprintln!(
            "faultdns: serving on {} (udp+tcp), {} rule(s), seed {}",
            addrs.join(", "),
            plan.rules.len(),
            server.seed()
        );
        let metrics = match plan.metrics {
            Some(addr) => {
                let task = metrics::start(addr, server.clone()).await?;
                eprintln!("faultdns: metrics on http://{addr}/metrics");
                Some(task)
            }
            None => None,
        };
        signals.recv().await;
        // A second signal while shutting down ends the process at once.
        tokio::spawn(async move {
            signals.recv().await;
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

/// Ctrl-C (SIGINT) and SIGTERM.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
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
    for (i, r) in c.rules.iter().enumerate() {
        s.push_str(&format!(
            "  rule {i} `{}`: matched {}, fired {}\n",
            r.rule, r.matched, r.fired
        ));
    }
    s
}
