//! RFC 6724 destination address selection: the order in which `lookup_ip` returns addresses.
//! Connectors try addresses in the order given, and hyper-util's takes the family of the first
//! as the preferred one (racing the other 300 ms later), so order is behaviour.
//!
//! Algorithm (RFC 6724 §6, as Go's `net` and glibc implement it): for each destination, its
//! source address is the one the kernel would use, found by connecting a UDP socket to it (no
//! packet is sent); a destination without one is unusable. Then a stable sort by the rules:
//! 1. avoid unusable destinations;
//! 2. prefer matching scope (destination and source);
//! 5. prefer matching label (policy table);
//! 6. prefer higher precedence (policy table);
//! 8. prefer smaller scope;
//! 9. use the longest matching prefix with the source, IPv6 only, over the first 64 bits:
//!    applied to IPv4 it defeats DNS round robin (Go issues 13283 and 18518);
//! 10. otherwise keep the order received.
//!
//! Rules 3 (deprecated sources), 4 (home addresses) and 7 (native transport) need kernel state
//! a socket does not expose; Go leaves them out too. IPv4 addresses are classified as their
//! IPv4-mapped IPv6 form; 127/8 and 169.254/16 have link-local scope (RFC 6724 §3.2).
//!
//! Sources are looked up at most once per destination every [`SOURCE_TTL`] (a cached
//! `lookup_ip` must not cost four system calls per address).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::RwLock;
use std::time::Duration;

use tokio::time::Instant;

/// How long a destination's source address is reused: routes and interface addresses change
/// rarely (a network switch), and a cached lookup must stay cheap.
pub(crate) const SOURCE_TTL: Duration = Duration::from_secs(2);
/// Most destinations whose source is remembered.
const SOURCE_CACHE_ENTRIES: usize = 1024;

/// The RFC 6724 §2.1 default policy table: prefix, prefix length, precedence, label.
const POLICY: [(Ipv6Addr, u8, u8, u8); 9] = [
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, 50, 0),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 0, 40, 1),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, 35, 4),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, 30, 2),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, 5, 5),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, 3, 13),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, 1, 3),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, 1, 11),
    (Ipv6Addr::new(0x3ffe, 0, 0, 0, 0, 0, 0, 0), 16, 1, 12),
];

/// RFC 6724 §3.1 scopes (RFC 4291 §2.7 values).
const SCOPE_LINK_LOCAL: u8 = 0x2;
const SCOPE_SITE_LOCAL: u8 = 0x5;
const SCOPE_GLOBAL: u8 = 0xe;

/// The IPv6 form of an address: IPv4 as IPv4-mapped.
fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Whether `ip` is in `prefix`/`len`.
fn within(ip: Ipv6Addr, prefix: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(prefix) & mask
}

/// The precedence and label of `ip`: the longest matching prefix of the policy table.
pub(crate) fn classify(ip: IpAddr) -> (u8, u8) {
    if ip.is_ipv4() {
        // IPv4-mapped: ::ffff:0:0/96, and no longer prefix of the table contains it.
        return (35, 4);
    }
    let ip = v6(ip);
    POLICY
        .iter()
        .filter(|(prefix, len, _, _)| within(ip, *prefix, *len))
        .max_by_key(|(_, len, _, _)| *len)
        .map(|&(_, _, precedence, label)| (precedence, label))
        .unwrap_or((40, 1))
}

/// The scope of `ip` (RFC 6724 §3.1, §3.2).
pub(crate) fn scope(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() || v4.is_link_local() => SCOPE_LINK_LOCAL,
        IpAddr::V4(_) => SCOPE_GLOBAL,
        IpAddr::V6(v6) => {
            let o = v6.octets();
            if v6.is_loopback() || (o[0] == 0xfe && o[1] & 0xc0 == 0x80) {
                SCOPE_LINK_LOCAL
            } else if o[0] == 0xff {
                o[1] & 0x0f
            } else if o[0] == 0xfe && o[1] & 0xc0 == 0xc0 {
                SCOPE_SITE_LOCAL
            } else {
                SCOPE_GLOBAL
            }
        }
    }
}

/// The common prefix length of two IPv6 addresses over their first 64 bits (the interface
/// ID is not a prefix).
fn common_prefix(a: Ipv6Addr, b: Ipv6Addr) -> u32 {
    let a = u128::from(a) >> 64;
    let b = u128::from(b) >> 64;
    ((a ^ b) as u64).leading_zeros()
}

/// A destination with what the rules need.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    ip: IpAddr,
    source: Option<IpAddr>,
    scope: u8,
    precedence: u8,
    label: u8,
    source_scope: u8,
    source_label: u8,
}

impl Candidate {
    fn new(ip: IpAddr, source: Option<IpAddr>) -> Candidate {
        let (precedence, label) = classify(ip);
        let (source_scope, source_label) = match source {
            Some(s) => (scope(s), classify(s).1),
            None => (0, 0),
        };
        Candidate {
            ip,
            source,
            scope: scope(ip),
            precedence,
            label,
            source_scope,
            source_label,
        }
    }
}

/// RFC 6724 §6: `Less` means `a` is the better destination.
fn compare(a: &Candidate, b: &Candidate) -> Ordering {
    use Ordering::{Equal, Greater, Less};
    // Rule 1: avoid unusable destinations.
    match (a.source, b.source) {
        (None, None) => return Equal,
        (Some(_), None) => return Less,
        (None, Some(_)) => return Greater,
        _ => {}
    }
    // Rule 2: prefer matching scope.
    let (sa, sb) = (a.scope == a.source_scope, b.scope == b.source_scope);
    if sa != sb {
        return if sa { Less } else { Greater };
    }
    // Rule 5: prefer matching label.
    let (la, lb) = (a.label == a.source_label, b.label == b.source_label);
    if la != lb {
        return if la { Less } else { Greater };
    }
    // Rule 6: prefer higher precedence.
    if a.precedence != b.precedence {
        return b.precedence.cmp(&a.precedence);
    }
    // Rule 8: prefer smaller scope.
    if a.scope != b.scope {
        return a.scope.cmp(&b.scope);
    }
    // Rule 9: longest matching prefix, IPv6 only.
    if let (IpAddr::V6(da), IpAddr::V6(db), Some(IpAddr::V6(sa)), Some(IpAddr::V6(sb))) =
        (a.ip, b.ip, a.source, b.source)
    {
        let (ca, cb) = (common_prefix(sa, da), common_prefix(sb, db));
        if ca != cb {
            return cb.cmp(&ca);
        }
    }
    // Rule 10: leave the order unchanged (the sort is stable).
    Equal
}

/// The RFC 6724 order of `ips`, `source_of` giving each destination's source address (`None`:
/// unusable): the indexes of `ips` in order, or `None` when they already are.
pub(crate) fn order_with(
    ips: &[IpAddr],
    mut source_of: impl FnMut(IpAddr) -> Option<IpAddr>,
) -> Option<Vec<usize>> {
    if ips.len() < 2 {
        return None;
    }
    // Most answers are in order already: find out without allocating.
    let mut previous = Candidate::new(ips[0], source_of(ips[0]));
    let mut in_order = true;
    for &ip in &ips[1..] {
        let next = Candidate::new(ip, source_of(ip));
        if compare(&previous, &next) == Ordering::Greater {
            in_order = false;
            break;
        }
        previous = next;
    }
    if in_order {
        return None;
    }
    let candidates: Vec<Candidate> = ips
        .iter()
        .map(|&ip| Candidate::new(ip, source_of(ip)))
        .collect();
    let mut order: Vec<usize> = (0..ips.len()).collect();
    order.sort_by(|&a, &b| compare(&candidates[a], &candidates[b]));
    Some(order)
}

/// Sorts `ips` by RFC 6724 (see [`order_with`]).
#[cfg(test)]
pub(crate) fn sort_with(ips: &mut [IpAddr], source_of: impl FnMut(IpAddr) -> Option<IpAddr>) {
    if let Some(order) = order_with(ips, source_of) {
        let sorted: Vec<IpAddr> = order.iter().map(|&i| ips[i]).collect();
        ips.copy_from_slice(&sorted);
    }
}

/// The source address the kernel would use to reach `ip`: connect a UDP socket (no packet is
/// sent) and read its local address. `None` when there is no route.
pub(crate) fn source_for(ip: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match ip {
        IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(bind).ok()?;
    // Port 9 (discard): the port does not matter, nothing is sent.
    socket.connect((ip, 9)).ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

/// A cheap hasher for addresses (FxHash's step): the map holds this process's own
/// destinations, nothing an attacker can flood it with beyond the answers it gets, and it is
/// bounded and cleared when full.
#[derive(Default)]
struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
}

type Sources = HashMap<IpAddr, (Option<IpAddr>, Instant), BuildHasherDefault<AddrHasher>>;

/// Sorts addresses by RFC 6724 with the kernel's source addresses, remembered for
/// [`SOURCE_TTL`].
#[derive(Debug, Default)]
pub(crate) struct Sorter {
    /// Destination -> its source (`None`: unusable) and when that was found.
    sources: RwLock<Sources>,
}

impl Sorter {
    /// The RFC 6724 order of `ips` (see [`order_with`]).
    /// `now` is the lookup's clock.
    pub(crate) fn order(&self, ips: &[IpAddr], now: Instant) -> Option<Vec<usize>> {
        if ips.len() < 2 {
            return None;
        }
        order_with(ips, |ip| self.source(ip, now))
    }

    /// The source for `ip`: remembered, or asked of the kernel.
    fn source(&self, ip: IpAddr, now: Instant) -> Option<IpAddr> {
        let fresh = |(source, at): &(Option<IpAddr>, Instant)| {
            (now.saturating_duration_since(*at) < SOURCE_TTL).then_some(*source)
        };
        let known = self
            .sources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ip)
            .and_then(fresh);
        if let Some(source) = known {
            return source;
        }
        let source = source_for(ip);
        let mut sources = self.sources.write().unwrap_or_else(|e| e.into_inner());
        if sources.len() >= SOURCE_CACHE_ENTRIES {
            sources.retain(|_, entry| fresh(entry).is_some());
            if sources.len() >= SOURCE_CACHE_ENTRIES {
                sources.clear();
            }
        }
        sources.insert(ip, (source, now));
        source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Sorts `dests` whose sources are `srcs` (same order), from both orders of the input
    /// when `reverse`.
    fn check(dests: &[&str], srcs: &[&str], want: &[&str], reverse: bool) {
        let pairs: Vec<(IpAddr, Option<IpAddr>)> = dests
            .iter()
            .zip(srcs)
            .map(|(d, s)| (ip(d), Some(ip(s))))
            .collect();
        let want: Vec<IpAddr> = want.iter().map(|s| ip(s)).collect();
        let mut orders = vec![pairs.clone()];
        if reverse {
            orders.push(pairs.iter().rev().copied().collect());
        }
        for order in orders {
            let mut ips: Vec<IpAddr> = order.iter().map(|(d, _)| *d).collect();
            sort_with(&mut ips, |d| {
                order.iter().find(|(x, _)| *x == d).and_then(|p| p.1)
            });
            assert_eq!(ips, want, "from {order:?}");
        }
    }

    /// RFC 6724 §10.2, the destination address selection examples.
    #[test]
    fn rfc_6724_examples() {
        // Prefer matching scope.
        check(
            &["2001:db8:1::1", "198.51.100.121"],
            &["2001:db8:1::2", "169.254.13.78"],
            &["2001:db8:1::1", "198.51.100.121"],
            true,
        );
        // Prefer matching scope.
        check(
            &["2001:db8:1::1", "198.51.100.121"],
            &["fe80::1", "198.51.100.117"],
            &["198.51.100.121", "2001:db8:1::1"],
            true,
        );
        // Prefer higher precedence.
        check(
            &["2001:db8:1::1", "10.1.2.3"],
            &["2001:db8:1::2", "10.1.2.4"],
            &["2001:db8:1::1", "10.1.2.3"],
            true,
        );
        // Prefer smaller scope.
        check(
            &["2001:db8:1::1", "fe80::1"],
            &["2001:db8:1::2", "fe80::2"],
            &["fe80::1", "2001:db8:1::1"],
            true,
        );
        // Prefer matching label: only a 6to4 source, so the 6to4 destination first.
        check(
            &["2001:db8:1::1", "2002:c633:6401::1"],
            &["2002:c633:6401::2", "2002:c633:6401::2"],
            &["2002:c633:6401::1", "2001:db8:1::1"],
            true,
        );
        // Prefer higher precedence: native and 6to4 sources, native first.
        check(
            &["2002:c633:6401::1", "2001:db8:1::1"],
            &["2002:c633:6401::2", "2001:db8:1::2"],
            &["2001:db8:1::1", "2002:c633:6401::1"],
            true,
        );
    }

    #[test]
    fn dual_stack_host_prefers_ipv6_and_unusable_go_last() {
        // A global IPv6 and IPv4 source: AAAA first, as getaddrinfo orders them.
        check(
            &["192.0.2.10", "2001:db8::10"],
            &["198.51.100.7", "2001:db8::7"],
            &["2001:db8::10", "192.0.2.10"],
            true,
        );
        // No IPv6 route: IPv4 first, the unusable address kept, last.
        let mut ips = vec![ip("2001:db8::10"), ip("192.0.2.10")];
        sort_with(&mut ips, |d| d.is_ipv4().then(|| ip("198.51.100.7")));
        assert_eq!(ips, [ip("192.0.2.10"), ip("2001:db8::10")]);
        // Loopback: ::1 (precedence 50) before 127.0.0.1 (35).
        check(
            &["127.0.0.1", "::1"],
            &["127.0.0.1", "::1"],
            &["::1", "127.0.0.1"],
            true,
        );
        // ULA (precedence 3) after IPv4 (35), as the default table says.
        check(
            &["fd00::1", "10.0.0.1"],
            &["fd00::2", "10.0.0.2"],
            &["10.0.0.1", "fd00::1"],
            true,
        );
    }

    /// Rule 9 applies to IPv6 only: IPv4 answers keep their order (round robin).
    #[test]
    fn longest_prefix_for_ipv6_only() {
        let v4 = [
            "54.83.193.112",
            "184.72.238.214",
            "23.23.172.185",
            "75.101.148.21",
        ];
        check(&v4, &["10.2.3.4"; 4], &v4, false);
        check(
            &["2001:db8:2::1", "2001:db8:1::1"],
            &["2001:db8:1::2", "2001:db8:1::2"],
            &["2001:db8:1::1", "2001:db8:2::1"],
            true,
        );
    }

    #[test]
    fn policy_table_and_scopes() {
        assert_eq!(classify(ip("127.0.0.1")), (35, 4));
        assert_eq!(
            classify(ip("2601:645:8002:a500:986f:1db8:c836:bd65")),
            (40, 1)
        );
        assert_eq!(classify(ip("::1")), (50, 0));
        assert_eq!(classify(ip("2002::ab12")), (30, 2));
        assert_eq!(classify(ip("2001::1")), (5, 5));
        assert_eq!(classify(ip("fd12::1")), (3, 13));
        assert_eq!(classify(ip("::192.0.2.1")), (1, 3));
        assert_eq!(classify(ip("fec0::1")), (1, 11));
        assert_eq!(classify(ip("3ffe::1")), (1, 12));
        assert_eq!(scope(ip("127.0.0.1")), SCOPE_LINK_LOCAL);
        assert_eq!(scope(ip("::1")), SCOPE_LINK_LOCAL);
        assert_eq!(scope(ip("169.254.1.2")), SCOPE_LINK_LOCAL);
        assert_eq!(scope(ip("fe80::1")), SCOPE_LINK_LOCAL);
        assert_eq!(scope(ip("fec0::1")), SCOPE_SITE_LOCAL);
        assert_eq!(scope(ip("8.8.8.8")), SCOPE_GLOBAL);
        assert_eq!(scope(ip("ff02::1")), 0x2);
        assert_eq!(scope(ip("ff05::1")), 0x5);
        assert_eq!(scope(ip("ff0e::1")), 0xe);
        assert_eq!(scope(ip("224.0.0.1")), SCOPE_GLOBAL);
        assert_eq!(
            common_prefix("fe80::1".parse().unwrap(), "fe80::2".parse().unwrap()),
            64
        );
        assert_eq!(
            common_prefix("fe81::1".parse().unwrap(), "fe80::2".parse().unwrap()),
            15
        );
    }

    /// The kernel's choice, on loopback (no packet is sent by connecting).
    #[test]
    fn sources_come_from_the_kernel() {
        assert_eq!(source_for(ip("127.0.0.1")), Some(ip("127.0.0.1")));
        let sorter = Sorter::default();
        let now = Instant::now();
        assert_eq!(sorter.order(&[ip("127.0.0.1")], now), None);
        // ::1 before 127.0.0.1 where IPv6 loopback exists; an unusable ::1 after.
        let order = sorter.order(&[ip("127.0.0.1"), ip("::1")], now);
        match source_for(ip("::1")) {
            Some(_) => assert_eq!(order, Some(vec![1, 0])),
            None => assert_eq!(order, None),
        }
    }
}
