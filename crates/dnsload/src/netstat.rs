//! UDP error counters of this host (`/proc/net/snmp`), to tell local loss from network loss.
//!
//! `RcvbufErrors` counts datagrams the kernel dropped because a socket's receive buffer was
//! full; `InErrors` counts every datagram dropped on input (including those). If they grow
//! during a run while lookups time out, the loss is at this host's sockets, not in the network.

use serde::{Deserialize, Serialize};

/// The UDP counters dnsload reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpCounters {
    /// Datagrams dropped on input for any reason.
    pub in_errors: u64,
    /// Datagrams dropped because a receive buffer was full.
    pub rcvbuf_errors: u64,
    /// Datagrams that could not be sent because a send buffer was full.
    pub sndbuf_errors: u64,
    /// Datagrams to a port nobody listened on.
    pub no_ports: u64,
}

impl UdpCounters {
    /// Reads `/proc/net/snmp`; `None` where it does not exist (not Linux, restricted /proc).
    pub fn read() -> Option<UdpCounters> {
        let text = std::fs::read_to_string("/proc/net/snmp").ok()?;
        Self::parse(&text)
    }

    /// Parses the `Udp:` header and value lines of `/proc/net/snmp`.
    pub fn parse(text: &str) -> Option<UdpCounters> {
        let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
        let header: Vec<&str> = udp.next()?.split_whitespace().skip(1).collect();
        let values: Vec<&str> = udp.next()?.split_whitespace().skip(1).collect();
        let get = |key: &str| -> u64 {
            header
                .iter()
                .position(|h| *h == key)
                .and_then(|i| values.get(i))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Some(UdpCounters {
            in_errors: get("InErrors"),
            rcvbuf_errors: get("RcvbufErrors"),
            sndbuf_errors: get("SndbufErrors"),
            no_ports: get("NoPorts"),
        })
    }

    /// The growth from `before` to `self` (counters that went backwards count as zero).
    pub fn since(self, before: UdpCounters) -> UdpCounters {
        UdpCounters {
            in_errors: self.in_errors.saturating_sub(before.in_errors),
            rcvbuf_errors: self.rcvbuf_errors.saturating_sub(before.rcvbuf_errors),
            sndbuf_errors: self.sndbuf_errors.saturating_sub(before.sndbuf_errors),
            no_ports: self.no_ports.saturating_sub(before.no_ports),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNMP: &str = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n\
Udp: 1000 7 12 900 10 1 0 0 0\n\
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n\
UdpLite: 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn parses_udp_and_not_udplite() {
        let c = UdpCounters::parse(SNMP).unwrap();
        assert_eq!(
            c,
            UdpCounters {
                in_errors: 12,
                rcvbuf_errors: 10,
                sndbuf_errors: 1,
                no_ports: 7
            }
        );
        let later = UdpCounters { in_errors: 20, ..c };
        assert_eq!(later.since(c).in_errors, 8);
        assert!(UdpCounters::parse("nothing").is_none());
    }

    #[test]
    fn this_host_has_counters() {
        if std::path::Path::new("/proc/net/snmp").exists() {
            assert!(UdpCounters::read().is_some());
        }
    }
}
