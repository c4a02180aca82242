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
        wait_for_signal().await?;
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

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
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
