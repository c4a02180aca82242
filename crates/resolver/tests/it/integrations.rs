//! HTTP clients resolving through stubborn: reqwest (feature `reqwest`) and hyper-util's
//! connector (feature `hyper-util`), against a local HTTP server whose name faultdns serves,
//! all on loopback.

#![cfg(any(feature = "reqwest", feature = "hyper-util"))]

use std::net::SocketAddr;
use std::time::Duration;

use stubborn::{Config, Resolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A minimal HTTP/1.1 server on 127.0.0.1: answers every request `200 OK` with body `ok` and
/// closes the connection, so each request needs a new connection (and a new lookup).
struct HttpServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl HttpServer {
    async fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
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
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = stream.write_all(reply).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        HttpServer { addr, task }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// faultdns serving `app.test.` as 127.0.0.1 (no AAAA: NODATA), with `rules`.
async fn dns(rules: &[&str]) -> faultdns::Server {
    let mut builder = faultdns::Server::builder()
        .record("app.test. 60 A 127.0.0.1")
        .expect("record")
        .seed(11);
    for rule in rules {
        builder = builder.rule(rule).expect("rule");
    }
    builder.start().await.expect("faultdns")
}

/// A resolver for `server`, no hosts file; no cache, so that every connection asks.
fn resolver(server: &faultdns::Server, deadline: Duration) -> Resolver {
    let config = Config::new(vec![server.addr()])
        .with_hosts_file(None)
        .with_cache(None)
        .with_deadline(deadline);
    Resolver::new(config).expect("valid")
}

#[cfg(feature = "reqwest")]
mod reqwest_client {
    use super::*;

    fn client(resolver: Resolver) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(resolver)
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client")
    }

    /// 100 fetches through a DNS server losing 30% of the queries: 100 successes, each after
    /// its own lookup.
    #[tokio::test]
    async fn a_hundred_fetches_through_30_percent_loss() {
        let http = HttpServer::start().await;
        let server = dns(&["drop p=0.3"]).await;
        let client = client(resolver(&server, Duration::from_secs(5)));
        let url = format!("http://app.test:{}/", http.addr.port());
        for i in 0..100 {
            let response = client
                .get(&url)
                .send()
                .await
                .unwrap_or_else(|e| panic!("fetch {i}: {e:?}"));
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.expect("body"), "ok");
        }
        let counters = server.counters();
        let dropped: u64 = counters.rules.iter().map(|r| r.fired).sum();
        assert!(dropped > 30, "the loss happened: {dropped} dropped");
        assert!(
            server.queries_for("app.test.") >= 200,
            "every fetch resolved, A and AAAA"
        );
    }

    /// The name dropped entirely: reqwest's error is a timeout (and a DNS error), not "no such
    /// host"; a name that does not exist is "no such host", not a timeout.
    #[tokio::test]
    async fn a_dropped_name_is_a_timeout_not_no_such_host() {
        let http = HttpServer::start().await;
        let server = dns(&["drop name=app.test."]).await;
        let client = client(resolver(&server, Duration::from_millis(400)));
        let url = format!("http://app.test:{}/", http.addr.port());
        let e = client.get(&url).send().await.expect_err("no answer");
        assert!(e.is_timeout(), "reqwest sees a timeout: {e:?}");
        assert!(e.is_connect());
        let dns = stubborn::Error::find(&e).expect("the stubborn error inside");
        assert!(dns.is_timeout() && !dns.is_not_found(), "{dns}");
        assert!(!format!("{e:?}").contains("does not exist"));

        let url = format!("http://missing.test:{}/", http.addr.port());
        let e = client.get(&url).send().await.expect_err("nxdomain");
        assert!(!e.is_timeout(), "{e:?}");
        let dns = stubborn::Error::find(&e).expect("the stubborn error inside");
        assert!(dns.is_not_found() && !dns.is_timeout(), "{dns}");
    }
}

#[cfg(feature = "hyper-util")]
mod hyper_client {
    use super::*;
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;

    #[tokio::test]
    async fn hyper_fetches_through_stubborn() {
        let http = HttpServer::start().await;
        let server = dns(&["drop p=0.3"]).await;
        let connector = HttpConnector::new_with_resolver(resolver(&server, Duration::from_secs(5)));
        let client: Client<_, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(connector);
        let uri: hyper::Uri = format!("http://app.test:{}/", http.addr.port())
            .parse()
            .expect("uri");
        for _ in 0..20 {
            let response = client.get(uri.clone()).await.expect("fetch");
            assert_eq!(response.status(), 200);
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            assert_eq!(&body[..], b"ok");
        }
        // A timeout reaches the caller as a connect error whose source is a TimedOut io::Error.
        server.set_rules(vec!["drop".parse().expect("rule")]);
        let connector =
            HttpConnector::new_with_resolver(resolver(&server, Duration::from_millis(300)));
        let client: Client<_, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(connector);
        let e = client.get(uri).await.expect_err("no answer");
        let dns = stubborn::Error::find(&e).expect("the stubborn error inside");
        assert!(dns.is_timeout(), "{dns}");
    }
}
