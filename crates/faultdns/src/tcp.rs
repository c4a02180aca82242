//! TCP: an accept loop, and per connection a reader and a writer joined in one task.
//!
//! A connection is closed when it idles or stalls mid-message longer than the idle timeout,
//! sends a length prefix below a DNS header's size, or does not read its replies in time.
//! Replies are written in the order they are ready, so a delayed reply does not hold up the
//! replies to later queries on the same connection.

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, mpsc, watch},
    time::timeout,
};

use crate::{
    counters::Live,
    forward_tcp,
    handler::{Reply, Scratch, Shared, Target, stopped},
    rule::Proto,
    upstream::Forward,
};

/// Replies queued per connection before the reader waits for the writer.
const QUEUE: usize = 32;

pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = stopped(&mut shutdown) => return,
            r = listener.accept() => match r {
                Ok(got) => got,
                Err(_) => {
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = shared.tcp_slots.clone().try_acquire_owned() else {
            Live::bump(&shared.live.tcp_rejected);
            continue;
        };
        Live::bump(&shared.live.tcp_connections);
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(shared.clone(), stream, peer, permit));
    }
}

async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let _permit = permit;
    let mut shutdown = shared.shutdown.clone();
    let idle = shared.tcp_idle;
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    let reader = async {
        let tx = tx;
        let mut s = Scratch::default();
        let mut buf = Vec::new();
        // The upstream task of this connection, started at the first forwarded query.
        let mut upstream: Option<mpsc::Sender<Box<Forward>>> = None;
        loop {
            let mut len = [0u8; 2];
            match timeout(idle, rd.read_exact(&mut len)).await {
                Ok(Ok(_)) => {}
                // A clean close between messages.
                Ok(Err(_)) => return,
                Err(_) => {
                    Live::bump(&shared.live.tcp_closed_bad);
                    return;
                }
            }
            let n = usize::from(u16::from_be_bytes(len));
            if n < 12 {
                Live::bump(&shared.live.tcp_closed_bad);
                return;
            }
            buf.resize(n, 0);
            if !matches!(timeout(idle, rd.read_exact(&mut buf)).await, Ok(Ok(_))) {
                Live::bump(&shared.live.tcp_closed_bad);
                return;
            }
            let reply = match shared.handle(&buf, Proto::Tcp, peer, &mut s) {
                Reply::None => continue,
                Reply::Forward(fwd) => {
                    let up = upstream.get_or_insert_with(|| {
                        let (up_tx, up_rx) = mpsc::channel(forward_tcp::QUEUE);
                        tokio::spawn(forward_tcp::serve(shared.clone(), up_rx, tx.clone()));
                        up_tx
                    });
                    if up.send(fwd).await.is_err() {
                        return;
                    }
                    continue;
                }
                other => other,
            };
            let mut framed = Vec::with_capacity(s.out.len() + 2);
            framed.extend_from_slice(&(s.out.len() as u16).to_be_bytes());
            framed.extend_from_slice(&s.out);
            match reply {
                Reply::After(delay) => shared.send_later(delay, framed, Target::Tcp(tx.clone())),
                _ => {
                    if tx.send(framed).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writer = async {
        while let Some(bytes) = rx.recv().await {
            if !matches!(timeout(idle, wr.write_all(&bytes)).await, Ok(Ok(()))) {
                Live::bump(&shared.live.tcp_closed_bad);
                return;
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(reader, writer) } => {}
        () = stopped(&mut shutdown) => {}
    }
}
