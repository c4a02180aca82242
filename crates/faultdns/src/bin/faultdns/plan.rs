//! Flags and config file, validated into a plan: every error names its flag or file and line.

use std::{
    fs,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use faultdns::{Builder, LogTarget, Phase, Rule, Server, UpstreamFailure};
use serde::Deserialize;

use crate::flags::Flags;

/// The config file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    listen: Vec<SocketAddr>,
    #[serde(default)]
    zone: Vec<PathBuf>,
    #[serde(default)]
    record: Vec<String>,
    #[serde(default)]
    rule: Vec<String>,
    seed: Option<u64>,
    log: Option<String>,
    #[serde(default)]
    synthesize: Vec<String>,
    metrics: Option<SocketAddr>,
    metrics_public: Option<bool>,
    tcp_idle: Option<String>,
    #[serde(default)]
    upstream: Vec<String>,
    upstream_timeout: Option<String>,
    upstream_failure: Option<String>,
    upstream_max_outstanding: Option<usize>,
}

/// Where a setting came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Flag,
    /// The config file and its text, to find the line of a value.
    Config(PathBuf, String),
}

impl Origin {
    /// `--rule` or `faultdns.toml line 4 (rule)`; the error itself quotes the value.
    fn describe(&self, flag: &str, value: &str) -> String {
        match self {
            Origin::Flag => format!("--{flag}"),
            Origin::Config(path, text) => {
                let line = text
                    .lines()
                    .position(|l| l.contains(value))
                    .map(|i| format!(" line {}", i + 1))
                    .unwrap_or_default();
                format!("{}{line} ({flag})", path.display())
            }
        }
    }
}

/// Everything the server needs, checked.
#[derive(Debug)]
pub struct Plan {
    pub listen: Vec<SocketAddr>,
    pub zones: Vec<PathBuf>,
    pub records: Vec<String>,
    pub rules: Vec<Rule>,
    pub seed: Option<u64>,
    pub log: Option<LogTarget>,
    pub synthesize: Vec<(String, Ipv4Addr, Option<Ipv6Addr>)>,
    pub metrics: Option<SocketAddr>,
    pub tcp_idle: Option<Duration>,
    pub upstreams: Vec<SocketAddr>,
    pub upstream_timeout: Option<Duration>,
    pub upstream_failure: Option<UpstreamFailure>,
    pub upstream_max_outstanding: Option<usize>,
    /// The config file, read again on SIGHUP.
    pub config: Option<PathBuf>,
    /// The flags as given, to build the rules again on SIGHUP.
    pub flags: Flags,
}

impl Plan {
    pub fn from_flags(flags: Flags) -> anyhow::Result<Plan> {
        let original = flags.clone();
        let (config, origin) = match &flags.config {
            Some(path) => {
                let text = fs::read_to_string(path)
                    .with_context(|| format!("cannot read config {}", path.display()))?;
                let config: Config = toml::from_str(&text)
                    .map_err(|e| anyhow!("bad config {}: {e}", path.display()))?;
                let mut config = config;
                // Zone and log paths in the config are relative to the config file.
                let base = path.parent().unwrap_or(Path::new("."));
                for z in &mut config.zone {
                    if z.is_relative() {
                        *z = base.join(&*z);
                    }
                }
                if let Some(log) = &mut config.log
                    && log != "-"
                    && Path::new(log.as_str()).is_relative()
                {
                    *log = base.join(log.as_str()).display().to_string();
                }
                (config, Origin::Config(path.clone(), text))
            }
            None => (Config::default(), Origin::Flag),
        };
        let mut rules = Vec::new();
        for text in &config.rule {
            rules.push(parse_rule(text, &origin)?);
        }
        for text in &flags.rule {
            rules.push(parse_rule(text, &Origin::Flag)?);
        }
        let mut synthesize = Vec::new();
        for s in &config.synthesize {
            synthesize.push(
                parse_synth(s).map_err(|e| anyhow!("{}: {e}", origin.describe("synthesize", s)))?,
            );
        }
        for s in &flags.synthesize {
            synthesize.push(
                parse_synth(s)
                    .map_err(|e| anyhow!("{}: {e}", Origin::Flag.describe("synthesize", s)))?,
            );
        }
        let tcp_idle = match flags
            .tcp_idle
            .as_ref()
            .map(|t| (t, Origin::Flag))
            .or(config.tcp_idle.as_ref().map(|t| (t, origin.clone())))
        {
            Some((text, o)) => Some(humantime::parse_duration(text).map_err(|e| {
                anyhow!(
                    "{}: bad duration ({e}); write e.g. 10s",
                    o.describe("tcp-idle", text)
                )
            })?),
            None => None,
        };
        let mut upstreams = Vec::new();
        for (text, o) in config
            .upstream
            .iter()
            .map(|u| (u, origin.clone()))
            .chain(flags.upstream.iter().map(|u| (u, Origin::Flag)))
        {
            upstreams.push(
                parse_upstream(text)
                    .map_err(|e| anyhow!("{}: {e}", o.describe("upstream", text)))?,
            );
        }
        let upstream_timeout = match flags
            .upstream_timeout
            .as_ref()
            .map(|t| (t, Origin::Flag))
            .or(config
                .upstream_timeout
                .as_ref()
                .map(|t| (t, origin.clone())))
        {
            Some((text, o)) => Some(humantime::parse_duration(text).map_err(|e| {
                anyhow!(
                    "{}: bad duration ({e}); write e.g. 2s",
                    o.describe("upstream-timeout", text)
                )
            })?),
            None => None,
        };
        let upstream_failure = match flags
            .upstream_failure
            .as_ref()
            .map(|t| (t, Origin::Flag))
            .or(config
                .upstream_failure
                .as_ref()
                .map(|t| (t, origin.clone())))
        {
            Some((text, o)) => Some(
                text.parse::<UpstreamFailure>()
                    .map_err(|e| anyhow!("{}: {e}", o.describe("upstream-failure", text)))?,
            ),
            None => None,
        };
        let upstream_max_outstanding = flags
            .upstream_max_outstanding
            .or(config.upstream_max_outstanding);
        if upstreams.is_empty()
            && (upstream_timeout.is_some()
                || upstream_failure.is_some()
                || upstream_max_outstanding.is_some())
        {
            bail!(
                "--upstream-timeout, --upstream-failure and --upstream-max-outstanding need \
                 --upstream ADDR"
            );
        }
        for rule in &rules {
            check_phase(rule, !upstreams.is_empty())?;
        }
        let metrics = flags.metrics.or(config.metrics);
        let metrics_public = flags.metrics_public || config.metrics_public.unwrap_or(false);
        match metrics {
            Some(addr) if !addr.ip().is_loopback() && !metrics_public => bail!(
                "--metrics {addr} is not a loopback address: add --metrics-public to serve \
                 metrics and rule control beyond this host"
            ),
            None if metrics_public => bail!("--metrics-public needs --metrics ADDR"),
            _ => {}
        }
        let log = match flags.log.or(config.log) {
            Some(l) if l == "-" => Some(LogTarget::Stdout),
            Some(l) => Some(LogTarget::File(PathBuf::from(l))),
            None => None,
        };
        let mut listen = config.listen;
        listen.extend(flags.listen);
        if listen.is_empty() {
            listen.push(SocketAddr::from((Ipv4Addr::LOCALHOST, 5353)));
        }
        let mut zones = config.zone;
        zones.extend(flags.zone);
        // Records are checked here too, so their errors name the flag or config line.
        let mut records = Vec::new();
        for (text, o) in config
            .record
            .iter()
            .map(|r| (r, origin.clone()))
            .chain(flags.record.iter().map(|r| (r, Origin::Flag)))
        {
            let _checked = Server::builder()
                .record(text)
                .map_err(|e| anyhow!("{}: {e}", o.describe("record", text)))?;
            records.push(text.clone());
        }
        Ok(Plan {
            listen,
            zones,
            records,
            rules,
            seed: flags.seed.or(config.seed),
            log,
            synthesize,
            metrics,
            tcp_idle,
            upstreams,
            upstream_timeout,
            upstream_failure,
            upstream_max_outstanding,
            config: flags.config,
            flags: original,
        })
    }

    /// The rules as the config file (read again now) and the flags give them, checked like at
    /// start: for SIGHUP.
    pub fn reload_rules(&self) -> anyhow::Result<Vec<Rule>> {
        let fresh = Plan::from_flags(self.flags.clone())?;
        if fresh.upstreams.is_empty() != self.upstreams.is_empty() {
            // Rules were checked against the new upstream list; check them against ours.
            for rule in &fresh.rules {
                check_phase(rule, !self.upstreams.is_empty())?;
            }
        }
        Ok(fresh.rules)
    }

    /// The library builder for this plan (zone files are read here).
    pub fn builder(&mut self) -> anyhow::Result<Builder> {
        let mut b = Server::builder();
        for z in &self.zones {
            b = b.zone_file(z)?;
        }
        for r in &self.records {
            b = b.record(r)?;
        }
        for (suffix, v4, v6) in &self.synthesize {
            b = b.synthesize(suffix, *v4, *v6)?;
        }
        b = b.rules(self.rules.clone());
        for a in &self.listen {
            b = b.listen(*a);
        }
        if let Some(seed) = self.seed {
            b = b.seed(seed);
        }
        if let Some(log) = self.log.take() {
            b = b.log(log);
        }
        if let Some(idle) = self.tcp_idle {
            b = b.tcp_idle_timeout(idle);
        }
        for u in &self.upstreams {
            b = b.upstream(*u);
        }
        if let Some(t) = self.upstream_timeout {
            b = b.upstream_timeout(t);
        }
        if let Some(p) = self.upstream_failure {
            b = b.upstream_failure(p);
        }
        if let Some(n) = self.upstream_max_outstanding {
            b = b.max_upstream_outstanding(n);
        }
        Ok(b)
    }
}

fn parse_rule(text: &str, origin: &Origin) -> anyhow::Result<Rule> {
    text.parse::<Rule>()
        .map_err(|e| anyhow!("{}: {e}", origin.describe("rule", text)))
}

/// Rules that act on replies need an upstream to get replies from.
pub fn check_phase(rule: &Rule, forwarding: bool) -> anyhow::Result<()> {
    if rule.phase() == Phase::Reply && !forwarding {
        bail!("rule `{rule}` acts on upstream replies (on=reply), but no --upstream is given");
    }
    Ok(())
}

/// `IP` (port 53) or `IP:PORT` (`[IPV6]:PORT`).
fn parse_upstream(text: &str) -> anyhow::Result<SocketAddr> {
    text.parse::<SocketAddr>()
        .or_else(|_| {
            text.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| anyhow!("expected IP or IP:PORT (e.g. 127.0.0.1:53)"))
}

/// `SUFFIX V4 [V6]`.
fn parse_synth(text: &str) -> anyhow::Result<(String, Ipv4Addr, Option<Ipv6Addr>)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (suffix, v4, v6) = match words.as_slice() {
        [s, v4] => (*s, *v4, None),
        [s, v4, v6] => (*s, *v4, Some(*v6)),
        _ => bail!("expected 'SUFFIX IPV4 [IPV6]'"),
    };
    let v4 = v4
        .parse()
        .map_err(|_| anyhow!("`{v4}` is not an IPv4 address"))?;
    let v6 = match v6 {
        Some(v6) => Some(
            v6.parse()
                .map_err(|_| anyhow!("`{v6}` is not an IPv6 address"))?,
        ),
        None => None,
    };
    Ok((suffix.to_string(), v4, v6))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let mut argv = vec!["faultdns"];
        argv.extend_from_slice(args);
        Plan::from_flags(Flags::try_parse_from(argv)?)
    }

    #[test]
    fn defaults_to_loopback() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.listen, ["127.0.0.1:5353".parse().unwrap()]);
    }

    #[test]
    fn bad_rule_names_flag_and_token() {
        let e = plan(&["--rule", "drop p=2"]).unwrap_err().to_string();
        assert!(e.contains("--rule") && e.contains("(at `p=2`)"), "{e}");
        let e = plan(&["--record", "www. 60 A 1.2.3"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--record") && e.contains("1.2.3"), "{e}");
        let e = plan(&["--synthesize", "load.test. 1.2.3.400"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("1.2.3.400"), "{e}");
    }

    #[test]
    fn upstream_flags_are_checked() {
        let p = plan(&["--upstream", "127.0.0.1", "--upstream", "[::1]:5300"]).unwrap();
        assert_eq!(
            p.upstreams,
            [
                "127.0.0.1:53".parse().unwrap(),
                "[::1]:5300".parse().unwrap()
            ]
        );
        let e = plan(&["--upstream", "resolver.local"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--upstream") && e.contains("IP:PORT"), "{e}");
        let e = plan(&["--upstream-timeout", "2s"]).unwrap_err().to_string();
        assert!(e.contains("need --upstream"), "{e}");
        let e = plan(&["--upstream", "127.0.0.1", "--upstream-failure", "loud"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--upstream-failure") && e.contains("servfail"),
            "{e}"
        );
        let e = plan(&["--rule", "drop on=reply"]).unwrap_err().to_string();
        assert!(e.contains("on=reply") && e.contains("--upstream"), "{e}");
        assert!(plan(&["--rule", "drop on=reply", "--upstream", "127.0.0.1"]).is_ok());
    }

    #[test]
    fn metrics_beyond_loopback_need_a_flag() {
        let e = plan(&["--metrics", "0.0.0.0:9153"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--metrics-public"), "{e}");
        assert!(plan(&["--metrics", "0.0.0.0:9153", "--metrics-public"]).is_ok());
        assert!(plan(&["--metrics", "[::1]:9153"]).is_ok());
        assert!(plan(&["--metrics-public"]).is_err());
    }

    #[test]
    fn config_file_errors_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("faultdns-plan-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.toml");
        fs::write(
            &path,
            "seed = 3\nrule = [\n  \"drop name=a.\",\n  \"dorp name=b.\",\n]\n",
        )
        .unwrap();
        let e = plan(&["--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.toml line 4") && e.contains("dorp"), "{e}");
        fs::write(&path, "seed = 3\nlisten = [\"127.0.0.1:53\"]\nrules = []\n").unwrap();
        let e = plan(&["--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.toml") && e.contains("line 3") && e.contains("rules"),
            "{e}"
        );
        fs::write(&path, "seed = 3\nzone = [\"z.zone\"]\nrule = [\"drop\"]\n").unwrap();
        let p = plan(&[
            "--config",
            path.to_str().unwrap(),
            "--rule",
            "servfail",
            "--seed",
            "9",
        ])
        .unwrap();
        assert_eq!(p.seed, Some(9), "flags override single values");
        assert_eq!(p.rules.len(), 2, "flags add to lists");
        assert_eq!(p.zones, [dir.join("z.zone")]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
