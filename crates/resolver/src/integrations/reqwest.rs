//! `reqwest::dns::Resolve` (reqwest 0.13) for [`Resolver`]:
//! `reqwest::Client::builder().dns_resolver(resolver)`.
//!
//! reqwest calls it for every new connection (its pool keeps connections alive), with the
//! host of the URL; the addresses come back in RFC 6724 order with port 0, which reqwest
//! replaces with the URL's port. A failure is an [`io::Error`](std::io::Error) (see the
//! parent module): `reqwest::Error::is_timeout` is true for a DNS timeout, and
//! [`Error::find`](crate::Error::find) gives the stubborn error back.

use ::reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::socket_addrs;
use crate::Resolver;

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            match resolver.lookup_ip(name.as_str()).await {
                Ok(answer) => Ok(Box::new(socket_addrs(&answer).into_iter()) as Addrs),
                Err(error) => Err(Box::new(std::io::Error::from(error)) as _),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn resolver_is_a_reqwest_resolver() {
        fn check<R: Resolve + Clone + 'static>(_: &R) {}
        let config = Config::new(vec!["127.0.0.1:53".parse().unwrap()]).with_hosts_file(None);
        check(&Resolver::new(config).unwrap());
    }

    #[tokio::test]
    async fn literals_resolve_with_port_zero() {
        let config = Config::new(vec!["127.0.0.1:53".parse().unwrap()]).with_hosts_file(None);
        let resolver = Resolver::new(config).unwrap();
        let addrs: Vec<_> = resolver
            .resolve("192.0.2.7".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs, ["192.0.2.7:0".parse().unwrap()]);
    }
}
