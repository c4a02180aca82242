//! Adapters for HTTP clients, each behind the cargo feature of the same name: `reqwest`
//! (reqwest 0.13's `dns::Resolve`) and `hyper-util` (the `tower_service::Service<Name>`
//! hyper-util's `HttpConnector::new_with_resolver` takes).
//!
//! Both return the addresses of [`Resolver::lookup_ip`](crate::Resolver::lookup_ip) in its
//! order (RFC 6724), with port 0 (the client puts in the URL's port), and map errors to an
//! [`io::Error`] whose kind tells them apart (its `From<Error>`): a timeout is
//! [`io::ErrorKind::TimedOut`] (so `reqwest::Error::is_timeout` is true), a name that does not
//! exist [`io::ErrorKind::NotFound`]. The stubborn [`Error`] is inside:
//! [`Error::find`] gets it back from a client's error.

use std::io;
use std::net::SocketAddr;

use crate::error::{Error, ErrorKind};

#[cfg(feature = "hyper-util")]
pub(crate) mod hyper;
#[cfg(feature = "reqwest")]
mod reqwest;

/// The addresses of an answer as socket addresses with port 0.
#[cfg_attr(
    not(any(feature = "reqwest", feature = "hyper-util")),
    allow(dead_code)
)]
pub(crate) fn socket_addrs(answer: &crate::Answer) -> Vec<SocketAddr> {
    answer
        .ips()
        .into_iter()
        .map(|ip| SocketAddr::new(ip, 0))
        .collect()
}

/// A lookup error as the [`io::Error`] HTTP clients expect from a resolver, the stubborn error
/// inside ([`io::Error::get_ref`], or [`Error::find`]): a timeout is
/// [`io::ErrorKind::TimedOut`], not-found (NXDOMAIN, NODATA) [`io::ErrorKind::NotFound`], an
/// invalid name [`io::ErrorKind::InvalidInput`], a socket error its own kind, anything else
/// (SERVFAIL, REFUSED, malformed replies, configuration) [`io::ErrorKind::Other`].
impl From<Error> for io::Error {
    fn from(error: Error) -> io::Error {
        let kind = match error.kind() {
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::NxDomain | ErrorKind::NoData => io::ErrorKind::NotFound,
            ErrorKind::InvalidName => io::ErrorKind::InvalidInput,
            ErrorKind::Network => match &error {
                Error::Network { source, .. } => source.kind(),
                _ => io::ErrorKind::Other,
            },
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}

impl Error {
    /// The stubborn error behind `error`, wherever it sits in its chain of sources: itself,
    /// a source, or inside an [`io::Error`] (as the HTTP client adapters return it). For
    /// telling a timeout from "no such host" in an HTTP client's error:
    ///
    /// ```
    /// # fn check(e: &(dyn std::error::Error + 'static)) {
    /// match stubborn::Error::find(e) {
    ///     Some(dns) if dns.is_timeout() => { /* retry later */ }
    ///     Some(dns) if dns.is_not_found() => { /* no such host */ }
    ///     _ => {}
    /// }
    /// # }
    /// ```
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
        let mut next = Some(error);
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<Error>() {
                return Some(found);
            }
            if let Some(inner) = e
                .downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<Error>())
            {
                return Some(inner);
            }
            next = e.source();
        }
        None
    }
}
