//! How requests reach a server: ureq's HTTP/1.1 with a name resolver that remembers, so a
//! kept-alive connection is not preceded by a name lookup on every request.
//!
//! This uses ureq's `unversioned` API (resolvers, connectors), which does not follow semver:
//! Cargo.lock pins the version, and a ureq upgrade must be checked against this module.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// How long a host's addresses are reused: curl's default DNS cache timeout.
const REMEMBER_ADDRESSES: Duration = Duration::from_secs(60);

/// An agent (a pool of connections) for `config`, sharing `resolver`'s addresses with the
/// connection's other agents.
pub fn agent(config: Config, resolver: &CachingResolver) -> ureq::Agent {
    ureq::Agent::with_parts(config, DefaultConnector::default(), resolver.clone())
}

/// The system resolver's answers kept for [`REMEMBER_ADDRESSES`]. ureq resolves the host of
/// every request before it looks in its pool: without this, each request on a kept-alive
/// connection asked the system again (10,000 PUTs to `localhost` read `/etc/hosts` 10,000
/// times; with a remote name, each is a DNS query, which glibc does not cache). Failures are
/// not kept: the next request asks again.
#[derive(Clone, Debug, Default)]
pub struct CachingResolver {
    system: Arc<DefaultResolver>,
    /// By scheme and authority (the port may be the scheme's default).
    known: Arc<Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", |a| a.as_str())
        );
        let now = Instant::now();
        if let Ok(known) = self.known.lock()
            && let Some((since, addresses)) = known.get(&key)
            && now.duration_since(*since) < REMEMBER_ADDRESSES
        {
            return Ok(addresses.clone());
        }
        let addresses = self.system.resolve(uri, config, timeout)?;
        if let Ok(mut known) = self.known.lock() {
            known.insert(key, (now, addresses.clone()));
        }
        Ok(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(resolver: &CachingResolver, uri: &str) -> ResolvedSocketAddrs {
        let uri: Uri = uri.parse().unwrap();
        resolver
            .resolve(&uri, &Config::default(), NextTimeout::default())
            .unwrap()
    }

    #[test]
    fn a_host_is_resolved_once_and_its_port_comes_from_the_scheme() {
        let resolver = CachingResolver::default();
        let first = resolve(&resolver, "http://localhost/api/products");
        assert!(first.iter().all(|a| a.port() == 80 && a.ip().is_loopback()));
        assert_eq!(
            resolve(&resolver, "http://localhost/other").to_vec(),
            first.to_vec()
        );
        let tls = resolve(&resolver, "https://localhost:8443/x");
        assert!(tls.iter().all(|a| a.port() == 8443));
        assert_eq!(resolver.known.lock().unwrap().len(), 2);
    }

    #[test]
    fn an_unknown_host_is_an_error_and_not_remembered() {
        let resolver = CachingResolver::default();
        let uri: Uri = "http://no-such-host.invalid/x".parse().unwrap();
        assert!(
            resolver
                .resolve(&uri, &Config::default(), NextTimeout::default())
                .is_err()
        );
        assert!(resolver.known.lock().unwrap().is_empty());
    }
}
