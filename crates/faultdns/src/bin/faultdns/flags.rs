//! Raw command-line flags, as clap parses them; [`crate::plan`] validates them.

use std::{net::SocketAddr, path::PathBuf};

/// A DNS server that injects faults: drops, delays, SERVFAIL, truncation, wrong IDs, garbage.
///
/// It answers authoritatively from zone files and --record lines (NXDOMAIN or NODATA, with the
/// zone's SOA, for everything else), on UDP and TCP, and applies --rule lines to each query in
/// order: the first rule that matches and fires decides. With --upstream it sits in front of a
/// real resolver: what its data does not decide is relayed there byte for byte, and rules act
/// on the way in and (on=reply) on the way back.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "faultdns",
    version,
    after_help = EXAMPLES,
    after_long_help = EXAMPLES
)]
pub struct Flags {
    /// Address to serve on, UDP and TCP (repeatable). [default: 127.0.0.1:5353]
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,

    /// RFC 1035 zone file to serve (repeatable).
    #[arg(long, value_name = "FILE")]
    pub zone: Vec<PathBuf>,

    /// One record as a zone-file line with an absolute name (repeatable),
    /// e.g. 'www.example.com. 60 A 192.0.2.10'.
    #[arg(long, value_name = "RECORD")]
    pub record: Vec<String>,

    /// A fault rule, 'ACTION [key=value]...' (repeatable, tried in order). Actions: answer,
    /// drop, servfail, refused, nxdomain, truncate, wrong-id, malformed. Keys: name=NAME or
    /// name=*.SUFFIX, qtype=TYPE, proto=udp|tcp, from=CIDR, p=PROB, every=N, first=N,
    /// delay=DURATION, burst=MEANRUN loss=PROB (Gilbert-Elliott burst loss), on=reply (act on
    /// an upstream's reply instead of the query; needs --upstream).
    #[arg(long, value_name = "RULE")]
    pub rule: Vec<String>,

    /// Seed of the random decisions (p=, burst=); the same seed repeats a run. [default: random]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Write one JSON line per decision to FILE, or to standard output with '-'.
    #[arg(long, value_name = "FILE|-")]
    pub log: Option<String>,

    /// Answer every name below SUFFIX with address V4 (and V6 for AAAA), e.g.
    /// 'load.test. 192.0.2.1 2001:db8::1' (repeatable).
    #[arg(long, value_name = "'SUFFIX V4 [V6]'")]
    pub synthesize: Vec<String>,

    /// Forward what the data does not decide to this resolver, IP or IP:PORT (port 53 by
    /// default; repeatable: round robin). Names at or below a zone's apex, names with records
    /// and names under --synthesize stay local.
    #[arg(long, value_name = "ADDR")]
    pub upstream: Vec<String>,

    /// How long an upstream has to answer a forwarded query. [default: 2s]
    #[arg(long, value_name = "DURATION")]
    pub upstream_timeout: Option<String>,

    /// What the client gets when the upstream fails (timeout, garbage, oversize reply, TCP
    /// closed mid-reply, unreachable): silence passes the failure on as it is. [default: silence]
    #[arg(long, value_name = "silence|servfail")]
    pub upstream_failure: Option<String>,

    /// Most queries outstanding upstream at once; more get the --upstream-failure
    /// treatment. [default: 4096]
    #[arg(long, value_name = "N")]
    pub upstream_max_outstanding: Option<usize>,

    /// Serve Prometheus counters over HTTP at ADDR (loopback unless --metrics-public), with
    /// live control: GET /counters and /rules as JSON, PUT /rules to replace the rules.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,

    /// Allow --metrics on an address other than loopback (anyone who reaches it can change the
    /// rules).
    #[arg(long)]
    pub metrics_public: bool,

    /// Close TCP connections idle this long. [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub tcp_idle: Option<String>,

    /// TOML file with the same settings (listen, zone, record, rule, seed, log, synthesize,
    /// upstream, upstream_timeout, upstream_failure, upstream_max_outstanding, metrics,
    /// metrics_public, tcp_idle); flags add to its lists and override its single values.
    /// SIGHUP reads it again and applies its rules (with the --rule flags after them).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

const EXAMPLES: &str = "\
Examples:
  # Serve one record; everything else is an authoritative NXDOMAIN.
  faultdns --listen 127.0.0.1:5353 --record 'www.example.com. 60 A 192.0.2.10'
  dig @127.0.0.1 -p 5353 www.example.com

  # Lose 30% of the queries for one name, reproducibly, and log every decision.
  faultdns --zone example.zone --rule 'drop name=cloudflare.com. p=0.3' --seed 7 --log -

  # Bursty loss (runs of 5 on average, 10% overall), slow AAAA, truncation over UDP.
  faultdns --zone example.zone --rule 'drop burst=5 loss=0.1' \\
           --rule 'answer qtype=AAAA delay=300ms' --rule 'truncate proto=udp name=*.big.test.'

  # Many unique names for load tests, with counters for Prometheus.
  faultdns --synthesize 'load.test. 192.0.2.1' --metrics 127.0.0.1:9153

  # In front of a resolver: lose 20% of one name's replies after the resolver answered,
  # relay everything else; change the rules while it runs.
  faultdns --listen 127.0.0.1:5353 --upstream 127.0.0.1:53 \\
           --rule 'drop name=api.example.com. p=0.2 on=reply' --metrics 127.0.0.1:9153
  curl -X PUT --data-binary 'servfail name=api.example.com.' http://127.0.0.1:9153/rules

Config file (--config faultdns.toml), same content:
  listen = [\"127.0.0.1:5353\"]
  zone = [\"example.zone\"]          # relative to the config file
  record = [\"www.example.com. 60 A 192.0.2.10\"]
  rule = [\"drop name=cloudflare.com. p=0.3\"]
  seed = 7
  log = \"decisions.jsonl\"         # relative to the config file
";
