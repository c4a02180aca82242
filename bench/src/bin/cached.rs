//! Cached lookups: stubborn with its cache (on by default) against hickory-resolver with its
//! cache on (its default 8,192 entries), both asking `lookup_ip` of names already cached, 64
//! lookups in flight, on a current-thread runtime as the main benchmark's workers; then the
//! memory one cached name (its A and AAAA entries) costs each, measured in a fresh process per
//! peer from the growth of its resident set while filling the cache.
//!
//! Apart from the main benchmark (`stubborn-bench all`), whose peers run with caches off:
//!
//! ```sh
//! cargo run --release -p stubborn-bench --bin cached -- [SECONDS] [ROUNDS] [PEER]
//! ```
//!
//! The DNS server is faultdns, in this process, on 127.0.0.1 (answers for `*.bench.test.`).
//! After the warm-up no query reaches it: the figures are the caches' own.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

/// Lookups in flight.
const CONCURRENCY: usize = 64;
/// Distinct names looked up in the throughput test (all cached after the warm-up).
const NAMES: usize = 100;
/// Names cached in the memory test: within both caches' default bound (8,192 entries, two per
/// name for A and AAAA), so nothing is evicted.
const MEMORY_NAMES: usize = 4_000;

#[derive(Clone, Copy, Debug)]
enum Peer {
    Stubborn,
    Hickory,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Stubborn => "stubborn",
            Peer::Hickory => "hickory",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Peer> {
        match text {
            "stubborn" => Ok(Peer::Stubborn),
            "hickory" => Ok(Peer::Hickory),
            other => bail!("unknown peer {other:?}"),
        }
    }
}

/// Either resolver, with a `lookup_ip` that says whether it answered.
enum Resolver {
    Stubborn(stubborn::Resolver),
    Hickory(Box<TokioResolver>),
}

impl Resolver {
    fn new(peer: Peer, server: SocketAddr) -> anyhow::Result<Resolver> {
        Ok(match peer {
            Peer::Stubborn => {
                let config = stubborn::Config::new(vec![server]).with_hosts_file(None);
                Resolver::Stubborn(stubborn::Resolver::new(config)?)
            }
            Peer::Hickory => {
                let mut ns = NameServerConfig::udp_and_tcp(server.ip());
                for conn in &mut ns.connections {
                    conn.port = server.port();
                }
                let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
                let mut builder =
                    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
                let opts = builder.options_mut();
                // The cache at its default size; only the hosts file is left out, as for stubborn.
                opts.use_hosts_file = ResolveHosts::Never;
                opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
                Resolver::Hickory(Box::new(builder.build().context("building hickory")?))
            }
        })
    }

    async fn lookup_ip(&self, name: &str) -> bool {
        match self {
            Resolver::Stubborn(r) => r.lookup_ip(name).await.is_ok(),
            Resolver::Hickory(r) => r.lookup_ip(name).await.is_ok(),
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Cached `lookup_ip`s per second over `seconds`, `CONCURRENCY` in flight.
fn throughput(peer: Peer, server: SocketAddr, seconds: f64) -> anyhow::Result<f64> {
    let rt = runtime()?;
    rt.block_on(async {
        let resolver = Rc::new(Resolver::new(peer, server)?);
        let names: Rc<Vec<String>> =
            Rc::new((0..NAMES).map(|i| format!("n{i}.bench.test.")).collect());
        for name in names.iter() {
            anyhow::ensure!(
                resolver.lookup_ip(name).await,
                "{}: warm-up failed",
                peer.name()
            );
        }
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let local = tokio::task::LocalSet::new();
        let mut tasks = Vec::new();
        for t in 0..CONCURRENCY {
            let (resolver, names) = (resolver.clone(), names.clone());
            tasks.push(local.spawn_local(async move {
                let (mut done, mut failed) = (0u64, 0u64);
                let mut i = t;
                while Instant::now() < until {
                    // A batch between clock reads.
                    for _ in 0..64 {
                        if !resolver.lookup_ip(&names[i % NAMES]).await {
                            failed += 1;
                        }
                        done += 1;
                        i += 7;
                    }
                    tokio::task::yield_now().await;
                }
                (done, failed)
            }));
        }
        let (mut done, mut failed) = (0u64, 0u64);
        local
            .run_until(async {
                for task in tasks {
                    let (d, f) = task.await.expect("task");
                    done += d;
                    failed += f;
                }
            })
            .await;
        anyhow::ensure!(failed == 0, "{}: {failed} lookups failed", peer.name());
        Ok(done as f64 / start.elapsed().as_secs_f64())
    })
}

/// Resident set size of this process, in bytes.
fn rss() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm.split_whitespace().nth(1).context("statm")?.parse()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page).unwrap_or(4096))
}

/// In a child process: bytes of resident memory per cached name (A and AAAA).
fn memory_child(peer: Peer, server: SocketAddr) -> anyhow::Result<f64> {
    let rt = runtime()?;
    rt.block_on(async {
        let resolver = Resolver::new(peer, server)?;
        // Sockets, first-use allocations and the runtime's warm-up before the baseline.
        for i in 0..200 {
            resolver.lookup_ip(&format!("warm{i}.bench.test.")).await;
        }
        let before = rss()?;
        for i in 0..MEMORY_NAMES {
            anyhow::ensure!(
                resolver.lookup_ip(&format!("m{i}.bench.test.")).await,
                "lookup failed"
            );
        }
        let after = rss()?;
        // Still cached: a second pass sends nothing.
        Ok(after.saturating_sub(before) as f64 / MEMORY_NAMES as f64)
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--memory-child") {
        let peer = Peer::parse(args.get(1).context("peer")?)?;
        let server: SocketAddr = args.get(2).context("server")?.parse()?;
        println!("{}", memory_child(peer, server)?);
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("--count") {
        // Profiling aid: N cached lookups, one at a time, after the warm-up (run under
        // callgrind: `cached --count N PEER SERVER`).
        let n: usize = args.get(1).context("count")?.parse()?;
        let peer = Peer::parse(args.get(2).context("peer")?)?;
        let server: SocketAddr = args.get(3).context("server")?.parse()?;
        return runtime()?.block_on(async {
            let resolver = Resolver::new(peer, server)?;
            let names: Vec<String> = (0..NAMES).map(|i| format!("n{i}.bench.test.")).collect();
            for name in &names {
                resolver.lookup_ip(name).await;
            }
            for i in 0..n {
                anyhow::ensure!(resolver.lookup_ip(&names[i % NAMES]).await, "lookup failed");
            }
            Ok(())
        });
    }
    let seconds: f64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let rounds: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let peers = match args.get(2) {
        Some(one) => vec![Peer::parse(one)?],
        None => vec![Peer::Stubborn, Peer::Hickory],
    };

    // The server, on its own thread's runtime.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = runtime().expect("runtime");
        rt.block_on(async {
            let server = faultdns::Server::builder()
                .synthesize(
                    "bench.test.",
                    Ipv4Addr::new(192, 0, 2, 1),
                    Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                )
                .expect("synthesis")
                .listen("127.0.0.1:0".parse().expect("addr"))
                .start()
                .await
                .expect("faultdns");
            tx.send(server.addr()).expect("send");
            std::future::pending::<()>().await;
        });
    });
    let server = rx.recv()?;
    if let Ok(seconds) = std::env::var("CACHED_SERVE_ONLY") {
        // Profiling aid: only the server, for `--count` runs in another process.
        println!("{server}");
        std::thread::sleep(Duration::from_secs(seconds.parse()?));
        return Ok(());
    }

    println!(
        "cached lookup_ip, c={CONCURRENCY}, {NAMES} names, {seconds} s x {rounds} rounds \
         (current-thread runtime)"
    );
    let mut rates = vec![Vec::new(); peers.len()];
    for _ in 0..rounds {
        for (i, &peer) in peers.iter().enumerate() {
            rates[i].push(throughput(peer, server, seconds)?);
        }
    }
    for (peer, rates) in peers.iter().zip(&rates) {
        let mut sorted = rates.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "  {:<9} {:>10.0} lookups/s (median; rounds {})",
            peer.name(),
            sorted[sorted.len() / 2],
            sorted
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("memory per cached name (A and AAAA entries), {MEMORY_NAMES} names, own process:");
    let exe = std::env::current_exe()?;
    for &peer in &peers {
        let out = Command::new(&exe)
            .args(["--memory-child", peer.name(), &server.to_string()])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}: {}",
            peer.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes: f64 = String::from_utf8(out.stdout)?.trim().parse()?;
        println!("  {:<9} {:>7.0} bytes", peer.name(), bytes);
    }
    Ok(())
}
