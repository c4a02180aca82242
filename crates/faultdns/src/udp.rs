//! The UDP receive loop: one task per socket (several sockets share a port), own buffers.

use std::{io, net::SocketAddr, sync::Arc};

use tokio::{net::UdpSocket, sync::watch};

use crate::{
    handler::{Reply, Scratch, Shared, Target, stopped},
    rule::Proto,
};

/// Datagrams handled in a row before a task checks for shutdown again.
const BATCH: usize = 64;

pub(crate) async fn serve(
    shared: Arc<Shared>,
    sock: Arc<UdpSocket>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 65_535];
    let mut s = Scratch::default();
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut shutdown) => return,
            r = sock.readable() => if r.is_err() { return },
        }
        for _ in 0..BATCH {
            let (n, peer) = match sock.try_recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // ICMP errors for earlier replies surface here; they concern no one now.
                Err(_) => continue,
            };
            match shared.handle(&buf[..n], Proto::Udp, peer, &mut s) {
                Reply::None => {}
                Reply::Now => send(&sock, &s.out, peer).await,
                Reply::After(delay) => {
                    shared.send_later(delay, s.out.clone(), Target::Udp(sock.clone(), peer))
                }
            }
        }
    }
}

async fn send(sock: &UdpSocket, bytes: &[u8], peer: SocketAddr) {
    match sock.try_send_to(bytes, peer) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            let _ = sock.send_to(bytes, peer).await;
        }
        _ => {}
    }
}
