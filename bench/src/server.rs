//! The parent's handle on the server process (see `serve`): start it, change its rules, read its
//! counters and its CPU time, stop it.

use std::{
    io::{BufRead as _, BufReader, Write as _},
    net::SocketAddr,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::Duration,
};

use anyhow::Context as _;

use crate::serve::{Reply, Request};

/// A running server process.
pub struct ServerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

/// What the server had done at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    /// Queries seen since it started.
    pub queries: u64,
    /// Queries shed by its load limits.
    pub overload: u64,
    /// CPU time it has used.
    pub cpu: Duration,
}

impl ServerProcess {
    /// Start `stubborn-bench serve` (this executable) pinned to `cpu`, on a free loopback port.
    pub fn start(cpu: Option<usize>) -> anyhow::Result<ServerProcess> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--listen", "127.0.0.1:0"]);
        if let Some(cpu) = cpu {
            cmd.args(["--cpu", &cpu.to_string()]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server process")?;
        let stdin = child.stdin.take().context("server stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("server stdout")?);
        let mut server = ServerProcess {
            child,
            stdin,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let hello = server.read_reply()?;
        server.addr = hello
            .addr
            .context("the server did not say where it listens")?;
        Ok(server)
    }

    /// Where the server listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Replace the server's rules.
    pub fn set_rules(&mut self, rules: Vec<String>) -> anyhow::Result<()> {
        self.request(&Request::Rules { rules }).map(drop)
    }

    /// Counters and CPU time now.
    pub fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        let reply = self.request(&Request::Counters)?;
        let cpu = crate::sys::process_cpu(self.pid()).context("reading the server's CPU time")?;
        Ok(Snapshot {
            queries: reply.queries,
            overload: reply.overload,
            cpu,
        })
    }

    fn request(&mut self, request: &Request) -> anyhow::Result<Reply> {
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .and_then(|()| self.stdin.flush())
            .context("writing to the server")?;
        let reply = self.read_reply()?;
        if let Some(error) = reply.error {
            anyhow::bail!("server: {error}");
        }
        Ok(reply)
    }

    fn read_reply(&mut self) -> anyhow::Result<Reply> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .context("reading from the server")?;
        anyhow::ensure!(n > 0, "the server process ended");
        serde_json::from_str(&line).with_context(|| format!("server said {line:?}"))
    }

    /// Close its stdin (it shuts down cleanly) and wait for it, killing it after 5 s.
    pub fn stop(self) {
        let ServerProcess {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < give_up {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
