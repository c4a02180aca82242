//! The rule engine as a hickory-server [`RequestHandler`] layer (cargo feature `hickory-server`).
//!
//! [`FaultLayer`] wraps any other handler (a `Catalog` with in-memory zones, a forwarder, your
//! own) and applies the same rules, with the same seeded random streams, as the faultdns server:
//!
//! ```no_run
//! # async fn demo(catalog: hickory_server::zone_handler::Catalog) -> Result<(), faultdns::Error> {
//! let layer = faultdns::hickory::FaultLayer::builder()
//!     .rule("drop name=www.example.com. p=0.3")?
//!     .rule("servfail qtype=AAAA on=reply every=2")?
//!     .seed(7)
//!     .wrap(catalog)?;
//! let control = layer.control(); // counters and rule replacement while serving
//! let mut server = hickory_server::Server::new(layer);
//! # let _ = (control, &mut server);
//! # Ok(()) }
//! ```
//!
//! Query rules (without `on=reply`) act before the wrapped handler sees the query; `on=reply`
//! rules act on the response the wrapped handler sends, as on an upstream's reply when
//! forwarding. What each action does here:
//!
//! | action | in this layer |
//! |---|---|
//! | `answer` | the wrapped handler's response (after `delay=`) |
//! | `drop` | nothing is sent (the handler is not called, or its response is discarded) |
//! | `servfail`, `refused` | that RCODE, no records (OPT when the query had one) |
//! | `nxdomain` | RCODE NXDOMAIN with AA=1, but **no SOA** (the layer does not know the zone) |
//! | `truncate` | UDP: an empty response with TC=1; TCP and the other transports: the response |
//! | `wrong-id`, `malformed` | **unavailable**: hickory-server encodes every response itself, with the query's ID, from records; rules with them are rejected ([`crate::Error::Unsupported`]) |
//!
//! Everything goes through hickory-server's own encoder, so the wire faults (`wrong-id`,
//! `malformed`), and byte-exact replies, need the faultdns server itself. hickory-server runs
//! a task per request, so a `delay=` costs one waiting task and holds up nothing else.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use hickory_proto::{
    op::{Edns, Header, HeaderCounts, ResponseCode},
    rr::{Name, Record},
};
use hickory_server::{
    net::{NetError, runtime::Time, xfer::Protocol},
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    zone_handler::{MessageResponse, MessageResponseBuilder},
};

use crate::{
    counters::Counters,
    engine::{Decision, Engine},
    error::Error,
    rule::{Action, Phase, Proto, Rule},
    wire,
};

/// The UDP payload size advertised in the OPT record of responses the layer writes itself.
const OUR_UDP_PAYLOAD: u16 = wire::OUR_UDP_PAYLOAD;

/// Configures a [`FaultLayer`]; from [`FaultLayer::builder`].
#[derive(Debug, Default)]
#[must_use]
pub struct Builder {
    rules: Vec<Rule>,
    seed: Option<u64>,
}

impl Builder {
    /// Add one rule (see [`Rule`] for the syntax). Rules whose action the layer cannot carry
    /// out are rejected when the layer is built ([`Builder::wrap`]).
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
    /// [`Control::seed`] reports.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Wrap `inner`. Fails with [`Error::Unsupported`] when a rule's action cannot be carried
    /// out by a hickory-server handler (`wrong-id`, `malformed`).
    pub fn wrap<H: RequestHandler>(self, inner: H) -> Result<FaultLayer<H>, Error> {
        check(&self.rules)?;
        let seed = self.seed.unwrap_or_else(rand::random);
        let reply_rules = self.rules.iter().any(|r| r.phase() == Phase::Reply);
        Ok(FaultLayer {
            inner,
            control: Control {
                state: Arc::new(State {
                    engine: Mutex::new(Engine::new(self.rules, seed)),
                    reply_rules: AtomicBool::new(reply_rules),
                    seed,
                }),
            },
        })
    }
}

fn check(rules: &[Rule]) -> Result<(), Error> {
    for rule in rules {
        if matches!(rule.action(), Action::WrongId | Action::Malformed) {
            return Err(Error::Unsupported {
                rule: rule.to_string(),
                action: rule.action().as_str(),
            });
        }
    }
    Ok(())
}

struct State {
    engine: Mutex<Engine>,
    reply_rules: AtomicBool,
    seed: u64,
}

/// A handle on a [`FaultLayer`]'s rules and counters, usable while the server runs (cheap to
/// clone).
#[derive(Clone)]
pub struct Control {
    state: Arc<State>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("seed", &self.state.seed)
            .finish_non_exhaustive()
    }
}

impl Control {
    /// Queries seen and per-rule counters (the other fields of [`Counters`] stay zero: the
    /// wrapped server does its own I/O).
    pub fn counters(&self) -> Counters {
        let engine = self.lock();
        Counters {
            queries: engine.queries(),
            untracked_names: engine.untracked_names(),
            rules: engine.rule_counters(),
            ..Counters::default()
        }
    }

    /// Replace the rules, all at once; their counters start again from zero. Fails (and keeps
    /// the rules in force) when a rule's action is unavailable in this layer.
    pub fn set_rules(&self, rules: Vec<Rule>) -> Result<(), Error> {
        check(&rules)?;
        let reply = rules.iter().any(|r| r.phase() == Phase::Reply);
        let mut engine = self.lock();
        engine.set_rules(rules);
        self.state.reply_rules.store(reply, Ordering::Relaxed);
        Ok(())
    }

    /// The seed in use (given, or drawn when the layer was built).
    pub fn seed(&self) -> u64 {
        self.state.seed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.state.engine.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A hickory-server handler that applies faultdns rules around another handler; see the
/// [module documentation](self) for what each action does.
pub struct FaultLayer<H> {
    inner: H,
    control: Control,
}

impl<H> std::fmt::Debug for FaultLayer<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultLayer")
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

impl FaultLayer<()> {
    /// Start configuring a layer.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<H> FaultLayer<H> {
    /// The handle on rules and counters.
    pub fn control(&self) -> Control {
        self.control.clone()
    }
}

/// What the rules need to know of a request.
#[derive(Clone)]
struct Asked {
    name: String,
    qtype: u16,
    proto: Proto,
    client: SocketAddr,
    udp: bool,
}

impl Asked {
    fn of(request: &Request) -> Option<Asked> {
        let info = request.request_info().ok()?;
        let name = Name::from(info.query.name().clone());
        Some(Asked {
            name: wire::name_key(&name),
            qtype: u16::from(info.query.query_type()),
            proto: match request.protocol() {
                Protocol::Udp => Proto::Udp,
                _ => Proto::Tcp,
            },
            client: request.src(),
            udp: request.protocol() == Protocol::Udp,
        })
    }
}

#[async_trait::async_trait]
impl<H: RequestHandler> RequestHandler for FaultLayer<H> {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        // Not one well-formed question: the wrapped handler answers as it would.
        let Some(asked) = Asked::of(request) else {
            return self
                .inner
                .handle_request::<R, T>(request, response_handle)
                .await;
        };
        let d =
            self.control
                .lock()
                .decide(&asked.name, asked.qtype, asked.proto, asked.client.ip());
        pause(d).await;
        match d.action {
            Action::Drop => not_sent(request),
            Action::ServFail => {
                respond_code(request, ResponseCode::ServFail, response_handle).await
            }
            Action::Refused => respond_code(request, ResponseCode::Refused, response_handle).await,
            Action::NxDomain => {
                respond_code(request, ResponseCode::NXDomain, response_handle).await
            }
            Action::Truncate if asked.udp => respond_truncated(request, response_handle).await,
            // answer, truncate over TCP (and wrong-id/malformed, which `check` keeps out).
            _ => {
                if self.control.state.reply_rules.load(Ordering::Relaxed) {
                    let wrapped = OnReply {
                        inner: response_handle,
                        control: self.control.clone(),
                        asked,
                        raw: request.as_slice().to_vec().into(),
                        protocol: request.protocol(),
                    };
                    self.inner.handle_request::<_, T>(request, wrapped).await
                } else {
                    self.inner
                        .handle_request::<R, T>(request, response_handle)
                        .await
                }
            }
        }
    }
}

async fn pause(d: Decision) {
    if let Some(delay) = d.delay.filter(|d| !d.is_zero()) {
        tokio::time::sleep(delay).await;
    }
}

/// The response info of a response that was not sent.
fn not_sent(request: &Request) -> ResponseInfo {
    let mut metadata = hickory_proto::op::Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::NoError;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

fn our_edns(request: &Request) -> Option<Edns> {
    request.edns.as_ref().map(|_| {
        let mut e = Edns::new();
        e.set_max_payload(OUR_UDP_PAYLOAD);
        e
    })
}

async fn respond_code<R: ResponseHandler>(
    request: &Request,
    code: ResponseCode,
    mut handle: R,
) -> ResponseInfo {
    let edns = our_edns(request);
    let mut builder = MessageResponseBuilder::from_message_request(request);
    if let Some(e) = &edns {
        builder.edns(e);
    }
    let mut response = builder.error_msg(&request.metadata, code);
    response.metadata_mut().authoritative = code == ResponseCode::NXDomain;
    sent(request, handle.send_response(response).await)
}

async fn respond_truncated<R: ResponseHandler>(request: &Request, mut handle: R) -> ResponseInfo {
    let edns = our_edns(request);
    let mut builder = MessageResponseBuilder::from_message_request(request);
    if let Some(e) = &edns {
        builder.edns(e);
    }
    let mut metadata = hickory_proto::op::Metadata::response_from_request(&request.metadata);
    metadata.truncation = true;
    sent(
        request,
        handle
            .send_response(builder.build_no_records(metadata))
            .await,
    )
}

/// The info of a sent response, or of a SERVFAIL when sending failed (as hickory-server
/// reports failures itself).
fn sent(request: &Request, r: Result<ResponseInfo, NetError>) -> ResponseInfo {
    r.unwrap_or_else(|_| {
        let mut metadata = hickory_proto::op::Metadata::response_from_request(&request.metadata);
        metadata.response_code = ResponseCode::ServFail;
        ResponseInfo::from(Header {
            metadata,
            counts: HeaderCounts::default(),
        })
    })
}

/// The response path: `on=reply` rules act on the wrapped handler's response.
#[derive(Clone)]
struct OnReply<R> {
    inner: R,
    control: Control,
    asked: Asked,
    /// The request's bytes, to write a response of our own to it.
    raw: Arc<[u8]>,
    protocol: Protocol,
}

#[async_trait::async_trait]
impl<R: ResponseHandler> ResponseHandler for OnReply<R> {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let a = &self.asked;
        let d = self
            .control
            .lock()
            .decide_reply(&a.name, a.qtype, a.proto, a.client.ip());
        pause(d).await;
        let code = match d.action {
            Action::Drop => {
                return Ok(ResponseInfo::from(Header {
                    metadata: *response.metadata(),
                    counts: HeaderCounts::default(),
                }));
            }
            Action::ServFail => ResponseCode::ServFail,
            Action::Refused => ResponseCode::Refused,
            Action::NxDomain => ResponseCode::NXDomain,
            Action::Truncate if a.udp => ResponseCode::NoError,
            _ => return self.inner.send_response(response).await,
        };
        // A response of our own to the same request, decoded again from its bytes (the wrapped
        // handler's response borrows the original).
        let Ok(request) = Request::from_bytes(self.raw.to_vec(), a.client, self.protocol) else {
            return self.inner.send_response(response).await;
        };
        drop(response);
        let info = if d.action == Action::Truncate {
            respond_truncated(&request, self.inner.clone()).await
        } else {
            respond_code(&request, code, self.inner.clone()).await
        };
        Ok(info)
    }
}
