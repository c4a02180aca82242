//! Entry points for the coverage-guided fuzz targets in the workspace's `fuzz/` directory
//! (cargo feature `fuzzing`): the request path from bytes in to bytes out, through the rule
//! engine and the prepared data, without sockets. Not part of the supported API: it may
//! change in any release.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use tokio::runtime::Runtime;
use tokio::sync::{Semaphore, watch};

use crate::counters::Live;
use crate::engine::Engine;
use crate::error::Error;
use crate::handler::{MAX_DELAYED, MAX_TCP, Reply, Scratch, Shared};
use crate::rule::{Action, Proto, Rule};
use crate::zone::{Data, Store};

/// A server's request handling without its sockets: the data compiled once, fresh rules for
/// every message.
pub struct Harness {
    shared: Shared,
    owners: Vec<(Name, RecordType)>,
    scratch: Scratch,
    _shutdown: watch::Sender<bool>,
    // Declared last: the runtime outlives the handle `shared` keeps of it.
    _runtime: Runtime,
}

/// What the server did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The reply bytes, if a reply is sent (at once or after a delay).
    pub reply: Option<Vec<u8>>,
    /// Whether the reply is held back by a `delay=`.
    pub delayed: bool,
    /// The action of the rule that fired, if one did.
    pub fired: Option<Action>,
}

impl Harness {
    /// A server holding `zone` (RFC 1035 zone text, read as [`crate::Builder::zone`] reads it).
    /// Fails on zone errors (and, as [`Error::Bind`], if no runtime can be built for it).
    pub fn new(zone: &str) -> Result<Harness, Error> {
        let mut data = Data::default();
        data.add_zone_text(zone, "zone text", None)?;
        let owners = data
            .records()
            .iter()
            .map(|r| (r.name.clone(), r.record_type()))
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Bind {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                source,
            })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Shared {
            store: Store::build(&data),
            engine: Mutex::new(Engine::new(Vec::new(), 0)),
            live: Live::default(),
            log: None,
            delayed: Arc::new(Semaphore::new(MAX_DELAYED)),
            tcp_slots: Arc::new(Semaphore::new(MAX_TCP)),
            max_tcp: MAX_TCP,
            shutdown: shutdown_rx,
            stopping: AtomicBool::new(false),
            runtime: runtime.handle().clone(),
            tcp_idle: Duration::from_secs(10),
            upstreams: None,
            reply_rules: AtomicBool::new(false),
        };
        Ok(Harness {
            shared,
            owners,
            scratch: Scratch::default(),
            _shutdown: shutdown,
            _runtime: runtime,
        })
    }

    /// The owner name and type of every record the data holds, in zone order.
    pub fn records(&self) -> &[(Name, RecordType)] {
        &self.owners
    }

    /// Handles `msg` from `peer` over TCP (`tcp`) or UDP with `rules` (their counters and
    /// random streams fresh, seed `seed`).
    pub fn handle(
        &mut self,
        msg: &[u8],
        tcp: bool,
        peer: SocketAddr,
        rules: Vec<Rule>,
        seed: u64,
    ) -> Handled {
        let actions: Vec<Action> = rules.iter().map(Rule::action).collect();
        *self.shared.engine.lock().unwrap_or_else(|e| e.into_inner()) = Engine::new(rules, seed);
        let proto = if tcp { Proto::Tcp } else { Proto::Udp };
        self.scratch.out.clear();
        let reply = self.shared.handle(msg, proto, peer, &mut self.scratch);
        let fired = self
            .shared
            .engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rule_counters()
            .iter()
            .position(|c| c.fired > 0)
            .map(|i| actions[i]);
        let (reply, delayed) = match reply {
            Reply::None => (None, false),
            Reply::Now => (Some(self.scratch.out.clone()), false),
            Reply::After(_) => (Some(self.scratch.out.clone()), true),
            // No upstreams: nothing is forwarded.
            Reply::Forward(_) => (None, false),
        };
        Handled {
            reply,
            delayed,
            fired,
        }
    }
}
