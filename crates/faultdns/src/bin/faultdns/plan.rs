//! Flags and config file, validated into a plan: every error names its flag or file and line.

use std::{
    fs,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use faultdns::{Builder, LogTarget, Rule, Server};
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
    tcp_idle: Option<String>,
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
}

impl Plan {
    pub fn from_flags(flags: Flags) -> anyhow::Result<Plan> {
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
            metrics: flags.metrics.or(config.metrics),
            tcp_idle,
        })
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
        Ok(b)
    }
}

fn parse_rule(text: &str, origin: &Origin) -> anyhow::Result<Rule> {
    text.parse::<Rule>()
        .map_err(|e| anyhow!("{}: {e}", origin.describe("rule", text)))
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
