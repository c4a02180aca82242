//! hyper-util's client resolving through stubborn (`HttpConnector::new_with_resolver`): a local
//! HTTP server, its name served by an in-process faultdns that loses 30% of the queries,
//! everything on loopback.
//!
//! ```sh
//! cargo run -p stubborn --example hyper --features hyper-util
//! ```

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let http = http_server().await?;
    let dns = faultdns::Server::builder()
        .record("app.example. 60 A 127.0.0.1")?
        .rule("drop p=0.3")?
        .start()
        .await?;

    // The adoption: the resolver is the connector's resolver.
    let config = stubborn::Config::new(vec![dns.addr()])
        .with_hosts_file(None)
        .with_deadline(Duration::from_secs(2));
    let resolver = stubborn::Resolver::new(config)?;
    let connector = HttpConnector::new_with_resolver(resolver.clone());
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);

    let uri: hyper::Uri = format!("http://app.example:{}/", http.port()).parse()?;
    for i in 1..=5 {
        let start = Instant::now();
        let response = client.get(uri.clone()).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        println!(
            "fetch {i}: {status} {:?} in {:.1} ms",
            String::from_utf8_lossy(&body),
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
    let stats = resolver.cache_stats();
    println!(
        "cache: {} hits, {} misses; queries sent: {}",
        stats.hits,
        stats.misses,
        dns.queries_for("app.example.")
    );
    Ok(())
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
