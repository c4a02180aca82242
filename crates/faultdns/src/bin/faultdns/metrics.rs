//! A minimal HTTP endpoint serving the counters in Prometheus text format.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use faultdns::Server;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::timeout,
};

/// Bind the endpoint; serving runs until the returned task is aborted.
pub async fn start(
    addr: SocketAddr,
    server: Arc<Server>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
    Ok(tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        let server = server.clone();
                        conns.spawn(async move {
                            let _ = timeout(Duration::from_secs(5), respond(stream, &server)).await;
                        });
                    }
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    }))
}

async fn respond(mut stream: TcpStream, server: &Server) -> std::io::Result<()> {
    let mut req = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let path = std::str::from_utf8(&req)
        .ok()
        .and_then(|r| r.split_whitespace().nth(1))
        .unwrap_or("");
    let (status, body) = if path == "/metrics" || path == "/" {
        ("200 OK", server.counters().prometheus_text())
    } else {
        ("404 Not Found", "not found; try /metrics\n".to_string())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
