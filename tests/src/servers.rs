//! DNS servers inside a lab's resolver namespace: faultdns in-process, Unbound as a process.
//!
//! faultdns runs on a thread that entered the namespace, so its sockets belong there while the
//! test keeps the [`faultdns::Server`] handle for counters. Unbound (Debian's package) runs
//! under `ip netns exec` with a generated configuration that serves local data only
//! (`local-zone: "." static`): it never recurses, so no query leaves the lab.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::{Lab, Netns, UNBOUND_ETC, Unavailable, enter_on_this_thread};

/// A faultdns server running inside a namespace; stops when dropped.
#[derive(Debug)]
pub struct NsFaultdns {
    server: Option<faultdns::Server>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl NsFaultdns {
    /// Starts `builder` listening on `addr` inside `ns`.
    pub fn start(
        ns: &Netns,
        builder: faultdns::Builder,
        addr: SocketAddr,
    ) -> Result<NsFaultdns, String> {
        let path = ns.path();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("faultdns-in-netns".into())
            .spawn(move || {
                if let Err(e) = enter_on_this_thread(&path) {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
                // Built after setns: the runtime's threads start inside the namespace too.
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("tokio runtime: {e}")));
                        return;
                    }
                };
                let started = rt
                    .block_on(builder.listen(addr).start())
                    .map_err(|e| format!("faultdns on {addr}: {e}"));
                let ok = started.is_ok();
                let _ = ready_tx.send(started);
                if ok {
                    let _ = rt.block_on(stop_rx);
                }
                rt.shutdown_timeout(Duration::from_secs(2));
            })
            .map_err(|e| format!("spawning the faultdns thread: {e}"))?;
        let server = ready_rx
            .recv()
            .map_err(|_| "the faultdns thread ended before starting".to_string())??;
        Ok(NsFaultdns {
            server: Some(server),
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The server handle (counters, rules).
    pub fn server(&self) -> &faultdns::Server {
        self.server.as_ref().expect("present until drop")
    }
}

impl Drop for NsFaultdns {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Says why Unbound cannot run here, or nothing when it can.
pub fn unbound_available() -> Result<(), Unavailable> {
    let ok = Command::new("unbound")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(Unavailable(
            "`unbound` is missing (apt-get install unbound; see .ci/run for installing it \
             without starting the system service)"
                .into(),
        ))
    }
}

/// The Unbound configuration the lab uses: local data only, on one address, in the foreground.
pub fn unbound_config(listen: SocketAddr, local_data: &[&str]) -> String {
    let mut conf = format!(
        "server:\n\
         \x20 interface: {ip}\n\
         \x20 port: {port}\n\
         \x20 do-ip6: no\n\
         \x20 do-daemonize: no\n\
         \x20 username: \"\"\n\
         \x20 chroot: \"\"\n\
         \x20 pidfile: \"\"\n\
         \x20 use-syslog: no\n\
         \x20 logfile: \"\"\n\
         \x20 verbosity: 0\n\
         \x20 num-threads: 1\n\
         \x20 module-config: \"iterator\"\n\
         \x20 access-control: 198.18.0.0/15 allow\n\
         \x20 local-zone: \".\" static\n",
        ip = listen.ip(),
        port = listen.port()
    );
    for rr in local_data {
        conf.push_str(&format!("  local-data: \"{rr}\"\n"));
    }
    conf.push_str("remote-control:\n  control-enable: no\n");
    conf
}

/// Starts Unbound in the lab's resolver namespace with [`unbound_config`] (written to
/// `/etc/unbound/LABID.conf`, which the lab removes, with a copy in `dir/unbound.conf`; its log
/// to `dir/unbound.log`); the lab stops it. Returns once `probe`
/// answers (checked with dnsload's raw backend at `dnsload`), or fails.
pub fn start_unbound(
    lab: &Lab,
    dir: &Path,
    listen: SocketAddr,
    local_data: &[&str],
    dnsload: &Path,
    probe: &str,
) -> Result<PathBuf, String> {
    unbound_available().map_err(|e| e.0)?;
    let text = unbound_config(listen, local_data);
    // Under /etc/unbound, where Debian's AppArmor profile lets Unbound read; a copy in `dir`.
    let conf = lab.write_file(UNBOUND_ETC, &format!("{}.conf", lab.id()), &text)?;
    let copy = dir.join("unbound.conf");
    std::fs::write(&copy, &text).map_err(|e| format!("{}: {e}", copy.display()))?;
    let check = Command::new("unbound-checkconf").arg(&conf).output();
    if let Ok(out) = check
        && !out.status.success()
    {
        return Err(format!(
            "unbound-checkconf {}: {}",
            conf.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let log = dir.join("unbound.log");
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = lab.resolver().ns.command("unbound");
    cmd.arg("-d").arg("-c").arg(&conf);
    cmd.stdout(Stdio::null()).stderr(log_file);
    lab.spawn(cmd)?;
    let server = listen.to_string();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let answered = lab
            .resolver()
            .ns
            .command(dnsload)
            .args([
                "run",
                "--backend",
                "raw",
                "--server",
                &server,
                "--name",
                probe,
            ])
            .args([
                "--count",
                "1",
                "--timeout",
                "200ms",
                "--quiet",
                "--host",
                "probe",
            ])
            .args([
                "--fail-on",
                "timeout,error,nxdomain,nodata,servfail,refused",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if answered {
            return Ok(conf);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    Err(format!(
        "unbound on {listen} did not answer {probe} within 10 s; its log: {}",
        log_text.trim()
    ))
}
