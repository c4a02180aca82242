//! Real DNS clients no one here wrote (dig, kdig, drill), run against a loopback server, with
//! their output parsed into what the tests compare.

use std::{fmt, net::SocketAddr, path::PathBuf, process::Command, sync::OnceLock};

/// A command-line DNS client from Debian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// `dig` (dnsutils, BIND 9).
    Dig,
    /// `kdig` (knot-dnsutils).
    Kdig,
    /// `drill` (ldnsutils).
    Drill,
}

/// What a client printed, and what the tests read from it.
#[derive(Debug)]
pub struct Output {
    pub client: Client,
    /// Standard output and standard error.
    pub stdout: String,
    pub code: i32,
    /// The RCODE of the last message shown.
    pub status: Option<String>,
    /// The header flags of the last message shown (`qr`, `aa`, `tc`, ...).
    pub flags: Vec<String>,
    /// The data of the answer records of the asked type.
    pub answers: Vec<String>,
    /// The client gave up waiting.
    pub timed_out: bool,
    /// The reply shown had an OPT record.
    pub edns: bool,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} exit {}:\n{}", self.client, self.code, self.stdout)
    }
}

impl Client {
    pub const ALL: [Client; 3] = [Client::Dig, Client::Kdig, Client::Drill];

    fn program(self) -> &'static str {
        match self {
            Client::Dig => "dig",
            Client::Kdig => "kdig",
            Client::Drill => "drill",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Client::Dig => "dnsutils",
            Client::Kdig => "knot-dnsutils",
            Client::Drill => "ldnsutils",
        }
    }

    /// Ask `addr` (always a loopback address in these tests) for `name`/`qtype`, waiting
    /// about `wait_s` seconds, one try.
    pub fn ask(
        self,
        addr: SocketAddr,
        name: &str,
        qtype: &str,
        tcp: bool,
        edns: bool,
        wait_s: u32,
    ) -> Output {
        assert!(addr.ip().is_loopback(), "clients only ask loopback servers");
        let (ip, port) = (addr.ip().to_string(), addr.port().to_string());
        // An outer bound: drill has no timeout flag of its own (it waits 5 s per try).
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "2", &(wait_s + 1).to_string(), self.program()]);
        match self {
            Client::Dig => {
                cmd.arg(format!("@{ip}")).args([
                    "-p",
                    &port,
                    "+tries=1",
                    &format!("+timeout={wait_s}"),
                ]);
                if tcp {
                    cmd.arg("+tcp");
                }
                cmd.arg(if edns { "+edns=0" } else { "+noedns" });
            }
            Client::Kdig => {
                cmd.arg(format!("@{ip}")).args([
                    "-p",
                    &port,
                    "+retry=0",
                    &format!("+timeout={wait_s}"),
                ]);
                // UDP is the default (and `+notcp` would also stop the retry over TCP on TC=1).
                if tcp {
                    cmd.arg("+tcp");
                }
                cmd.arg(if edns { "+edns" } else { "+noedns" });
            }
            Client::Drill => {
                // Its resolver configuration names loopback too, whatever it reads it for.
                cmd.args(["-c", drill_conf().to_str().unwrap(), "-p", &port]);
                cmd.arg(format!("@{ip}"));
                if tcp {
                    cmd.arg("-t");
                }
                if edns {
                    cmd.args(["-b", "1232"]);
                }
            }
        }
        cmd.args([name, qtype]);
        let out = cmd.output().expect("running the client");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let code = out.status.code().unwrap_or(-1);
        parse(self, text, code, qtype)
    }
}

fn parse(client: Client, stdout: String, code: i32, qtype: &str) -> Output {
    let status = stdout
        .lines()
        .filter_map(|l| {
            let key = if client == Client::Drill {
                "rcode: "
            } else {
                "status: "
            };
            let rest = &l[l.find(key)? + key.len()..];
            Some(rest.split([',', ';']).next()?.trim().to_string())
        })
        .next_back();
    let flags = stdout
        .lines()
        .rfind(|l| l.to_ascii_lowercase().starts_with(";; flags:"))
        .map(|l| {
            l[";; flags:".len()..]
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let answers = stdout
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            (t.len() >= 5 && t[2] == "IN" && t[3].eq_ignore_ascii_case(qtype))
                .then(|| t[4..].join(" "))
        })
        .collect();
    let timed_out = match client {
        Client::Dig => {
            stdout.contains("timed out") || stdout.contains("no servers could be reached")
        }
        Client::Kdig => stdout.contains("response timeout"),
        Client::Drill => code == 124 || code == 137 || stdout.contains("network error"),
    };
    let edns = match client {
        Client::Dig => stdout.contains("OPT PSEUDOSECTION"),
        Client::Kdig => stdout.contains("EDNS PSEUDOSECTION"),
        Client::Drill => stdout.contains(";; EDNS: version"),
    };
    Output {
        client,
        stdout,
        code,
        status,
        flags,
        answers,
        timed_out,
        edns,
    }
}

/// A resolver configuration for drill that names only loopback: one file for every run (the
/// same content each time, written whole by a rename), so runs leave nothing new behind.
fn drill_conf() -> &'static PathBuf {
    static CONF: OnceLock<PathBuf> = OnceLock::new();
    CONF.get_or_init(|| {
        let dir = std::env::temp_dir();
        let path = dir.join("faultdns-drill-loopback.conf");
        let tmp = dir.join(format!("faultdns-drill-{}.tmp", std::process::id()));
        std::fs::write(&tmp, "nameserver 127.0.0.1\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
}

/// Whether a capability is required here rather than skipped (CI sets this).
pub fn required() -> bool {
    std::env::var("STUBBORN_REQUIRE_ALL").as_deref() == Ok("1")
}

/// The client when it is installed; without it the test is skipped, unless
/// `STUBBORN_REQUIRE_ALL=1`, which makes it a failure.
pub fn require(client: Client) -> Option<Client> {
    let version = if client == Client::Kdig { "-V" } else { "-v" };
    let ok = Command::new(client.program())
        .arg(version)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !required(),
            "{} is missing and STUBBORN_REQUIRE_ALL=1: apt-get install {}",
            client.program(),
            client.package()
        );
        eprintln!(
            "skipping: {} not found (apt-get install {})",
            client.program(),
            client.package()
        );
        return None;
    }
    Some(client)
}
