//! What glibc read, what stubborn read, and whether they differ only where the resolver's docs
//! say they do.
//!
//! The probe prints two glibc runs over the same file: `plain` (what getaddrinfo uses) and
//! `ours` (glibc with stubborn's defaults for what a file leaves out preset, through res_init's
//! own mechanism for that). stubborn is compared with `ours`; `plain` tells which files the
//! different defaults concern. Each documented difference is modelled here from glibc's side
//! only (plus the public [`Resolver::new`] for "a usable domain name"), never by calling into
//! stubborn's reader, so an accident in the reader shows as a disagreement.

use std::fmt;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use stubborn::{Config, Resolver};

use crate::generate::{DOTTED_HOSTNAME, HOSTNAME_DOMAIN};

/// One glibc run, as the probe printed it.
#[derive(Debug, Default, PartialEq)]
pub struct GlibcRun {
    /// The name servers res_send uses (the first 3).
    pub servers: Vec<SocketAddr>,
    /// Every usable `nameserver` line glibc read.
    pub ns_total: usize,
    /// The search list getaddrinfo walks, byte for byte.
    pub search: Vec<Vec<u8>>,
    /// ndots as read (an `int`, may be negative) and as used (a 4-bit field).
    pub ndots: i32,
    pub ndots_used: u8,
    /// `retrans` (timeout, seconds) and `retry` (attempts), as glibc holds them.
    pub retrans: i32,
    pub retry: i32,
    /// Option flags set, by their resolv.conf names.
    pub flags: Vec<String>,
    /// Entries of the sort list.
    pub nsort: usize,
}

impl GlibcRun {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Both runs of one file.
#[derive(Debug)]
pub struct GlibcView {
    pub version: String,
    pub plain: GlibcRun,
    pub ours: GlibcRun,
}

/// Reads the probe's output (see `probe/glibc_resolv_probe.c`).
pub fn parse_probe(text: &str) -> Result<GlibcView, String> {
    let mut version = None;
    let mut runs: Vec<(String, GlibcRun)> = Vec::new();
    let mut ended = false;
    for line in text.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        if key == "glibc" {
            version = Some(rest.to_string());
            continue;
        }
        if key == "run" {
            runs.push((rest.to_string(), GlibcRun::default()));
            continue;
        }
        if key == "end" {
            ended = true;
            continue;
        }
        let run = &mut runs.last_mut().ok_or("field before any run")?.1;
        let words: Vec<&str> = rest.split(' ').collect();
        let int = |i: usize| -> Result<i64, String> {
            words
                .get(i)
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| format!("bad line {line:?}"))
        };
        match key {
            "ns_total" => run.ns_total = int(0)? as usize,
            "ns" => {
                let ip: IpAddr = words
                    .get(1)
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| format!("bad line {line:?}"))?;
                let port = int(2)? as u16;
                let scope = int(3)? as u32;
                run.servers.push(match ip {
                    IpAddr::V4(v4) => SocketAddr::from((v4, port)),
                    IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)),
                });
            }
            "search" => run.search.push(hex(rest)?),
            "ndots" => {
                run.ndots = int(0)? as i32;
                run.ndots_used = int(1)? as u8;
            }
            "retrans" => run.retrans = int(0)? as i32,
            "retry" => run.retry = int(0)? as i32,
            "flags" => {
                run.flags = words
                    .iter()
                    .filter(|w| !w.is_empty())
                    .map(|w| w.to_string())
                    .collect()
            }
            "nsort" => run.nsort = int(0)? as usize,
            _ => return Err(format!("unknown line {line:?}")),
        }
    }
    let mut take = |name: &str| {
        runs.iter()
            .position(|(n, _)| n == name)
            .map(|i| runs.remove(i).1)
            .ok_or(format!("no {name} run"))
    };
    let plain = take("plain")?;
    let ours = take("ours")?;
    if !ended {
        return Err("output cut short".into());
    }
    Ok(GlibcView {
        version: version.ok_or("no glibc version")?,
        plain,
        ours,
    })
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad hex {text:?}"))
        })
        .collect()
}

/// A difference from glibc 2.36 that the resolver's docs list, with its reason there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Deliberate {
    DefaultTimeout,
    DefaultAttempts,
    DefaultEdns,
    AttemptsBelowOne,
    NegativeNdots,
    PortForm,
    HostnameDomain,
    SearchComment,
    RootDomain,
    NotAName,
    UnusedOption(String),
    Sortlist,
}

impl Deliberate {
    /// One of stubborn's defaults for what a file leaves out.
    pub fn is_default(&self) -> bool {
        matches!(
            self,
            Deliberate::DefaultTimeout | Deliberate::DefaultAttempts | Deliberate::DefaultEdns
        )
    }
}

impl fmt::Display for Deliberate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deliberate::DefaultTimeout => f.write_str("no timeout option: 1 s (glibc 5 s)"),
            Deliberate::DefaultAttempts => f.write_str("no attempts option: 5 (glibc 2)"),
            Deliberate::DefaultEdns => f.write_str("no edns0 option: EDNS on (glibc off)"),
            Deliberate::AttemptsBelowOne => {
                f.write_str("attempts:0 or below: 1 (glibc sends nothing)")
            }
            Deliberate::NegativeNdots => {
                f.write_str("negative ndots: 0 (glibc keeps the low 4 bits: -1 is 15)")
            }
            Deliberate::PortForm => {
                f.write_str("nameserver IP:PORT or [IPv6]:PORT read (glibc skips the line)")
            }
            Deliberate::HostnameDomain => {
                f.write_str("no search or domain: no search list (glibc: the host name's domain)")
            }
            Deliberate::SearchComment => f.write_str(
                "search words from a # or ; word on are a comment (glibc searches them)",
            ),
            Deliberate::RootDomain => {
                f.write_str("root search domain dropped (glibc tries the bare name there)")
            }
            Deliberate::NotAName => {
                f.write_str("search word that is not a domain name dropped (glibc asks it)")
            }
            Deliberate::UnusedOption(name) => {
                write!(f, "option {name}: no effect in stubborn")
            }
            Deliberate::Sortlist => f.write_str("sortlist: no effect in stubborn"),
        }
    }
}

/// Differences found in one file.
#[derive(Default)]
pub struct Outcome {
    pub deliberate: Vec<Deliberate>,
    /// (field, what differs)
    pub disagreements: Vec<(&'static str, String)>,
}

impl Outcome {
    fn check<T: PartialEq + fmt::Debug>(&mut self, field: &'static str, glibc: T, stubborn: T) {
        if glibc != stubborn {
            self.disagreements.push((
                field,
                format!(
                    "{field}: glibc (as documented for stubborn) {glibc:?}, stubborn {stubborn:?}"
                ),
            ));
        }
    }
}

/// Compares stubborn's reading of a file (`ours`, and `neutral`: the same file with stubborn's
/// `IP:PORT` lines commented out, see [`without_port_forms`]) with glibc's.
pub fn compare(glibc: &GlibcView, hostname: &str, ours: &Config, neutral: &Config) -> Outcome {
    let mut out = Outcome::default();
    let (plain, run) = (&glibc.plain, &glibc.ours);

    // The two glibc runs differ only where stubborn's defaults are preset.
    let same = |a: &GlibcRun, b: &GlibcRun| {
        let flags = |r: &GlibcRun| {
            r.flags
                .iter()
                .filter(|f| *f != "edns0")
                .cloned()
                .collect::<Vec<_>>()
        };
        a.servers == b.servers
            && a.ns_total == b.ns_total
            && a.search == b.search
            && (a.ndots, a.ndots_used) == (b.ndots, b.ndots_used)
            && flags(a) == flags(b)
            && a.nsort == b.nsort
    };
    if !same(plain, run) {
        out.disagreements.push((
            "probe",
            format!("the two glibc runs differ: {plain:?} / {run:?}"),
        ));
    }

    // Name servers: glibc skips stubborn's port forms, so stubborn without them reads glibc's
    // list; with them, its own.
    out.check("servers", run.servers.as_slice(), neutral.servers());
    if ours.servers() != neutral.servers() {
        out.deliberate.push(Deliberate::PortForm);
    }

    // The search list getaddrinfo walks.
    let expected = expected_search(run, hostname, &mut out.deliberate);
    out.check("search", expected.as_slice(), ours.search());

    let ndots = if run.ndots < 0 {
        out.deliberate.push(Deliberate::NegativeNdots);
        0
    } else {
        run.ndots_used
    };
    out.check("ndots", ndots, ours.ndots());

    // glibc's sender waits 1 s when retrans is 0 or below (`if (seconds <= 0) seconds = 1`).
    if plain.retrans != run.retrans {
        out.deliberate.push(Deliberate::DefaultTimeout);
    }
    let timeout = Duration::from_secs(run.retrans.max(1) as u64);
    out.check("timeout", timeout, ours.timeout());

    if plain.retry != run.retry {
        out.deliberate.push(Deliberate::DefaultAttempts);
    }
    let attempts = if run.retry < 1 {
        out.deliberate.push(Deliberate::AttemptsBelowOne);
        1
    } else {
        run.retry as u8
    };
    out.check("attempts", attempts, ours.attempts());

    if !plain.has("edns0") {
        out.deliberate.push(Deliberate::DefaultEdns);
    }
    out.check("edns0", run.has("edns0"), ours.edns().is_some());
    out.check("rotate", run.has("rotate"), ours.rotate());
    out.check("use-vc", run.has("use-vc"), ours.tcp_only());
    out.check(
        "single-request",
        run.has("single-request"),
        ours.single_request(),
    );
    for flag in [
        "single-request-reopen",
        "no-tld-query",
        "no-reload",
        "trust-ad",
        "no-aaaa",
    ] {
        if run.has(flag) {
            out.deliberate
                .push(Deliberate::UnusedOption(flag.to_string()));
        }
    }
    if run.nsort > 0 {
        out.deliberate.push(Deliberate::Sortlist);
    }
    out
}

/// glibc's search list, as the documented differences make it for stubborn.
fn expected_search(
    run: &GlibcRun,
    hostname: &str,
    deliberate: &mut Vec<Deliberate>,
) -> Vec<String> {
    if hostname == DOTTED_HOSTNAME && run.search == [HOSTNAME_DOMAIN.as_bytes()] {
        deliberate.push(Deliberate::HostnameDomain);
        return Vec::new();
    }
    let mut expected = Vec::new();
    let mut kinds = Vec::new();
    for word in &run.search {
        if word.starts_with(b"#") || word.starts_with(b";") {
            kinds.push(Deliberate::SearchComment);
            break;
        }
        // glibc's search walk drops one leading dot (`if (dname[0] == '.') dname++;`): ".a" is
        // "a", "." the root.
        let domain = word.strip_prefix(b".").unwrap_or(word);
        if domain.is_empty() {
            kinds.push(Deliberate::RootDomain);
        } else if let Some(name) = usable_domain(domain) {
            expected.push(name);
        } else {
            kinds.push(Deliberate::NotAName);
        }
    }
    kinds.dedup();
    deliberate.extend(kinds);
    expected
}

/// A domain name stubborn can search: UTF-8, no empty label (one trailing dot allowed), and
/// accepted by [`Resolver::new`].
fn usable_domain(word: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(word).ok()?;
    let body = text.strip_suffix('.').unwrap_or(text);
    if body.is_empty() || body.split('.').any(str::is_empty) {
        return None;
    }
    let config = Config::new(vec![SocketAddr::from(([127, 0, 0, 1], 53))])
        .with_search(vec![text.to_string()])
        .with_hosts_file(None);
    Resolver::new(config).ok().map(|_| text.to_string())
}

/// The file with every `nameserver` line whose address word has stubborn's port form
/// (`[...]:PORT`, or a single `:`) turned into a comment. glibc skips all such lines (no IPv4
/// address has a `:`, no IPv6 address a `[` or just one `:`), so it reads both files alike.
pub fn without_port_forms(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    for line in text.split_inclusive(|&b| b == b'\n') {
        let port_form = line
            .strip_prefix(b"nameserver")
            .filter(|rest| rest.first().is_some_and(|&b| b == b' ' || b == b'\t'))
            .map(|rest| {
                let start = rest
                    .iter()
                    .position(|&b| b != b' ' && b != b'\t')
                    .unwrap_or(rest.len());
                let word = &rest[start..];
                let end = word
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'\t' | b'\n' | 0))
                    .unwrap_or(word.len());
                let word = &word[..end];
                let colons = word.iter().filter(|&&b| b == b':').count();
                (word.starts_with(b"[") && word.windows(2).any(|w| w == b"]:")) || colons == 1
            })
            .unwrap_or(false);
        if port_form {
            out.push(b'#');
        }
        out.extend_from_slice(line);
    }
    out
}
