//! The client's address, and the `X-Forwarded-For` chain sent upstream. `X-Forwarded-For` is
//! believed only as far as it was written by trusted proxies: the chain is walked from the
//! right, skipping trusted hops, and the first untrusted address is the client.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The client address and the `X-Forwarded-For` value to send upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forwarded {
    pub(crate) client: IpAddr,
    pub(crate) chain: String,
}

/// Works out the client and the chain from the peer address and the request headers.
pub(crate) fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Forwarded {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Forwarded { client: peer, chain: peer.to_string() };
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return Forwarded { client: peer, chain: peer.to_string() };
        };
        hops.extend(text.split(',').map(str::trim).filter(|s| !s.is_empty()));
        if hops.len() > MAX_HOPS {
            return Forwarded { client: peer, chain: peer.to_string() };
        }
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => {
                client = ip;
                break;
            }
            // A hop we cannot read ends what we can believe.
            Err(_) => break,
        }
    }
    let mut chain = hops.join(", ");
    if !chain.is_empty() {
        chain.push_str(", ");
    }
    chain.push_str(&peer.to_string());
    Forwarded { client, chain }
}

/// Longest chain read; beyond it the header is ignored.
const MAX_HOPS: usize = 32;

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use http::{HeaderMap, HeaderValue};

    use super::resolve;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")));
        h
    }

    #[test]
    fn untrusted_peer_cannot_spoof() {
        let f = resolve(ip("203.0.113.9"), &xff("1.2.3.4"), &["10.0.0.0/8".parse().unwrap_or_default()]);
        assert_eq!(f.client, ip("203.0.113.9"));
        assert_eq!(f.chain, "203.0.113.9");
    }

    #[test]
    fn walks_right_to_left_through_trusted_proxies() {
        let trusted = ["10.0.0.0/8".parse().unwrap_or_default()];
        let f = resolve(ip("10.0.0.1"), &xff("6.6.6.6, 198.51.100.7, 10.0.0.2"), &trusted);
        assert_eq!(f.client, ip("198.51.100.7"), "the spoofed left-most entry is not believed");
        assert_eq!(f.chain, "6.6.6.6, 198.51.100.7, 10.0.0.2, 10.0.0.1");
        let f = resolve(ip("10.0.0.1"), &HeaderMap::new(), &trusted);
        assert_eq!((f.client, f.chain.as_str()), (ip("10.0.0.1"), "10.0.0.1"));
        let f = resolve(ip("10.0.0.1"), &xff("garbage, 10.0.0.3"), &trusted);
        assert_eq!(f.client, ip("10.0.0.3"));
    }
}
