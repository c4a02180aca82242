//! Running dnsload on many lab hosts at once, bounded in time, with outputs in files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set by SIGINT or SIGTERM once [`stop_on_signals`] is called.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM end [`run_all`] with an error instead of killing the process, so
/// a program (`cluster-sim`) interrupted mid-run still drops its lab and leaves nothing.
pub fn stop_on_signals() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, handler as libc::sighandler_t) };
    }
}

/// The `lab-dnsload` binary (dnsload's entry point, built with this package): beside the
/// running executable, or one directory up from a test executable in `deps/`.
pub fn dnsload_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("lab-dnsload");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is missing (cargo build -p stubborn-tests --bins)",
            bin.display()
        ))
    }
}

/// One finished run: its label, exit status and where its stdout and stderr went.
#[derive(Debug)]
pub struct Finished {
    /// The label given to [`run_all`].
    pub label: String,
    /// Exit status.
    pub status: ExitStatus,
    /// File with the run's standard output.
    pub stdout: PathBuf,
    /// File with the run's standard error.
    pub stderr: PathBuf,
}

impl Finished {
    /// The run's standard error, for failure messages.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// Children killed and reaped when dropped (a panicking test leaves none running).
struct Running(Vec<(String, Child, PathBuf, PathBuf)>);

impl Drop for Running {
    fn drop(&mut self) {
        for (_, child, _, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts every `(label, command)` at once, stdout and stderr to `LABEL.stdout` and
/// `LABEL.stderr` in `dir`, and waits for all of them; any still running after `limit` is
/// killed and the whole call fails.
pub fn run_all(
    commands: Vec<(String, Command)>,
    dir: &Path,
    limit: Duration,
) -> Result<Vec<Finished>, String> {
    let mut running = Running(Vec::new());
    for (label, mut cmd) in commands {
        let out = dir.join(format!("{label}.stdout"));
        let err = dir.join(format!("{label}.stderr"));
        let file = |p: &Path| File::create(p).map_err(|e| format!("{}: {e}", p.display()));
        cmd.stdin(Stdio::null())
            .stdout(file(&out)?)
            .stderr(file(&err)?);
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawning {label} ({cmd:?}): {e}"))?;
        running.0.push((label, child, out, err));
    }
    let start = Instant::now();
    let mut finished: Vec<Option<ExitStatus>> = vec![None; running.0.len()];
    while finished.iter().any(Option::is_none) {
        for (i, (label, child, _, _)) in running.0.iter_mut().enumerate() {
            if finished[i].is_none() {
                finished[i] = child
                    .try_wait()
                    .map_err(|e| format!("waiting for {label}: {e}"))?;
            }
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        if start.elapsed() > limit {
            let late: Vec<&str> = running
                .0
                .iter()
                .zip(&finished)
                .filter(|(_, f)| f.is_none())
                .map(|((l, ..), _)| l.as_str())
                .collect();
            return Err(format!("still running after {limit:?}: {late:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(std::mem::take(&mut running.0)
        .into_iter()
        .zip(finished)
        .map(|((label, _, stdout, stderr), status)| Finished {
            label,
            status: status.expect("every run finished"),
            stdout,
            stderr,
        })
        .collect())
}

/// A scratch directory under the system's temp dir, removed when dropped unless kept.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    /// Creates `TMP/NAME-PID-N`.
    pub fn new(name: &str) -> Result<Scratch, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Scratch { path, keep: false })
    }

    /// Uses `path` (created if needed) and keeps it.
    pub fn keep_at(path: &Path) -> Result<Scratch, String> {
        std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Scratch {
            path: path.to_path_buf(),
            keep: true,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
