//! The ceiling line: raw queries per second that Debian's `dnsperf` gets from the same server
//! process on loopback, with no resolver library in the way.

use std::{fmt::Write as _, net::SocketAddr, path::Path, process::Command, time::Duration};

use anyhow::Context as _;

use crate::plan::SUFFIX;

/// Queries in the input file; dnsperf cycles through it.
const NAMES: usize = 100_000;

/// What dnsperf reported.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Ceiling {
    /// Queries per second completed.
    pub qps: f64,
    /// Share of queries lost (no reply within dnsperf's timeout).
    pub lost_pct: f64,
    /// `dnsperf VERSION`, from its help text.
    pub version: String,
}

/// Run dnsperf against `server` for `duration` with `dir` for its input file.
pub fn run(server: SocketAddr, duration: Duration, dir: &Path) -> anyhow::Result<Ceiling> {
    anyhow::ensure!(
        server.ip().is_loopback(),
        "dnsperf runs against loopback only"
    );
    let input = dir.join("dnsperf-queries.txt");
    let mut text = String::with_capacity(NAMES * 32);
    for i in 0..NAMES {
        let _ = writeln!(text, "dp-{i}.{SUFFIX} A");
    }
    std::fs::write(&input, text).with_context(|| format!("writing {}", input.display()))?;
    let version = Command::new("dnsperf")
        .arg("-h")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .chain(String::from_utf8_lossy(&o.stdout).lines())
                .find_map(|l| l.trim().strip_prefix("Version "))
                .map(|v| format!("dnsperf {}", v.trim()))
                .unwrap_or_default()
        })
        .context("dnsperf is not installed (apt-get install dnsperf)")?;
    let out = Command::new("dnsperf")
        .args([
            "-s",
            &server.ip().to_string(),
            "-p",
            &server.port().to_string(),
        ])
        .args(["-d", &input.display().to_string()])
        .args(["-l", &duration.as_secs().max(1).to_string()])
        // Enough outstanding queries to keep one server core busy.
        .args(["-c", "4", "-T", "1", "-q", "500"])
        .output()
        .context("running dnsperf")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "dnsperf failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ceiling = parse(&stdout).context("dnsperf printed no 'Queries per second' line")?;
    ceiling.version = version;
    Ok(ceiling)
}

/// The figures from dnsperf's statistics block.
fn parse(text: &str) -> Option<Ceiling> {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let qps = value("Queries per second:")?;
    let lost_pct = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Queries lost:"))
        .and_then(|rest| rest.split('(').nth(1))
        .and_then(|p| p.trim_end_matches([')', '%', ' ']).parse().ok())
        .unwrap_or(0.0);
    Some(Ceiling {
        qps,
        lost_pct,
        version: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dnsperf_statistics() {
        let out = "Statistics:\n\n  Queries sent:         120000\n  Queries completed:    119990 (99.99%)\n  Queries lost:         10 (0.01%)\n\n  Response codes:       NOERROR 119990 (100.00%)\n  Queries per second:   59994.871321\n";
        let c = parse(out).unwrap();
        assert!((c.qps - 59994.871321).abs() < 1e-6);
        assert!((c.lost_pct - 0.01).abs() < 1e-9);
        assert!(parse("nothing here").is_none());
    }
}
