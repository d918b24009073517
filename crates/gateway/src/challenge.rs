//! The WAF's challenge action: a proof-of-work page for browsers, and the token a solved
//! challenge earns.
//!
//! Nothing is stored. The page carries a *puzzle* signed with the gateway's challenge key and
//! bound to the client (its address's /24 or /48 network and a hash of its `User-Agent`); the
//! browser finds a counter whose SHA-256 over `puzzle:counter` starts with the ACL's number of
//! zero bits and sends it back in the `x-portcullis-challenge` header. A valid answer earns the
//! `portcullis-waf-token` cookie: its issue time, signed and bound to the client the same way.
//! The WAF lets a challenged request through while its token is younger than the ACL's
//! immunity time.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The cookie that carries a token.
pub(crate) const COOKIE: &str = "portcullis-waf-token";
/// The request header that carries a solved puzzle.
pub(crate) const SOLUTION_HEADER: &str = "x-portcullis-challenge";
/// The response header that tells any client it was challenged.
pub(crate) const ACTION_HEADER: &str = "x-portcullis-waf-action";
/// How long a puzzle may be answered.
const PUZZLE_TTL_S: u64 = 300;
/// Tokens older than AWS's longest immunity time are refused whatever the ACL says.
pub(crate) const TOKEN_MAX_AGE_S: u64 = 259_200;
/// Clocks of nodes may differ this much.
const SKEW_S: u64 = 60;

/// Why an answer to a challenge was refused (for logs, never for the client).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not `puzzle:counter`, or a part is malformed.
    Malformed,
    /// The puzzle's signature is wrong or it was made for another client.
    Forged,
    /// The puzzle is older than five minutes.
    Expired,
    /// The hash has too few leading zero bits.
    NotSolved,
}

/// The token for a client that solved a challenge at `now_s`.
pub(crate) fn token(key: &[u8], ip: IpAddr, ua: &[u8], now_s: u64) -> String {
    format!("1.{now_s}.{}", mac(key, &["token", &now_s.to_string(), &binding(ip, ua)]))
}

/// When `value` (the cookie) was issued, if it is a valid token of this client.
pub(crate) fn token_issued(key: &[u8], value: &str, ip: IpAddr, ua: &[u8], now_s: u64) -> Option<u64> {
    let mut parts = value.split('.');
    let (Some("1"), Some(issued), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let issued_s: u64 = issued.parse().ok()?;
    if issued_s > now_s + SKEW_S || now_s.saturating_sub(issued_s) > TOKEN_MAX_AGE_S {
        return None;
    }
    verify(key, &["token", issued, &binding(ip, ua)], tag).then_some(issued_s)
}

/// A new puzzle for this client: `1.ISSUED.BITS.NONCE.MAC`.
pub(crate) fn puzzle(key: &[u8], ip: IpAddr, ua: &[u8], now_s: u64, bits: u8) -> String {
    let nonce = hex::encode(rand::random::<[u8; 12]>());
    let (issued, bits) = (now_s.to_string(), bits.to_string());
    let tag = mac(key, &["puzzle", &issued, &bits, &nonce, &binding(ip, ua)]);
    format!("1.{issued}.{bits}.{nonce}.{tag}")
}

/// Checks an answer (`PUZZLE:COUNTER`) from this client.
pub(crate) fn check_answer(key: &[u8], answer: &str, ip: IpAddr, ua: &[u8], now_s: u64) -> Result<(), Refused> {
    let (puzzle, counter) = answer.rsplit_once(':').ok_or(Refused::Malformed)?;
    if counter.is_empty() || counter.len() > 20 || !counter.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refused::Malformed);
    }
    let parts: Vec<&str> = puzzle.split('.').collect();
    let [version, issued, bits, nonce, tag] = parts[..] else { return Err(Refused::Malformed) };
    let issued_s: u64 = issued.parse().map_err(|_| Refused::Malformed)?;
    let zero_bits: u32 = bits.parse().map_err(|_| Refused::Malformed)?;
    if version != "1" {
        return Err(Refused::Malformed);
    }
    if !verify(key, &["puzzle", issued, bits, nonce, &binding(ip, ua)], tag) {
        return Err(Refused::Forged);
    }
    if issued_s > now_s + SKEW_S || now_s.saturating_sub(issued_s) > PUZZLE_TTL_S {
        return Err(Refused::Expired);
    }
    if leading_zero_bits(&Sha256::digest(answer.as_bytes())) < zero_bits {
        return Err(Refused::NotSolved);
    }
    Ok(())
}

/// The interstitial page for a puzzle.
pub(crate) fn page(puzzle: &str, bits: u8) -> String {
    let script = include_str!("challenge.js").replace("__PUZZLE__", puzzle).replace("__BITS__", &bits.to_string());
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>Checking your browser</title></head>\n<body><p id=\"m\">Checking your browser before you continue…</p>\
         <noscript><p>This page needs JavaScript to let you through.</p></noscript>\n<script>{script}</script></body></html>\n"
    )
}

/// The leading zero bits of a digest.
pub(crate) fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for &b in digest {
        if b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// What a puzzle or token is bound to: the client's network (/24 for IPv4, /48 for IPv6, so
/// that a client behind a pool of addresses keeps its token) and its user agent.
fn binding(ip: IpAddr, ua: &[u8]) -> String {
    let net = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    };
    format!("{net}|{}", hex::encode(&Sha256::digest(ua)[..16]))
}

fn keyed(key: &[u8], parts: &[&str]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    for p in parts {
        // Length-prefixed, so that no two lists of parts sign the same bytes.
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p.as_bytes());
    }
    m
}

fn mac(key: &[u8], parts: &[&str]) -> String {
    hex::encode(keyed(key, parts).finalize().into_bytes())
}

/// Whether `tag` (hex) is the MAC of `parts`, compared in constant time.
fn verify(key: &[u8], parts: &[&str], tag: &str) -> bool {
    hex::decode(tag).is_ok_and(|t| keyed(key, parts).verify_slice(&t).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const UA: &[u8] = b"Mozilla/5.0";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn solve(puzzle: &str, bits: u32) -> String {
        (0u64..)
            .map(|c| format!("{puzzle}:{c}"))
            .find(|a| leading_zero_bits(&Sha256::digest(a.as_bytes())) >= bits)
            .unwrap_or_default()
    }

    #[test]
    fn a_solved_puzzle_is_accepted_for_its_client_only() {
        let p = puzzle(KEY, ip("203.0.113.9"), UA, 1000, 8);
        let answer = solve(&p, 8);
        assert_eq!(check_answer(KEY, &answer, ip("203.0.113.9"), UA, 1010), Ok(()));
        assert_eq!(check_answer(KEY, &answer, ip("203.0.113.200"), UA, 1010), Ok(()), "same /24");
        assert_eq!(check_answer(KEY, &answer, ip("198.51.100.9"), UA, 1010), Err(Refused::Forged));
        assert_eq!(check_answer(KEY, &answer, ip("203.0.113.9"), b"curl/8", 1010), Err(Refused::Forged));
        assert_eq!(check_answer(b"another key", &answer, ip("203.0.113.9"), UA, 1010), Err(Refused::Forged));
        assert_eq!(check_answer(KEY, &answer, ip("203.0.113.9"), UA, 1000 + 301), Err(Refused::Expired));
    }

    #[test]
    fn unsolved_edited_or_malformed_answers_are_refused() {
        let p = puzzle(KEY, ip("::1"), UA, 1000, 12);
        let unsolved = (0u64..)
            .map(|c| format!("{p}:{c}"))
            .find(|a| leading_zero_bits(&Sha256::digest(a.as_bytes())) < 12)
            .unwrap_or_default();
        assert_eq!(check_answer(KEY, &unsolved, ip("::1"), UA, 1000), Err(Refused::NotSolved));
        // Asking for less work is a forgery: the bits are signed.
        let easier = p.replacen(".12.", ".1.", 1);
        assert_eq!(check_answer(KEY, &solve(&easier, 1), ip("::1"), UA, 1000), Err(Refused::Forged));
        for bad in ["", ":", "x:1", &format!("{p}:"), &format!("{p}:12a"), &format!("{p}.x:1")] {
            assert!(check_answer(KEY, bad, ip("::1"), UA, 1000).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_bound_signed_and_dated() {
        let t = token(KEY, ip("203.0.113.9"), UA, 5000);
        assert_eq!(token_issued(KEY, &t, ip("203.0.113.77"), UA, 5100), Some(5000));
        assert_eq!(token_issued(KEY, &t, ip("203.0.114.9"), UA, 5100), None, "another network");
        assert_eq!(token_issued(KEY, &t, ip("203.0.113.9"), b"other", 5100), None, "another user agent");
        assert_eq!(token_issued(KEY, &t.replacen("5000", "5050", 1), ip("203.0.113.9"), UA, 5100), None, "redated");
        assert_eq!(token_issued(KEY, &t, ip("203.0.113.9"), UA, 5000 + TOKEN_MAX_AGE_S + 1), None, "too old");
        assert_eq!(token_issued(KEY, "1.5000.zz", ip("203.0.113.9"), UA, 5100), None);
    }

    #[test]
    fn the_page_carries_the_puzzle_and_the_work() {
        let html = page("1.2.16.abc.def", 16);
        assert!(html.contains("var PUZZLE = \"1.2.16.abc.def\", BITS = 16;"), "{html}");
        assert!(!html.contains("__PUZZLE__") && !html.contains("__BITS__"));
    }
}
