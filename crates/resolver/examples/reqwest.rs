//! reqwest resolving through stubborn: a local HTTP server, its name served by an in-process
//! faultdns that loses 30% of the queries, everything on loopback.
//!
//! ```sh
//! cargo run -p stubborn --example reqwest --features reqwest
//! ```

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let http = http_server().await?;
    // The DNS server: app.example is 127.0.0.1; 30% of queries are lost; gone.example is
    // dropped entirely.
    let dns = faultdns::Server::builder()
        .record("app.example. 60 A 127.0.0.1")?
        .rule("drop name=gone.example.")?
        .rule("drop p=0.3")?
        .start()
        .await?;

    // The adoption: a stubborn resolver (here aimed at our own server rather than
    // `Config::system()`), handed to reqwest.
    let config = stubborn::Config::new(vec![dns.addr()])
        .with_hosts_file(None)
        .with_deadline(Duration::from_secs(2));
    let resolver = stubborn::Resolver::new(config)?;
    let client = reqwest::Client::builder()
        .dns_resolver(resolver.clone())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()?;

    let url = format!("http://app.example:{}/", http.port());
    for i in 1..=5 {
        let start = Instant::now();
        let response = client.get(&url).send().await?;
        let status = response.status();
        let body = response.text().await?;
        println!("fetch {i}: {status} {body:?} in {:.1} ms", ms(start));
    }
    let stats = resolver.cache_stats();
    println!(
        "cache: {} hits, {} misses; queries sent: {}",
        stats.hits,
        stats.misses,
        dns.queries_for("app.example.")
    );

    // A name whose queries are all lost: reqwest reports a timeout, not "no such host".
    let start = Instant::now();
    let url = format!("http://gone.example:{}/", http.port());
    let error = client.get(&url).send().await.expect_err("no answer");
    let dns_error = stubborn::Error::find(&error).expect("a stubborn error inside");
    println!(
        "gone.example after {:.0} ms: is_timeout() = {}, is_not_found() = {}: {dns_error}",
        ms(start),
        error.is_timeout(),
        dns_error.is_not_found(),
    );
    Ok(())
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// A minimal HTTP/1.1 server on 127.0.0.1 answering `200 OK` with `hello`.
async fn http_server() -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let reply =
                    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
                let _ = stream.write_all(reply).await;
            });
        }
    });
    Ok(addr)
}
