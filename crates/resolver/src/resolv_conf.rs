//! resolv.conf read as glibc 2.36 reads it, into a [`Config`].
//!
//! Reference: glibc 2.36 (the glibc of Debian 12), `resolv/res_init.c` (`res_vinit_1`,
//! `res_setoptions`), `resolv/inet_addr.c` (`__inet_aton_exact`), `resolv/inet_pton.c`,
//! `inet/inet6_scopeid_pton.c`, `resolv/res_query.c` (`__res_context_search`) and
//! `stdlib/atoi.c`. The workspace's `glibc_resolv_conf` test (package `stubborn-tests`, run as
//! root) checks this against the real glibc, field by field, over hundreds of generated files.
//!
//! # Read as glibc reads it
//!
//! - **Lines** end at `\n` only: a `\r` is an ordinary byte (so in a CRLF file the last value
//!   of a line ends in `\r`, and a file with bare `\r` line endings is one line). A NUL byte
//!   ends its line. A line starting with `#` or `;` is a comment; a keyword counts only at the
//!   start of a line, followed by a space or a tab; any other line is ignored. Values are
//!   separated by spaces and tabs only.
//! - **`nameserver`**: the first word, which must be all address: an IPv4 address as
//!   `inet_aton` reads it (1 to 4 parts, each decimal, octal with a leading `0` or hex with
//!   `0x`, the last part filling the remaining bytes: `127.1`, `0x7f.1`, `2130706433`), else an
//!   IPv6 address as `inet_pton` reads it, with an optional `%zone` after the first `%`. The zone
//!   is an interface name on link-local unicast and link-local or node-local multicast addresses
//!   only, else a decimal number up to 2^32-1; anything else is scope 0 (glibc ignores zone
//!   errors). Port 53. `nameserver 10.0.0.1#x` and `nameserver 10.0.0.1\r` are no server.
//!   Only the first 3 servers are used (`MAXNS`); without any, `127.0.0.1:53`.
//! - **`search`** and **`domain`**: each line with at least one word replaces the list (the
//!   last one wins); `domain` takes its first word only. The list has no length limit: glibc's
//!   getaddrinfo walks it whole (`_res.dnsrch` holds only its first 6 entries and 256 bytes).
//!   One leading dot is dropped from each domain, as glibc's search walk does.
//! - **`options`**: `ndots:N` (capped at 15), `timeout:N` (capped at 30 s), `attempts:N`
//!   (capped at 5), each `N` read by C's `atoi` as glibc's does (leading spaces and a sign
//!   allowed, digits up to the first other byte, the result truncated to a C `int`, so
//!   `ndots:4294967297` is 1); `rotate`, `edns0`, `use-vc`, `single-request` matched as
//!   prefixes (`rotatex` is `rotate`; `single-request-reopen` is not `single-request`); a
//!   later option overrides an earlier one; unknown options are ignored. `timeout:0` and below
//!   wait 1 s, as glibc's sender does (`if (seconds <= 0) seconds = 1;`).
//!
//! # Deliberate differences from glibc 2.36
//!
//! A line read differently from glibc gets a `tracing` warning (at debug level for port forms
//! and options without effect).
//! - Settings a file leaves out take stubborn's defaults: 1 s timeout, 5 attempts, EDNS0 on
//!   (glibc: 5 s, 2 attempts, EDNS0 off); see [`Config`] for the reasons.
//! - `attempts:0` or below means 1: glibc's sender loops `for (try = 0; try < retry; try++)`,
//!   so it would send nothing and fail every lookup.
//! - A negative `ndots` means 0: glibc keeps its low 4 bits (`ndots:-1` becomes 15).
//! - `nameserver IP:PORT` and `nameserver [IPv6]:PORT` (port 1 to 65535 in decimal digits, the
//!   address as above) are read, so a test can point a file at a server on a high port; glibc
//!   skips such lines.
//! - The search list comes from the file only: neither `LOCALDOMAIN` and `RES_OPTIONS` nor the
//!   host name (glibc's fallback search domain when the file names none) are read, so the same
//!   file always gives the same config.
//! - On a `search` or `domain` line, a word starting with `#` or `;` starts a comment: glibc
//!   would search a domain called `#comment`, then the words after it.
//! - Search domains that are not domain names are dropped: empty labels (`a..b`, `..`, more than
//!   one trailing dot), labels over 63 or names over 253 octets, and what hickory's name parser
//!   (IDNA rules) rejects: `_`, most punctuation, control bytes such as the `\r` of a CRLF
//!   file. glibc asks for names in them, and its walk stops at the first one its query
//!   builder rejects.
//! - The root domain (`.`) in a search list is dropped: glibc tries the bare name at that point
//!   of its walk (and then not at its end).
//! - `sortlist`, and the options `single-request-reopen` (every attempt already uses a fresh
//!   socket), `trust-ad` (no DNSSEC validation here), `no-aaaa`, `no-tld-query` and
//!   `no-reload` have no effect.
//!
//! # Where glibc 2.36 itself fails
//!
//! These files are read here like any other:
//! - a `sortlist` line holding, before any `;`, a `\r` (so any CRLF file with a sortlist
//!   line), `\v`, `\f`, a byte that is not ASCII, or a `/` or `&` not right after an IPv4
//!   address makes glibc loop forever;
//! - a search list whose first domain is 256 bytes or longer, or in which one of the first six
//!   domains overflows glibc's 256-byte copy of the list after domains of 56 bytes or less in
//!   all, fails an assertion in `update_from_conf` (a size check uses the size of the pointer
//!   array instead of the buffer's): every getaddrinfo call aborts the process.

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
const GLIBC_MAX_NDOTS: i32 = 15;
/// glibc's `RES_MAXRETRANS`, in seconds.
const GLIBC_MAX_TIMEOUT: i32 = 30;
/// glibc's `RES_MAXRETRY`.
const GLIBC_MAX_ATTEMPTS: i32 = 5;
/// glibc 2.36 options that change nothing here: `single-request-reopen` (A and AAAA leave from
/// the resolver's socket pool, often from different sockets but not always; for a middlebox
/// that mishandles two queries on one flow, `single-request` is the option that helps),
/// `trust-ad` (no DNSSEC validation), `no-tld-query`, `no-reload`, `no-aaaa`. In glibc's matching order (`single-request-reopen` before `single-request`).
const GLIBC_WITHOUT_EFFECT: [&str; 6] = [
    "single-request-reopen",
    "no_tld_query",
    "no-tld-query",
    "no-reload",
    "trust-ad",
    "no-aaaa",
];

impl Config {
    /// Reads a resolv.conf file (see [`parse_resolv_conf`](Self::parse_resolv_conf)).
    ///
    /// This reads the file synchronously: call it at start-up, not inside a latency-sensitive
    /// task. Fails only when the file cannot be read. Bytes that are not UTF-8 are read as
    /// U+FFFD: such a word is no address, number or domain name here, as in glibc.
    pub fn from_resolv_conf(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| Error::ResolvConf {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse_resolv_conf(&String::from_utf8_lossy(&text));
        config.resolv_conf = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses resolv.conf text as glibc 2.36 does, apart from the deliberate differences listed
    /// in this function's module docs (stubborn's defaults for what the file leaves out, port
    /// forms, no host-name search domain, ...). Never fails: what glibc ignores is ignored, with
    /// a `tracing` warning. Without any usable `nameserver` line the server is `127.0.0.1:53`,
    /// as glibc.
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
        // glibc reads lines with getline (they end at '\n' only) and then treats each as a C
        // string (it ends at the first NUL).
        for (index, raw) in text.split('\n').enumerate() {
            let line_no = index + 1;
            let line = raw.split('\0').next().unwrap_or_default();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = keyword(line, "domain") {
                // The first word only (glibc cuts at the first blank).
                if let Some(word) = words(rest).next() {
                    search = search_list([word], line_no);
                }
            } else if let Some(rest) = keyword(line, "search") {
                // A line with words replaces the list, even if none of them is usable.
                if words(rest).next().is_some() {
                    search = search_list(words(rest), line_no);
                }
            } else if let Some(rest) = keyword(line, "nameserver") {
                match words(rest).next().and_then(nameserver) {
                    Some(server) => servers.push(server),
                    None if line.ends_with('\r') => warn!(
                        line = line_no,
                        text = line,
                        "resolv.conf: not a name server address (the line ends in \\r, which \
                         glibc reads as part of the address), line ignored as glibc does"
                    ),
                    None => warn!(
                        line = line_no,
                        text = line,
                        "resolv.conf: not a name server address, line ignored as glibc does"
                    ),
                }
            } else if let Some(rest) = keyword(line, "options") {
                for word in words(rest) {
                    apply_option(&mut config, word, line_no);
                }
            } else if keyword(line, "sortlist").is_some() {
                warn!(
                    line = line_no,
                    "resolv.conf: sortlist has no effect here, ignored"
                );
            } else if !line.trim_matches([' ', '\t', '\r']).is_empty() {
                warn!(line = line_no, text = line, "resolv.conf: line ignored");
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

/// glibc's `MATCH`: the rest of `line` after `name` when `name` starts it and is followed by a
/// space or a tab.
fn keyword<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.strip_prefix(name)
        .filter(|rest| rest.starts_with([' ', '\t']))
}

/// The words of a value: runs of bytes other than space and tab.
fn words(rest: &str) -> impl Iterator<Item = &str> {
    rest.split([' ', '\t']).filter(|w| !w.is_empty())
}

/// The search list from the words of a `search` or `domain` line.
fn search_list<'a>(words: impl IntoIterator<Item = &'a str>, line_no: usize) -> Vec<String> {
    let mut list = Vec::new();
    for word in words {
        if word.starts_with('#') || word.starts_with(';') {
            warn!(
                line = line_no,
                "resolv.conf: comment after search domains (glibc would search its words)"
            );
            break;
        }
        // glibc's search walk drops one leading dot (`if (dname[0] == '.') dname++;`).
        let domain = word.strip_prefix('.').unwrap_or(word);
        if domain.is_empty() {
            warn!(
                line = line_no,
                "resolv.conf: root search domain ignored (glibc would try the bare name here)"
            );
        } else if usable_domain(domain) {
            list.push(domain.to_string());
        } else {
            warn!(
                line = line_no,
                domain = ?word,
                "resolv.conf: search domain that is not a domain name ignored"
            );
        }
    }
    list
}

/// A domain name: no empty label (one trailing dot allowed), and one hickory parses, so that
/// any file gives a config [`Resolver::new`](crate::Resolver::new) accepts.
fn usable_domain(domain: &str) -> bool {
    let body = domain.strip_suffix('.').unwrap_or(domain);
    !body.is_empty() && !body.split('.').any(str::is_empty) && Name::from_utf8(body).is_ok()
}

/// Applies one word of an `options` line, as glibc's `res_setoptions`.
fn apply_option(config: &mut Config, word: &str, line_no: usize) {
    let take = std::mem::replace(config, Config::new(Vec::new()));
    *config = if let Some(value) = word.strip_prefix("ndots:") {
        let n = atoi(value).min(GLIBC_MAX_NDOTS);
        if n < 0 {
            warn!(
                line = line_no,
                option = word,
                "resolv.conf: negative ndots, using 0 (glibc would keep its low 4 bits)"
            );
        }
        take.with_ndots(n.max(0) as u8)
    } else if let Some(value) = word.strip_prefix("timeout:") {
        // glibc's sender waits 1 s when the timeout is 0 or below.
        let secs = atoi(value).clamp(1, GLIBC_MAX_TIMEOUT);
        take.with_timeout(Duration::from_secs(secs as u64))
    } else if let Some(value) = word.strip_prefix("attempts:") {
        let n = atoi(value).min(GLIBC_MAX_ATTEMPTS);
        if n < 1 {
            warn!(
                line = line_no,
                option = word,
                "resolv.conf: attempts below 1, using 1 (glibc would send nothing)"
            );
        }
        take.with_attempts(n.max(1) as u8)
    } else if word.starts_with("rotate") {
        take.with_rotate(true)
    } else if word.starts_with("edns0") {
        let payload = take.edns().unwrap_or(DEFAULT_EDNS_PAYLOAD);
        take.with_edns(Some(payload))
    } else if let Some(option) = GLIBC_WITHOUT_EFFECT.iter().find(|o| word.starts_with(*o)) {
        debug!(
            line = line_no,
            option, "resolv.conf: glibc option with no effect here"
        );
        take
    } else if word.starts_with("single-request") {
        take.with_single_request(true)
    } else if word.starts_with("use-vc") {
        take.with_tcp_only(true)
    } else {
        warn!(
            line = line_no,
            option = word,
            "resolv.conf: unknown option ignored"
        );
        take
    };
}

/// glibc's `atoi`: `(int) strtol (text, NULL, 10)` in the C locale. Leading white space, an
/// optional sign, then decimal digits up to the first other byte (none: 0); `strtol` saturates
/// at the bounds of a 64-bit `long`, and the cast keeps its low 32 bits.
fn atoi(text: &str) -> i32 {
    let bytes = text.as_bytes();
    let mut i = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .unwrap_or(bytes.len());
    let negative = bytes.get(i) == Some(&b'-');
    if matches!(bytes.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let mut magnitude: u128 = 0;
    for b in bytes[i..].iter().take_while(|b| b.is_ascii_digit()) {
        magnitude = (magnitude * 10 + u128::from(b - b'0')).min(1 << 64);
    }
    let long: i64 = if negative {
        i64::try_from(-(magnitude as i128)).unwrap_or(i64::MIN)
    } else {
        i64::try_from(magnitude).unwrap_or(i64::MAX)
    };
    long as i32
}

/// One `nameserver` word: an address as glibc reads it, or stubborn's port forms.
fn nameserver(word: &str) -> Option<SocketAddr> {
    if let Some(v4) = inet_aton_exact(word) {
        return Some(SocketAddr::from((v4, 53)));
    }
    if let Some(v6) = ipv6_with_zone(word, 53) {
        return Some(SocketAddr::V6(v6));
    }
    with_port(word)
}

/// stubborn's `IP:PORT` and `[IPv6]:PORT` (glibc skips both). `None` for port 0.
fn with_port(word: &str) -> Option<SocketAddr> {
    let (host, port) = match word.strip_prefix('[') {
        Some(rest) => rest.split_once("]:")?,
        None => word.split_once(':')?,
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    let addr = if word.starts_with('[') {
        SocketAddr::V6(ipv6_with_zone(host, port)?)
    } else {
        SocketAddr::from((inet_aton_exact(host)?, port))
    };
    debug!(server = %addr, "resolv.conf: name server with a port (glibc skips this line)");
    Some(addr)
}

/// An IPv6 address with an optional zone after the first `%`, as glibc's resolv.conf parser
/// reads it: the address by `inet_pton`, the zone by `__inet6_scopeid_pton`, errors in the zone
/// ignored (scope 0).
fn ipv6_with_zone(text: &str, port: u16) -> Option<SocketAddrV6> {
    let (addr, zone) = match text.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (text, None),
    };
    let ip = inet_pton6(addr.as_bytes())?;
    let scope = match zone {
        Some(zone) => scope_id(&ip, zone).unwrap_or_else(|| {
            warn!(zone, %ip, "resolv.conf: IPv6 zone not usable, scope 0 as glibc");
            0
        }),
        None => 0,
    };
    Some(SocketAddrV6::new(ip, port, 0, scope))
}

/// glibc's `__inet6_scopeid_pton`: an interface name, for link-local unicast and link-local or
/// node-local multicast addresses only; else decimal digits up to 2^32-1.
fn scope_id(ip: &Ipv6Addr, zone: &str) -> Option<u32> {
    let o = ip.octets();
    let link_local = o[0] == 0xfe && o[1] & 0xc0 == 0x80;
    let local_multicast = o[0] == 0xff && matches!(o[1] & 0x0f, 1 | 2);
    if (link_local || local_multicast)
        && let Ok(name) = CString::new(zone)
    {
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call;
        // if_nametoindex only reads it and returns 0 for unknown interfaces.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index != 0 {
            return Some(index);
        }
    }
    if zone.starts_with(|c: char| c.is_ascii_digit()) && zone.bytes().all(|b| b.is_ascii_digit()) {
        return zone.parse().ok();
    }
    None
}

/// glibc's `__inet_aton_exact`: `inet_aton` over the whole word. 1 to 4 parts separated by
/// dots, each starting with a digit and read by `strtoul` in base 0 (`0x` hex, `0` octal, else
/// decimal); every part but the last is a byte, the last fills the remaining bytes.
fn inet_aton_exact(text: &str) -> Option<Ipv4Addr> {
    let s = text.as_bytes();
    let mut bytes = [0u8; 3];
    let mut parts = 0;
    let mut i = 0;
    let last = loop {
        if !s.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (value, end) = strtoul_base0(s, i)?;
        i = end;
        if s.get(i) == Some(&b'.') {
            if parts > 2 || value > 0xff {
                return None;
            }
            bytes[parts] = value as u8;
            parts += 1;
            i += 1;
        } else {
            break value;
        }
    };
    if i != s.len() || last > u32::MAX >> (8 * parts) {
        return None;
    }
    let mut addr = last;
    for (k, b) in bytes[..parts].iter().enumerate() {
        addr |= u32::from(*b) << (24 - 8 * k);
    }
    Some(Ipv4Addr::from(addr))
}

/// `strtoul (s + start, &end, 0)` for a `start` at a digit, `None` above `u32::MAX` (glibc's
/// `inet_aton` rejects those). Returns the value and the index of the first byte not read.
fn strtoul_base0(s: &[u8], start: usize) -> Option<(u32, usize)> {
    let (radix, mut i) = match (s[start], s.get(start + 1)) {
        (b'0', Some(b'x' | b'X')) if s.get(start + 2).is_some_and(u8::is_ascii_hexdigit) => {
            (16, start + 2)
        }
        // "0x" without a hex digit after it: strtoul reads the 0 and stops at the x.
        (b'0', _) => (8, start),
        _ => (10, start),
    };
    let mut value: u64 = 0;
    while let Some(digit) = s.get(i).and_then(|&b| char::from(b).to_digit(radix)) {
        value = value * u64::from(radix) + u64::from(digit);
        if value > u64::from(u32::MAX) {
            return None;
        }
        i += 1;
    }
    Some((value as u32, i))
}

/// glibc's `inet_pton (AF_INET6, ...)` (`resolv/inet_pton.c`): up to 8 groups of 1 to 4 hex
/// digits, one `::`, an optional dotted IPv4 tail.
fn inet_pton6(src: &[u8]) -> Option<Ipv6Addr> {
    let mut out = [0u8; 16];
    let mut tp = 0;
    let mut colonp: Option<usize> = None;
    let mut i = 0;
    if src.is_empty() {
        return None;
    }
    if src[0] == b':' {
        if src.get(1) != Some(&b':') {
            return None;
        }
        i = 1;
    }
    let mut curtok = i;
    let mut digits = 0;
    let mut val: u32 = 0;
    while i < src.len() {
        let ch = src[i];
        i += 1;
        if let Some(d) = char::from(ch).to_digit(16) {
            if digits == 4 {
                return None;
            }
            val = (val << 4) | d;
            digits += 1;
            continue;
        }
        if ch == b':' {
            curtok = i;
            if digits == 0 {
                if colonp.is_some() {
                    return None;
                }
                colonp = Some(tp);
                continue;
            } else if i == src.len() || tp + 2 > 16 {
                return None;
            }
            out[tp] = (val >> 8) as u8;
            out[tp + 1] = val as u8;
            tp += 2;
            digits = 0;
            val = 0;
            continue;
        }
        if ch == b'.' && tp + 4 <= 16 {
            let v4 = inet_pton4(&src[curtok..])?;
            out[tp..tp + 4].copy_from_slice(&v4);
            tp += 4;
            digits = 0;
            break;
        }
        return None;
    }
    if digits > 0 {
        if tp + 2 > 16 {
            return None;
        }
        out[tp] = (val >> 8) as u8;
        out[tp + 1] = val as u8;
        tp += 2;
    }
    if let Some(c) = colonp {
        if tp == 16 {
            return None;
        }
        let n = tp - c;
        out.copy_within(c..tp, 16 - n);
        out[c..16 - n].fill(0);
        tp = 16;
    }
    (tp == 16).then(|| Ipv6Addr::from(out))
}

/// glibc's `inet_pton4`: exactly 4 decimal bytes, no leading zeros.
fn inet_pton4(src: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut octets = 0;
    let mut saw_digit = false;
    let mut cur: u32 = 0;
    for &ch in src {
        if ch.is_ascii_digit() {
            if saw_digit && cur == 0 {
                return None;
            }
            cur = cur * 10 + u32::from(ch - b'0');
            if cur > 255 {
                return None;
            }
            if !saw_digit {
                octets += 1;
                if octets > 4 {
                    return None;
                }
                saw_digit = true;
            }
            out[octets - 1] = cur as u8;
        } else if ch == b'.' && saw_digit {
            if octets == 4 {
                return None;
            }
            cur = 0;
            saw_digit = false;
        } else {
            return None;
        }
    }
    (octets == 4).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_exact_reads_glibc_forms() {
        let v4 = |s: &str| inet_aton_exact(s).map(|a| a.to_string());
        for (text, want) in [
            ("127.0.0.1", Some("127.0.0.1")),
            ("127.1", Some("127.0.0.1")),
            ("0x7f.0.0.1", Some("127.0.0.1")),
            ("0X7F.1", Some("127.0.0.1")),
            ("010.0.0.1", Some("8.0.0.1")),
            ("00.0.0.1", Some("0.0.0.1")),
            ("2130706433", Some("127.0.0.1")),
            ("0xffffffff", Some("255.255.255.255")),
            ("10.1.65535", Some("10.1.255.255")),
            ("1.16777215", Some("1.255.255.255")),
            ("1.16777216", None),
            ("4294967296", None),
            ("99999999999999999999999", None),
            ("256.0.0.1", None),
            ("1.2.3.256", None),
            ("1.2.3.4.5", None),
            ("09.1.1.1", None),
            ("1.2.3.08", None),
            ("0x", None),
            ("0x.1.1.1", None),
            ("0xg", None),
            ("1.2.3.4.", None),
            (".1.2.3", None),
            ("1..2", None),
            ("+1.2.3.4", None),
            ("1.2.3.4 ", None),
            ("1.2.3.4\r", None),
            ("::1", None),
            ("", None),
        ] {
            assert_eq!(v4(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn inet_pton6_reads_glibc_forms() {
        let v6 = |s: &str| inet_pton6(s.as_bytes()).map(|a| a.to_string());
        for (text, want) in [
            ("::1", Some("::1")),
            ("::", Some("::")),
            ("FE80::1", Some("fe80::1")),
            ("1:2:3:4:5:6:7:8", Some("1:2:3:4:5:6:7:8")),
            ("1:2:3:4:5:6:7::", Some("1:2:3:4:5:6:7:0")),
            ("::2:3:4:5:6:7:8", Some("0:2:3:4:5:6:7:8")),
            ("::ffff:1.2.3.4", Some("::ffff:1.2.3.4")),
            ("1:2:3:4:5:6:1.2.3.4", Some("1:2:3:4:5:6:102:304")),
            ("0001:0002::", Some("1:2::")),
            ("1:2:3:4:5:6:7:8::", None),
            ("1:2:3:4:5:6:7:8:9", None),
            ("1:2:3:4:5:6:7", None),
            ("1:2:3:4:5:6:7:1.2.3.4", None),
            ("::ffff:01.2.3.4", None),
            ("::ffff:1.2.3", None),
            ("::ffff:256.1.1.1", None),
            ("12345::1", None),
            ("1::2::3", None),
            (":1::", None),
            ("1:", None),
            (":::", None),
            ("[::1]", None),
            ("", None),
        ] {
            assert_eq!(v6(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn atoi_reads_like_glibc() {
        for (text, want) in [
            ("5", 5),
            ("5x", 5),
            ("x", 0),
            ("-3", -3),
            ("+3", 3),
            ("+-3", 0),
            ("", 0),
            ("\r5", 5),
            ("\u{b}\u{c} 7", 7),
            ("2147483647", i32::MAX),
            ("2147483648", i32::MIN),
            ("4294967297", 1),
            ("-2147483649", i32::MAX),
            ("99999999999999999999999", -1),
            ("-99999999999999999999999", 0),
        ] {
            assert_eq!(atoi(text), want, "{text:?}");
        }
    }

    #[test]
    fn nameserver_forms() {
        let ns = |s: &str| nameserver(s);
        let addr = |s: &str| Some(s.parse::<SocketAddr>().unwrap());
        assert_eq!(ns("::1"), addr("[::1]:53"));
        assert_eq!(ns("fe80::1%3"), addr("[fe80::1%3]:53"));
        assert_eq!(ns("2001:db8::1%7"), addr("[2001:db8::1%7]:53"));
        assert_eq!(ns("fe80::1%4294967296"), addr("[fe80::1]:53"));
        assert_eq!(ns("fe80::1%+1"), addr("[fe80::1]:53"));
        assert_eq!(ns("fe80::1%no-such-interface0"), addr("[fe80::1]:53"));
        assert_eq!(
            ns("2001:db8::1%lo"),
            addr("[2001:db8::1]:53"),
            "interface names only on link-local addresses"
        );
        if let Some(SocketAddr::V6(lo)) = ns("fe80::1%lo") {
            assert!(lo.scope_id() > 0, "lo has an interface index");
        }
        assert_eq!(ns("[::1]:5353"), addr("[::1]:5353"));
        assert_eq!(ns("127.0.0.1:5353"), addr("127.0.0.1:5353"));
        assert_eq!(ns("127.1:53"), addr("127.0.0.1:53"));
        for bad in [
            "dns.google",
            "[::1]",
            "[::1]:",
            "[::1]:+53",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "1.2.3.4%lo",
            "%lo",
            "10.0.0.1\r",
            "10.0.0.1#x",
        ] {
            assert_eq!(ns(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lines_end_at_newline_only() {
        // CRLF: the \r belongs to the last value, as in glibc.
        let c = Config::parse_resolv_conf(
            "nameserver 10.0.0.1\r\nnameserver 10.0.0.2 \r\nsearch a.example b.example\r\n\
             options ndots:3\r\n",
        );
        assert_eq!(c.servers(), ["10.0.0.2:53".parse().unwrap()]);
        assert_eq!(c.search(), ["a.example".to_string()]);
        assert_eq!(c.ndots(), 3);
        // Bare \r: one line.
        let c = Config::parse_resolv_conf("nameserver 10.0.0.1\rnameserver 10.0.0.2\r");
        assert_eq!(c.servers(), ["127.0.0.1:53".parse().unwrap()]);
        // NUL ends a line; no final newline is fine.
        let c = Config::parse_resolv_conf("nameserver 10.0.0.1\0junk\nnameserver 10.0.0.2");
        assert_eq!(
            c.servers(),
            [
                "10.0.0.1:53".parse().unwrap(),
                "10.0.0.2:53".parse().unwrap()
            ]
        );
        // \v is no separator.
        let c = Config::parse_resolv_conf("nameserver\u{b}10.0.0.1\n");
        assert_eq!(c.servers(), ["127.0.0.1:53".parse().unwrap()]);
    }

    #[test]
    fn search_lines_as_glibc_walks_them() {
        let c = Config::parse_resolv_conf("search .a.example ..b.example c.example\n");
        assert_eq!(
            c.search(),
            ["a.example".to_string(), "c.example".to_string()],
            "one leading dot dropped, as glibc's walk does"
        );
        let c = Config::parse_resolv_conf("search a.example\nsearch #comment\n");
        assert!(c.search().is_empty(), "a line with words replaces the list");
        let c = Config::parse_resolv_conf("search a.example\nsearch \t\n");
        assert_eq!(
            c.search(),
            ["a.example".to_string()],
            "an empty line does not"
        );
        let c = Config::parse_resolv_conf("domain b.example c.example\n");
        assert_eq!(c.search(), ["b.example".to_string()], "domain: first word");
        let many: Vec<String> = (0..10).map(|i| format!("d{i}.example")).collect();
        let c = Config::parse_resolv_conf(&format!("search {}\n", many.join(" ")));
        assert_eq!(c.search(), many, "no 6-domain limit: glibc walks them all");
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
                 nameserver 10.0.0.3\nnameserver 10.0.0.4\r\nnameserver 10.0.0.5\n\
                 nameserver 10.0.0.6\nsearch a.example a_b.example\n",
            ));
        });
        let config = config.unwrap();
        assert_eq!(config.servers().len(), 3);
        assert_eq!((config.ndots(), config.attempts()), (15, 1));
        for expected in [
            "line ignored",
            "not a name server address",
            "ends in \\r",
            "unknown option ignored",
            "frobnicate",
            "attempts below 1",
            "more than 3 nameservers",
            "not a domain name",
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
        let c = Config::parse_resolv_conf(
            "search good.example bad..domain . other.example. two.dots.. a\rb\n",
        );
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
        fn arbitrary_text_never_panics(text in "(nameserver|search|domain|options|#|;| |\t|\r|\n|\0|\u{b}|[a-z0-9.:%\\[\\]-]{0,12}){0,40}") {
            let config = Config::parse_resolv_conf(&text);
            proptest::prop_assert!(!config.servers().is_empty());
            proptest::prop_assert!(config.servers().len() <= 3);
            proptest::prop_assert!(crate::Resolver::new(config.with_hosts_file(None)).is_ok());
        }
    }
}
