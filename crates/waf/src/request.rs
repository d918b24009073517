//! What the WAF inspects: a borrowed view of one request.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::Transformation;

/// The parts of one request that rules inspect, borrowed from the gateway's request.
///
/// The gateway builds it after reading at most the body inspection limit; nothing here is
/// decoded or normalised beforehand, so rules see the bytes as the client sent them.
#[derive(Clone, Debug)]
pub struct RequestView<'a> {
    /// The HTTP method, as received (`GET`).
    pub method: &'a str,
    /// The raw URI path, as received, without the query string.
    pub path: &'a [u8],
    /// The raw query string, without the leading `?`; empty when there is none.
    pub query: &'a [u8],
    /// Every header in received order, names in lower case.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// The address of the connection's peer.
    pub client_ip: IpAddr,
    /// The first bytes of the body, at most the inspection limit; `None` when there is no body.
    pub body: Option<&'a [u8]>,
    /// Whether the real body was longer than [`Self::body`] (it was cut at the limit).
    pub body_truncated: bool,
    /// The `content-type` header's value, if any.
    pub content_type: Option<&'a str>,
    /// The key of the route the request matched (`POST /comments`), for managed rules'
    /// route exclusions.
    pub route: Option<&'a str>,
    /// The time, in seconds since the Unix epoch, for rate-based rules and challenges.
    pub now_s: u64,
    /// When the client's challenge token was issued, if it sent one that the gateway verified
    /// (signature, client address and user agent); `None` otherwise.
    pub challenge_token_issued_s: Option<u64>,
    /// For a `User-Agent` naming a search engine the ACL verifies: whether the client's address
    /// resolved back and forth to the engine's domains (the gateway's DNS lookup); `None`
    /// otherwise.
    pub bot_verified: Option<bool>,
}

// === impl RequestView ===

impl<'a> RequestView<'a> {
    /// The values of every header named `name` (lower case), in received order.
    pub(crate) fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, v)| v)
    }

    /// The cookies of every `cookie` header: split on `;`, trimmed, then split at the first
    /// `=` (a pair without `=` is a name with an empty value). Empty pairs are skipped.
    pub(crate) fn cookies(&self) -> Vec<(&'a [u8], &'a [u8])> {
        let mut out = Vec::new();
        for value in self.header_values("cookie") {
            for pair in value.split(|&b| b == b';') {
                let pair = pair.trim_ascii();
                if pair.is_empty() {
                    continue;
                }
                let (name, value) = split_once(pair, b'=');
                out.push((name.trim_ascii(), value.trim_ascii()));
            }
        }
        out
    }

    /// The query arguments: the raw query split on `&`, then at the first `=`. Names are
    /// URL-decoded (`+` is a space) so that they can be compared; values stay raw, as AWS WAF
    /// leaves their decoding to the statement's transformations (`URL_DECODE`).
    pub(crate) fn query_args(&self) -> Vec<(Cow<'a, [u8]>, &'a [u8])> {
        self.query
            .split(|&b| b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = split_once(pair, b'=');
                (Transformation::UrlDecode.apply(name), value)
            })
            .collect()
    }
}

/// `bytes` split at the first `sep`: the part before and the part after (empty without `sep`).
pub(crate) fn split_once(bytes: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == sep) {
        Some(i) => (&bytes[..i], bytes.get(i + 1..).unwrap_or_default()),
        None => (bytes, &[]),
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::view;

    #[test]
    fn cookies_are_split_and_trimmed() {
        let v = view(b"", &[("cookie", b"a=1; b = 2 ;;c"), ("x", b"y"), ("cookie", b"d=4=5")]);
        let got: Vec<_> = v.cookies();
        let want: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (b"b", b"2"), (b"c", b""), (b"d", b"4=5")];
        assert_eq!(got, want);
    }

    #[test]
    fn query_names_are_decoded_values_raw() {
        let v = view(b"a%20b=%41&&c+d&e=1=2", &[]);
        let got: Vec<(Vec<u8>, &[u8])> = v.query_args().into_iter().map(|(n, v)| (n.into_owned(), v)).collect();
        let want: Vec<(Vec<u8>, &[u8])> =
            vec![(b"a b".to_vec(), b"%41"), (b"c d".to_vec(), b""), (b"e".to_vec(), b"1=2")];
        assert_eq!(got, want);
    }
}
