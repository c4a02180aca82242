//! The server process: faultdns (the library, the same code as the `faultdns` binary) in its own
//! process, pinned to its own CPU, controlled over stdin/stdout with one JSON line per message.
//!
//! A separate process keeps the server's CPU out of the resolvers' `getrusage` figures and lets
//! the parent read the server's own CPU time from `/proc`, to show it is not the bottleneck.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use crate::plan::SUFFIX;

/// The IPv4 address synthesised for every name.
pub const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The IPv6 address synthesised for every name.
pub const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

/// A request from the parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// Replace the rules (their counters restart).
    Rules {
        /// Rules in faultdns syntax.
        rules: Vec<String>,
    },
    /// Report the counters.
    Counters,
}

/// The server's reply to a request (and its first line, with `addr`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    /// The bound address (first line only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    /// Queries seen since start.
    #[serde(default)]
    pub queries: u64,
    /// Queries dropped for being over faultdns's load limits.
    #[serde(default)]
    pub overload: u64,
    /// Per rule: (matched, fired).
    #[serde(default)]
    pub rules: Vec<(u64, u64)>,
    /// An error, if the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Serve on `listen` until stdin closes. Runs on a current-thread runtime pinned to `cpu`.
pub fn run(listen: SocketAddr, cpu: Option<usize>) -> anyhow::Result<()> {
    anyhow::ensure!(
        listen.ip().is_loopback(),
        "the benchmark server listens on loopback only, not {listen}"
    );
    if let Some(cpu) = cpu {
        crate::sys::pin_to_cpu(cpu).with_context(|| format!("pinning the server to CPU {cpu}"))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the server runtime")?;
    runtime.block_on(serve(listen))
}

async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let server = faultdns::Server::builder()
        .synthesize(SUFFIX, V4, Some(V6))
        .context("synthesis suffix")?
        .seed(6)
        .udp_tasks(1)
        .listen(listen)
        .start()
        .await
        .context("starting faultdns")?;
    let mut stdout = tokio::io::stdout();
    let hello = Reply {
        addr: Some(server.addr()),
        ..counters(&server)
    };
    write_line(&mut stdout, &hello).await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.context("reading stdin")? {
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Counters) => counters(&server),
            Ok(Request::Rules { rules }) => {
                match rules
                    .iter()
                    .map(|r| r.parse())
                    .collect::<Result<Vec<_>, _>>()
                {
                    Ok(parsed) => {
                        server.set_rules(parsed);
                        counters(&server)
                    }
                    Err(e) => Reply {
                        error: Some(e.to_string()),
                        ..Reply::default()
                    },
                }
            }
            Err(e) => Reply {
                error: Some(format!("bad request {line:?}: {e}")),
                ..Reply::default()
            },
        };
        write_line(&mut stdout, &reply).await?;
    }
    server.shutdown().await;
    Ok(())
}

fn counters(server: &faultdns::Server) -> Reply {
    let c = server.counters();
    Reply {
        addr: None,
        queries: c.queries,
        overload: c.overload,
        rules: c.rules.iter().map(|r| (r.matched, r.fired)).collect(),
        error: None,
    }
}

async fn write_line(out: &mut tokio::io::Stdout, reply: &Reply) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(reply)?;
    line.push(b'\n');
    out.write_all(&line).await?;
    out.flush().await?;
    Ok(())
}
