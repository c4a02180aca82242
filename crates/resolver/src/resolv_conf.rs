//! resolv.conf parsing with glibc's semantics, into a [`Config`].
//!
//! Reference: glibc `resolv/res_init.c` (`res_vinit_1`, `res_setoptions`) and
//! `resolv/res_send.c` (`send_dg`), as read in the bminor/glibc mirror (res_init.c at commit
//! 04277e02, 2019).
//! What we copy from it, line by line:
//! - a keyword counts only at the start of a line and followed by a space or tab (`MATCH`);
//!   lines starting with `#` or `;` are comments; anything else is ignored;
//! - `nameserver`: an IPv4 address as `inet_aton` reads it (so `127.1` and `0x7f.0.0.1` work,
//!   and `010.0.0.1` is octal), else an IPv6 address with an optional `%zone` (interface name
//!   or number; an unknown interface gives scope 0, errors ignored as glibc does); port 53;
//!   only the first 3 are used (`MAXNS`), we warn about the rest;
//! - `domain` and `search` each replace the search list: the last such line wins;
//! - `options`: `ndots:N` capped at 15 (`RES_MAXNDOTS`), `timeout:N` capped at 30
//!   (`RES_MAXRETRANS`), `attempts:N` capped at 5 (`RES_MAXRETRY`), each number read with
//!   `atoi` (garbage reads as 0); `rotate`, `edns0`, `use-vc`, `single-request` matched as
//!   prefixes (`strncmp`), as glibc does; unknown options are ignored.
//!
//! Where we differ, on purpose (with a `tracing` warning whenever a line is read differently):
//! - settings absent from the file take *our* defaults (1 s timeout, 5 attempts, EDNS on),
//!   not glibc's (5 s, 2 attempts);
//! - `timeout:0` (or negative) means 1 s, which is what glibc's `send_dg` ends up using
//!   (`if (seconds <= 0) seconds = 1;`);
//!   `attempts:0` means 1 (glibc's `res_send` loops `for (try = 0; try < retry; try++)`, so it
//!   would send nothing and fail every lookup); a negative
//!   `ndots` means 0;
//! - a `#` or `;` word on a `search` line starts a comment (glibc would search a domain
//!   called `#`), and search domains that are not valid names are dropped;
//! - `nameserver IP:PORT` and `nameserver [IPv6]:PORT` are accepted, so a test can point a
//!   file at a server on a high port (glibc ignores such lines);
//! - we read neither `LOCALDOMAIN`/`RES_OPTIONS` nor the host name (glibc's fallback search
//!   domain), so the same file always gives the same config.

use std::ffi::CString;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::Name;
use tracing::{debug, warn};

use crate::config::{Config, DEFAULT_EDNS_PAYLOAD};
use crate::error::Error;

/// glibc's `MAXNS`: name servers beyond the third are not used.
const MAX_NAMESERVERS: usize = 3;
/// glibc's `RES_MAXNDOTS`.
const GLIBC_MAX_NDOTS: i64 = 15;
/// glibc's `RES_MAXRETRANS`, in seconds.
const GLIBC_MAX_TIMEOUT: i64 = 30;
/// glibc's `RES_MAXRETRY`.
const GLIBC_MAX_ATTEMPTS: i64 = 5;
/// glibc options that change nothing for us: `single-request-reopen` (every attempt already
/// uses a fresh socket), `trust-ad` (we do not validate DNSSEC), `inet6` (deprecated),
/// `no-tld-query`, `no-reload`, `no-aaaa` (glibc's address-family tweaks), `debug`.
const GLIBC_IGNORED: [&str; 8] = [
    "single-request-reopen",
    "trust-ad",
    "inet6",
    "no-tld-query",
    "no_tld_query",
    "no-reload",
    "no-aaaa",
    "debug",
];

impl Config {
    /// Reads a resolv.conf file (see [`parse_resolv_conf`](Self::parse_resolv_conf)).
    ///
    /// This reads the file synchronously: call it at start-up, not inside a latency-sensitive
    /// task. Fails only when the file cannot be read.
    pub fn from_resolv_conf(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| Error::ResolvConf {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Config::parse_resolv_conf(&String::from_utf8_lossy(&text)))
    }

    /// Parses resolv.conf text with glibc's semantics (see the notes in this function's module:
    /// `nameserver`, `domain`, `search`, `options ndots timeout attempts rotate edns0 use-vc
    /// single-request`, comments). Never fails: what glibc ignores is ignored, with a `tracing`
    /// warning. Without any usable `nameserver` line the server is `127.0.0.1:53`, as glibc.
    ///
    /// ```
    /// let config = stubborn::Config::parse_resolv_conf(
    ///     "nameserver 127.0.0.53\nsearch corp.example\noptions ndots:2 timeout:3\n",
    /// );
    /// assert_eq!(config.servers(), &["127.0.0.53:53".parse().unwrap()]);
    /// assert_eq!(config.search(), &["corp.example".to_string()]);
    /// assert_eq!((config.ndots(), config.attempts()), (2, 5));
    /// ```
    pub fn parse_resolv_conf(text: &str) -> Config {
        let mut servers = Vec::new();
        let mut search: Vec<String> = Vec::new();
        let mut config = Config::new(Vec::new());
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let Some((keyword, rest)) = line.split_once([' ', '\t']) else {
                warn!(line = line_no, text = line, "resolv.conf: line ignored");
                continue;
            };
            let mut words = rest.split([' ', '\t', '\r']).filter(|w| !w.is_empty());
            match keyword {
                "nameserver" => match words
                    .next()
                    .and_then(parse_nameserver)
                    .filter(|s| s.port() != 0)
                {
                    Some(server) => servers.push(server),
                    None => warn!(line = line_no, text = line, "resolv.conf: bad nameserver"),
                },
                "domain" => {
                    if let Some(domain) = words.next() {
                        search = usable_domain(domain, line_no).into_iter().collect();
                    }
                }
                "search" => {
                    let mut list = Vec::new();
                    let mut any = false;
                    for word in words {
                        if word.starts_with('#') || word.starts_with(';') {
                            warn!(line = line_no, "resolv.conf: comment after search domains");
                            break;
                        }
                        any = true;
                        list.extend(usable_domain(word, line_no));
                    }
                    // Like glibc, a search line with words replaces the list, even if none of
                    // them is usable.
                    if any {
                        search = list;
                    }
                }
                "options" => {
                    for word in words {
                        apply_option(&mut config, word, line_no);
                    }
                }
                "sortlist" => {
                    warn!(
                        line = line_no,
                        "resolv.conf: sortlist is not supported, ignored"
                    );
                }
                _ => warn!(line = line_no, text = line, "resolv.conf: line ignored"),
            }
        }
        if servers.is_empty() {
            warn!("resolv.conf: no usable nameserver line, using 127.0.0.1:53 as glibc does");
            servers.push(SocketAddr::from((Ipv4Addr::LOCALHOST, 53)));
        }
        if servers.len() > MAX_NAMESERVERS {
            warn!(
                ignored = ?&servers[MAX_NAMESERVERS..],
                "resolv.conf: more than 3 nameservers, the rest are ignored as glibc does"
            );
            servers.truncate(MAX_NAMESERVERS);
        }
        config.with_servers(servers).with_search(search)
    }
}

/// A search domain worth keeping: a valid, non-root domain name. Others are dropped with a
/// warning (glibc would append them and send names that cannot exist), so that any file gives a
/// config [`Resolver::new`](crate::Resolver::new) accepts.
fn usable_domain(word: &str, line_no: usize) -> Option<String> {
    let trimmed = word.trim_end_matches('.');
    if trimmed.is_empty() {
        warn!(line = line_no, "resolv.conf: root search domain ignored");
        return None;
    }
    match Name::from_utf8(trimmed) {
        Ok(_) => Some(word.to_string()),
        Err(error) => {
            warn!(line = line_no, domain = word, %error, "resolv.conf: bad search domain ignored");
            None
        }
    }
}

/// Applies one word of an `options` line.
fn apply_option(config: &mut Config, word: &str, line_no: usize) {
    let take = std::mem::replace(config, Config::new(Vec::new()));
    *config = if let Some(value) = word.strip_prefix("ndots:") {
        let n = atoi(value);
        if n < 0 {
            warn!(
                line = line_no,
                option = word,
                "resolv.conf: negative ndots, using 0"
            );
        }
        take.with_ndots(n.clamp(0, GLIBC_MAX_NDOTS) as u8)
    } else if let Some(value) = word.strip_prefix("timeout:") {
        let n = atoi(value);
        if n <= 0 {
            warn!(
                line = line_no,
                option = word,
                "resolv.conf: timeout below 1 s, using 1 s"
            );
        }
        let secs = n.clamp(1, GLIBC_MAX_TIMEOUT) as u64;
        take.with_timeout(Duration::from_secs(secs))
    } else if let Some(value) = word.strip_prefix("attempts:") {
        let n = atoi(value);
        if n <= 0 {
            warn!(
                line = line_no,
                option = word,
                "resolv.conf: attempts below 1, using 1"
            );
        }
        take.with_attempts(n.clamp(1, GLIBC_MAX_ATTEMPTS) as u8)
    } else if word.starts_with("rotate") {
        take.with_rotate(true)
    } else if word.starts_with("edns0") {
        let payload = take.edns().unwrap_or(DEFAULT_EDNS_PAYLOAD);
        take.with_edns(Some(payload))
    } else if word.starts_with("use-vc") {
        take.with_tcp_only(true)
    } else if GLIBC_IGNORED.iter().any(|o| word.starts_with(o)) {
        debug!(
            line = line_no,
            option = word,
            "resolv.conf: glibc option with no effect here"
        );
        take
    } else if word.starts_with("single-request") {
        take.with_single_request(true)
    } else {
        warn!(
            line = line_no,
            option = word,
            "resolv.conf: unknown option ignored"
        );
        take
    };
}

/// C's `atoi`: optional sign, then decimal digits up to the first non-digit; no digits is 0.
/// Saturates instead of overflowing.
fn atoi(text: &str) -> i64 {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative { -value } else { value }
}

/// One `nameserver` word: an address (glibc forms) or our `IP:PORT` extension.
fn parse_nameserver(word: &str) -> Option<SocketAddr> {
    if let Some(v4) = inet_aton(word) {
        return Some(SocketAddr::from((v4, 53)));
    }
    if let Some(rest) = word.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        let port: u16 = port.parse().ok()?;
        let mut addr = parse_ipv6_with_zone(host)?;
        addr.set_port(port);
        return Some(SocketAddr::V6(addr));
    }
    if let Some((host, port)) = word.rsplit_once(':')
        && let (Some(v4), Ok(port)) = (inet_aton(host), port.parse::<u16>())
    {
        return Some(SocketAddr::from((v4, port)));
    }
    parse_ipv6_with_zone(word).map(SocketAddr::V6)
}

/// `fe80::1%eth0` or `fe80::1%2`; an unknown zone gives scope 0, as glibc.
fn parse_ipv6_with_zone(text: &str) -> Option<SocketAddrV6> {
    let (addr, zone) = match text.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (text, None),
    };
    let ip: Ipv6Addr = addr.parse().ok()?;
    let scope = zone.map(scope_id).unwrap_or(0);
    Some(SocketAddrV6::new(ip, 53, 0, scope))
}

/// An interface name or number as an IPv6 scope id; 0 when unknown.
fn scope_id(zone: &str) -> u32 {
    if let Ok(n) = zone.parse::<u32>() {
        return n;
    }
    let Ok(name) = CString::new(zone) else {
        return 0;
    };
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex only reads it and returns 0 for unknown interfaces.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        warn!(
            zone,
            "resolv.conf: unknown interface in IPv6 zone, using scope 0 as glibc"
        );
    }
    index
}

/// glibc's `inet_aton`: 1 to 4 parts, each decimal, octal (`0` prefix) or hex (`0x`); the last
/// part fills the remaining bytes. `None` for anything else.
pub(crate) fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if digits.is_empty() && radix != 16 || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        values.push(value);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|&v| v > 0xff) {
        return None;
    }
    let tail_bits = 8 * (4 - leading.len() as u32);
    if tail_bits < 32 && *last >= (1u32 << tail_bits) {
        return None;
    }
    let mut addr: u32 = 0;
    for (i, v) in leading.iter().enumerate() {
        addr |= v << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(addr | last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_matches_glibc_forms() {
        assert_eq!(inet_aton("127.0.0.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("0x7f.0.0.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(inet_aton("2130706433"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            inet_aton("10.1.65535"),
            Some(Ipv4Addr::new(10, 1, 255, 255))
        );
        assert_eq!(inet_aton("256.0.0.1"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("09.1.1.1"), None);
        assert_eq!(inet_aton("::1"), None);
        assert_eq!(inet_aton(""), None);
        assert_eq!(inet_aton("1..2"), None);
    }

    #[test]
    fn atoi_reads_like_c() {
        assert_eq!(atoi("5"), 5);
        assert_eq!(atoi("5x"), 5);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn nameserver_forms() {
        let v6 = |s: &str| parse_nameserver(s).unwrap();
        assert_eq!(v6("::1"), "[::1]:53".parse().unwrap());
        assert_eq!(v6("fe80::1%3"), "[fe80::1%3]:53".parse().unwrap());
        assert_eq!(v6("[::1]:5353"), "[::1]:5353".parse().unwrap());
        assert_eq!(v6("127.0.0.1:5353"), "127.0.0.1:5353".parse().unwrap());
        let unknown_zone = v6("fe80::1%no-such-interface0");
        assert_eq!(unknown_zone, "[fe80::1]:53".parse().unwrap());
        if let SocketAddr::V6(lo) = v6("fe80::1%lo") {
            assert!(lo.scope_id() > 0, "lo has an interface index");
        }
        assert_eq!(parse_nameserver("dns.example.com"), None);
        assert_eq!(parse_nameserver("[::1]"), None);
        let c = Config::parse_resolv_conf("nameserver 127.0.0.1:0\nnameserver [::1]:0\n");
        assert_eq!(
            c.servers(),
            ["127.0.0.1:53".parse().unwrap()],
            "port 0 lines are ignored"
        );
    }

    /// Collects what `tracing` prints at WARN and above while `f` runs.
    fn warnings(f: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(data);
                Ok(data.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn what_glibc_ignores_is_ignored_with_a_warning() {
        let mut config = None;
        let log = warnings(|| {
            config = Some(Config::parse_resolv_conf(
                "nameserver 10.0.0.1\n  nameserver 10.0.0.2\nnameserver dns.google\n\
                 options frobnicate ndots:99 attempts:0 trust-ad\nbogus line\n\
                 nameserver 10.0.0.3\nnameserver 10.0.0.4\nnameserver 10.0.0.5\n",
            ));
        });
        let config = config.unwrap();
        assert_eq!(config.servers().len(), 3);
        assert_eq!((config.ndots(), config.attempts()), (15, 1));
        for expected in [
            "line ignored",
            "bad nameserver",
            "unknown option ignored",
            "frobnicate",
            "attempts below 1",
            "more than 3 nameservers",
        ] {
            assert!(log.contains(expected), "no {expected:?} in:\n{log}");
        }
        assert!(
            !log.contains("trust-ad"),
            "known glibc option warned about:\n{log}"
        );
    }

    #[test]
    fn unusable_search_domains_are_dropped() {
        let c = Config::parse_resolv_conf("search good.example bad..domain . other.example.\n");
        assert_eq!(
            c.search(),
            ["good.example".to_string(), "other.example.".to_string()]
        );
        let c = Config::parse_resolv_conf("search a.example\ndomain -..\n");
        assert!(
            c.search().is_empty(),
            "an unusable domain line still replaces the list"
        );
        assert!(crate::Resolver::new(c.with_hosts_file(None)).is_ok());
    }

    proptest::proptest! {
        /// Any text parses (to something Resolver::new accepts), never panics.
        #[test]
        fn arbitrary_text_never_panics(text in "(nameserver|search|domain|options|#|;| |\t|\r|\n|[a-z0-9.:%\\[\\]-]{0,12}){0,40}") {
            let config = Config::parse_resolv_conf(&text);
            proptest::prop_assert!(!config.servers().is_empty());
            proptest::prop_assert!(config.servers().len() <= 3);
            proptest::prop_assert!(crate::Resolver::new(config.with_hosts_file(None)).is_ok());
        }
    }
}
