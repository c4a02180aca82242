//! faultdns: an authoritative DNS server that injects faults on command.
//!
//! It serves records from zone text and one-line records, answers NXDOMAIN/NODATA with the
//! zone's SOA for everything else, and lets rules drop, delay, truncate or corrupt replies per
//! name, type, protocol and client, with probabilities drawn from a seeded RNG so runs repeat.
//! It exists to be the fixture under resolver tests; `faultdns` the binary serves the same from
//! the command line.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = faultdns::Server::builder()
//!     .zone("$ORIGIN example.com.\n@ 60 IN SOA ns. host. 1 60 60 60 60\nwww 60 IN A 192.0.2.10\n")?
//!     .record("api.example.com. 60 A 192.0.2.11")?
//!     .rule("drop name=www.example.com. p=0.5")?
//!     .seed(7)
//!     .start()
//!     .await?;
//! let addr = server.addr(); // UDP and TCP
//! let c = server.counters(); // c.queries, c.rules[0].matched, c.rules[0].fired
//! server.set_rules(vec!["answer delay=200ms".parse()?]);
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The rule language is described on [`Rule`]; the decision log on [`LogTarget`].
//!
//! With [`Builder::upstream`], the server sits in front of a real resolver: queries its data
//! does not decide are relayed there byte for byte (UDP to UDP, TCP to TCP, only the ID
//! swapped), and rules act on the query and, with `on=reply`, on the upstream's reply; upstream
//! failures are counted per kind ([`Counters`]) and passed on as silence unless
//! [`Builder::upstream_failure`] says otherwise. With the cargo feature `hickory-server`, the
//! `hickory` module offers the same rules as a hickory-server `RequestHandler` layer.
//!
//! Bad input is counted ([`Counters`]) and handled as an authoritative server would: messages
//! shorter than a header and responses are ignored, anything else that does not parse as one
//! question gets FORMERR, other opcodes NOTIMP, classes other than IN and zone transfers
//! REFUSED, EDNS versions above 0 BADVERS. EDNS queries get an OPT record back, and UDP
//! answers that do not fit the client's advertised size (512 bytes without EDNS) are truncated
//! (TC=1) so the client retries over TCP.
#![warn(missing_docs)]

mod counters;
mod engine;
mod error;
mod forward_tcp;
mod forward_udp;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handler;
#[cfg(feature = "hickory-server")]
pub mod hickory;
mod locate;
mod log;
mod mmsg;
mod rule;
mod server;
mod tcp;
mod udp;
mod upstream;
mod wire;
mod zone;

pub use counters::{Counters, RuleCounters};
pub use error::Error;
pub use log::LogTarget;
pub use rule::{Action, Phase, Proto, Rule};
pub use server::{Builder, Server};
pub use upstream::UpstreamFailure;
