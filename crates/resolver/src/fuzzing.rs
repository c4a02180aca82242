//! Entry points for the coverage-guided fuzz targets in the workspace's `fuzz/` directory
//! (cargo feature `fuzzing`). They expose the reply checks, the reply classification and the
//! two configuration parsers, plus small serialisers that let a target check round trips. Not
//! part of the supported API: it may change in any release.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record};

use crate::config::Config;
use crate::hosts::Hosts;
use crate::trace::QueryResult;
use crate::wire::{self, Question};

/// What [`classify`] found in an accepted reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The name at the end of the CNAME chain.
    pub canonical: Name,
    /// Records of the asked type at `canonical`.
    pub records: Vec<Record>,
    /// The CNAME records followed, in order.
    pub chain: Vec<Record>,
}

/// Classifies an accepted reply to `question`, as a lookup does.
pub fn classify(message: &Message, question: &Question) -> Result<Answered, QueryResult> {
    wire::classify(message, question).map(|a| Answered {
        canonical: a.canonical,
        records: a.records,
        chain: a.chain,
    })
}

/// How long a negative reply may be cached, in seconds (`None`: not cacheable).
pub fn negative_ttl(message: &Message) -> Option<u32> {
    wire::negative_ttl(message)
}

/// The cheap check a socket's reader makes before handing a datagram to the query whose
/// question has `question`'s key.
pub fn may_answer(bytes: &[u8], question: &Question) -> bool {
    wire::may_answer(bytes, question.key())
}

/// A hosts file as the resolver reads it, flattened for inspection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostsTable {
    /// Lookup key (lowercase, no trailing dot) -> (canonical name, addresses in file order).
    pub by_name: BTreeMap<String, (Name, Vec<IpAddr>)>,
    /// Address -> the name a reverse lookup answers.
    pub by_addr: BTreeMap<IpAddr, Name>,
}

/// A parsed hosts file, with the resolver's own lookups.
pub struct HostsFile(Hosts);

impl HostsFile {
    /// Parses hosts-file text.
    pub fn parse(text: &str) -> HostsFile {
        HostsFile(Hosts::parse(text))
    }

    /// The canonical name and addresses of `name`, as a lookup finds them.
    pub fn lookup(&self, name: &Name) -> Option<(Name, Vec<IpAddr>)> {
        self.0
            .lookup(name)
            .map(|(canonical, ips)| (canonical.clone(), ips.to_vec()))
    }

    /// The name a reverse lookup of `ip` finds.
    pub fn reverse(&self, ip: IpAddr) -> Option<Name> {
        self.0.reverse(ip).cloned()
    }

    /// Every entry.
    pub fn table(&self) -> HostsTable {
        HostsTable {
            by_name: self
                .0
                .by_name
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            by_addr: self
                .0
                .by_addr
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
        }
    }
}

/// The resolv.conf settings of `config` written back as resolv.conf text: `nameserver` lines
/// (with stubborn's port forms where the port is not 53), one `search` line, one `options`
/// line. Reading the text back gives the same settings.
pub fn resolv_conf_text(config: &Config) -> String {
    let mut out = String::new();
    for server in config.servers() {
        let _ = match server {
            SocketAddr::V4(v4) if v4.port() == 53 => writeln!(out, "nameserver {}", v4.ip()),
            SocketAddr::V4(v4) => writeln!(out, "nameserver {v4}"),
            SocketAddr::V6(v6) => {
                let zone = match v6.scope_id() {
                    0 => String::new(),
                    scope => format!("%{scope}"),
                };
                if v6.port() == 53 {
                    writeln!(out, "nameserver {}{zone}", v6.ip())
                } else {
                    writeln!(out, "nameserver [{}{zone}]:{}", v6.ip(), v6.port())
                }
            }
        };
    }
    if !config.search().is_empty() {
        let _ = writeln!(out, "search {}", config.search().join(" "));
    }
    let _ = write!(
        out,
        "options ndots:{} timeout:{} attempts:{}",
        config.ndots(),
        config.timeout().as_secs(),
        config.attempts()
    );
    for (on, word) in [
        (config.rotate(), "rotate"),
        (config.tcp_only(), "use-vc"),
        (config.single_request(), "single-request"),
    ] {
        if on {
            out.push(' ');
            out.push_str(word);
        }
    }
    out.push('\n');
    out
}
