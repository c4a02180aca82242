//! `tower_service::Service<Name>` for [`Resolver`], the resolver hyper-util 0.1's
//! `HttpConnector::new_with_resolver` takes.
//!
//! Always ready; each call is a [`Resolver::lookup_ip`] in a `'static + Send` future. The
//! addresses come back in RFC 6724 order (hyper-util takes the first address's family as the
//! preferred one and races the other 300 ms later) with port 0, which the connector replaces
//! with the URI's port. A failure is an [`io::Error`] (see the parent module).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

use super::socket_addrs;
use crate::Resolver;

/// The future of [`Resolver`]'s `Service<Name>::call`.
pub type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, io::Error>> + Send>>;

impl tower_service::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let answer = resolver.lookup_ip(name.as_str()).await?;
            Ok(socket_addrs(&answer).into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use hyper_util::client::legacy::connect::HttpConnector;
    use tower_service::Service;

    #[test]
    fn resolver_fits_http_connector() {
        let config = Config::new(vec!["127.0.0.1:53".parse().unwrap()]).with_hosts_file(None);
        let resolver = Resolver::new(config).unwrap();
        let connector = HttpConnector::new_with_resolver(resolver);
        fn service<S: Service<hyper::Uri> + Clone + Send + Sync + 'static>(_: &S) {}
        service(&connector);
    }

    #[tokio::test]
    async fn literals_resolve_with_port_zero() {
        let config = Config::new(vec!["127.0.0.1:53".parse().unwrap()]).with_hosts_file(None);
        let mut resolver = Resolver::new(config).unwrap();
        let name: Name = "2001:db8::7".parse().unwrap();
        let addrs: Vec<_> = resolver.call(name).await.unwrap().collect();
        assert_eq!(addrs, ["[2001:db8::7]:0".parse().unwrap()]);
    }
}
