//! The `system` backend: getaddrinfo on a bounded pool of dedicated threads.
//!
//! Basic algorithm:
//! - `threads` std threads are started once; on glibc each first overrides its own resolver
//!   state (see [`super::glibc`]) when resolver flags were given, and the backend is built only
//!   if every thread's override verified.
//! - A lookup queues a job and waits for its reply until the observation deadline.
//! - Past the deadline the lookup is `hung`. A job not yet started is cancelled (no thread was
//!   free: the pool is saturated by stuck calls); a job running stays with its thread, which is
//!   *not* replaced: getaddrinfo cannot be cancelled, and replacing stuck threads would pile
//!   them up without bound. The pool shrinks while calls are stuck; the count is visible in
//!   the summary and in each `hung` outcome's detail.
//!
//! Classes from getaddrinfo's result (documented in docs/dnsload-schema.md):
//! `0` -> ok (or wrong_name by the search rule, using AI_CANONNAME); `EAI_NONAME` -> nxdomain;
//! `EAI_NODATA`/`EAI_ADDRFAMILY` -> nodata; `EAI_AGAIN` -> timeout, or servfail when it came
//! back before one per-attempt timeout had passed (the server answered with a failure; glibc
//! reports SERVFAIL and REFUSED alike); `EAI_FAIL` -> servfail; anything else -> error.

use std::collections::VecDeque;
use std::ffi::{CStr, CString, c_int};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::oneshot;

use super::glibc::{self, Override, ResolverState};
use super::{Backend, LookupFuture};
use crate::class::{Class, Outcome, SearchRule};
use crate::error::{Error, Result};

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELLED: u8 = 2;
const ABANDONED: u8 = 3;
const DONE: u8 = 4;

/// glibc's EAI_NODATA and EAI_ADDRFAMILY (GNU extensions, not in every libc).
const EAI_NODATA: c_int = -5;
const EAI_ADDRFAMILY: c_int = -9;

/// What getaddrinfo returned.
#[derive(Debug)]
struct GaiResult {
    rc: c_int,
    errno: i32,
    addrs: Vec<IpAddr>,
    canonical: Option<String>,
    elapsed: Duration,
}

struct Job {
    name: CString,
    state: Arc<AtomicU8>,
    reply: oneshot::Sender<GaiResult>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
    stuck: AtomicUsize,
    stuck_max: AtomicUsize,
    busy: AtomicUsize,
    family: c_int,
}

/// getaddrinfo on a bounded thread pool.
pub struct SystemBackend {
    pool: Arc<Pool>,
    threads: usize,
    deadline: Duration,
    rule: SearchRule,
    state: Option<ResolverState>,
    overridden: bool,
    attempt_timeout: Duration,
}

/// Settings of the system backend.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    /// Pool size.
    pub threads: usize,
    /// Observation deadline.
    pub deadline: Duration,
    /// AF_INET for A, AF_INET6 for AAAA.
    pub family: c_int,
    /// The resolver-state override (empty: use the system's configuration as is).
    pub over: Override,
}

impl SystemBackend {
    /// Starts the pool; on glibc with a non-empty override, verifies every thread's override.
    pub fn start(config: SystemConfig) -> Result<Self> {
        if config.threads == 0 {
            return Err(Error::flag("--threads", "must be at least 1"));
        }
        let overridden = !config.over.is_empty();
        if overridden {
            if !glibc::supported() {
                return Err(Error::GlibcRequired(
                    "the system backend's resolver override",
                ));
            }
            if let Ok(text) = std::fs::read_to_string("/etc/nsswitch.conf") {
                glibc::check_nsswitch(&text)?;
            }
        }
        let pool = Arc::new(Pool {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            stuck: AtomicUsize::new(0),
            stuck_max: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            family: config.family,
        });
        let (tx, rx) = mpsc::channel::<Result<Option<ResolverState>>>();
        for i in 0..config.threads {
            let pool = Arc::clone(&pool);
            let tx = tx.clone();
            let over = config.over.clone();
            std::thread::Builder::new()
                .name(format!("dnsload-gai-{i}"))
                .spawn(move || {
                    let state = if over.is_empty() {
                        Ok(glibc::read())
                    } else {
                        glibc::apply(&over).map(Some)
                    };
                    let ok = state.is_ok();
                    let _ = tx.send(state);
                    if ok {
                        worker(&pool);
                    }
                })
                .map_err(|e| Error::io("cannot start a getaddrinfo thread", e))?;
        }
        drop(tx);
        let mut state = None;
        let mut failure = None;
        for _ in 0..config.threads {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(s)) => state = state.or(s),
                Ok(Err(e)) => failure = Some(e),
                Err(_) => {
                    failure = Some(Error::OverrideFailed(
                        "a resolver thread did not report its state".into(),
                    ))
                }
            }
        }
        let close = |pool: &Pool| {
            if let Ok(mut q) = pool.queue.lock() {
                q.closed = true;
            }
            pool.ready.notify_all();
        };
        if let Some(e) = failure {
            close(&pool);
            return Err(e);
        }
        // The wrong_name rule from the state glibc actually uses.
        let rule = match &state {
            Some(s) => SearchRule {
                search: s.search.clone(),
                ndots: s.ndots,
            },
            None => SearchRule {
                search: config.over.search.clone().unwrap_or_default(),
                ndots: config.over.ndots.unwrap_or(1),
            },
        };
        let attempt_timeout = state
            .as_ref()
            .map(|s| s.retrans)
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(5));
        Ok(SystemBackend {
            pool,
            threads: config.threads,
            deadline: config.deadline,
            rule,
            state,
            overridden,
            attempt_timeout,
        })
    }

    /// The resolver state the threads use (`None` where it cannot be read).
    pub fn resolver_state(&self) -> Option<&ResolverState> {
        self.state.as_ref()
    }

    /// Threads currently stuck in a call past the deadline.
    pub fn stuck(&self) -> usize {
        self.pool.stuck.load(Ordering::Relaxed)
    }

    async fn run(&self, name: &str) -> Outcome {
        let start = Instant::now();
        let Ok(cname) = CString::new(name) else {
            return Outcome::new(Class::Error, start.elapsed()).with_detail("name contains NUL");
        };
        let state = Arc::new(AtomicU8::new(QUEUED));
        let (tx, mut rx) = oneshot::channel();
        {
            let Ok(mut q) = self.pool.queue.lock() else {
                return Outcome::new(Class::Error, start.elapsed()).with_detail("pool poisoned");
            };
            q.jobs.push_back(Job {
                name: cname,
                state: Arc::clone(&state),
                reply: tx,
            });
        }
        self.pool.ready.notify_one();
        // If this future is dropped (Ctrl-C, a stop), a job still queued is not started.
        let _cancel = CancelQueued(Arc::clone(&state));
        let result = match tokio::time::timeout(self.deadline, &mut rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => {
                return Outcome::new(Class::Error, start.elapsed())
                    .with_detail("getaddrinfo thread exited");
            }
            Err(_) => {
                if state
                    .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    let stuck = self.stuck();
                    return Outcome::new(Class::Hung, start.elapsed()).with_detail(format!(
                        "queued {:?} without a free getaddrinfo thread ({stuck} of {} stuck)",
                        self.deadline, self.threads
                    ));
                }
                if state
                    .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    let stuck = self.pool.stuck.fetch_add(1, Ordering::AcqRel) + 1;
                    self.pool.stuck_max.fetch_max(stuck, Ordering::AcqRel);
                    return Outcome::new(Class::Hung, start.elapsed()).with_detail(format!(
                        "getaddrinfo still running after {:?}; its thread is left to finish \
                         ({stuck} of {} stuck)",
                        self.deadline, self.threads
                    ));
                }
                // Finished just as the deadline passed: take the result.
                match rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => {
                        return Outcome::new(Class::Hung, start.elapsed())
                            .with_detail("no result by the deadline");
                    }
                }
            }
        };
        self.classify(name, result, start.elapsed())
    }

    fn classify(&self, name: &str, r: GaiResult, elapsed: Duration) -> Outcome {
        let mut out = Outcome::new(Class::Ok, elapsed);
        let code = |rc: c_int| {
            // SAFETY: gai_strerror returns a pointer to a static string for any code.
            let s = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
            format!("getaddrinfo: {} ({rc})", s.to_string_lossy())
        };
        match r.rc {
            0 => {
                out.addrs = r.addrs;
                out.answer_name = r.canonical;
                return self.rule.classify(name, out);
            }
            libc::EAI_NONAME => out.class = Class::Nxdomain,
            EAI_NODATA | EAI_ADDRFAMILY => out.class = Class::Nodata,
            libc::EAI_AGAIN => {
                out.class = if r.elapsed < self.attempt_timeout.mul_f64(0.9) {
                    Class::Servfail
                } else {
                    Class::Timeout
                };
            }
            libc::EAI_FAIL => out.class = Class::Servfail,
            libc::EAI_SYSTEM => {
                out.class = Class::Error;
                out.detail = Some(format!(
                    "{}: {}",
                    code(r.rc),
                    std::io::Error::from_raw_os_error(r.errno)
                ));
                return out;
            }
            _ => out.class = Class::Error,
        }
        out.detail = Some(code(r.rc));
        out
    }
}

impl Drop for SystemBackend {
    fn drop(&mut self) {
        if let Ok(mut q) = self.pool.queue.lock() {
            q.closed = true;
            q.jobs.clear();
        }
        self.pool.ready.notify_all();
    }
}

/// Cancels a job that no thread has started yet.
struct CancelQueued(Arc<AtomicU8>);

impl Drop for CancelQueued {
    fn drop(&mut self) {
        let _ = self
            .0
            .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// A pool thread: take jobs until the queue closes.
fn worker(pool: &Pool) {
    loop {
        let job = {
            let Ok(mut q) = pool.queue.lock() else { return };
            loop {
                if q.closed {
                    return;
                }
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                q = match pool.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        if job
            .state
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue; // cancelled while queued
        }
        pool.busy.fetch_add(1, Ordering::Relaxed);
        let result = getaddrinfo(&job.name, pool.family);
        pool.busy.fetch_sub(1, Ordering::Relaxed);
        if job.state.swap(DONE, Ordering::AcqRel) == ABANDONED {
            pool.stuck.fetch_sub(1, Ordering::AcqRel);
        }
        let _ = job.reply.send(result);
    }
}

fn getaddrinfo(name: &CStr, family: c_int) -> GaiResult {
    let start = Instant::now();
    // SAFETY: addrinfo is plain data; zero is the documented "no hint" value for every field.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = libc::SOCK_DGRAM;
    hints.ai_flags = libc::AI_CANONNAME;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated, `hints` is initialised and `res` receives a list that
    // is freed below with freeaddrinfo.
    let rc = unsafe { libc::getaddrinfo(name.as_ptr(), std::ptr::null(), &hints, &mut res) };
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let elapsed = start.elapsed();
    let mut addrs = Vec::new();
    let mut canonical = None;
    if rc == 0 {
        let mut p = res;
        while !p.is_null() {
            // SAFETY: `p` walks the list getaddrinfo returned, which stays valid until freed.
            let ai = unsafe { &*p };
            if canonical.is_none() && !ai.ai_canonname.is_null() {
                // SAFETY: ai_canonname is a NUL-terminated string owned by the list.
                let c = unsafe { CStr::from_ptr(ai.ai_canonname) };
                canonical = Some(c.to_string_lossy().into_owned());
            }
            if let Some(ip) = sockaddr_ip(ai) {
                addrs.push(ip);
            }
            p = ai.ai_next;
        }
        // SAFETY: `res` came from a successful getaddrinfo and is freed once.
        unsafe { libc::freeaddrinfo(res) };
    }
    GaiResult {
        rc,
        errno,
        addrs,
        canonical,
        elapsed,
    }
}

fn sockaddr_ip(ai: &libc::addrinfo) -> Option<IpAddr> {
    if ai.ai_addr.is_null() {
        return None;
    }
    match ai.ai_family {
        libc::AF_INET => {
            // SAFETY: for AF_INET, ai_addr points to a sockaddr_in.
            let sin = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
            Some(IpAddr::from(
                u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: for AF_INET6, ai_addr points to a sockaddr_in6.
            let sin6 = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
            Some(IpAddr::from(sin6.sin6_addr.s6_addr))
        }
        _ => None,
    }
}

impl Backend for SystemBackend {
    fn name(&self) -> &'static str {
        "system"
    }

    fn lookup<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
        Box::pin(self.run(name))
    }

    fn info(&self) -> serde_json::Value {
        json!({
            "threads": self.threads,
            "deadline_ms": self.deadline.as_secs_f64() * 1e3,
            "glibc_override": self.overridden,
            "resolver_state": self.state,
            "stuck_threads": self.stuck(),
            "stuck_threads_max": self.pool.stuck_max.load(Ordering::Relaxed),
            "busy_threads": self.pool.busy.load(Ordering::Relaxed),
        })
    }
}

impl std::fmt::Debug for SystemBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemBackend")
            .field("threads", &self.threads)
            .field("deadline", &self.deadline)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
