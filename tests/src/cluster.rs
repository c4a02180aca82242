//! The simulated cluster: many hosts, one resolver, loss on a few links, dnsload everywhere.
//!
//! Basic algorithm:
//! - A [`Lab`] with `hosts` host namespaces; in the resolver namespace Unbound (port 53,
//!   local data only) and, for comparison, faultdns (port 5353, the same records).
//! - nftables drops a share of what chosen hosts receive from the resolver (their link loss).
//! - Every host runs dnsload's `raw` backend at the same time, in the war-story loop (closed
//!   loop, a pause after each lookup, bounded by a duration), alternating between the two
//!   servers, writing events, a summary and a histogram log.
//! - At the same time every host runs the `system` backend: unmodified getaddrinfo on the
//!   host's own resolv.conf (the war story's, with Unbound as its server), what programs see.
//! - `dnsload report` merges every host's files: its ranking, per-host failure rates (a raw
//!   lookup fails exactly when its one query or reply is lost, so the rate estimates the loss)
//!   and the per-server loss from each summary are the result.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::netns::Lab;
use crate::runs::{Scratch, run_all};
use crate::servers::{NsFaultdns, start_unbound};

/// The probe name and the records both servers serve.
pub const PROBE: &str = "cloudflare.com";
const RECORDS: [&str; 2] = [
    "cloudflare.com. 60 IN A 192.0.2.1",
    "cloudflare.com.in.our.internal.domain. 60 IN A 192.0.2.66",
];
/// Every host's resolv.conf, as in the war story.
pub const HOST_RESOLV_CONF: &str = "nameserver 198.18.0.1\n\
                                    search in.our.internal.domain\n\
                                    options timeout:1 attempts:2\n";
/// Unbound's port on the resolver host.
pub const UNBOUND_PORT: u16 = 53;
/// faultdns's port on the resolver host.
pub const FAULTDNS_PORT: u16 = 5353;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Host namespaces (at most 200).
    pub hosts: usize,
    /// `(host index, loss share 0..1)` for the lossy links; every other host is clean.
    pub lossy: Vec<(usize, f64)>,
    /// How long every host runs.
    pub duration: Duration,
    /// Closed-loop workers per host for the raw backend (the loss estimate).
    pub workers: usize,
    /// Closed-loop workers per host for the system backend (unmodified getaddrinfo on the
    /// host's resolv.conf: what its programs see), at the same time; 0 for none.
    pub glibc_workers: usize,
    /// Pause after each lookup (the war-story loop's 20 ms).
    pub pause: Duration,
    /// How long raw waits for a reply before counting the query lost.
    pub timeout: Duration,
    /// Where the per-host files go (kept); a temporary directory when `None`.
    pub out: Option<PathBuf>,
}

impl Default for ClusterConfig {
    /// 8 hosts, 3 % loss on h2 and 10 % on h5, 15 s of 4 raw workers (1 s timeout) and 2
    /// getaddrinfo workers per host, 20 ms pauses.
    fn default() -> Self {
        ClusterConfig {
            hosts: 8,
            lossy: vec![(2, 0.03), (5, 0.10)],
            duration: Duration::from_secs(15),
            workers: 4,
            glibc_workers: 2,
            pause: Duration::from_millis(20),
            timeout: Duration::from_secs(1),
            out: None,
        }
    }
}

/// One host's result.
#[derive(Debug, Clone)]
pub struct HostResult {
    /// Host label (`h0`, `h1`, ...).
    pub label: String,
    /// Loss configured on its link.
    pub loss: f64,
    /// Datagrams from the resolver its link carried (raw and glibc replies alike).
    pub carried: u64,
    /// Of those, the ones the nftables loss rule dropped.
    pub dropped: u64,
    /// Lookups dnsload finished.
    pub queries: u64,
    /// Lookups that failed (every class but ok).
    pub failures: u64,
    /// Loss per server from the summary: `(server, sent, lost)`.
    pub per_server: Vec<(String, u64, u64)>,
}

/// The simulation's result.
#[derive(Debug, Clone)]
pub struct ClusterRun {
    /// `dnsload report` as text.
    pub report_text: String,
    /// `dnsload report --json`.
    pub report: Value,
    /// `dnsload report` over the glibc (`system` backend) runs, as text (empty without them).
    pub glibc_report_text: String,
    /// `dnsload report --json` over the glibc runs (null without them).
    pub glibc_report: Value,
    /// Every host, in index order.
    pub hosts: Vec<HostResult>,
    /// The files the report read.
    pub files: Vec<PathBuf>,
}

impl ClusterRun {
    /// Host labels in the report's order (most failing first).
    pub fn ranking(&self) -> Vec<String> {
        self.report["hosts"]
            .as_array()
            .map(|hosts| {
                hosts
                    .iter()
                    .filter_map(|h| h["host"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The report's failure rate of a host (its loss estimate).
    pub fn estimate(&self, label: &str) -> Option<f64> {
        self.report["hosts"]
            .as_array()?
            .iter()
            .find(|h| h["host"].as_str() == Some(label))?["failure_rate"]
            .as_f64()
    }

    /// Writes `report.txt`, `report.json` and `hosts.json` (configured loss, nftables drops,
    /// lookups, failures and per-server loss of every host) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let hosts: Vec<Value> = self
            .hosts
            .iter()
            .map(|h| {
                serde_json::json!({
                    "host": h.label,
                    "loss": h.loss,
                    "carried": h.carried,
                    "dropped": h.dropped,
                    "queries": h.queries,
                    "failures": h.failures,
                    "servers": h.per_server.iter().map(|(server, sent, lost)| {
                        serde_json::json!({ "server": server, "sent": sent, "lost": lost })
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
        };
        write("report.txt", self.report_text.clone())?;
        write("report.json", self.report.to_string())?;
        write("glibc-report.txt", self.glibc_report_text.clone())?;
        write("glibc-report.json", self.glibc_report.to_string())?;
        write("hosts.json", Value::Array(hosts).to_string())
    }

    /// Reads back what [`ClusterRun::save`] wrote (the files list is not kept).
    pub fn load(dir: &Path) -> Result<ClusterRun, String> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
        };
        let json = |name: &str| -> Result<Value, String> {
            serde_json::from_str(&read(name)?).map_err(|e| format!("{name}: {e}"))
        };
        let hosts = json("hosts.json")?
            .as_array()
            .ok_or("hosts.json: not a list")?
            .iter()
            .map(|h| HostResult {
                label: h["host"].as_str().unwrap_or("?").to_string(),
                loss: h["loss"].as_f64().unwrap_or(0.0),
                carried: h["carried"].as_u64().unwrap_or(0),
                dropped: h["dropped"].as_u64().unwrap_or(0),
                queries: h["queries"].as_u64().unwrap_or(0),
                failures: h["failures"].as_u64().unwrap_or(0),
                per_server: h["servers"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .map(|s| {
                                (
                                    s["server"].as_str().unwrap_or("?").to_string(),
                                    s["sent"].as_u64().unwrap_or(0),
                                    s["lost"].as_u64().unwrap_or(0),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        Ok(ClusterRun {
            report_text: read("report.txt")?,
            report: json("report.json")?,
            glibc_report_text: read("glibc-report.txt")?,
            glibc_report: json("glibc-report.json")?,
            hosts,
            files: Vec::new(),
        })
    }

    /// Checks what the simulation must show: the lossy hosts ranked first, most lossy first;
    /// each one's estimate within a factor of 2 of its link's loss; no failure on any other
    /// host. Says what is wrong otherwise.
    pub fn verdict(&self, config: &ClusterConfig) -> Result<(), String> {
        let ranking = self.ranking();
        let mut lossy = config.lossy.clone();
        lossy.sort_by(|a, b| b.1.total_cmp(&a.1));
        let want: Vec<String> = lossy.iter().map(|(i, _)| format!("h{i}")).collect();
        if ranking.len() != config.hosts || ranking[..want.len()] != want[..] {
            return Err(format!("ranking {ranking:?}, want {want:?} first"));
        }
        for (i, p) in &lossy {
            let label = format!("h{i}");
            let est = self
                .estimate(&label)
                .ok_or_else(|| format!("{label}: no failure rate in the report"))?;
            if !(p / 2.0..=p * 2.0).contains(&est) {
                return Err(format!(
                    "{label}: estimated loss {:.2}% is not within 2x of {:.1}%",
                    est * 100.0,
                    p * 100.0
                ));
            }
        }
        if let Some(rows) = self.glibc_report["hosts"].as_array() {
            for row in rows {
                let host = row["host"].as_str().unwrap_or("?");
                let lossy = config.lossy.iter().any(|(i, _)| format!("h{i}") == host);
                let failures = row["failures"].as_u64().unwrap_or(0);
                if !lossy && failures > 0 {
                    return Err(format!(
                        "clean host {host}: getaddrinfo failed {failures} times"
                    ));
                }
            }
        }
        for h in self.hosts.iter().filter(|h| h.loss == 0.0) {
            if h.failures > 0 || h.queries == 0 {
                return Err(format!(
                    "clean host {} had {} failures in {} lookups",
                    h.label, h.failures, h.queries
                ));
            }
        }
        Ok(())
    }

    /// A table comparing the link's loss (configured, and what nftables counted) with
    /// dnsload's raw estimate overall and per server (Unbound, faultdns).
    pub fn comparison(&self) -> String {
        let mut t = String::from(
            "host  link loss  nft dropped/carried      raw lookups  failed  estimate  \
             unbound:53       faultdns:5353\n",
        );
        for h in &self.hosts {
            let rate = |port: u16| {
                h.per_server
                    .iter()
                    .find(|(s, ..)| s.ends_with(&format!(":{port}")))
                    .map(|(_, sent, lost)| format!("{:.2}% ({lost}/{sent})", pct(*lost, *sent)))
                    .unwrap_or_else(|| "-".into())
            };
            let nft = if h.carried == 0 {
                "-".to_string()
            } else {
                format!(
                    "{}/{} ({:.2}%)",
                    h.dropped,
                    h.carried,
                    pct(h.dropped, h.carried)
                )
            };
            t.push_str(&format!(
                "{:<5} {:>8.1}%  {nft:<22} {:>11} {:>7} {:>8.2}%  {:<16} {}\n",
                h.label,
                h.loss * 100.0,
                h.queries,
                h.failures,
                pct(h.failures, h.queries),
                rate(UNBOUND_PORT),
                rate(FAULTDNS_PORT),
            ));
        }
        t
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Runs the simulation with `dnsload` (the `lab-dnsload` binary). Needs root and Unbound.
pub fn simulate(config: &ClusterConfig, dnsload: &Path) -> Result<ClusterRun, String> {
    let lab = Lab::new(config.hosts).map_err(|e| e.0)?;
    let scratch = match &config.out {
        Some(dir) => Scratch::keep_at(dir)?,
        None => Scratch::new("stb-cluster")?,
    };
    let dir = scratch.path();
    let resolver_ip = lab.resolver().addr;
    let unbound = SocketAddr::from((resolver_ip, UNBOUND_PORT));
    start_unbound(&lab, dir, unbound, &RECORDS, dnsload, PROBE)?;
    let mut builder = faultdns::Server::builder().seed(1);
    for rr in RECORDS {
        builder = builder.record(rr).map_err(|e| e.to_string())?;
    }
    let faultdns_addr = SocketAddr::from((resolver_ip, FAULTDNS_PORT));
    let _faultdns = NsFaultdns::start(&lab.resolver().ns, builder, faultdns_addr)?;
    for &(i, _) in &config.lossy {
        if i >= config.hosts {
            return Err(format!(
                "lossy host {i} is not one of {} hosts",
                config.hosts
            ));
        }
    }
    // Every host gets the rule (0 on clean links), so nftables counts what each link carried.
    for i in 0..config.hosts {
        let p = config
            .lossy
            .iter()
            .find(|(h, _)| *h == i)
            .map_or(0.0, |(_, p)| *p);
        lab.set_loss(i, p)?;
    }

    let dur = |d: Duration| humantime::format_duration(d).to_string();
    let mut commands = Vec::new();
    let mut files = Vec::new();
    let mut glibc_files = Vec::new();
    for (i, host) in lab.hosts().iter().enumerate() {
        let label = format!("h{i}");
        let mut cmd = host.ns.command(dnsload);
        cmd.args(["run", "--backend", "raw", "--name", PROBE])
            .args(["--server", &unbound.to_string()])
            .args(["--server", &faultdns_addr.to_string()])
            .args(["--workers", &config.workers.to_string()])
            .args(["--pause", &dur(config.pause)])
            .args(["--timeout", &dur(config.timeout)])
            .args(["--duration", &dur(config.duration)])
            .args(["--host", &label, "--quiet"]);
        files.extend(write_outputs(&mut cmd, dir, &label));
        commands.push((label.clone(), cmd));

        if config.glibc_workers > 0 {
            // What the host's programs see: unmodified getaddrinfo on the host's resolv.conf.
            lab.write_resolv_conf(&host.ns, HOST_RESOLV_CONF)?;
            let mut cmd = host.ns.command(dnsload);
            cmd.args(["run", "--backend", "system", "--name", PROBE])
                .arg("--use-system-config")
                .args(["--workers", &config.glibc_workers.to_string()])
                .args(["--pause", &dur(config.pause)])
                .args(["--duration", &dur(config.duration)])
                .args(["--host", &label, "--quiet"]);
            glibc_files.extend(write_outputs(&mut cmd, dir, &format!("{label}.glibc")));
            commands.push((format!("{label}.glibc"), cmd));
        }
    }
    let limit = config.duration + config.timeout * 2 + Duration::from_secs(40);
    for run in run_all(commands, dir, limit)? {
        if !run.status.success() {
            return Err(format!(
                "dnsload on {} failed ({}): {}",
                run.label,
                run.status,
                run.stderr_text().trim()
            ));
        }
    }

    let mut hosts = Vec::new();
    for i in 0..config.hosts {
        let label = format!("h{i}");
        let path = dir.join(format!("{label}.summary.json"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let s: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let queries = s["queries"].as_u64().unwrap_or(0);
        let ok = s["classes"]["ok"].as_u64().unwrap_or(0);
        let per_server = s["backend_info"]["servers"]
            .as_array()
            .map(|servers| {
                servers
                    .iter()
                    .map(|v| {
                        (
                            v["server"].as_str().unwrap_or("?").to_string(),
                            v["loss"]["sent"].as_u64().unwrap_or(0),
                            v["loss"]["lost"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (carried, dropped) = lab.link_counters(i);
        hosts.push(HostResult {
            loss: config
                .lossy
                .iter()
                .find(|(h, _)| *h == i)
                .map_or(0.0, |(_, p)| *p),
            carried,
            dropped,
            label,
            queries,
            failures: queries - ok.min(queries),
            per_server,
        });
    }

    let report = |files: &[PathBuf], json: bool, svg: &str| -> Result<String, String> {
        let mut cmd = Command::new(dnsload);
        cmd.arg("report").args(files);
        if json {
            cmd.arg("--json");
        } else {
            cmd.arg("--svg").arg(dir.join(svg));
        }
        let out = cmd.output().map_err(|e| format!("dnsload report: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "dnsload report failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let parse = |text: String| -> Result<Value, String> {
        serde_json::from_str(&text).map_err(|e| format!("dnsload report --json: {e}"))
    };
    let report_text = report(&files, false, "report.svg")?;
    let report_json = parse(report(&files, true, "")?)?;
    let (glibc_report_text, glibc_report) = if glibc_files.is_empty() {
        (String::new(), Value::Null)
    } else {
        (
            report(&glibc_files, false, "glibc-report.svg")?,
            parse(report(&glibc_files, true, "")?)?,
        )
    };
    files.extend(glibc_files);
    let run = ClusterRun {
        report_text,
        report: report_json,
        glibc_report_text,
        glibc_report,
        hosts,
        files,
    };
    run.save(dir)?;
    Ok(run)
}

/// Points a dnsload run's events, summary and histogram log at `DIR/STEM.*`; returns the paths.
fn write_outputs(cmd: &mut Command, dir: &Path, stem: &str) -> [PathBuf; 3] {
    let files = [
        dir.join(format!("{stem}.events.jsonl")),
        dir.join(format!("{stem}.summary.json")),
        dir.join(format!("{stem}.hlog")),
    ];
    for (flag, path) in ["--events", "--summary-json", "--hlog"].iter().zip(&files) {
        cmd.arg(flag).arg(path);
    }
    files
}
