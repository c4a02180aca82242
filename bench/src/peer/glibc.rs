//! glibc getaddrinfo on tokio's blocking-thread pool, each thread's resolver state (`_res`)
//! pointed at the benchmark server by dnsload's override.
//!
//! getaddrinfo blocks and has no timeout of its own, so an application runs it on a pool of
//! threads; here that pool is tokio's blocking pool, sized by the worker to the lookups in
//! flight. The first call on each thread applies the override and checks it took; a thread
//! whose override fails answers `Failed` without ever calling getaddrinfo, so no query can go
//! to the machine's own resolver.

use std::{cell::Cell, ffi::CString, net::SocketAddr, sync::Arc, time::Duration};

use super::{Outcome, Setup};

/// The resolver options a glibc peer runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conf {
    /// Per-attempt timeout (`options timeout:`), whole seconds.
    pub timeout: Duration,
    /// Attempts per server (`options attempts:`).
    pub attempts: u32,
}

/// stubborn's defaults, the closest glibc can come: timeout 1, attempts 5.
pub const TUNED: Conf = Conf {
    timeout: Duration::from_secs(1),
    attempts: 5,
};

/// glibc's compiled-in defaults (`RES_TIMEOUT` 5, `RES_DFLRETRY` 2), set explicitly so the
/// machine's resolv.conf options cannot leak in.
pub const DEFAULTS: Conf = Conf {
    timeout: Duration::from_secs(5),
    attempts: 2,
};

/// getaddrinfo through overridden resolver state.
pub struct Peer {
    target: Arc<Target>,
}

struct Target {
    server: SocketAddr,
    conf: Conf,
}

thread_local! {
    /// Whether this thread's `_res` has been pointed at the server (and checked).
    static OVERRIDDEN: Cell<Option<SocketAddr>> = const { Cell::new(None) };
}

impl Peer {
    /// Check on one blocking thread that the override works before any lookup is made.
    pub fn new(setup: &Setup<'_>, conf: Conf) -> anyhow::Result<Peer> {
        let target = Arc::new(Target {
            server: setup.server,
            conf,
        });
        let check = target.clone();
        std::thread::spawn(move || ensure_override(&check))
            .join()
            .map_err(|_| anyhow::anyhow!("the override check panicked"))??;
        Ok(Peer { target })
    }

    /// getaddrinfo(AF_UNSPEC) on a blocking thread.
    pub async fn lookup(&self, name: &str) -> Outcome {
        let Ok(name) = CString::new(name) else {
            return Outcome::Failed;
        };
        let target = self.target.clone();
        let call = tokio::task::spawn_blocking(move || {
            if ensure_override(&target).is_err() {
                return Outcome::Failed;
            }
            getaddrinfo(&name)
        });
        call.await.unwrap_or(Outcome::Failed)
    }
}

/// Apply the override on this thread unless already done for this server.
fn ensure_override(target: &Target) -> anyhow::Result<()> {
    if OVERRIDDEN.get() == Some(target.server) {
        return Ok(());
    }
    apply_override(target.server, target.conf)?;
    OVERRIDDEN.set(Some(target.server));
    Ok(())
}

/// Point this thread's `_res` at `server` with `conf` and verify it took.
///
/// This is dnsload's glibc shim (`crates/dnsload/csrc/resolv_override.c`), reused rather than
/// written twice; until dnsload's library exposes it, the glibc peers refuse to run.
fn apply_override(server: SocketAddr, conf: Conf) -> anyhow::Result<()> {
    let _ = (server, conf);
    anyhow::bail!(
        "dnsload's glibc resolver-state override is not in this build yet; \
         the glibc peers do not run without it (they would ask the machine's resolver)"
    )
}

/// One blocking getaddrinfo call, classified.
fn getaddrinfo(name: &CString) -> Outcome {
    // SAFETY: addrinfo is plain data; all-zero is a valid "no hints" value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated, `hints` lives across the call, `res` receives a list
    // that is freed below exactly once.
    let rc = unsafe { libc::getaddrinfo(name.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc == 0 {
        let found = !res.is_null();
        // SAFETY: `res` came from a successful getaddrinfo.
        unsafe { libc::freeaddrinfo(res) };
        return if found {
            Outcome::Answer
        } else {
            Outcome::NotFound
        };
    }
    classify(rc)
}

/// getaddrinfo's error codes as outcome classes.
fn classify(rc: libc::c_int) -> Outcome {
    match rc {
        0 => Outcome::Answer,
        libc::EAI_NONAME | libc::EAI_NODATA => Outcome::NotFound,
        // glibc reports a resolver that got no reply as a temporary failure.
        libc::EAI_AGAIN => Outcome::Timeout,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_classes() {
        assert_eq!(classify(libc::EAI_NONAME), Outcome::NotFound);
        assert_eq!(classify(libc::EAI_NODATA), Outcome::NotFound);
        assert_eq!(classify(libc::EAI_AGAIN), Outcome::Timeout);
        assert_eq!(classify(libc::EAI_FAIL), Outcome::Failed);
    }

    #[test]
    fn names_in_etc_hosts_resolve_without_dns() {
        // localhost is in /etc/hosts: the files backend answers, no query leaves the process.
        let name = CString::new("localhost").unwrap();
        assert_eq!(getaddrinfo(&name), Outcome::Answer);
    }
}
