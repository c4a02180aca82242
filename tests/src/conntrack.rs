//! Filling a lab namespace's connection-tracking table to its limit, over ctnetlink.
//!
//! The limit, `nf_conntrack_max`, is one number for the whole machine (a namespace other than
//! the first can read it, not write it), while the count it is checked against,
//! `nf_conntrack_count`, is per network namespace. So a lab host's table fills up without
//! touching the machine's setting when the host's own namespace holds `max - headroom`
//! entries: the kernel then refuses new flows there (its `drop` counter) as on a node whose
//! table the pods' connections filled, and every other namespace is unaffected.
//!
//! The filler entries are what a busy node's other flows are: UDP entries between made-up
//! addresses of 10.200.0.0/16, created with `IPCTNL_MSG_CT_NEW` and marked assured (seen both
//! ways), so the kernel cannot evict them to make room (`early_drop` only takes unassured
//! entries), with a 10-minute timeout. They go with the namespace.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::netns::{Netns, Unavailable};

const NETLINK_NETFILTER: libc::c_int = 12;
const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;
const NLMSG_ERROR: u16 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_TIMEOUT: u16 = 7;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const IPS_SEEN_REPLY: u32 = 1 << 1;
const IPS_ASSURED: u32 = 1 << 2;
/// Kernels that mark a ctnetlink entry confirmed before applying the status given want the
/// bit in it (or refuse the change with EBUSY); later ones refuse it. Both are tried.
const IPS_CONFIRMED: u32 = 1 << 3;
/// Filler entries live this long (seconds); the namespace goes first.
const FILLER_TIMEOUT_S: u32 = 600;
/// Most entries a lab fills (about 100 MiB of kernel memory at ~400 bytes each).
pub const MAX_FILL: u64 = 1 << 20;

/// Says why a lab cannot fill a table on this machine: `nf_conntrack_max` (one value for the
/// machine) above [`MAX_FILL`]. Not knowing it yet (conntrack not loaded before the lab's first
/// nftables NAT rule loads it) is no reason.
pub fn fillable() -> Result<(), Unavailable> {
    let path = "/proc/sys/net/netfilter/nf_conntrack_max";
    match std::fs::read_to_string(path).map(|t| t.trim().parse::<u64>()) {
        Ok(Ok(max)) if max > MAX_FILL => Err(Unavailable(format!(
            "nf_conntrack_max is {max} here: a lab fills a table of at most {MAX_FILL} entries"
        ))),
        _ => Ok(()),
    }
}

/// The conntrack table's fill of a namespace: `(count, max)`.
pub fn fill_of(ns: &Netns) -> Result<(u64, u64), String> {
    ns.enter(|| {
        let read = |name: &str| -> Result<u64, String> {
            let path = format!("/proc/sys/net/netfilter/{name}");
            std::fs::read_to_string(&path)
                .map_err(|e| format!("{path}: {e}"))?
                .trim()
                .parse()
                .map_err(|e| format!("{path}: {e}"))
        };
        Ok((read("nf_conntrack_count")?, read("nf_conntrack_max")?))
    })?
}

/// Fills `ns`'s conntrack table until `headroom` entries are left below the machine's limit;
/// returns the count reached. Fails when the limit is above [`MAX_FILL`] (not filled: too
/// much kernel memory for a test) or the kernel refuses the entries.
pub fn fill_to_headroom(ns: &Netns, headroom: u64) -> Result<u64, String> {
    let (count, max) = fill_of(ns)?;
    if max == 0 || max > MAX_FILL {
        return Err(format!(
            "nf_conntrack_max is {max} on this machine: a lab fills at most {MAX_FILL} entries"
        ));
    }
    let wanted = max.saturating_sub(headroom).saturating_sub(count);
    let inserted = ns.enter(move || insert(wanted))??;
    let (count, _) = fill_of(ns)?;
    if inserted < wanted {
        return Err(format!("the kernel took {inserted} of {wanted} entries"));
    }
    Ok(count)
}

/// One netlink attribute.
fn attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

fn nested(out: &mut Vec<u8>, kind: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    fill(&mut inner);
    attr(out, kind | NLA_F_NESTED, &inner);
}

fn tuple(out: &mut Vec<u8>, kind: u16, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) {
    nested(out, kind, |t| {
        nested(t, CTA_TUPLE_IP, |ip| {
            attr(ip, CTA_IP_V4_SRC, &src);
            attr(ip, CTA_IP_V4_DST, &dst);
        });
        nested(t, CTA_TUPLE_PROTO, |p| {
            attr(p, CTA_PROTO_NUM, &[libc::IPPROTO_UDP as u8]);
            attr(p, CTA_PROTO_SRC_PORT, &sport.to_be_bytes());
            attr(p, CTA_PROTO_DST_PORT, &dport.to_be_bytes());
        });
    });
}

/// The `i`th filler entry: 198.18.200.1:port -> 10.200.x.y:9, distinct for every `i` < 2^31.
fn message(seq: u32, i: u64, status: u32, ack: bool) -> Vec<u8> {
    let port = 1024 + (i % 64_000) as u16;
    let host = i / 64_000;
    let src = [198, 18, 200, 1];
    let dst = [10, 200, (host / 250) as u8, (host % 250) as u8 + 1];
    let mut body = vec![libc::AF_INET as u8, 0, 0, 0];
    tuple(&mut body, CTA_TUPLE_ORIG, src, dst, port, 9);
    tuple(&mut body, CTA_TUPLE_REPLY, dst, src, 9, port);
    attr(&mut body, CTA_STATUS, &status.to_be_bytes());
    attr(&mut body, CTA_TIMEOUT, &FILLER_TIMEOUT_S.to_be_bytes());
    let flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | if ack { NLM_F_ACK } else { 0 };
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW).to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

fn socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned from here on.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn send(fd: &OwnedFd, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: the buffer is valid for its length; the socket is connected to the kernel.
    let n = unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The error codes of the netlink error messages waiting on `fd` (0 for acks).
fn errors(fd: &OwnedFd, wait: bool) -> io::Result<Vec<i32>> {
    let mut buf = vec![0u8; 1 << 16];
    let mut codes = Vec::new();
    let mut flags = if wait { 0 } else { libc::MSG_DONTWAIT };
    loop {
        // SAFETY: the buffer is valid for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(codes);
            }
            return Err(e);
        }
        let mut at = 0usize;
        let n = n as usize;
        while at + 20 <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
            if kind == NLMSG_ERROR {
                codes.push(i32::from_ne_bytes(
                    buf[at + 16..at + 20].try_into().expect("4 bytes"),
                ));
            }
            if len < 16 {
                break;
            }
            at += (len + 3) & !3;
        }
        flags = libc::MSG_DONTWAIT;
    }
}

/// Inserts `n` filler entries into the calling thread's namespace; returns how many the kernel
/// took.
fn insert(n: u64) -> Result<u64, String> {
    let fd = socket().map_err(|e| format!("netlink socket: {e}"))?;
    let rcvbuf: libc::c_int = 1 << 22;
    // SAFETY: setsockopt with a valid int option value.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&rcvbuf as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if n == 0 {
        return Ok(0);
    }
    // The first entry with an ack tells which status bits this kernel takes.
    let mut status = None;
    for candidate in [
        IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED,
        IPS_SEEN_REPLY | IPS_ASSURED,
    ] {
        send(&fd, &message(1, 0, candidate, true)).map_err(|e| format!("ctnetlink: {e}"))?;
        let codes = errors(&fd, true).map_err(|e| format!("ctnetlink: {e}"))?;
        if codes.first() == Some(&0) {
            status = Some(candidate);
            break;
        }
    }
    let status = status.ok_or("the kernel refused an assured conntrack entry over ctnetlink")?;
    let mut failed = 0u64;
    let mut batch = Vec::with_capacity(1 << 16);
    for i in 1..n {
        batch.extend_from_slice(&message(i as u32 + 1, i, status, false));
        if batch.len() > 60_000 || i + 1 == n {
            send(&fd, &batch).map_err(|e| format!("ctnetlink: {e}"))?;
            batch.clear();
            failed += errors(&fd, false)
                .map_err(|e| format!("ctnetlink: {e}"))?
                .iter()
                .filter(|c| **c != 0)
                .count() as u64;
        }
    }
    failed += errors(&fd, false)
        .map_err(|e| format!("ctnetlink: {e}"))?
        .iter()
        .filter(|c| **c != 0)
        .count() as u64;
    Ok(n - failed)
}
