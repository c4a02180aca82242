//! The UDP receive loop: one OS thread per socket (several sockets share a port), blocking
//! receive and send like Unbound's workers, with its own buffers.
//!
//! Threads rather than tokio tasks: a blocking receive costs one system call per datagram and
//! no reactor wake-ups, and the server keeps answering even when the caller's runtime thread
//! is busy (a `current_thread` test runtime doing blocking work). Delayed replies are handed
//! to the tokio runtime the server was started on. Shutdown sets a flag and shuts the sockets
//! for reading, which wakes a blocked receive at once.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::{Arc, atomic::Ordering},
};

use crate::{
    forward_udp::UdpUpstream,
    handler::{Reply, Scratch, Shared, Target},
    rule::Proto,
};

/// Serve one listening socket; `upstreams` are this socket's ways to the upstreams (several
/// sockets per upstream address, taken in turn; empty without forwarding).
pub(crate) fn serve(shared: Arc<Shared>, sock: Arc<UdpSocket>, upstreams: Vec<Arc<UdpUpstream>>) {
    let mut s = Scratch::default();
    let mut fwd = Via {
        upstreams: &upstreams,
        next: 0,
        buf: Vec::with_capacity(512),
    };
    if !upstreams.is_empty() {
        crate::forward_udp::serve(&shared, &sock, &upstreams, |msg, peer| {
            respond(&shared, &sock, &mut fwd, msg, peer, &mut s)
        });
        return;
    }
    let mut buf = vec![0u8; 65_535];
    while !shared.stopping.load(Ordering::Relaxed) {
        let Some((n, peer)) = recv_from(&sock, &mut buf) else {
            // ICMP errors for earlier replies surface here; they concern no one now. After
            // shutdown the socket reports errors or empty reads; the loop condition ends it.
            continue;
        };
        respond(&shared, &sock, &mut fwd, &buf[..n], peer, &mut s);
    }
}

/// Where a listening thread forwards: its upstream sockets, whose turn is next, scratch space.
struct Via<'a> {
    upstreams: &'a [Arc<UdpUpstream>],
    next: usize,
    buf: Vec<u8>,
}

/// Handle one datagram from a client: reply now, later, or send it upstream.
fn respond(
    shared: &Shared,
    sock: &Arc<UdpSocket>,
    via: &mut Via<'_>,
    msg: &[u8],
    peer: SocketAddr,
    s: &mut Scratch,
) {
    match shared.handle(msg, Proto::Udp, peer, s) {
        Reply::None => {}
        Reply::Now => {
            let _ = sock.send_to(&s.out, peer);
        }
        Reply::After(delay) => {
            shared.send_later(delay, s.out.clone(), Target::Udp(sock.clone(), peer))
        }
        Reply::Forward(fwd) => {
            if !via.upstreams.is_empty() {
                via.next = via.next.wrapping_add(1);
                via.upstreams[via.next % via.upstreams.len()].forward(fwd, &mut via.buf);
            }
        }
    }
}

/// `recv_from` that survives the empty source address a socket shut for reading reports
/// (std's `UdpSocket::recv_from` panics on it: "assertion failed: len >= size_of::<sockaddr_in>()").
pub(crate) fn recv_from(sock: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    // SAFETY: initialised bytes are valid `MaybeUninit<u8>`; recv only writes into the buffer.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
    let (n, addr) = socket2::SockRef::from(sock).recv_from(uninit).ok()?;
    Some((n, addr.as_socket()?))
}
