//! stubborn's resolv.conf reader against glibc's own, over generated files.
//!
//! For each file of a seeded run ([`generate`]), `probe/glibc_resolv_probe.c` (built by this
//! package's build script) bind-mounts it over `/etc/resolv.conf` inside a private mount
//! namespace of its own and prints what glibc's `res_ninit` read; the test reads the same file
//! with `Config::from_resolv_conf` and compares field by field ([`compare`]): name servers
//! (address, port, scope id), the search list getaddrinfo walks, ndots, timeout, attempts,
//! rotate, edns0, use-vc, single-request. Every difference must be one the resolver's docs list
//! as deliberate; the test counts those per kind and fails on any other.
//!
//! Needs root (mount and UTS namespaces) and the glibc version the docs cite; otherwise it
//! skips with a one-line reason, or fails under `STUBBORN_REQUIRE_ALL=1`.
//!
//! The run's seed and size come from `STUBBORN_RESOLV_CONF_SEED` and
//! `STUBBORN_RESOLV_CONF_FILES` (defaults below). A longer run:
//!
//! ```text
//! STUBBORN_RESOLV_CONF_SEED=7 STUBBORN_RESOLV_CONF_FILES=20000 \
//!     cargo test -p stubborn-tests --test glibc_resolv_conf
//! ```

mod compare;
mod generate;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stubborn::{Config, Resolver};
use stubborn_tests::{require, show};

use compare::{Deliberate, GlibcView};

/// The glibc release the resolver's docs compare against.
const GLIBC_VERSION: &str = "2.36";
/// Files in a default run.
const DEFAULT_FILES: usize = 400;
/// Seed of a default run.
const DEFAULT_SEED: u64 = 2036;
/// A probe still running after this long is killed and its file reported as glibc blocking.
/// (A probe looping ends itself after 100 ms of CPU.)
const PROBE_BOUND: Duration = Duration::from_secs(20);

/// What one probe run gave.
enum Probed {
    /// glibc read the file.
    Read(Box<GlibcView>),
    /// glibc crashed or hung on it; stubborn must not.
    Misbehaved(String),
    /// The probe could not set up its namespace: the whole test cannot run here.
    Unavailable(String),
}

#[test]
fn stubborn_reads_resolv_conf_as_glibc_does() {
    let probe = env!("GLIBC_RESOLV_PROBE");
    let test = "glibc_resolv_conf";
    if let Some(why) = probe.strip_prefix("unavailable: ") {
        require::<(), _>(test, Err(format!("the glibc probe was not built: {why}")));
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        require::<(), _>(
            test,
            Err(
                "not root: the glibc probe bind-mounts each file over /etc/resolv.conf in a \
                 private mount namespace",
            ),
        );
        return;
    }
    let seed = env_or("STUBBORN_RESOLV_CONF_SEED", DEFAULT_SEED);
    let count = env_or("STUBBORN_RESOLV_CONF_FILES", DEFAULT_FILES as u64) as usize;
    let files = generate::files(seed, count);
    let dir = Scratch::new();

    let started = Instant::now();
    let mut deliberate: BTreeMap<Deliberate, usize> = BTreeMap::new();
    let (mut identical, mut defaults_aside) = (0, 0);
    let mut disagreements = Vec::new();
    let mut by_field: BTreeMap<&str, usize> = BTreeMap::new();
    // What glibc did wrong -> the files it did it on.
    let mut misbehaved: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut version = String::new();
    for (index, file) in files.iter().enumerate() {
        let path = dir.0.join(format!("{index:05}.conf"));
        std::fs::write(&path, &file.text).expect("write a generated file");
        // stubborn reads every file, those glibc chokes on too, into a config it can use.
        let ours = Config::from_resolv_conf(&path).expect("a written file is readable");
        let usable = Resolver::new(ours.clone().with_hosts_file(None)).err();
        let neutral = Config::parse_resolv_conf(&String::from_utf8_lossy(
            &compare::without_port_forms(&file.text),
        ));
        let mut glibc_failed = false;
        let mut outcome = match run_probe(probe, &path, file.hostname) {
            Probed::Read(glibc) => {
                if version.is_empty() {
                    version = glibc.version.clone();
                    if version != GLIBC_VERSION {
                        require::<(), _>(
                            test,
                            Err(format!(
                                "glibc {version} here; the resolver's docs compare against \
                                 glibc {GLIBC_VERSION}"
                            )),
                        );
                        return;
                    }
                }
                compare::compare(&glibc, file.hostname, &ours, &neutral)
            }
            Probed::Misbehaved(what) => {
                misbehaved.entry(what).or_default().push(index);
                glibc_failed = true;
                compare::Outcome::default()
            }
            Probed::Unavailable(why) => {
                require::<(), _>(test, Err(why));
                return;
            }
        };
        if let Some(e) = usable {
            outcome.disagreements.push((
                "usable",
                format!("Resolver::new rejects stubborn's config: {e}"),
            ));
        }
        if outcome.disagreements.is_empty() && !glibc_failed {
            if outcome.deliberate.is_empty() {
                identical += 1;
            }
            if outcome.deliberate.iter().all(Deliberate::is_default) {
                defaults_aside += 1;
            }
        }
        for kind in outcome.deliberate {
            *deliberate.entry(kind).or_default() += 1;
        }
        for (field, _) in &outcome.disagreements {
            *by_field.entry(*field).or_default() += 1;
        }
        if !outcome.disagreements.is_empty() {
            let details: Vec<&str> = outcome
                .disagreements
                .iter()
                .map(|(_, d)| d.as_str())
                .collect();
            disagreements.push(format!(
                "file {index} (host name {}): \"{}\"\n    {}",
                file.hostname,
                escaped(&file.text),
                details.join("\n    ")
            ));
        }
    }

    let failed_glibc: usize = misbehaved.values().map(Vec::len).sum();
    let mut report = format!(
        "glibc resolv.conf differential: glibc {version}, seed {seed}, {count} files, {:.1} s\n\
         \x20 compared: {}; read identically: {identical}; identically but for stubborn's \
         defaults: {defaults_aside}\n\
         \x20 files with deliberate differences, per difference (the resolver's docs list each):\n",
        started.elapsed().as_secs_f64(),
        count - failed_glibc,
    );
    for (kind, n) in &deliberate {
        report.push_str(&format!("    {n:6}  {kind}\n"));
    }
    report.push_str(&format!(
        "  files glibc failed on (stubborn read them): {failed_glibc}\n"
    ));
    for (what, files) in &misbehaved {
        let first: Vec<String> = files.iter().take(5).map(usize::to_string).collect();
        report.push_str(&format!(
            "    {:6}  {what} (files {}{})\n",
            files.len(),
            first.join(", "),
            if files.len() > 5 { ", ..." } else { "" }
        ));
    }
    report.push_str(&format!(
        "  files with undocumented disagreements: {}\n",
        disagreements.len()
    ));
    for (field, n) in &by_field {
        report.push_str(&format!("    {n:6}  {field}\n"));
    }
    show(&report);
    if !disagreements.is_empty() {
        let shown = disagreements.len().min(25);
        panic!(
            "{} of {count} files read differently by stubborn and glibc {version} (seed \
             {seed}, files kept in {}); the first {shown}:\n{}",
            disagreements.len(),
            dir.0.display(),
            disagreements[..shown].join("\n")
        );
    }
}

/// Runs the probe on one file. The probe ends itself after 100 ms of CPU (glibc looping);
/// [`PROBE_BOUND`] of wall-clock time is the backstop for a probe blocked for good.
fn run_probe(probe: &str, file: &Path, hostname: &str) -> Probed {
    let mut child = Command::new(probe)
        .arg(file)
        .arg(hostname)
        .env_remove("LOCALDOMAIN")
        .env_remove("RES_OPTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the glibc probe {probe}: {e}"));
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let _ = stdout.read_to_end(&mut out);
        let _ = stderr.read_to_end(&mut err);
        (out, err)
    });
    let deadline = Instant::now() + PROBE_BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the probe") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let (out, err) = reader.join().expect("probe reader");
    let text = String::from_utf8_lossy(&out);
    let err = String::from_utf8_lossy(&err);
    let Some(status) = status else {
        return Probed::Misbehaved(format!("blocked (killed after {PROBE_BOUND:?})"));
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => match compare::parse_probe(&text) {
            Ok(view) => Probed::Read(Box::new(view)),
            Err(e) => panic!("unreadable probe output ({e}):\n{text}"),
        },
        (Some(2), _) => Probed::Unavailable(format!("the glibc probe cannot run: {}", text.trim())),
        (Some(4), _) => Probed::Misbehaved(format!("failed to read it ({})", text.trim())),
        (Some(code), _) => panic!("the glibc probe failed (status {code}):\n{text}{err}"),
        (None, Some(libc::SIGPROF)) => {
            Probed::Misbehaved("looped (stopped after 100 ms of CPU)".into())
        }
        (None, Some(libc::SIGABRT)) => Probed::Misbehaved(format!("aborted: {}", err.trim())),
        (None, _) => Probed::Misbehaved(format!("crashed ({status}): {}", err.trim())),
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// A file's bytes as a readable string (`\r`, `\0`, bytes that are not UTF-8 escaped).
fn escaped(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// The run's files, in a directory of their own; kept when the test fails, for a look.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("stubborn-glibc-resolv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
