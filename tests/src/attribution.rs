//! Three hosts, three fates: `dnsload report` must say where each one's loss is.
//!
//! Basic algorithm:
//! - A [`Lab`] with three hosts; faultdns on the resolver host (198.18.0.1:53) serves
//!   `api.svc.cluster.local` and answers NXDOMAIN for every other name.
//! - h0, *local conntrack*: its resolver is a service address, 10.96.0.10:53, that nftables
//!   DNATs to 198.18.0.1:53 in h0's own output path (what kube-proxy's `nat OUTPUT` rules do
//!   for a host-network process). Its conntrack table is filled to [`HEADROOM`] entries below
//!   the machine's `nf_conntrack_max` ([`crate::conntrack`]), so the probe's own new flows
//!   overflow it: the kernel drops their packets (`drop` grows) and the sends fail.
//! - h1, *path loss*: the switch drops [`PATH_LOSS`] of the datagrams from the resolver to h1
//!   (nftables in the bridge), which no counter of h1 sees.
//! - h2, *clean*.
//! - Every host runs `dnsload run --backend stub` at the same time, as the DaemonSet does
//!   (search list and `ndots:5`, so each lookup walks two names), with events and a summary;
//!   then `dnsload report` reads every host's files.
//!
//! What stands in for what: the filler entries stand in for the connections of a node's other
//! pods that fill a real table; the per-namespace count reaching the machine-wide limit
//! stands in for a node's table reaching its own (the limit is not changed). A conntrack
//! *insert race* (the A/AAAA race through a DNAT) cannot be provoked reliably here: since
//! Linux 5.x, the kernel resolves clashes of UDP entries (`clashres` grows, nothing is
//! dropped), so the overflow is the stand-in for a local conntrack failure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::conntrack;
use crate::netns::Lab;
use crate::runs::{Scratch, run_all};
use crate::servers::NsFaultdns;

/// Entries left free in h0's table: the probe's first new flows get them, then it overflows.
pub const HEADROOM: u64 = 12;
/// Share of the resolver's datagrams to h1 the switch drops.
pub const PATH_LOSS: f64 = 0.6;
/// How long every host probes.
pub const DURATION: Duration = Duration::from_secs(10);
/// The service address h0 asks (DNATed to the resolver).
pub const SERVICE: &str = "10.96.0.10:53";
/// The probe name and the resolver settings every host uses (Kubernetes' ClusterFirst shape).
pub const NAME: &str = "api";
const SEARCH: [&str; 3] = [
    "default.svc.cluster.local",
    "svc.cluster.local",
    "cluster.local",
];
const RECORD: &str = "api.svc.cluster.local. 30 IN A 10.96.12.7";

/// What the scenario produced.
#[derive(Debug)]
pub struct AttributionRun {
    /// `dnsload report` as text.
    pub report_text: String,
    /// `dnsload report --json`.
    pub report: Value,
    /// The picture (`dnsload report --svg`).
    pub svg: String,
    /// h0's conntrack table after the fill: `(count, max)`.
    pub filled: (u64, u64),
    /// Datagrams the switch dropped on the way to h1.
    pub path_dropped: u64,
    /// How long the whole scenario took, lab set-up and teardown included.
    pub took: Duration,
}

impl AttributionRun {
    /// A host's row of the report.
    pub fn host(&self, label: &str) -> Option<&Value> {
        self.report["hosts"]
            .as_array()?
            .iter()
            .find(|h| h["host"].as_str() == Some(label))
    }

    /// A host's verdict cause (`conntrack_full`, `path`, `clean`, ...).
    pub fn cause(&self, label: &str) -> Option<&str> {
        self.host(label)?["verdict"]["cause"].as_str()
    }
}

/// Runs the scenario with `dnsload` (the `lab-dnsload` binary); keeps the files in `out` when
/// given. Needs root, iproute2 and nftables.
pub fn run(dnsload: &Path, out: Option<&Path>) -> Result<AttributionRun, String> {
    let started = Instant::now();
    let lab = Lab::new(3).map_err(|e| e.0)?;
    let scratch = match out {
        Some(dir) => Scratch::keep_at(dir)?,
        None => Scratch::new("stb-attribution")?,
    };
    let dir = scratch.path();
    let resolver = SocketAddr::from((lab.resolver().addr, 53));
    let builder = faultdns::Server::builder()
        .seed(3)
        .record(RECORD)
        .map_err(|e| e.to_string())?;
    let _dns = NsFaultdns::start(&lab.resolver().ns, builder, resolver)?;

    // h0: the service address, DNATed in its own output path, and a nearly full table.
    let h0 = &lab.host(0).ns;
    h0.ip(&["route", "add", "10.96.0.0/12", "dev", "eth0"])?;
    h0.nft(&["add", "table", "ip", "stb-svc"])?;
    h0.nft(&[
        "add",
        "chain",
        "ip",
        "stb-svc",
        "output",
        "{ type nat hook output priority -100; }",
    ])?;
    let target = resolver.to_string();
    for proto in ["udp", "tcp"] {
        h0.nft(&[
            "add",
            "rule",
            "ip",
            "stb-svc",
            "output",
            "ip",
            "daddr",
            "10.96.0.10",
            proto,
            "dport",
            "53",
            "dnat",
            "to",
            &target,
        ])?;
    }
    let count = conntrack::fill_to_headroom(h0, HEADROOM)?;
    let filled = (count, conntrack::fill_of(h0)?.1);
    // h1: loss on its path, in the switch.
    lab.set_path_loss(1, PATH_LOSS)?;

    let dur = humantime::format_duration(DURATION).to_string();
    let mut commands = Vec::new();
    let mut files = Vec::new();
    for (i, server) in [SERVICE.to_string(), target.clone(), target.clone()]
        .iter()
        .enumerate()
    {
        let label = format!("h{i}");
        let (events, summary) = (
            dir.join(format!("{label}.events.jsonl")),
            dir.join(format!("{label}.summary.json")),
        );
        let mut cmd = lab.host(i).ns.command(dnsload);
        cmd.args([
            "run",
            "--backend",
            "stub",
            "--server",
            server,
            "--name",
            NAME,
        ])
        .args(SEARCH.iter().flat_map(|d| ["--search", d]))
        .args(["--ndots", "5", "--timeout", "300ms", "--attempts", "2"])
        .args(["--workers", "4", "--pause", "20ms", "--duration", &dur])
        .args(["--host", &label, "--quiet", "--events"])
        .arg(&events)
        .arg("--summary-json")
        .arg(&summary);
        files.push(events);
        files.push(summary);
        commands.push((label, cmd));
    }
    for run in run_all(commands, dir, DURATION + Duration::from_secs(30))? {
        if !run.status.success() {
            return Err(format!(
                "dnsload on {} failed ({}): {}",
                run.label,
                run.status,
                run.stderr_text().trim()
            ));
        }
    }
    let path_dropped = lab.path_dropped(1);
    drop(lab);

    let svg_path = dir.join("report.svg");
    let report = |extra: &[&str]| -> Result<String, String> {
        let out = Command::new(dnsload)
            .arg("report")
            .args(&files)
            .args(extra)
            .output()
            .map_err(|e| format!("dnsload report: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "dnsload report failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let svg_arg = svg_path.to_string_lossy().into_owned();
    let report_text = report(&["--svg", &svg_arg])?;
    let report_json: Value = serde_json::from_str(&report(&["--json"])?)
        .map_err(|e| format!("dnsload report --json: {e}"))?;
    let svg = std::fs::read_to_string(&svg_path).map_err(|e| format!("report.svg: {e}"))?;
    let write = |name: &str, text: &str| {
        let path: PathBuf = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("report.txt", &report_text)?;
    write("report.json", &report_json.to_string())?;
    Ok(AttributionRun {
        report_text,
        report: report_json,
        svg,
        filled,
        path_dropped,
        took: started.elapsed(),
    })
}
