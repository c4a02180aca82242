//! A lab of network namespaces: test hosts, a resolver host and a switch between them.
//!
//! Layout of a lab with `n` hosts (every name carries the lab id, `stb-PID-N`):
//!
//! ```text
//!   ID-h0 (198.18.0.10) --veth--+
//!   ID-h1 (198.18.0.11) --veth--+-- br0 in ID-sw --veth-- ID-r (198.18.0.1, the resolver)
//!   ...                         |
//! ```
//!
//! Addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range) and exist only inside the
//! lab's namespaces. Loss is injected with nftables on the receiving side (`numgen random`):
//! the kernel here has no netem. Each host may get its own `/etc/netns/NAME/resolv.conf`, which
//! `ip netns exec` bind-mounts over `/etc/resolv.conf` for the programs it starts, so unmodified
//! getaddrinfo runs against the lab's resolver.
//!
//! Teardown: dropping the [`Lab`] kills the processes it started and deletes its namespaces
//! (which takes their veths, bridge and nftables tables with them) and `/etc/netns` files, also
//! when a test panics. A lab left behind by an interrupted run is swept by the next
//! [`Lab::new`]: its id names a process that no longer exists.

use std::fmt;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// Prefix of every namespace a lab creates.
const PREFIX: &str = "stb-";
/// Where `ip netns` keeps its namespace handles.
const NETNS_RUN: &str = "/var/run/netns";
/// Where `ip netns exec` finds per-namespace files to bind over `/etc`.
const NETNS_ETC: &str = "/etc/netns";
/// Where lab files for programs confined by AppArmor go (Debian's Unbound profile reads
/// `/etc/unbound/**` only); named `ID.*`, removed with the lab.
pub const UNBOUND_ETC: &str = "/etc/unbound";

/// Every namespace labs of this process created, with its nsfs inode: a process whose
/// `/proc/PID/ns/net` names one of these inodes is running inside a lab namespace.
static CREATED: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

/// Why a lab cannot be built on this machine (not root, a tool missing, ...).
#[derive(Debug)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One network namespace of a lab.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// The namespace's name as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside this namespace (through `ip netns exec`, so
    /// `/etc/netns/NAME/resolv.conf` replaces `/etc/resolv.conf` for it).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `ip ARGS` inside the namespace and fails with its stderr when it fails.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run("ip", &full).map(drop)
    }

    /// Runs `nft ARGS` inside the namespace.
    pub fn nft(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["netns", "exec", &self.name, "nft"];
        full.extend_from_slice(args);
        run("ip", &full).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Runs `f` on a fresh thread that has entered this namespace. Sockets created inside `f`
    /// belong to the namespace for their whole life, whichever thread uses them later.
    pub fn enter<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let path = self.path();
        std::thread::spawn(move || {
            enter_on_this_thread(&path)?;
            Ok(f())
        })
        .join()
        .map_err(|_| "thread inside namespace panicked".to_string())?
    }

    /// The namespace's handle under `/var/run/netns`.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_RUN).join(&self.name)
    }
}

/// Moves the calling thread into the network namespace whose handle is `path`. Threads the
/// caller starts afterwards inherit it; other threads of the process are not affected.
pub fn enter_on_this_thread(path: &Path) -> Result<(), String> {
    let file = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: setns on a valid namespace fd changes only this thread's network namespace.
    let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(format!(
            "setns {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// A host of the lab: its namespace and address.
#[derive(Debug)]
pub struct Host {
    /// The host's namespace.
    pub ns: Netns,
    /// The host's address on the lab network.
    pub addr: Ipv4Addr,
}

/// A set of namespaces wired to one switch; see the module docs.
#[derive(Debug)]
pub struct Lab {
    id: String,
    switch: Netns,
    resolver: Host,
    hosts: Vec<Host>,
    children: Mutex<Vec<Child>>,
    files: Mutex<Vec<PathBuf>>,
}

impl Lab {
    /// Builds a lab with `hosts` test hosts (at most 200), or says why it cannot.
    pub fn new(hosts: usize) -> Result<Lab, Unavailable> {
        check_capabilities()?;
        assert!(hosts <= 200, "a lab has at most 200 hosts");
        sweep_stale();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // From here on every namespace is recorded before it is wired, so Drop removes it.
        let mut lab = Lab {
            switch: Netns {
                name: format!("{id}-sw"),
            },
            resolver: Host {
                ns: Netns {
                    name: format!("{id}-r"),
                },
                addr: Ipv4Addr::new(198, 18, 0, 1),
            },
            hosts: Vec::new(),
            children: Mutex::new(Vec::new()),
            files: Mutex::new(Vec::new()),
            id,
        };
        lab.build(hosts)
            .map_err(|e| Unavailable(format!("building lab {}: {e}", lab.id)))?;
        Ok(lab)
    }

    fn build(&mut self, hosts: usize) -> Result<(), String> {
        add_netns(&self.switch)?;
        self.switch.ip(&["link", "set", "lo", "up"])?;
        self.switch.ip(&["link", "add", "br0", "type", "bridge"])?;
        self.switch.ip(&["link", "set", "br0", "up"])?;
        add_netns(&self.resolver.ns)?;
        attach(&self.switch, "r", &self.resolver)?;
        for i in 0..hosts {
            let host = Host {
                ns: Netns {
                    name: format!("{}-h{i}", self.id),
                },
                addr: Ipv4Addr::new(198, 18, 0, 10 + i as u8),
            };
            add_netns(&host.ns)?;
            self.hosts.push(host);
            attach(&self.switch, &format!("h{i}"), &self.hosts[i])?;
        }
        Ok(())
    }

    /// The lab's id, the prefix of its namespace names.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The resolver host (198.18.0.1).
    pub fn resolver(&self) -> &Host {
        &self.resolver
    }

    /// Test host `i` (198.18.0.10 + i).
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }

    /// All test hosts.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Drops a share `p` (0 to 1) of the UDP datagrams that host `i` receives from the
    /// resolver host, with nftables `numgen random` in the host's input hook.
    pub fn set_loss(&self, i: usize, p: f64) -> Result<(), String> {
        let host = &self.hosts[i];
        let per_mille = (p.clamp(0.0, 1.0) * 1000.0).round() as u32;
        let _ = host.ns.nft(&["delete", "table", "inet", "stb"]);
        host.ns.nft(&["add", "table", "inet", "stb"])?;
        host.ns.nft(&[
            "add",
            "chain",
            "inet",
            "stb",
            "input",
            "{ type filter hook input priority 0; }",
        ])?;
        let resolver = self.resolver.addr.to_string();
        let limit = per_mille.to_string();
        // First count every datagram from the resolver (what the link carried), then drop.
        host.ns.nft(&[
            "add", "rule", "inet", "stb", "input", "ip", "saddr", &resolver, "meta", "l4proto",
            "udp", "counter",
        ])?;
        host.ns.nft(&[
            "add", "rule", "inet", "stb", "input", "ip", "saddr", &resolver, "meta", "l4proto",
            "udp", "numgen", "random", "mod", "1000", "<", &limit, "counter", "drop",
        ])?;
        Ok(())
    }

    /// Drops a share `p` (0 to 1) of the UDP datagrams from the resolver host to host `i` on
    /// the way, in the switch (nftables `bridge` family, forward hook, `numgen random`): loss
    /// on the path, which nothing on either end counts. Returns the rule's drops so far with
    /// [`Lab::path_dropped`].
    pub fn set_path_loss(&self, i: usize, p: f64) -> Result<(), String> {
        let per_mille = (p.clamp(0.0, 1.0) * 1000.0).round() as u32;
        let port = format!("h{i}");
        let sw = &self.switch;
        if sw.nft(&["list", "table", "bridge", "stb"]).is_err() {
            sw.nft(&["add", "table", "bridge", "stb"])?;
            sw.nft(&[
                "add",
                "chain",
                "bridge",
                "stb",
                "forward",
                "{ type filter hook forward priority 0; }",
            ])?;
        }
        let resolver = self.resolver.addr.to_string();
        let limit = per_mille.to_string();
        sw.nft(&[
            "add", "rule", "bridge", "stb", "forward", "oifname", &port, "ip", "saddr", &resolver,
            "meta", "l4proto", "udp", "numgen", "random", "mod", "1000", "<", &limit, "counter",
            "drop",
        ])?;
        Ok(())
    }

    /// Datagrams the switch's path-loss rule for host `i` dropped so far (0 without one).
    pub fn path_dropped(&self, i: usize) -> u64 {
        let Ok(out) = self.switch.nft(&["list", "table", "bridge", "stb"]) else {
            return 0;
        };
        let port = format!("oifname \"h{i}\"");
        out.lines()
            .filter(|l| l.contains(&port))
            .filter_map(|l| {
                l.split_whitespace()
                    .skip_while(|w| *w != "packets")
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .sum()
    }

    /// Packets that the loss rule of host `i` dropped so far (0 without a rule).
    pub fn dropped(&self, i: usize) -> u64 {
        self.link_counters(i).1
    }

    /// `(carried, dropped)`: UDP datagrams from the resolver that reached host `i`'s loss
    /// rule, and those it dropped (zeros without a rule). `dropped / carried` is the loss the
    /// link really had.
    pub fn link_counters(&self, i: usize) -> (u64, u64) {
        let Ok(out) = self.hosts[i].ns.nft(&["list", "table", "inet", "stb"]) else {
            return (0, 0);
        };
        let packets = |line: &str| {
            line.split_whitespace()
                .skip_while(|w| *w != "packets")
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
        };
        let (mut carried, mut dropped) = (0, 0);
        for line in out.lines() {
            if let Some(n) = packets(line) {
                if line.trim_end().ends_with("drop") {
                    dropped = n;
                } else {
                    carried = n;
                }
            }
        }
        (carried, dropped)
    }

    /// Writes `/etc/netns/NAME/resolv.conf` for a namespace of this lab.
    pub fn write_resolv_conf(&self, ns: &Netns, text: &str) -> Result<PathBuf, String> {
        let dir = Path::new(NETNS_ETC).join(&ns.name);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("resolv.conf");
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// Writes a file that belongs to the lab outside its namespaces (e.g. a configuration
    /// under [`UNBOUND_ETC`]); the name must start with the lab id. Removed when the lab is
    /// dropped, or by the stale sweep after an interrupted run.
    pub fn write_file(&self, dir: &str, name: &str, text: &str) -> Result<PathBuf, String> {
        if !name.starts_with(&self.id) {
            return Err(format!(
                "{name}: lab files are named after the lab ({})",
                self.id
            ));
        }
        let path = Path::new(dir).join(name);
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(path.clone());
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// Starts a long-running process; the lab kills it when dropped.
    pub fn spawn(&self, mut cmd: Command) -> Result<u32, String> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning {cmd:?}: {e}"))?;
        let pid = child.id();
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(child);
        Ok(pid)
    }

    fn namespaces(&self) -> impl Iterator<Item = &Netns> {
        std::iter::once(&self.switch)
            .chain(std::iter::once(&self.resolver.ns))
            .chain(self.hosts.iter().map(|h| &h.ns))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let children = self.children.get_mut().unwrap_or_else(|p| p.into_inner());
        for child in children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let names: Vec<String> = self.namespaces().map(|n| n.name.clone()).collect();
        for name in names {
            delete_netns(&name);
        }
        for file in self
            .files
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = fs::remove_file(file);
        }
    }
}

/// What labs of this process left behind: namespaces, `/etc/netns` entries, processes still
/// running inside a lab namespace, and lab veths or nftables tables that escaped into the
/// machine's own namespace. Empty once every lab is dropped; the suite checks it at the end.
/// (A lab's veths, bridge and tables live inside its namespaces and go with them.)
pub fn leftovers() -> Vec<String> {
    let mut found = named_leftovers(std::process::id());
    found.extend(escaped());
    let created = CREATED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Ok(procs) = fs::read_dir("/proc") {
        for p in procs.flatten() {
            let pid = p.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(link) = fs::read_link(p.path().join("ns/net")) else {
                continue;
            };
            let link = link.to_string_lossy().into_owned();
            for (name, inode) in &created {
                if link == format!("net:[{inode}]") {
                    let comm = fs::read_to_string(p.path().join("comm")).unwrap_or_default();
                    found.push(format!("process {pid} ({}) in {name}", comm.trim()));
                }
            }
        }
    }
    found
}

/// Namespaces, `/etc/netns` entries and files under [`UNBOUND_ETC`] of labs built by process
/// `pid` that still exist.
pub fn named_leftovers(pid: u32) -> Vec<String> {
    let mine = format!("{PREFIX}{pid}-");
    let mut found = Vec::new();
    for dir in [NETNS_RUN, NETNS_ETC, UNBOUND_ETC] {
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&mine) {
                    found.push(format!("{dir}/{name}"));
                }
            }
        }
    }
    found
}

/// Lab veths or nftables tables in the machine's own namespace (a lab never puts them there).
pub fn escaped() -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(out) = run("ip", &["-o", "link", "show", "type", "veth"]) {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split(':').nth(1).unwrap_or("").trim();
            let name = name.split('@').next().unwrap_or("");
            let ours = name == "r"
                || name == "eth0" && line.contains("link-netns stb-")
                || name
                    .strip_prefix('h')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if ours {
                found.push(format!("veth {name} in the root namespace"));
            }
        }
    }
    if let Ok(out) = run("nft", &["list", "tables"])
        && String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == "table inet stb")
    {
        found.push("nftables table inet stb in the root namespace".into());
    }
    found
}

/// Says why labs cannot run here, or nothing when they can.
pub fn check_capabilities() -> Result<(), Unavailable> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Unavailable("network-namespace tests need root".into()));
    }
    for tool in ["ip", "nft"] {
        let ok = Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(Unavailable(format!(
                "`{tool}` is missing (apt-get install {})",
                if tool == "ip" { "iproute2" } else { "nftables" }
            )));
        }
    }
    Ok(())
}

fn add_netns(ns: &Netns) -> Result<(), String> {
    run("ip", &["netns", "add", &ns.name])?;
    let inode = fs::metadata(ns.path())
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .map_err(|e| format!("{}: {e}", ns.path().display()))?;
    CREATED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((ns.name.clone(), inode));
    ns.ip(&["link", "set", "lo", "up"])
}

/// Connects `host` to the switch's bridge through a veth pair: `port` on the switch side,
/// `eth0` on the host side.
fn attach(switch: &Netns, port: &str, host: &Host) -> Result<(), String> {
    switch.ip(&[
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &host.ns.name,
    ])?;
    switch.ip(&["link", "set", port, "master", "br0"])?;
    switch.ip(&["link", "set", port, "up"])?;
    let cidr = format!("{}/16", host.addr);
    host.ns.ip(&["addr", "add", &cidr, "dev", "eth0"])?;
    host.ns.ip(&["link", "set", "eth0", "up"])
}

/// Kills whatever still runs inside the namespace (grandchildren of a test, or processes of
/// an interrupted run), then deletes it and its `/etc/netns` files.
fn delete_netns(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<libc::pid_t>().ok())
        {
            // SAFETY: kill has no memory-safety preconditions; the pid is a process inside
            // a namespace this lab (or a stale lab of an earlier run) created.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(Stdio::null())
        .status();
    let _ = fs::remove_dir_all(Path::new(NETNS_ETC).join(name));
}

/// Removes namespaces of labs whose process is gone (an interrupted earlier run).
fn sweep_stale() {
    for dir in [NETNS_RUN, NETNS_ETC, UNBOUND_ETC] {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                if dir == UNBOUND_ETC {
                    let _ = fs::remove_file(e.path());
                } else {
                    delete_netns(&name);
                }
            }
        }
    }
}

fn run(program: &str, args: &[&str]) -> Result<Output, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
