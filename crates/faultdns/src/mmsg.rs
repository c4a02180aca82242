//! Receiving many datagrams with one system call (recvmmsg(2)), for the forwarding threads.

use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    os::fd::RawFd,
};

/// Buffers for up to `n` datagrams of up to `slot` bytes each, reused for every call.
pub(crate) struct RecvBatch {
    buf: Vec<u8>,
    slot: usize,
    iov: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    hdrs: Vec<libc::mmsghdr>,
    got: usize,
}

// SAFETY: the raw pointers in `iov` and `hdrs` point into `buf`, `addrs` and `iov`, which the
// batch owns; they are rewritten before every use and never shared.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    pub(crate) fn new(n: usize, slot: usize) -> RecvBatch {
        RecvBatch {
            buf: vec![0; n * slot],
            slot,
            iov: Vec::with_capacity(n),
            // SAFETY: all-zero bytes are a valid sockaddr_storage and mmsghdr.
            addrs: vec![unsafe { std::mem::zeroed() }; n],
            hdrs: vec![unsafe { std::mem::zeroed() }; n],
            got: 0,
        }
    }

    /// Receive the datagrams waiting on `fd`, without waiting; how many (0 when none, or on an
    /// error, which the call consumes).
    pub(crate) fn recv(&mut self, fd: RawFd) -> usize {
        let n = self.hdrs.len();
        let base = self.buf.as_mut_ptr();
        self.iov.clear();
        for i in 0..n {
            self.iov.push(libc::iovec {
                // SAFETY: `i * slot` is inside `buf`, which holds `n * slot` bytes.
                iov_base: unsafe { base.add(i * self.slot) }.cast(),
                iov_len: self.slot,
            });
        }
        for i in 0..n {
            // SAFETY: all-zero bytes are a valid msghdr; the fields set point into buffers
            // of the stated sizes that live as long as the call.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iov[i];
            h.msg_iovlen = 1;
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            };
        }
        // SAFETY: `hdrs` holds `n` initialised headers whose buffers outlive the call.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        self.got = usize::try_from(got).unwrap_or(0);
        self.got
    }

    /// Datagram `i` of the last call: its bytes, its source, and whether it was cut to fit.
    pub(crate) fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>, bool) {
        debug_assert!(i < self.got);
        let h = &self.hdrs[i];
        let len = (h.msg_len as usize).min(self.slot);
        let bytes = &self.buf[i * self.slot..i * self.slot + len];
        let cut = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        (
            bytes,
            socket_addr(&self.addrs[i], h.msg_hdr.msg_namelen),
            cut,
        )
    }
}

fn socket_addr(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(s.ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says this storage holds a sockaddr_in, which fits in it.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says this storage holds a sockaddr_in6, which fits in it.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::{net::UdpSocket, os::fd::AsRawFd};

    use super::*;

    #[test]
    fn receives_several_datagrams_with_their_sources() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut b = RecvBatch::new(4, 16);
        assert_eq!(b.recv(rx.as_raw_fd()), 0, "nothing waiting: no wait");
        for msg in [&b"one"[..], b"two", &[7u8; 40]] {
            tx.send_to(msg, rx.local_addr().unwrap()).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(b.recv(rx.as_raw_fd()), 3);
        assert_eq!(
            b.get(0),
            (&b"one"[..], Some(tx.local_addr().unwrap()), false)
        );
        assert_eq!(b.get(1).0, b"two");
        let (bytes, _, cut) = b.get(2);
        assert_eq!(
            (bytes.len(), cut),
            (16, true),
            "cut to the slot, and said so"
        );
    }
}
