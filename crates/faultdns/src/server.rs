//! The server handle: build with data, rules and a seed; start; observe; shut down.

use std::{
    net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, UdpSocket},
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use hickory_proto::rr::Name;
use socket2::SockRef;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::{
    net::TcpListener,
    runtime::Handle,
    sync::{Semaphore, watch},
    task::JoinHandle,
};

use crate::{
    counters::{Counters, Live},
    engine::Engine,
    error::Error,
    forward_udp::UdpUpstream,
    handler::{MAX_DELAYED, MAX_TCP, Shared},
    log::{LogTarget, LogWriter},
    rule::{Phase, Rule},
    tcp, udp,
    upstream::{UpstreamFailure, Upstreams},
    wire,
    zone::{Data, Store},
};

/// Default time an upstream has to answer a forwarded query.
const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// Sockets (source ports) per upstream and listening socket for forwarding over UDP.
const UDP_FLOWS: usize = 4;
/// Default bound on queries outstanding upstream.
const DEFAULT_MAX_OUTSTANDING: usize = 4096;

/// Default idle timeout of a TCP connection.
const DEFAULT_TCP_IDLE: Duration = Duration::from_secs(10);
/// How often an idle UDP thread wakes to check for shutdown, in case shutting its socket for
/// reading did not wake it.
const UDP_WAKE: Duration = Duration::from_secs(1);
/// Receive buffer asked for on UDP sockets, so bursts and floods queue rather than drop.
const UDP_RECV_BUFFER: usize = 4 << 20;

/// Configures a [`Server`]; from [`Server::builder`].
#[derive(Debug, Default)]
#[must_use]
pub struct Builder {
    data: Data,
    rules: Vec<Rule>,
    seed: Option<u64>,
    listen: Vec<SocketAddr>,
    log: Option<LogTarget>,
    tcp_idle: Option<Duration>,
    udp_tasks: Option<usize>,
    max_tcp: Option<usize>,
    upstreams: Vec<SocketAddr>,
    upstream_timeout: Option<Duration>,
    upstream_failure: UpstreamFailure,
    max_outstanding: Option<usize>,
}

impl Builder {
    /// Add RFC 1035 zone text. Names may be absolute, or relative to a `$ORIGIN` line. A SOA
    /// record makes its owner a zone apex; negative answers below it carry that SOA.
    pub fn zone(mut self, text: &str) -> Result<Self, Error> {
        self.data.add_zone_text(text, "zone text", None)?;
        Ok(self)
    }

    /// Add a zone file (`$INCLUDE` paths are relative to it). Errors name the file and line.
    pub fn zone_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::File {
            path: path.to_path_buf(),
            source,
        })?;
        self.data
            .add_zone_text(&text, &path.display().to_string(), Some(path))?;
        Ok(self)
    }

    /// Add one record written as a zone-file line with an absolute owner name, e.g.
    /// `www.example.com. 60 A 192.0.2.10` (class IN and TTL 60 unless given). A record outside every zone
    /// gets a synthesised SOA at its parent name, for negative answers.
    pub fn record(mut self, line: &str) -> Result<Self, Error> {
        self.data.add_record_line(line)?;
        Ok(self)
    }

    /// Answer every name strictly below `suffix` with an A record `v4` (and AAAA `v6`, or
    /// NODATA for AAAA when `None`), TTL 60, for load tests with many unique names. Records in
    /// the data take precedence.
    pub fn synthesize(
        mut self,
        suffix: &str,
        v4: Ipv4Addr,
        v6: Option<Ipv6Addr>,
    ) -> Result<Self, Error> {
        self.data.add_synthesis(suffix, v4, v6)?;
        Ok(self)
    }

    /// Add one rule (see [`Rule`] for the syntax).
    pub fn rule(mut self, rule: &str) -> Result<Self, Error> {
        self.rules.push(rule.parse()?);
        Ok(self)
    }

    /// Add rules already parsed.
    pub fn rules(mut self, rules: Vec<Rule>) -> Self {
        self.rules.extend(rules);
        self
    }

    /// Seed of the random streams behind `p=` and `burst=`. Defaults to a random seed, which
    /// [`Server::seed`] reports so a run can be repeated.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Listen on this address, UDP and TCP on the same port (port 0: one free port for both).
    /// May be given several times. Defaults to `127.0.0.1:0`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Write a JSON line per decision (see the crate docs for the fields). Defaults to none.
    pub fn log(mut self, target: LogTarget) -> Self {
        self.log = Some(target);
        self
    }

    /// Close TCP connections idle (or stalled mid-message) this long. Defaults to 10 s, the
    /// order of common servers' defaults; bounded below by 10 ms.
    pub fn tcp_idle_timeout(mut self, idle: Duration) -> Self {
        self.tcp_idle = Some(idle.max(Duration::from_millis(10)));
        self
    }

    /// Most TCP connections open at once; more are closed as soon as they are accepted.
    /// Defaults to 512; at least 1.
    pub fn max_tcp_connections(mut self, n: usize) -> Self {
        self.max_tcp = Some(n.clamp(1, 65_536));
        self
    }

    /// UDP sockets (one receive thread each) per listen address, sharing its port. Defaults to
    /// the number of CPUs, at most 4.
    pub fn udp_tasks(mut self, n: usize) -> Self {
        self.udp_tasks = Some(n.clamp(1, 64));
        self
    }

    /// Forward to this upstream resolver what the data does not decide (may be given several
    /// times: queries and TCP connections go round robin, one upstream each, never retried
    /// elsewhere, so the client sees what the upstream did).
    ///
    /// Which queries the data decides: those for names at or below the apex of a zone given
    /// with its SOA record, at or below a synthesis suffix, names that own a record (a
    /// [`Builder::record`] line or a zone record outside every zone), and names a wildcard
    /// record covers. Every other query goes through the query rules (those without
    /// `on=reply`); unless one fires with an action that answers locally, its bytes are sent
    /// upstream over the transport it came in on (UDP to UDP, TCP to TCP), with only the ID
    /// changed, and the upstream's reply comes back the same way, every byte as the upstream
    /// sent it but the ID, which is the client's again. `answer` and `wrong-id` forward (the
    /// latter relays the reply with another ID), `truncate` forwards over TCP and sends TC=1
    /// over UDP, `nxdomain` answers with a synthesised root SOA, the others as usual.
    /// `on=reply` rules then act on the upstream's reply. Without upstreams (the default)
    /// every query is answered from the data.
    pub fn upstream(mut self, addr: SocketAddr) -> Self {
        self.upstreams.push(addr);
        self
    }

    /// How long an upstream has to answer a forwarded query. Defaults to 2 s (a common
    /// forwarder's read timeout); bounded to 10 ms..=60 s.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout =
            Some(timeout.clamp(Duration::from_millis(10), Duration::from_secs(60)));
        self
    }

    /// What the client gets when its forwarded query fails upstream (no reply in time, garbage,
    /// an oversize UDP reply, a TCP connection closed mid-reply, an unreachable upstream, the
    /// outstanding bound reached). Defaults to [`UpstreamFailure::Silence`].
    pub fn upstream_failure(mut self, policy: UpstreamFailure) -> Self {
        self.upstream_failure = policy;
        self
    }

    /// Most queries outstanding upstream at once, over all upstreams and both transports;
    /// more are not forwarded (counted as `upstream_overload`, answered as
    /// [`Builder::upstream_failure`] says). Defaults to 4096; bounded to 1..=60,000.
    pub fn max_upstream_outstanding(mut self, n: usize) -> Self {
        self.max_outstanding = Some(n.clamp(1, 60_000));
        self
    }

    /// Bind the sockets and start serving: UDP on threads of its own, TCP and delayed replies on
    /// the current tokio runtime (which must outlive the server).
    ///
    /// Cancel safety: dropping the future before it completes closes what was bound.
    pub async fn start(self) -> Result<Server, Error> {
        let store = Store::build(&self.data);
        let seed = self.seed.unwrap_or_else(rand::random);
        let listen = if self.listen.is_empty() {
            vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]
        } else {
            self.listen
        };
        let udp_tasks = self
            .udp_tasks
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
        let mut bound = Vec::new();
        for addr in listen {
            bound.push(bind(addr, udp_tasks)?);
        }
        let (log_tx, log_writer) = match self.log {
            Some(target) => {
                let (tx, writer) = LogWriter::start(target)?;
                (Some(tx), Some(writer))
            }
            None => (None, None),
        };
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let max_tcp = self.max_tcp.unwrap_or(MAX_TCP);
        let upstreams = (!self.upstreams.is_empty()).then(|| {
            Upstreams::new(
                self.upstreams.clone(),
                self.upstream_timeout.unwrap_or(DEFAULT_UPSTREAM_TIMEOUT),
                self.upstream_failure,
                self.max_outstanding.unwrap_or(DEFAULT_MAX_OUTSTANDING),
            )
        });
        let reply_rules = self.rules.iter().any(|r| r.phase() == Phase::Reply);
        let shared = Arc::new(Shared {
            store,
            engine: Mutex::new(Engine::new(self.rules, seed)),
            live: Live::default(),
            log: log_tx,
            delayed: Arc::new(Semaphore::new(MAX_DELAYED)),
            tcp_slots: Arc::new(Semaphore::new(max_tcp)),
            max_tcp,
            shutdown: shutdown_rx.clone(),
            stopping: AtomicBool::new(false),
            runtime: Handle::current(),
            tcp_idle: self.tcp_idle.unwrap_or(DEFAULT_TCP_IDLE),
            upstreams,
            reply_rules: AtomicBool::new(reply_rules),
        });
        let mut tasks = Vec::new();
        let mut addrs = Vec::new();
        let mut threads = Vec::new();
        let mut udp_sockets = Vec::new();
        for (udp_socks, tcp_sock, addr) in bound {
            for udp_sock in udp_socks {
                // The fallback wake-up, should shutting the socket not wake a blocked receive.
                udp_sock
                    .set_read_timeout(Some(UDP_WAKE))
                    .map_err(|source| Error::Bind { addr, source })?;
                let udp_sock = Arc::new(UdpSocket::from(udp_sock));
                let mut ups = Vec::new();
                // Several source ports per upstream, taken in turn: an upstream that spreads
                // its load by flow (SO_REUSEPORT workers, ECMP, conntrack) sees many flows, as
                // from many clients, not one pinned to a single worker.
                let flows = (0..UDP_FLOWS).flat_map(|_| self.upstreams.iter().copied());
                for up_addr in flows {
                    let opened = UdpUpstream::open(shared.clone(), up_addr, udp_sock.clone());
                    let up = match opened {
                        Ok(up) => Arc::new(up),
                        Err(source) => {
                            stop_udp(&shared, &udp_sockets);
                            return Err(Error::Upstream {
                                addr: up_addr,
                                source,
                            });
                        }
                    };
                    // Shut at shutdown like the listening sockets, to wake the thread.
                    match up.socket().try_clone() {
                        Ok(sock) => udp_sockets.push(Arc::new(sock)),
                        Err(source) => {
                            stop_udp(&shared, &udp_sockets);
                            return Err(Error::Upstream {
                                addr: up_addr,
                                source,
                            });
                        }
                    }
                    ups.push(up);
                }
                let (worker_shared, sock) = (shared.clone(), udp_sock.clone());
                let spawned = thread::Builder::new()
                    .name(format!("faultdns-udp-{}", addr.port()))
                    .spawn(move || udp::serve(worker_shared, sock, ups));
                match spawned {
                    Ok(t) => threads.push(t),
                    Err(source) => {
                        stop_udp(&shared, &udp_sockets);
                        return Err(Error::Bind { addr, source });
                    }
                }
                udp_sockets.push(udp_sock);
            }
            let listener = TcpListener::from_std(tcp_sock.into())
                .map_err(|source| Error::Bind { addr, source })?;
            tasks.push(tokio::spawn(tcp::serve(
                shared.clone(),
                listener,
                shutdown_rx.clone(),
            )));
            addrs.push(addr);
        }
        Ok(Server {
            shared,
            addrs,
            seed,
            shutdown: shutdown_tx,
            tasks,
            threads,
            udp_sockets,
            log: log_writer,
        })
    }
}

/// Bind TCP, then `n` UDP sockets on its port sharing it with SO_REUSEPORT (the kernel spreads
/// clients over them, so each receive task owns a socket and no two tasks wake for the same
/// datagram); with port 0, retry until a port is free for both. The TCP listener has no
/// SO_REUSEPORT, so a second server on the same fixed port fails to start instead of sharing it.
fn bind(addr: SocketAddr, n: usize) -> Result<(Vec<Socket>, Socket, SocketAddr), Error> {
    let fail = |source| Error::Bind { addr, source };
    let domain = Domain::for_address(addr);
    let udp_socket = |at: SocketAddr| -> std::io::Result<Socket> {
        let udp = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        if addr.is_ipv6() {
            udp.set_only_v6(true)?;
        }
        udp.set_reuse_port(true)?;
        let _ = udp.set_recv_buffer_size(UDP_RECV_BUFFER);
        udp.bind(&at.into())?;
        Ok(udp)
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        // TCP first: it refuses a port in use, so a second server never receives a datagram.
        let tcp = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
        if addr.is_ipv6() {
            tcp.set_only_v6(true).map_err(fail)?;
        }
        tcp.set_reuse_address(true).map_err(fail)?;
        tcp.set_nonblocking(true).map_err(fail)?;
        tcp.bind(&addr.into()).map_err(fail)?;
        let local = tcp
            .local_addr()
            .map_err(fail)?
            .as_socket()
            .ok_or_else(|| fail(std::io::Error::other("not an IP socket")))?;
        let first = match udp_socket(local) {
            Ok(s) => s,
            Err(_) if addr.port() == 0 && attempts < 50 => continue,
            Err(source) => return Err(fail(source)),
        };
        tcp.listen(1024).map_err(fail)?;
        let mut udp = vec![first];
        for _ in 1..n {
            udp.push(udp_socket(local).map_err(fail)?);
        }
        return Ok((udp, tcp, local));
    }
}

/// A running faultdns server. Dropping it stops the server in the background; call
/// [`Server::shutdown`] to wait until every task has ended.
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    addrs: Vec<SocketAddr>,
    seed: u64,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    threads: Vec<thread::JoinHandle<()>>,
    udp_sockets: Vec<Arc<UdpSocket>>,
    log: Option<LogWriter>,
}

/// Tell the UDP threads to stop and wake them: shutting a UDP socket for reading makes a
/// blocked receive return at once (Linux does this even for unconnected sockets).
fn stop_udp(shared: &Shared, sockets: &[Arc<UdpSocket>]) {
    shared.stopping.store(true, Ordering::Relaxed);
    for sock in sockets {
        let _ = SockRef::from(&**sock).shutdown(Shutdown::Read);
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter").finish_non_exhaustive()
    }
}

impl Server {
    /// Start configuring a server.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The first bound address (UDP and TCP share it).
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every bound address, in the order given to [`Builder::listen`].
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The seed in use (given, or drawn at start).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        let engine = self.shared.engine.lock().unwrap_or_else(|e| e.into_inner());
        let mut c = Counters {
            queries: engine.queries(),
            untracked_names: engine.untracked_names(),
            rules: engine.rule_counters(),
            ..Counters::default()
        };
        drop(engine);
        self.shared.live.fill(&mut c);
        c.upstream_outstanding = self
            .shared
            .upstreams
            .as_ref()
            .map_or(0, |u| u.outstanding() as u64);
        c
    }

    /// Queries seen for `name` (any type, either protocol), compared case-insensitively; the
    /// final dot is optional. Only the first 100,000 distinct names are tracked.
    pub fn queries_for(&self, name: &str) -> u64 {
        let Ok(name) = Name::from_ascii(name) else {
            return 0;
        };
        let key = wire::name_key(&name);
        let engine = self.shared.engine.lock().unwrap_or_else(|e| e.into_inner());
        engine.queries_for(&key)
    }

    /// Replace the rules while serving, all at once; their counters start again from zero.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.shared.set_rules(rules);
    }

    /// The rules in force, in canonical text (as [`Rule`]'s `Display` writes them).
    pub fn rules(&self) -> Vec<String> {
        let engine = self.shared.engine.lock().unwrap_or_else(|e| e.into_inner());
        engine.rule_counters().into_iter().map(|c| c.rule).collect()
    }

    /// Stop serving and wait until every task and thread (UDP receive threads, TCP
    /// connections, delayed replies, the log writer) has ended; the decision log is flushed.
    ///
    /// Cancel safety: the stop signal goes out before the first await, so if this future is
    /// dropped midway the tasks still end on their own; only the waiting is lost.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        stop_udp(&self.shared, &self.udp_sockets);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        // Connection and delayed-reply tasks hold permits until they end.
        let _ = self
            .shared
            .tcp_slots
            .acquire_many(self.shared.max_tcp as u32)
            .await;
        let _ = self.shared.delayed.acquire_many(MAX_DELAYED as u32).await;
        if let Some(log) = self.log.take() {
            let _ = tokio::task::spawn_blocking(move || log.stop()).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        stop_udp(&self.shared, &self.udp_sockets);
        if let Some(log) = self.log.take() {
            // Flush in the background; the thread ends once the queue is drained.
            std::thread::spawn(move || log.stop());
        }
    }
}
