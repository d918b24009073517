//! Entry points for `cargo fuzz` (built with `--cfg fuzzing` only).

use std::net::IpAddr;
use std::sync::Arc;

use crate::framing::{FramingFlags, Scanner};

/// Feeds `bytes` to the HTTP/1.1 framing watcher whole and split at `split`, and checks that
/// both readings flag the same requests.
pub fn framing(bytes: &[u8], split: usize) {
    let verdicts = |pieces: &[&[u8]]| {
        let flags = Arc::new(FramingFlags::default());
        let mut s = Scanner::new(flags.clone());
        for p in pieces {
            s.feed(p);
        }
        (0..8).map(|_| flags.next_request_is_ambiguous()).collect::<Vec<_>>()
    };
    let split = split.min(bytes.len());
    let whole = verdicts(&[bytes]);
    let parts = verdicts(&[&bytes[..split], &bytes[split..]]);
    assert_eq!(whole, parts, "the verdict depends on how the bytes arrived");
}

/// Resolves the client address from arbitrary `X-Forwarded-For` text.
pub fn client_ip(xff: &[u8]) {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(xff) {
        headers.insert("x-forwarded-for", v);
    }
    let trusted = ["10.0.0.0/8".parse().unwrap_or_default(), "::1/128".parse().unwrap_or_default()];
    let f = crate::client_ip::resolve(IpAddr::from([10, 0, 0, 1]), &headers, &trusted);
    assert!(f.chain.ends_with("10.0.0.1"));
}
